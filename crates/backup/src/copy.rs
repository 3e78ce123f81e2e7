//! The database side: a consistent snapshot of either engine as a SQLite file,
//! and that file poured into an empty SQLite file or PostgreSQL database.
//!
//! The snapshot is always a SQLite file with our SQLite schema, so one format
//! restores into either engine. Columns are INTEGER, TEXT or BLOB (BIGINT,
//! TEXT and BYTEA on PostgreSQL); tables are copied in the order they were
//! created, which is an order their foreign keys allow.

use std::io::Write;
use std::path::{Path, PathBuf};

use custodian_store::{Engine, RESTORE_MARKER, db};
use futures_util::TryStreamExt;
use rusqlite::types::Value;
use sqlx::{Connection, Executor, Row};

use crate::{BackupError, Erased};

/// Rows per message between the database thread and the other side.
const BATCH: usize = 2_000;

pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// The file of a `sqlite:` URL.
fn sqlite_path(url: &str) -> Result<PathBuf, BackupError> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(':') {
        return Err(BackupError::Config("a SQLite database must be a file".into()));
    }
    Ok(PathBuf::from(path))
}

async fn connect(url: &str) -> Result<sqlx::AnyConnection, BackupError> {
    sqlx::any::install_default_drivers();
    Ok(sqlx::AnyConnection::connect(url).await?)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BackupError> + Send + 'static,
) -> Result<T, BackupError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| BackupError::Repository(e.to_string()))?
}

/// A table of the snapshot file with its columns and their declared types.
struct Table {
    name: String,
    columns: Vec<(String, String)>,
}

fn tables(conn: &rusqlite::Connection) -> Result<Vec<Table>, BackupError> {
    let mut stmt = conn.prepare(
        "SELECT m.name, p.name, upper(p.type) FROM sqlite_master m, pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'
         ORDER BY m.rowid, p.cid",
    )?;
    let mut out: Vec<Table> = vec![];
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (table, column, tpe): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        if !matches!(tpe.as_str(), "INTEGER" | "TEXT" | "BLOB") {
            return Err(BackupError::Damaged(format!("column {table}.{column} has an unexpected type")));
        }
        match out.last_mut() {
            Some(t) if t.name == table => t.columns.push((column, tpe)),
            _ => out.push(Table { name: table, columns: vec![(column, tpe)] }),
        }
    }
    Ok(out)
}

/// A consistent image of the database, staged as a SQLite file, with the
/// erasure journal as of that image. Keep it until the file has been read.
pub struct Snapshot {
    /// The read transaction that keeps a live SQLite file unchanged while it
    /// is read in place through a hard link; ends when dropped.
    _pin: Option<rusqlite::Connection>,
    pub journal: Vec<Erased>,
}

/// Stages a consistent image of the database at `url` as the new file `out`,
/// while the database keeps serving.
pub async fn snapshot(url: &str, out: &Path) -> Result<Snapshot, BackupError> {
    let out = out.to_path_buf();
    match Engine::of_url(url)? {
        Engine::Sqlite => {
            let src = sqlite_path(url)?;
            blocking(move || sqlite_snapshot(&src, &out)).await
        }
        Engine::Postgres => {
            postgres_to_file(url, &out).await?;
            let journal = blocking(move || journal_on(&read_only(&out)?)).await?;
            Ok(Snapshot { _pin: None, journal })
        }
    }
}

fn read_only(path: &Path) -> Result<rusqlite::Connection, BackupError> {
    Ok(rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?)
}

/// How often a pin is tried before the page-by-page copy is made instead.
const PIN_TRIES: u32 = 20;

