//! Three `serve` processes on one database, on each engine: the scheduled
//! jobs run once between them. The day's retention run leaves one
//! `retention.run` entry in the audit trail and the nightly backup one
//! restore point in the repository, also when the instance running the
//! backup is killed with SIGKILL in the middle of it and another takes over.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use custodian_store::{Access, AccessPurpose, Actor, JobLease, Store};
use custodian_testkit::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_custodian");
const PASSWORD: &str = "een lang back-upwachtwoord";
/// Longer than a lease (3 s) plus a look (1 s): any second run would have begun.
const SETTLE: Duration = Duration::from_secs(6);

/// A data directory of its own for each instance (logs, backup staging), all
/// on the database `url`, backing up to `repo` from midnight UTC on, with a
/// retention run every day and short leases and looks.
fn data_dir(dir: &Path, url: &str, repo: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let toml = format!(
        "database_url = \"{url}\"\nread_cache = false\n\
         [backup]\nservice = \"fs\"\nhour = 0\n[backup.options]\nroot = \"{}\"\n\
         [retention]\nerasure = \"days_after_end\"\n\
         [jobs]\nlease_secs = 3\nretention_interval_secs = 1\nbackup_interval_secs = 1\nretry_secs = 1\n",
        repo.display()
    );
    std::fs::write(dir.join("custodian.toml"), toml).unwrap();
}

fn command(dir: &Path, db: &TestDb, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("CUSTODIAN_LANGUAGE", "en")
        .env("CUSTODIAN_MASTER_KEY", db.key.to_hex().as_str())
        .env("CUSTODIAN_BACKUP_PASSWORD", PASSWORD);
    for name in ["CUSTODIAN_DATABASE_URL", "CUSTODIAN_CONFIG", "CUSTODIAN_DATA_DIR", "CUSTODIAN_MASTER_KEY_FILE"] {
        cmd.env_remove(name);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Starts an instance, its output in `dir/serve.log`.
fn start(dir: &Path, db: &TestDb) -> Child {
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    command(dir, db, &["serve", "--listen", "127.0.0.1:0"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// The restore points in the repository, as `backup list` shows them.
fn restore_points(dir: &Path, db: &TestDb) -> usize {
    let out = command(dir, db, &["backup", "list"]).output().unwrap();
    assert!(out.status.success(), "backup list: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().count()
}

async fn retention_runs(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'retention.run'")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn lease(store: &Store, job: &str) -> Option<JobLease> {
    store.job_leases().await.unwrap().into_iter().find(|l| l.name == job)
}

/// The process ID in a holder's name (`host/pid/random`).
fn pid_of(holder: &str) -> u32 {
    holder.split('/').nth(1).and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("holder {holder:?}"))
}

/// Waits until `done` holds, at most a minute, while all of `instances` run.
async fn until<F: std::future::Future<Output = bool>>(
    what: &str,
    instances: &mut HashMap<u32, Child>,
    logs: &[PathBuf],
    mut done: impl FnMut() -> F,
) {
    let since = Instant::now();
    while !done().await {
        for child in instances.values_mut() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("an instance stopped ({status}) waiting for {what}; logs: {}", read_logs(logs));
            }
        }
        assert!(since.elapsed() < Duration::from_secs(60), "no {what} within a minute; logs: {}", read_logs(logs));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn read_logs(logs: &[PathBuf]) -> String {
    logs.iter().map(|l| std::fs::read_to_string(l).unwrap_or_default()).collect::<Vec<_>>().join("\n---\n")
}

#[tokio::test]
async fn each_job_runs_once_among_three_instances_also_when_its_runner_is_killed() {
    for db in custodian_testkit::databases().await {
        let engine = db.name();
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        let store = db.store().await;
        // Enough data that a backup takes a while, so it can be killed in the middle.
        let owner = Access::new(Actor::operator(), AccessPurpose::Administration);
        let customers: Vec<_> = (1..=3000).map(custodian_testkit::customer).collect();
        for chunk in customers.chunks(500) {
            store.create_customers(&owner, chunk).await.unwrap();
        }
        let dirs: Vec<PathBuf> = (0..3).map(|i| tmp.path().join(format!("instance{i}"))).collect();
        let logs: Vec<PathBuf> = dirs.iter().map(|d| d.join("serve.log")).collect();
        let mut instances = HashMap::new();
        for dir in &dirs {
            data_dir(dir, &db.url, &repo);
            let child = start(dir, &db);
            instances.insert(child.id(), child);
        }

        // Kill whoever runs the first backup while it runs.
        until("backup run", &mut instances, &logs, || async {
            lease(&store, "backup").await.is_some_and(|l| l.running())
        })
        .await;
        let runner = lease(&store, "backup").await.unwrap();
        let killed = pid_of(&runner.holder);
        let mut child = instances.remove(&killed).expect("the runner is one of ours");
        child.kill().unwrap();
        child.wait().unwrap();
        let after_kill = lease(&store, "backup").await.unwrap();
        assert!(after_kill.running() && after_kill.holder == runner.holder, "{engine}: killed mid-run: {after_kill:?}");

        // Another instance takes the job over once the lease has run out and
        // makes the night's backup; the retention run is made once too.
        until("takeover", &mut instances, &logs, || async {
            lease(&store, "backup").await.is_some_and(|l| l.holder != runner.holder && l.last_finished.is_some())
        })
        .await;
        until("retention run", &mut instances, &logs, || async { retention_runs(&store).await > 0 }).await;
        tokio::time::sleep(SETTLE).await;
        let survivor = &dirs[0];
        assert_eq!(restore_points(survivor, &db), 1, "{engine}: one nightly backup; logs: {}", read_logs(&logs));
        assert_eq!(retention_runs(&store).await, 1, "{engine}: one retention run");
        let leases = store.job_leases().await.unwrap();
        let names: Vec<&str> = leases.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["backup", "retention"], "{engine}");
        for l in &leases {
            assert_ne!(pid_of(&l.holder), killed, "{engine}: {} is run by a living instance", l.name);
            assert!(instances.contains_key(&pid_of(&l.holder)), "{engine}: {l:?}");
            assert!(l.last_failed.is_none(), "{engine}: {l:?}; logs: {}", read_logs(&logs));
        }

        // A clean stop gives the jobs up at once instead of letting their
        // leases run out.
        let leader = pid_of(&lease(&store, "backup").await.unwrap().holder);
        let status = Command::new("kill").args(["-TERM", &leader.to_string()]).status().unwrap();
        assert!(status.success());
        let stopped = instances.remove(&leader).unwrap().wait().unwrap();
        assert!(stopped.success(), "{engine}: {stopped}");
        for l in store.job_leases().await.unwrap() {
            assert!(pid_of(&l.holder) != leader || l.lease_until == 0, "{engine}: not given up: {l:?}");
        }
        for mut child in instances.into_values() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        store.close().await;
        db.finish().await;
    }
}
