//! `custodian-bench explain`: experiments that show where the time of the audit
//! target goes, to say what in the store would have to change. Not a target.
//!
//! Verify: the store's `audit_verify` against streaming the same rows through
//! the `Any` pool and through a native connection: with the same SHA-256 chain
//! check (mismatches must be 0, which shows it computes what the store does),
//! decoding all thirteen columns without hashing, and `seq` only.
//!
//! Append: the store's group commit with different numbers of concurrent
//! callers, then raw group transactions through the pool with the statements of
//! `audit::append` (256 entries per transaction, dummy hashes) at different
//! rows per `INSERT`, and with anonymous `?` placeholders instead of `$N` on SQLite.

use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::bail;
use custodian_store::Store;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, ConnectOptions, Connection, Row};

use crate::audit::append_concurrently;
use crate::report::{Outcome, Table, per_sec, thousands};

const COLUMNS: &str = "seq, at, actor_kind, actor_id, action, subject_kind, subject_id, fields, purpose, source_key, source, prev_hash, hash";

/// What a scan of `audit_log` does with each row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Selects and decodes `seq` only.
    SeqOnly,
    /// Selects and decodes all thirteen columns as the store's verification does.
    Decode,
    /// Also checks the chain: SHA-256 over the same length-prefixed parts as
    /// `audit::Row_::hash`, and each `prev_hash` against the hash before it.
    Verify,
}

