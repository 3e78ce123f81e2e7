//! PostgreSQL's reader of the chain: binary `COPY` on native connections,
//! parsed in place, a long chain in ranges at once.

use std::fmt::Write as _;
use std::str::FromStr;

use futures_util::TryStreamExt;
use sqlx::{ConnectOptions, Connection, Row};

use super::chain::{COLUMNS, Row_, Stored, Verification, Walk, bad_column, read_error};
use crate::StoreError;

/// PostgreSQL: `COPY (SELECT ...) TO STDOUT (FORMAT binary)` on native
/// connections, parsed in place. A long chain is read as consecutive ranges on
/// that many connections at once, all in one exported snapshot (REPEATABLE READ).
pub(super) async fn verify_postgres(url: &str, max_ranges: i64, min_range: i64) -> Result<Verification, StoreError> {
    const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
    let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
    let mut conn = options.connect().await?;
    let mut tx = conn.begin_with(BEGIN).await?;
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *tx).await?;
    let (head_seq, head_hash): (i64, Vec<u8>) = (head.try_get(0)?, head.try_get(1)?);
    let ranges = max_ranges.clamp(1, (head_seq / min_range.max(1)).max(1));
    // Range i holds the seqs from bound(i) up to bound(i + 1); the first and the
    // last are open-ended, so together they hold every entry, also out-of-place ones.
    let bound = |i: i64| 1 + head_seq / ranges * i;
    let select = |i: i64| {
        let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE true");
        if i > 0 {
            let _ = write!(sql, " AND seq >= {}", bound(i));
        }
        if i < ranges - 1 {
            let _ = write!(sql, " AND seq < {}", bound(i + 1));
        }
        sql + " ORDER BY seq"
    };
    let mut later = Vec::new();
    if ranges > 1 {
        let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()").fetch_one(&mut *tx).await?;
        for i in 1..ranges {
            let (options, select, set) = (options.clone(), select(i), format!("SET TRANSACTION SNAPSHOT '{snapshot}'"));
            later.push(tokio::spawn(async move {
                let mut conn = options.connect().await?;
                let mut tx = conn.begin_with(BEGIN).await?;
                sqlx::query(&set).execute(&mut *tx).await?;
                let walk = walk_copy(&mut tx, &select, Walk::later_range()).await?;
                tx.rollback().await?;
                conn.close().await?;
                Ok::<_, StoreError>(walk)
            }));
        }
    }
    let mut walk = walk_copy(&mut tx, &select(0), Walk::new()).await;
    for range in later {
        let next = range.await.map_err(|e| StoreError::Audit(format!("audit verification stopped: {e}")))?;
        walk = Ok(walk?.join(next?));
    }
    let walk = walk?;
    tx.rollback().await?;
    conn.close().await?;
    Ok(walk.finish(head_seq, &head_hash))
}

/// PostgreSQL reads the chain in this many ranges at once. On the 2-core bench
/// machine (server on the same machine, 200,000 entries, TLS) one range gave a
/// median of 540,000 entries/s, two 720,000, three no more than two.
pub(super) const PG_RANGES: i64 = 2;

/// Fewest entries per range: a range costs a connection (a few milliseconds
/// with TLS), which pays off only from some tens of thousands of entries.
pub(super) const PG_MIN_RANGE: i64 = 10_000;

