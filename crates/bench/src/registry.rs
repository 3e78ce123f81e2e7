//! Target 7: handle creation through the registry outbox against the loopback
//! EPP registry (TLS, RFC 5734 framing), with 1 and 4 sessions.
//!
//! N handles are queued in the store, then the worker drains the queue. The
//! operations/s are N over the drain time. Our own overhead per operation is
//! the drain time not spent waiting for the registry, per operation:
//! `(drain time − time waiting / sessions) / N` (the sessions wait side by side,
//! so a round's waiting counts once), where the waiting is what the
//! registry client measured around each command: TLS, the registry's own work,
//! and the EPP library's XML encoding and decoding (ours, but not separable
//! there, so the overhead shown leaves that part out).
//! The baseline, in the same run: the same contact creates sent straight over
//! one session, without the store or the outbox.

use std::time::{Duration, Instant};

use custodian_domain::model::{ContactData, Fields};
use custodian_registry::{Registries, RegistryConfig, Worker, WorkerSettings};
use custodian_store::registry::Target;
use custodian_store::{Access, AccessPurpose, Actor, Store};
use custodian_testkit::TestDb;
use custodian_testkit::epp::{EppOptions, EppServer};

use crate::report::{Outcome, Table, per_sec, ratio, verdict};

const MAX_OVERHEAD: Duration = Duration::from_millis(1);

pub struct Settings {
    pub handles: usize,
}

fn holder(n: usize) -> ContactData {
    let f: Fields = [
        ("name", format!("Houder {n}")),
        ("addr_street", format!("Dijk {n}")),
        ("addr_postcode", "1811 AB".into()),
        ("addr_city", "Alkmaar".into()),
        ("addr_country", "NL".into()),
        ("phone", "072-5116617".into()),
        ("email", format!("houder{n}@kievit.nl")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    ContactData::from_fields(&f).expect("valid holder")
}

fn config(server: &EppServer, sessions: usize) -> Registries {
    let o = &server.options;
    let mut c = RegistryConfig::new("localhost", server.port, &o.login, &o.password);
    c.ca_file = Some(server.cert.ca_file.clone());
    c.sessions = sessions;
    c.tlds = vec!["*".into()];
    let mut r = Registries::default();
    r.0.insert("bench".into(), c);
    r
}

pub async fn run(db: &TestDb, settings: &Settings) -> anyhow::Result<(Table, Vec<Outcome>)> {
    let engine = db.name();
    let store = Store::open(&db.url, 8, db.key.clone()).await?;
    let owner = Access::new(Actor::operator(), AccessPurpose::Registry);
    let customer = store.create_customer(&owner, &custodian_testkit::customer(1), false).await?;
    let target = Target { registry: "bench", passthrough: false };
    let n = settings.handles;
    let mut table = Table::measurement(format!("registry outbox: {n} handle creates, {engine}"));
    let mut outcomes = vec![];

    // Baseline: the same creates straight over one session.
    let server = EppServer::start(EppOptions::default()).await;
    let direct = Worker::new(store.clone(), &config(&server, 1), WorkerSettings::default())?;
    let reg = direct.registry("bench").expect("configured");
    let start = Instant::now();
    for i in 0..n {
        let id = format!("DIR{i:06}");
        reg.contact_create(&id, &holder(i), &reg.cltrid("bench")).await?;
    }
    let direct_rate = n as f64 / start.elapsed().as_secs_f64();
    reg.close().await;
    table.row(["direct EPP creates, 1 session".to_string(), per_sec(direct_rate), String::new()]);

    for sessions in [1usize, 4] {
        let server = EppServer::start(EppOptions::default()).await;
        let worker = Worker::new(store.clone(), &config(&server, sessions), WorkerSettings::default())?;
        for i in 0..n {
            store.create_handle(&owner, customer, target, &holder(i)).await?;
        }
        let start = Instant::now();
        let report = worker.drain().await?;
        let took = start.elapsed();
        let reg = worker.registry("bench").expect("configured");
        anyhow::ensure!(report.done as usize == n && report.failed == 0, "drain: {report:?}");
        anyhow::ensure!(server.state().contacts.len() == n, "registry holds {}", server.state().contacts.len());
        let rate = n as f64 / took.as_secs_f64();
        // The sessions wait side by side; what is left of the drain is ours.
        let overhead = took.saturating_sub(reg.waited().div_f64(sessions as f64)) / n as u32;
        let logins = server.state().logins;
        table.row([
            format!("outbox creates, {sessions} session(s)"),
            per_sec(rate),
            per_sec(direct_rate),
            ratio(rate, direct_rate),
            String::new(),
            String::new(),
        ]);
        let pass = overhead < MAX_OVERHEAD;
        table.row([
            format!("own overhead per operation, {sessions} session(s)"),
            format!("{:.3} ms", overhead.as_secs_f64() * 1e3),
            String::new(),
            String::new(),
            "< 1 ms".to_string(),
            verdict(pass),
        ]);
        let reused = logins == sessions as u64;
        table.row([
            format!("logins, {sessions} session(s)"),
            logins.to_string(),
            String::new(),
            String::new(),
            format!("= {sessions} (sessions reused)"),
            verdict(reused),
        ]);
        outcomes.push(Outcome::new(
            &format!("registry overhead ({sessions} sessions)"),
            engine,
            format!("{:.3} ms", overhead.as_secs_f64() * 1e3),
            "< 1 ms",
            pass,
        ));
        outcomes.push(Outcome::new(
            &format!("registry logins ({sessions} sessions)"),
            engine,
            logins.to_string(),
            "= sessions",
            reused,
        ));
        reg.close().await;
    }
    store.close().await;
    Ok((table, outcomes))
}
