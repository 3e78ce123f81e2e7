//! Target 5: the authenticated customer dashboard under load, against a route
//! of the same server that does no work, measured in the same run.
//!
//! The real `custodian serve` runs as a child process on a fresh database, so
//! its peak memory (`VmHWM`, read while it still runs) is the server's alone.
//! The bench gives each of 64 customers invoices, a service and a statute
//! acceptance through the store, activates their portal accounts over HTTP as a
//! browser would, and then drives N keep-alive HTTP/1.1 connections (hyper, in
//! this process), each signed in as one of them, at, one after the other:
//!
//! - `GET /style.css`: static, no database: the baseline. It is the stricter
//!   one; `/healthz` (one database read) is shown for context.
//! - `GET /portal` with the session cookie: every answer must be 200 and the
//!   whole rendered dashboard (that customer's last invoice number); anything
//!   else is wrong. It is measured a second time on a server with
//!   `CUSTODIAN_READ_CACHE=false`, for what the read cache is worth.
//!
//! Then, on a second server with `CUSTODIAN_LOGIN_ATTEMPTS_PER_MINUTE` raised
//! so the per-address limit does not answer instead, `POST /login` with the
//! right password: no target, argon2id bounds it.
//!
//! Each phase has a warm-up and then a fixed window: answers/s and latencies
//! are of correct answers sent and received inside the window; wrong answers
//! and transport errors count over the whole phase.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use custodian_domain::model::{Delivery, InvoiceLine, ServiceData, parse_date};
use custodian_store::{Access, AccessPurpose, Actor, NewInvoice, Store};
use custodian_testkit::TestDb;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};

use crate::import::{clean_command, custodian_binary, peak_rss};
use crate::report::{Outcome, Stats, Table, megabytes, ms, per_sec, ratio, thousands, verdict};

const MIN_RATIO: f64 = 0.25;
const MAX_P99: Duration = Duration::from_millis(20);
const MAX_PEAK_BYTES: u64 = 150_000_000;
/// The password hashing of `crates/store/src/auth.rs`: OWASP's first choice.
const ARGON2: &str = "argon2id m=19456 KiB (19 MiB), t=2, p=1 (OWASP Password Storage Cheat Sheet)";
const PASSWORD: &str = "paarse olifant fietst naar Zwolle";
/// Customers signed in to the portal, one per connection (round robin).
const PORTAL_CUSTOMERS: u64 = 64;
/// Customers besides those, so the tables are not trivially small.
const OTHER_CUSTOMERS: u64 = 1000;
/// Activations and logins are guesses to the rate limiter: raised so that it
/// does not answer instead.
const ATTEMPTS: (&str, &str) = ("CUSTODIAN_LOGIN_ATTEMPTS_PER_MINUTE", "1000000");
const INVOICES: u32 = 3;

pub struct Settings {
    pub connections: usize,
    pub warmup: Duration,
    pub window: Duration,
}

type Body = Full<Bytes>;

/// What one phase sends, and what counts as a correct answer.
#[derive(Clone)]
struct Probe {
    method: Method,
    path: &'static str,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    expect: Expect,
}

#[derive(Clone)]
enum Expect {
    Ok,
    /// 200 and a body holding these bytes.
    OkWith(Bytes),
    /// 303 to this location.
    SeeOther(&'static str),
}

impl Probe {
    fn get(path: &'static str) -> Probe {
        Probe { method: Method::GET, path, headers: vec![], body: Bytes::new(), expect: Expect::Ok }
    }

    /// A form posted from one of our own pages, as a browser sends it.
    fn post_form(path: &'static str, fields: &[(&str, &str)], expect: Expect) -> Probe {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        Probe {
            method: Method::POST,
            path,
            headers: vec![
                (header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded")),
                (HeaderName::from_static("sec-fetch-site"), HeaderValue::from_static("same-origin")),
            ],
            body: Bytes::from(body),
            expect,
        }
    }

    fn request(&self, host: &HeaderValue) -> Request<Body> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = hyper::Uri::from_static(self.path);
        let h = req.headers_mut();
        h.insert(header::HOST, host.clone());
        for (name, value) in &self.headers {
            h.insert(name.clone(), value.clone());
        }
        req
    }

