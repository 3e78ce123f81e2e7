//! The customer's dashboard is read in one statement (JSON arrays aggregated
//! in SQL): it must hold what the statement-by-statement export holds, in the
//! same order, on every engine under test.

use custodian_domain::inventory::Role;
use custodian_domain::model::{ContactData, Delivery, Fields, InvoiceLine, InvoiceState, ServiceData, parse_date};
use custodian_store::{Access, AccessPurpose, Actor, Export, NewInvoice, Store};
use custodian_testkit::{contact, customer, databases};

fn owner() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn invoice(store: &Store, id: i64, number: &str, issued: &str, due: &str) {
    let new = NewInvoice {
        number: number.into(),
        issued_on: parse_date(issued).unwrap(),
        due_on: parse_date(due).unwrap(),
        delivery: Delivery::Post,
        lines: vec![InvoiceLine::parse("Webhosting Zilvermeeuw;2;1000;21").unwrap()],
    };
    store.add_invoice(&Access::new(Actor::operator(), AccessPurpose::Billing), id, new).await.unwrap();
}

/// What both reads must agree on, without the parts only the full export has
/// (the access log, invoice snapshots and lines) and the time of reading.
fn comparable(e: &Export) -> serde_json::Value {
    let mut v = serde_json::to_value(e).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("generated_at");
    o.remove("access_log");
    for invoice in o.get_mut("invoices").and_then(|i| i.as_array_mut()).into_iter().flatten() {
        let invoice = invoice.as_object_mut().unwrap();
        for part in ["billing", "lines", "payments"] {
            invoice.remove(part);
        }
    }
    v
}

