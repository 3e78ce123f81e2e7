//! E-mail through the outbox to a real SMTP server on the loopback address (the
//! server in `custodian_testkit::doubles` speaks SMTP with STARTTLS or implicit
//! TLS over rustls, with a certificate made for the test), on SQLite and, when
//! configured, PostgreSQL.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::staff;
use custodian_domain::Lang;
use custodian_domain::validate::Email;
use custodian_notify::{
    Branding, EmailConsent, EmailMessage, LoginName, Mailer, ManualClock, MessageStatus, NoticeTopic, Notifier,
    PersonName, SmtpConfig, SmtpSecurity, Worker, WorkerConfig,
};
use custodian_store::Store;
use custodian_testkit::databases;
use custodian_testkit::doubles::{SmtpMode, SmtpServer, TestCert, smtp_server, test_cert};

fn branding() -> Branding {
    Branding { company: "Voorbeeld Hosting".into(), portal_url: "https://portaal.voorbeeld.nl/".into() }
}

fn smtp_config(server: &SmtpServer, cert: &TestCert, security: SmtpSecurity) -> SmtpConfig {
    let mut c = SmtpConfig::new("localhost", "Voorbeeld Hosting <noreply@voorbeeld.nl>");
    c.port = Some(server.port());
    c.security = security;
    c.extra_ca_file = Some(cert.ca_file.clone());
    c.timeout_secs = 10;
    c
}

fn worker(store: &Store, clock: &ManualClock, config: &SmtpConfig) -> Worker {
    let mailer = Mailer::new(config).expect("mailer");
    Worker::new(store.clone(), WorkerConfig::default(), Arc::new(clock.clone()), Some(mailer), None).expect("worker")
}

fn login_mail() -> EmailMessage {
    EmailMessage::LoginName {
        name: Some(PersonName::parse("Jan Jansen").unwrap()),
        login: LoginName::parse("jjansen").unwrap(),
    }
}

