//! The restic-format repository, through rustic. rustic's calls block, so each
//! runs on a blocking thread; the storage reaches back into the runtime.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustic_core::{
    BackupOptions, ConfigOptions, Credentials, KeyOptions, OpenStatus, PathList, PruneOptions, Repository,
    RepositoryBackends, RepositoryOptions, SnapshotOptions,
    repofile::{Chunker, SnapshotFile},
};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::storage::Storage;
use crate::{BackupError, Erased, Settings};

/// Names inside every snapshot (no personal data in any file name).
pub const DB_FILE: &str = "custodian.db";
pub const JOURNAL_FILE: &str = "erasure-journal.jsonl";
/// The path every snapshot is stored under, whatever the local directory was.
const AS_PATH: &str = "/custodian";
const HOST: &str = "custodian";
/// Fixed-size chunks of four SQLite pages: a snapshot file is a page-for-page
/// copy, so a changed row changes one chunk. Content-defined chunks of
/// restic's ~1 MiB would each hold a changed row when a few customers in every
/// thousand change; single pages (4 KiB) upload least after a change, but the
/// cost per chunk of rustic's pipeline then makes a full backup twice as slow
/// as restic's (see ARCHITECTURE.md for the figures).
const CHUNK: u64 = 16 * 1024;
/// Chunks are stored uncompressed (rustic's compression level 0). Most of a
/// page is sealed fields, which do not compress; zstd took 30% off the rest,
/// but rustic makes a new zstd context for every chunk it compresses and
/// checks, and each does a `cpuid`, which traps to the hypervisor on a
/// virtual machine: compression doubled the time of a full backup.
const COMPRESSION: i32 = 0;

/// Pack files of 8 MiB rather than rustic's 32 MiB, and at most 32 MiB as
/// the repository grows: rustic keeps several whole packs in memory on their
/// way to the storage, and when the storage is slower than encryption (as
/// without compression it often is) they filled the memory a backup may take.
const PACK: u64 = 8 * 1024 * 1024;
const PACK_LIMIT: u64 = 32 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A restore point: the database and its journal.
    Database,
    /// The journal alone, pushed after erasures between backups.
    Journal,
}

impl Kind {
    pub fn tag(self) -> &'static str {
        match self {
            Kind::Database => "database",
            Kind::Journal => "journal",
        }
    }
}

/// A snapshot as the commands show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The first 8 hex digits of the snapshot's ID, as restic shows it.
    pub id: String,
    /// Seconds since the epoch (UTC).
    pub time: i64,
    /// Bytes of the snapshot's files.
    pub size: u64,
    #[serde(skip)]
    full_id: String,
    #[serde(skip)]
    pub(crate) kind_journal: bool,
}

impl SnapshotInfo {
    fn of(s: &SnapshotFile) -> SnapshotInfo {
        let full_id = s.id.to_hex().to_string();
        SnapshotInfo {
            id: full_id.chars().take(8).collect(),
            time: s.time.timestamp().as_second(),
            size: s.summary.as_ref().map_or(0, |x| x.total_bytes_processed),
            full_id,
            kind_journal: s.tags.contains(Kind::Journal.tag()),
        }
    }

    #[cfg(test)]
    pub(crate) fn for_test(time: i64, journal: bool) -> SnapshotInfo {
        let full_id = format!("{time:064x}");
        SnapshotInfo { id: full_id[..8].into(), time, size: 0, full_id, kind_journal: journal }
    }

    pub fn time_text(&self) -> String {
        time_text(self.time)
    }
}

/// Seconds since the epoch as RFC 3339 (UTC).
pub fn time_text(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

// Takes the box as rustic's results carry it, so it serves `map_err` directly.
#[allow(clippy::boxed_local)]
fn repo_error(e: Box<rustic_core::RusticError>) -> BackupError {
    if e.is_incorrect_password() { BackupError::WrongPassword } else { BackupError::Repository(e.display_log()) }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BackupError> + Send + 'static,
) -> Result<T, BackupError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| BackupError::Repository(e.to_string()))?
}

type Open = Repository<OpenStatus>;

/// An open repository. Reading the index consumes rustic's handle and
/// dropping the index gives it back, so it lives in a slot.
#[derive(Clone)]
pub struct Repo {
    repo: Arc<Mutex<Option<Open>>>,
}