fn sqlite_snapshot(src: &Path, out: &Path) -> Result<Snapshot, BackupError> {
    if let Some(pin) = pin(src)? {
        let journal = journal_on(&pin)?;
        if std::fs::hard_link(src, out).is_err() {
            // Another file system: copied, still inside the pin (the kernel
            // copies, no page goes through SQLite).
            std::fs::copy(src, out)?;
            return Ok(Snapshot { _pin: None, journal });
        }
        return Ok(Snapshot { _pin: Some(pin), journal });
    }
    let src = read_only(src)?;
    let mut dst = stage_file(out)?;
    dst.pragma_update(None, "journal_mode", "OFF")?;
    // One step copies every page inside one read transaction:
    // a consistent image, and WAL keeps writers going meanwhile.
    rusqlite::backup::Backup::new(&src, &mut dst)?.step(-1)?;
    dst.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(Snapshot { _pin: None, journal: journal_on(&dst)? })
}

/// A read transaction on the WAL database `src` that began when every
/// committed page was in the database file itself (the WAL checkpointed and
/// empty). A checkpoint never copies a page past the end of the oldest
/// reader's view, and this reader's view ends before the first WAL frame, so
/// while it lasts nothing writes to the file: the file *is* the snapshot, and
/// writers go on appending to the WAL. `None` when the database is not in WAL
/// mode or not writable by us, or readers kept the WAL busy on every try.
fn pin(src: &Path) -> Result<Option<rusqlite::Connection>, BackupError> {
    // The checkpoint needs write access; without it the pages are copied.
    let conn = rusqlite::Connection::open_with_flags(src, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    if conn.is_readonly(rusqlite::DatabaseName::Main)? {
        return Ok(None);
    }
    // Each try waits a little for readers of older views to finish.
    conn.busy_timeout(std::time::Duration::from_millis(200))?;
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Ok(None);
    }
    let mut wal = src.as_os_str().to_owned();
    wal.push("-wal");
    let wal_is_empty = || std::fs::metadata(&wal).map_or(true, |m| m.len() == 0);
    for _ in 0..PIN_TRIES {
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy == 0 {
            conn.execute_batch("BEGIN")?;
            // The first read fixes the transaction's view.
            conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))?;
            // Empty now, so it was empty when the view was fixed: no commit
            // came between the checkpoint and the read.
            if wal_is_empty() {
                return Ok(Some(conn));
            }
            conn.execute_batch("COMMIT")?;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(None)
}