async fn raw_content(store: &Store, id: i64) -> (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>) {
    sqlx::query_as("SELECT recipient, subject, body FROM outbox WHERE id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn email_goes_over_starttls_and_the_outbox_wipes_it() {
    let cert = test_cert();
    for db in databases().await {
        let name = db.name();
        let server = smtp_server(SmtpMode::OffersStartTls, cert.acceptor.clone()).await;
        let store = db.store().await;
        let clock = ManualClock::new();
        let notifier = Notifier::new(store.clone(), branding(), Arc::new(clock.clone())).unwrap();
        let to = Email::parse("jan.jansen@voorbeeld.nl").unwrap();
        let id = notifier.email(&staff(), &to, EmailConsent::Given, None, Lang::Nl, &login_mail()).await.unwrap();

        // Queued: sealed at rest.
        let (recipient, subject, body) = raw_content(&store, id).await;
        let sealed = [recipient.unwrap(), subject.unwrap(), body.unwrap()].concat();
        for plain in ["jan.jansen", "Jan Jansen", "jjansen", "inlognaam"] {
            assert!(!sealed.windows(plain.len()).any(|w| w == plain.as_bytes()), "{name}: {plain} in plain text");
        }

        let mut config = smtp_config(&server, &cert, SmtpSecurity::StartTls);
        config.username = Some("relay-user".into());
        config.password = Some("relay-secret".into());
        let worker = worker(&store, &clock, &config);
        let report = worker.run_once().await.unwrap();
        assert_eq!((report.claimed, report.sent), (1, 1), "{name}: {report:?}");

        let installation = store.outbox().installation_id().await.unwrap();
        {
            let log = server.log();
            assert_eq!(log.tls_handshakes, 1, "{name}: the server saw no TLS handshake");
            // Before the handshake only EHLO and STARTTLS crossed in plain text.
            let plain: Vec<_> = log.commands.iter().filter(|c| c.starts_with("plain: ")).collect();
            assert!(
                plain.iter().all(|c| c.starts_with("plain: EHLO") || c.as_str() == "plain: STARTTLS"),
                "{name}: {plain:?}"
            );
            assert_eq!(log.received.len(), 1, "{name}");
            let m = &log.received[0];
            assert!(m.tls, "{name}: the message came without TLS");
            assert_eq!(m.auth, Some(("relay-user".into(), "relay-secret".into())), "{name}");
            assert_eq!(m.mail_from, "noreply@voorbeeld.nl");
            assert_eq!(m.rcpt_to, ["jan.jansen@voorbeeld.nl"]);
            assert_eq!(m.header("To").as_deref(), Some("jan.jansen@voorbeeld.nl"));
            assert_eq!(m.header("Subject").as_deref(), Some("Uw inlognaam voor Voorbeeld Hosting"));
            assert_eq!(
                m.header("Message-ID"),
                Some(format!("<outbox.{id}.{installation}@voorbeeld.nl>")),
                "{name}: the Message-ID is derived from the outbox ID"
            );
            let text = m.text();
            assert!(text.starts_with("Beste Jan Jansen,"), "{name}: {text}");
            assert!(text.contains("Uw inlognaam: jjansen"), "{name}: {text}");
            assert!(text.contains("https://portaal.voorbeeld.nl/"), "{name}: {text}");
        }

        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!(state.status, MessageStatus::Sent, "{name}");
        assert_eq!(state.attempts, 1);
        assert_eq!(state.retried_after_lease_expiry, 0);
        assert!(state.content_wiped, "{name}: content not wiped after sending");
        assert_eq!(raw_content(&store, id).await, (None, None, None), "{name}");
        let counts = worker.counts().await.unwrap();
        assert_eq!((counts.pending, counts.sent, counts.failed), (0, 1, 0), "{name}");

        // Nothing is sent twice.
        assert_eq!(worker.run_once().await.unwrap().claimed, 0);
        assert_eq!(server.log().received.len(), 1);
        let audit = store.audit_verify().await.unwrap();
        assert!(audit.problem.is_none() && audit.entries >= 2, "{name}: audit chain {audit:?}");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn email_goes_over_implicit_tls() {
    let cert = test_cert();
    for db in databases().await {
        let name = db.name();
        let server = smtp_server(SmtpMode::TlsFromTheStart, cert.acceptor.clone()).await;
        let store = db.store().await;
        let clock = ManualClock::new();
        let notifier = Notifier::new(store.clone(), branding(), Arc::new(clock.clone())).unwrap();
        let to = Email::parse("info@klant.example").unwrap();
        let notice = EmailMessage::PortalNotice { name: None, topic: NoticeTopic::Invoice };
        let id = notifier.email(&staff(), &to, EmailConsent::Given, None, Lang::En, &notice).await.unwrap();
        let worker = worker(&store, &clock, &smtp_config(&server, &cert, SmtpSecurity::ImplicitTls));
        assert_eq!(worker.run_once().await.unwrap().sent, 1, "{name}");
        {
            let log = server.log();
            assert_eq!(log.tls_handshakes, 1);
            assert!(log.commands.iter().all(|c| c.starts_with("tls: ")), "{name}: {:?}", log.commands);
            let m = &log.received[0];
            assert!(m.tls);
            assert_eq!(m.rcpt_to, ["info@klant.example"]);
            assert_eq!(m.header("Subject").as_deref(), Some("A new invoice is ready for you (Voorbeeld Hosting)"));
            assert!(m.text().starts_with("Dear customer,"));
        }
        assert_eq!(store.outbox().state(id).await.unwrap().unwrap().status, MessageStatus::Sent);
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_server_without_starttls_gets_nothing_unless_development_allows_plaintext() {
    let cert = test_cert();
    for db in databases().await {
        let name = db.name();
        let server = smtp_server(SmtpMode::NoStartTlsOffered, cert.acceptor.clone()).await;
        let store = db.store().await;
        let clock = ManualClock::new();
        let notifier = Notifier::new(store.clone(), branding(), Arc::new(clock.clone())).unwrap();
        let to = Email::parse("jan.jansen@voorbeeld.nl").unwrap();
        let id = notifier.email(&staff(), &to, EmailConsent::Given, None, Lang::Nl, &login_mail()).await.unwrap();

        let mut config = smtp_config(&server, &cert, SmtpSecurity::StartTls);
        let report = worker(&store, &clock, &config).run_once().await.unwrap();
        assert_eq!((report.sent, report.retrying), (0, 1), "{name}: {report:?}");
        {
            let log = server.log();
            assert_eq!(log.connections, 1, "{name}");
            assert!(log.received.is_empty(), "{name}: a message went out in plain text");
            assert!(
                log.commands.iter().all(|c| c.starts_with("plain: EHLO") || c.as_str() == "plain: QUIT"),
                "{name}: more than EHLO in plain text: {:?}",
                log.commands
            );
        }
        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!(state.status, MessageStatus::Pending, "{name}");
        assert_eq!(state.attempts, 1);
        assert!(!state.content_wiped, "{name}: a message still to send keeps its content");
        let error = state.last_error.unwrap();
        assert!(error.to_ascii_lowercase().contains("starttls"), "{name}: {error}");
        assert_eq!(state.next_attempt_at, clock_now(&clock) + 30_000_000, "{name}: first retry after 30 s");

        // Plain-text SMTP is refused outright without the development setting.
        let mut plain = config.clone();
        plain.security = SmtpSecurity::Plaintext;
        assert!(Mailer::new(&plain).is_err());

        // On a development machine the same server gets the message, without TLS.
        config.allow_plaintext_for_development = true;
        clock.advance(Duration::from_secs(30));
        let report = worker(&store, &clock, &config).run_once().await.unwrap();
        assert_eq!(report.sent, 1, "{name}: {report:?}");
        {
            let log = server.log();
            assert_eq!(log.received.len(), 1);
            assert!(!log.received[0].tls);
            assert_eq!(log.tls_handshakes, 0);
        }
        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!((state.status, state.attempts), (MessageStatus::Sent, 2), "{name}");
        store.close().await;
        db.finish().await;
    }
}

fn clock_now(clock: &ManualClock) -> i64 {
    use custodian_notify::Clock;
    clock.now_micros()
}

#[tokio::test]
async fn an_untrusted_certificate_stops_the_send() {
    let cert = test_cert();
    for db in databases().await {
        let name = db.name();
        let server = smtp_server(SmtpMode::OffersStartTls, cert.acceptor.clone()).await;
        let store = db.store().await;
        let clock = ManualClock::new();
        let notifier = Notifier::new(store.clone(), branding(), Arc::new(clock.clone())).unwrap();
        let to = Email::parse("jan.jansen@voorbeeld.nl").unwrap();
        let id = notifier.email(&staff(), &to, EmailConsent::Given, None, Lang::Nl, &login_mail()).await.unwrap();
        let mut config = smtp_config(&server, &cert, SmtpSecurity::StartTls);
        config.extra_ca_file = None;
        let report = worker(&store, &clock, &config).run_once().await.unwrap();
        assert_eq!(report.retrying, 1, "{name}: {report:?}");
        assert!(server.log().received.is_empty(), "{name}");
        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!(state.status, MessageStatus::Pending);
        let error = state.last_error.unwrap();
        assert!(error.to_ascii_lowercase().contains("certificate"), "{name}: {error}");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_refused_recipient_fails_at_once_and_the_error_names_no_address() {
    let cert = test_cert();
    for db in databases().await {
        let name = db.name();
        let server = smtp_server(SmtpMode::OffersStartTls, cert.acceptor.clone()).await;
        let store = db.store().await;
        let clock = ManualClock::new();
        let notifier = Notifier::new(store.clone(), branding(), Arc::new(clock.clone())).unwrap();
        let to = Email::parse("reject.jansen@voorbeeld.nl").unwrap();
        let id = notifier.email(&staff(), &to, EmailConsent::Given, None, Lang::Nl, &login_mail()).await.unwrap();
        let report =
            worker(&store, &clock, &smtp_config(&server, &cert, SmtpSecurity::StartTls)).run_once().await.unwrap();
        assert_eq!(report.failed, 1, "{name}: {report:?}");
        assert!(server.log().received.is_empty());
        let state = store.outbox().state(id).await.unwrap().unwrap();
        assert_eq!((state.status, state.attempts), (MessageStatus::Failed, 1), "{name}");
        assert!(state.content_wiped, "{name}: a given-up message keeps no content");
        let error = state.last_error.unwrap();
        assert!(error.contains("550"), "{name}: {error}");
        assert!(!error.contains("reject.jansen") && !error.contains('@'), "{name}: personal data in {error:?}");
        store.close().await;
        db.finish().await;
    }
}
