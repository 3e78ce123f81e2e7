//! A real server on a random port with a fresh database (optionally sending
//! e-mail and SMS to protocol doubles), and a cookie-keeping client that fills
//! in forms the way a browser does.
#![allow(dead_code)]

use std::sync::Arc;

use custodian_domain::inventory::Role;
use custodian_domain::password::NewPassword;
use custodian_domain::validate::Email;
use custodian_notify::{
    Branding, Clock, CmConfig, Mailer, Notifier, SmsConfig, SmsGateway, SmtpConfig, SmtpSecurity, SystemClock, Worker,
    WorkerConfig,
};
use custodian_store::{Access, AccessPurpose, Actor, Store};
use custodian_testkit::TestDb;
use custodian_testkit::doubles::{HttpStandIn, SmtpMode, SmtpServer, TestCert, cm_stand_in, smtp_server, test_cert};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use tokio::sync::oneshot;

pub const PASSWORD: &str = "paarse olifant fietst naar Zwolle";

/// The command line's access: the owner at the server, audited.
pub fn operator() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

pub struct Server {
    pub url: String,
    pub store: Store,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// The outbox worker of a server started with [`Server::start_messaging`].
    worker: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

/// Where a server started with [`Server::start_messaging`] sends its messages:
/// an SMTP server that requires TLS and a stand-in of CM.com's SMS API, both on
/// loopback (from `custodian_testkit::doubles`).
pub struct Outside {
    pub smtp: SmtpServer,
    pub sms: HttpStandIn,
    /// Holds the CA file the mailer trusts.
    _cert: TestCert,
}

pub const COMPANY: &str = "Voorbeeld Hosting";

/// What `pdftotext` (Debian's poppler-utils) reads in a PDF, laid out.
pub fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("invoice.pdf");
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (Debian's poppler-utils) is installed");
    assert!(out.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The company's details on its invoices.
pub fn invoicing() -> custodian_web::documents::Invoicing {
    custodian_web::documents::Invoicing {
        street: "Kanaalweg 12".into(),
        postcode: "1811 AB".into(),
        city: "Alkmaar".into(),
        country: "NL".into(),
        kvk: "12345678".into(),
        vat_id: "NL123456789B01".into(),
        iban: "NL91ABNA0417164300".into(),
        bic: None,
    }
}
const CM_TOKEN: &str = "00000000-1111-2222-3333-444444444444";

impl Server {
    /// A server whose attempt limiter stays out of the way of the scenario.
    pub async fn start(db: &TestDb) -> Server {
        Self::start_with(db, custodian_web::WebConfig { attempts_per_minute: 10_000, ..Default::default() }).await
    }

    pub async fn start_with(db: &TestDb, config: custodian_web::WebConfig) -> Server {
        Self::start_on(db.store().await, config)
    }

    /// A server on a store opened by the test (through a relay, say).
    pub fn start_on(store: Store, config: custodian_web::WebConfig) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        Self::launch(store, listener, config)
    }

    fn launch(store: Store, listener: std::net::TcpListener, mut config: custodian_web::WebConfig) -> Server {
        let url = format!("http://{}", listener.local_addr().unwrap());
        config.public_url = url.clone();
        // The tests' handle shares the server's read cache, so that after a
        // change through it `settle_read_cache` can wait for the server to see it.
        let store = if config.read_cache { store.with_read_cache() } else { store };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(custodian_web::serve(listener, None, store.clone(), config, async {
            let _ = stopped.await;
        }));
        Server { url, store, stop: Some(stop), task: Some(task), worker: None }
    }

    /// A server with e-mail (over `smtp`, which must be a TLS mode) and SMS,
    /// wired as `custodian serve` wires them: the pages queue messages through a
    /// notifier, and an outbox worker sends them to the returned doubles.
    pub async fn start_messaging(db: &TestDb, smtp: SmtpMode) -> (Server, Outside) {
        let cert = test_cert();
        let smtp_server = smtp_server(smtp, cert.acceptor.clone()).await;
        let sms = cm_stand_in(CM_TOKEN).await;
        let store = db.store().await;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());

        let mut mail = SmtpConfig::new("localhost", format!("{COMPANY} <noreply@voorbeeld.nl>"));
        mail.port = Some(smtp_server.port());
        mail.security = match smtp {
            SmtpMode::TlsFromTheStart => SmtpSecurity::ImplicitTls,
            _ => SmtpSecurity::StartTls,
        };
        mail.extra_ca_file = Some(cert.ca_file.clone());
        mail.timeout_secs = 10;
        let gateway = SmsGateway::new(&SmsConfig::Cm(CmConfig {
            base_url: sms.base_url.clone(),
            product_token: CM_TOKEN.into(),
            sender: "Voorbeeld".into(),
            timeout_secs: 10,
            extra_ca_file: None,
        }))
        .unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let branding = Branding { company: COMPANY.into(), portal_url: url.clone() };
        let notifier = Notifier::new(store.clone(), branding, clock.clone()).unwrap();
        // Polls every second (the shortest allowed), so a queued message goes out
        // while the test waits for it.
        let outbox = WorkerConfig { poll_interval_secs: 1, ..WorkerConfig::default() };
        let worker =
            Worker::new(store.clone(), outbox, clock, Some(Mailer::new(&mail).unwrap()), Some(gateway)).unwrap();
        let (stop_worker, worker_stopped) = oneshot::channel::<()>();
        let worker = tokio::spawn(async move {
            worker
                .run(async {
                    let _ = worker_stopped.await;
                })
                .await
        });

        let config = custodian_web::WebConfig {
            attempts_per_minute: 10_000,
            company: COMPANY.into(),
            invoicing: invoicing(),
            notifier: Some(notifier),
            sms: true,
            email: true,
            ..Default::default()
        };
        let mut server = Self::launch(store, listener, config);
        server.worker = Some((stop_worker, worker));
        (server, Outside { smtp: smtp_server, sms, _cert: cert })
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        if let Some((stop, worker)) = self.worker.take() {
            let _ = stop.send(());
            let _ = worker.await;
        }
        self.store.close().await;
    }

    /// Creates the owner account through the setup page and logs in with the
    /// second factor enrolled.
    pub async fn owner(&self) -> Client {
        let code = self.store.issue_setup_code().await.unwrap();
        let c = self.client();
        let page = c.get(&format!("/setup?code={}", code.as_str())).await;
        assert_eq!(page.status, StatusCode::OK);
        let r = c
            .post_form(
                "/setup",
                &page,
                &[
                    ("code", code.as_str()),
                    ("login", "eigenaar@hoster.nl"),
                    ("name", "Eigenaar"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.location(), "/second-factor/enrol", "{}", r.body);
        c.enrol().await;
        c
    }

    /// A staff account of `role`, activated and logged in with its second factor.
    pub async fn staff(&self, role: Role, login: &str) -> Client {
        self.staff_named(role, login, "Medewerker").await
    }

    /// As [`Server::staff`], for a person called `name`.
    pub async fn staff_named(&self, role: Role, login: &str, name: &str) -> Client {
        let owner = Access::new(Actor::staff("1", Role::Owner), AccessPurpose::Administration);
        let email = Email::parse(login).unwrap();
        let (_, code) = self.store.create_staff_account(&owner, role, &email, name).await.unwrap();
        let c = self.client();
        let page = c.get("/activate").await;
        let r =
            c.post_form("/activate", &page, &[("login", login), ("code", code.as_str()), ("password", PASSWORD)]).await;
        assert_eq!(r.location(), "/second-factor/enrol", "{}", r.body);
        c.enrol().await;
        c
    }

    /// A customer with a portal account, logged in.
    pub async fn customer(&self, n: u64) -> (i64, Client) {
        self.customer_with(&custodian_testkit::customer(n)).await
    }

    /// A customer made of `data`, signed in to the portal.
    pub async fn customer_with(&self, data: &custodian_domain::model::CustomerData) -> (i64, Client) {
        let owner = Access::new(Actor::operator(), AccessPurpose::Administration);
        let id = self.store.create_customer(&owner, data, false).await.unwrap();
        let (_, email, code) = self.store.invite_customer(&owner, id).await.unwrap();
        let c = self.client();
        let page = c.get("/activate").await;
        let r = c
            .post_form(
                "/activate",
                &page,
                &[("login", email.as_str()), ("code", code.as_str()), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.location(), "/portal", "{}", r.body);
        (id, c)
    }

    /// Sets a password directly (for accounts made by the store in tests).
    pub async fn password(login: &str) -> (Email, NewPassword) {
        (Email::parse(login).unwrap(), NewPassword::parse(PASSWORD, &[]).unwrap())
    }
}

/// A response, read fully.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    pub fn sets_cookie(&self) -> bool {
        self.headers.contains_key(SET_COOKIE)
    }

    /// The value of the hidden `csrf` field on the page.
    pub fn csrf(&self) -> String {
        hidden(&self.body, "csrf").unwrap_or_default()
    }

    /// Whether access control turned the request away.
    pub fn denied(&self) -> bool {
        self.status == StatusCode::FORBIDDEN || (self.status == StatusCode::SEE_OTHER && self.location() == "/login")
    }

    /// Whether the API turned the request away (no valid token, or not allowed).
    pub fn api_denied(&self) -> bool {
        self.status == StatusCode::UNAUTHORIZED || self.status == StatusCode::FORBIDDEN
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].replace("&#x2f;", "/").replace("&#x3d;", "="))
}

pub struct Client {
    base: String,
    http: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        Client { base: base.to_string(), http, jar }
    }

