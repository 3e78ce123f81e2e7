//! Requests of data subjects who are not customers, on every engine under
//! test: recording, finding a domain contact through the blind indexes, the
//! answer handed over once by link, deadlines and their extension, closing,
//! and the requester's data erased a year later (and again after a restore).

use custodian_domain::inventory::Role;
use custodian_domain::model::{ContactData, Fields, parse_date};
use custodian_domain::requests::{AnswerChannel, ExtensionReason, Outcome, SubjectRequest, extended_deadline};
use custodian_store::requests::{LinkState, RecordKind};
use custodian_store::{Access, AccessPurpose, Actor, Refusal, Store, StoreError};
use custodian_testkit::{customer, databases};
use time::{Date, Duration};

fn owner() -> Access {
    Access::new(Actor::operator(), AccessPurpose::DataSubjectRequest)
}

fn day(s: &str) -> Date {
    parse_date(s).unwrap()
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn contact(handle: &str, name: &str, email: &str) -> ContactData {
    ContactData::from_fields(&fields(&[
        ("handle", handle),
        ("name", name),
        ("addr_street", "Dijk 1"),
        ("addr_postcode", "1811 AB"),
        ("addr_city", "Alkmaar"),
        ("addr_country", "NL"),
        ("phone", "072-5116617"),
        ("email", email),
    ]))
    .unwrap()
}

fn request(kind: &str, received: &str, name: &str, email: &str) -> SubjectRequest {
    SubjectRequest::from_fields(
        &fields(&[
            ("kind", kind),
            ("received_on", received),
            ("identity_check", "known_email"),
            ("name", name),
            ("email", email),
            ("summary", "Wil weten wat er over haar is vastgelegd"),
        ]),
        day("2030-01-01"),
    )
    .unwrap()
}

fn refusal(e: StoreError) -> Refusal {
    match e {
        StoreError::Refused(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Two customers; the first entered a domain contact for Anna de Wit, the
/// second one for another Anna. Returns (customer 1, Anna's contact).
async fn administration(store: &Store) -> (i64, i64) {
    let first = store.create_customer(&owner(), &customer(1), false).await.unwrap();
    let second = store.create_customer(&owner(), &customer(2), false).await.unwrap();
    let anna = store
        .add_contact(&owner(), first, Some("sidn"), &contact("AW001", "Anna de Wit", "anna@wit.nl"))
        .await
        .unwrap();
    store.add_contact(&owner(), second, Some("sidn"), &contact("AJ002", "Anna Jansen", "aj@elders.nl")).await.unwrap();
    (first, anna)
}

#[tokio::test]
async fn a_domain_contact_is_found_by_index_and_gets_the_answer_once_by_link() {
    for db in databases().await {
        let store = db.store().await;
        let (_, anna) = administration(&store).await;
        // The e-mail is typed with capitals: the index compares it as mail does.
        let id = store
            .record_subject_request(&owner(), &request("access", "2026-03-02", "Anna de Wit", "Anna@WIT.nl"))
            .await
            .unwrap();

        let found = store.find_request_records(&owner(), id).await.unwrap();
        assert_eq!(found.len(), 1, "{}: only Anna's contact, not the other Anna: {found:?}", db.name());
        assert_eq!((found[0].kind, found[0].id), (RecordKind::Contact, anna), "{}", db.name());
        assert_eq!(found[0].matched_on, ["email", "name"], "{}", db.name());

        // Nothing is answered before records are confirmed and gathered.
        assert_eq!(refusal(store.make_request_link(&owner(), id).await.unwrap_err()), Refusal::RequestNotDownloadable);
        store.confirm_request_records(&owner(), id, &[(RecordKind::Contact, anna)]).await.unwrap();
        let other_customer = store.create_customer(&owner(), &customer(3), false).await.unwrap();
        assert_eq!(
            refusal(
                store
                    .confirm_request_records(&owner(), id, &[(RecordKind::Customer, other_customer)])
                    .await
                    .unwrap_err()
            ),
            Refusal::RequestNotAMatch,
            "{}: a record nothing led to is never linked",
            db.name()
        );
        let answer = store.prepare_request_answer(&owner(), id).await.unwrap();
        assert_eq!(answer.sections.len(), 1, "{}", db.name());
        let section = &answer.sections[0];
        assert_eq!((section.table.as_str(), section.entered_by_customer), ("contacts", true), "{}", db.name());
        let value = |c: &str| section.rows.iter().find(|r| r.column == c).map(|r| r.value.as_str());
        assert_eq!(value("name"), Some("Anna de Wit"));
        assert_eq!(value("email"), Some("anna@wit.nl"));
        assert_eq!(value("handle"), Some("AW001"));

        let secret = store.make_request_link(&owner(), id).await.unwrap();
        assert!(store.request_link_works(&secret).await.unwrap());
        assert!(!store.request_link_works("0000").await.unwrap());
        assert_eq!(refusal(store.redeem_request_link("0000").await.unwrap_err()), Refusal::RequestLinkInvalid);
        let downloaded = store.redeem_request_link(&secret).await.unwrap();
        assert_eq!(downloaded, answer, "{}: the person gets what was gathered", db.name());
        assert_eq!(
            refusal(store.redeem_request_link(&secret).await.unwrap_err()),
            Refusal::RequestLinkInvalid,
            "{}: a link works once",
            db.name()
        );
        assert!(matches!(store.subject_request(&owner(), id).await.unwrap().link, LinkState::Used { .. }));

        // The data goes by link or post, never by e-mail (A10).
        let by_mail =
            store.close_subject_request(&owner(), id, Outcome::Done, AnswerChannel::Email, day("2026-03-20")).await;
        assert!(matches!(by_mail, Err(StoreError::Invalid(_))), "{}: {by_mail:?}", db.name());
        store.close_subject_request(&owner(), id, Outcome::Done, AnswerChannel::Link, day("2026-03-20")).await.unwrap();
        let closed = store.subject_request(&owner(), id).await.unwrap();
        assert_eq!(closed.summary.closed_on, Some(day("2026-03-20")));
        assert!(!closed.answer_ready, "{}: the gathered answer goes when the request closes", db.name());
        assert_eq!(
            refusal(
                store
                    .close_subject_request(&owner(), id, Outcome::Done, AnswerChannel::Post, day("2026-03-21"))
                    .await
                    .unwrap_err()
            ),
            Refusal::RequestClosed
        );

        // The trail names the lookups, never the values looked up.
        let trail: Vec<(String, String)> =
            sqlx::query_as("SELECT action, fields FROM audit_log WHERE subject_kind = 'subject_request' ORDER BY seq")
                .fetch_all(store.pool())
                .await
                .unwrap();
        let actions: Vec<&str> = trail.iter().map(|(a, _)| a.as_str()).collect();
        for expected in
            ["request.record", "request.search", "request.answer", "request.link", "request.download", "request.close"]
        {
            assert!(actions.contains(&expected), "{}: {expected} missing from {actions:?}", db.name());
        }
        assert!(trail.iter().all(|(_, f)| !f.to_lowercase().contains("wit")), "{}: {trail:?}", db.name());
        db.finish().await;
    }
}

#[tokio::test]
async fn deadlines_extend_once_within_the_first_month_and_only_the_owner_keeps_the_register() {
    for db in databases().await {
        let store = db.store().await;
        let received = day("2026-01-31");
        let id = store
            .record_subject_request(&owner(), &request("erasure", "2026-01-31", "Bram Berg", "bram@berg.nl"))
            .await
            .unwrap();
        let open = store.open_subject_requests(&owner()).await.unwrap();
        assert_eq!(open[0].due_on, day("2026-02-28"), "{}: a month after 31 January", db.name());
        let late = store.extend_subject_request(&owner(), id, ExtensionReason::Complex, day("2026-03-01")).await;
        assert!(matches!(late, Err(StoreError::Invalid(_))), "{}: {late:?}", db.name());
        let to = store.extend_subject_request(&owner(), id, ExtensionReason::Complex, day("2026-02-20")).await.unwrap();
        assert_eq!(to, extended_deadline(received));
        assert_eq!(to, day("2026-04-30"));
        let again = store.extend_subject_request(&owner(), id, ExtensionReason::ManyRequests, day("2026-02-21")).await;
        assert!(matches!(again, Err(StoreError::Invalid(_))), "{}: once", db.name());
        assert_eq!(store.open_subject_requests(&owner()).await.unwrap()[0].due_on, day("2026-04-30"));

        // Staff and the bookkeeper neither see nor keep the register.
        for role in [Role::Staff, Role::Bookkeeper] {
            let who = Access::new(Actor::staff("u1", role), AccessPurpose::DataSubjectRequest);
            assert!(matches!(store.subject_requests(&who).await, Err(StoreError::Denied(_))), "{role:?}");
            assert!(matches!(store.subject_request(&who, id).await, Err(StoreError::Denied(_))), "{role:?}");
            let recorded = store.record_subject_request(&who, &request("access", "2026-02-01", "X Y", "x@y.nl")).await;
            assert!(matches!(recorded, Err(StoreError::Denied(_))), "{role:?}");
        }
        db.finish().await;
    }
}

#[tokio::test]
async fn the_requesters_data_goes_a_year_after_closing_and_again_after_a_restore() {
    for db in databases().await {
        let store = db.store().await;
        let id = store
            .record_subject_request(&owner(), &request("objection", "2026-05-04", "Cor Ploeg", "cor@ploeg.nl"))
            .await
            .unwrap();
        store
            .close_subject_request(&owner(), id, Outcome::Done, AnswerChannel::Email, day("2026-05-10"))
            .await
            .unwrap();
        store.pool().close().await;
        drop(store);
        let before = db.duplicate().await;
        let store = db.store().await;
        let job = Access::new(Actor::job("retention"), AccessPurpose::Retention);
        assert_eq!(store.erase_handled_requests(&job, day("2027-05-10")).await.unwrap(), 0, "kept a full year");
        assert_eq!(store.erase_handled_requests(&job, day("2027-05-11")).await.unwrap(), 1);
        let erased = store.subject_request(&owner(), id).await.unwrap();
        assert!(erased.requester.is_empty(), "{}", db.name());
        assert!(erased.summary.erased);
        assert_eq!(erased.summary.outcome, Some(Outcome::Done), "the register keeps how it ended");
        let journal = store.erasure_journal(0).await.unwrap();
        assert!(journal.iter().any(|e| e.subject_kind == "subject_request" && e.subject_id == id.to_string()));

        // A copy from before the erasure, with the journal replayed on it.
        let restored = before.store().await;
        assert!(!restored.subject_request(&owner(), id).await.unwrap().requester.is_empty());
        let report = restored.replay_erasure_journal(&journal).await.unwrap();
        assert_eq!(report.requests, 1, "{}", db.name());
        assert!(restored.subject_request(&owner(), id).await.unwrap().requester.is_empty());
        before.finish().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn contacts_stored_before_their_indexes_existed_are_indexed_when_the_store_opens() {
    for db in databases().await {
        let store = db.store().await;
        let (_, anna) = administration(&store).await;
        // As a database from before the indexes: none of them, no mark.
        sqlx::query("DELETE FROM contact_name_words").execute(store.pool()).await.unwrap();
        sqlx::query("UPDATE contacts SET email_bidx = NULL").execute(store.pool()).await.unwrap();
        sqlx::query("DELETE FROM meta WHERE name = 'contact_lookups'").execute(store.pool()).await.unwrap();
        let id = store
            .record_subject_request(&owner(), &request("access", "2026-03-02", "Anna de Wit", "anna@wit.nl"))
            .await
            .unwrap();
        assert!(store.find_request_records(&owner(), id).await.unwrap().is_empty(), "{}", db.name());
        store.pool().close().await;
        drop(store);
        let store = db.store().await;
        let found = store.find_request_records(&owner(), id).await.unwrap();
        assert_eq!(found.iter().map(|m| m.id).collect::<Vec<_>>(), [anna], "{}", db.name());
        assert_eq!(found[0].matched_on, ["email", "name"]);
        db.finish().await;
    }
}

#[test]
fn the_deadline_moves_by_the_calendar_not_by_thirty_days() {
    // Independent of the store: 31 January plus a month is the month's end.
    let d = day("2027-01-31");
    assert_eq!(custodian_domain::requests::first_deadline(d), d + Duration::days(28));
}