/// Feeds the rows of `select` (the columns [`COLUMNS`]) to `walk`, via binary COPY.
async fn walk_copy(conn: &mut sqlx::PgConnection, select: &str, mut walk: Walk) -> Result<Walk, StoreError> {
    let mut stream = conn.copy_out_raw(&format!("COPY ({select}) TO STDOUT (FORMAT binary)")).await?;
    // The server sends one row per message; a part row waits here for the rest.
    let mut pending: Vec<u8> = Vec::new();
    let (mut header, mut ended) = (false, false);
    while let Some(chunk) = stream.try_next().await? {
        if walk.broken() || ended {
            continue; // read to the end, so the connection stays usable
        }
        let buffered = !pending.is_empty();
        if buffered {
            pending.extend_from_slice(&chunk);
        }
        let data: &[u8] = if buffered { &pending } else { &chunk };
        let mut used = 0;
        if !header && let Some(n) = copy_header(data)? {
            (used, header) = (n, true);
        }
        while header && !walk.broken() {
            match copy_tuple(&data[used..])? {
                Some((n, Some(fields))) => {
                    walk.feed(&copy_entry(&fields, walk.expected)?);
                    used += n;
                }
                Some((n, None)) => {
                    used += n;
                    ended = true;
                    break;
                }
                None => break,
            }
        }
        if buffered {
            pending.drain(..used);
        } else {
            pending.extend_from_slice(&chunk[used..]);
        }
    }
    if !walk.broken() && (!ended || !pending.is_empty()) {
        return Err(read_error("the COPY stream ended inside a row"));
    }
    Ok(walk)
}

/// Reads big-endian numbers and byte runs off a buffer; `None` past its end.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.data.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(b)
    }

    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.bytes(2)?.try_into().ok()?))
    }

    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.bytes(4)?.try_into().ok()?))
    }
}

/// The length of the binary COPY header at the start of `data`, once all of it is there.
fn copy_header(data: &[u8]) -> Result<Option<usize>, StoreError> {
    const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
    let mut c = Cursor { data, at: 0 };
    let Some(signature) = c.bytes(SIGNATURE.len()) else { return Ok(None) };
    if signature != SIGNATURE {
        return Err(read_error("not a binary COPY stream"));
    }
    let (Some(_flags), Some(extension)) = (c.i32(), c.i32()) else { return Ok(None) };
    let extension = usize::try_from(extension).map_err(read_error)?;
    Ok(c.bytes(extension).map(|_| c.at))
}

/// The row at the start of `data` as (length, its 13 fields, `None` for NULL),
/// the trailer as (length, `None`), or `None` if not all of it is there.
#[allow(clippy::type_complexity)]
fn copy_tuple(data: &[u8]) -> Result<Option<(usize, Option<[Option<&[u8]>; 13]>)>, StoreError> {
    let mut c = Cursor { data, at: 0 };
    let Some(count) = c.i16() else { return Ok(None) };
    if count == -1 {
        return Ok(Some((c.at, None)));
    }
    if count != 13 {
        return Err(read_error(format!("a COPY row of {count} columns")));
    }
    let mut fields = [None; 13];
    for field in &mut fields {
        let Some(len) = c.i32() else { return Ok(None) };
        if let Ok(len) = usize::try_from(len) {
            let Some(value) = c.bytes(len) else { return Ok(None) };
            *field = Some(value);
        }
    }
    Ok(Some((c.at, Some(fields))))
}

/// The entry in one binary COPY row: int8 as 8 bytes big-endian, text as its
/// UTF-8 bytes, bytea as is. `expected` names the entry in errors before its seq is read.
fn copy_entry<'a>(fields: &[Option<&'a [u8]>; 13], expected: i64) -> Result<Stored<'a>, StoreError> {
    let int = |i: usize, seq| match fields[i].map(<[u8; 8]>::try_from) {
        Some(Ok(b)) => Ok(i64::from_be_bytes(b)),
        _ => Err(bad_column(seq, i)),
    };
    let seq = int(0, expected)?;
    let mut texts: [&[u8]; 8] = Default::default();
    for (i, text) in (2..).zip(&mut texts) {
        *text = fields[i].ok_or_else(|| bad_column(seq, i))?;
    }
    let blob = |i: usize| fields[i].ok_or_else(|| bad_column(seq, i));
    Ok(Stored {
        row: Row_ { seq, at: int(1, seq)?, texts, source: fields[10].unwrap_or_default() },
        prev_hash: blob(11)?,
        hash: blob(12)?,
    })
}
