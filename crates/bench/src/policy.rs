//! What the access policy costs: the uncached customer dashboard, the owner's
//! view of a customer (the staff view) and the API's read of a customer,
//! served by this build and by a previous build given with `--baseline` (one
//! from before the policy), in the same run.
//!
//! The previous build makes the administration (see `seed`); the database is
//! then copied, and this build migrates its copy forward when it starts, so
//! both serve the same customers, sessions and audit trail. In each round each
//! build's server starts with the read cache off and is loaded in turn, the
//! order alternating between rounds so that a drifting machine favours
//! neither. Each phase drives 64 keep-alive connections: one per portal
//! customer for the dashboard, all signed in as the owner (or holding the
//! owner's token) for the staff view and the API read, connection i viewing
//! customer i. Every answer must be 200 and hold what only a fully rendered
//! page holds.
//!
//! The target is judged on instructions, counted under valgrind's callgrind
//! before the rounds (see `instructions`), in a measure that does not move
//! with the machine's load:
//! - the policy's share of this build's instructions per answer, read from
//!   the profile line by line (`attribution`): what the policy check adds,
//!   < 2% on each request;
//! - this build against the previous one on the API read, whose answer is
//!   the same in both: there the difference is the policy's, <= 1.02x.
//!
//! The dashboard and the staff view are compared with the previous build
//! too, but not judged that way: since then their pages show more (invoice
//! standing and documents, services and invoices on the staff view), so the
//! difference is not the policy's. The server's CPU time per answer (user +
//! system, from `/proc`) and answers/s are shown beside it; on a small
//! machine that also runs the load generator they vary between rounds by
//! more than 2%.

mod attribution;
mod instructions;
mod seed;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use custodian_testkit::TestDb;
use hyper::body::Bytes;
use hyper::header;

use crate::http::{self, Connection, Expect, Load, Probe, Server, check_once, hidden, load};
use crate::import::custodian_binary;
use crate::report::{Outcome, Table, per_sec, ratio, thousands, verdict};
use seed::Seeded;

/// The policy may cost at most 2%: of this build's instructions per answer,
/// and on a request that does the same work in both builds, this build's
/// instructions at most 1.02x the previous one's.
const MAX_SHARE: f64 = 0.02;
const MAX_RATIO: f64 = 1.02;

pub struct Settings {
    pub baseline: PathBuf,
    pub rounds: usize,
    pub load: http::Settings,
    /// Where to leave a copy of the SQLite administration and its sessions,
    /// to profile a build on it by hand.
    pub keep: Option<PathBuf>,
}

/// One build under test, on its own copy of the administration.
struct Build<'a> {
    label: &'static str,
    bin: PathBuf,
    db: &'a TestDb,
    data_dir: tempfile::TempDir,
}

/// One phase on one build in one round: the load, and the CPU time the
/// server used for it (warm-up included, as `Load::answered` is).
struct Phase {
    load: Load,
    cpu: Duration,
}

impl Phase {
    /// The server's CPU time per correct answer: what the policy adds to
    /// each request, without the noise of a shared machine's scheduling.
    fn cpu_per_answer(&self) -> Duration {
        self.cpu / u32::try_from(self.load.answered.max(1)).unwrap_or(u32::MAX)
    }
}

/// Picks one phase's rounds out of what a build measured.
type PhasesOf = fn(&Measured) -> &[Phase];

/// Picks one phase's instructions per answer out of what a build counted.
type CountOf = fn(&instructions::Counted) -> instructions::Count;

/// What one build measured over all rounds, per phase.
#[derive(Default)]
struct Measured {
    dashboard: Vec<Phase>,
    staff: Vec<Phase>,
    api: Vec<Phase>,
    instructions: Option<instructions::Counted>,
}

/// The requests of each phase.
struct Probes {
    dashboards: Vec<Probe>,
    views: Vec<Probe>,
    api: Vec<Probe>,
}

/// The requests of the phases on a running server: the owner's form token
/// and purpose are read from that server's own form.
async fn probes(addr: SocketAddr, seeded: &Seeded) -> anyhow::Result<Probes> {
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
    let purpose = crate::signin::purpose(&form.body);
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
    let api = seeded
        .customers
        .iter()
        .map(|c| {
            let mut p = Probe::get(&format!("/api/v1/customers/{}?purpose=administration", c.id));
            p.headers.push((header::AUTHORIZATION, seeded.token.clone()));
            p.expect = Expect::OkWith(Bytes::from(c.company.clone()));
            p
        })
        .collect();
    Ok(Probes { dashboards, views, api })
}

