//! Log lines name outbox IDs, kinds and attempts, never an address, number,
//! name, login name, code or text: checked on everything the worker logs while
//! it sends, retries and gives up, captured at debug level for every crate.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::staff;
use custodian_domain::Lang;
use custodian_domain::validate::{Email, Phone};
use custodian_notify::{
    ActivationCode, Branding, CmConfig, EmailConsent, EmailMessage, LoginName, Mailer, ManualClock, Notifier,
    PersonName, SmsConfig, SmsGateway, SmsMessage, SmtpConfig, SmtpSecurity, Worker, WorkerConfig,
};
use custodian_testkit::doubles::{Answer, SmtpMode, cm_stand_in, smtp_server, test_cert};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_hold_no_personal_data() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let cert = test_cert();
    let smtp = smtp_server(SmtpMode::OffersStartTls, cert.acceptor.clone()).await;
    let cm = cm_stand_in("00000000-1111-2222-3333-444444444444").await;
    cm.script(&[Answer::Status(500), Answer::Accept]);
    let db = custodian_testkit::sqlite();
    let store = db.store().await;
    let clock = ManualClock::new();
    let brand = Branding { company: "Voorbeeld Hosting".into(), portal_url: "https://portaal.voorbeeld.nl/".into() };
    let notifier = Notifier::new(store.clone(), brand, Arc::new(clock.clone())).unwrap();
    let login = EmailMessage::LoginName {
        name: Some(PersonName::parse("Jan Kwartelkoning").unwrap()),
        login: LoginName::parse("jkwartel").unwrap(),
    };
    for to in ["jan.kwartel@klant.example", "reject.kwartel@klant.example"] {
        let to = Email::parse(to).unwrap();
        notifier.email(&staff(), &to, EmailConsent::Given, None, Lang::Nl, &login).await.unwrap();
    }
    let code = SmsMessage::ActivationCode { code: ActivationCode::parse("Q9Z8X7").unwrap() };
    notifier.sms(&staff(), &Phone::parse("06 87654321").unwrap(), None, Lang::Nl, &code).await.unwrap();

    let mut smtp_config = SmtpConfig::new("localhost", "Voorbeeld Hosting <noreply@hosting.example>");
    smtp_config.port = Some(smtp.port());
    smtp_config.security = SmtpSecurity::StartTls;
    smtp_config.extra_ca_file = Some(cert.ca_file.clone());
    let sms = SmsGateway::new(&SmsConfig::Cm(CmConfig {
        base_url: cm.base_url.clone(),
        product_token: "00000000-1111-2222-3333-444444444444".into(),
        sender: "Voorbeeld".into(),
        timeout_secs: 10,
        extra_ca_file: None,
    }))
    .unwrap();
    let worker = Worker::new(
        store.clone(),
        WorkerConfig::default(),
        Arc::new(clock.clone()),
        Some(Mailer::new(&smtp_config).unwrap()),
        Some(sms),
    )
    .unwrap();
    let first = worker.run_once().await.unwrap();
    assert_eq!((first.sent, first.failed, first.retrying), (1, 1, 1), "{first:?}");
    clock.advance(Duration::from_secs(30));
    assert_eq!(worker.run_once().await.unwrap().sent, 1);
    store.close().await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    for expected in
        ["message queued", "message sent", "send failed, will retry", "message failed for good", "outbox_id"]
    {
        assert!(logs.contains(expected), "missing {expected:?} in:\n{logs}");
    }
    if std::env::var("SHOW_LOGS").is_ok() {
        eprintln!("{logs}");
    }
    for secret in ["kwartel", "Kwartel", "klant.example", "87654321", "Q9Z8X7", "jkwartel"] {
        assert!(!logs.contains(secret), "{secret:?} in the logs:\n{logs}");
    }
}
