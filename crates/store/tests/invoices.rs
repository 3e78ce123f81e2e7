//! Payments, credit notes, invoice states and the bulk import, on every engine
//! under test. Amounts are worked out by hand in the comments: 21% VAT is
//! rounded half away from zero over each rate's summed lines.

use custodian_domain::inventory::Role;
use custodian_domain::model::{Delivery, InvoiceLine, InvoiceState};
use custodian_store::{
    Access, AccessPurpose, Actor, ImportSummary, LineReport, NewCreditNote, NewInvoice, Outcome, Refusal, Scope,
    SourceFormat, Store, StoreError, read_source,
};
use custodian_testkit::{customer, databases};
use time::{Date, Duration};

fn billing() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Billing)
}

fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

fn line(s: &str) -> InvoiceLine {
    InvoiceLine::parse(s).unwrap()
}

/// 12 × 5.95 = 71.40 net, 21% VAT 14.994 → 14.99; total 86.39.
async fn hosting_invoice(store: &Store, customer: i64, number: &str, issued_on: Date, due_on: Date) {
    let new = NewInvoice {
        number: number.into(),
        issued_on,
        due_on,
        delivery: Delivery::Post,
        lines: vec![line("Webhosting M;12;595;21")],
    };
    store.add_invoice(&billing(), customer, new).await.unwrap();
}

