//! What the access policy costs: the uncached customer dashboard and the
//! owner's view of a customer (the staff view), served by this build and by a
//! previous build given with `--baseline` (one from before the policy), in the
//! same run.
//!
//! The previous build makes the administration (see `seed`); the database is
//! then copied, and this build migrates its copy forward when it starts, so
//! both serve the same customers, sessions and audit trail. In each round each
//! build's server starts with the read cache off and is loaded in turn, the
//! order alternating between rounds so that a drifting machine favours
//! neither. Each phase drives 64 keep-alive connections: one per portal
//! customer for the dashboard, all signed in as the owner for the staff view,
//! connection i viewing customer i. Every answer must be 200 and hold what
//! only a fully rendered page holds.

mod seed;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use custodian_testkit::TestDb;
use hyper::body::Bytes;
use hyper::header;

use crate::http::{self, Connection, Expect, Load, Probe, Server, check_once, hidden, load};
use crate::import::custodian_binary;
use crate::report::{Outcome, Table, ms, per_sec, ratio, thousands, verdict};
use seed::Seeded;

/// The policy may cost at most 2%: this build at least 0.98x the previous one.
const MIN_RATIO: f64 = 0.98;

pub struct Settings {
    pub baseline: PathBuf,
    pub rounds: usize,
    pub load: http::Settings,
}

/// One build under test, on its own copy of the administration.
struct Build<'a> {
    label: &'static str,
    bin: PathBuf,
    db: &'a TestDb,
    data_dir: tempfile::TempDir,
}

/// What one build measured over all rounds, per phase.
#[derive(Default)]
struct Measured {
    dashboard: Vec<Load>,
    staff: Vec<Load>,
}

