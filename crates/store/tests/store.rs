//! The store's guarantees, checked on every engine under test (SQLite always,
//! PostgreSQL when CUSTODIAN_TEST_POSTGRES_URL is set).

use custodian_domain::inventory::{self, Role};
use custodian_domain::model::{ContactData, Delivery, Fields, InvoiceLine, ServiceData, parse_date};
use custodian_domain::validate::{Email, Kvk};
use custodian_store::{
    Access, AccessPurpose, Actor, ErasureReason, Lookup, NewInvoice, ProblemKind, Store, StoreError,
};
use custodian_testkit::{customer, customer_fields, databases};

fn owner() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

fn staff() -> Access {
    Access::new(Actor::staff("7", Role::Staff), AccessPurpose::Support).from("192.0.2.10".parse().unwrap())
}

fn bookkeeper() -> Access {
    Access::new(Actor::staff("9", Role::Bookkeeper), AccessPurpose::Billing)
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn audit_count(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(store.pool()).await.unwrap()
}

async fn invoice(store: &Store, customer_id: i64, number: &str) -> i64 {
    let new = NewInvoice {
        number: number.into(),
        issued_on: parse_date("2026-03-01").unwrap(),
        due_on: parse_date("2026-03-31").unwrap(),
        delivery: Delivery::Post,
        lines: vec![InvoiceLine::parse("Webhosting Zilvermeeuw;12;595;21").unwrap()],
    };
    store.add_invoice(&Access::new(Actor::operator(), AccessPurpose::Billing), customer_id, new).await.unwrap()
}

#[tokio::test]
async fn every_live_column_is_in_the_inventory() {
    for db in databases().await {
        let store = db.store().await;
        let columns = store.live_columns().await.unwrap();
        assert!(columns.len() > 50, "{}: schema looks empty", db.name());
        let undeclared: Vec<_> =
            columns.iter().filter(|(t, c)| !inventory::is_declared(t, c)).map(|(t, c)| format!("{t}.{c}")).collect();
        assert!(undeclared.is_empty(), "{}: columns missing from the inventory: {undeclared:?}", db.name());
        // And the other way round: every declared personal column exists.
        for f in inventory::FIELDS {
            assert!(
                columns.iter().any(|(t, c)| t == f.table && c == f.column),
                "{}: inventory names {}.{} but the schema has no such column",
                db.name(),
                f.table,
                f.column
            );
        }
        store.close().await;
        db.finish().await;
    }
}

/// Distinctive values that must never appear in plain text at rest.
const SECRETS: &[&str] =
    &["Zilvermeeuwstraat", "Kwartelkoning", "flamingo.kwak@", "NL91ABNA0417164300", "Pimpelmees", "87654321"];

#[tokio::test]
async fn no_personal_value_is_stored_in_plain_text() {
    for db in databases().await {
        let store = db.store().await;
        let mut f = customer_fields(1);
        f.insert("company_name".into(), "Kwartelkoning Hosting".into());
        f.insert("visit_street".into(), "Zilvermeeuwstraat 12".into());
        f.insert("email".into(), "flamingo.kwak@example.nl".into());
        f.insert("iban".into(), "NL91ABNA0417164300".into());
        f.insert("iban_holder".into(), "Pimpelmees".into());
        f.insert("kvk".into(), "87654321".into());
        let data =
            custodian_domain::model::CustomerData::from_fields(custodian_domain::model::CustomerKind::Business, &f)
                .unwrap();
        let id = store.create_customer(&owner(), &data, true).await.unwrap();
        let contact = ContactData::from_fields(&fields(&[
            ("name", "Pimpelmees Derde"),
            ("addr_street", "Zilvermeeuwstraat 14"),
            ("addr_postcode", "1234 AB"),
            ("addr_city", "Alkmaar"),
            ("phone", "+31612345678"),
            ("email", "flamingo.kwak@example.org"),
        ]))
        .unwrap();
        store.add_contact(&owner(), id, Some("sidn"), &contact).await.unwrap();
        invoice(&store, id, "2026-0001").await;
        store.read_customer(&staff(), id).await.unwrap();
        // A request of someone who is not a customer, with its answer gathered.
        let request = custodian_domain::requests::SubjectRequest::from_fields(
            &fields(&[
                ("kind", "access"),
                ("received_on", "2026-03-01"),
                ("identity_check", "known_email"),
                ("name", "Pimpelmees Derde"),
                ("email", "flamingo.kwak@example.org"),
                ("address", "Zilvermeeuwstraat 14, 1234 AB Alkmaar"),
                ("summary", "Vraagt wat Kwartelkoning over haar weet"),
            ]),
            parse_date("2026-03-02").unwrap(),
        )
        .unwrap();
        let dsr = Access::new(custodian_store::Actor::operator(), AccessPurpose::DataSubjectRequest);
        let asked = store.record_subject_request(&dsr, &request).await.unwrap();
        let found = store.find_request_records(&dsr, asked).await.unwrap();
        assert_eq!(found.len(), 1, "{}: the contact, by e-mail and name", db.name());
        let chosen: Vec<_> = found.iter().map(|m| (m.kind, m.id)).collect();
        store.confirm_request_records(&dsr, asked, &chosen).await.unwrap();
        store.prepare_request_answer(&dsr, asked).await.unwrap();
        store.close().await;

        let dump = match &db.dir {
            Some(dir) => {
                let mut bytes = vec![];
                for entry in std::fs::read_dir(dir.path()).unwrap() {
                    bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
                }
                bytes
            }
            None => {
                let out = std::process::Command::new("pg_dump").arg(&db.url).output().expect("pg_dump runs");
                assert!(out.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&out.stderr));
                out.stdout
            }
        };
        assert!(dump.len() > 10_000, "{}: dump is suspiciously small", db.name());
        let text = String::from_utf8_lossy(&dump).to_lowercase();
        for secret in SECRETS {
            assert!(!text.contains(&secret.to_lowercase()), "{}: {secret} found in plain text", db.name());
        }
        db.finish().await;
    }
}