impl Repo {
    fn unopened(settings: &Settings) -> Result<Repository<()>, BackupError> {
        let storage = Storage::open(&settings.service, &settings.options)?;
        let backends = RepositoryBackends::new(Arc::new(storage), None);
        // No local cache: nothing of the repository lingers on this machine.
        let opts = RepositoryOptions::default().no_cache(true);
        Repository::new(&opts, &backends).map_err(repo_error)
    }

    fn of(repo: Open) -> Repo {
        Repo { repo: Arc::new(Mutex::new(Some(repo))) }
    }

    /// Runs `f` on a blocking thread with the repository, which `f` hands back.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(Open) -> Result<(T, Open), BackupError> + Send + 'static,
    ) -> Result<T, BackupError> {
        let slot = self.repo.clone();
        blocking(move || {
            let repo = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            let repo = repo.ok_or_else(|| BackupError::Repository("the repository is closed after an error".into()))?;
            let (out, repo) = f(repo)?;
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(repo);
            Ok(out)
        })
        .await
    }

    pub async fn open(settings: &Settings) -> Result<Repo, BackupError> {
        let repo = Self::unopened(settings)?;
        let password = settings.password.expose_secret().to_string();
        blocking(move || {
            if repo.config_id().map_err(repo_error)?.is_none() {
                return Err(BackupError::NoSnapshot(
                    "there is no backup repository at the configured storage yet".into(),
                ));
            }
            let repo = repo.open(&Credentials::password(password)).map_err(repo_error)?;
            Ok(Repo::of(repo))
        })
        .await
    }

    pub async fn open_or_init(settings: &Settings) -> Result<Repo, BackupError> {
        let repo = Self::unopened(settings)?;
        let password = settings.password.expose_secret().to_string();
        blocking(move || {
            let credentials = Credentials::password(password);
            let repo = match repo.config_id().map_err(repo_error)? {
                Some(_) => repo.open(&credentials),
                None => {
                    let config = ConfigOptions::default()
                        .set_chunker(Chunker::FixedSize)
                        .set_chunk_size(bytesize::ByteSize::b(CHUNK))
                        .set_compression(COMPRESSION)
                        .set_datapack_size(bytesize::ByteSize::b(PACK))
                        .set_datapack_size_limit(bytesize::ByteSize::b(PACK_LIMIT));
                    repo.init(&credentials, &KeyOptions::default(), &config)
                }
            }
            .map_err(repo_error)?;
            Ok(Repo::of(repo))
        })
        .await
    }

    /// Stores the files of `dir` as a new snapshot. The snapshot file is
    /// written last: until then no restore point exists, and the packs of a
    /// killed run are reused or pruned later. Returns it with the bytes the
    /// storage received.
    pub async fn backup(&self, dir: PathBuf, kind: Kind) -> Result<(SnapshotInfo, u64), BackupError> {
        self.with(move |repo| {
            let indexed = repo.to_indexed_ids().map_err(repo_error)?;
            let snap = SnapshotOptions::default()
                .host(HOST.to_string())
                .add_tags(kind.tag())
                .and_then(|s| s.to_snapshot())
                .map_err(repo_error)?;
            let opts = BackupOptions::default().as_path(PathBuf::from(AS_PATH));
            let dir = dir.to_str().ok_or_else(|| BackupError::Config("work directory is not UTF-8".into()))?;
            let source = PathList::from_string(dir).map_err(repo_error)?;
            let source = source.sanitize().map_err(|e| BackupError::Config(format!("work directory: {e}")))?;
            let snap = indexed.backup(&opts, &source, snap).map_err(repo_error)?;
            let uploaded = snap.summary.as_ref().map_or(0, |s| s.data_added_packed);
            Ok(((SnapshotInfo::of(&snap), uploaded), indexed.drop_index()))
        })
        .await
    }

    async fn all(&self) -> Result<Vec<SnapshotFile>, BackupError> {
        self.with(|repo| {
            let mut snaps = repo.get_all_snapshots().map_err(repo_error)?;
            snaps.sort_by_key(|s| s.time.timestamp());
            Ok((snaps, repo))
        })
        .await
    }

    /// Snapshots of `kind`, oldest first.
    pub async fn snapshots(&self, kind: Kind) -> Result<Vec<SnapshotInfo>, BackupError> {
        Ok(self.all().await?.iter().filter(|s| s.tags.contains(kind.tag())).map(SnapshotInfo::of).collect())
    }

    /// The newest restore point taken at or before `at` (the newest of all when `None`).
    pub async fn pick(&self, at: Option<i64>) -> Result<SnapshotInfo, BackupError> {
        let snaps = self.snapshots(Kind::Database).await?;
        snaps.into_iter().rev().find(|s| at.is_none_or(|t| s.time <= t)).ok_or_else(|| {
            BackupError::NoSnapshot(match at {
                Some(_) => "there is no restore point at or before that time".into(),
                None => "the repository holds no restore point yet".into(),
            })
        })
    }

    /// Writes `file` of snapshot `snap` to `out`, decrypting and checking every chunk.
    pub async fn download(&self, snap: &SnapshotInfo, file: &str, out: &Path) -> Result<(), BackupError> {
        let (id, file, out) = (snap.full_id.clone(), file.to_string(), out.to_path_buf());
        self.with(move |repo| {
            let indexed = repo.to_indexed().map_err(repo_error)?;
            let node =
                indexed.node_from_snapshot_path(&format!("{id}:{AS_PATH}/{file}"), |_| true).map_err(repo_error)?;
            let mut w = std::io::BufWriter::new(std::fs::File::create(&out)?);
            indexed.dump(&node, &mut w).map_err(repo_error)?;
            let f = w.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            Ok(((), indexed.drop_index()))
        })
        .await
    }

    /// The erasure journal stored beside snapshot `snap`.
    pub async fn journal_of(&self, snap: &SnapshotInfo) -> Result<Vec<Erased>, BackupError> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(JOURNAL_FILE);
        self.download(snap, JOURNAL_FILE, &path).await?;
        read_journal(std::io::BufReader::new(std::fs::File::open(&path)?))
    }

    /// The journal of the newest snapshot of either kind: it holds every
    /// erasure up to then (the journal is never shortened).
    pub async fn newest_journal(&self) -> Result<Vec<Erased>, BackupError> {
        Ok(self.newest_journal_at().await?.map(|(_, j)| j).unwrap_or_default())
    }

    /// The newest journal with the time (seconds, UTC) of the snapshot that
    /// carries it: erasures after that time are not in it.
    pub async fn newest_journal_at(&self) -> Result<Option<(i64, Vec<Erased>)>, BackupError> {
        match self.all().await?.last() {
            Some(newest) => {
                let info = SnapshotInfo::of(newest);
                Ok(Some((info.time, self.journal_of(&info).await?)))
            }
            None => Ok(None),
        }
    }

    /// Forgets the snapshots the retention rules no longer keep and prunes
    /// the data only they used. Returns how many were forgotten.
    pub async fn apply_retention(&self, keep_days: u32, max_days: u32) -> Result<usize, BackupError> {
        let snaps: Vec<SnapshotInfo> = self.all().await?.iter().map(SnapshotInfo::of).collect();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let gone = crate::retention::forget(&snaps, now, keep_days, max_days);
        if gone.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = gone.iter().map(|s| s.full_id.clone()).collect();
        self.with(move |repo| {
            let ids = repo.get_snapshots(&ids).map_err(repo_error)?.into_iter().map(|s| s.id).collect::<Vec<_>>();
            repo.delete_snapshots(&ids).map_err(repo_error)?;
            let opts = PruneOptions::default();
            let plan = repo.prune_plan(&opts).map_err(repo_error)?;
            repo.prune(&opts, plan).map_err(repo_error)?;
            Ok((ids.len(), repo))
        })
        .await
    }
}

/// Reads an erasure journal as stored beside a snapshot: one JSON entry per
/// line. Anything else is a damaged journal, never a panic.
pub fn read_journal(reader: impl BufRead) -> Result<Vec<Erased>, BackupError> {
    let mut out = vec![];
    for line in reader.lines() {
        let line = line?;
        let entry = serde_json::from_str(&line).map_err(|e| BackupError::Damaged(format!("erasure journal: {e}")))?;
        out.push(entry);
    }
    Ok(out)
}
