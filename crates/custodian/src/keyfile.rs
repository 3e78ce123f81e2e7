//! The master key on disk, and opening the store with it.
//!
//! Rotation writes the new key to `<key file>.next` before the database
//! re-wraps anything, and renames it over the key file after the commit. If the
//! process dies in between, the next start finds both files and uses the one the
//! database accepts, finishing or discarding the rotation.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use custodian_store::{Access, Key, Store, StoreError};
use secrecy::ExposeSecret;

use crate::config::Config;

fn next_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".next");
    PathBuf::from(p)
}

/// Writes `key` to a new file readable by the owner only, and syncs it.
fn write_new(path: &Path, key: &Key) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating key file {}", path.display()))?;
    f.write_all(key.to_hex().as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    sync_dir(path);
    Ok(())
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().and_then(|d| std::fs::File::open(d).ok()) {
        let _ = dir.sync_all();
    }
}

fn read(path: &Path) -> anyhow::Result<Key> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading key file {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "key file {} is readable by others (mode {:o}); run: chmod 600 {}",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        );
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading key file {}", path.display()))?;
    Key::from_hex(&text).with_context(|| format!("key file {}", path.display()))
}

/// Whether this configuration has a master key to use.
pub fn exists(config: &Config) -> bool {
    config.master_key_env.is_some() || config.master_key_file.exists()
}

/// The configured master key, without opening any database (backup and
/// restore check it against the snapshot instead).
pub fn master_key(config: &Config) -> anyhow::Result<Key> {
    match &config.master_key_env {
        Some(hex) => Key::from_hex(hex.expose_secret()).context("CUSTODIAN_MASTER_KEY"),
        None => read(&config.master_key_file),
    }
}

/// Creates the data directory and a fresh master key file. Refuses to replace
/// an existing key: losing it makes all personal data unreadable.
pub fn create(config: &Config) -> anyhow::Result<Key> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating {}", config.data_dir.display()))?;
    let _ = std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700));
    if config.master_key_file.exists() {
        bail!("key file {} already exists; not replacing it", config.master_key_file.display());
    }
    let key = Key::generate();
    write_new(&config.master_key_file, &key)?;
    Ok(key)
}

/// Opens the store with the configured master key, completing or discarding an
/// interrupted rotation.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let settings = custodian_domain::policy::Settings { staff_accounts: config.staff_accounts };
    Ok(open_with_key(config).await?.with_policy_settings(settings))
}

async fn open_with_key(config: &Config) -> anyhow::Result<Store> {
    let url = &config.database_url;
    let max = config.db_max_connections;
    if let Some(hex) = &config.master_key_env {
        let key = Key::from_hex(hex.expose_secret()).context("CUSTODIAN_MASTER_KEY")?;
        return Ok(Store::open(url, max, key).await?);
    }
    let path = &config.master_key_file;
    let next = next_path(path);
    let current = read(path)?;
    match Store::open(url, max, current).await {
        Ok(store) => {
            if next.exists() {
                // The rotation never committed: the new key was never used.
                std::fs::remove_file(&next).with_context(|| format!("removing {}", next.display()))?;
            }
            Ok(store)
        }
        Err(StoreError::WrongMasterKey { given, expected }) if next.exists() => {
            let store = Store::open(url, max, read(&next)?).await.with_context(|| {
                format!(
                    "neither {} ({given}) nor its pending replacement opens the database (expects {expected})",
                    path.display()
                )
            })?;
            std::fs::rename(&next, path).with_context(|| format!("finishing key rotation into {}", path.display()))?;
            sync_dir(path);
            Ok(store)
        }
        Err(e) => Err(e.into()),
    }
}

/// Rotates the master key: new key on disk first, then the database re-wraps,
/// then the new key replaces the old file. Returns the number of data keys.
pub async fn rotate(config: &Config, store: &Store, access: &Access) -> anyhow::Result<(u64, String)> {
    let new = Key::generate();
    let target = &config.master_key_file;
    let next = next_path(target);
    if next.exists() {
        bail!("{} exists: an earlier rotation is unfinished; run any command once to settle it", next.display());
    }
    write_new(&next, &new)?;
    let count = match store.rotate_master_key(access, &new).await {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&next);
            return Err(e.into());
        }
    };
    std::fs::rename(&next, target).with_context(|| format!("moving the new key into {}", target.display()))?;
    sync_dir(target);
    Ok((count, new.fingerprint()))
}