#[tokio::test]
async fn reads_by_others_are_audited_before_data_is_returned_and_own_reads_are_not() {
    for db in databases().await {
        let store = db.store().await;
        let id = store.create_customer(&owner(), &customer(1), false).await.unwrap();
        let before = audit_count(&store).await;

        let record = store.read_customer(&staff(), id).await.unwrap();
        assert_eq!(record.fields.get("email").unwrap(), "klant1@voorbeeld.nl");
        assert_eq!(audit_count(&store).await, before + 1, "{}", db.name());

        let own = Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest);
        store.read_customer(&own, id).await.unwrap();
        assert_eq!(audit_count(&store).await, before + 1, "{}: own reads are not logged one by one", db.name());

        let log = store.access_log(&own, id).await.unwrap();
        let read = log.iter().find(|e| e.action == "customer.read").unwrap();
        assert_eq!(
            (read.actor_kind.as_str(), read.actor_id.as_str(), read.purpose.as_str()),
            ("staff", "7", "support")
        );
        assert!(read.fields.contains(&"email".to_string()));
        assert_eq!(read.source, None, "a customer does not see staff addresses");
        let as_owner = store.access_log(&owner(), id).await.unwrap();
        let read = as_owner.iter().find(|e| e.action == "customer.read").unwrap();
        assert_eq!(read.source.as_deref(), Some("192.0.2.10"));

        // No audit entry ever holds a value.
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT fields, subject_id, actor_id FROM audit_log").fetch_all(store.pool()).await.unwrap();
        for (fields, _, _) in rows {
            assert!(!fields.contains("klant1"), "{}", db.name());
        }
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn roles_see_only_what_the_inventory_allows() {
    for db in databases().await {
        let store = db.store().await;
        let mut f = customer_fields(2);
        f.insert("iban".into(), "NL91ABNA0417164300".into());
        f.insert("iban_holder".into(), "Bedrijf 2".into());
        let data =
            custodian_domain::model::CustomerData::from_fields(custodian_domain::model::CustomerKind::Business, &f)
                .unwrap();
        let a = store.create_customer(&owner(), &data, false).await.unwrap();
        let b = store.create_customer(&owner(), &customer(3), false).await.unwrap();
        invoice(&store, a, "2026-0002").await;

        let books = store.read_customer(&bookkeeper(), a).await.unwrap();
        assert!(books.fields.contains_key("iban") && books.fields.contains_key("company_name"));
        assert!(!books.fields.contains_key("phone"), "{}: bookkeeper must not see the phone", db.name());
        assert!(books.withheld.contains(&"phone"));
        assert!(matches!(books.data(), Err(StoreError::Denied(_))));

        let staff_view = store.read_customer(&staff(), a).await.unwrap();
        assert!(!staff_view.fields.contains_key("iban"), "{}: IBAN is finance data", db.name());
        assert!(matches!(store.read_invoices(&staff(), a).await, Err(StoreError::Denied(_))));
        let invoices = store.read_invoices(&bookkeeper(), a).await.unwrap();
        assert_eq!(invoices[0].billing.get("billing_name").unwrap(), "Bedrijf 2 B.V.");
        assert_eq!(invoices[0].total_cents, 8639);
        assert_eq!(invoices[0].lines[0].description, "Webhosting Zilvermeeuw");

        let customer_a = Access::new(Actor::customer(a), AccessPurpose::DataSubjectRequest);
        assert!(matches!(store.read_customer(&customer_a, b).await, Err(StoreError::Denied(_))));
        assert!(matches!(store.export_customer(&customer_a, b).await, Err(StoreError::Denied(_))));
        assert!(matches!(
            store.update_customer(&bookkeeper(), a, &fields(&[("phone", "0612345678")])).await,
            Err(StoreError::Denied(_))
        ));
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn invalid_updates_change_nothing_and_valid_ones_are_normalised_and_audited() {
    for db in databases().await {
        let store = db.store().await;
        let id = store.create_customer(&owner(), &customer(4), false).await.unwrap();
        let before = store.read_customer(&owner(), id).await.unwrap().fields;
        let audits = audit_count(&store).await;

        let bad = fields(&[("phone", "12"), ("contact_name", "Nieuwe Naam"), ("btw", "NL123456789B01")]);
        let Err(StoreError::Invalid(errs)) = store.update_customer(&owner(), id, &bad).await else {
            panic!("{}: invalid update accepted", db.name())
        };
        let mut names: Vec<_> = errs.0.iter().map(|e| e.field.as_str()).collect();
        names.sort();
        assert_eq!(names, ["btw", "phone"]);
        assert_eq!(store.read_customer(&owner(), id).await.unwrap().fields, before);
        assert_eq!(audit_count(&store).await, audits + 1, "{}: only the read above was logged", db.name());

        let own = Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest);
        let changed = store
            .update_customer(
                &own,
                id,
                &fields(&[("phone", "06 12345678"), ("department", ""), ("visit_city", "Alkmaar")]),
            )
            .await
            .unwrap();
        assert_eq!(changed, ["phone"]);
        let after = store.read_customer(&own, id).await.unwrap();
        assert_eq!(after.fields.get("phone").unwrap(), "+31612345678");
        let log = store.access_log(&owner(), id).await.unwrap();
        let update = log.iter().rev().find(|e| e.action == "customer.update").unwrap();
        assert_eq!((update.actor_kind.as_str(), update.fields.clone()), ("customer", vec!["phone".to_string()]));
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn blind_indexes_find_customers_without_decrypting() {
    for db in databases().await {
        let store = db.store().await;
        let ids = store.create_customers(&owner(), &[customer(10), customer(11), customer(12)]).await.unwrap();
        let by_email = store
            .find_customers(&owner(), &Lookup::Email(Email::parse("KLANT11@voorbeeld.nl").unwrap()))
            .await
            .unwrap();
        assert_eq!(by_email, [ids[1]], "{}: e-mail lookup ignores case", db.name());
        let kvk = customer(12).kvk.unwrap();
        assert_eq!(store.find_customers(&owner(), &Lookup::Kvk(kvk)).await.unwrap(), [ids[2]]);
        assert_eq!(store.find_customers(&owner(), &Lookup::NameWord("persoon10".into())).await.unwrap(), [ids[0]]);
        assert_eq!(store.find_customers(&owner(), &Lookup::NameWord("Bedrijf".into())).await.unwrap(), ids);
        assert!(
            store.find_customers(&owner(), &Lookup::Kvk(Kvk::parse("11111111").unwrap())).await.unwrap().is_empty()
        );

        store.update_customer(&owner(), ids[0], &fields(&[("company_name", "Reigersbek BV")])).await.unwrap();
        assert_eq!(store.find_customers(&owner(), &Lookup::NameWord("reigersbek".into())).await.unwrap(), [ids[0]]);
        assert_eq!(store.find_customers(&owner(), &Lookup::NameWord("bedrijf".into())).await.unwrap(), ids[1..]);
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn ciphertext_moved_to_another_row_or_field_does_not_open() {
    for db in databases().await {
        let store = db.store().await;
        let a = store.create_customer(&owner(), &customer(20), false).await.unwrap();
        let b = store.create_customer(&owner(), &customer(21), false).await.unwrap();
        // Another customer's value into b's row: wrong key.
        sqlx::query(
            "UPDATE customers SET company_name = (SELECT company_name FROM customers WHERE id = $1) WHERE id = $2",
        )
        .bind(a)
        .bind(b)
        .execute(store.pool())
        .await
        .unwrap();
        assert!(matches!(store.read_customer(&owner(), b).await, Err(StoreError::Crypto(_))), "{}", db.name());
        // One field's value into another field of the same row: wrong context.
        sqlx::query("UPDATE customers SET contact_name = company_name WHERE id = $1")
            .bind(a)
            .execute(store.pool())
            .await
            .unwrap();
        assert!(matches!(store.read_customer(&owner(), a).await, Err(StoreError::Crypto(_))), "{}", db.name());
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn tampering_with_the_audit_trail_is_reported_at_the_first_broken_entry() {
    for db in databases().await {
        let store = db.store().await;
        let id = store.create_customer(&owner(), &customer(30), false).await.unwrap();
        for _ in 0..9 {
            store.read_customer(&staff(), id).await.unwrap();
        }
        let v = store.audit_verify().await.unwrap();
        assert_eq!((v.entries, v.problem), (10, None), "{}", db.name());
        let pool = store.pool();
        let problem = || async { store.audit_verify().await.unwrap().problem.map(|p| (p.seq, p.kind)) };

        sqlx::query("UPDATE audit_log SET purpose = 'billing' WHERE seq = 4").execute(pool).await.unwrap();
        assert_eq!(problem().await, Some((4, ProblemKind::Altered)), "{}", db.name());
        sqlx::query("UPDATE audit_log SET purpose = 'support' WHERE seq = 4").execute(pool).await.unwrap();
        assert_eq!(problem().await, None);

        // Swap two entries' positions.
        sqlx::query("UPDATE audit_log SET seq = 1000 WHERE seq = 6").execute(pool).await.unwrap();
        sqlx::query("UPDATE audit_log SET seq = 6 WHERE seq = 7").execute(pool).await.unwrap();
        sqlx::query("UPDATE audit_log SET seq = 7 WHERE seq = 1000").execute(pool).await.unwrap();
        assert_eq!(problem().await, Some((6, ProblemKind::Altered)), "{}", db.name());
        sqlx::query("UPDATE audit_log SET seq = 1000 WHERE seq = 6").execute(pool).await.unwrap();
        sqlx::query("UPDATE audit_log SET seq = 6 WHERE seq = 7").execute(pool).await.unwrap();
        sqlx::query("UPDATE audit_log SET seq = 7 WHERE seq = 1000").execute(pool).await.unwrap();
        assert_eq!(problem().await, None);

        sqlx::query("DELETE FROM audit_log WHERE seq = 10").execute(pool).await.unwrap();
        assert_eq!(problem().await, Some((10, ProblemKind::Truncated)), "{}", db.name());
        sqlx::query("DELETE FROM audit_log WHERE seq = 5").execute(pool).await.unwrap();
        assert_eq!(problem().await, Some((5, ProblemKind::Removed)), "{}", db.name());
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn concurrent_reads_share_group_commits_and_keep_one_chain() {
    for db in databases().await {
        let store = db.store().await;
        let id = store.create_customer(&owner(), &customer(40), false).await.unwrap();
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.read_customer(&staff(), id).await.map(|_| ()) })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let v = store.audit_verify().await.unwrap();
        assert_eq!((v.entries, v.problem), (201, None), "{}", db.name());
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn erasure_removes_the_person_keeps_invoices_and_is_journaled() {
    for db in databases().await {
        let store = db.store().await;
        let id = store.create_customer(&owner(), &customer(50), false).await.unwrap();
        let other = store.create_customer(&owner(), &customer(51), false).await.unwrap();
        let own =
            Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest).from("198.51.100.7".parse().unwrap());
        store.update_customer(&own, id, &fields(&[("department", "ICT")])).await.unwrap();
        let service = ServiceData::from_fields(&fields(&[
            ("kind", "hosting"),
            ("description", "Pakket M"),
            ("started_on", "2025-01-01"),
        ]))
        .unwrap();
        store.add_service(&owner(), id, &service).await.unwrap();
        invoice(&store, id, "2026-0050").await;

        let refused = store.erase_customer(&owner(), id, ErasureReason::CustomerRequest).await;
        assert!(
            matches!(refused, Err(StoreError::Refused(custodian_store::Refusal::RunningServices { count: 1 }))),
            "{}: erased despite a running service",
            db.name()
        );
        sqlx::query("UPDATE services SET status = 'ended', ended_on = '2026-06-30' WHERE customer_id = $1")
            .bind(id)
            .execute(store.pool())
            .await
            .unwrap();
        let keys_before: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM data_keys").fetch_one(store.pool()).await.unwrap();

        assert!(store.erase_customer(&own, id, ErasureReason::CustomerRequest).await.unwrap());
        assert!(!store.erase_customer(&owner(), id, ErasureReason::CustomerRequest).await.unwrap(), "idempotent");

        assert!(matches!(store.read_customer(&owner(), id).await, Err(StoreError::Erased(_))), "{}", db.name());
        assert!(matches!(store.export_customer(&owner(), id).await, Err(StoreError::Erased(_))));
        assert!(store.find_customers(&owner(), &Lookup::NameWord("persoon50".into())).await.unwrap().is_empty());
        let keys_after: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM data_keys").fetch_one(store.pool()).await.unwrap();
        assert_eq!(keys_after, keys_before - 1, "{}: the customer's key is destroyed", db.name());
        let remaining: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM customers WHERE id = $1 AND (company_name IS NOT NULL OR email IS NOT NULL OR email_bidx IS NOT NULL)",
        )
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(remaining, 0);
        for table in ["contacts", "services", "statute_acceptances", "customer_name_words"] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE customer_id = $1"))
                .bind(id)
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(n, 0, "{}: {table} still holds rows", db.name());
        }

        // The invoice keeps its billing snapshot (A6).
        let invoices = store.read_invoices(&bookkeeper(), id).await.unwrap();
        assert_eq!(invoices[0].billing.get("billing_name").unwrap(), "Bedrijf 50 B.V.");

        // The journal names only the pseudonymous ID; the audit trail can no
        // longer reveal the customer's own source addresses.
        let journal = store.erasure_journal(0).await.unwrap();
        assert_eq!(journal.len(), 1);
        assert_eq!(
            (journal[0].subject_id.as_str(), journal[0].reason.as_str()),
            (id.to_string().as_str(), "customer_request")
        );
        let log = store.access_log(&owner(), id).await.unwrap();
        assert!(log.iter().any(|e| e.action == "customer.erase"));
        assert!(log.iter().filter(|e| e.actor_kind == "customer").all(|e| e.source.is_none()));
        assert!(store.audit_verify().await.unwrap().problem.is_none());

        // Nobody else was touched.
        assert_eq!(
            store.read_customer(&owner(), other).await.unwrap().fields.get("email").unwrap(),
            "klant51@voorbeeld.nl"
        );
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn export_holds_everything_about_the_customer() {
    for db in databases().await {
        let store = db.store().await;
        let id = store.create_customer(&owner(), &customer(60), true).await.unwrap();
        store.record_statute_acceptance(&owner(), id, "2026-01", 1_767_225_600_000_000).await.unwrap();
        invoice(&store, id, "2026-0060").await;
        store.read_customer(&staff(), id).await.unwrap();
        let own = Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest);
        let export = store.export_customer(&own, id).await.unwrap();
        assert_eq!(export.customer.fields.get("company_name").unwrap(), "Bedrijf 60 B.V.");
        assert_eq!(export.customer.entered_by.as_deref(), Some("operator:cli"));
        assert!(export.customer.withheld.is_empty());
        assert_eq!(export.statute_acceptances[0].version, "2026-01");
        assert_eq!(export.invoices.as_ref().unwrap().len(), 1);
        assert!(
            export.access_log.as_ref().unwrap().iter().any(|e| e.action == "customer.read" && e.actor_kind == "staff")
        );
        let json = serde_json_text(&export);
        assert!(json.contains("klant60@voorbeeld.nl"));

        let staff_export = store.export_customer(&staff(), id).await.unwrap();
        assert!(staff_export.invoices.is_none(), "{}: staff never see invoices", db.name());
        store.close().await;
        db.finish().await;
    }
}

fn serde_json_text(e: &custodian_store::Export) -> String {
    serde_json::to_string(e).unwrap()
}

#[tokio::test]
async fn rotating_the_master_key_rewraps_without_touching_data() {
    for db in databases().await {
        let store = db.store().await;
        let id = store.create_customer(&owner(), &customer(70), false).await.unwrap();
        let before: Vec<u8> = sqlx::query_scalar("SELECT email FROM customers WHERE id = $1")
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap();
        let new = custodian_store::Key::generate();
        assert_eq!(store.rotate_master_key(&owner(), &new).await.unwrap(), 1);
        let after: Vec<u8> = sqlx::query_scalar("SELECT email FROM customers WHERE id = $1")
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(before, after, "data is not rewritten");
        store.read_customer(&owner(), id).await.unwrap();
        store.close().await;

        let old = Store::open(&db.url, 2, db.key.clone()).await;
        assert!(matches!(old, Err(StoreError::WrongMasterKey { .. })), "{}: the old key still opens", db.name());
        let reopened = Store::open(&db.url, 2, new).await.unwrap();
        let found = reopened
            .find_customers(&owner(), &Lookup::Email(Email::parse("klant70@voorbeeld.nl").unwrap()))
            .await
            .unwrap();
        assert_eq!(found, [id], "blind indexes survive rotation");
        assert_eq!(
            reopened.read_customer(&owner(), id).await.unwrap().fields.get("email").unwrap(),
            "klant70@voorbeeld.nl"
        );
        reopened.close().await;
        db.finish().await;
    }
}

async fn session_column(store: &Store, user: i64, column: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT {column} FROM sessions WHERE user_id = $1"))
        .bind(user)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn set_session_column(store: &Store, user: i64, column: &str, value: i64) {
    sqlx::query(&format!("UPDATE sessions SET {column} = $1 WHERE user_id = $2"))
        .bind(value)
        .bind(user)
        .execute(store.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn sessions_end_when_idle_or_old_and_reading_one_writes_once_a_minute() {
    use custodian_store::auth::{SESSION_IDLE, SESSION_TOUCH};
    let now = || (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64;
    for db in databases().await {
        let store = db.store().await;
        let id = store.create_customer(&owner(), &customer(70), false).await.unwrap();
        let (account, _, _) = store.invite_customer(&owner(), id).await.unwrap();
        let token = store.start_session(&account, true).await.unwrap().token;
        let user = account.id;

        let seen = session_column(&store, user, "last_seen_at").await;
        assert!(store.session(&token).await.unwrap().is_some(), "{}", db.name());
        let unchanged = session_column(&store, user, "last_seen_at").await == seen;
        assert!(unchanged, "{}: a recent session is read without a write", db.name());

        set_session_column(&store, user, "last_seen_at", now() - SESSION_TOUCH - 1_000_000).await;
        let before = now();
        assert!(store.session(&token).await.unwrap().is_some(), "{}", db.name());
        let touched = session_column(&store, user, "last_seen_at").await >= before;
        assert!(touched, "{}: a session last seen over a minute ago is touched", db.name());

        set_session_column(&store, user, "last_seen_at", now() - SESSION_IDLE - 1_000_000).await;
        assert!(store.session(&token).await.unwrap().is_none(), "{}: idle too long", db.name());

        set_session_column(&store, user, "last_seen_at", now()).await;
        set_session_column(&store, user, "expires_at", now() - 1).await;
        assert!(store.session(&token).await.unwrap().is_none(), "{}: past its maximum age", db.name());
        store.close().await;
        db.finish().await;
    }
}

/// Pooled PostgreSQL connections are not pinged while in steady use; one the
/// server dropped while it sat idle (a restart, an administrator) is found on
/// checkout and replaced, so the next request neither fails nor waits.
#[tokio::test]
async fn connections_the_server_dropped_while_idle_are_replaced() {
    // PostgreSQL only: nothing can drop an embedded SQLite connection.
    let db = custodian_testkit::postgres_only().await;
    let admin = std::env::var(custodian_testkit::POSTGRES_ENV).unwrap();
    let store = db.store().await;
    let id = store.create_customer(&owner(), &customer(71), false).await.unwrap();
    let database = db.url.rsplit('/').next().unwrap().to_string();
    use sqlx::Connection;
    let mut killer = sqlx::AnyConnection::connect(&admin).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&database)
    .fetch_all(&mut killer)
    .await
    .unwrap();
    assert!(!killed.is_empty(), "the store's connections were open");
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    for _ in 0..killed.len() + 1 {
        let record = store.read_customer(&owner(), id).await.expect("served on a fresh connection");
        assert_eq!(record.fields["company_name"], customer_fields(71)["company_name"]);
    }
    store.close().await;
    db.finish().await;
}

/// Reads that open data keys and write audit entries, many at once on a small
/// pool with nothing in memory yet: none may hold one connection while waiting
/// for another, or the pool deadlocks until its acquire timeout.
#[tokio::test]
async fn concurrent_cold_reads_never_wait_on_the_pool_they_hold() {
    for db in databases().await {
        let setup = db.store().await;
        let mut ids = vec![];
        for n in 1..=8 {
            let id = setup.create_customer(&owner(), &customer(n), false).await.unwrap();
            invoice(&setup, id, &format!("2026-{n:04}")).await;
            ids.push(id);
        }
        setup.close().await;
        // A fresh store: its keyring has no data key in memory.
        let store = Store::open(&db.url, 2, db.key.clone()).await.unwrap();
        let mut reads = tokio::task::JoinSet::new();
        for &id in ids.iter().chain(&ids) {
            let store = store.clone();
            reads.spawn(async move {
                let own = Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest);
                store.customer_overview(&own, id).await?;
                store.export_customer(&staff(), id).await?;
                store.read_invoices(&bookkeeper(), id).await.map(|_| ())
            });
        }
        let all = tokio::time::timeout(std::time::Duration::from_secs(20), reads.join_all()).await;
        let all = all.unwrap_or_else(|_| panic!("{}: the reads are stuck on the pool", db.name()));
        assert!(all.iter().all(Result::is_ok), "{}: {:?}", db.name(), all.iter().find(|r| r.is_err()));
        store.close().await;
        db.finish().await;
    }
}
