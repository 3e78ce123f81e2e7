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

/// Writes a consistent copy of the database at `url` to the new SQLite file
/// `out`, while the database keeps serving.
pub async fn snapshot(url: &str, out: &Path) -> Result<(), BackupError> {
    match Engine::of_url(url)? {
        Engine::Sqlite => {
            let (src, out) = (sqlite_path(url)?, out.to_path_buf());
            blocking(move || {
                let src = rusqlite::Connection::open_with_flags(&src, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                let mut dst = stage_file(&out)?;
                dst.pragma_update(None, "journal_mode", "OFF")?;
                // One step copies every page inside one read transaction:
                // a consistent image, and WAL keeps writers going meanwhile.
                rusqlite::backup::Backup::new(&src, &mut dst)?.step(-1)?;
                dst.pragma_update(None, "journal_mode", "DELETE")?;
                Ok(())
            })
            .await
        }
        Engine::Postgres => postgres_to_file(url, out).await,
    }
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

/// The erasure journal of a snapshot file.
pub async fn journal_of_file(path: &Path) -> Result<Vec<Erased>, BackupError> {
    let path = path.to_path_buf();
    blocking(move || {
        let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut stmt =
            conn.prepare("SELECT seq, subject_kind, subject_id, erased_at, reason FROM erasure_journal ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok(Erased { seq: r.get(0)?, kind: r.get(1)?, id: r.get(2)?, at: r.get(3)?, reason: r.get(4)? })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })
    .await
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
    // Rows came with their numbers: new rows must continue after them.
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    .fetch_all(&mut *t)
    .await?;
    for (table, column) in identities {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
        ))
        .execute(&mut *t)
        .await?;
    }
    t.commit().await?;
    sqlx::query("DELETE FROM meta WHERE name = $1").bind(RESTORE_MARKER).execute(&pool).await?;
    pool.close().await;
    Ok(())
}
