//! Encrypted backups of the custodian database, and restores that never bring
//! erased people back.
//!
//! A backup is a consistent copy of the database as a SQLite file (whatever the
//! engine), plus the erasure journal as a separate file, stored as a snapshot
//! in a restic-format repository through rustic: split into fixed-size
//! chunks, deduplicated and encrypted on this machine before
//! anything is written to the storage ([`storage`]). A restore downloads a
//! snapshot, replays the newest erasure journal the repository (and, when
//! given, the live database) holds on that copy, and only then fills the
//! target, which stays marked unusable until the last step.
#![forbid(unsafe_code)]

mod copy;
mod repo;
mod retention;
pub mod storage;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use custodian_store::{JournalEntry, Key, ReplayReport, Store};
use serde::{Deserialize, Serialize};

pub use repo::{SnapshotInfo, read_journal, time_text};
pub use retention::forget;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("backup configuration: {0}")]
    Config(String),
    #[error("backup storage: {0}")]
    Storage(String),
    #[error("backup repository: {0}")]
    Repository(String),
    #[error("the backup password does not open this repository (or its key file was altered)")]
    WrongPassword,
    #[error("{0}")]
    NoSnapshot(String),
    #[error("another backup, verify or restore of this installation is running; try again when it has finished")]
    Busy,
    #[error("the snapshot is damaged: {0}")]
    Damaged(String),
    #[error("restore target: {0}")]
    Target(String),
    #[error("{0}")]
    Store(#[from] custodian_store::StoreError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("snapshot file: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// `[backup]` of the configuration file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// OpenDAL service of the repository (see [`storage::SERVICES`]); unset:
    /// no backups.
    pub service: Option<String>,
    /// The service's options: `root` for a directory, `bucket`, `endpoint`,
    /// `region`, `access_key_id` for S3, and so on.
    pub options: BTreeMap<String, String>,
    /// File holding the repository password (environment:
    /// `CUSTODIAN_BACKUP_PASSWORD`).
    pub password_file: Option<PathBuf>,
    /// Every nightly snapshot of this many days is kept (A16: two weeks).
    pub keep_days: u32,
    /// Nothing older is kept (A16: two months), except the newest snapshot.
    pub max_days: u32,
    /// Hour (UTC) after which `serve` makes the nightly backup.
    pub hour: u8,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            service: None,
            options: BTreeMap::new(),
            password_file: None,
            keep_days: 14,
            max_days: 60,
            hour: 2,
        }
    }
}

impl BackupConfig {
    /// The option that holds the service's secret, set from
    /// `CUSTODIAN_BACKUP_SECRET` so it need not be in the file.
    pub fn secret_option(service: &str) -> Option<&'static str> {
        match service {
            "s3" => Some("secret_access_key"),
            "dropbox" => Some("access_token"),
            "webdav" => Some("password"),
            // SFTP signs in with the key file named in option `key`.
            _ => None,
        }
    }

    /// What is wrong with the values, if anything (names the key, never a value).
    pub fn problem(&self) -> Option<String> {
        if let Some(s) = &self.service
            && !storage::SERVICES.contains(&s.as_str())
        {
            return Some(format!("service must be one of {}", storage::SERVICES.join(", ")));
        }
        if self.keep_days == 0 || self.keep_days > self.max_days {
            return Some("keep_days must be at least 1 and at most max_days".into());
        }
        if self.hour > 23 {
            return Some("hour must be 0 to 23 (UTC)".into());
        }
        None
    }
}

/// Everything a backup command needs.
#[derive(Clone)]
pub struct Settings {
    pub service: String,
    pub options: BTreeMap<String, String>,
    pub password: secrecy::SecretString,
    pub keep_days: u32,
    pub max_days: u32,
    /// A local directory for the snapshot file on its way in or out (0700).
    pub work_dir: PathBuf,
}

/// An erasure journal entry as stored beside each snapshot: pseudonymous IDs only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Erased {
    pub seq: i64,
    pub kind: String,
    pub id: String,
    pub at: i64,
    pub reason: String,
}

impl From<Erased> for JournalEntry {
    fn from(e: Erased) -> Self {
        JournalEntry { seq: e.seq, subject_kind: e.kind, subject_id: e.id, erased_at: e.at, reason: e.reason }
    }
}

