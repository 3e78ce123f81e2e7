//! The store's outbox on its own: leases between concurrent workers, sealing,
//! consent bookkeeping, access rules, cancelling, giving up, purging.

mod common;

use std::collections::HashSet;

use common::staff;
use custodian_domain::validate::{Email, Phone};
use custodian_store::outbox::{
    Attachment, AttachmentType, Channel, ClaimRequest, ConsentExemption, Content, EmailConsent, MessageStatus,
    NewMessage, Outgoing,
};
use custodian_store::{Access, AccessPurpose, Actor, Store, StoreError};
use custodian_testkit::{customer, databases};

const SECOND: i64 = 1_000_000;
const T0: i64 = 1_800_000_000 * SECOND;

fn sms(customer_id: Option<i64>, text: &str) -> NewMessage {
    NewMessage {
        kind: "test.sms",
        customer_id,
        content: Outgoing::Sms { to: Phone::parse("+31 6 12345678").unwrap(), text: text.into() },
    }
}

fn email(consent: EmailConsent) -> NewMessage {
    NewMessage {
        kind: "test.email",
        customer_id: None,
        content: Outgoing::Email {
            to: Email::parse("Piet.Puk@Voorbeeld.NL").unwrap(),
            consent,
            subject: "Onderwerp".into(),
            text: "Beste Piet Puk,".into(),
            attachment: None,
        },
    }
}

fn claim(now: i64, limit: i64) -> ClaimRequest<'static> {
    ClaimRequest { now, lease_micros: 300 * SECOND, limit, channels: &Channel::ALL, max_attempts: 3 }
}

async fn column<T>(store: &Store, sql: &str, id: i64) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + Unpin,
{
    sqlx::query_scalar(sql).bind(id).fetch_one(store.pool()).await.unwrap()
}