async fn measure(build: &Build<'_>, seeded: &Seeded, s: &Settings, into: &mut Measured) -> anyhow::Result<()> {
    let engine = build.db.name();
    let key = build.db.key.to_hex();
    let env = [seed::ATTEMPTS, ("CUSTODIAN_READ_CACHE", "false")];
    let server = Server::start(&build.bin, &build.db.url, &key, build.data_dir.path(), &env).await?;
    let probes = probes(server.addr, seeded).await?;
    for p in probes.dashboards.iter().chain(&probes.views).chain(&probes.api) {
        check_once(server.addr, p).await?;
    }
    eprintln!("policy ({engine}): {}: GET /portal ...", build.label);
    into.dashboard.push(phase(&server, &probes.dashboards, s).await?);
    eprintln!("policy ({engine}): {}: POST /staff/customers/ID ...", build.label);
    into.staff.push(phase(&server, &probes.views, s).await?);
    eprintln!("policy ({engine}): {}: GET /api/v1/customers/ID ...", build.label);
    into.api.push(phase(&server, &probes.api, s).await?);
    Ok(())
}

async fn phase(server: &Server, probes: &[Probe], s: &Settings) -> anyhow::Result<Phase> {
    let before = server.cpu()?;
    let load = load(server.addr, probes, &s.load).await?;
    Ok(Phase { load, cpu: server.cpu()?.saturating_sub(before) })
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

/// Leaves the administration as the previous build made it in `dir`: the
/// database and its key, the owner's session cookie and API token, and per portal
/// customer its number, session cookie, last invoice and company name.
fn keep(dir: &Path, from: &Path, db: &TestDb, seeded: &Seeded) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    copy_files(from, dir)?;
    std::fs::write(dir.join("key"), db.key.to_hex().as_bytes())?;
    std::fs::write(dir.join("owner.cookie"), seeded.owner.as_bytes())?;
    std::fs::write(dir.join("owner.token"), seeded.token.as_bytes())?;
    let lines: Vec<String> = seeded
        .customers
        .iter()
        .map(|c| format!("{}\t{}\t{}\t{}", c.id, c.cookie.to_str().unwrap_or_default(), c.invoice, c.company))
        .collect();
    std::fs::write(dir.join("customers.tsv"), lines.join("\n") + "\n")?;
    eprintln!("policy: the administration is kept in {}", dir.display());
    Ok(())
}

/// Answers per second over every round's window together.
fn rate(phases: &[Phase]) -> f64 {
    let answers: u64 = phases.iter().map(|p| p.load.stats.count as u64).sum();
    let seconds: f64 = phases.iter().map(|p| p.load.window.as_secs_f64()).sum();
    answers as f64 / seconds
}

/// Server CPU time per correct answer over every round together.
fn cpu_per_answer(phases: &[Phase]) -> Duration {
    let cpu: Duration = phases.iter().map(|p| p.cpu).sum();
    let answers: u64 = phases.iter().map(|p| p.load.answered).sum();
    cpu / u32::try_from(answers.max(1)).unwrap_or(u32::MAX)
}

