//! Target 5: the portal as many distinct customers use it, against `/healthz`
//! (one trivial database read) of the same server, in the same run.
//!
//! The real `custodian serve` runs as a child process on a fresh database, so
//! its peak memory (`VmHWM`, read while it still runs) is the server's alone.
//! The bench makes [`SIGNED_IN`] customers through the store, each with
//! invoices, a service, a statute acceptance and an activated portal account
//! with a session, and sets up the owner (with a second factor) over HTTP.
//! Then it drives keep-alive HTTP/1.1 connections (hyper, in this process):
//!
//! - `GET /style.css` (static) and `GET /healthz`: the baselines.
//! - **The cold dashboard, the headline:** `GET /portal`, connection i going
//!   through customers i, i + N, i + 2N, ... of all of them, so a dashboard
//!   is almost never one the read cache still holds (its hit ratio, from
//!   `/metrics`, is printed). Every answer must be 200 and the whole rendered
//!   dashboard (that customer's last invoice number).
//! - The cached dashboard (context): one customer per connection, over and
//!   over, as the read cache serves it.
//! - The mixed scenario (see `visits`): log in, dashboard, change, access log,
//!   log out, with the owner viewing customers alongside.
//! - The cold dashboard again on a server with `CUSTODIAN_READ_CACHE=false`.
//!
//! Each phase has a warm-up and then a fixed window: answers/s and latencies
//! are of correct answers sent and received inside the window; wrong answers
//! and transport errors count over the whole phase.

pub(crate) mod visits;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use custodian_domain::model::{Delivery, InvoiceLine, ServiceData, parse_date};
use custodian_domain::password::NewPassword;
use custodian_store::{Access, AccessPurpose, Actor, NewInvoice, Store};
use custodian_testkit::TestDb;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};

pub use crate::http::Settings;
use crate::http::{Load, Probe, Server, check_once, load, load_scripts};
use crate::import::custodian_binary;
use crate::report::{Outcome, Table, megabytes, ms, per_sec, ratio, thousands, verdict};
use crate::signin::{ATTEMPTS, PASSWORD, session_token};
use visits::{Mixed, Plan, STEPS, Staff};

/// The cold dashboard against `/healthz`: at least this share of its answers/s.
const MIN_RATIO: f64 = 0.7;
const MAX_P99: Duration = Duration::from_millis(20);
const MAX_PEAK_BYTES: u64 = 150_000_000;
/// The password hashing of `crates/store/src/auth.rs`: OWASP's first choice.
const ARGON2: &str = "argon2id m=19456 KiB (19 MiB), t=2, p=1 (OWASP Password Storage Cheat Sheet)";
/// Customers signed in to the portal.
pub(crate) const SIGNED_IN: usize = 10_000;
const INVOICES: u32 = 3;
/// Tasks that make the customers (argon2id bounds activation).
const MAKERS: usize = 4;

/// A customer with a portal account and a live session.
pub(crate) struct Customer {
    pub id: i64,
    pub login: String,
    /// The session cookie (`name=value`) of the session made for them.
    pub cookie: HeaderValue,
    /// The last invoice number: on the dashboard only once it rendered fully.
    pub marker: String,
    /// The company name: on the owner's view of the customer.
    pub company: String,
}

/// Makes `n` customers through the store, on the server's database with the
/// same master key: each activates their account and starts a session, as a
/// login would.
pub(crate) async fn populate(db: &TestDb, n: usize) -> anyhow::Result<Vec<Customer>> {
    let store = Store::open(&db.url, MAKERS as u32, db.key.clone()).await?;
    let mut makers = tokio::task::JoinSet::new();
    for first in 0..MAKERS {
        let store = store.clone();
        makers.spawn(async move {
            let mut made = Vec::new();
            for i in (first..n).step_by(MAKERS) {
                made.push((i, customer(&store, i as u64 + 1).await?));
            }
            anyhow::Ok(made)
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(done) = makers.join_next().await {
        all.extend(done.context("a customer maker panicked")??);
    }
    store.close().await;
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, c)| c).collect())
}

