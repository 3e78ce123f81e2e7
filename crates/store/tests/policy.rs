//! The store against the hand-written golden table in `golden/policy.txt`:
//! every operation there, run as every principal, on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use custodian_domain::inventory::Role;
use custodian_domain::model::{Delivery, Fields, InvoiceLine, ServiceData, parse_date};
use custodian_domain::retention::{HoldReason, RetentionPolicy};
use custodian_store::auth::{CodeDelivery, StaffInvitation};
use custodian_store::registry::Target;
use custodian_store::{
    Access, AccessPurpose, Actor, ErasureReason, Lookup, NewCreditNote, NewInvoice, NotByEmail, Scope, SourceFormat,
    Store, StoreError, read_source,
};
use custodian_testkit::{contact, customer, databases};

const PRINCIPALS: [&str; 9] =
    ["owner", "staff", "bookkeeper", "subject", "owner_token", "staff_token", "bookkeeper_token", "operator", "job"];

/// The table: operation → principal → allowed.
fn golden() -> BTreeMap<String, BTreeMap<&'static str, bool>> {
    let text = include_str!("golden/policy.txt");
    let mut rows = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells.len(), 1 + PRINCIPALS.len(), "golden row {line:?}");
        let answers = PRINCIPALS
            .iter()
            .zip(&cells[1..])
            .map(|(p, c)| match *c {
                "y" => (*p, true),
                "n" => (*p, false),
                other => panic!("golden cell {other:?} in {line:?}"),
            })
            .collect();
        assert!(rows.insert(cells[0].to_string(), answers).is_none(), "{} twice", cells[0]);
    }
    rows
}

fn operator() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

fn billing() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Billing)
}

/// The usual reason of each principal for the operations (purposes are tried separately).
fn usual_purpose(principal: &str) -> AccessPurpose {
    match principal {
        "bookkeeper" | "bookkeeper_token" => AccessPurpose::Billing,
        "subject" => AccessPurpose::DataSubjectRequest,
        "job" => AccessPurpose::Retention,
        _ => AccessPurpose::Administration,
    }
}