/// The chain hash of one entry, as the store computes it.
fn entry_hash(prev: &[u8], seq: i64, at: i64, parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(at.to_be_bytes());
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Streams `audit_log` in order through `executor`. Returns the rows seen and,
/// for [`Scan::Verify`], how many did not match (0 on an intact chain).
macro_rules! scan {
    ($executor:expr, $mode:expr) => {{
        let mode: Scan = $mode;
        let sql = if mode == Scan::SeqOnly {
            "SELECT seq FROM audit_log ORDER BY seq".to_string()
        } else {
            format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq")
        };
        let mut rows = sqlx::query(&sql).fetch($executor);
        let (mut n, mut bad) = (0u64, 0u64);
        let mut expected_prev = vec![0u8; 32];
        while let Some(r) = rows.try_next().await? {
            let seq: i64 = r.try_get(0)?;
            if mode != Scan::SeqOnly {
                let at: i64 = r.try_get(1)?;
                let mut texts: Vec<String> = Vec::with_capacity(8);
                for i in 2..10 {
                    texts.push(r.try_get(i)?);
                }
                let source: Option<Vec<u8>> = r.try_get(10)?;
                let prev: Vec<u8> = r.try_get(11)?;
                let hash: Vec<u8> = r.try_get(12)?;
                if mode == Scan::Verify {
                    let mut parts: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
                    parts.push(source.as_deref().unwrap_or_default());
                    if entry_hash(&expected_prev, seq, at, &parts) != hash.as_slice() || prev != expected_prev {
                        bad += 1;
                    }
                    expected_prev = hash;
                } else {
                    black_box((at, texts, source, prev, hash));
                }
            }
            black_box(seq);
            n += 1;
        }
        (n, bad)
    }};
}

async fn scan_any(pool: &AnyPool, mode: Scan) -> anyhow::Result<(u64, u64)> {
    Ok(scan!(pool, mode))
}

async fn scan_native(url: &str, engine: &str, mode: Scan) -> anyhow::Result<(u64, u64)> {
    if engine == "sqlite" {
        let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.connect().await?;
        let n = scan!(&mut conn, mode);
        conn.close().await?;
        Ok(n)
    } else {
        let mut conn = sqlx::postgres::PgConnection::connect(url).await?;
        let n = scan!(&mut conn, mode);
        conn.close().await?;
        Ok(n)
    }
}

/// Raw group transactions like the audit writer's: `groups` transactions of
/// `rows` entries each, `chunk` rows per INSERT. Returns the wall time.
async fn raw_groups(
    pool: &AnyPool,
    groups: usize,
    rows: usize,
    chunk: usize,
    anonymous: bool,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    for _ in 0..groups {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1").execute(&mut *tx).await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *tx).await?;
        let mut seq: i64 = head.try_get(0)?;
        let mut done = 0;
        while done < rows {
            let n = chunk.min(rows - done);
            let mut sql = format!("INSERT INTO audit_log ({COLUMNS}) VALUES ");
            for i in 0..n {
                if i > 0 {
                    sql.push(',');
                }
                let params: Vec<String> =
                    (1..=13).map(|k| if anonymous { "?".to_string() } else { format!("${}", i * 13 + k) }).collect();
                sql.push('(');
                sql.push_str(&params.join(","));
                sql.push(')');
            }
            let mut q = sqlx::query(&sql);
            for _ in 0..n {
                seq += 1;
                q = q
                    .bind(seq)
                    .bind(0i64)
                    .bind("operator")
                    .bind("cli".to_string())
                    .bind("bench.event")
                    .bind("customer")
                    .bind("1".to_string())
                    .bind("email".to_string())
                    .bind("administration")
                    .bind(String::new())
                    .bind(None::<Vec<u8>>)
                    .bind(vec![0u8; 32])
                    .bind(vec![0u8; 32]);
            }
            q.execute(&mut *tx).await?;
            done += n;
        }
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(vec![0u8; 32])
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(start.elapsed())
}

/// PostgreSQL only: recomputes every entry's hash in the server, as
/// `audit::Row_::hash` does (length-prefixed parts after the previous hash), and
/// checks the links with `lag()`. Returns (entries, hash mismatches, link or
/// sequence mismatches); both mismatch counts are 0 on an intact chain.
async fn server_side_check(pool: &AnyPool) -> anyhow::Result<(u64, i64, i64)> {
    let input = format!("prev_hash || {}", pg_hash_input());
    let sql = format!(
        "SELECT count(*)::int8, (count(*) FILTER (WHERE sha256({input}) <> hash))::int8,
                (count(*) FILTER (WHERE seq <> rn OR prev_hash <> coalesce(lag_hash, decode(repeat('00', 32), 'hex'))))::int8
         FROM (SELECT *, lag(hash) OVER (ORDER BY seq) AS lag_hash, row_number() OVER (ORDER BY seq) AS rn FROM audit_log) t"
    );
    let row = sqlx::query(&sql).fetch_one(pool).await?;
    let n: i64 = row.try_get(0)?;
    Ok((u64::try_from(n).unwrap_or(0), row.try_get(1)?, row.try_get(2)?))
}

/// PostgreSQL: the bytes `audit::Row_::hash` feeds to SHA-256 after the previous
/// hash, assembled by the server as one `bytea`.
fn pg_hash_input() -> String {
    let part = |c: &str| format!("int8send(octet_length({c})::int8) || convert_to({c}, 'UTF8')");
    let texts = ["actor_kind", "actor_id", "action", "subject_kind", "subject_id", "fields", "purpose", "source_key"];
    format!(
        "int8send(seq) || int8send(at) || {} || int8send(coalesce(octet_length(source), 0)::int8) || coalesce(source, ''::bytea)",
        texts.iter().map(|c| part(c)).collect::<Vec<_>>().join(" || ")
    )
}

/// PostgreSQL: streams (seq, prev_hash, hash, hash input) — four columns instead
/// of thirteen — through the `Any` pool, decoding them, without hashing.
async fn scan_assembled(pool: &AnyPool) -> anyhow::Result<u64> {
    let sql = format!("SELECT seq, prev_hash, hash, {} FROM audit_log ORDER BY seq", pg_hash_input());
    let mut rows = sqlx::query(&sql).fetch(pool);
    let mut n = 0u64;
    while let Some(r) = rows.try_next().await? {
        let seq: i64 = r.try_get(0)?;
        let prev: Vec<u8> = r.try_get(1)?;
        let hash: Vec<u8> = r.try_get(2)?;
        let input: Vec<u8> = r.try_get(3)?;
        black_box((seq, prev, hash, input));
        n += 1;
    }
    Ok(n)
}

/// Empty writing transactions: what one commit costs.
async fn commits_only(pool: &AnyPool, count: usize) -> anyhow::Result<Duration> {
    let start = Instant::now();
    for _ in 0..count {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1").execute(&mut *tx).await?;
        tx.commit().await?;
    }
    Ok(start.elapsed())
}

fn rate(n: u64, d: Duration) -> String {
    per_sec(n as f64 / d.as_secs_f64())
}

pub async fn run(store: &Store, engine: &str, url: &str) -> anyhow::Result<(Table, Vec<Outcome>)> {
    let mut t = Table::new(format!("[explain] where the audit time goes ({engine})"), &["experiment", "rate", "time"]);
    append_concurrently(store, 256, 4).await?;
    for (tasks, each) in [(64, 800), (256, 200), (1024, 50)] {
        let (d, lat) = append_concurrently(store, tasks, each).await?;
        t.row([
            format!("store append, {tasks} tasks x {each} (groups <= {tasks})"),
            rate(lat.len() as u64, d),
            format!("{:.2} s", d.as_secs_f64()),
        ]);
    }

    let start = Instant::now();
    let v = store.audit_verify().await?;
    let d = start.elapsed();
    if v.problem.is_some() {
        bail!("the chain does not verify");
    }
    t.row([format!("store audit_verify, {} entries", thousands(v.entries)), rate(v.entries, d), secs(d)]);
    if engine == "postgres" {
        let start = Instant::now();
        let (n, altered, unlinked) = server_side_check(store.pool()).await?;
        let d = start.elapsed();
        t.row([
            format!("server-side SQL check (sha256(), lag()), {altered} altered, {unlinked} unlinked"),
            rate(n, d),
            secs(d),
        ]);
    }
    if engine == "postgres" {
        let start = Instant::now();
        let n = scan_assembled(store.pool()).await?;
        let d = start.elapsed();
        t.row([
            "stream via Any pool, seq + hashes + server-assembled hash input, no hashing".into(),
            rate(n, d),
            secs(d),
        ]);
    }
    for (label, mode) in [
        ("13 columns + SHA-256 chain check", Scan::Verify),
        ("all 13 columns, no hashing", Scan::Decode),
        ("seq only, no hashing", Scan::SeqOnly),
    ] {
        let start = Instant::now();
        let (n, bad) = scan_any(store.pool(), mode).await?;
        let d = start.elapsed();
        t.row([format!("stream via Any pool, {label}{}", mismatches(mode, bad)), rate(n, d), secs(d)]);
        let start = Instant::now();
        let (n, bad) = scan_native(url, engine, mode).await?;
        let d = start.elapsed();
        t.row([
            format!("stream via native {engine} connection, {label}{}", mismatches(mode, bad)),
            rate(n, d),
            secs(d),
        ]);
    }
    let start = Instant::now();
    let again = store.audit_verify().await?;
    let d = start.elapsed();
    t.row([format!("store audit_verify again, {} entries", thousands(again.entries)), rate(again.entries, d), secs(d)]);

    // These rows carry dummy hashes: the chain no longer verifies after this.
    let pool = store.pool();
    let d = commits_only(pool, 500).await?;
    t.row([
        "empty write transaction (BEGIN, UPDATE head, COMMIT)".into(),
        format!("{} commits/s", thousands((500.0 / d.as_secs_f64()) as u64)),
        secs(d),
    ]);
    let (groups, rows) = (100, 256);
    let mut variants = vec![(200, false), (64, false), (16, false), (1, false)];
    if engine == "sqlite" {
        variants.insert(1, (200, true));
    }
    for (chunk, anonymous) in variants {
        let d = raw_groups(pool, groups, rows, chunk, anonymous).await?;
        let style = if anonymous { "? placeholders" } else { "$N placeholders" };
        t.row([
            format!("raw group tx, {rows} rows, {chunk} rows per INSERT, {style}"),
            rate((groups * rows) as u64, d),
            secs(d),
        ]);
    }
    t.note("store append rows: Store::audit_event from that many concurrent tasks (one group commit per round)");
    t.note("raw group tx: the statements of audit::append without hashing, 100 transactions, through store.pool()");
    Ok((t, vec![]))
}

fn mismatches(mode: Scan, bad: u64) -> String {
    if mode == Scan::Verify { format!(" ({bad} mismatches)") } else { String::new() }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