fn journal_on(conn: &rusqlite::Connection) -> Result<Vec<Erased>, BackupError> {
    let mut stmt =
        conn.prepare("SELECT seq, subject_kind, subject_id, erased_at, reason FROM erasure_journal ORDER BY seq")?;
    let rows = stmt.query_map([], |r| {
        Ok(Erased { seq: r.get(0)?, kind: r.get(1)?, id: r.get(2)?, at: r.get(3)?, reason: r.get(4)? })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A connection to the snapshot file being made. A run that dies throws the
/// file away, so writing it needs no durability: no sync to disk, which for a
/// large database would cost as much as copying it.
fn stage_file(out: &Path) -> Result<rusqlite::Connection, BackupError> {
    let conn = rusqlite::Connection::open(out)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    Ok(conn)
}

/// Our SQLite schema in a new file at `out`.
async fn create_schema(out: &Path) -> Result<(), BackupError> {
    let (pool, engine) = db::connect(&sqlite_url(out), 1).await?;
    let migrated = db::migrate(&pool, engine).await;
    pool.close().await;
    Ok(migrated?)
}

async fn postgres_to_file(url: &str, out: &Path) -> Result<(), BackupError> {
    create_schema(out).await?;
    let conn = stage_file(out)?;
    let tables = tables(&conn)?;
    let plan: Vec<(String, Vec<(String, String)>)> =
        tables.iter().map(|t| (t.name.clone(), t.columns.clone())).collect();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(usize, Vec<Vec<Value>>)>(4);
    let writer = tokio::task::spawn_blocking(move || -> Result<(), BackupError> {
        let mut conn = conn;
        conn.pragma_update(None, "journal_mode", "DELETE")?;
        let t = conn.transaction()?;
        for table in &tables {
            t.execute(&format!("DELETE FROM {}", table.name), [])?;
        }
        while let Some((i, rows)) = rx.blocking_recv() {
            let table = &tables[i];
            let marks = vec!["?"; table.columns.len()].join(", ");
            let mut stmt = t.prepare_cached(&format!("INSERT INTO {} VALUES ({marks})", table.name))?;
            for row in rows {
                stmt.execute(rusqlite::params_from_iter(row))?;
            }
        }
        t.commit()?;
        Ok(())
    });
    let read = async {
        let mut pg = connect(url).await?;
        // One snapshot of every table: what a single moment looked like.
        pg.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
        for (i, (table, columns)) in plan.iter().enumerate() {
            let names: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
            let sql = format!("SELECT {} FROM {table}", names.join(", "));
            let mut rows = sqlx::query(&sql).fetch(&mut pg);
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(row) = rows.try_next().await? {
                let mut values = Vec::with_capacity(columns.len());
                for (j, (_, tpe)) in columns.iter().enumerate() {
                    values.push(match tpe.as_str() {
                        "INTEGER" => row.try_get::<Option<i64>, _>(j)?.map_or(Value::Null, Value::Integer),
                        "TEXT" => row.try_get::<Option<String>, _>(j)?.map_or(Value::Null, Value::Text),
                        _ => row.try_get::<Option<Vec<u8>>, _>(j)?.map_or(Value::Null, Value::Blob),
                    });
                }
                batch.push(values);
                if batch.len() == BATCH && tx.send((i, std::mem::take(&mut batch))).await.is_err() {
                    break;
                }
            }
            drop(rows);
            if !batch.is_empty() && tx.send((i, batch)).await.is_err() {
                break;
            }
        }
        pg.execute("COMMIT").await?;
        pg.close().await?;
        Ok::<_, BackupError>(())
    };
    let read = read.await;
    drop(tx);
    let written = writer.await.map_err(|e| BackupError::Repository(e.to_string()))?;
    read.and(written)
}

/// The erasure journal of the live database at `url` (reads no personal data).
pub async fn journal_of_url(url: &str) -> Result<Vec<Erased>, BackupError> {
    let mut conn = connect(url).await?;
    let rows: Vec<(i64, String, String, i64, String)> =
        sqlx::query_as("SELECT seq, subject_kind, subject_id, erased_at, reason FROM erasure_journal ORDER BY seq")
            .fetch_all(&mut conn)
            .await?;
    conn.close().await?;
    Ok(rows.into_iter().map(|(seq, kind, id, at, reason)| Erased { seq, kind, id, at, reason }).collect())
}

/// The newest position of the erasure journal of the database at `url` (0 when empty).
pub async fn journal_position(url: &str) -> Result<i64, BackupError> {
    let mut conn = connect(url).await?;
    let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM erasure_journal").fetch_one(&mut conn).await?;
    conn.close().await?;
    Ok(seq)
}

pub fn write_journal(path: &Path, entries: &[Erased]) -> Result<(), BackupError> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    for e in entries {
        serde_json::to_writer(&mut w, e).map_err(std::io::Error::other)?;
        w.write_all(b"\n")?;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

/// Whether the downloaded file is an intact SQLite database of ours.
pub async fn check_file(path: &Path) -> Result<(), BackupError> {
    let path = path.to_path_buf();
    blocking(move || {
        let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| BackupError::Damaged(e.to_string()))?;
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| BackupError::Damaged(e.to_string()))?;
        if check != "ok" {
            return Err(BackupError::Damaged("the database fails SQLite's integrity check".into()));
        }
        let ours: i64 = conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('customers', 'erasure_journal')",
            [],
            |r| r.get(0),
        )?;
        if ours != 2 {
            return Err(BackupError::Damaged("the file is not a custodian database".into()));
        }
        Ok(())
    })
    .await
}

/// A restore writes only into a database that holds nothing: a SQLite file
/// that does not exist yet (or is empty), a PostgreSQL database without tables.
pub async fn check_target_empty(url: &str) -> Result<(), BackupError> {
    match Engine::of_url(url)? {
        Engine::Sqlite => {
            let path = sqlite_path(url)?;
            if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
                return Err(BackupError::Target("the SQLite file already exists; restore into a new file".into()));
            }
            Ok(())
        }
        Engine::Postgres => {
            let mut conn = connect(url).await?;
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
            )
            .fetch_one(&mut conn)
            .await?;
            conn.close().await?;
            if n > 0 {
                return Err(BackupError::Target(
                    "the PostgreSQL database is not empty; restore into a newly created database".into(),
                ));
            }
            Ok(())
        }
    }
}