fn refusal<T: std::fmt::Debug>(r: Result<T, StoreError>) -> Refusal {
    match r {
        Err(StoreError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn partial_payments_make_an_invoice_paid_on_the_day_they_cover_it() {
    for db in databases().await {
        let store = db.store().await;
        let id = store.create_customer(&billing_owner(), &customer(1), false).await.unwrap();
        let issued = today() - Duration::days(10);
        hosting_invoice(&store, id, "2026-0001", issued, today() + Duration::days(20)).await;

        let first = store.record_payment(&billing(), "2026-0001", 5000, issued + Duration::days(3)).await.unwrap();
        assert_eq!((first.state, first.paid_cents, first.outstanding_cents), (InvoiceState::Open, 5000, 3639));
        assert_eq!(first.paid_on, None);
        // More than is due is refused, naming what is due.
        assert_eq!(
            refusal(store.record_payment(&billing(), "2026-0001", 3640, today()).await),
            Refusal::MoreThanDue { due_cents: 3639 }
        );
        // The rest, dated before the first payment: covered when both are in, on the later day.
        let second = store.record_payment(&billing(), "2026-0001", 3639, issued + Duration::days(1)).await.unwrap();
        assert_eq!((second.state, second.outstanding_cents), (InvoiceState::Paid, 0));
        assert_eq!(second.paid_on.as_deref(), Some(day(issued + Duration::days(3)).as_str()));
        assert_eq!(refusal(store.record_payment(&billing(), "2026-0001", 1, today()).await), Refusal::NothingDue);
        assert_eq!(refusal(store.mark_invoice_paid(&billing(), "2026-0001", today()).await), Refusal::NothingDue);

        let invoices = store.read_invoices(&billing(), id).await.unwrap();
        assert_eq!(invoices[0].total_cents, 8639);
        assert_eq!(invoices[0].state, InvoiceState::Paid);
        let amounts: Vec<i64> = invoices[0].payments.iter().map(|p| p.amount_cents).collect();
        assert_eq!(amounts, [3639, 5000]);

        // `invoice paid` pays what is left.
        hosting_invoice(&store, id, "2026-0002", issued, today() + Duration::days(20)).await;
        store.record_payment(&billing(), "2026-0002", 639, issued).await.unwrap();
        let rest = store.mark_invoice_paid(&billing(), "2026-0002", issued).await.unwrap();
        assert_eq!((rest.paid_cents, rest.state), (8639, InvoiceState::Paid));
        assert!(matches!(
            store.record_payment(&billing(), "2026-0002", 0, today()).await,
            Err(StoreError::Invalid(e)) if e.0[0].field == "amount"
        ));
        assert!(matches!(
            store.record_payment(&billing(), "nope", 10, today()).await,
            Err(StoreError::NotFound { kind: "invoice", .. })
        ));
        db.finish().await;
    }
}

fn day(d: Date) -> String {
    custodian_domain::model::format_date(d)
}

fn billing_owner() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

#[tokio::test]
async fn an_unpaid_invoice_past_its_due_date_is_overdue_until_paid() {
    for db in databases().await {
        let store = db.store().await;
        let id = store.create_customer(&billing_owner(), &customer(1), false).await.unwrap();
        hosting_invoice(&store, id, "OLD-1", today() - Duration::days(60), today() - Duration::days(30)).await;
        hosting_invoice(&store, id, "DUE-TODAY", today() - Duration::days(30), today()).await;
        let states = |list: Vec<custodian_store::InvoiceRecord>| -> Vec<(String, InvoiceState)> {
            list.into_iter().map(|i| (i.number, i.state)).collect()
        };
        let list = store.read_invoices(&billing(), id).await.unwrap();
        assert_eq!(
            states(list),
            [("OLD-1".to_string(), InvoiceState::Overdue), ("DUE-TODAY".to_string(), InvoiceState::Open)]
        );
        let partly = store.record_payment(&billing(), "OLD-1", 8000, today()).await.unwrap();
        assert_eq!((partly.state, partly.outstanding_cents), (InvoiceState::Overdue, 639));
        let paid = store.record_payment(&billing(), "OLD-1", 639, today()).await.unwrap();
        assert_eq!(paid.state, InvoiceState::Paid);
        db.finish().await;
    }
}

#[tokio::test]
async fn credit_notes_are_numbered_invoices_with_negative_totals() {
    for db in databases().await {
        let store = db.store().await;
        let id = store.create_customer(&billing_owner(), &customer(1), false).await.unwrap();
        let issued = today() - Duration::days(5);
        hosting_invoice(&store, id, "2026-0010", issued, today() + Duration::days(25)).await;
        let whole = NewCreditNote { number: None, issued_on: today(), lines: None };
        let note = store.credit_invoice(&billing(), "2026-0010", whole).await.unwrap();
        assert_eq!(note.number, format!("CN-{}-0001", today().year()));
        assert_eq!(note.total_cents, -8639);
        assert_eq!((note.invoice.state, note.invoice.credited_cents), (InvoiceState::Credited, -8639));
        assert_eq!(note.invoice.paid_on, Some(day(today())));
        // Nothing is left to credit or to pay; a credit note is neither credited nor paid.
        let again = NewCreditNote { number: None, issued_on: today(), lines: None };
        assert_eq!(
            refusal(store.credit_invoice(&billing(), "2026-0010", again).await),
            Refusal::CreditExceedsInvoice { creditable_cents: 0 }
        );
        assert_eq!(refusal(store.record_payment(&billing(), "2026-0010", 1, today()).await), Refusal::NothingDue);
        assert_eq!(
            refusal(store.record_payment(&billing(), &note.number, 1, today()).await),
            Refusal::CreditNoteNotPayable
        );
        let of_note = NewCreditNote { number: Some("X-1".into()), issued_on: today(), lines: None };
        assert_eq!(refusal(store.credit_invoice(&billing(), &note.number, of_note).await), Refusal::CreditOfCreditNote);

        // A partial credit of one line lowers what is due: the hosting (86.39)
        // plus a domain (10.00 + 2.10 VAT) is 98.49; crediting the domain
        // leaves 86.39, which a payment then covers.
        let new = NewInvoice {
            number: "2026-0011".into(),
            issued_on: issued,
            due_on: today() + Duration::days(25),
            delivery: Delivery::Post,
            lines: vec![line("Webhosting M;12;595;21"), line("Domein grutto.nl;1;1000;21")],
        };
        store.add_invoice(&billing(), id, new).await.unwrap();
        let domain = NewCreditNote {
            number: Some("CR-7".into()),
            issued_on: today(),
            lines: Some(vec![line("Domein grutto.nl;1;1000;21")]),
        };
        let note = store.credit_invoice(&billing(), "2026-0011", domain).await.unwrap();
        assert_eq!((note.number.as_str(), note.total_cents), ("CR-7", -1210));
        assert_eq!((note.invoice.state, note.invoice.outstanding_cents), (InvoiceState::Open, 8639));
        let next = NewCreditNote { number: None, issued_on: today(), lines: None };
        let second = store.credit_invoice(&billing(), "2026-0011", next).await;
        assert_eq!(refusal(second), Refusal::CreditExceedsInvoice { creditable_cents: 8639 });
        let paid = store.record_payment(&billing(), "2026-0011", 8639, today()).await.unwrap();
        assert_eq!(paid.state, InvoiceState::Paid);
        // A credit note's number is an invoice number like any other.
        let taken = NewCreditNote {
            number: Some("2026-0010".into()),
            issued_on: today(),
            lines: Some(vec![line("Korting;1;100;21")]),
        };
        assert_eq!(refusal(store.credit_invoice(&billing(), "2026-0011", taken).await), Refusal::InvoiceNumberTaken);

        let list = store.read_invoices(&billing(), id).await.unwrap();
        let cr7 = list.iter().find(|i| i.number == "CR-7").unwrap();
        assert_eq!((cr7.state, cr7.credit_for.as_deref()), (InvoiceState::CreditNote, Some("2026-0011")));
        assert_eq!((cr7.net_cents, cr7.vat_cents, cr7.lines[0].unit_price_cents), (-1000, -210, -1000));
        assert_eq!(cr7.billing.get("billing_name").map(String::as_str), Some("Bedrijf 1 B.V."));
        db.finish().await;
    }
}

/// Imports `text` as `format`; the summary and every line's report.
async fn import(
    store: &Store,
    access: &Access,
    format: SourceFormat,
    text: &str,
    dry_run: bool,
) -> (Result<ImportSummary, StoreError>, Vec<LineReport>) {
    let source = read_source(format, std::io::Cursor::new(text.to_string()));
    let mut reports = vec![];
    let summary = store.import_invoices(access, source, dry_run, |r| reports.push(r)).await;
    (summary, reports)
}

fn csv(customer: i64, other: i64) -> String {
    format!(
        "customer,number,issued_on,due_on,delivery,description,quantity,unit_price_cents,vat_rate,paid_on,amount_cents\n\
         {customer},IMP-1,2026-02-01,2026-03-03,post,Webhosting M,12,595,21,,\n\
         {customer},IMP-1,,,,Domein grutto.nl,1,1000,21,2026-02-10,5000\n\
         ,IMP-1,,,,,,,,2026-02-20,4849\n\
         {other},IMP-2,2026-02-01,,email,\"Boek, \"\"Hosting\"\"\",1,999,9,,\n"
    )
}

#[tokio::test]
async fn an_import_creates_invoices_with_lines_and_payments_and_a_rerun_changes_nothing() {
    for db in databases().await {
        let store = db.store().await;
        let a = store.create_customer(&billing_owner(), &customer(1), false).await.unwrap();
        let b = store.create_customer(&billing_owner(), &customer(2), false).await.unwrap();
        let text = csv(a, b);

        // A dry run says what would happen and writes nothing.
        let (summary, reports) = import(&store, &billing(), SourceFormat::Csv, &text, true).await;
        assert_eq!(summary.unwrap(), ImportSummary { created: 2, unchanged: 0, errors: 0, written: false });
        let lines: Vec<(u64, Outcome)> = reports.iter().map(|r| (r.line, r.outcome)).collect();
        assert_eq!(lines, [(2, Outcome::Created), (5, Outcome::Created)]);
        assert!(store.read_invoices(&billing(), a).await.unwrap().is_empty());

        let (summary, _) = import(&store, &billing(), SourceFormat::Csv, &text, false).await;
        assert_eq!(summary.unwrap(), ImportSummary { created: 2, unchanged: 0, errors: 0, written: true });
        // IMP-1: 71.40 + 10.00 net, VAT 21% of 81.40 = 17.094 → 17.09; 98.49,
        // paid 50.00 and 48.49: paid on the second payment's day.
        let imp1 = &store.read_invoices(&billing(), a).await.unwrap()[0];
        assert_eq!((imp1.net_cents, imp1.vat_cents, imp1.total_cents), (8140, 1709, 9849));
        assert_eq!(
            (imp1.paid_cents, imp1.state, imp1.paid_on.as_deref()),
            (9849, InvoiceState::Paid, Some("2026-02-20"))
        );
        assert_eq!(imp1.lines.len(), 2);
        assert_eq!(imp1.billing.get("billing_name").map(String::as_str), Some("Bedrijf 1 B.V."));
        // IMP-2: 9.99 at 9% = 0.8991 → 0.90; due 30 days after 1 February.
        let imp2 = &store.read_invoices(&billing(), b).await.unwrap()[0];
        assert_eq!((imp2.total_cents, imp2.due_on.as_str(), imp2.delivery.as_str()), (1089, "2026-03-03", "email"));
        assert_eq!(imp2.lines[0].description, "Boek, \"Hosting\"");
        assert_eq!(imp2.state, InvoiceState::Overdue);

        // The same file again: unchanged, nothing new.
        let (summary, reports) = import(&store, &billing(), SourceFormat::Csv, &text, false).await;
        assert_eq!(summary.unwrap(), ImportSummary { created: 0, unchanged: 2, errors: 0, written: true });
        assert!(reports.iter().all(|r| r.outcome == Outcome::Unchanged));
        assert_eq!(store.read_invoices(&billing(), a).await.unwrap().len(), 1);

        // The same as JSON lines is the same invoice.
        let json = format!(
            r#"{{"customer": {b}, "number": "IMP-2", "issued_on": "2026-02-01", "delivery": "email", "lines": [{{"description": "Boek, \"Hosting\"", "quantity": 1, "unit_price_cents": 999, "vat_rate": 9}}]}}
{{"customer": {a}, "number": "IMP-3", "issued_on": "2026-04-01", "lines": [{{"description": "VPS", "quantity": 3, "unit_price_cents": 1500, "vat_rate": "21%"}}], "payments": [{{"paid_on": "2026-04-02", "amount_cents": 100}}]}}
"#
        );
        let (summary, _) = import(&store, &billing(), SourceFormat::JsonLines, &json, false).await;
        assert_eq!(summary.unwrap(), ImportSummary { created: 1, unchanged: 1, errors: 0, written: true });
        // 45.00 + 9.45 VAT = 54.45, 1.00 paid.
        let imp3 = store.read_invoices(&billing(), a).await.unwrap().into_iter().find(|i| i.number == "IMP-3").unwrap();
        assert_eq!((imp3.total_cents, imp3.outstanding_cents), (5445, 5345));
        db.finish().await;
    }
}

#[tokio::test]
async fn one_bad_invoice_stops_the_import_and_every_problem_is_named() {
    for db in databases().await {
        let store = db.store().await;
        let a = store.create_customer(&billing_owner(), &customer(1), false).await.unwrap();
        let b = store.create_customer(&billing_owner(), &customer(2), false).await.unwrap();
        let (summary, _) = import(&store, &billing(), SourceFormat::Csv, &csv(a, b), false).await;
        assert!(summary.unwrap().written);
        let entries = store.audit_verify().await.unwrap().entries;

        // New invoices, a changed one, one for nobody, a repeat and bad values.
        let text = format!(
            "customer,number,issued_on,description,quantity,unit_price_cents,vat_rate\n\
             {a},NEW-1,2026-05-01,Webhosting M,12,595,21\n\
             {a},IMP-1,2026-02-01,Webhosting M,12,600,21\n\
             999999,NEW-2,2026-05-01,VPS,1,1500,21\n\
             {a},NEW-3,2026-05-01,VPS,0,1500,21\n\
             {a},NEW-3,2026-05-0x,VPS,1,1500,121\n\
             {b},NEW-1,2026-05-01,Webhosting M,12,595,21\n\
             {b},NEW-4,2026-05-01,Webhosting M,12,595,21\n"
        );
        let (summary, reports) = import(&store, &billing(), SourceFormat::Csv, &text, false).await;
        assert_eq!(summary.unwrap(), ImportSummary { created: 2, unchanged: 0, errors: 4, written: false });
        let problems: Vec<(u64, u64, &str, &str)> = reports
            .iter()
            .flat_map(|r| r.problems.iter().map(move |p| (r.line, p.line, p.field.as_str(), p.error.rule)))
            .collect();
        assert_eq!(
            problems,
            [
                (3, 3, "lines", "differs"),
                (3, 3, "payments", "differs"),
                (4, 4, "customer", "unknown_customer"),
                (5, 5, "quantity", "range"),
                (5, 6, "issued_on", "differs"),
                (5, 6, "vat_rate", "vat_rate"),
                (7, 7, "number", "repeated"),
            ]
        );
        // Nothing was written: not NEW-1, NEW-4, nor an audit entry.
        assert_eq!(store.read_invoices(&billing(), a).await.unwrap().len(), 1);
        assert_eq!(store.read_invoices(&billing(), b).await.unwrap().len(), 1);
        let after = store.audit_verify().await.unwrap().entries;
        // The two reads just made are the only new entries.
        assert_eq!(after, entries + 2);

        // JSON lines: the field inside the line is named.
        let json = format!(
            "{{\"customer\": {a}, \"number\": \"J-1\", \"issued_on\": \"2026-05-01\", \"lines\": [{{\"description\": \"VPS\", \"quantity\": 1, \"unit_price_cents\": 1500, \"vat_rate\": 21}}]}}\n\
             not json\n\
             {{\"customer\": {a}, \"number\": \"J-2\", \"issued_on\": \"2026-05-01\", \"lines\": [{{\"description\": \"VPS\", \"quantity\": \"x\", \"unit_price_cents\": 1500, \"vat_rate\": 21}}], \"payments\": [{{\"paid_on\": \"2026-04-01\", \"amount_cents\": 5}}]}}\n"
        );
        let (summary, reports) = import(&store, &billing(), SourceFormat::JsonLines, &json, false).await;
        assert_eq!(summary.unwrap().errors, 2);
        let fields: Vec<(u64, &str)> =
            reports.iter().flat_map(|r| r.problems.iter().map(|p| (p.line, p.field.as_str()))).collect();
        assert_eq!(fields, [(2, "line"), (3, "lines[0].quantity"), (3, "payments[0].paid_on")]);
        assert_eq!(store.read_invoices(&billing(), a).await.unwrap().len(), 1);
        db.finish().await;
    }
}

#[tokio::test]
async fn staff_never_read_or_write_invoices() {
    for db in databases().await {
        let store = db.store().await;
        let id = store.create_customer(&billing_owner(), &customer(1), false).await.unwrap();
        hosting_invoice(&store, id, "2026-0001", today(), today() + Duration::days(30)).await;
        let (token, _) = store.create_api_token(&billing_owner(), "crm", Role::Staff, &Scope::ALL, None).await.unwrap();
        let support = AccessPurpose::Support;
        for actor in [Actor::staff("2", Role::Staff), token.actor()] {
            let staff = Access::new(actor, support);
            let denied = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Denied(_)));
            assert!(denied(store.read_invoices(&staff, id).await.map(|_| ())));
            assert!(denied(store.record_payment(&staff, "2026-0001", 100, today()).await.map(|_| ())));
            assert!(denied(store.mark_invoice_paid(&staff, "2026-0001", today()).await.map(|_| ())));
            let note = NewCreditNote { number: None, issued_on: today(), lines: None };
            assert!(denied(store.credit_invoice(&staff, "2026-0001", note).await.map(|_| ())));
            let (summary, reports) = import(&store, &staff, SourceFormat::Csv, &csv(id, id), true).await;
            assert!(denied(summary.map(|_| ())));
            assert!(reports.is_empty());
        }
        // The bookkeeper may (M6: invoicing).
        let books = Access::new(Actor::staff("3", Role::Bookkeeper), AccessPurpose::Billing);
        assert_eq!(store.record_payment(&books, "2026-0001", 100, today()).await.unwrap().paid_cents, 100);
        db.finish().await;
    }
}
