//! Backups through the real binary: one made while `serve` runs restores on a
//! fresh machine into either engine; backups and restores killed with SIGKILL
//! leave no half snapshot and no half-restored database that could be used.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use custodian_store::{Access, AccessPurpose, Actor, ErasureReason, Key, Store, StoreError};
use rand::Rng;

const BIN: &str = env!("CARGO_BIN_EXE_custodian");
const PASSWORD: &str = "een lang back-upwachtwoord";

fn owner() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

/// The binary on the data directory `dir` (its custodian.toml names the
/// repository), with `key`, the backup password and nothing from the caller's environment.
fn command(dir: &Path, key: &Key, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("CUSTODIAN_LANGUAGE", "en")
        .env("CUSTODIAN_MASTER_KEY", key.to_hex().as_str())
        .env("CUSTODIAN_BACKUP_PASSWORD", PASSWORD);
    for name in ["CUSTODIAN_DATABASE_URL", "CUSTODIAN_CONFIG", "CUSTODIAN_DATA_DIR", "CUSTODIAN_MASTER_KEY_FILE"] {
        cmd.env_remove(name);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn run(dir: &Path, key: &Key, args: &[&str]) -> Output {
    command(dir, key, args).output().unwrap()
}

fn ok(dir: &Path, key: &Key, args: &[&str]) -> String {
    let out = run(dir, key, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("custodian.db").display())
}

/// A data directory whose backups go to the directory `repo`.
fn data_dir(dir: &Path, repo: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let toml = format!("[backup]\nservice = \"fs\"\n[backup.options]\nroot = \"{}\"\n", repo.display());
    std::fs::write(dir.join("custodian.toml"), toml).unwrap();
}

async fn add_customers(store: &Store, from: u64, count: u64) {
    let batch: Vec<_> = (from..from + count).map(custodian_testkit::customer).collect();
    for chunk in batch.chunks(500) {
        store.create_customers(&owner(), chunk).await.unwrap();
    }
}

async fn count(url: &str, key: &Key) -> Result<i64, StoreError> {
    let store = Store::open(url, 2, key.clone()).await?;
    let n =
        sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE status = 'active'").fetch_one(store.pool()).await?;
    store.close().await;
    Ok(n)
}

#[tokio::test]
async fn a_backup_made_while_serving_restores_on_a_fresh_machine_into_either_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let (live, repo) = (tmp.path().join("live"), tmp.path().join("repo"));
    data_dir(&live, &repo);
    let key = Key::generate();
    let store = Store::open(&url(&live), 4, key.clone()).await.unwrap();
    add_customers(&store, 1, 200).await;
    // The server without its own nightly backup, so the one made here is the
    // only writer of the new repository.
    let plain = tmp.path().join("serve.toml");
    std::fs::write(&plain, "").unwrap();
    let plain = plain.display().to_string();
    let mut server = command(&live, &key, &["--config", &plain, "serve", "--listen", "127.0.0.1:0"]).spawn().unwrap();
    // The server keeps writing (its start-up work) while we add customers
    // and back up at the same time.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move { add_customers(&store, 1_000, 300).await })
    };
    let backup = tokio::task::spawn_blocking({
        let (live, key) = (live.clone(), key.clone());
        move || ok(&live, &key, &["backup", "run"])
    });
    let (written, made) = (writer.await, backup.await.unwrap());
    written.unwrap();
    assert!(made.contains("uploaded"), "{made}");
    let erased = 7;
    store.erase_customer(&owner(), erased, ErasureReason::CustomerRequest).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // The nightly job pushes the grown journal; here the next backup does.
    ok(&live, &key, &["backup", "run"]);
    server.kill().unwrap();
    server.wait().unwrap();
    store.close().await;
    let listed = ok(&live, &key, &["backup", "list"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let first_time = listed.lines().next().unwrap().split_whitespace().nth(1).unwrap().to_string();

    // A fresh machine: the key, the password and the repository's address, nothing else.
    let mut targets = vec![url(&tmp.path().join("fresh"))];
    let pg = match std::env::var(custodian_testkit::POSTGRES_ENV).ok().filter(|s| !s.is_empty()) {
        Some(admin) => Some(custodian_testkit::postgres(&admin).await),
        None => None,
    };
    targets.extend(pg.as_ref().map(|p| p.url.clone()));
    for target in &targets {
        let machine = tmp.path().join(format!("machine-{}", target.len()));
        data_dir(&machine, &repo);
        let verified = ok(&machine, &key, &["backup", "verify", "--at", &first_time]);
        assert!(verified.contains(" ok"), "{verified}");
        let restored =
            ok(&machine, &key, &["backup", "restore", "--at", &first_time, "--into", target, "--accept-journal-age"]);
        assert!(restored.contains("customers 1"), "customer {erased} erased again: {restored}");
        let active = count(target, &key).await.unwrap();
        assert!((199..=499).contains(&active), "{target}: {active} customers active (one erased again)");
        let store = Store::open(target, 2, key.clone()).await.unwrap();
        let status: String = sqlx::query_scalar("SELECT status FROM customers WHERE id = $1")
            .bind(erased)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(status, "erased");
        assert!(store.audit_verify().await.unwrap().problem.is_none());
        store.close().await;
    }
    if let Some(pg) = pg {
        pg.finish().await;
    }
}

/// Customers added before each backup that is killed.
const NEW: u64 = 2_500;

/// Runs `args`, killed after a random part of `took`; whether it was still running.
fn kill_during(dir: &Path, key: &Key, args: &[&str], took: Duration, rng: &mut impl Rng) -> bool {
    let mut child = command(dir, key, args).spawn().unwrap();
    std::thread::sleep(took.mul_f64(rng.gen_range(0.05..0.95)));
    let running = child.try_wait().unwrap().is_none();
    if running {
        child.kill().unwrap();
    }
    child.wait().unwrap();
    running
}

#[tokio::test]
async fn killed_backups_and_restores_leave_nothing_half_done() {
    let tmp = tempfile::tempdir().unwrap();
    let (live, repo) = (tmp.path().join("live"), tmp.path().join("repo"));
    data_dir(&live, &repo);
    let key = Key::generate();
    let store = Store::open(&url(&live), 4, key.clone()).await.unwrap();
    add_customers(&store, 1, 20_000).await;
    ok(&live, &key, &["backup", "run"]);
    // Timed: a backup with new customers to store, as each killed one below has.
    add_customers(&store, 100_000, NEW).await;
    let started = Instant::now();
    ok(&live, &key, &["backup", "run"]);
    let took = started.elapsed();

    let mut rng = rand::thread_rng();
    let mut landed = 0;
    for i in 0..6 {
        add_customers(&store, 200_000 + i * NEW, NEW).await;
        landed += usize::from(kill_during(&live, &key, &["backup", "run"], took, &mut rng));
        // Whatever the moment, the repository opens and counts only whole snapshots.
        let listed = ok(&live, &key, &["backup", "list"]);
        assert!((2..=8).contains(&listed.lines().count()), "{listed}");
    }
    store.close().await;
    assert!(landed > 0, "no kill landed during a backup that takes {took:?}");
    let customers = 20_000 + 7 * NEW as i64;
    ok(&live, &key, &["backup", "run"]);
    let listed = ok(&live, &key, &["backup", "list"]);
    for line in listed.lines() {
        let at = line.split_whitespace().nth(1).unwrap();
        assert!(ok(&live, &key, &["backup", "verify", "--at", at]).contains(" ok"), "{line}");
    }
    let newest = listed.lines().last().unwrap().split_whitespace().nth(1).unwrap().to_string();

    // Restores killed halfway: the target is refused, or absent, never half there.
    let mut targets: Vec<String> = (0..6).map(|i| url(&tmp.path().join(format!("restore-{i}")))).collect();
    let mut databases = vec![];
    if let Some(admin) = std::env::var(custodian_testkit::POSTGRES_ENV).ok().filter(|s| !s.is_empty()) {
        for _ in 0..3 {
            let pg = custodian_testkit::postgres(&admin).await;
            targets.push(pg.url.clone());
            databases.push(pg);
        }
    }
    let started = Instant::now();
    let straight = url(&tmp.path().join("straight"));
    ok(&live, &key, &["backup", "restore", "--at", &newest, "--into", &straight, "--accept-journal-age"]);
    let restore_took = started.elapsed();
    assert_eq!(count(&straight, &key).await.unwrap(), customers);
    let mut refused = 0;
    for target in &targets {
        kill_during(
            &live,
            &key,
            &["backup", "restore", "--at", &newest, "--into", target, "--accept-journal-age"],
            restore_took,
            &mut rng,
        );
        let file = target.strip_prefix("sqlite://").map(|u| PathBuf::from(u.split('?').next().unwrap()));
        if file.as_ref().is_some_and(|f| !f.exists()) {
            continue;
        }
        match count(target, &key).await {
            Ok(n) => assert!(n == customers || n == 0, "{target}: a usable database is whole (or empty): {n}"),
            Err(StoreError::Refused(r)) => {
                assert_eq!(r, custodian_store::Refusal::UnfinishedRestore);
                refused += 1;
            }
            Err(e) => panic!("{target}: {e}"),
        }
    }
    eprintln!("{refused} of {} killed restores left a marked target", targets.len());
    for db in databases {
        db.finish().await;
    }
}

/// The snapshots in the directory repository `repo` (restore points and journal pushes).
fn snapshot_files(repo: &Path) -> usize {
    std::fs::read_dir(repo.join("snapshots")).map_or(0, |d| d.count())
}

/// `serve` stores the erasure journal on its own seconds after an erasure made
/// by another process, so losing the database right after it does not bring
/// the person back from last night's snapshot.
#[tokio::test]
async fn serve_stores_the_journal_soon_after_an_erasure() {
    let tmp = tempfile::tempdir().unwrap();
    let (live, repo) = (tmp.path().join("live"), tmp.path().join("repo"));
    data_dir(&live, &repo);
    let key = Key::generate();
    let store = Store::open(&url(&live), 2, key.clone()).await.unwrap();
    add_customers(&store, 1, 20).await;
    // Tonight's snapshot exists, so the server's scheduler only watches the journal.
    ok(&live, &key, &["backup", "run"]);
    assert_eq!(snapshot_files(&repo), 1);
    let mut server = command(&live, &key, &["serve", "--listen", "127.0.0.1:0"]).spawn().unwrap();
    // Let the scheduler start and read what the storage holds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let erased = 5;
    store.erase_customer(&owner(), erased, ErasureReason::CustomerRequest).await.unwrap();
    store.close().await;
    let since = Instant::now();
    while snapshot_files(&repo) < 2 {
        assert!(since.elapsed() < Duration::from_secs(90), "no journal push within 90 s of the erasure");
        assert!(server.try_wait().unwrap().is_none(), "serve stopped");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    // The database is lost; last night's snapshot comes back without customer 5.
    std::fs::remove_dir_all(&live).unwrap();
    let machine = tmp.path().join("machine");
    data_dir(&machine, &repo);
    let target = url(&tmp.path().join("fresh"));
    let restored = ok(&machine, &key, &["backup", "restore", "--into", &target, "--accept-journal-age"]);
    assert!(restored.contains("customers 1"), "{restored}");
    assert_eq!(count(&target, &key).await.unwrap(), 19);
}

#[tokio::test]
async fn erasures_on_the_command_line_reach_the_repository_before_the_database_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let (live, repo) = (tmp.path().join("live"), tmp.path().join("repo"));
    data_dir(&live, &repo);
    let key = Key::generate();
    let store = Store::open(&url(&live), 2, key.clone()).await.unwrap();
    add_customers(&store, 1, 10).await;
    store.close().await;
    ok(&live, &key, &["backup", "run"]);
    let snapshot = ok(&live, &key, &["backup", "list"]);
    let at = snapshot.split_whitespace().nth(1).expect("the snapshot's time").to_string();

    // No server runs: the commands themselves send the journal along.
    let erased = ok(&live, &key, &["customer", "erase", "3", "--reason", "customer_request"]);
    assert!(erased.contains("erasure journal sent to the backup repository"), "{erased}");
    let requested = ok(&live, &key, &["customer", "request-erasure", "7"]);
    assert!(requested.contains("erasure journal sent"), "{requested}");
    // The database snapshot and the newest journal: each push forgets the one before.
    assert_eq!(snapshot_files(&repo), 2);
    // Nothing erased, nothing sent.
    let again = ok(&live, &key, &["customer", "erase", "3", "--reason", "customer_request"]);
    assert!(!again.contains("erasure journal"), "{again}");

    // The database is lost; the snapshot from before both erasures comes back without them.
    std::fs::remove_dir_all(&live).unwrap();
    let machine = tmp.path().join("machine");
    data_dir(&machine, &repo);
    let target = url(&tmp.path().join("fresh"));
    // Without the old database or the operator's word, the restore waits and says why.
    let refused = run(&machine, &key, &["backup", "restore", "--at", &at, "--into", &target]);
    assert_eq!(refused.status.code(), Some(2));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("The newest erasure journal in the repository is of") && why.contains("--accept-journal-age"),
        "{why}"
    );
    assert!(!tmp.path().join("fresh").join("custodian.db").exists(), "a refused restore writes nothing");
    let restored = ok(&machine, &key, &["backup", "restore", "--at", &at, "--into", &target, "--accept-journal-age"]);
    assert!(restored.contains("customers 2"), "{restored}");
    assert!(restored.contains("newest erasure journal:"), "the restore says how old its journal is: {restored}");
    assert_eq!(count(&target, &key).await.unwrap(), 8);
}

/// An erasure whose process is killed after its commit and before its push
/// leaves the erasure recorded as not yet in the repository; `serve` pushes
/// it at its first look, and a restore of the snapshot from before brings
/// nobody back. On both engines, with kills at random moments of
/// `customer erase`.
#[tokio::test]
async fn erasures_killed_before_their_push_reach_the_repository_through_serve() {
    let mut rng = rand::thread_rng();
    for db in custodian_testkit::databases().await {
        let engine = db.name();
        let tmp = tempfile::tempdir().unwrap();
        let (live, repo) = (tmp.path().join("live"), tmp.path().join("repo"));
        data_dir(&live, &repo);
        let toml = std::fs::read_to_string(live.join("custodian.toml")).unwrap();
        let jobs = "[jobs]\nbackup_interval_secs = 1\nretention_interval_secs = 3600\nretry_secs = 1\n";
        std::fs::write(live.join("custodian.toml"), format!("database_url = \"{}\"\n{toml}{jobs}", db.url)).unwrap();
        let key = db.key.clone();
        let store = db.store().await;
        add_customers(&store, 1, 12).await;
        ok(&live, &key, &["backup", "run"]);
        let at = ok(&live, &key, &["backup", "list"]).split_whitespace().nth(1).unwrap().to_string();

        // One erasure straight through, to time it; then kills at random moments.
        let started = Instant::now();
        ok(&live, &key, &["customer", "erase", "2", "--reason", "customer_request"]);
        let took = started.elapsed();
        for id in 3..=8 {
            kill_during(
                &live,
                &key,
                &["customer", "erase", &id.to_string(), "--reason", "customer_request"],
                took,
                &mut rng,
            );
        }
        // A kill right after the commit, for certain: the store erases, nobody pushes.
        store.erase_customer(&owner(), 9, ErasureReason::CustomerRequest).await.unwrap();
        assert!(store.journal_unstored().await.unwrap() >= 1, "{engine}: customer 9 waits for the repository");
        let erased: Vec<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE status = 'erased' ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert!(erased.contains(&2) && erased.contains(&9), "{engine}: {erased:?}");

        let mut server = command(&live, &key, &["serve", "--listen", "127.0.0.1:0"]).spawn().unwrap();
        let since = Instant::now();
        while store.journal_unstored().await.unwrap() > 0 {
            assert!(since.elapsed() < Duration::from_secs(60), "{engine}: serve did not push within a minute");
            assert!(server.try_wait().unwrap().is_none(), "{engine}: serve stopped");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server.kill().unwrap();
        server.wait().unwrap();
        store.close().await;

        // The database is lost; the snapshot from before every erasure comes back without them.
        db.finish().await;
        let machine = tmp.path().join("machine");
        data_dir(&machine, &repo);
        let target = url(&tmp.path().join("fresh"));
        ok(&machine, &key, &["backup", "restore", "--at", &at, "--into", &target, "--accept-journal-age"]);
        let restored = Store::open(&target, 2, key.clone()).await.unwrap();
        let again: Vec<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE status = 'erased' ORDER BY id")
            .fetch_all(restored.pool())
            .await
            .unwrap();
        assert_eq!(again, erased, "{engine}: everyone erased before the loss stays erased");
        restored.close().await;
    }
}
