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

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use custodian_domain::model::{Delivery, InvoiceLine, ServiceData, parse_date};
use custodian_store::{Access, AccessPurpose, Actor, NewInvoice, Store};
use custodian_testkit::TestDb;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};

pub use crate::http::Settings;
use crate::http::{Connection, Expect, Probe, Server, check_once, form_token, load};
use crate::import::custodian_binary;
use crate::report::{Outcome, Table, megabytes, ms, per_sec, ratio, thousands, verdict};

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

pub async fn run(db: &TestDb, s: &Settings) -> anyhow::Result<(Vec<Table>, Vec<Outcome>)> {
    let engine = db.name();
    let bin = custodian_binary()?;
    let data_dir = tempfile::tempdir()?;
    eprintln!("web ({engine}): preparing {} customers ...", thousands(PORTAL_CUSTOMERS + OTHER_CUSTOMERS));
    let customers = prepare(db).await?;
    let key = db.key.to_hex().to_string();

    let mut server = Server::start(&bin, &db.url, &key, data_dir.path(), &[ATTEMPTS]).await?;
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
    let server = Server::start(&bin, &db.url, &key, data_dir.path(), &[("CUSTODIAN_READ_CACHE", "false")]).await?;
    eprintln!("web ({engine}): GET /portal, read cache off ...");
    let uncached = load(server.addr, &dashboards, s).await?;
    drop(server);

    // Logins on a fresh server: its memory is that of logging in alone.
    let mut server = Server::start(&bin, &db.url, &key, data_dir.path(), &[ATTEMPTS]).await?;
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
