//! Target 7: backups of a large administration (M7, A16).
//!
//! Generates the retention target's data set (N customers, five invoices
//! each), then measures on the same disk, in the same run:
//!
//! * `custodian backup run` (the real binary: pinned snapshot, chunking,
//!   encryption, upload to a local directory repository) against Debian's
//!   `restic backup` of the same database file into a repository of its own
//!   (at least as fast);
//! * after 1% of the customers changed (a sealed field rewritten), the second
//!   run's upload against the first's (<= 5%); restic's for context;
//! * the peak memory of each run (< 256 MB).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use custodian_store::Store;

use crate::import::{Run, clean_command, custodian_binary, run_measured};
use crate::report::{Outcome, Table, megabytes, ratio, thousands, verdict};

const MAX_PEAK_BYTES: u64 = 256_000_000;
const MAX_INCREMENTAL: f64 = 0.05;
const PASSWORD: &str = "bench password, not a secret";

pub struct Settings {
    pub customers: i64,
    /// Generate the database here once (key in `<file>.key`) and measure on a
    /// copy of it, so repeated runs skip the generation; a temp dir otherwise.
    pub db: Option<std::path::PathBuf>,
}

/// The generated database of `s.customers` customers, as a file in `dir`:
/// generated there, or copied from the kept one (generated first if missing).
async fn prepare(dir: &Path, s: &Settings) -> anyhow::Result<(std::path::PathBuf, custodian_store::Key)> {
    let file = dir.join("custodian.db");
    let (source, key) = match &s.db {
        Some(kept) => (kept.clone(), crate::lookup::master_key(kept)?),
        None => (file.clone(), custodian_store::Key::generate()),
    };
    if !source.exists() {
        let store = Store::open(&format!("sqlite://{}?mode=rwc", source.display()), 8, key.clone()).await?;
        eprintln!("backup: generating {} customers ...", thousands(s.customers as u64));
        crate::retention::generate(&store, s.customers).await?;
        store.close().await;
    }
    if source != file {
        eprintln!("backup: copying {} ...", source.display());
        std::fs::copy(&source, &file).with_context(|| format!("copying {}", source.display()))?;
    }
    Ok((file, key))
}

fn ours(bin: &Path, dir: &Path, url: &str, key: &custodian_store::Key) -> anyhow::Result<(Run, u64)> {
    let mut cmd = clean_command(bin);
    cmd.arg("--data-dir")
        .arg(dir)
        .args(["backup", "run"])
        .env("CUSTODIAN_MASTER_KEY", key.to_hex().as_str())
        .env("CUSTODIAN_DATABASE_URL", url)
        .env("CUSTODIAN_BACKUP_PASSWORD", PASSWORD);
    let run = run_measured(cmd)?;
    if !run.status.success() {
        bail!("custodian backup run failed: {}", run.stderr);
    }
    let uploaded = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("uploaded: "))
        .and_then(|l| l.trim_end_matches(" bytes").parse().ok())
        .context("custodian backup run did not report its upload")?;
    Ok((run, uploaded))
}

fn restic(repo: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("restic");
    cmd.arg("--repo").arg(repo).args(args).env("RESTIC_PASSWORD", PASSWORD).env("RESTIC_CACHE_DIR", repo.join("cache"));
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    cmd
}

fn restic_backup(repo: &Path, file: &Path) -> anyhow::Result<(Run, u64)> {
    let mut cmd = restic(repo, &["backup", "--json", "--host", "bench"]);
    cmd.arg(file);
    let run = run_measured(cmd)?;
    if !run.status.success() {
        bail!("restic backup failed: {}", run.stderr);
    }
    let added = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message_type"] == "summary")
        // Newer restic reports the packed (compressed) size; 0.14 only the added data.
        .and_then(|v| v["data_added_packed"].as_u64().or(v["data_added"].as_u64()))
        .context("restic printed no summary")?;
    Ok((run, added))
}