fn failures(phases: &[Phase]) -> u64 {
    phases.iter().map(|p| p.load.failures()).sum()
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

pub async fn run(db: &TestDb, s: &Settings) -> anyhow::Result<(Vec<Table>, Vec<Outcome>)> {
    if !instructions::available() {
        anyhow::bail!(
            "the policy target counts instructions under valgrind: install valgrind (Debian: apt install valgrind)"
        );
    }
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
    if let (Some(dir), Some(from)) = (&s.keep, &db.dir) {
        keep(dir, from.path(), db, &seeded)?;
    }
    let mut measured = [Measured::default(), Measured::default()];
    let counts = tempfile::tempdir()?;
    let result = async {
        for (b, into) in builds.iter().zip(measured.iter_mut()) {
            eprintln!("policy ({engine}): {}: counting instructions under callgrind ...", b.label);
            into.instructions = Some(instructions::count(b, &seeded, counts.path()).await?);
        }
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
        &["round", "request", "previous /s", "this /s", "ratio", "CPU/answer previous", "CPU/answer this", "ratio"],
    );
    // Each phase, and whether its answer is the same in both builds (so that
    // the previous build is its baseline for the policy).
    let phases: [(&str, PhasesOf, CountOf, bool); 3] = [
        ("GET /portal (dashboard)", |m| &m.dashboard, |c| c.dashboard, false),
        ("POST /staff/customers/ID (staff view)", |m| &m.staff, |c| c.staff, false),
        ("GET /api/v1/customers/ID (API read)", |m| &m.api, |c| c.api, true),
    ];
    for round in 0..s.rounds {
        for (label, of, _, _) in phases {
            let (p, c) = (&of(previous)[round], &of(this)[round]);
            t.row([
                (round + 1).to_string(),
                label.to_string(),
                per_sec(p.load.rate()),
                per_sec(c.load.rate()),
                ratio(c.load.rate(), p.load.rate()),
                micros(p.cpu_per_answer()),
                micros(c.cpu_per_answer()),
                ratio(c.cpu_per_answer().as_secs_f64(), p.cpu_per_answer().as_secs_f64()),
            ]);
        }
    }
    t.note(format!(
        "{} portal customers with {} invoices, 1 service and 1 statute acceptance each, among {} customers; the staff view is the owner's, with a purpose, audited, and lists the customer's trail, which grows each round; the API read is the owner's token's, audited",
        seed::PORTAL_CUSTOMERS,
        seed::INVOICES,
        thousands(seed::PORTAL_CUSTOMERS + seed::OTHER_CUSTOMERS)
    ));
    t.note("CPU/answer: the custodian server process's user + system time (all threads, SQLite included; not PostgreSQL's own processes) over the phase, per correct answer");
    for (who, m) in [("previous", previous), ("this", this)] {
        for (label, of, _, _) in phases {
            if let Some(problem) = of(m).iter().find_map(|p| p.load.problem.as_ref()) {
                t.note(format!("first problem, {who} build, {label}: {problem}"));
            }
        }
    }
    let mut m = Table::measurement(format!("[policy] what the access policy costs, {engine}"));
    let mut outcomes = Vec::new();
    let answers = instructions::PASSES as u64 * seed::PORTAL_CUSTOMERS;
    for (label, of, count, same_answer) in phases {
        let (p, c) = (of(previous), of(this));
        let (cpu_p, cpu_c) = (cpu_per_answer(p), cpu_per_answer(c));
        let wrong = failures(p) + failures(c);
        let (ins_p, ins_c) = match (&previous.instructions, &this.instructions) {
            (Some(p), Some(c)) => (count(p), count(c)),
            _ => (
                instructions::Count { all: f64::NAN, policy: f64::NAN },
                instructions::Count { all: f64::NAN, policy: f64::NAN },
            ),
        };
        let share = ins_c.policy / ins_c.all;
        let share_pass = share < MAX_SHARE && wrong == 0;
        m.row([
            format!("{label}: instructions per answer in the policy's code (callgrind, {answers} answers)"),
            format!("{} ({:.2}% of {})", thousands(ins_c.policy as u64), share * 100.0, thousands(ins_c.all as u64)),
            String::new(),
            String::new(),
            "< 2%".into(),
            verdict(share_pass),
        ]);
        outcomes.push(Outcome::new(
            &format!("policy {label}: the policy's share of instructions per answer"),
            engine,
            format!("{:.2}%", share * 100.0),
            "< 2%, 0 wrong",
            share_pass,
        ));
        let ratio_pass = ins_c.all <= MAX_RATIO * ins_p.all && wrong == 0;
        m.row([
            format!("{label}: instructions per answer, this build vs the previous"),
            thousands(ins_c.all as u64),
            thousands(ins_p.all as u64),
            ratio(ins_c.all, ins_p.all),
            if same_answer { "<= 1.02x".into() } else { "(the page shows more)".into() },
            if same_answer { verdict(ratio_pass) } else { String::new() },
        ]);
        if same_answer {
            outcomes.push(Outcome::new(
                &format!("policy {label}: instructions per answer vs previous build"),
                engine,
                ratio(ins_c.all, ins_p.all),
                "<= 1.02x, 0 wrong",
                ratio_pass,
            ));
        }
        let rounds: Vec<f64> =
            p.iter().zip(c).map(|(p, c)| c.cpu_per_answer().as_secs_f64() / p.cpu_per_answer().as_secs_f64()).collect();
        m.row([
            format!("{label}: server CPU per answer, all rounds (median of the rounds' ratios {:.2}x)", median(rounds)),
            micros(cpu_c),
            micros(cpu_p),
            ratio(cpu_c.as_secs_f64(), cpu_p.as_secs_f64()),
        ]);
        let rounds: Vec<f64> = p.iter().zip(c).map(|(p, c)| c.load.rate() / p.load.rate()).collect();
        m.row([
            format!("{label}: answers/s, all rounds (median of the rounds' ratios {:.2}x)", median(rounds)),
            per_sec(rate(c)),
            per_sec(rate(p)),
            ratio(rate(c), rate(p)),
        ]);
        m.row([format!("{label}: wrong answers + errors"), thousands(wrong), String::new(), String::new(), "0".into()]);
    }
    m.note(format!(
        "the policy's code: {}, inlined or not, with what it calls (see crates/bench/src/policy/attribution.rs)",
        attribution::POLICY_SOURCES.join(", ")
    ));
    (vec![t, m], outcomes)
}