#[tokio::test]
async fn the_one_statement_dashboard_holds_what_the_export_holds() {
    for db in databases().await {
        let engine = db.name();
        let store = db.store().await;
        let id = store.create_customer(&owner(), &customer(5), false).await.unwrap();
        store.add_contact(&owner(), id, Some("sidn"), &contact("ZIL001")).await.unwrap();
        // Quotes, an apostrophe and letters outside ASCII travel through JSON.
        let odd = fields(&[
            ("handle", "ZIL002"),
            ("name", "José \"Zé\" d'Ñandú"),
            ("addr_street", "Dijk 2"),
            ("addr_postcode", "1811 AB"),
            ("addr_city", "Alkmaar"),
            ("addr_country", "NL"),
            ("phone", "072-5116618"),
            ("email", "jose@kievit.nl"),
        ]);
        store.add_contact(&owner(), id, None, &ContactData::from_fields(&odd).unwrap()).await.unwrap();
        let hosting = fields(&[("kind", "hosting"), ("description", "Pakket M"), ("started_on", "2025-01-01")]);
        store.add_service(&owner(), id, &ServiceData::from_fields(&hosting).unwrap()).await.unwrap();
        let domain = fields(&[("kind", "domain"), ("description", "zilvermeeuw.nl"), ("started_on", "2024-06-01")]);
        store.add_service(&owner(), id, &ServiceData::from_fields(&domain).unwrap()).await.unwrap();
        // Recorded out of order: the dashboard lists them by time of acceptance.
        store.record_statute_acceptance(&owner(), id, "2026-01", 1_767_225_600_000_000).await.unwrap();
        store.record_statute_acceptance(&owner(), id, "2025-07", 1_751_328_000_000_000).await.unwrap();
        // Issued out of order: listed by date of issue.
        invoice(&store, id, "2026-0002", "2026-04-01", "2099-04-30").await;
        invoice(&store, id, "2026-0001", "2026-03-01", "2026-03-31").await;
        let billing = Access::new(Actor::operator(), AccessPurpose::Billing);
        store.record_payment(&billing, "2026-0001", 2420, parse_date("2026-03-20").unwrap()).await.unwrap();

        let own = Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest);
        let overview = store.customer_overview(&own, id).await.unwrap();
        assert_eq!(overview.customer.fields["company_name"], "Bedrijf 5 B.V.", "{engine}");
        let handles: Vec<(&str, &str, Option<&str>)> = overview
            .contacts
            .iter()
            .map(|c| (c.fields["handle"].as_str(), c.fields["name"].as_str(), c.registry.as_deref()))
            .collect();
        assert_eq!(
            handles,
            [("ZIL001", "Piet Kievit", Some("sidn")), ("ZIL002", "José \"Zé\" d'Ñandú", None)],
            "{engine}"
        );
        let services: Vec<(&str, Option<&str>, &str)> = overview
            .services
            .iter()
            .map(|s| (s.kind.as_str(), s.description.as_deref(), s.started_on.as_str()))
            .collect();
        assert_eq!(
            services,
            [("hosting", Some("Pakket M"), "2025-01-01"), ("domain", Some("zilvermeeuw.nl"), "2024-06-01")],
            "{engine}"
        );
        let versions: Vec<&str> = overview.statute_acceptances.iter().map(|s| s.version.as_str()).collect();
        assert_eq!(versions, ["2025-07", "2026-01"], "{engine}");
        let invoices: Vec<(&str, InvoiceState, i64, i64)> = overview
            .invoices
            .as_ref()
            .expect("a customer sees their invoices")
            .iter()
            .map(|i| (i.number.as_str(), i.state, i.total_cents, i.outstanding_cents))
            .collect();
        assert_eq!(
            invoices,
            [("2026-0001", InvoiceState::Paid, 2420, 0), ("2026-0002", InvoiceState::Open, 2420, 2420)],
            "{engine}"
        );
        assert!(overview.access_log.is_none(), "{engine}: the dashboard links to the access log");
        let export = store.export_customer(&own, id).await.unwrap();
        assert_eq!(comparable(&overview), comparable(&export), "{engine}");

        // Someone else's read: what the policy lets them see, audited alike.
        let support = Access::new(Actor::staff("7", Role::Staff), AccessPurpose::Support);
        let theirs = store.customer_overview(&support, id).await.unwrap();
        assert!(theirs.invoices.is_none(), "{engine}: staff do not see invoices");
        assert_eq!(comparable(&theirs), comparable(&store.export_customer(&support, id).await.unwrap()), "{engine}");

        // A customer with nothing attached.
        let bare = store.create_customer(&owner(), &customer(6), false).await.unwrap();
        let own = Access::new(Actor::customer(bare), AccessPurpose::DataSubjectRequest);
        let overview = store.customer_overview(&own, bare).await.unwrap();
        assert!(overview.contacts.is_empty() && overview.services.is_empty(), "{engine}");
        assert!(overview.statute_acceptances.is_empty(), "{engine}");
        assert_eq!(overview.invoices.as_ref().map(Vec::len), Some(0), "{engine}");
        assert_eq!(comparable(&overview), comparable(&store.export_customer(&own, bare).await.unwrap()), "{engine}");
        store.close().await;
        db.finish().await;
    }
}

/// An erased customer's dashboard is refused as before: the data key is gone.
#[tokio::test]
async fn an_erased_customers_dashboard_is_refused() {
    for db in databases().await {
        let store = db.store().await;
        let id = store.create_customer(&owner(), &customer(7), false).await.unwrap();
        store.erase_customer(&owner(), id, custodian_store::ErasureReason::CustomerRequest).await.unwrap();
        let own = Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest);
        let one = store.customer_overview(&own, id).await.map(|_| ()).unwrap_err().to_string();
        let whole = store.export_customer(&own, id).await.map(|_| ()).unwrap_err().to_string();
        assert_eq!(one, whole, "{}", db.name());
        let missing = store.customer_overview(&owner(), id + 1000).await.map(|_| ()).unwrap_err().to_string();
        assert!(missing.contains("does not exist"), "{}: {missing}", db.name());
        store.close().await;
        db.finish().await;
    }
}
