//! `custodian-bench`: measures custodian against its performance targets and
//! prints, per target, the measured figure, a baseline measured in the same run
//! where one applies, the ratio, the target and PASS/MISS.
//!
//! 1. create + read of a customer, encrypted vs the same schema unencrypted: <= 1.5x
//! 2. audit append >= 20,000 durable entries/s; audit verify >= 500,000 entries/s
//! 3. blind-index lookup among 1,000,000 customers: median < 1 ms
//! 4. importing 100,000 customers through the CLI: peak memory < 200 MB
//! 5. `web`: the real server under 64 keep-alive connections on loopback, with
//!    10,000 customers signed in: the dashboard of customer after customer
//!    (cold) >= 0.7x the answers/s of `/healthz` of the same server, its p99
//!    < 20 ms, no wrong answers or errors in any phase, server peak memory
//!    < 150 MB; the cached dashboard and the mixed scenario (log in,
//!    dashboard, change, access log, log out, owner views) alongside, with
//!    the read cache's hit ratio
//!
//! 6. `retention`: among 1,000,000 customers and 5,000,000 invoices, `retention
//!    plan` < 60 s, a `retention run` erasing 100,000 customers <= 5x a raw-SQL
//!    baseline deleting the same rows, peak memory < 300 MB (not part of `all`:
//!    it writes several GB)
//!
//! 7. `registry`: handle creates through the registry outbox against the loopback
//!    EPP registry with 1 and 4 sessions: operations/s (against direct EPP
//!    creates), own overhead per operation < 1 ms, one login per session
//! 8. `backup`: the retention data set backed up by `custodian backup run` at
//!    least as fast as Debian's `restic backup` of the same file, the upload
//!    after 1% of the customers changed <= 5% of the full one, peak memory
//!    < 256 MB (not part of `all`)
//!
//! 9. `policy`: the access policy costs < 2% (instructions per answer, under
//!    valgrind's callgrind) on the uncached customer dashboard, the owner's
//!    view of a customer and the API's read of one: the policy's code's share
//!    of each answer, and on the API read (the same answer in both) this
//!    build against a previous build given with `--baseline PATH`, in the
//!    same run; server CPU per answer and answers/s alongside (not part of `all`)
//!
//! 10. `invoices`: 100,000 invoices imported through the CLI in one
//!     transaction: invoices/s against issuing them one by one in the same
//!     run, peak memory < 200 MB (not part of `all`)
//!
//! 11. `documents`: 2,000 distinct invoices read in full and rendered as PDF and
//!     as UBL, one task: invoices/s of each, against the read alone (no target
//!     of its own; on PostgreSQL too with `--postgres`)
//!
//! 12. `soak`: the mixed scenario of `web` at 80% of the capacity it measures
//!     first, for `--soak-secs` (600): no wrong answers or errors, resident
//!     memory at the end < 10% above that after the first minute (not part of
//!     `all`; on PostgreSQL too with `--postgres`)
//!
//! Targets 1, 2, 5, 11 and 12 also run on PostgreSQL with `--postgres URL`. The exit code is
//! 0 whenever the measurements ran, also when a target is missed.
#![forbid(unsafe_code)]

mod audit;
mod backup;
mod crud;
mod documents;
mod http;
mod import;
mod invoices;
mod lookup;
mod policy;
mod registry;
mod report;
mod retention;
mod signin;
mod soak;
mod web;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use custodian_store::Store;
use custodian_testkit::TestDb;

use crate::report::{Outcome, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    All,
    Crud,
    Audit,
    Lookup,
    Import,
    /// The portal of the real server under load: many customers' dashboards, the mixed scenario.
    Web,
    /// The mixed scenario at 80% of its measured capacity for `--soak-secs`, memory sampled.
    Soak,
    /// The retention plan and run on a large generated administration.
    Retention,
    /// Handle creates through the registry outbox against the loopback registry.
    Registry,
    /// Backups of a large generated administration against restic.
    Backup,
    /// The uncached dashboard and the staff view against a previous build (`--baseline`).
    Policy,
    /// The bulk import of invoices against issuing them one by one.
    Invoices,
    /// Invoices rendered as PDF and UBL against reading them.
    Documents,
}

