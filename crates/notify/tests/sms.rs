//! SMS through the outbox over real HTTP to local stand-ins of CM.com's Business
//! Messaging API and of an SMS webhook: delivery, retries with backoff, a worker
//! crash mid-send, a rejected number. SQLite always, PostgreSQL when configured.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::staff;
use custodian_domain::Lang;
use custodian_domain::validate::Phone;
use custodian_notify::{
    ActivationCode, Branding, Clock, CmConfig, ManualClock, MessageStatus, Notifier, SmsConfig, SmsGateway, SmsMessage,
    WebhookConfig, Worker, WorkerConfig,
};
use custodian_store::Store;
use custodian_testkit::databases;
use custodian_testkit::doubles::{Answer, HttpStandIn, cm_stand_in, webhook_stand_in};

const TOKEN: &str = "00000000-1111-2222-3333-444444444444";

fn branding() -> Branding {
    Branding { company: "Voorbeeld Hosting".into(), portal_url: "https://portaal.voorbeeld.nl/".into() }
}

fn cm_gateway(stand_in: &HttpStandIn) -> SmsGateway {
    SmsGateway::new(&SmsConfig::Cm(CmConfig {
        base_url: stand_in.base_url.clone(),
        product_token: TOKEN.into(),
        sender: "Voorbeeld".into(),
        timeout_secs: 10,
        extra_ca_file: None,
    }))
    .expect("CM sender")
}

fn worker(store: &Store, clock: &ManualClock, gateway: SmsGateway) -> Worker {
    Worker::new(store.clone(), WorkerConfig::default(), Arc::new(clock.clone()), None, Some(gateway)).expect("worker")
}

async fn queue_code(store: &Store, clock: &ManualClock, code: &str) -> i64 {
    let notifier = Notifier::new(store.clone(), branding(), Arc::new(clock.clone())).unwrap();
    let to = Phone::parse("06 12345678").unwrap();
    let message = SmsMessage::ActivationCode { code: ActivationCode::parse(code).unwrap() };
    notifier.sms(&staff(), &to, None, Lang::Nl, &message).await.unwrap()
}