    async fn read(r: reqwest::Response) -> Page {
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap_or_default();
        Page { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::read(self.http.get(format!("{}{path}", self.base)).send().await.unwrap()).await
    }

    /// Posts a form with the anti-forgery token taken from `from`, as a browser
    /// on our own page would (same-origin fetch metadata).
    pub async fn post_form(&self, path: &str, from: &Page, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(String, String)> = vec![("csrf".into(), from.csrf())];
        form.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.post_raw(path, &form, Some("same-origin")).await
    }

    pub async fn post_raw(&self, path: &str, form: &[(String, String)], fetch_site: Option<&str>) -> Page {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(site) = fetch_site {
            req = req.header("sec-fetch-site", site);
        }
        Self::read(req.send().await.unwrap()).await
    }

    /// Posts a file form (`multipart/form-data`) as a browser would: the
    /// anti-forgery token from `from`, the `fields`, and `file` under the
    /// field name `file` with its file name.
    pub async fn post_file(&self, path: &str, from: &Page, fields: &[(&str, &str)], file: (&str, &[u8])) -> Page {
        let boundary = "----custodian-test-7f3a9c";
        let mut body = Vec::new();
        let csrf = from.csrf();
        for (name, value) in [("csrf", csrf.as_str())].into_iter().chain(fields.iter().copied()) {
            body.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                file.0
            )
            .as_bytes(),
        );
        body.extend(file.1);
        body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .header("sec-fetch-site", "same-origin")
            .body(body);
        Self::read(req.send().await.unwrap()).await
    }