#[tokio::test]
async fn concurrent_workers_never_claim_the_same_message() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let mut ids = HashSet::new();
        for i in 0..24 {
            ids.insert(store.outbox().enqueue(&staff(), sms(None, &format!("bericht {i}")), T0).await.unwrap());
        }
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store.outbox().claim(&claim(T0, 2)).await.unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|c| c.id()));
                }
            }));
        }
        let mut seen = Vec::new();
        for t in tasks {
            seen.extend(t.await.unwrap());
        }
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(seen.len(), unique.len(), "{name}: a message was claimed twice");
        assert_eq!(unique, ids, "{name}: every message claimed once");
        let counts = store.outbox().counts().await.unwrap();
        assert_eq!(counts.sending, 24, "{name}");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn content_is_sealed_to_its_row_and_column() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let given = store.outbox().enqueue(&staff(), email(EmailConsent::Given), T0).await.unwrap();
        let staff_mail = store
            .outbox()
            .enqueue(&staff(), email(EmailConsent::NotRequired(ConsentExemption::StaffAccount)), T0)
            .await
            .unwrap();
        let consent: Option<String> = column(&store, "SELECT consent FROM outbox WHERE id = $1", given).await;
        assert_eq!(consent.as_deref(), Some("given"));
        let consent: Option<String> = column(&store, "SELECT consent FROM outbox WHERE id = $1", staff_mail).await;
        assert_eq!(consent.as_deref(), Some("not_required:staff_account"));
        let text_id = store.outbox().enqueue(&staff(), sms(None, "Kwartelkoning 55"), T0).await.unwrap();
        let consent: Option<String> = column(&store, "SELECT consent FROM outbox WHERE id = $1", text_id).await;
        assert_eq!(consent, None, "{name}: consent is about e-mail");

        let recipient: Vec<u8> = column(&store, "SELECT recipient FROM outbox WHERE id = $1", given).await;
        assert!(!recipient.windows(4).any(|w| w == b"Puk@" || w == b"puk@"), "{name}: plain address at rest");

        // A body moved to another row does not open there: that message is given up.
        let body: Vec<u8> = column(&store, "SELECT body FROM outbox WHERE id = $1", text_id).await;
        sqlx::query("UPDATE outbox SET body = $1 WHERE id = $2")
            .bind(body)
            .bind(given)
            .execute(store.pool())
            .await
            .unwrap();
        let claimed = store.outbox().claim(&claim(T0, 10)).await.unwrap();
        let ids: Vec<i64> = claimed.iter().map(|c| c.id()).collect();
        assert_eq!(ids, [staff_mail, text_id], "{name}");
        match &claimed[0].content {
            Content::Email { to, subject, text, attachment } => {
                assert_eq!(to.as_str(), "Piet.Puk@voorbeeld.nl", "{name}: the domain in ASCII, local part as given");
                assert_eq!(subject.as_str(), "Onderwerp");
                assert_eq!(text.as_str(), "Beste Piet Puk,");
                assert!(attachment.is_none(), "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        let state = store.outbox().state(given).await.unwrap().unwrap();
        assert_eq!(state.status, MessageStatus::Failed, "{name}");
        assert!(state.content_wiped);
        assert!(state.last_error.unwrap().contains("does not open"));
        store.close().await;
        db.finish().await;
    }
}

fn with_file(name: &str, bytes: &[u8]) -> NewMessage {
    let mut message = email(EmailConsent::Given);
    if let Outgoing::Email { attachment, .. } = &mut message.content {
        *attachment = Some(Attachment {
            name: name.into(),
            content_type: AttachmentType::Pdf,
            bytes: zeroize::Zeroizing::new(bytes.to_vec()),
        });
    }
    message
}

#[tokio::test]
async fn an_attachment_is_sealed_checked_and_wiped_with_the_message() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let pdf = b"%PDF-1.7 Factuur F-1 Kwartelkoning 55";
        let id = store.outbox().enqueue(&staff(), with_file("F-1.pdf", pdf), T0).await.unwrap();
        let sealed: Vec<u8> = column(&store, "SELECT attachment FROM outbox WHERE id = $1", id).await;
        assert!(!sealed.windows(12).any(|w| w == b"Kwartelkonin"), "{name}: the file in the clear at rest");

        // A name that could carry a path or a header, an empty or an
        // oversized file: refused, nothing queued.
        for (file, bytes) in
            [("../F-1.pdf", &pdf[..]), ("F-1.pdf\r\nX: y", &pdf[..]), ("F-1.exe", &pdf[..]), ("F-1.pdf", &b""[..])]
        {
            let refused = store.outbox().enqueue(&staff(), with_file(file, bytes), T0).await;
            assert!(matches!(refused, Err(StoreError::Config(_))), "{name}: {file:?}: {refused:?}");
        }
        let big = vec![b'x'; 2 * 1024 * 1024 + 1];
        assert!(store.outbox().enqueue(&staff(), with_file("F-2.pdf", &big), T0).await.is_err(), "{name}");
        let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(store.pool()).await.unwrap();
        assert_eq!(queued, 1, "{name}");

        let claimed = store.outbox().claim(&claim(T0, 10)).await.unwrap();
        match &claimed[0].content {
            Content::Email { attachment: Some(file), .. } => {
                assert_eq!(file.name, "F-1.pdf", "{name}");
                assert_eq!(file.content_type.mime(), "application/pdf");
                assert_eq!(file.bytes.as_slice(), pdf, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(store.outbox().mark_sent(&claimed[0].ticket, T0 + SECOND).await.unwrap());
        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert!(state.content_wiped, "{name}");
        let left: Option<String> = column(&store, "SELECT attachment_name FROM outbox WHERE id = $1", id).await;
        assert_eq!(left, None, "{name}");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_customer_queues_only_about_themselves_and_erasure_cancels() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let owner = Access::new(Actor::operator(), AccessPurpose::Administration);
        let c1 = store.create_customer(&owner, &customer(1), false).await.unwrap();
        let c2 = store.create_customer(&owner, &customer(2), false).await.unwrap();
        let as_c1 = Access::new(Actor::customer(c1), AccessPurpose::Support);
        assert!(store.outbox().enqueue(&as_c1, sms(Some(c1), "eigen"), T0).await.is_ok(), "{name}");
        assert!(matches!(store.outbox().enqueue(&as_c1, sms(Some(c2), "ander"), T0).await, Err(StoreError::Denied(_))));
        assert!(matches!(store.outbox().enqueue(&as_c1, sms(None, "los"), T0).await, Err(StoreError::Denied(_))));
        let other = store.outbox().enqueue(&staff(), sms(Some(c2), "blijft"), T0).await.unwrap();
        store.outbox().enqueue(&staff(), sms(Some(c1), "tweede"), T0).await.unwrap();

        // One of c1's messages is being sent when c1 is erased.
        let in_flight = store.outbox().claim(&claim(T0, 1)).await.unwrap().pop().unwrap();
        assert_eq!(store.outbox().cancel_for_customer(&owner, c1, T0).await.unwrap(), 2, "{name}");
        assert!(
            !store.outbox().mark_sent(&in_flight.ticket, T0).await.unwrap(),
            "{name}: a cancelled claim still counted"
        );
        let wiped: i64 = column(
            &store,
            "SELECT COUNT(*) FROM outbox WHERE customer_id = $1 AND status = 'cancelled' AND recipient IS NULL AND body IS NULL",
            c1,
        )
        .await;
        assert_eq!(wiped, 2, "{name}");
        assert_eq!(store.outbox().state(other).await.unwrap().unwrap().status, MessageStatus::Pending);
        assert!(matches!(store.outbox().cancel(&as_c1, other, T0).await, Err(StoreError::Denied(_))));
        assert!(store.outbox().cancel(&owner, other, T0).await.unwrap());
        assert!(!store.outbox().cancel(&owner, other, T0).await.unwrap(), "{name}: cancelled twice");
        let counts = store.outbox().counts().await.unwrap();
        assert_eq!((counts.pending, counts.sending, counts.cancelled), (0, 0, 3), "{name}");

        // Finished rows hold nothing personal and can go.
        assert_eq!(store.outbox().purge_finished(T0 + 1).await.unwrap(), 3, "{name}");
        assert_eq!(store.outbox().counts().await.unwrap().cancelled, 0);
        let audit = store.audit_verify().await.unwrap();
        assert!(audit.problem.is_none(), "{name}: {audit:?}");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_message_whose_workers_keep_dying_is_given_up() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let id = store.outbox().enqueue(&staff(), sms(None, "giftig"), T0).await.unwrap();
        let mut now = T0;
        for attempt in 1..=3 {
            let got = store.outbox().claim(&claim(now, 5)).await.unwrap();
            assert_eq!(got.len(), 1, "{name}: attempt {attempt}");
            assert_eq!(got[0].attempt, attempt);
            assert_eq!(got[0].took_over_expired_lease, attempt > 1);
            // The worker dies: no mark. Its lease expires.
            now += 301 * SECOND;
        }
        assert!(store.outbox().claim(&claim(now, 5)).await.unwrap().is_empty(), "{name}");
        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!(state.status, MessageStatus::Failed, "{name}");
        assert_eq!((state.attempts, state.retried_after_lease_expiry), (3, 2));
        assert!(state.content_wiped);
        assert!(state.last_error.unwrap().contains("lease expired"));
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn only_the_current_claim_can_finish_a_message() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let id = store.outbox().enqueue(&staff(), sms(None, "een"), T0).await.unwrap();
        let first = store.outbox().claim(&claim(T0, 1)).await.unwrap().pop().unwrap();
        // The first claim's lease runs out and a second worker takes over.
        let second = store.outbox().claim(&claim(T0 + 300 * SECOND, 1)).await.unwrap().pop().unwrap();
        assert_eq!(second.id(), id);
        assert!(second.took_over_expired_lease);
        assert!(!store.outbox().mark_sent(&first.ticket, T0).await.unwrap(), "{name}");
        assert!(!store.outbox().reschedule(&first.ticket, T0, "x").await.unwrap());
        assert!(!store.outbox().give_up(&first.ticket, "x", T0).await.unwrap());
        assert!(store.outbox().mark_sent(&second.ticket, T0 + 301 * SECOND).await.unwrap(), "{name}");
        assert!(!store.outbox().mark_sent(&second.ticket, T0 + 302 * SECOND).await.unwrap(), "{name}: marked twice");
        assert_eq!(store.outbox().next_due().await.unwrap(), None);
        let one = store.outbox().installation_id().await.unwrap();
        assert_eq!(one, store.outbox().installation_id().await.unwrap(), "{name}: the installation value is stable");
        assert_eq!(one.len(), 32);
        store.close().await;
        db.finish().await;
    }
}
