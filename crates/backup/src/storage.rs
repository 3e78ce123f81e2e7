//! The repository's storage: rustic's backend traits over an OpenDAL operator,
//! so any service OpenDAL has (a local directory, S3-compatible object storage,
//! Dropbox, WebDAV, SFTP) holds the restic layout. The provider stores only
//! what rustic has already encrypted here.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use opendal::blocking::Operator;
use rustic_core::{BytesList, ErrorKind, FileType, Id, ReadBackend, RusticError, RusticResult, WriteBackend};

use crate::BackupError;

/// The services a repository can live on, by their OpenDAL scheme.
pub const SERVICES: [&str; 5] = ["fs", "s3", "dropbox", "webdav", "sftp"];

/// Where files are written before they are renamed into place, on services
/// whose writes are not atomic by themselves.
const STAGE: &str = ".tmp";

pub struct Storage {
    op: Operator,
    location: String,
    /// Write to [`STAGE`] first, then rename: SFTP writes into the file
    /// itself, and many WebDAV servers do as well.
    staged: bool,
}

impl Storage {
    /// An operator for `service` with OpenDAL's `options` (e.g. `root`,
    /// `bucket`, `endpoint`). Must be called inside a tokio runtime; the
    /// blocking calls rustic makes are then run on it.
    pub fn open(service: &str, options: &BTreeMap<String, String>) -> Result<Storage, BackupError> {
        if !SERVICES.contains(&service) {
            return Err(BackupError::Config(format!(
                "backup service \"{service}\" is not one of {}",
                SERVICES.join(", ")
            )));
        }
        // reqwest is built without a bundled provider: the workspace's is ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        opendal::init_default_registry();
        opendal_http_transport_reqwest::install_default();
        let mut options = options.clone();
        if service == "fs" {
            // Whole files appear by rename, so a killed run never leaves a
            // truncated snapshot or index file behind.
            let root = options.get("root").cloned().unwrap_or_default();
            if root.is_empty() {
                return Err(BackupError::Config("backup option root (the directory) is missing".into()));
            }
            std::fs::create_dir_all(&root).map_err(|e| BackupError::Storage(format!("{root}: {e}")))?;
            options.entry("atomic_write_dir".into()).or_insert_with(|| format!("{root}/{STAGE}"));
        }
        if service == "sftp" && options.contains_key("password") {
            // The ssh client signs in non-interactively: a password would go unused.
            return Err(BackupError::Config(
                "backup service sftp takes no password: it signs in with the private key file in option key".into(),
            ));
        }
        let location =
            format!("{service}:{}", options.get("bucket").or(options.get("root")).cloned().unwrap_or_default());
        let op = opendal::Operator::via_iter(service, options)
            .map_err(|e| BackupError::Config(format!("backup storage {service}: {e}")))?
            .layer(opendal::layers::RetryLayer::new().with_max_times(4));
        let op = Operator::new(op).map_err(|e| BackupError::Storage(e.to_string()))?;
        Ok(Storage { op, location, staged: matches!(service, "sftp" | "webdav") })
    }
}

fn path(tpe: FileType, id: &Id) -> String {
    let hex = id.to_hex();
    match tpe {
        FileType::Config => "config".into(),
        FileType::Pack => format!("data/{}/{}", &hex[..2], &*hex),
        _ => format!("{}/{}", tpe.dirname(), &*hex),
    }
}

fn failed(what: &str, path: &str, e: opendal::Error) -> Box<RusticError> {
    RusticError::with_source(ErrorKind::Backend, "storage: {what} {path} failed", e)
        .attach_context("what", what.to_string())
        .attach_context("path", path.to_string())
}

impl ReadBackend for Storage {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn list_with_size(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        if tpe == FileType::Config {
            return Ok(match self.op.stat("config") {
                Ok(meta) => vec![(Id::default(), meta.content_length() as u32)],
                Err(e) if e.kind() == opendal::ErrorKind::NotFound => vec![],
                Err(e) => return Err(failed("stat", "config", e)),
            });
        }
        let dir = format!("{}/", tpe.dirname());
        let entries =
            match self.op.lister_options(&dir, opendal::options::ListOptions { recursive: true, ..Default::default() })
            {
                Ok(lister) => lister,
                Err(e) if e.kind() == opendal::ErrorKind::NotFound => return Ok(vec![]),
                Err(e) => return Err(failed("list", &dir, e)),
            };
        let mut out = vec![];
        for entry in entries {
            let entry = entry.map_err(|e| failed("list", &dir, e))?;
            if !entry.metadata().is_file() {
                continue;
            }
            // Anything that is not a 64-digit name (a temporary file) is not ours.
            let Ok(id) = entry.name().parse::<Id>() else { continue };
            let size = match entry.metadata().content_length() {
                0 => self.op.stat(entry.path()).map_err(|e| failed("stat", entry.path(), e))?.content_length(),
                n => n,
            };
            out.push((id, size as u32));
        }
        Ok(out)
    }

    fn read_full(&self, tpe: FileType, id: &Id) -> RusticResult<Bytes> {
        let p = path(tpe, id);
        Ok(self.op.read(&p).map_err(|e| failed("read", &p, e))?.to_bytes())
    }

    fn read_partial(&self, tpe: FileType, id: &Id, _cacheable: bool, offset: u32, length: u32) -> RusticResult<Bytes> {
        let p = path(tpe, id);
        let range = u64::from(offset)..u64::from(offset) + u64::from(length);
        let opts = opendal::options::ReadOptions { range: range.into(), ..Default::default() };
        Ok(self.op.read_options(&p, opts).map_err(|e| failed("read", &p, e))?.to_bytes())
    }

    fn warmup_path(&self, tpe: FileType, id: &Id) -> String {
        path(tpe, id)
    }
}

impl WriteBackend for Storage {
    fn write_bytes(&self, tpe: FileType, id: &Id, _cacheable: bool, content: BytesList) -> RusticResult<()> {
        let p = path(tpe, id);
        let buffer: opendal::Buffer = content.into_vec().into_iter().collect();
        if !self.staged {
            self.op.write(&p, buffer).map_err(|e| failed("write", &p, e))?;
            return Ok(());
        }
        // Whole files appear by rename, so a killed run never leaves a
        // truncated snapshot or index file behind (as with "fs").
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let (hex, n) = (id.to_hex(), WRITES.fetch_add(1, Ordering::Relaxed));
        let staged = format!("{STAGE}/{}-{}-{n}", &*hex, std::process::id());
        self.op.write(&staged, buffer).map_err(|e| failed("write", &staged, e))?;
        if let Err(e) = self.op.rename(&staged, &p) {
            let _ = self.op.delete(&staged);
            return Err(failed("rename", &p, e));
        }
        Ok(())
    }

    fn remove(&self, tpe: FileType, id: &Id, _cacheable: bool) -> RusticResult<()> {
        let p = path(tpe, id);
        self.op.delete(&p).map_err(|e| failed("delete", &p, e))
    }
}
