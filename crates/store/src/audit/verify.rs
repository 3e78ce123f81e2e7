//! Verifying the whole chain: SQLite files through rusqlite, anything else
//! through the pool; PostgreSQL in `pg_copy.rs`. All readers feed one [`Walk`].

use std::str::FromStr;

use futures_util::TryStreamExt;
use sqlx::{AnyPool, Row};

use super::chain::{COLUMNS, Row_, Stored, Verification, Walk, bad_column, read_error};
use super::pg_copy::{PG_MIN_RANGE, PG_RANGES, verify_postgres};
use crate::StoreError;

/// Walks the whole chain in order and reports the first break. Entries and head
/// are read in one snapshot, so appends running meanwhile do not show as breaks.
///
/// SQLite is read on a connection of its own through rusqlite (columns borrowed
/// from SQLite, no decoding into owned values), PostgreSQL with binary `COPY` on
/// native connections of its own, a long chain in two ranges at once; both several
/// times faster than rows through the `Any` pool, which remains for a SQLite
/// database that is no file. All readers feed the same [`Walk`].
pub(crate) async fn verify(pool: &AnyPool) -> Result<Verification, StoreError> {
    let url = pool.connect_options().database_url.clone();
    match crate::db::Engine::of_url(url.as_str())? {
        crate::db::Engine::Sqlite => match sqlite_file(url.as_str())? {
            Some(path) => tokio::task::spawn_blocking(move || verify_sqlite_file(&path))
                .await
                .map_err(|e| StoreError::Audit(format!("audit verification stopped: {e}")))?,
            None => verify_any(pool).await,
        },
        crate::db::Engine::Postgres => verify_postgres(url.as_str(), PG_RANGES, PG_MIN_RANGE).await,
    }
}

/// The file of a SQLite database URL; `None` for an in-memory database (named
/// `:memory:`, which is no file, or opened with `mode=memory`).
pub(crate) fn sqlite_file(url: &str) -> Result<Option<std::path::PathBuf>, StoreError> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
    let path = options.get_filename();
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let in_memory = query.split('&').any(|pair| pair == "mode=memory");
    Ok((!in_memory && path.is_file()).then(|| path.to_path_buf()))
}