    fn accepts(&self, a: &Answer) -> bool {
        match &self.expect {
            Expect::Ok => a.status == StatusCode::OK,
            Expect::OkWith(marker) => a.status == StatusCode::OK && memchr::memmem::find(&a.body, marker).is_some(),
            Expect::SeeOther(to) => {
                a.status == StatusCode::SEE_OTHER && a.headers.get(header::LOCATION).is_some_and(|l| l == to)
            }
        }
    }
}

struct Answer {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl Answer {
    fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let location = self.headers.get(header::LOCATION).and_then(|l| l.to_str().ok()).unwrap_or("");
        format!("{} {location} {}", self.status, body.chars().take(300).collect::<String>())
    }
}

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    sender: SendRequest<Body>,
    host: HeaderValue,
}

impl Connection {
    async fn open(addr: SocketAddr) -> anyhow::Result<Connection> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection { sender, host: HeaderValue::from_str(&addr.to_string())? })
    }

    async fn send(&mut self, probe: &Probe) -> anyhow::Result<Answer> {
        self.sender.ready().await?;
        let (parts, body) = self.sender.send_request(probe.request(&self.host)).await?.into_parts();
        Ok(Answer { status: parts.status, headers: parts.headers, body: body.collect().await?.to_bytes() })
    }
}

/// What one phase measured.
struct Load {
    stats: Stats,
    window: Duration,
    wrong: u64,
    errors: u64,
    /// The first wrong answer or error, to say what went wrong.
    problem: Option<String>,
}

impl Load {
    fn rate(&self) -> f64 {
        self.stats.count as f64 / self.window.as_secs_f64()
    }

    fn failures(&self) -> u64 {
        self.wrong + self.errors
    }
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    wrong: u64,
    errors: u64,
    problem: Option<String>,
}

impl Tally {
    fn note(&mut self, problem: impl FnOnce() -> String) {
        if self.problem.is_none() {
            self.problem = Some(problem());
        }
    }
}

/// One client: sends `probe` back to back on one connection (a new one after a
/// transport error) until the window closes.
async fn client(addr: SocketAddr, probe: Arc<Probe>, from: Instant, until: Instant) -> Tally {
    let mut t = Tally::default();
    let mut conn: Option<Connection> = None;
    while Instant::now() < until {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match Connection::open(addr).await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    t.errors += 1;
                    t.note(|| format!("connect: {e:#}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let sent = Instant::now();
        match c.send(&probe).await {
            Ok(answer) => {
                let received = Instant::now();
                if !probe.accepts(&answer) {
                    t.wrong += 1;
                    t.note(|| answer.describe());
                } else if sent >= from && received <= until {
                    t.latencies.push(received - sent);
                }
            }
            Err(e) => {
                t.errors += 1;
                t.note(|| format!("request: {e:#}"));
                conn = None;
            }
        }
    }
    t
}

/// Drives `s.connections` clients; client i sends `probes[i % probes.len()]`.
async fn load(addr: SocketAddr, probes: &[Probe], s: &Settings) -> anyhow::Result<Load> {
    let probes: Vec<_> = probes.iter().cloned().map(Arc::new).collect();
    let from = Instant::now() + s.warmup;
    let until = from + s.window;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..s.connections {
        set.spawn(client(addr, probes[i % probes.len()].clone(), from, until));
    }
    let mut all = Tally::default();
    while let Some(done) = set.join_next().await {
        let t = done.context("a load client panicked")?;
        all.latencies.extend(t.latencies);
        all.wrong += t.wrong;
        all.errors += t.errors;
        if let Some(p) = t.problem {
            all.note(|| p);
        }
    }
    Ok(Load {
        stats: Stats::of(&mut all.latencies),
        window: s.window,
        wrong: all.wrong,
        errors: all.errors,
        problem: all.problem,
    })
}

/// The `custodian serve` child process; killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    async fn start(bin: &Path, db: &TestDb, data_dir: &Path, env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let mut cmd = clean_command(bin);
        cmd.arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("CUSTODIAN_DATABASE_URL", &db.url)
            .env("CUSTODIAN_MASTER_KEY", db.key.to_hex().as_str());
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let stderr_pipe = child.stderr.take().context("server stderr")?;
        // Both pipes are drained for the server's whole life, so it never blocks
        // on a full pipe; stderr is kept to explain a failure.
        let stderr = Arc::new(Mutex::new(String::new()));
        let kept = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                let mut s = kept.lock().unwrap_or_else(|e| e.into_inner());
                s.push_str(&line);
                s.push('\n');
            }
        });
        let (bound, listening) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut bound = Some(bound);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("custodian listening on ")
                    && let Some(tx) = bound.take()
                {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_string());
                }
            }
        });
        let mut server = Server { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), stderr };
        match tokio::time::timeout(Duration::from_secs(60), listening).await {
            Ok(Ok(addr)) => server.addr = addr.parse().with_context(|| format!("server address {addr:?}"))?,
            _ => bail!("the server did not start:\n{}", server.stderr()),
        }
        Ok(server)
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn peak_rss(&mut self) -> anyhow::Result<u64> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the server exited with {status}:\n{}", self.stderr());
        }
        peak_rss(self.child.id()).context("reading the server's VmHWM")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The customer who logs in, with what the dashboard shows.