pub async fn run(settings: &Settings) -> anyhow::Result<(Table, Vec<Outcome>)> {
    let bin = custodian_binary()?;
    if Command::new("restic").arg("version").output().is_err() {
        bail!("restic not found: install Debian's restic (apt-get install restic)");
    }
    // Beside the kept database: the copy and both repositories on the same disk.
    let near = settings.db.as_deref().and_then(Path::parent).filter(|p| !p.as_os_str().is_empty());
    let data = tempfile::tempdir_in(near.map_or_else(std::env::temp_dir, Path::to_path_buf))?;
    let (file, key) = prepare(data.path(), settings).await?;
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let (pool, _) = custodian_store::db::connect(&url, 2).await?;
    let customers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers").fetch_one(&pool).await?;
    pool.close().await;
    let size = std::fs::metadata(&file)?.len();

    let work = tempfile::tempdir_in(data.path())?;
    let repo = work.path().join("custodian-repo");
    std::fs::write(
        work.path().join("custodian.toml"),
        format!("[backup]\nservice = \"fs\"\n[backup.options]\nroot = \"{}\"\n", repo.display()),
    )?;
    let restic_repo = work.path().join("restic-repo");
    let init = restic(&restic_repo, &["init"]).output()?;
    if !init.status.success() {
        bail!("restic init failed: {}", String::from_utf8_lossy(&init.stderr));
    }

    eprintln!("backup: custodian backup run (full) ...");
    let (full, full_bytes) = ours(&bin, work.path(), &url, &key)?;
    eprintln!("backup: restic backup (full) ...");
    let (restic_full, restic_full_bytes) = restic_backup(&restic_repo, &file)?;

    let changed = customers / 100;
    let (pool, _) = custodian_store::db::connect(&url, 2).await?;
    sqlx::query("UPDATE customers SET company_name = randomblob(length(company_name)), updated_at = updated_at + 1 WHERE id % 100 = 0")
        .execute(&pool)
        .await?;
    // Into the database file itself, which is what restic reads.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool).await?;
    pool.close().await;

    eprintln!("backup: custodian backup run (after 1% changed) ...");
    let (incr, incr_bytes) = ours(&bin, work.path(), &url, &key)?;
    eprintln!("backup: restic backup (after 1% changed) ...");
    let (restic_incr, restic_incr_bytes) = restic_backup(&restic_repo, &file)?;

    let mut t = Table::measurement(format!(
        "[7] backup of {} customers / {} database (sqlite)",
        thousands(customers as u64),
        megabytes(size)
    ));
    let speed_pass = full.wall <= restic_full.wall;
    let share = incr_bytes as f64 / full_bytes as f64;
    let incr_pass = share <= MAX_INCREMENTAL;
    let peak = full.peak.max(incr.peak);
    let mem_pass = peak < MAX_PEAK_BYTES;
    t.row([
        "full backup".to_string(),
        format!("{:.1} s", full.wall.as_secs_f64()),
        format!("{:.1} s", restic_full.wall.as_secs_f64()),
        ratio(full.wall.as_secs_f64(), restic_full.wall.as_secs_f64()),
        "<= 1.00x".into(),
        verdict(speed_pass),
    ]);
    t.row([
        format!("upload after {} changed", thousands(changed as u64)),
        format!("{} ({:.2}%)", megabytes(incr_bytes), share * 100.0),
        format!(
            "{} ({:.2}%)",
            megabytes(restic_incr_bytes),
            restic_incr_bytes as f64 * 100.0 / restic_full_bytes as f64
        ),
        String::new(),
        "<= 5% of full".into(),
        verdict(incr_pass),
    ]);
    t.row([
        "incremental backup time".to_string(),
        format!("{:.1} s", incr.wall.as_secs_f64()),
        format!("{:.1} s", restic_incr.wall.as_secs_f64()),
    ]);
    t.row([
        "peak RSS".to_string(),
        megabytes(peak),
        megabytes(restic_full.peak.max(restic_incr.peak)),
        String::new(),
        "< 256 MB".into(),
        verdict(mem_pass),
    ]);
    t.note(format!("full upload: ours {}, restic {}", megabytes(full_bytes), megabytes(restic_full_bytes)));
    t.note("ours: the real binary, pinned snapshot + chunking + encryption + upload to a local directory; restic: the same database file, same disk");
    let outcomes = vec![
        Outcome::new(
            "7 backup time vs restic",
            "sqlite",
            ratio(full.wall.as_secs_f64(), restic_full.wall.as_secs_f64()),
            "<= 1x",
            speed_pass,
        ),
        Outcome::new(
            "7 incremental upload after 1% changed",
            "sqlite",
            format!("{:.2}%", share * 100.0),
            "<= 5%",
            incr_pass,
        ),
        Outcome::new("7 backup peak RSS", "sqlite", megabytes(peak), "< 256 MB", mem_pass),
    ];
    Ok((t, outcomes))
}