/// SQLite through rusqlite, on a read-only connection in one read transaction.
fn verify_sqlite_file(path: &std::path::Path) -> Result<Verification, StoreError> {
    use rusqlite::types::ValueRef;
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(read_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(read_error)?;
    let tx = conn.unchecked_transaction().map_err(read_error)?;
    let (head_seq, head_hash): (i64, Vec<u8>) = tx
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(read_error)?;
    let mut walk = Walk::new();
    let mut statement = tx.prepare(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq")).map_err(read_error)?;
    let mut rows = statement.query([]).map_err(read_error)?;
    while let Some(r) = rows.next().map_err(read_error)? {
        let value = |i: usize| r.get_ref(i).map_err(read_error);
        let seq = match value(0)? {
            ValueRef::Integer(seq) => seq,
            _ => return Err(bad_column(walk.expected, 0)),
        };
        let int = |i| match value(i)? {
            ValueRef::Integer(v) => Ok(v),
            _ => Err(bad_column(seq, i)),
        };
        let mut texts: [&[u8]; 8] = Default::default();
        for (i, text) in (2..).zip(&mut texts) {
            match value(i)? {
                ValueRef::Text(t) => *text = t,
                _ => return Err(bad_column(seq, i)),
            }
        }
        let blob = |i| match value(i)? {
            ValueRef::Blob(b) => Ok(b),
            _ => Err(bad_column(seq, i)),
        };
        let source = match value(10)? {
            ValueRef::Blob(b) => b,
            ValueRef::Null => &[],
            _ => return Err(bad_column(seq, 10)),
        };
        walk.feed(&Stored { row: Row_ { seq, at: int(1)?, texts, source }, prev_hash: blob(11)?, hash: blob(12)? });
        if walk.broken() {
            break;
        }
    }
    Ok(walk.finish(head_seq, &head_hash))
}

/// Any engine through the pool, rows decoded into owned values: for a SQLite
/// database that is no file, and in the tests the reference for the other readers.
async fn verify_any(pool: &AnyPool) -> Result<Verification, StoreError> {
    let mut tx = pool.begin().await?;
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *tx).await?;
    let (head_seq, head_hash): (i64, Vec<u8>) = (head.try_get(0)?, head.try_get(1)?);
    let mut walk = Walk::new();
    {
        let sql = format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq");
        let mut rows = sqlx::query(&sql).fetch(&mut *tx);
        while let Some(r) = rows.try_next().await? {
            let source: Option<&[u8]> = r.try_get(10)?;
            let mut texts: [&[u8]; 8] = Default::default();
            for (i, text) in (2..).zip(&mut texts) {
                *text = r.try_get::<&str, _>(i)?.as_bytes();
            }
            walk.feed(&Stored {
                row: Row_ { seq: r.try_get(0)?, at: r.try_get(1)?, texts, source: source.unwrap_or_default() },
                prev_hash: r.try_get(11)?,
                hash: r.try_get(12)?,
            });
            if walk.broken() {
                break;
            }
        }
    }
    tx.rollback().await?;
    Ok(walk.finish(head_seq, &head_hash))
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use custodian_domain::inventory::Role;

    use super::*;
    use crate::audit::{Access, AccessPurpose, Actor};

    /// The fast readers (rusqlite on SQLite; binary COPY in one or more ranges on
    /// PostgreSQL) report what the plain reader through the pool reports.
    #[tokio::test]
    async fn every_reader_reports_the_same_on_tampered_chains() {
        for db in custodian_testkit::databases().await {
            let store = crate::Store::open(&db.url, 8, crate::Key::generate()).await.unwrap();
            let access =
                Access::new(Actor::staff("u1", Role::Owner), AccessPurpose::Support).from(IpAddr::from([192, 0, 2, 1]));
            for i in 0..30 {
                store
                    .audit_event(&access, "test.event", "customer", &i.to_string(), &["email", "phone"])
                    .await
                    .unwrap();
            }
            let pool = store.pool();
            if db.name() == "sqlite" {
                assert!(sqlite_file(&db.url).unwrap().is_some(), "the test database is read with rusqlite");
                assert!(sqlite_file("sqlite::memory:").unwrap().is_none());
                assert!(sqlite_file(&format!("{}&mode=memory", db.url)).unwrap().is_none());
            }
            let head: i64 = sqlx::query_scalar("SELECT seq FROM audit_head").fetch_one(pool).await.unwrap();
            assert!(head >= 30, "{}", db.name());
            let mid = head / 2 + 1;
            let steps = [
                (format!("UPDATE audit_log SET purpose = 'billing' WHERE seq = {mid}"), true),
                (format!("UPDATE audit_log SET purpose = 'support' WHERE seq = {mid}"), false),
                (format!("UPDATE audit_log SET prev_hash = hash WHERE seq = {mid}"), true),
                (
                    format!(
                        "UPDATE audit_log SET prev_hash = (SELECT hash FROM audit_log WHERE seq = {}) WHERE seq = {mid}",
                        mid - 1
                    ),
                    false,
                ),
                (format!("UPDATE audit_log SET seq = -{mid} WHERE seq = {mid}"), true),
                (format!("UPDATE audit_log SET seq = {mid} WHERE seq = -{mid}"), false),
                ("UPDATE audit_head SET seq = seq + 3".to_string(), true),
                ("UPDATE audit_head SET seq = seq - 3".to_string(), false),
                (format!("DELETE FROM audit_log WHERE seq = {head}"), true),
                (format!("DELETE FROM audit_log WHERE seq = {mid}"), true),
                (format!("DELETE FROM audit_log WHERE seq = {}", mid - 1), true),
                ("DELETE FROM audit_log WHERE seq = 1".to_string(), true),
            ];
            for (sql, broken) in std::iter::once((String::from("intact"), false)).chain(steps) {
                if sql != "intact" {
                    sqlx::query(&sql).execute(pool).await.unwrap();
                }
                let reference = verify_any(pool).await.unwrap();
                assert_eq!(reference.problem.is_some(), broken, "{}: {sql}: {reference:?}", db.name());
                let fast = verify(pool).await.unwrap();
                assert_eq!(fast, reference, "{}: {sql}", db.name());
                if db.name() == "postgres" {
                    for ranges in 1..=3 {
                        let ranged = verify_postgres(&db.url, ranges, 1).await.unwrap();
                        assert_eq!(ranged, reference, "{}: {sql}, {ranges} ranges", db.name());
                    }
                }
            }
            store.close().await;
            db.finish().await;
        }
    }
}
