//! Connection pools and migrations for both engines. All SQL in this crate is
//! written once, with `$1`-style placeholders that SQLite and PostgreSQL both read,
//! and runs through sqlx's `Any` driver.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Connection, Executor, Transaction};

use crate::StoreError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn of_url(url: &str) -> Result<Engine, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Engine::Postgres)
        } else {
            Err(StoreError::Config("database_url must start with sqlite: or postgres:".into()))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// SQLite settings: WAL so readers never block the writer, FULL sync so a
/// committed audit entry survives power loss, foreign keys on, and deleted
/// content overwritten so erased ciphertext does not linger in free pages.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;
PRAGMA secure_delete = ON;
PRAGMA busy_timeout = 10000;
PRAGMA temp_store = MEMORY;";

/// How long a pooled PostgreSQL connection may have been idle before it is
/// pinged on checkout.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(1);

pub async fn connect(url: &str, max_connections: u32) -> Result<(AnyPool, Engine), StoreError> {
    sqlx::any::install_default_drivers();
    let engine = Engine::of_url(url)?;
    let options = AnyConnectOptions::from_str(url).map_err(|e| StoreError::Config(format!("database_url: {e}")))?;
    let file = match engine {
        Engine::Sqlite => sqlite_file(url)?,
        Engine::Postgres => None,
    };
    if let Some(file) = &file {
        files::prepare(file, url.contains("mode=rwc"))?;
    }
    // A request waits at most this long for a connection: when the database
    // cannot be reached, pages answer "try again" (503) instead of hanging.
    let mut pool =
        AnyPoolOptions::new().max_connections(max_connections.max(1)).acquire_timeout(Duration::from_secs(5));
    // sqlx pings every connection it hands out. An embedded connection cannot
    // go stale; a PostgreSQL one used moments ago is alive, and under load every
    // one was, so only one idle for a while is checked (its server may have
    // restarted meanwhile) and replaced when the ping fails.
    pool = pool.test_before_acquire(false);
    pool = match engine {
        Engine::Sqlite => pool.after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(SQLITE_PRAGMAS).await?;
                Ok(())
            })
        }),
        Engine::Postgres => pool.before_acquire(|conn, meta| {
            Box::pin(async move { Ok(meta.idle_for < CHECK_AFTER_IDLE || conn.ping().await.is_ok()) })
        }),
    };
    let pool = pool.connect_with(options).await?;
    if let Some(file) = &file {
        // The first connection switched to WAL, making the -wal and -shm files.
        files::owner_only(file)?;
    }
    Ok((pool, engine))
}

/// The database file of a SQLite URL; `None` for a database in memory.
fn sqlite_file(url: &str) -> Result<Option<std::path::PathBuf>, StoreError> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("database_url: {e}")))?;
    let path = options.get_filename();
    let in_memory = url.contains("mode=memory") || path.as_os_str().is_empty() || path.starts_with("file:");
    Ok((!in_memory).then(|| path.to_path_buf()))
}

/// SQLite's files, the database and its `-wal` and `-shm` files, are for the
/// owner alone (mode 0600), like the master key file: they hold ciphertext,
/// and the audit trail and blind indexes beside it.
#[cfg(unix)]
pub(crate) mod files {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    use std::path::{Path, PathBuf};

    use crate::StoreError;

    /// Before SQLite opens `file`: a missing database file (with `create`) is
    /// made empty with mode 0600, as SQLite then gives its `-wal` and `-shm`
    /// files the database file's mode; existing files are checked.
    pub fn prepare(file: &Path, create: bool) -> Result<(), StoreError> {
        if create && !file.exists() {
            let made = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(file);
            match made {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                // The directory may be missing: SQLite says so in its own words.
                Err(_) => return Ok(()),
            }
        }
        owner_only(file)
    }

    /// Every one of the database's files that group or others may read or
    /// write is set to 0600 (with a warning); one that cannot be changed is
    /// refused with the command that fixes it.
    pub fn owner_only(file: &Path) -> Result<(), StoreError> {
        for path in [file.to_path_buf(), beside(file, "-wal"), beside(file, "-shm")] {
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 == 0 {
                continue;
            }
            match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
                Ok(()) => tracing::warn!(
                    path = %path.display(),
                    "database file was readable by others (mode {mode:o}); its mode is now 600"
                ),
                Err(e) => {
                    return Err(StoreError::Config(format!(
                        "database file {} is readable by others (mode {mode:o}) and cannot be changed ({e}); run: chmod 600 {}",
                        path.display(),
                        path.display()
                    )));
                }
            }
        }
        Ok(())
    }

    /// `custodian.db` → `custodian.db-wal`: SQLite's names for its side files.
    fn beside(file: &Path, suffix: &str) -> PathBuf {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    }
}

#[cfg(not(unix))]
pub(crate) mod files {
    use std::path::Path;

    use crate::StoreError;

    pub fn prepare(_file: &Path, _create: bool) -> Result<(), StoreError> {
        Ok(())
    }

    pub fn owner_only(_file: &Path) -> Result<(), StoreError> {
        Ok(())
    }
}

pub async fn migrate(pool: &AnyPool, engine: Engine) -> Result<(), StoreError> {
    let migrator = match engine {
        Engine::Sqlite => &SQLITE_MIGRATIONS,
        Engine::Postgres => &POSTGRES_MIGRATIONS,
    };
    migrator.run(pool).await.map_err(|e| StoreError::Migration(e.to_string()))
}

/// Opens a writing transaction. Its first statement is a write to the audit chain
/// head, so on SQLite the transaction holds the write lock from the start (no
/// read-then-upgrade deadlocks) and on PostgreSQL the row lock orders writers.
/// Every change appends to the audit trail inside the same transaction.
pub async fn write_tx(pool: &AnyPool) -> Result<Transaction<'static, Any>, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1").execute(&mut *tx).await?;
    Ok(tx)
}

/// The columns of every table of ours in the live schema, as (table, column).
pub async fn live_columns(pool: &AnyPool, engine: Engine) -> Result<Vec<(String, String)>, StoreError> {
    let sql = match engine {
        Engine::Sqlite => {
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2"
        }
        Engine::Postgres => {
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() ORDER BY 1, 2"
        }
    };
    let rows: Vec<(String, String)> = sqlx::query_as(sql).fetch_all(pool).await?;
    Ok(rows)
}