struct Customer {
    login: String,
    code: String,
    /// The last invoice number: present only once the dashboard rendered fully.
    marker: String,
}

/// Creates the customers through the store, on the server's database with the
/// same master key, and invites the portal customers.
async fn prepare(db: &TestDb) -> anyhow::Result<Vec<Customer>> {
    let store = Store::open(&db.url, 2, db.key.clone()).await?;
    let owner = Access::new(Actor::operator(), AccessPurpose::Administration);
    let others: Vec<_> =
        (PORTAL_CUSTOMERS + 1..=PORTAL_CUSTOMERS + OTHER_CUSTOMERS).map(custodian_testkit::customer).collect();
    store.create_customers(&owner, &others).await?;
    let mut customers = Vec::new();
    for n in 1..=PORTAL_CUSTOMERS {
        customers.push(portal_customer(&store, n).await?);
    }
    store.close().await;
    Ok(customers)
}

async fn portal_customer(store: &Store, n: u64) -> anyhow::Result<Customer> {
    let owner = Access::new(Actor::operator(), AccessPurpose::Administration);
    let id = store.create_customer(&owner, &custodian_testkit::customer(n), false).await?;
    let billing = Access::new(Actor::operator(), AccessPurpose::Billing);
    let mut marker = String::new();
    for month in 1..=INVOICES {
        marker = format!("2026-{n:03}-{month:02}");
        let new = NewInvoice {
            number: marker.clone(),
            issued_on: parse_date(&format!("2026-{month:02}-01"))?,
            due_on: parse_date(&format!("2026-{month:02}-28"))?,
            delivery: Delivery::Post,
            lines: vec![
                InvoiceLine::parse("Webhosting Zilvermeeuw;1;595;21")?,
                InvoiceLine::parse("Domeinnaam zilvermeeuw.nl;1;1000;21")?,
            ],
        };
        store.add_invoice(&billing, id, new).await?;
    }
    let service: custodian_domain::model::Fields =
        [("kind", "hosting"), ("description", "Pakket M"), ("started_on", "2025-01-01")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    store.add_service(&owner, id, &ServiceData::from_fields(&service)?).await?;
    store.record_statute_acceptance(&owner, id, "2026-01", 1_767_225_600_000_000).await?;
    let (_, login, code) = store.invite_customer(&owner, id).await?;
    Ok(Customer { login: login.to_string(), code: code.to_string(), marker })
}

/// The value of the hidden form field `name` on a page.
fn hidden(body: &[u8], name: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].replace("&#x2f;", "/").replace("&#x3d;", "="))
}

