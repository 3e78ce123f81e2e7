//! The bookkeeper's lists: invoices of every customer by where they stand,
//! the counts per standing, paging, and opening one invoice (audited), on
//! every engine under test. Standings are chosen by hand per invoice below.

use custodian_domain::inventory::Role;
use custodian_domain::model::{Delivery, InvoiceLine};
use custodian_store::{Access, AccessPurpose, Actor, NewCreditNote, NewInvoice, Standing, Store, StoreError};
use custodian_testkit::{customer, databases};
use time::{Date, Duration};

fn owner() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

fn books() -> Access {
    Access::new(Actor::staff("7", Role::Bookkeeper), AccessPurpose::Billing)
}

fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

/// 1 × 100.00 at 21%: total 121.00.
async fn invoice(store: &Store, customer: i64, number: &str, issued_on: Date, due_on: Date) {
    let new = NewInvoice {
        number: number.into(),
        issued_on,
        due_on,
        delivery: Delivery::Post,
        lines: vec![InvoiceLine::parse("Hosting;1;10000;21").unwrap()],
    };
    store.add_invoice(&books(), customer, new).await.unwrap();
}

fn numbers(page: &custodian_store::InvoicePage) -> Vec<&str> {
    page.invoices.iter().map(|i| i.number.as_str()).collect()
}

#[tokio::test]
async fn invoices_of_every_customer_by_standing_with_counts_and_pages() {
    for db in databases().await {
        let store = db.store().await;
        let a = store.create_customer(&owner(), &customer(1), false).await.unwrap();
        let b = store.create_customer(&owner(), &customer(2), false).await.unwrap();
        let old = today() - Duration::days(60);
        // A: open (due later), B: overdue, C: overdue but paid in part, D: paid,
        // E: credited in full (and its credit note).
        invoice(&store, a, "A", today(), today() + Duration::days(30)).await;
        invoice(&store, b, "B", old, today() - Duration::days(1)).await;
        invoice(&store, a, "C", old, today() - Duration::days(30)).await;
        store.record_payment(&books(), "C", 2100, today()).await.unwrap();
        invoice(&store, b, "D", old, today() - Duration::days(30)).await;
        store.mark_invoice_paid(&books(), "D", today()).await.unwrap();
        invoice(&store, a, "E", old, today() + Duration::days(1)).await;
        let note = NewCreditNote { number: Some("CN-E".into()), issued_on: today(), lines: None };
        store.credit_invoice(&books(), "E", note).await.unwrap();

        let list = |standing| {
            let store = &store;
            async move { store.list_invoices(&books(), standing, None, 50).await.unwrap() }
        };
        // Newest first.
        assert_eq!(numbers(&list(Standing::Open).await), ["A"]);
        assert_eq!(numbers(&list(Standing::Overdue).await), ["C", "B"]);
        assert_eq!(numbers(&list(Standing::Paid).await), ["D"]);
        assert_eq!(numbers(&list(Standing::Credited).await), ["E"]);
        assert_eq!(numbers(&list(Standing::CreditNotes).await), ["CN-E"]);
        assert_eq!(numbers(&list(Standing::All).await), ["CN-E", "E", "D", "C", "B", "A"]);
        // Headers only: nothing decrypted, nothing about the person.
        assert!(list(Standing::All).await.invoices.iter().all(|i| i.billing.is_empty() && i.lines.is_empty()));

        let counts: Vec<(Standing, i64, i64)> = store
            .count_invoices(&books())
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.standing, c.count, c.outstanding_cents))
            .collect();
        assert_eq!(
            counts,
            [
                (Standing::Open, 1, 12100),
                // B all of 121.00, C 121.00 less 21.00.
                (Standing::Overdue, 2, 12100 + 10000),
                (Standing::Paid, 1, 0),
                (Standing::Credited, 1, 0),
                (Standing::CreditNotes, 1, 0),
                (Standing::All, 6, 0),
            ]
        );

        // Two at a time: three pages, no invoice twice, none left out.
        let first = store.list_invoices(&books(), Standing::All, None, 2).await.unwrap();
        assert_eq!(numbers(&first), ["CN-E", "E"]);
        let second = store.list_invoices(&books(), Standing::All, first.next, 2).await.unwrap();
        assert_eq!(numbers(&second), ["D", "C"]);
        let third = store.list_invoices(&books(), Standing::All, second.next, 2).await.unwrap();
        assert_eq!(numbers(&third), ["B", "A"]);
        assert_eq!(third.next, None);
        db.finish().await;
    }
}

#[tokio::test]
async fn opening_one_invoice_is_audited_and_staff_may_not() {
    for db in databases().await {
        let store = db.store().await;
        let a = store.create_customer(&owner(), &customer(1), false).await.unwrap();
        invoice(&store, a, "2026-0100", today(), today() + Duration::days(30)).await;
        let id = store.invoice_id(&books(), "2026-0100").await.unwrap().expect("the invoice exists");
        assert_eq!(store.invoice_number(&books(), id).await.unwrap().as_deref(), Some("2026-0100"));
        let reads = |log: &[custodian_store::Entry]| log.iter().filter(|e| e.action == "invoice.read").count();
        let before = reads(&store.access_log(&owner(), a).await.unwrap());

        let opened = store.read_invoice(&books(), id).await.unwrap().expect("the invoice exists");
        assert_eq!((opened.customer_id, opened.total_cents), (a, 12100));
        assert_eq!(opened.lines.len(), 1);
        assert_eq!(opened.lines[0].description, "Hosting");
        assert!(!opened.billing.is_empty(), "the billing snapshot is opened");
        let log = store.access_log(&owner(), a).await.unwrap();
        assert_eq!(reads(&log), before + 1, "one read, one entry");
        let entry = log.iter().rfind(|e| e.action == "invoice.read").expect("the read is in the customer's trail");
        assert_eq!((entry.actor_kind.as_str(), entry.actor_id.as_str()), ("staff", "7"));

        assert!(store.read_invoice(&books(), id + 1000).await.unwrap().is_none());
        let staff = Access::new(Actor::staff("2", Role::Staff), AccessPurpose::Support);
        let denied = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Denied(_)));
        assert!(denied(store.read_invoice(&staff, id).await.map(drop)));
        assert!(denied(store.list_invoices(&staff, Standing::All, None, 10).await.map(drop)));
        assert!(denied(store.count_invoices(&staff).await.map(drop)));
        assert!(denied(store.invoice_id(&staff, "2026-0100").await.map(drop)));
        db.finish().await;
    }
}
