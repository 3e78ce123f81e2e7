//! `soak`: the mixed scenario of the web target (see `web::visits`) for a long
//! time at a share of the capacity measured first on the same server, with
//! the server's resident memory sampled throughout.
//!
//! Capacity is what the scenario reaches back to back (visits/s and the
//! owner's views/s); the soak then paces both to `share` of it. Targets: no
//! wrong answers or errors, and resident memory at the end less than 10%
//! above what it was after the first minute (a leak grows steadily; caches
//! and pools fill in the first minute).

use std::sync::Arc;
use std::time::{Duration, Instant};

use custodian_testkit::TestDb;

use crate::http::Server;
use crate::import::{current_rss, custodian_binary};
use crate::report::{Outcome, Table, megabytes, per_sec, thousands, verdict};
use crate::signin::ATTEMPTS;
use crate::web::visits::{self, STEPS};
use crate::web::{Customer, mixed_plan, populate, staff};

const MAX_GROWTH: f64 = 0.10;
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const SETTLED_AFTER: Duration = Duration::from_secs(60);
/// Customers visiting: enough that dashboards are rarely cached.
const CUSTOMERS: usize = 2_000;

pub struct Settings {
    pub load: crate::http::Settings,
    pub duration: Duration,
    /// The share of the measured capacity to run at.
    pub share: f64,
}

pub async fn run(db: &TestDb, s: &Settings) -> anyhow::Result<(Vec<Table>, Vec<Outcome>)> {
    let engine = db.name();
    let bin = custodian_binary()?;
    let data_dir = tempfile::tempdir()?;
    eprintln!("soak ({engine}): making {} customers with portal sessions ...", thousands(CUSTOMERS as u64));
    let customers: Arc<[Customer]> = populate(db, CUSTOMERS).await?.into();
    let key = db.key.to_hex().to_string();
    let mut server = Server::start(&bin, &db.url, &key, data_dir.path(), &[ATTEMPTS]).await?;
    let staff = staff(&server, &customers[0]).await?;

    eprintln!("soak ({engine}): measuring capacity ...");
    let capacity_plan = mixed_plan(&s.load);
    let capacity = visits::run(server.addr, &customers, &staff, &capacity_plan).await?;
    let visit_rate = capacity.visits_per_sec() * s.share;
    let view_rate = capacity.staff.rate() * s.share;

    eprintln!("soak ({engine}): {} visits for {} s ...", per_sec(visit_rate), s.duration.as_secs());
    let plan = visits::Plan {
        rate: Some((visit_rate, view_rate)),
        warmup: Duration::ZERO,
        window: s.duration,
        ..mixed_plan(&s.load)
    };
    let pid = server.child.id();
    let duration = s.duration;
    let sampler = tokio::spawn(async move {
        let started = Instant::now();
        let mut samples = Vec::new();
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        while started.elapsed() <= duration {
            tick.tick().await;
            if let Some(rss) = current_rss(pid) {
                samples.push((started.elapsed(), rss));
            }
        }
        samples
    });
    let soak = visits::run(server.addr, &customers, &staff, &plan).await?;
    let samples = sampler.await?;
    let peak = server.peak_rss()?;
    drop(server);

    let settled = samples.iter().find(|(at, _)| *at >= SETTLED_AFTER).map(|(_, rss)| *rss);
    let last = samples.last().map(|(_, rss)| *rss);
    let most = samples.iter().map(|(_, rss)| *rss).max();
    let (Some(settled), Some(last), Some(most)) = (settled, last, most) else {
        anyhow::bail!("the soak ran too short to judge memory: {} samples", samples.len());
    };
    let growth = last as f64 / settled as f64 - 1.0;
    let failures = soak.failures();

    let mut t = Table::new(
        format!(
            "soak, {engine}: the mixed scenario for {} s at {:.0}% of capacity ({} visits, {} owner views)",
            s.duration.as_secs(),
            s.share * 100.0,
            per_sec(visit_rate),
            per_sec(view_rate)
        ),
        &["request", "answers/s", "p50", "p99", "max", "wrong", "errors"],
    );
    let rows = STEPS.iter().map(|s| format!("mixed: {s}")).zip(&soak.steps);
    for (label, l) in rows.chain([("mixed: POST /staff/customers/ID (owner)".to_string(), &soak.staff)]) {
        t.row(std::iter::once(label).chain(l.cells()));
    }
    t.note(format!(
        "capacity, back to back for {} s: {} visits and {} owner views; {} customers, {} visitors, {} owner connections",
        s.load.window.as_secs(),
        per_sec(capacity.visits_per_sec()),
        per_sec(capacity.staff.rate()),
        thousands(CUSTOMERS as u64),
        plan.visitors,
        plan.staff_connections
    ));
    t.note(format!("visits completed: {} ({})", thousands(soak.visits), per_sec(soak.visits_per_sec())));
    let curve: Vec<String> =
        samples.iter().step_by(6).map(|(at, rss)| format!("{} s {}", at.as_secs(), megabytes(*rss))).collect();
    t.note(format!("resident memory every minute: {}", curve.join(", ")));
    let problems = STEPS.iter().copied().zip(&soak.steps).chain([("owner", &soak.staff)]);
    for (label, l) in problems {
        if let Some(p) = &l.problem {
            t.note(format!("first problem on {label}: {p}"));
        }
    }
    let growth_pass = growth < MAX_GROWTH;
    let mut m = Table::measurement(format!("soak targets, {engine}"));
    m.judged("wrong answers + errors", thousands(failures), "0", failures == 0);
    m.row([
        "resident memory at the end vs after the first minute".to_string(),
        megabytes(last),
        megabytes(settled),
        format!("{:+.1}%", growth * 100.0),
        "< +10%".into(),
        verdict(growth_pass),
    ]);
    m.row([format!("(context) most resident memory sampled; peak (VmHWM) {}", megabytes(peak)), megabytes(most)]);
    // Where the curve flattens later than the first minute, it shows here.
    if let Some((_, later)) = samples.iter().find(|(at, _)| *at >= 2 * SETTLED_AFTER) {
        m.row([
            "(context) at the end vs after two minutes".to_string(),
            megabytes(last),
            megabytes(*later),
            format!("{:+.1}%", (last as f64 / *later as f64 - 1.0) * 100.0),
        ]);
    }
    let outcomes = vec![
        Outcome::new("soak wrong answers + errors", engine, thousands(failures), "0", failures == 0),
        Outcome::new(
            "soak memory growth after 1 min",
            engine,
            format!("{:+.1}%", growth * 100.0),
            "< +10%",
            growth_pass,
        ),
    ];
    Ok((vec![t, m], outcomes))
}