/// Pours the snapshot file `db` into the empty target. The target carries the
/// restore mark until the very end, so an interrupted restore is refused by
/// every custodian command instead of being used half-filled.
pub async fn fill(db: &Path, target_url: &str) -> Result<(), BackupError> {
    match Engine::of_url(target_url)? {
        Engine::Sqlite => {
            let (db, target) = (db.to_path_buf(), sqlite_path(target_url)?);
            blocking(move || fill_sqlite(&db, &target)).await
        }
        Engine::Postgres => fill_postgres(db, target_url).await,
    }
}

fn mark(conn: &rusqlite::Connection) -> Result<(), BackupError> {
    conn.execute("INSERT INTO meta (name, value) VALUES (?1, 'yes')", [RESTORE_MARKER])?;
    Ok(())
}

fn fill_sqlite(db: &Path, target: &Path) -> Result<(), BackupError> {
    let conn = rusqlite::Connection::open(db)?;
    mark(&conn)?;
    // VACUUM INTO writes a compact copy: no free page keeps what the
    // journal replay just erased. It goes under a second name first.
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = target.with_extension("restoring");
    let _ = std::fs::remove_file(&partial);
    let partial_text = partial.to_str().ok_or_else(|| BackupError::Target("the path is not UTF-8".into()))?;
    conn.execute("VACUUM INTO ?1", [partial_text])?;
    drop(conn);
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, target)?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    let conn = rusqlite::Connection::open(target)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute("DELETE FROM meta WHERE name = ?1", [RESTORE_MARKER])?;
    Ok(())
}

