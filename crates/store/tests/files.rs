//! SQLite's files are the owner's alone: made with mode 0600, and tightened
//! to 0600 when found readable by others.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use custodian_store::db;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

fn beside(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn url(file: &Path) -> String {
    format!("sqlite://{}?mode=rwc", file.display())
}

async fn write_something(pool: &sqlx::AnyPool) {
    sqlx::query("CREATE TABLE IF NOT EXISTS t (x INTEGER)").execute(pool).await.unwrap();
    sqlx::query("INSERT INTO t (x) VALUES (1)").execute(pool).await.unwrap();
}

#[tokio::test]
async fn a_new_database_and_its_wal_and_shm_files_are_mode_600() {
    let dir = tempfile::tempdir().unwrap();
    // Whatever the process's umask would allow.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.path().join("custodian.db");
    let (pool, _) = db::connect(&url(&file), 2).await.unwrap();
    write_something(&pool).await;
    for path in [file.clone(), beside(&file, "-wal"), beside(&file, "-shm")] {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    pool.close().await;
    // A whole store made through `Store::open` too.
    let db = custodian_testkit::sqlite();
    let store = db.store().await;
    let file = db.dir.as_ref().unwrap().path().join("custodian.db");
    for path in [file.clone(), beside(&file, "-wal"), beside(&file, "-shm")] {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    store.close().await;
}

#[tokio::test]
async fn files_readable_by_others_are_made_private_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("custodian.db");
    let (pool, _) = db::connect(&url(&file), 2).await.unwrap();
    write_something(&pool).await;
    pool.close().await;
    // As an older version, a copy or a restore may have left them.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    for suffix in ["-wal", "-shm"] {
        let side = beside(&file, suffix);
        if !side.exists() {
            std::fs::write(&side, b"").unwrap();
        }
        std::fs::set_permissions(&side, std::fs::Permissions::from_mode(0o666)).unwrap();
    }
    // The stale -shm/-wal above are empty: SQLite rebuilds them.
    let (pool, _) = db::connect(&url(&file), 2).await.unwrap();
    write_something(&pool).await;
    for path in [file.clone(), beside(&file, "-wal"), beside(&file, "-shm")] {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    let rows: Vec<(i64,)> = sqlx::query_as("SELECT x FROM t").fetch_all(&pool).await.unwrap();
    assert_eq!(rows.len(), 2, "the data is still there");
    pool.close().await;
}