/// The anti-forgery token of the public form at `path`.
async fn form_token(conn: &mut Connection, path: &'static str) -> anyhow::Result<String> {
    let page = conn.send(&Probe::get(path)).await?;
    hidden(&page.body, "csrf").with_context(|| format!("no csrf field on {path}: {}", page.describe()))
}

/// Activates the account as a browser would; returns the session cookie.
async fn activate(addr: SocketAddr, customer: &Customer) -> anyhow::Result<HeaderValue> {
    let mut conn = Connection::open(addr).await?;
    let csrf = form_token(&mut conn, "/activate").await?;
    let fields = [
        ("csrf", csrf.as_str()),
        ("login", customer.login.as_str()),
        ("code", customer.code.as_str()),
        ("password", PASSWORD),
    ];
    let probe = Probe::post_form("/activate", &fields, Expect::SeeOther("/portal"));
    let answer = conn.send(&probe).await?;
    if !probe.accepts(&answer) {
        bail!("activation failed: {}", answer.describe());
    }
    let cookie = answer.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).context("no session cookie")?;
    Ok(HeaderValue::from_str(cookie.split(';').next().unwrap_or_default())?)
}

/// Sends `probe` once and insists on a correct answer, so a broken setup stops
/// the bench instead of showing up as a table full of errors.
async fn check_once(addr: SocketAddr, probe: &Probe) -> anyhow::Result<()> {
    let answer = Connection::open(addr).await?.send(probe).await?;
    if !probe.accepts(&answer) {
        bail!("{} {} is not answered as expected: {}", probe.method, probe.path, answer.describe());
    }
    Ok(())
}