async fn fill_postgres(db: &Path, url: &str) -> Result<(), BackupError> {
    let (pool, engine) = db::connect(url, 2).await?;
    db::migrate(&pool, engine).await?;
    sqlx::query("INSERT INTO meta (name, value) VALUES ($1, 'yes')").bind(RESTORE_MARKER).execute(&pool).await?;

    let path = db.to_path_buf();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<(usize, Vec<Vec<Value>>), BackupError>>(4);
    let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let tables = tables(&conn)?;
    // The numbers each table has given out, also those of rows gone since.
    let given: std::collections::HashMap<String, i64> = conn
        .prepare("SELECT name, seq FROM sqlite_sequence")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let plan: Vec<(String, Vec<(String, String)>)> =
        tables.iter().map(|t| (t.name.clone(), t.columns.clone())).collect();
    let reader = tokio::task::spawn_blocking(move || {
        let send = |m| tx.blocking_send(m).is_ok();
        for (i, table) in tables.iter().enumerate() {
            let names: Vec<&str> = table.columns.iter().map(|(c, _)| c.as_str()).collect();
            let result = (|| -> Result<(), BackupError> {
                let mut stmt = conn.prepare(&format!("SELECT {} FROM {}", names.join(", "), table.name))?;
                let mut rows = stmt.query([])?;
                let mut batch = Vec::with_capacity(BATCH);
                while let Some(r) = rows.next()? {
                    batch.push((0..names.len()).map(|j| r.get::<_, Value>(j)).collect::<Result<Vec<_>, _>>()?);
                    if batch.len() == BATCH && !send(Ok((i, std::mem::take(&mut batch)))) {
                        return Ok(());
                    }
                }
                if !batch.is_empty() {
                    send(Ok((i, batch)));
                }
                Ok(())
            })();
            if let Err(e) = result {
                send(Err(e));
                return;
            }
        }
    });

    let mut t = pool.begin().await?;
    for (table, _) in plan.iter().rev() {
        let keep = if table == "meta" { format!(" WHERE name <> '{RESTORE_MARKER}'") } else { String::new() };
        sqlx::query(&format!("DELETE FROM {table}{keep}")).execute(&mut *t).await?;
    }
    while let Some(message) = rx.recv().await {
        let (i, rows) = message?;
        let (table, columns) = &plan[i];
        // PostgreSQL takes at most 65,535 parameters per statement.
        for chunk in rows.chunks((30_000 / columns.len()).max(1)) {
            let mut n = 0;
            let tuples: Vec<String> = chunk
                .iter()
                .map(|_| {
                    let marks: Vec<String> = columns
                        .iter()
                        .map(|_| {
                            n += 1;
                            format!("${n}")
                        })
                        .collect();
                    format!("({})", marks.join(", "))
                })
                .collect();
            let names: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
            let sql = format!("INSERT INTO {table} ({}) VALUES {}", names.join(", "), tuples.join(", "));
            let mut q = sqlx::query(&sql);
            for row in chunk {
                for (value, (column, tpe)) in row.iter().zip(columns) {
                    q = match (value, tpe.as_str()) {
                        (Value::Null, "INTEGER") => q.bind(None::<i64>),
                        (Value::Null, "TEXT") => q.bind(None::<String>),
                        (Value::Null, _) => q.bind(None::<Vec<u8>>),
                        (Value::Integer(v), "INTEGER") => q.bind(*v),
                        (Value::Text(v), "TEXT") => q.bind(v.clone()),
                        (Value::Blob(v), "BLOB") => q.bind(v.clone()),
                        _ => {
                            return Err(BackupError::Damaged(format!(
                                "a value of {table}.{column} has the wrong type"
                            )));
                        }
                    };
                }
            }
            q.persistent(false).execute(&mut *t).await?;
        }
    }
    reader.await.map_err(|e| BackupError::Repository(e.to_string()))?;
    // Rows came with their numbers: new rows must continue after them, and
    // after every number given out before (a deleted row's may be in the journal).
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    .fetch_all(&mut *t)
    .await?;
    for (table, column) in identities {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), GREATEST(COALESCE((SELECT MAX({column}) FROM {table}), 0), $1) + 1, false)"
        ))
        .bind(given.get(&table).copied().unwrap_or(0))
        .execute(&mut *t)
        .await?;
    }
    t.commit().await?;
    sqlx::query("DELETE FROM meta WHERE name = $1").bind(RESTORE_MARKER).execute(&pool).await?;
    pool.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// A WAL database like ours: rows in two tables that every transaction
    /// changes together, and an erasure journal.
    fn database(dir: &Path, wal: bool) -> (PathBuf, rusqlite::Connection) {
        let path = dir.join("live.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", if wal { "WAL" } else { "DELETE" }).unwrap();
        conn.execute_batch(
            "CREATE TABLE a (n INTEGER); CREATE TABLE b (n INTEGER);
             CREATE TABLE erasure_journal (seq INTEGER PRIMARY KEY, subject_kind TEXT, subject_id TEXT,
                                           erased_at INTEGER, reason TEXT);",
        )
        .unwrap();
        for n in 0..50 {
            write(&conn, n);
        }
        (path, conn)
    }

    fn write(conn: &rusqlite::Connection, n: i64) {
        conn.execute_batch(&format!(
            "BEGIN; INSERT INTO a VALUES ({n}); INSERT INTO b VALUES ({n});
             INSERT INTO erasure_journal (subject_kind, subject_id, erased_at, reason)
             VALUES ('customer', '{n}', {n}, 'customer_request'); COMMIT;"
        ))
        .unwrap();
    }

    /// Rows in `a` and `b` of a staged file, read from a copy of it (so
    /// nothing touches the live file); the two always agree in a snapshot.
    fn rows_of(staged: &Path) -> i64 {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy.db");
        std::fs::copy(staged, &copy).unwrap();
        let conn = rusqlite::Connection::open(&copy).unwrap();
        let count = |t: &str| conn.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get::<_, i64>(0));
        let (a, b) = (count("a").unwrap(), count("b").unwrap());
        assert_eq!(a, b, "a consistent image");
        assert_eq!(conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).unwrap(), "ok");
        a
    }

    #[test]
    fn a_pinned_file_is_the_snapshot_and_stays_unchanged_while_writers_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let (live, writer) = database(dir.path(), true);
        let out = dir.path().join("stage.db");
        let snap = sqlite_snapshot(&live, &out).unwrap();
        assert!(snap._pin.is_some(), "pinned");
        assert_eq!(std::fs::metadata(&out).unwrap().ino(), std::fs::metadata(&live).unwrap().ino(), "a hard link");
        assert_eq!(snap.journal.len(), 50);
        let before = std::fs::read(&out).unwrap();
        for n in 50..150 {
            write(&writer, n);
        }
        // A checkpoint may not copy anything into the file meanwhile.
        let _ = writer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0)).unwrap();
        assert!(std::fs::read(&out).unwrap() == before, "the file did not change under the pin");
        assert_eq!(rows_of(&out), 50, "the image is of the moment of the pin");
        drop(snap);
        let busy: i64 = writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0)).unwrap();
        assert_eq!(busy, 0);
        assert_eq!(rows_of(&live), 150, "once unpinned, the writes reach the file");
    }

    #[test]
    fn without_wal_or_while_readers_keep_the_wal_busy_the_pages_are_copied() {
        let dir = tempfile::tempdir().unwrap();
        let (live, _writer) = database(dir.path(), false);
        let out = dir.path().join("stage.db");
        let snap = sqlite_snapshot(&live, &out).unwrap();
        assert!(snap._pin.is_none());
        assert_ne!(std::fs::metadata(&out).unwrap().ino(), std::fs::metadata(&live).unwrap().ino());
        assert_eq!((rows_of(&out), snap.journal.len()), (50, 50));

        let dir = tempfile::tempdir().unwrap();
        let (live, writer) = database(dir.path(), true);
        // A reader holding a view with WAL frames in it, then a newer commit:
        // the WAL cannot be emptied while that reader lasts.
        let reader = rusqlite::Connection::open(&live).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        reader.query_row("SELECT COUNT(*) FROM a", [], |r| r.get::<_, i64>(0)).unwrap();
        write(&writer, 50);
        let out = dir.path().join("stage.db");
        let snap = sqlite_snapshot(&live, &out).unwrap();
        assert!(snap._pin.is_none(), "no pin to be had");
        assert_eq!((rows_of(&out), snap.journal.len()), (51, 51), "the page copy is current and consistent");
    }

    #[test]
    fn on_another_file_system_the_pinned_file_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let (live, writer) = database(dir.path(), true);
        let other = tempfile::tempdir_in("/dev/shm").unwrap();
        assert_ne!(std::fs::metadata(other.path()).unwrap().dev(), std::fs::metadata(dir.path()).unwrap().dev());
        let out = other.path().join("stage.db");
        let snap = sqlite_snapshot(&live, &out).unwrap();
        write(&writer, 50);
        assert!(snap._pin.is_none(), "the copy is whole: the pin is let go");
        assert_eq!((rows_of(&out), snap.journal.len()), (50, 50));
    }
}