#[tokio::test]
async fn cm_receives_the_activation_code() {
    for db in databases().await {
        let name = db.name();
        let cm = cm_stand_in(TOKEN).await;
        let store = db.store().await;
        let clock = ManualClock::new();
        let id = queue_code(&store, &clock, "K7Q2M9").await;
        let report = worker(&store, &clock, cm_gateway(&cm)).run_once().await.unwrap();
        assert_eq!(report.sent, 1, "{name}: {report:?}");

        let got = cm.recorded();
        assert_eq!(got.len(), 1, "{name}");
        assert_eq!(got[0].headers.get("x-cm-producttoken").unwrap(), TOKEN);
        let msg = &got[0].body["messages"]["msg"][0];
        assert_eq!(msg["from"], "Voorbeeld");
        assert_eq!(msg["to"][0]["number"], "0031612345678");
        assert_eq!(msg["reference"], id.to_string(), "{name}: the reference is the outbox ID");
        let text = msg["body"]["content"].as_str().unwrap();
        assert!(text.starts_with("Voorbeeld Hosting: uw activeringscode is K7Q2M9."), "{text}");

        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!((state.status, state.attempts), (MessageStatus::Sent, 1), "{name}");
        assert!(state.content_wiped, "{name}");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn two_failures_then_success_retries_with_backoff() {
    for db in databases().await {
        let name = db.name();
        let cm = cm_stand_in(TOKEN).await;
        cm.script(&[Answer::Status(500), Answer::Status(500), Answer::Accept]);
        let store = db.store().await;
        let clock = ManualClock::new();
        let id = queue_code(&store, &clock, "482913").await;
        let worker = worker(&store, &clock, cm_gateway(&cm));
        let start = clock.now_micros();

        let r = worker.run_once().await.unwrap();
        assert_eq!((r.claimed, r.retrying), (1, 1), "{name}: {r:?}");
        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!((state.status, state.attempts), (MessageStatus::Pending, 1));
        assert_eq!(state.next_attempt_at, start + 30_000_000, "{name}: 30 s after the first failure");
        let error = state.last_error.unwrap();
        assert!(error.contains("HTTP 500"), "{name}: {error}");
        assert!(!state.content_wiped);

        // Not due yet: nothing happens, however often the worker looks.
        assert_eq!(worker.run_once().await.unwrap().claimed, 0);
        clock.advance(Duration::from_secs(29));
        assert_eq!(worker.run_once().await.unwrap().claimed, 0, "{name}: claimed before the backoff ended");
        clock.advance(Duration::from_secs(1));
        let r = worker.run_once().await.unwrap();
        assert_eq!((r.claimed, r.retrying), (1, 1), "{name}: {r:?}");
        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!(state.next_attempt_at, start + 30_000_000 + 60_000_000, "{name}: the delay doubles");

        clock.advance(Duration::from_secs(59));
        assert_eq!(worker.run_once().await.unwrap().claimed, 0);
        clock.advance(Duration::from_secs(1));
        let r = worker.run_once().await.unwrap();
        assert_eq!((r.claimed, r.sent), (1, 1), "{name}: {r:?}");

        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!((state.status, state.attempts), (MessageStatus::Sent, 3), "{name}");
        assert_eq!(state.retried_after_lease_expiry, 0);
        let references: Vec<_> =
            cm.recorded().iter().map(|r| r.body["messages"]["msg"][0]["reference"].clone()).collect();
        assert_eq!(references.len(), 3);
        let reference = id.to_string();
        assert!(references.iter().all(|r| *r == reference), "{name}: {references:?}");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_worker_crash_mid_send_leads_to_one_more_send_flagged_as_possible_duplicate() {
    for db in databases().await {
        let name = db.name();
        let cm = cm_stand_in(TOKEN).await;
        cm.script(&[Answer::Hang]);
        let store = db.store().await;
        let clock = ManualClock::new();
        let id = queue_code(&store, &clock, "771204").await;

        // Worker A claims the message and sends; CM has it, but A dies before it
        // hears back and records anything.
        let a = Arc::new(worker(&store, &clock, cm_gateway(&cm)));
        let running = tokio::spawn({
            let a = a.clone();
            async move { a.run_once().await }
        });
        cm.wait_for(1).await;
        running.abort();
        assert!(running.await.unwrap_err().is_cancelled());
        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!((state.status, state.attempts), (MessageStatus::Sending, 1), "{name}");

        // Worker B leaves it alone while A's lease holds.
        let b = worker(&store, &clock, cm_gateway(&cm));
        assert_eq!(b.run_once().await.unwrap().claimed, 0, "{name}: claimed while the lease held");
        clock.advance(Duration::from_secs(299));
        assert_eq!(b.run_once().await.unwrap().claimed, 0, "{name}: claimed before the lease expired");

        // Once the lease expired B sends it once more, flagged.
        clock.advance(Duration::from_secs(1));
        let r = b.run_once().await.unwrap();
        assert_eq!((r.claimed, r.sent, r.possible_duplicates), (1, 1, 1), "{name}: {r:?}");
        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!(state.status, MessageStatus::Sent, "{name}");
        assert_eq!(state.attempts, 2);
        assert_eq!(state.retried_after_lease_expiry, 1, "{name}: the retry is recorded as a possible duplicate");
        assert!(state.content_wiped);
        let counts = b.counts().await.unwrap();
        assert_eq!((counts.sent, counts.possible_duplicates), (1, 1), "{name}");

        // Exactly one more send, with the same reference, and no further ones.
        clock.advance(Duration::from_secs(3600));
        assert_eq!(b.run_once().await.unwrap().claimed, 0);
        let got = cm.recorded();
        assert_eq!(got.len(), 2, "{name}");
        let reference = id.to_string();
        assert!(got.iter().all(|r| r.body["messages"]["msg"][0]["reference"] == reference));
        // A's late result, had it come, would not count: its claim is gone.
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_rejected_number_fails_at_once_and_the_error_holds_no_number() {
    for db in databases().await {
        let name = db.name();
        let cm = cm_stand_in(TOKEN).await;
        cm.script(&[Answer::RejectNumber]);
        let store = db.store().await;
        let clock = ManualClock::new();
        let id = queue_code(&store, &clock, "123456").await;
        let r = worker(&store, &clock, cm_gateway(&cm)).run_once().await.unwrap();
        assert_eq!(r.failed, 1, "{name}: {r:?}");
        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!((state.status, state.attempts), (MessageStatus::Failed, 1), "{name}");
        assert!(state.content_wiped);
        let error = state.last_error.unwrap();
        assert!(error.contains("303"), "{name}: {error}");
        assert!(!error.contains("12345678"), "{name}: the number is in {error:?}");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_wrong_product_token_keeps_the_message_waiting() {
    for db in databases().await {
        let name = db.name();
        let cm = cm_stand_in("99999999-0000-0000-0000-000000000000").await;
        let store = db.store().await;
        let clock = ManualClock::new();
        let id = queue_code(&store, &clock, "123456").await;
        let r = worker(&store, &clock, cm_gateway(&cm)).run_once().await.unwrap();
        assert_eq!(r.retrying, 1, "{name}: an account problem is fixable, the message waits: {r:?}");
        assert!(cm.recorded().is_empty());
        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!(state.status, MessageStatus::Pending);
        assert!(state.last_error.unwrap().contains("errorCode 101"), "{name}");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn the_webhook_receives_the_message_with_its_bearer_token() {
    for db in databases().await {
        let name = db.name();
        let hook = webhook_stand_in("hook-secret").await;
        hook.script(&[Answer::Status(503)]);
        let store = db.store().await;
        let clock = ManualClock::new();
        let id = queue_code(&store, &clock, "55AA77").await;
        let gateway = SmsGateway::new(&SmsConfig::Webhook(WebhookConfig {
            url: format!("{}/sms", hook.base_url),
            bearer_token: Some("hook-secret".into()),
            timeout_secs: 10,
            extra_ca_file: None,
        }))
        .unwrap();
        let w = worker(&store, &clock, gateway);
        assert_eq!(w.run_once().await.unwrap().retrying, 1, "{name}: 503 is retried");
        clock.advance(Duration::from_secs(30));
        assert_eq!(w.run_once().await.unwrap().sent, 1, "{name}");
        let got = hook.recorded();
        assert_eq!(got.len(), 2);
        let body = &got[1].body;
        assert_eq!(body["to"], "+31612345678");
        assert_eq!(body["reference"], id.to_string());
        assert!(body["text"].as_str().unwrap().contains("55AA77"));
        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!((state.status, state.attempts), (MessageStatus::Sent, 2), "{name}");
        store.close().await;
        db.finish().await;
    }
}

#[test]
fn provider_addresses_must_be_https_except_on_loopback() {
    let cm = |url: &str| {
        SmsGateway::new(&SmsConfig::Cm(CmConfig {
            base_url: url.into(),
            product_token: TOKEN.into(),
            sender: "Voorbeeld".into(),
            timeout_secs: 10,
            extra_ca_file: None,
        }))
    };
    assert!(cm("https://gw.messaging.cm.com").is_ok());
    assert!(cm("http://gw.messaging.cm.com").is_err());
    assert!(cm("http://127.0.0.1:9").is_ok());
    let bad_sender = SmsGateway::new(&SmsConfig::Cm(CmConfig {
        base_url: "https://gw.messaging.cm.com".into(),
        product_token: TOKEN.into(),
        sender: "Voorbeeld Hosting BV".into(),
        timeout_secs: 10,
        extra_ca_file: None,
    }));
    assert!(bad_sender.is_err());
}

#[tokio::test]
async fn the_worker_loop_sends_and_stops_on_shutdown() {
    let db = custodian_testkit::sqlite();
    let cm = cm_stand_in(TOKEN).await;
    let store = db.store().await;
    let clock = ManualClock::new();
    let id = queue_code(&store, &clock, "314159").await;
    let w = Arc::new(worker(&store, &clock, cm_gateway(&cm)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let w = w.clone();
        async move {
            w.run(async {
                let _ = stopped.await;
            })
            .await
        }
    });
    cm.wait_for(1).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running).await.expect("the loop stops").unwrap();
    assert_eq!(store.outbox().state(id).await.unwrap().unwrap().status, MessageStatus::Sent);
    store.close().await;
}

#[test]
fn a_lease_shorter_than_twice_the_send_timeout_is_refused() {
    let gateway = SmsGateway::new(&SmsConfig::Webhook(WebhookConfig {
        url: "https://sms.example/".into(),
        bearer_token: None,
        timeout_secs: 30,
        extra_ca_file: None,
    }))
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let db = custodian_testkit::sqlite();
    let store = rt.block_on(db.store());
    let config = WorkerConfig { lease_secs: 60, ..WorkerConfig::default() };
    let err = Worker::new(store, config, Arc::new(ManualClock::new()), None, Some(gateway)).unwrap_err();
    assert!(err.to_string().contains("lease_secs"), "{err}");
}