    /// The raw bytes of `path`, with the response's content type.
    pub async fn get_bytes(&self, path: &str) -> (StatusCode, String, Vec<u8>) {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = r.status();
        let kind = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        (status, kind, r.bytes().await.unwrap().to_vec())
    }

    /// Enrols the second factor from the enrolment page and confirms it.
    pub async fn enrol(&self) {
        let page = self.get("/second-factor/enrol").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let secret =
            page.body.split("secret=").nth(1).and_then(|s| s.split(['&', '"', '<']).next()).unwrap().to_string();
        let code = totp_code(&secret, 0);
        let r = self.post_form("/second-factor/enrol", &page, &[("code", &code)]).await;
        // Turned on: the answer is the page with the recovery codes.
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }

    /// An API call: `method` on `path` with an optional bearer token and JSON body.
    pub async fn api(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Page {
        self.api_with(method, path, token, body, &[]).await
    }

    pub async fn api_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Page {
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::read(req.send().await.unwrap()).await
    }

    pub fn cookies(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        self.jar.cookies(&self.base.parse().unwrap()).and_then(|v| v.to_str().ok().map(String::from))
    }
}

/// The directory with the outside checkers (axe-core, the Nu Html Checker),
/// installed from npm by `tests/tools/checkers.sh` on first use.
pub fn checkers() -> std::path::PathBuf {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/checkers.sh");
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("checkers");
    let out =
        std::process::Command::new("bash").arg(&script).arg(&cache).output().expect("bash runs the checkers script");
    assert!(
        out.status.success(),
        "the checkers (axe-core, vnu-jar) could not be installed from npm:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The TOTP code for `secret` (base32), `steps_ahead` 30-second steps from now.
pub fn totp_code(secret: &str, steps_ahead: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "t".into());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    totp.generate(now + 30 * steps_ahead)
}