#[derive(Parser, Debug)]
#[command(name = "custodian-bench", about = "Measures custodian against its performance targets")]
struct Args {
    /// Which target to measure.
    #[arg(value_enum, default_value_t = Which::All)]
    target: Which,
    /// Also run crud, audit and web on PostgreSQL: a server URL whose user may create
    /// databases (a fresh database is made and dropped).
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Customers for the lookup target.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    customers: u64,
    /// Invoices for the invoices target.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    invoices: u64,
    /// Customers for the retention target on SQLite (a tenth of them on PostgreSQL) and the backup target.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    retention_customers: i64,
    /// SQLite file for the lookup target, kept between runs (key in PATH.key);
    /// loaded only up to --customers. Default: a temporary database.
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// SQLite file for the backup target, generated once with
    /// --retention-customers and kept (key in PATH.key); each run measures a copy.
    #[arg(long, value_name = "PATH")]
    backup_db: Option<PathBuf>,
    /// The policy target's previous build: a `custodian` binary from before the access policy.
    #[arg(long, value_name = "PATH")]
    baseline: Option<PathBuf>,
    /// Rounds of the policy target; each loads both builds once.
    #[arg(long, value_name = "N", default_value_t = 5)]
    rounds: usize,
    /// How long the soak target runs, in seconds.
    #[arg(long, value_name = "S", default_value_t = 600)]
    soak_secs: u64,
    /// The policy target leaves its SQLite administration (database, key, session
    /// cookies) in DIR, to profile a build on it by hand.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

/// A fresh database of each engine asked for.
async fn databases(postgres: Option<&str>) -> Vec<TestDb> {
    let mut dbs: Vec<TestDb> = vec![custodian_testkit::sqlite()];
    if let Some(url) = postgres {
        dbs.push(custodian_testkit::postgres(url).await);
    }
    dbs
}

/// Runs `f` on a fresh database of each engine asked for, printing each table.
async fn on_each_engine<F, Fut>(postgres: Option<&str>, outcomes: &mut Vec<Outcome>, f: F) -> anyhow::Result<()>
where
    F: Fn(Store, &'static str, String) -> Fut,
    Fut: Future<Output = anyhow::Result<(Table, Vec<Outcome>)>>,
{
    for db in databases(postgres).await {
        let engine = db.name();
        let store = Store::open(&db.url, 8, db.key.clone()).await?;
        let result = f(store.clone(), engine, db.url.clone()).await;
        store.close().await;
        db.finish().await;
        let (table, mut o) = result?;
        table.print();
        outcomes.append(&mut o);
    }
    Ok(())
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews timings.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let all = args.target == Which::All;
    let started = Instant::now();
    println!(
        "custodian-bench: {:?}, {} cores, postgres {}, load average {}\n",
        args.target,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        if args.postgres.is_some() { "yes" } else { "no" },
        load_average(),
    );
    let mut outcomes = Vec::new();
    let pg = args.postgres.as_deref();

    if all || args.target == Which::Crud {
        eprintln!("crud: running ...");
        let settings = crud::Settings { iterations: 2000, warmup: 200 };
        on_each_engine(pg, &mut outcomes, |store, engine, _| {
            let settings = &settings;
            async move { crud::run(&store, engine, settings).await }
        })
        .await?;
    }
    if all || args.target == Which::Audit {
        eprintln!("audit: running ...");
        let settings = audit::Settings { tasks: 256, entries: 200_000, baseline: 2000 };
        on_each_engine(pg, &mut outcomes, |store, engine, _| {
            let settings = &settings;
            async move { audit::run(&store, engine, settings).await }
        })
        .await?;
    }
    if all || args.target == Which::Lookup {
        let settings = lookup::Settings {
            customers: args.customers.max(1),
            email_lookups: 10_000,
            name_lookups: 1000,
            warmup: 1000,
            db: args.db.clone(),
        };
        let (table, mut o) = lookup::run(&settings).await?;
        table.print();
        outcomes.append(&mut o);
    }
    if all || args.target == Which::Import {
        let (table, mut o) = import::run(&import::Settings { customers: 100_000 }).await?;
        table.print();
        outcomes.append(&mut o);
    }
    if all || args.target == Which::Web {
        let settings =
            web::Settings { connections: 64, warmup: Duration::from_secs(2), window: Duration::from_secs(10) };
        for db in databases(pg).await {
            let result = web::run(&db, &settings).await;
            db.finish().await;
            let (tables, mut o) = result?;
            tables.iter().for_each(Table::print);
            outcomes.append(&mut o);
        }
    }
    if args.target == Which::Soak {
        let load = web::Settings { connections: 64, warmup: Duration::from_secs(5), window: Duration::from_secs(30) };
        let settings = soak::Settings { load, duration: Duration::from_secs(args.soak_secs), share: 0.8 };
        for db in databases(pg).await {
            let result = soak::run(&db, &settings).await;
            db.finish().await;
            let (tables, mut o) = result?;
            tables.iter().for_each(Table::print);
            outcomes.append(&mut o);
        }
    }
    if all || args.target == Which::Registry {
        eprintln!("registry: running ...");
        for db in databases(pg).await {
            let result = registry::run(&db, &registry::Settings { handles: 2000 }).await;
            db.finish().await;
            let (table, mut o) = result?;
            table.print();
            outcomes.append(&mut o);
        }
    }
    if args.target == Which::Retention {
        for db in databases(pg).await {
            let customers = if db.engine == custodian_store::Engine::Sqlite {
                args.retention_customers
            } else {
                args.retention_customers / 10
            };
            let result = retention::run(&db, pg, &retention::Settings { customers: customers.max(10) }).await;
            db.finish().await;
            let (table, mut o) = result?;
            table.print();
            outcomes.append(&mut o);
        }
    }
    if args.target == Which::Invoices {
        let settings = invoices::Settings { invoices: args.invoices.max(1), customers: 1_000, baseline: 5_000 };
        let (table, mut o) = invoices::run(&settings).await?;
        table.print();
        outcomes.append(&mut o);
    }
    if all || args.target == Which::Documents {
        let settings = documents::Settings { invoices: 2_000, customers: 200 };
        for db in databases(pg).await {
            let store = Store::open(&db.url, 8, db.key.clone()).await?;
            let result = documents::run(&store, db.name(), &settings).await;
            store.close().await;
            db.finish().await;
            result?.print();
        }
    }
    if args.target == Which::Backup {
        let settings = backup::Settings { customers: args.retention_customers.max(100), db: args.backup_db.clone() };
        let (table, mut o) = backup::run(&settings).await?;
        table.print();
        outcomes.append(&mut o);
    }
    if args.target == Which::Policy {
        let Some(baseline) = args.baseline.clone() else {
            anyhow::bail!("the policy target compares with a previous build: give its binary with --baseline PATH");
        };
        let settings = policy::Settings {
            baseline,
            rounds: args.rounds.max(1),
            keep: args.keep.clone(),
            load: http::Settings { connections: 64, warmup: Duration::from_secs(2), window: Duration::from_secs(8) },
        };
        for db in databases(pg).await {
            let result = policy::run(&db, &settings).await;
            db.finish().await;
            let (tables, mut o) = result?;
            tables.iter().for_each(Table::print);
            outcomes.append(&mut o);
        }
    }
    report::summary(&outcomes).print();
    println!("total time {:.0} s, load average at the end {}", started.elapsed().as_secs_f64(), load_average());
    Ok(())
}
