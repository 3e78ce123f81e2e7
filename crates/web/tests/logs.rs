//! After a full scenario with distinctive personal values, no log line holds any
//! of them, in either log format (text and JSON lines). Everything is logged at
//! TRACE level, including the libraries'.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::Server;
use custodian_domain::inventory::Role;
use custodian_testkit::databases;
use reqwest::StatusCode;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const VALUES: &[(&str, &str)] = &[
    ("company_name", "Zebravink Webdiensten"),
    ("contact_name", "Ottoline Kwakernaak"),
    ("visit_street", "Pelikaanpad 77"),
    ("visit_postcode", "8011 ZX"),
    ("visit_city", "Kolibrieveen"),
    ("email", "ottoline.kwakernaak@zebravink.nl"),
    ("phone", "+31 6 87654321"),
    ("iban", "NL91ABNA0417164300"),
    ("iban_holder", "O. Kwakernaak"),
    ("kvk", "76543210"),
];

#[tokio::test]
async fn no_log_line_holds_personal_data() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let (captured, json) = (Captured::default(), Captured::default());
    let (text_writer, json_writer) = (captured.clone(), json.clone());
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("trace"))
        .with(tracing_subscriber::fmt::layer().with_writer(move || text_writer.clone()).with_ansi(false))
        .with(tracing_subscriber::fmt::layer().json().with_writer(move || json_writer.clone()))
        .init();

    for db in databases().await {
        let server = Server::start(&db).await;
        let owner = server.owner().await;
        let staff = server.staff(Role::Staff, "balie@hoster.nl").await;

        // The owner enters it (with bank details, which staff may not); staff look it up.
        let form = owner.get("/staff/customers/new").await;
        let mut fields: Vec<(&str, &str)> = vec![("kind", "business"), ("on_behalf", "yes")];
        fields.extend(VALUES.iter().copied());
        let created = owner.post_form("/staff/customers/new", &form, &fields).await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let path = created.location().split('?').next().unwrap().to_string();
        let purpose = staff.get(&path).await;
        let view = staff.post_form(&path, &purpose, &[("purpose", "support")]).await;
        assert!(view.body.contains("Zebravink Webdiensten"));
        // A refused edit must not echo the value into the logs either.
        let bad = staff.post_form(&format!("{path}/edit"), &view, &[("email", "ottoline@@zebravink")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        // Without SMS only the owner is shown the code to read out (staff never are).
        let owner_purpose = owner.get(&path).await;
        let owner_view = owner.post_form(&path, &owner_purpose, &[("purpose", "administration")]).await;
        let invite = owner.post_form(&format!("{path}/invite"), &owner_view, &[]).await;
        assert_eq!(invite.status, StatusCode::OK);
        let shown = invite.body.split("class=\"code\">").nth(1).and_then(|s| s.split('<').next()).unwrap();
        let code = &shown.replace(' ', "");

        let customer = server.client();
        let page = customer.get("/activate").await;
        let activated = customer
            .post_form(
                "/activate",
                &page,
                &[("login", "ottoline.kwakernaak@zebravink.nl"), ("code", code), ("password", common::PASSWORD)],
            )
            .await;
        assert_eq!(activated.location(), "/portal", "{}", activated.body);
        let edit = customer.get("/portal/edit").await;
        customer.post_form("/portal/edit", &edit, &[("phone", "0687")]).await;
        customer.post_form("/portal/edit", &edit, &[("visit_city", "Kolibrieveen-Noord")]).await;
        assert!(customer.get("/portal/export.json").await.body.contains("Kolibrieveen-Noord"));
        let failed_login = server.client();
        let login = failed_login.get("/login").await;
        failed_login
            .post_form(
                "/login",
                &login,
                &[("login", "ottoline.kwakernaak@zebravink.nl"), ("password", "Zebravink-geheim-99")],
            )
            .await;
        assert_eq!(owner.get("/staff/audit").await.status, StatusCode::OK);
        server.stop().await;
        db.finish().await;
    }

    let text = String::from_utf8_lossy(&captured.0.lock().unwrap()).to_lowercase();
    let json = String::from_utf8_lossy(&json.0.lock().unwrap()).to_lowercase();
    assert!(text.lines().count() > 20, "the scenario logged almost nothing; is logging on?");
    // Text lines may wrap (a logged statement); JSON is one object per event.
    assert!(json.lines().count() > 20, "the JSON layer logged almost nothing");
    for line in json.lines() {
        assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "not one JSON object: {line}");
    }
    let logs = format!("{text}\n{json}");
    let mut distinctive: Vec<&str> = VALUES.iter().map(|(_, v)| *v).collect();
    distinctive.extend([
        "zebravink",
        "kwakernaak",
        "pelikaan",
        "kolibrie",
        "87654321",
        "76543210",
        "ottoline",
        "zebravink-geheim",
    ]);
    for v in distinctive {
        assert!(!logs.contains(&v.to_lowercase()), "a log line holds {v:?}");
    }
}