/// The actor of `principal`; `own` is the customer a subject is.
async fn actor(store: &Store, principal: &str, own: i64) -> Actor {
    let token = |role: Role| async move {
        let (token, _) = store
            .create_api_token(&operator(), &format!("golden-{}", role.as_str()), role, &Scope::ALL, None)
            .await
            .unwrap();
        token.actor()
    };
    match principal {
        "owner" => Actor::staff("1", Role::Owner),
        "staff" => Actor::staff("2", Role::Staff),
        "bookkeeper" => Actor::staff("3", Role::Bookkeeper),
        "subject" => Actor::customer(own),
        "owner_token" => token(Role::Owner).await,
        "staff_token" => token(Role::Staff).await,
        "bookkeeper_token" => token(Role::Bookkeeper).await,
        "operator" => Actor::operator(),
        "job" => Actor::job("golden"),
        other => panic!("{other}"),
    }
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Ok → allowed; a policy refusal → refused; a state that stops it (a running
/// service or a legal hold stops an erasure) → allowed, since the policy is
/// checked first; anything else is a broken test.
fn verdict<T>(what: &str, r: Result<T, StoreError>) -> bool {
    match r {
        Ok(_) | Err(StoreError::Refused(_)) => true,
        Err(StoreError::Denied(_)) => false,
        Err(e) => panic!("{what}: {e:?}"),
    }
}

/// The bookkeeper's invitation, with its DPA recorded.
fn bookkeeper(login: &str) -> StaffInvitation {
    let form: Fields = [
        ("role", "bookkeeper"),
        ("login", login),
        ("name", "Boekhouder"),
        ("dpa_reference", "VWO-1"),
        ("dpa_date", "2026-01-02"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    StaffInvitation::parse(&form, parse_date("2026-03-01").unwrap()).unwrap()
}

fn new_invoice(number: &str) -> NewInvoice {
    NewInvoice {
        number: number.into(),
        issued_on: parse_date("2026-03-01").unwrap(),
        due_on: parse_date("2026-03-31").unwrap(),
        delivery: Delivery::Post,
        lines: vec![InvoiceLine::parse("Webhosting;1;595;21").unwrap()],
    }
}

/// Runs `operation` as `access` on customer `id`; whether it was allowed.
async fn attempt(store: &Store, operation: &str, access: &Access, id: i64, n: u64) -> bool {
    let what = format!("{operation} as {:?}", access.actor.principal());
    let shown = |record: Result<custodian_store::CustomerRecord, StoreError>, column: &str| match record {
        Ok(r) => r.fields.contains_key(column),
        Err(StoreError::Denied(_)) => false,
        Err(e) => panic!("{what}: {e:?}"),
    };
    match operation {
        "read.profile" => shown(store.read_customer(access, id).await, "phone"),
        "read.billing_identity" => shown(store.read_customer(access, id).await, "visit_city"),
        "read.finance" => shown(store.read_customer(access, id).await, "iban"),
        "write.profile" => verdict(&what, store.update_customer(access, id, &fields(&[("phone", "0612345678")])).await),
        "write.billing_identity" => {
            verdict(&what, store.update_customer(access, id, &fields(&[("visit_city", "Bergen")])).await)
        }
        "write.finance" => verdict(
            &what,
            store.update_customer(access, id, &fields(&[("iban", "NL91ABNA0417164300"), ("iban_holder", "X")])).await,
        ),
        "customer.create" => verdict(&what, store.create_customer(access, &customer(900 + n), false).await),
        "customer.import" => verdict(&what, store.create_customers(access, &[customer(950 + n)]).await),
        "customer.search" => verdict(&what, store.find_customers(access, &Lookup::NameWord("Bedrijf".into())).await),
        "customer.list" => verdict(&what, store.list_customers(access, 0, 10).await),
        "customer.export" => verdict(&what, store.export_customer(access, id).await),
        "customer.access_log" => verdict(&what, store.access_log(access, id).await),
        "invoice.read" => verdict(&what, store.read_invoices(access, id).await),
        "invoice.write" => verdict(&what, store.add_invoice(access, id, new_invoice(&format!("G{n}"))).await),
        "invoice.pay" => {
            let number = format!("P{n}");
            store.add_invoice(&billing(), id, new_invoice(&number)).await.unwrap();
            verdict(&what, store.record_payment(access, &number, 100, parse_date("2026-03-02").unwrap()).await)
        }
        "invoice.credit" => {
            let number = format!("C{n}");
            store.add_invoice(&billing(), id, new_invoice(&number)).await.unwrap();
            let note = NewCreditNote { number: None, issued_on: parse_date("2026-03-02").unwrap(), lines: None };
            verdict(&what, store.credit_invoice(access, &number, note).await)
        }
        "invoice.import" => {
            let line = format!(
                r#"{{"customer": {id}, "number": "I{n}", "issued_on": "2026-03-01", "lines": [{{"description": "VPS", "quantity": 1, "unit_price_cents": 1500, "vat_rate": 21}}]}}"#
            );
            let source = read_source(SourceFormat::JsonLines, std::io::Cursor::new(line));
            verdict(&what, store.import_invoices(access, source, false, |_| {}).await)
        }
        "invoice.deliver" => {
            let mut invoice = new_invoice(&format!("E{n}"));
            invoice.delivery = Delivery::Email;
            let invoice = store.add_invoice(&billing(), id, invoice).await.unwrap();
            verdict(&what, store.invoice_to_post(access, invoice, NotByEmail::NoConsent).await)
        }
        "service.read" => verdict(&what, store.read_services(access, id).await),
        "service.write" => {
            let service = ServiceData::from_fields(&fields(&[
                ("kind", "hosting"),
                ("description", "Pakket"),
                ("started_on", "2026-01-01"),
            ]))
            .unwrap();
            verdict(&what, store.add_service(access, id, &service).await)
        }
        "handle.write" => {
            let target = Target { registry: "partner", passthrough: false };
            verdict(&what, store.create_handle(access, id, target, &contact(&format!("GOLD{n}"))).await)
        }
        "handle.read" => {
            let handles = store.handles_of(&operator(), id).await.unwrap();
            verdict(&what, store.contact_fields(access, handles[0].contact_id).await)
        }
        "statute.write" => verdict(&what, store.record_statute_acceptance(access, id, "2026-01", 1).await),
        "legal_hold.write" => verdict(&what, store.place_legal_hold(access, id, HoldReason::TaxAudit).await),
        "retention.run" => verdict(
            &what,
            store.retention_run(access, &RetentionPolicy::default(), parse_date("2026-01-02").unwrap()).await,
        ),
        "api_token.write" => verdict(
            &what,
            store.create_api_token(access, &format!("golden-made-{n}"), Role::Staff, &Scope::ALL, None).await,
        ),
        "api_token.read" => verdict(&what, store.api_tokens(access).await),
        "account.write" => {
            let invitation = bookkeeper(&format!("boekhouder{n}@hoster.nl"));
            verdict(&what, store.invite_staff(access, &invitation, CodeDelivery::ReadOut).await)
        }
        "account.read" => verdict(&what, store.staff_accounts(access).await),
        account @ ("account.disable" | "account.enable" | "account.remove" | "account.end_sessions") => {
            // An account of its own to act on, invited by the operator.
            let login = format!("{}{n}@hoster.nl", account.replace(['.', '_'], "-"));
            let target = store.invite_staff(&operator(), &bookkeeper(&login), CodeDelivery::ReadOut).await.unwrap();
            let id = target.account.id;
            match account {
                "account.disable" => verdict(&what, store.disable_account(access, id).await),
                "account.enable" => verdict(&what, store.enable_account(access, id).await),
                "account.remove" => verdict(&what, store.remove_account(access, id).await),
                _ => verdict(&what, store.end_account_sessions(access, id).await),
            }
        }
        "invitation.write" => verdict(&what, store.invite_customer(access, id).await),
        "activation_code.disclose" => verdict(&what, custodian_store::auth::may_disclose_code(access)),
        "account.reset_second_factor" => {
            let login = format!("tweedefactor{n}@hoster.nl");
            let target = store.invite_staff(&operator(), &bookkeeper(&login), CodeDelivery::ReadOut).await.unwrap();
            verdict(&what, store.reset_second_factor(access, target.account.id).await)
        }
        "customer.erase" => verdict(&what, store.erase_customer(access, id, ErasureReason::CustomerRequest).await),
        purpose if purpose.starts_with("purpose.") => {
            let why = AccessPurpose::parse(&purpose["purpose.".len()..]).expect("a purpose");
            let access = Access::new(access.actor.clone(), why);
            verdict(&what, store.read_customer(&access, id).await)
        }
        "request.write" => {
            let form = fields(&[
                ("kind", "access"),
                ("received_on", "2026-03-01"),
                ("identity_check", "call_back"),
                ("name", "Iemand Anders"),
                ("address", "Dijk 1, 1811 AB Alkmaar"),
                ("summary", "Wil inzage"),
            ]);
            let request =
                custodian_domain::requests::SubjectRequest::from_fields(&form, parse_date("2026-03-02").unwrap())
                    .unwrap();
            verdict(&what, store.record_subject_request(access, &request).await)
        }
        "request.read" => verdict(&what, store.subject_requests(access).await),
        "request.erase" => {
            verdict(&what, store.erase_handled_requests(access, parse_date("2026-03-01").unwrap()).await)
        }
        other => panic!("no way to try {other}"),
    }
}

#[tokio::test]
async fn the_store_answers_as_the_golden_table_says() {
    let table = golden();
    for db in databases().await {
        let store = db.store().await;
        let mut wrong = vec![];
        for (n, principal) in PRINCIPALS.iter().enumerate() {
            let n = n as u64;
            // A customer of this principal's own, with bank details and a handle.
            let mut data = custodian_testkit::customer_fields(100 + n);
            data.insert("iban".into(), "NL39RABO0300065264".into());
            data.insert("iban_holder".into(), "Bedrijf B.V.".into());
            let data = custodian_domain::model::CustomerData::from_fields(
                custodian_domain::model::CustomerKind::Business,
                &data,
            )
            .unwrap();
            let id = store.create_customer(&operator(), &data, false).await.unwrap();
            let target = Target { registry: "partner", passthrough: false };
            store.create_handle(&operator(), id, target, &contact(&format!("OWN{n}"))).await.unwrap();
            let access = Access::new(actor(&store, principal, id).await, usual_purpose(principal));
            // Erasure last: it destroys the record the others work on.
            let mut operations: Vec<&String> = table.keys().collect();
            operations.sort_by_key(|o| *o == "customer.erase");
            for operation in operations {
                let expected = table[operation][principal];
                let got = attempt(&store, operation, &access, id, n).await;
                if got != expected {
                    wrong.push(format!("{operation} as {principal}: expected {expected}, store said {got}"));
                }
            }
        }
        assert!(wrong.is_empty(), "{}: the store disagrees with golden/policy.txt:\n{}", db.name(), wrong.join("\n"));
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn without_staff_accounts_no_staff_account_or_token_can_be_made() {
    for db in databases().await {
        let settings = custodian_domain::policy::Settings { staff_accounts: false };
        let store = db.store().await.with_policy_settings(settings);
        let mut invitation = bookkeeper("medewerker@hoster.nl");
        invitation.role = Role::Staff;
        invitation.basis =
            Some(custodian_store::auth::Basis::Confidentiality { signed_on: parse_date("2026-01-02").unwrap() });
        let staff = store.invite_staff(&operator(), &invitation, CodeDelivery::ReadOut).await;
        assert!(
            matches!(staff, Err(StoreError::Refused(custodian_store::Refusal::NoStaffAccounts))),
            "{}: {staff:?}",
            db.name()
        );
        let token = store.create_api_token(&operator(), "crm", Role::Staff, &Scope::ALL, None).await;
        assert!(matches!(token, Err(StoreError::Refused(custodian_store::Refusal::NoStaffAccounts))), "{token:?}");
        store.invite_staff(&operator(), &bookkeeper("boekhouder@hoster.nl"), CodeDelivery::ReadOut).await.unwrap();
        store.create_api_token(&operator(), "boekhouding", Role::Bookkeeper, &Scope::ALL, None).await.unwrap();
        store.close().await;
        db.finish().await;
    }
}