/// The outcome of `backup run`.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub snapshot: SnapshotInfo,
    /// Bytes the storage received for this snapshot (after deduplication).
    pub uploaded_bytes: u64,
    pub forgotten: usize,
    /// The newest erasure journal position the snapshot holds.
    pub journal_position: i64,
}

/// The outcome of `backup verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub snapshot: SnapshotInfo,
    pub customers: i64,
    pub audit_entries: u64,
    pub journal_entries: usize,
}

/// The outcome of `backup restore`.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub snapshot: SnapshotInfo,
    pub journal_entries: usize,
    /// When the newest journal in the repository was taken (seconds, UTC):
    /// what was erased after it is only known to the old database, if any.
    pub journal_time: Option<i64>,
    pub replayed: ReplayReport,
}

fn fresh_dir(dir: &Path) -> Result<(), BackupError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Held while a command uses the work directory and the repository: two at
/// once would share the staging directories, and two first runs would each
/// make a repository at the same place. The lock goes with the file handle, so
/// a killed run never leaves it held.
struct Lock(#[allow(dead_code)] std::fs::File);

impl Lock {
    fn take(settings: &Settings) -> Result<Lock, BackupError> {
        std::fs::create_dir_all(&settings.work_dir)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(settings.work_dir.join("lock"))?;
        match file.try_lock() {
            Ok(()) => Ok(Lock(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(BackupError::Busy),
            Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
        }
    }
}

/// Makes a snapshot of the database at `database_url` while it keeps serving,
/// stores it, and forgets what the retention rules no longer keep. A run
/// killed at any point leaves no snapshot and nothing the next run trips over.
pub async fn run(settings: &Settings, database_url: &str) -> Result<RunReport, BackupError> {
    let _lock = Lock::take(settings)?;
    let stage = settings.work_dir.join("stage");
    fresh_dir(&stage)?;
    let stored = stage_and_store(settings, database_url, &stage).await;
    // The stage may hold a hard link to the live database: never left behind
    // (one left by a killed run goes with `fresh_dir` above).
    let removed = std::fs::remove_dir_all(&stage);
    let report = stored?;
    removed?;
    Ok(report)
}

async fn stage_and_store(settings: &Settings, database_url: &str, stage: &Path) -> Result<RunReport, BackupError> {
    let image = copy::snapshot(database_url, &stage.join(repo::DB_FILE)).await?;
    copy::write_journal(&stage.join(repo::JOURNAL_FILE), &image.journal)?;
    let journal_position = image.journal.last().map_or(0, |e| e.seq);
    let repo = repo::Repo::open_or_init(settings).await?;
    let (snapshot, uploaded_bytes) = repo.backup(stage.to_path_buf(), repo::Kind::Database).await?;
    drop(image);
    let forgotten = repo.apply_retention(settings.keep_days, settings.max_days).await?;
    Ok(RunReport { snapshot, uploaded_bytes, forgotten, journal_position })
}

/// Stores the live database's erasure journal on its own (a small snapshot),
/// so erasures made since the last backup survive the loss of the database.
/// Returns the journal's newest position.
pub async fn push_journal(settings: &Settings, database_url: &str) -> Result<i64, BackupError> {
    let _lock = Lock::take(settings)?;
    let stage = settings.work_dir.join("journal");
    fresh_dir(&stage)?;
    let journal = copy::journal_of_url(database_url).await?;
    copy::write_journal(&stage.join(repo::JOURNAL_FILE), &journal)?;
    let repo = repo::Repo::open_or_init(settings).await?;
    repo.backup(stage.clone(), repo::Kind::Journal).await?;
    repo.apply_retention(settings.keep_days, settings.max_days).await?;
    std::fs::remove_dir_all(&stage)?;
    Ok(journal.last().map_or(0, |e| e.seq))
}

/// When the newest erasure journal in the repository was taken (seconds,
/// UTC), if there is one.
pub async fn newest_journal_time(settings: &Settings) -> Result<Option<i64>, BackupError> {
    let repo = repo::Repo::open(settings).await?;
    Ok(repo.newest_journal_at().await?.map(|(t, _)| t))
}

/// The newest position of the erasure journal the repository holds (0 when
/// there is no repository or no journal yet).
pub async fn stored_journal_position(settings: &Settings) -> Result<i64, BackupError> {
    let repo = match repo::Repo::open(settings).await {
        Err(BackupError::NoSnapshot(_)) => return Ok(0),
        repo => repo?,
    };
    Ok(repo.newest_journal().await?.last().map_or(0, |e| e.seq))
}

/// The newest position of the live database's erasure journal.
pub async fn journal_position(database_url: &str) -> Result<i64, BackupError> {
    copy::journal_position(database_url).await
}

/// The restore points, oldest first.
pub async fn list(settings: &Settings) -> Result<Vec<SnapshotInfo>, BackupError> {
    repo::Repo::open(settings).await?.snapshots(repo::Kind::Database).await
}

/// Downloads the restore point of `at` (the newest when `None`), decrypts it
/// (every chunk's authentication checked), checks it as a SQLite database, and
/// opens it with `master` and checks its audit chain.
pub async fn verify(settings: &Settings, at: Option<i64>, master: Key) -> Result<VerifyReport, BackupError> {
    let _lock = Lock::take(settings)?;
    let dir = settings.work_dir.join("verify");
    fresh_dir(&dir)?;
    let repo = repo::Repo::open(settings).await?;
    let snapshot = repo.pick(at).await?;
    let db = dir.join(repo::DB_FILE);
    repo.download(&snapshot, repo::DB_FILE, &db).await?;
    let journal = repo.journal_of(&snapshot).await?;
    copy::check_file(&db).await?;
    let store = Store::open(&copy::sqlite_url(&db), 2, master).await?;
    let result = async {
        let verification = store.audit_verify().await?;
        if let Some(problem) = verification.problem {
            return Err(BackupError::Damaged(format!("audit chain broken at entry {}", problem.seq)));
        }
        let customers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers").fetch_one(store.pool()).await?;
        Ok(VerifyReport { snapshot, customers, audit_entries: verification.entries, journal_entries: journal.len() })
    }
    .await;
    store.close().await;
    std::fs::remove_dir_all(&dir)?;
    result
}

/// Restores the restore point of `at` (the newest when `None`) into the empty
/// database `target_url` (SQLite or PostgreSQL). Before the target receives
/// anything, everyone the newest journal in the repository, or the journal of
/// the database at `journal_from`, records as erased is erased again on the
/// downloaded copy. The target carries a mark that makes custodian refuse it
/// until the last step has succeeded.
pub async fn restore(
    settings: &Settings,
    at: Option<i64>,
    target_url: &str,
    journal_from: Option<&str>,
    master: Key,
) -> Result<RestoreReport, BackupError> {
    let _lock = Lock::take(settings)?;
    copy::check_target_empty(target_url).await?;
    let dir = settings.work_dir.join("restore");
    fresh_dir(&dir)?;
    let repo = repo::Repo::open(settings).await?;
    let snapshot = repo.pick(at).await?;
    let db = dir.join(repo::DB_FILE);
    repo.download(&snapshot, repo::DB_FILE, &db).await?;
    copy::check_file(&db).await?;
    // The journal survives in every later snapshot and in the journal
    // snapshots pushed after erasures: the newest of them knows the most.
    let (journal_time, newest) = repo.newest_journal_at().await?.unzip();
    let mut journal: Vec<JournalEntry> = newest.unwrap_or_default().into_iter().map(Into::into).collect();
    if let Some(url) = journal_from {
        journal.extend(copy::journal_of_url(url).await?.into_iter().map(Into::into));
    }
    let store = Store::open(&copy::sqlite_url(&db), 2, master).await?;
    let replayed = store.replay_erasure_journal(&journal).await;
    store.close().await;
    let replayed = replayed?;
    copy::fill(&db, target_url).await?;
    std::fs::remove_dir_all(&dir)?;
    Ok(RestoreReport { snapshot, journal_entries: journal.len(), journal_time, replayed })
}

/// `--at`: an RFC 3339 time, or a date (the end of that day, UTC).
pub fn parse_time(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp());
    }
    let date = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.with_hms(23, 59, 59).ok()?.assume_utc().unix_timestamp())
}