async fn customer(store: &Store, n: u64) -> anyhow::Result<Customer> {
    let owner = Access::new(Actor::operator(), AccessPurpose::Administration);
    let id = store.create_customer(&owner, &custodian_testkit::customer(n), false).await?;
    let billing = Access::new(Actor::operator(), AccessPurpose::Billing);
    let mut marker = String::new();
    for month in 1..=INVOICES {
        marker = format!("2026-{n:05}-{month:02}");
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
    let password = NewPassword::parse(PASSWORD, &[login.as_str()]).map_err(|e| anyhow::anyhow!("{}", e.rule))?;
    let account = store.activate(&login, &code, &password, None).await?;
    let session = store.start_session(&account, true).await?;
    let company = custodian_testkit::customer_fields(n).get("company_name").cloned().unwrap_or_default();
    Ok(Customer {
        id,
        login: login.to_string(),
        cookie: HeaderValue::from_str(&format!("custodian={}", session.token.as_str()))?,
        marker,
        company,
    })
}

/// The dashboard of `c`, as their browser asks for it.
fn dashboard(c: &Customer) -> Probe {
    let mut p = Probe::get("/portal");
    p.headers.push((header::COOKIE, c.cookie.clone()));
    p.expect = crate::http::Expect::OkWith(Bytes::from(c.marker.clone()));
    p
}

/// Connection i's requests: the dashboards of customers i, i + n, i + 2n, ...
fn cold_scripts(customers: &[Customer], connections: usize) -> Vec<Vec<Probe>> {
    (0..connections).map(|i| customers.iter().skip(i).step_by(connections).map(dashboard).collect()).collect()
}

/// A phase with the read cache's hit ratio over it.
struct Phase {
    load: Load,
    hits: (u64, u64),
}

/// Hits among lookups, as shown.
fn hit_ratio((hits, misses): (u64, u64)) -> String {
    match hits + misses {
        0 => "cache off".into(),
        all => format!("{:.1}% of {}", 100.0 * hits as f64 / all as f64, thousands(all)),
    }
}

async fn phase(server: &Server, scripts: &[Vec<Probe>], s: &Settings) -> anyhow::Result<Phase> {
    let (h0, m0) = server.cache_lookups().await?;
    let load = load_scripts(server.addr, scripts, s).await?;
    let (h1, m1) = server.cache_lookups().await?;
    Ok(Phase { load, hits: (h1 - h0, m1 - m0) })
}

/// The owner, set up over HTTP on a server's first start, with the form
/// token and purpose of the back-office's view of a customer.
pub(crate) async fn staff(server: &Server, first: &Customer) -> anyhow::Result<Staff> {
    let cookie = crate::signin::owner(server).await?;
    let mut form = Probe::get(&format!("/staff/customers/{}", first.id));
    form.headers.push((header::COOKIE, cookie.clone()));
    let page = crate::http::Connection::open(server.addr).await?.send(&form).await?;
    let purpose =
        crate::signin::purpose(&page.body).with_context(|| format!("no purpose form: {}", page.describe()))?;
    let csrf = session_token(server.addr, &cookie, "/staff").await?;
    Ok(Staff { cookie, csrf, purpose })
}

pub async fn run(db: &TestDb, s: &Settings) -> anyhow::Result<(Vec<Table>, Vec<Outcome>)> {
    let engine = db.name();
    let bin = custodian_binary()?;
    let data_dir = tempfile::tempdir()?;
    eprintln!("web ({engine}): making {} customers with portal sessions ...", thousands(SIGNED_IN as u64));
    let made = Instant::now();
    let customers: Arc<[Customer]> = populate(db, SIGNED_IN).await?.into();
    let made = made.elapsed();
    let key = db.key.to_hex().to_string();

    let mut server = Server::start(&bin, &db.url, &key, data_dir.path(), &[ATTEMPTS]).await?;
    let staff = staff(&server, &customers[0]).await?;
    let addr = server.addr;
    let css = Probe::get("/style.css");
    let health = Probe::get("/healthz");
    for p in [&css, &health, &dashboard(&customers[0]), &staff.views(&customers[..1])[0]] {
        check_once(addr, p).await?;
    }
    let cold = cold_scripts(&customers, s.connections);
    let hot: Vec<Vec<Probe>> = customers.iter().take(s.connections).map(|c| vec![dashboard(c)]).collect();
    eprintln!("web ({engine}): GET /style.css ...");
    let css = load(addr, &[css], s).await?;
    eprintln!("web ({engine}): GET /healthz ...");
    let health = load(addr, &[health], s).await?;
    eprintln!("web ({engine}): GET /portal, {} customers ...", thousands(SIGNED_IN as u64));
    let cold_dash = phase(&server, &cold, s).await?;
    eprintln!("web ({engine}): GET /portal, one customer per connection ...");
    let hot_dash = phase(&server, &hot, s).await?;
    // The target's memory: the dashboards'. Logins (argon2id, 19 MiB a hash)
    // come after, shown for context.
    let peak = server.peak_rss()?;
    eprintln!("web ({engine}): mixed ...");
    let (h0, m0) = server.cache_lookups().await?;
    let plan = mixed_plan(s);
    let mixed = visits::run(addr, &customers, &staff, &plan).await?;
    let (h1, m1) = server.cache_lookups().await?;
    let mixed_hits = (h1 - h0, m1 - m0);
    let mixed_peak = server.peak_rss()?;
    drop(server);

    let server = Server::start(&bin, &db.url, &key, data_dir.path(), &[("CUSTODIAN_READ_CACHE", "false")]).await?;
    eprintln!("web ({engine}): GET /portal, {} customers, read cache off ...", thousands(SIGNED_IN as u64));
    let uncached = phase(&server, &cold, s).await?;
    drop(server);

    let tables = report(engine, s, made, [&css, &health], [&cold_dash, &hot_dash, &uncached], &mixed, mixed_hits);
    let failures = css.failures() + health.failures() + cold_dash.load.failures() + hot_dash.load.failures();
    let failures = failures + uncached.load.failures() + mixed.failures();
    let dash = &cold_dash.load;
    let ratio_pass = dash.rate() >= MIN_RATIO * health.rate();
    let p99_pass = dash.stats.p99 < MAX_P99;
    let peak_pass = peak < MAX_PEAK_BYTES;
    let mut m = Table::measurement(format!("[5] web targets, {engine}"));
    m.row([
        "cold dashboard answers/s vs /healthz".to_string(),
        per_sec(dash.rate()),
        per_sec(health.rate()),
        ratio(dash.rate(), health.rate()),
        ">= 0.7x".into(),
        verdict(ratio_pass),
    ]);
    m.row([
        "(context) cold dashboard vs /style.css (static)".to_string(),
        per_sec(dash.rate()),
        per_sec(css.rate()),
        ratio(dash.rate(), css.rate()),
    ]);
    m.judged("cold dashboard p99", ms(dash.stats.p99), "< 20 ms", p99_pass);
    m.judged("wrong answers + errors (all phases)", thousands(failures), "0", failures == 0);
    m.judged("server peak RSS (VmHWM) after the dashboards", megabytes(peak), "< 150 MB", peak_pass);
    m.row(["(context) peak RSS after the mixed scenario's logins too".to_string(), megabytes(mixed_peak)]);
    let outcomes = vec![
        Outcome::new(
            "5 web cold dashboard/healthz answers/s",
            engine,
            ratio(dash.rate(), health.rate()),
            ">= 0.7x",
            ratio_pass,
        ),
        Outcome::new("5 web cold dashboard p99", engine, ms(dash.stats.p99), "< 20 ms", p99_pass),
        Outcome::new("5 web wrong answers + errors", engine, thousands(failures), "0", failures == 0),
        Outcome::new("5 web server peak RSS", engine, megabytes(peak), "< 150 MB", peak_pass),
    ];
    let mut tables = tables;
    tables.push(m);
    Ok((tables, outcomes))
}

/// The mixed scenario of a phase: a quarter of the connections visit, two
/// more are the owner's.
pub(crate) fn mixed_plan(s: &Settings) -> Plan {
    Plan { visitors: (s.connections / 4).max(1), staff_connections: 2, warmup: s.warmup, window: s.window, rate: None }
}

fn report(
    engine: &str,
    s: &Settings,
    made: Duration,
    [css, health]: [&Load; 2],
    [cold, hot, uncached]: [&Phase; 3],
    mixed: &Mixed,
    mixed_hits: (u64, u64),
) -> Vec<Table> {
    let mut t = Table::new(
        format!(
            "[5] web, {engine}: {} keep-alive connections, {} s warm-up, then {} s measured",
            s.connections,
            s.warmup.as_secs(),
            s.window.as_secs()
        ),
        &["request", "answers/s", "p50", "p99", "max", "wrong", "errors", "read cache hits"],
    );
    let mut row = |label: String, l: &Load, hits: String| {
        t.row(std::iter::once(label).chain(l.cells()).chain([hits]));
    };
    let n = thousands(SIGNED_IN as u64);
    row("GET /style.css (static)".into(), css, String::new());
    row("GET /healthz (one database read)".into(), health, String::new());
    row(format!("GET /portal, {n} customers in turn (cold)"), &cold.load, hit_ratio(cold.hits));
    row("GET /portal, one customer per connection (cached)".into(), &hot.load, hit_ratio(hot.hits));
    row(format!("GET /portal, {n} customers, read cache off"), &uncached.load, hit_ratio(uncached.hits));
    for (step, l) in STEPS.iter().zip(&mixed.steps) {
        row(format!("mixed: {step}"), l, String::new());
    }
    row("mixed: POST /staff/customers/ID (owner)".into(), &mixed.staff, hit_ratio(mixed_hits));
    t.note(format!(
        "{n} customers, each with {INVOICES} invoices of 2 lines, 1 service, 1 statute acceptance and a portal session, made through the store in {:.0} s; every dashboard answer must be 200 with that customer's last invoice number",
        made.as_secs_f64()
    ));
    t.note(format!(
        "mixed: {} visitors, each going through its share of the customers (log in, dashboard, change a detail, access log, log out), and {} connections of the owner viewing customers (each view audited); visits completed: {}; logins: {ARGON2}",
        (s.connections / 4).max(1),
        2,
        per_sec(mixed.visits_per_sec())
    ));
    t.note("read cache hits: lookups answered from memory (sessions and dashboards), from /metrics over the phase");
    let problems = [("style.css", css), ("healthz", health), ("cold", &cold.load), ("cached", &hot.load)];
    let more = [("cache off", &uncached.load), ("owner", &mixed.staff)];
    for (label, l) in problems.into_iter().chain(more).chain(STEPS.iter().copied().zip(&mixed.steps)) {
        if let Some(p) = &l.problem {
            t.note(format!("first problem on {label}: {p}"));
        }
    }
    vec![t]
}