/// The purpose the owner gives for viewing a customer: administration when
/// the form offers it, else its first choice.
fn purpose(form: &[u8]) -> Option<String> {
    let page = std::str::from_utf8(form).ok()?;
    let values: Vec<&str> =
        page.split("<option value=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
    values.iter().find(|v| **v == "administration").or(values.first()).map(|v| v.to_string())
}

/// The requests of both phases on a running server: the owner's form token
/// and purpose are read from that server's own form.
async fn probes(addr: SocketAddr, seeded: &Seeded) -> anyhow::Result<(Vec<Probe>, Vec<Probe>)> {
    let dashboards = seeded
        .customers
        .iter()
        .map(|c| {
            let mut p = Probe::get("/portal");
            p.headers.push((header::COOKIE, c.cookie.clone()));
            p.expect = Expect::OkWith(Bytes::from(c.invoice.clone()));
            p
        })
        .collect();
    let first = &seeded.customers[0];
    let mut form = Probe::get(&format!("/staff/customers/{}", first.id));
    form.headers.push((header::COOKIE, seeded.owner.clone()));
    let form = Connection::open(addr).await?.send(&form).await?;
    let csrf = hidden(&form.body, "csrf");
    let purpose = purpose(&form.body);
    let (Some(csrf), Some(purpose)) = (csrf, purpose) else {
        anyhow::bail!("the owner's purpose form is not as expected: {}", form.describe());
    };
    let views = seeded
        .customers
        .iter()
        .map(|c| {
            let fields = [("csrf", csrf.as_str()), ("purpose", purpose.as_str())];
            let mut p = Probe::post_form(
                &format!("/staff/customers/{}", c.id),
                &fields,
                Expect::OkWith(Bytes::from(c.company.clone())),
            );
            p.headers.push((header::COOKIE, seeded.owner.clone()));
            p
        })
        .collect();
    Ok((dashboards, views))
}

async fn measure(build: &Build<'_>, seeded: &Seeded, s: &Settings, into: &mut Measured) -> anyhow::Result<()> {
    let engine = build.db.name();
    let key = build.db.key.to_hex();
    let env = [seed::ATTEMPTS, ("CUSTODIAN_READ_CACHE", "false")];
    let server = Server::start(&build.bin, &build.db.url, &key, build.data_dir.path(), &env).await?;
    let (dashboards, views) = probes(server.addr, seeded).await?;
    for p in dashboards.iter().chain(&views) {
        check_once(server.addr, p).await?;
    }
    eprintln!("policy ({engine}): {}: GET /portal ...", build.label);
    into.dashboard.push(load(server.addr, &dashboards, &s.load).await?);
    eprintln!("policy ({engine}): {}: POST /staff/customers/ID ...", build.label);
    into.staff.push(load(server.addr, &views, &s.load).await?);
    Ok(())
}

/// Copies the files of `from` into `to` (no subdirectories are kept there).
fn copy_files(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// Answers per second over every round's window together.
fn rate(loads: &[Load]) -> f64 {
    let answers: u64 = loads.iter().map(|l| l.stats.count as u64).sum();
    let seconds: f64 = loads.iter().map(|l| l.window.as_secs_f64()).sum();
    answers as f64 / seconds
}

fn failures(loads: &[Load]) -> u64 {
    loads.iter().map(Load::failures).sum()
}

pub async fn run(db: &TestDb, s: &Settings) -> anyhow::Result<(Vec<Table>, Vec<Outcome>)> {
    let engine = db.name();
    let seed_dir = tempfile::tempdir()?;
    eprintln!(
        "policy ({engine}): the previous build makes {} customers ...",
        thousands(seed::PORTAL_CUSTOMERS + seed::OTHER_CUSTOMERS)
    );
    let seeded = seed::seed(&s.baseline, db, seed_dir.path()).await?;
    let copy = db.duplicate().await;
    let builds = [
        Build { label: "previous build", bin: s.baseline.clone(), db, data_dir: tempfile::tempdir()? },
        Build { label: "this build", bin: custodian_binary()?, db: &copy, data_dir: tempfile::tempdir()? },
    ];
    for b in &builds {
        copy_files(seed_dir.path(), b.data_dir.path())?;
    }
    let mut measured = [Measured::default(), Measured::default()];
    let result = async {
        for round in 0..s.rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for b in order {
                measure(&builds[b], &seeded, s, &mut measured[b]).await?;
            }
        }
        anyhow::Ok(())
    }
    .await;
    copy.finish().await;
    result?;
    Ok(report(engine, s, &measured))
}

fn report(engine: &str, s: &Settings, measured: &[Measured; 2]) -> (Vec<Table>, Vec<Outcome>) {
    let [previous, this] = measured;
    let mut t = Table::new(
        format!(
            "[policy] {engine}: read cache off, {} keep-alive connections, {} rounds of {} s warm-up and {} s measured per build and phase",
            s.load.connections,
            s.rounds,
            s.load.warmup.as_secs(),
            s.load.window.as_secs()
        ),
        &["round", "request", "previous build", "this build", "ratio", "p99 previous", "p99 this"],
    );
    let phases: [(&str, fn(&Measured) -> &[Load]); 2] =
        [("GET /portal (dashboard)", |m| &m.dashboard), ("POST /staff/customers/ID (staff view)", |m| &m.staff)];
    for round in 0..s.rounds {
        for (label, of) in phases {
            let (p, c) = (&of(previous)[round], &of(this)[round]);
            t.row([
                (round + 1).to_string(),
                label.to_string(),
                per_sec(p.rate()),
                per_sec(c.rate()),
                ratio(c.rate(), p.rate()),
                ms(p.stats.p99),
                ms(c.stats.p99),
            ]);
        }
    }
    t.note(format!(
        "{} portal customers with {} invoices, 1 service and 1 statute acceptance each, among {} customers; the staff view is the owner's, with a purpose, audited",
        seed::PORTAL_CUSTOMERS,
        seed::INVOICES,
        thousands(seed::PORTAL_CUSTOMERS + seed::OTHER_CUSTOMERS)
    ));
    for (who, m) in [("previous", previous), ("this", this)] {
        for (label, of) in phases {
            if let Some(problem) = of(m).iter().find_map(|l| l.problem.as_ref()) {
                t.note(format!("first problem, {who} build, {label}: {problem}"));
            }
        }
    }
    let mut m = Table::measurement(format!("[policy] what the access policy costs, {engine}"));
    let mut outcomes = Vec::new();
    for (label, of) in phases {
        let (p, c) = (rate(of(previous)), rate(of(this)));
        let wrong = failures(of(previous)) + failures(of(this));
        let pass = c >= MIN_RATIO * p && wrong == 0;
        m.row([
            format!("{label}, all rounds; wrong answers + errors {}", thousands(wrong)),
            per_sec(c),
            per_sec(p),
            ratio(c, p),
            ">= 0.98x, 0 wrong".into(),
            verdict(pass),
        ]);
        outcomes.push(Outcome::new(&format!("policy {label} vs previous build"), engine, ratio(c, p), ">= 0.98x", pass));
    }
    (vec![t, m], outcomes)
}
