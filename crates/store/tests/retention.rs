//! Retention on every engine under test: the relationship clock, the January
//! sweep, erasure requests and their blockers, legal holds, unused handles and
//! invoices after seven years. Dates are set explicitly (the account's creation
//! backdated in SQL), so the rules are checked on chosen days.

use custodian_domain::inventory::Role;
use custodian_domain::model::{Delivery, Fields, InvoiceLine, ServiceData, parse_date};
use custodian_domain::retention::{Blocker, ErasureSchedule, HoldReason, RetentionPolicy};
use custodian_store::{
    Access, AccessPurpose, Actor, Cause, ErasureReason, NewInvoice, RequestOutcome, Store, StoreError,
};
use custodian_testkit::{customer, databases};
use time::Date;

fn owner() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

fn job() -> Access {
    Access::new(Actor::job("retention"), AccessPurpose::Retention)
}

fn day(s: &str) -> Date {
    parse_date(s).unwrap()
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn micros(d: Date) -> i64 {
    d.midnight().assume_utc().unix_timestamp() * 1_000_000
}

/// A customer whose account was created on `created`.
async fn customer_since(store: &Store, n: u64, created: &str) -> i64 {
    let id = store.create_customer(&owner(), &customer(n), false).await.unwrap();
    sqlx::query("UPDATE customers SET created_at = $1 WHERE id = $2")
        .bind(micros(day(created)))
        .bind(id)
        .execute(store.pool())
        .await
        .unwrap();
    id
}

async fn invoice(store: &Store, id: i64, number: &str, on: &str, paid: bool) -> i64 {
    let new = NewInvoice {
        number: number.into(),
        issued_on: day(on),
        due_on: day(on) + time::Duration::days(30),
        delivery: Delivery::Post,
        lines: vec![InvoiceLine::parse("Webhosting;1;995;21").unwrap()],
    };
    let billing = Access::new(Actor::operator(), AccessPurpose::Billing);
    let invoice = store.add_invoice(&billing, id, new).await.unwrap();
    if paid {
        store.mark_invoice_paid(&billing, number, day(on)).await.unwrap();
    }
    invoice
}

async fn service(store: &Store, id: i64, kind: &str) -> i64 {
    let data =
        ServiceData::from_fields(&fields(&[("kind", kind), ("description", "Pakket"), ("started_on", "2020-01-01")]))
            .unwrap();
    store.add_service(&owner(), id, &data).await.unwrap()
}

async fn contact(store: &Store, id: i64, handle: &str, created: &str) -> i64 {
    let data = custodian_testkit::contact(handle);
    let contact = store.add_contact(&owner(), id, Some("sidn"), &data).await.unwrap();
    sqlx::query("UPDATE contacts SET created_at = $1 WHERE id = $2")
        .bind(micros(day(created)))
        .bind(contact)
        .execute(store.pool())
        .await
        .unwrap();
    contact
}

async fn status(store: &Store, id: i64) -> String {
    sqlx::query_scalar("SELECT status FROM customers WHERE id = $1").bind(id).fetch_one(store.pool()).await.unwrap()
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(store.pool()).await.unwrap()
}

fn planned(plan: &custodian_store::Plan) -> Vec<i64> {
    plan.erasures.iter().map(|e| e.customer_id).collect()
}

#[tokio::test]
async fn never_invoiced_the_clock_starts_at_the_account_and_the_sweep_erases() {
    for db in databases().await {
        let store = db.store().await;
        let policy = RetentionPolicy::default();
        let id = customer_since(&store, 1, "2024-05-01").await;
        let young = customer_since(&store, 2, "2025-06-01").await;

        // A year after creation the relationship has ended; erasure waits for January.
        assert!(store.retention_plan(&policy, day("2025-12-31")).await.unwrap().erasures.is_empty());
        let plan = store.retention_plan(&policy, day("2026-01-02")).await.unwrap();
        assert_eq!(planned(&plan), [id], "{}", db.name());
        let e = &plan.erasures[0];
        assert_eq!(
            (e.cause, e.relationship_ended_on, e.due_on),
            (Cause::RetentionExpired, Some(day("2025-05-01")), day("2026-01-02"))
        );

        let before = count(&store, "SELECT COUNT(*) FROM audit_log").await;
        let report = store.retention_run(&job(), &policy, day("2026-01-02")).await.unwrap();
        assert_eq!((report.erased_retention_expired, report.skipped), (1, 0), "{}", db.name());
        assert_eq!(status(&store, id).await, "erased");
        assert_eq!(status(&store, young).await, "active");
        let journal = store.erasure_journal(0).await.unwrap();
        assert_eq!(journal.len(), 1);
        assert_eq!(
            (journal[0].subject_id.as_str(), journal[0].reason.as_str()),
            (id.to_string().as_str(), "retention_expired")
        );
        let log = store.access_log(&owner(), id).await.unwrap();
        let erase = log.iter().find(|e| e.action == "customer.erase").expect("the erasure is audited");
        assert_eq!((erase.actor_kind.as_str(), erase.purpose.as_str()), ("job", "retention"));
        // One erasure and the run itself: nothing else was written.
        assert_eq!(count(&store, "SELECT COUNT(*) FROM audit_log").await, before + 2);
        assert_eq!(store.retention_schedule().await.unwrap().last_run, Some(day("2026-01-02")));

        // Idempotent: the same day again changes nothing.
        let again = store.retention_run(&job(), &policy, day("2026-01-02")).await.unwrap();
        assert_eq!(again, custodian_store::RunReport::default());
        assert!(store.retention_plan(&policy, day("2026-01-02")).await.unwrap().erasures.is_empty());
        assert!(store.audit_verify().await.unwrap().problem.is_none());
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_last_invoice_exactly_one_year_before_the_sweep_keeps_the_customer() {
    for db in databases().await {
        let store = db.store().await;
        let policy = RetentionPolicy::default();
        let exactly = customer_since(&store, 3, "2020-01-01").await;
        invoice(&store, exactly, "2025-0001", "2025-01-02", true).await;
        let day_more = customer_since(&store, 4, "2020-01-01").await;
        invoice(&store, day_more, "2025-0002", "2025-01-01", true).await;
        let plan = store.retention_plan(&policy, day("2026-01-02")).await.unwrap();
        assert_eq!(planned(&plan), [day_more], "{}: exactly a year is not more than a year", db.name());
        assert_eq!(plan.erasures[0].relationship_ended_on, Some(day("2026-01-01")));
        let next = store.retention_plan(&policy, day("2027-01-04")).await.unwrap();
        assert_eq!(planned(&next), [exactly, day_more], "{}", db.name());
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_sweep_day_on_a_weekend_moves_to_the_monday() {
    for db in databases().await {
        let store = db.store().await;
        let policy = RetentionPolicy::default();
        let id = customer_since(&store, 5, "2019-01-01").await;
        invoice(&store, id, "2020-0005", "2020-06-01", true).await;
        // 1 January 2022 was a Saturday: nothing is due that weekend.
        for weekend in ["2022-01-01", "2022-01-02"] {
            assert!(store.retention_plan(&policy, day(weekend)).await.unwrap().erasures.is_empty(), "{weekend}");
        }
        let plan = store.retention_plan(&policy, day("2022-01-03")).await.unwrap();
        assert_eq!(planned(&plan), [id], "{}", db.name());
        assert_eq!(plan.erasures[0].due_on, day("2022-01-03"));
        assert_eq!(policy.next_run(day("2022-01-01")), Ok(day("2022-01-03")));
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn leap_days_count_to_the_end_of_february() {
    for db in databases().await {
        let store = db.store().await;
        let id = customer_since(&store, 6, "2020-01-01").await;
        invoice(&store, id, "2024-0229", "2024-02-29", true).await;
        let january = RetentionPolicy::default();
        let plan = store.retention_plan(&january, day("2026-01-02")).await.unwrap();
        assert_eq!(plan.erasures[0].relationship_ended_on, Some(day("2025-02-28")), "{}", db.name());
        assert!(store.retention_plan(&january, day("2025-12-31")).await.unwrap().erasures.is_empty());

        let thirty =
            RetentionPolicy { erasure: ErasureSchedule::DaysAfterEnd, days_after_end: 30, ..Default::default() };
        assert!(store.retention_plan(&thirty, day("2025-03-29")).await.unwrap().erasures.is_empty(), "{}", db.name());
        let plan = store.retention_plan(&thirty, day("2025-03-30")).await.unwrap();
        assert_eq!((planned(&plan), plan.erasures[0].due_on), (vec![id], day("2025-03-30")), "{}", db.name());
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn an_erasure_request_waits_while_a_domain_still_uses_the_customers_handle() {
    for db in databases().await {
        let store = db.store().await;
        let policy = RetentionPolicy::default();
        let id = customer_since(&store, 7, "2020-01-01").await;
        invoice(&store, id, "2026-0007", "2026-02-01", true).await;
        let domain = service(&store, id, "domain").await;
        let sidn = custodian_store::registry::Target { registry: "sidn", passthrough: false };
        let handle = store.create_handle(&owner(), id, sidn, &custodian_testkit::contact("KIE001")).await.unwrap();
        store.register_domain(&owner(), id, "kievit.nl", "sidn", handle, None, None).await.unwrap();

        let own =
            Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest).from("198.51.100.7".parse().unwrap());
        let outcome = store.request_erasure(&own, &policy, id, day("2026-11-23")).await.unwrap();
        assert_eq!(outcome, RequestOutcome::Waiting(vec![Blocker::RunningServices { count: 1 }]), "{}", db.name());
        assert!(store.erasure_request(id).await.unwrap().is_some());
        // The handle is in use, so the sweep leaves it; the request shows as blocked.
        let plan = store.retention_plan(&policy, day("2026-11-23")).await.unwrap();
        assert!(plan.handles.is_empty() && plan.erasures.is_empty(), "{}: {plan:?}", db.name());
        assert_eq!(plan.blocked.len(), 1);
        assert_eq!(plan.blocked[0].cause, Cause::Request);
        let report = store.carry_out_erasure_requests(&job(), &policy, day("2026-11-23")).await.unwrap();
        assert_eq!(report.erased_on_request, 0);
        assert_eq!(status(&store, id).await, "active");

        // The domain ends: the next pass carries the request out, handle and all.
        assert!(store.end_service(&owner(), domain, day("2026-11-30")).await.unwrap());
        let report = store.carry_out_erasure_requests(&job(), &policy, day("2026-11-30")).await.unwrap();
        assert_eq!(report.erased_on_request, 1, "{}", db.name());
        assert_eq!(status(&store, id).await, "erased");
        assert_eq!(count(&store, &format!("SELECT COUNT(*) FROM contacts WHERE id = {handle}")).await, 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM domains").await, 0);
        // The registry is told too: the handle's delete waits in the registry outbox.
        let queued = store.registry_ops().list(Some("pending"), 10).await.unwrap();
        assert!(queued.iter().any(|o| o.kind == "contact_delete" && o.contact_id == Some(handle)), "{queued:?}");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM erasure_requests").await, 0);
        let journal = store.erasure_journal(0).await.unwrap();
        assert_eq!(journal[0].reason, "customer_request");
        let log = store.access_log(&owner(), id).await.unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        assert!(actions.contains(&"customer.erasure_request") && actions.contains(&"service.end"), "{actions:?}");
        let erase = log.iter().find(|e| e.action == "customer.erase").unwrap();
        assert_eq!(erase.purpose, "data_subject_request");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn invoices_crossing_the_seven_year_line_go_on_the_same_sweep_as_their_customer() {
    for db in databases().await {
        let store = db.store().await;
        let policy = RetentionPolicy::default();
        let id = customer_since(&store, 8, "2017-01-01").await;
        let old = invoice(&store, id, "2018-0008", "2018-05-01", true).await;
        let kept = invoice(&store, id, "2019-0008", "2019-03-01", true).await;
        let keys_before = count(&store, "SELECT COUNT(*) FROM data_keys").await;

        let plan = store.retention_plan(&policy, day("2026-01-02")).await.unwrap();
        assert_eq!(planned(&plan), [id], "{}", db.name());
        assert_eq!(plan.invoice_ids, [old]);
        assert_eq!(plan.invoice_years.len(), 1);
        assert_eq!((plan.invoice_years[0].year, plan.invoice_years[0].kept_until), (2018, day("2025-12-31")));

        let report = store.retention_run(&job(), &policy, day("2026-01-02")).await.unwrap();
        assert_eq!(
            (report.erased_retention_expired, report.invoices_deleted, report.skipped),
            (1, 1, 0),
            "{}",
            db.name()
        );
        assert_eq!(status(&store, id).await, "erased");
        assert_eq!(count(&store, &format!("SELECT COUNT(*) FROM invoices WHERE id = {old}")).await, 0);
        assert_eq!(count(&store, &format!("SELECT COUNT(*) FROM invoice_lines WHERE invoice_id = {old}")).await, 0);
        // The customer's key and the old invoice's key are gone; the 2019 invoice keeps its own.
        assert_eq!(count(&store, "SELECT COUNT(*) FROM data_keys").await, keys_before - 2);
        let bookkeeper = Access::new(Actor::staff("9", Role::Bookkeeper), AccessPurpose::Billing);
        let left = store.read_invoices(&bookkeeper, id).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!((left[0].id, left[0].billing.get("billing_name").unwrap().as_str()), (kept, "Bedrijf 8 B.V."));
        let mut journal: Vec<(String, String)> =
            store.erasure_journal(0).await.unwrap().into_iter().map(|j| (j.subject_kind, j.subject_id)).collect();
        journal.sort();
        assert_eq!(journal, [("customer".to_string(), id.to_string()), ("invoice".to_string(), old.to_string())]);
        let log = store.access_log(&owner(), id).await.unwrap();
        assert!(log.iter().any(|e| e.action == "invoice.delete" && e.fields.contains(&"billing_name".to_string())));

        // A year on, the 2019 invoice follows.
        let later = store.retention_plan(&policy, day("2027-01-04")).await.unwrap();
        assert_eq!((later.erasures.len(), later.invoice_ids.clone()), (0, vec![kept]), "{}", db.name());
        assert!(store.audit_verify().await.unwrap().problem.is_none());
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_new_invoice_resets_the_clock_and_a_reinstated_customer_is_not_erased() {
    for db in databases().await {
        let store = db.store().await;
        let policy = RetentionPolicy::default();
        let renewed = customer_since(&store, 9, "2020-01-01").await;
        invoice(&store, renewed, "2024-0009", "2024-03-01", true).await;
        let reinstated = customer_since(&store, 10, "2020-01-01").await;
        invoice(&store, reinstated, "2024-0010", "2024-03-01", true).await;
        let plan = store.retention_plan(&policy, day("2026-01-02")).await.unwrap();
        assert_eq!(planned(&plan), [renewed, reinstated], "{}", db.name());

        invoice(&store, renewed, "2025-0009", "2025-11-01", true).await;
        service(&store, reinstated, "hosting").await;
        let plan = store.retention_plan(&policy, day("2026-01-02")).await.unwrap();
        assert!(plan.erasures.is_empty(), "{}: {plan:?}", db.name());
        assert_eq!(plan.blocked.len(), 1);
        assert_eq!(plan.blocked[0].blockers, [Blocker::RunningServices { count: 1 }]);
        let report = store.retention_run(&job(), &policy, day("2026-01-02")).await.unwrap();
        assert_eq!(report.erased_retention_expired, 0);
        assert_eq!(
            (status(&store, renewed).await, status(&store, reinstated).await),
            ("active".into(), "active".into())
        );
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_legal_hold_blocks_every_erasure_until_the_owner_lifts_it() {
    for db in databases().await {
        let store = db.store().await;
        let policy = RetentionPolicy::default();
        let id = customer_since(&store, 11, "2020-01-01").await;
        let staff = Access::new(Actor::staff("7", Role::Staff), AccessPurpose::LegalObligation);
        assert!(matches!(store.place_legal_hold(&staff, id, HoldReason::TaxAudit).await, Err(StoreError::Denied(_))));
        store.place_legal_hold(&owner(), id, HoldReason::TaxAudit).await.unwrap();
        assert_eq!(store.legal_hold(id).await.unwrap(), Some(HoldReason::TaxAudit));

        let plan = store.retention_plan(&policy, day("2026-01-02")).await.unwrap();
        assert_eq!(plan.blocked[0].blockers, [Blocker::LegalHold { reason: HoldReason::TaxAudit }], "{}", db.name());
        assert!(matches!(
            store.erase_customer(&owner(), id, ErasureReason::CustomerRequest).await,
            Err(StoreError::Refused(custodian_store::Refusal::LegalHold))
        ));
        let staff_request = Access::new(Actor::staff("7", Role::Staff), AccessPurpose::DataSubjectRequest);
        let waiting = store.request_erasure(&staff_request, &policy, id, day("2026-01-02")).await.unwrap();
        assert_eq!(waiting, RequestOutcome::Waiting(vec![Blocker::LegalHold { reason: HoldReason::TaxAudit }]));
        assert_eq!(store.retention_run(&job(), &policy, day("2026-01-02")).await.unwrap().erased_on_request, 0);

        assert!(matches!(store.lift_legal_hold(&staff, id).await, Err(StoreError::Denied(_))));
        assert!(store.lift_legal_hold(&owner(), id).await.unwrap());
        assert!(!store.lift_legal_hold(&owner(), id).await.unwrap());
        let report = store.carry_out_erasure_requests(&job(), &policy, day("2026-01-05")).await.unwrap();
        assert_eq!(report.erased_on_request, 1, "{}", db.name());
        let log = store.access_log(&owner(), id).await.unwrap();
        let hold = log.iter().find(|e| e.action == "customer.legal_hold").expect("placing is audited");
        assert_eq!(hold.fields, ["tax_audit"]);
        assert!(log.iter().any(|e| e.action == "customer.legal_hold_lifted"));
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn unpaid_invoices_hold_a_request_until_paid_and_a_request_can_be_withdrawn() {
    for db in databases().await {
        let store = db.store().await;
        let policy = RetentionPolicy::default();
        let id = customer_since(&store, 12, "2025-01-01").await;
        invoice(&store, id, "2026-0012", "2026-10-01", false).await;
        let own = Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest);
        let outcome = store.request_erasure(&own, &policy, id, day("2026-11-23")).await.unwrap();
        assert_eq!(outcome, RequestOutcome::Waiting(vec![Blocker::UnpaidInvoices { count: 1 }]), "{}", db.name());
        assert!(store.withdraw_erasure_request(&own, id).await.unwrap());
        assert!(store.erasure_request(id).await.unwrap().is_none());

        store.request_erasure(&own, &policy, id, day("2026-11-23")).await.unwrap();
        let billing = Access::new(Actor::operator(), AccessPurpose::Billing);
        assert!(matches!(
            store.mark_invoice_paid(&billing, "2026-9999", day("2026-11-24")).await,
            Err(StoreError::NotFound { .. })
        ));
        store.mark_invoice_paid(&billing, "2026-0012", day("2026-11-24")).await.unwrap();
        let report = store.carry_out_erasure_requests(&job(), &policy, day("2026-11-24")).await.unwrap();
        assert_eq!(report.erased_on_request, 1, "{}", db.name());
        // The invoice stays (A6), paid.
        let paid: Option<String> = sqlx::query_scalar("SELECT paid_on FROM invoices WHERE number = '2026-0012'")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(paid.as_deref(), Some("2026-11-24"));
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn unused_handles_go_on_the_sweep_after_their_minimum_age() {
    for db in databases().await {
        let store = db.store().await;
        let policy = RetentionPolicy::default();
        let id = customer_since(&store, 13, "2020-01-01").await;
        invoice(&store, id, "2026-0013", "2026-10-01", true).await;
        let old = contact(&store, id, "OUD001", "2024-03-01").await;
        let fresh = contact(&store, id, "NIEUW01", "2025-12-20").await;
        let plan = store.retention_plan(&policy, day("2026-01-02")).await.unwrap();
        let handles: Vec<i64> = plan.handles.iter().map(|h| h.contact_id).collect();
        assert_eq!(handles, [old], "{}: the young handle waits a year", db.name());
        assert_eq!(plan.handles[0].due_on, day("2025-01-02"));
        let report = store.retention_run(&job(), &policy, day("2026-01-02")).await.unwrap();
        assert_eq!((report.handles_deleted, report.erased_retention_expired), (1, 0), "{}", db.name());
        assert_eq!(count(&store, "SELECT COUNT(*) FROM contacts").await, 1);
        let journal = store.erasure_journal(0).await.unwrap();
        assert_eq!((journal[0].subject_kind.as_str(), journal[0].subject_id.clone()), ("contact", old.to_string()));
        assert_eq!(status(&store, id).await, "active");
        let next = store.retention_plan(&policy, day("2027-01-04")).await.unwrap();
        assert_eq!(next.handles.iter().map(|h| h.contact_id).collect::<Vec<_>>(), [fresh]);
        store.close().await;
        db.finish().await;
    }
}

/// A handle made in 2024 and used by a domain until today is last used
/// today, not in 2024 (M12: "no longer in use"): when a domain points at
/// other handles, and when it leaves us.
#[tokio::test]
async fn an_unused_handle_ages_from_the_day_a_domain_last_used_it() {
    for db in databases().await {
        let engine = db.name();
        let store = db.store().await;
        let policy = RetentionPolicy::default();
        let id = customer_since(&store, 15, "2020-01-01").await;
        // A running service keeps the customer, whatever the day planned for.
        service(&store, id, "hosting").await;
        let sidn = custodian_store::registry::Target { registry: "sidn", passthrough: false };
        let mut handles = vec![];
        for name in ["EERST01", "TWEEDE1", "NOOIT01"] {
            let h = store.create_handle(&owner(), id, sidn, &custodian_testkit::contact(name)).await.unwrap();
            // Confirmed by the registry in March 2024.
            sqlx::query("UPDATE contacts SET status = 'active', created_at = $1 WHERE id = $2")
                .bind(micros(day("2024-03-01")))
                .bind(h)
                .execute(store.pool())
                .await
                .unwrap();
            handles.push(h);
        }
        let (first, second, never) = (handles[0], handles[1], handles[2]);
        let domain = store.register_domain(&owner(), id, "grutto.nl", "sidn", first, None, None).await.unwrap();
        let far = day("2100-01-04");
        let last_used = |plan: &custodian_store::Plan| -> Vec<(i64, Date)> {
            plan.handles.iter().map(|h| (h.contact_id, h.last_used_on)).collect()
        };
        let plan = store.retention_plan(&policy, far).await.unwrap();
        let unused: Vec<(i64, Date)> = vec![(second, day("2024-03-01")), (never, day("2024-03-01"))];
        assert_eq!(last_used(&plan), unused, "{engine}: the first is in use");

        let today = time::OffsetDateTime::now_utc().date();
        store.change_domain(&owner(), domain, second, None, None).await.unwrap();
        let plan = store.retention_plan(&policy, far).await.unwrap();
        assert_eq!(last_used(&plan), [(first, today), (never, day("2024-03-01"))], "{engine}: the first let go today");

        assert!(store.domain_transferred_away("sidn", "grutto.nl").await.unwrap());
        let plan = store.retention_plan(&policy, far).await.unwrap();
        let expected = [(first, today), (second, today), (never, day("2024-03-01"))];
        assert_eq!(last_used(&plan), expected, "{engine}: the domain left today");
        // Not yet due at the next sweep, as a handle made in 2024 would be.
        let next = policy.calendar.first_working_day_of_january_after(today).unwrap();
        let plan = store.retention_plan(&policy, next).await.unwrap();
        let due: Vec<i64> = plan.handles.iter().map(|h| h.contact_id).collect();
        if next - today > time::Duration::days(30) {
            assert_eq!(due, [first, second, never], "{engine}: more than 30 days after their last use");
        } else {
            assert_eq!(due, [never], "{engine}: used within 30 days of the sweep");
        }
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn notices_go_once_to_customers_due_within_the_notice_period() {
    for db in databases().await {
        let store = db.store().await;
        let policy = RetentionPolicy::default();
        let id = customer_since(&store, 14, "2020-01-01").await;
        invoice(&store, id, "2025-0014", "2025-06-01", true).await;
        assert!(store.retention_notices_due(&policy, day("2026-12-04")).await.unwrap().is_empty());
        let due = store.retention_notices_due(&policy, day("2026-12-05")).await.unwrap();
        assert_eq!(due, [(id, day("2027-01-04"))], "{}", db.name());
        store.record_retention_notice(id, day("2027-01-04")).await.unwrap();
        assert!(store.retention_notices_due(&policy, day("2026-12-06")).await.unwrap().is_empty());
        let off = RetentionPolicy { notice_days: 0, ..Default::default() };
        let other = customer_since(&store, 15, "2020-01-01").await;
        invoice(&store, other, "2025-0015", "2025-06-01", true).await;
        assert!(store.retention_notices_due(&off, day("2026-12-20")).await.unwrap().is_empty());
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn only_the_owner_runs_retention_and_dates_outside_the_calendar_are_refused() {
    for db in databases().await {
        let store = db.store().await;
        let policy = RetentionPolicy::default();
        let staff = Access::new(Actor::staff("7", Role::Staff), AccessPurpose::Retention);
        assert!(matches!(store.retention_run(&staff, &policy, day("2026-01-02")).await, Err(StoreError::Denied(_))));
        let e = store.retention_plan(&policy, day("2250-01-02")).await.unwrap_err();
        match e {
            StoreError::Invalid(f) => assert!(f.0[0].error.message(custodian_domain::Lang::En).contains("2250")),
            other => panic!("{other:?}"),
        }
        assert_eq!(count(&store, "SELECT COUNT(*) FROM audit_log").await, 0, "{}: nothing was written", db.name());
        store.close().await;
        db.finish().await;
    }
}