pub async fn run(db: &TestDb, s: &Settings) -> anyhow::Result<(Vec<Table>, Vec<Outcome>)> {
    let engine = db.name();
    let bin = custodian_binary()?;
    let data_dir = tempfile::tempdir()?;
    eprintln!("web ({engine}): preparing {} customers ...", thousands(PORTAL_CUSTOMERS + OTHER_CUSTOMERS));
    let customers = prepare(db).await?;

    let mut server = Server::start(&bin, db, data_dir.path(), &[ATTEMPTS]).await?;
    let addr = server.addr;
    let mut dashboards = Vec::new();
    for customer in &customers {
        let mut dashboard = Probe::get("/portal");
        dashboard.headers.push((header::COOKIE, activate(addr, customer).await?));
        dashboard.expect = Expect::OkWith(Bytes::from(customer.marker.clone()));
        dashboards.push(dashboard);
    }
    let css = Probe::get("/style.css");
    let health = Probe::get("/healthz");
    for p in [&css, &health].into_iter().chain(&dashboards) {
        check_once(addr, p).await?;
    }
    eprintln!("web ({engine}): GET /style.css ...");
    let css = load(addr, &[css], s).await?;
    eprintln!("web ({engine}): GET /healthz ...");
    let health = load(addr, &[health], s).await?;
    eprintln!("web ({engine}): GET /portal ...");
    let dash = load(addr, &dashboards, s).await?;
    let peak = server.peak_rss()?;
    drop(server);

    // What the read cache is worth: the same sessions on a server without it.
    let server = Server::start(&bin, db, data_dir.path(), &[("CUSTODIAN_READ_CACHE", "false")]).await?;
    eprintln!("web ({engine}): GET /portal, read cache off ...");
    let uncached = load(server.addr, &dashboards, s).await?;
    drop(server);

    // Logins on a fresh server: its memory is that of logging in alone.
    let mut server = Server::start(&bin, db, data_dir.path(), &[ATTEMPTS]).await?;
    let addr = server.addr;
    let csrf = form_token(&mut Connection::open(addr).await?, "/login").await?;
    let fields = [("csrf", csrf.as_str()), ("login", customers[0].login.as_str()), ("password", PASSWORD)];
    let login = Probe::post_form("/login", &fields, Expect::SeeOther("/portal"));
    check_once(addr, &login).await?;
    eprintln!("web ({engine}): POST /login ...");
    let logins = load(addr, &[login], s).await?;
    let login_peak = server.peak_rss()?;
    drop(server);

    let mut t = Table::new(
        format!(
            "[5] web, {engine}: {} keep-alive connections, {} s warm-up, then {} s measured",
            s.connections,
            s.warmup.as_secs(),
            s.window.as_secs()
        ),
        &["request", "answers/s", "p50", "p99", "max", "wrong", "errors"],
    );
    for (label, l) in [
        ("GET /style.css (baseline: static)", &css),
        ("GET /healthz (one database read)", &health),
        ("GET /portal (customer dashboard)", &dash),
        ("GET /portal, read cache off (context)", &uncached),
        ("POST /login (right password)", &logins),
    ] {
        t.row([
            label.to_string(),
            per_sec(l.rate()),
            ms(l.stats.p50),
            ms(l.stats.p99),
            ms(l.stats.max),
            thousands(l.wrong),
            thousands(l.errors),
        ]);
    }
    t.note(format!(
        "{PORTAL_CUSTOMERS} customers signed in, one per connection: each {INVOICES} invoices of 2 lines, 1 service, 1 statute acceptance, among {} customers; every dashboard answer must be 200 with that customer's last invoice number",
        thousands(PORTAL_CUSTOMERS + OTHER_CUSTOMERS)
    ));
    t.note(format!(
        "logins: {ARGON2}; on a second server with login_attempts_per_minute = 1000000, peak RSS {}",
        megabytes(login_peak)
    ));
    for (label, l) in [
        ("style.css", &css),
        ("healthz", &health),
        ("portal", &dash),
        ("portal, cache off", &uncached),
        ("login", &logins),
    ] {
        if let Some(p) = &l.problem {
            t.note(format!("first problem on {label}: {p}"));
        }
    }

    let ratio_pass = dash.rate() >= MIN_RATIO * css.rate();
    let p99_pass = dash.stats.p99 < MAX_P99;
    let failures = css.failures() + health.failures() + dash.failures() + uncached.failures();
    let peak_pass = peak < MAX_PEAK_BYTES;
    let mut m = Table::measurement(format!("[5] web targets, {engine}"));
    m.row([
        "dashboard answers/s vs /style.css".to_string(),
        per_sec(dash.rate()),
        per_sec(css.rate()),
        ratio(dash.rate(), css.rate()),
        ">= 0.25x".into(),
        verdict(ratio_pass),
    ]);
    m.row([
        "(context) dashboard vs /healthz, one database read".to_string(),
        per_sec(dash.rate()),
        per_sec(health.rate()),
        ratio(dash.rate(), health.rate()),
    ]);
    m.row([
        format!("(context) dashboard with the read cache off (p99 {}) vs /style.css", ms(uncached.stats.p99)),
        per_sec(uncached.rate()),
        per_sec(css.rate()),
        ratio(uncached.rate(), css.rate()),
    ]);
    m.row([
        "dashboard p99".to_string(),
        ms(dash.stats.p99),
        String::new(),
        String::new(),
        "< 20 ms".into(),
        verdict(p99_pass),
    ]);
    m.row([
        "wrong answers + errors (all phases but logins)".to_string(),
        thousands(failures),
        String::new(),
        String::new(),
        "0".into(),
        verdict(failures == 0),
    ]);
    m.row([
        "server peak RSS (VmHWM) after the load".to_string(),
        megabytes(peak),
        String::new(),
        String::new(),
        "< 150 MB".into(),
        verdict(peak_pass),
    ]);
    m.row(["logins (no target)".to_string(), format!("{}, p99 {}", per_sec(logins.rate()), ms(logins.stats.p99))]);
    let outcomes = vec![
        Outcome::new(
            "5 web dashboard/trivial answers/s",
            engine,
            ratio(dash.rate(), css.rate()),
            ">= 0.25x",
            ratio_pass,
        ),
        Outcome::new("5 web dashboard p99", engine, ms(dash.stats.p99), "< 20 ms", p99_pass),
        Outcome::new("5 web wrong answers + errors", engine, thousands(failures), "0", failures == 0),
        Outcome::new("5 web server peak RSS", engine, megabytes(peak), "< 150 MB", peak_pass),
    ];
    Ok((vec![t, m], outcomes))
}
