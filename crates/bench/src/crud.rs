//! Target 1: create + read of a customer, encrypted vs the same schema unencrypted.
//!
//! The measured path is the real one: [`Store::create_customer`] then
//! [`Store::read_customer`] as the operator (the read is audited and waits for its
//! entry to be durable).
//!
//! The baseline runs the same statements against the same tables of the same
//! database, through `store.pool()`, with the same number of commits, but without
//! any cryptography. Per iteration it does exactly this:
//!
//! Create, one transaction (one commit), like `create_customer`:
//! 1. `BEGIN`; `UPDATE audit_head SET seq = seq WHERE id = 1` (takes the write
//!    lock first, like `db::write_tx`).
//! 2. `INSERT INTO data_keys (wrapped, created_at) ... RETURNING id` with 73 dummy
//!    bytes (the size of a wrapped key) instead of generating and wrapping a key.
//! 3. `INSERT INTO customers (kind, status, key_id, entered_by, created_at,
//!    updated_at, email_bidx, kvk_bidx, <every personal column of the inventory>)
//!    ... RETURNING id`, the personal columns holding the *plaintext* UTF-8 bytes
//!    of `CustomerData::to_fields()`, `email_bidx`/`kvk_bidx` the plaintext
//!    (lower-cased) e-mail and KVK number, which is what an unencrypted schema
//!    would index, instead of keyed HMACs.
//! 4. `DELETE FROM customer_name_words WHERE customer_id = $1` and one
//!    multi-row `INSERT INTO customer_name_words` with the plaintext name words
//!    instead of their HMACs.
//! 5. The audit entry as in `audit::append`: `SELECT seq, hash FROM audit_head`,
//!    one `INSERT INTO audit_log` of all 13 columns with 32 zero bytes as
//!    `prev_hash` and `hash` (no SHA-256), `UPDATE audit_head SET seq, hash`.
//! 6. `COMMIT`.
//!
//! Read, like `read_customer`:
//! 1. The same `SELECT id, kind, status, key_id, entered_by, created_at,
//!    updated_at, <personal columns> FROM customers WHERE id = $1`, decoding
//!    the plaintext columns into a `Fields` map. No `data_keys` lookup, no key
//!    unwrapping and no decryption: those are part of what is measured.
//! 2. One durable audit entry, in its own transaction, inline rather than through
//!    the store's group-commit task: `BEGIN`, `UPDATE audit_head SET seq = seq`,
//!    then step 5 above, `COMMIT`.
//!
//! So the difference between the two is encryption of the fields (XChaCha20-
//! Poly1305), generating and wrapping a data key, the blind indexes (HMAC-SHA256),
//! the `data_keys` read and unwrap on the read, decryption, SHA-256 chain hashes,
//! and the hop through the audit writer task.
//!
//! Both run interleaved (the order alternates every iteration) so that table
//! growth, WAL checkpoints and background load hit both alike.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use custodian_domain::inventory;
use custodian_domain::model::{CustomerData, Fields};
use custodian_store::{Access, AccessPurpose, Actor, Store};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::report::{Outcome, Stats, Table, ms, ratio, verdict};

/// The size of a wrapped data key: version byte, 24-byte nonce, 32-byte key, 16-byte tag.
const WRAPPED_KEY_LEN: usize = 73;
const MAX_RATIO: f64 = 1.5;

pub struct Settings {
    pub iterations: usize,
    pub warmup: usize,
}

/// The SQL the baseline uses, built once.
struct PlainSql {
    columns: Vec<&'static str>,
    insert: String,
    select: String,
}

impl PlainSql {
    fn new() -> PlainSql {
        let columns: Vec<&'static str> = inventory::fields_of("customers").map(|f| f.column).collect();
        let placeholders = (1..=8 + columns.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let insert = format!(
            "INSERT INTO customers (kind, status, key_id, entered_by, created_at, updated_at, email_bidx, kvk_bidx, {}) VALUES ({placeholders}) RETURNING id",
            columns.join(", ")
        );
        let select = format!(
            "SELECT id, kind, status, key_id, entered_by, created_at, updated_at, {} FROM customers WHERE id = $1",
            columns.join(", ")
        );
        PlainSql { columns, insert, select }
    }
}

fn now_micros() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Step 5 of the baseline: an audit entry with the statements of `audit::append`
/// but dummy hashes. The caller's transaction already holds the write lock.
async fn plain_audit(
    tx: &mut Transaction<'static, Any>,
    action: &str,
    subject: i64,
    fields: String,
) -> sqlx::Result<()> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut **tx).await?;
    let seq: i64 = head.try_get::<i64, _>(0)? + 1;
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, subject_kind, subject_id, fields, purpose, source_key, source, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
    )
    .bind(seq)
    .bind(now_micros())
    .bind("operator")
    .bind("cli")
    .bind(action.to_string())
    .bind("customer")
    .bind(subject.to_string())
    .bind(fields)
    .bind("administration")
    .bind(String::new())
    .bind(None::<Vec<u8>>)
    .bind(vec![0u8; 32])
    .bind(vec![0u8; 32])
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(vec![0u8; 32])
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn plain_create(pool: &AnyPool, sql: &PlainSql, data: &CustomerData) -> sqlx::Result<i64> {
    let fields = data.to_fields();
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1").execute(&mut *tx).await?;
    let now = now_micros();
    let key_id: i64 = sqlx::query_scalar("INSERT INTO data_keys (wrapped, created_at) VALUES ($1, $2) RETURNING id")
        .bind(vec![0u8; WRAPPED_KEY_LEN])
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    let mut q = sqlx::query_scalar::<_, i64>(&sql.insert)
        .bind(data.kind.as_str())
        .bind("active")
        .bind(key_id)
        .bind(None::<String>)
        .bind(now)
        .bind(now)
        .bind(data.email.as_str().to_lowercase().into_bytes())
        .bind(data.kvk.as_ref().map(|k| k.as_str().as_bytes().to_vec()));
    for c in &sql.columns {
        q = q.bind(fields.get(*c).map(|v| v.as_bytes().to_vec()));
    }
    let id = q.fetch_one(&mut *tx).await?;
    sqlx::query("DELETE FROM customer_name_words WHERE customer_id = $1").bind(id).execute(&mut *tx).await?;
    let words = data.name_words();
    if !words.is_empty() {
        let values = (0..words.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect::<Vec<_>>();
        let insert = format!("INSERT INTO customer_name_words (customer_id, word) VALUES {}", values.join(", "));
        let mut q = sqlx::query(&insert);
        for w in &words {
            q = q.bind(id).bind(w.as_bytes().to_vec());
        }
        q.execute(&mut *tx).await?;
    }
    let names = fields.keys().cloned().collect::<Vec<_>>().join(",");
    plain_audit(&mut tx, "customer.create", id, names).await?;
    tx.commit().await?;
    Ok(id)
}

async fn plain_read(pool: &AnyPool, sql: &PlainSql, id: i64) -> anyhow::Result<Fields> {
    let row = sqlx::query(&sql.select).bind(id).fetch_optional(pool).await?.context("baseline row missing")?;
    // The non-personal head, decoded like the store does.
    let _: (String, String, Option<i64>, Option<String>, i64, i64) = (
        row.try_get("kind")?,
        row.try_get("status")?,
        row.try_get("key_id")?,
        row.try_get("entered_by")?,
        row.try_get("created_at")?,
        row.try_get("updated_at")?,
    );
    let mut fields = Fields::new();
    for c in &sql.columns {
        let plain: Option<Vec<u8>> = row.try_get(*c)?;
        if let Some(plain) = plain {
            fields.insert(c.to_string(), String::from_utf8(plain)?);
        }
    }
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1").execute(&mut *tx).await?;
    let names = fields.keys().cloned().collect::<Vec<_>>().join(",");
    plain_audit(&mut tx, "customer.read", id, names).await?;
    tx.commit().await?;
    Ok(fields)
}

/// Latencies of one side: create, read, and the two together.
#[derive(Default)]
struct Samples {
    create: Vec<Duration>,
    read: Vec<Duration>,
    both: Vec<Duration>,
}

impl Samples {
    fn push(&mut self, create: Duration, read: Duration) {
        self.create.push(create);
        self.read.push(read);
        self.both.push(create + read);
    }
}

async fn encrypted_once(store: &Store, access: &Access, data: &CustomerData) -> anyhow::Result<(Duration, Duration)> {
    let t0 = Instant::now();
    let id = store.create_customer(access, data, false).await?;
    let t1 = Instant::now();
    let record = store.read_customer(access, id).await?;
    let t2 = Instant::now();
    if record.fields.get("email").map(String::as_str) != Some(data.email.as_str()) {
        bail!("customer {id} read back with a different e-mail address");
    }
    Ok((t1 - t0, t2 - t1))
}

async fn plain_once(pool: &AnyPool, sql: &PlainSql, data: &CustomerData) -> anyhow::Result<(Duration, Duration)> {
    let t0 = Instant::now();
    let id = plain_create(pool, sql, data).await?;
    let t1 = Instant::now();
    let fields = plain_read(pool, sql, id).await?;
    let t2 = Instant::now();
    if fields.get("email").map(String::as_str) != Some(data.email.as_str()) {
        bail!("baseline customer {id} read back with a different e-mail address");
    }
    Ok((t1 - t0, t2 - t1))
}

pub async fn run(store: &Store, engine: &str, settings: &Settings) -> anyhow::Result<(Table, Vec<Outcome>)> {
    let access = Access::new(Actor::operator(), AccessPurpose::Administration);
    let sql = PlainSql::new();
    let pool = store.pool();
    let mut n = 0u64;
    let mut next = || {
        n += 1;
        custodian_testkit::customer(n)
    };
    for _ in 0..settings.warmup {
        encrypted_once(store, &access, &next()).await?;
        plain_once(pool, &sql, &next()).await?;
    }
    let mut enc = Samples::default();
    let mut plain = Samples::default();
    let started = Instant::now();
    for i in 0..settings.iterations {
        let (a, b) = (next(), next());
        if i % 2 == 0 {
            let (c, r) = encrypted_once(store, &access, &a).await?;
            enc.push(c, r);
            let (c, r) = plain_once(pool, &sql, &b).await?;
            plain.push(c, r);
        } else {
            let (c, r) = plain_once(pool, &sql, &b).await?;
            plain.push(c, r);
            let (c, r) = encrypted_once(store, &access, &a).await?;
            enc.push(c, r);
        }
    }
    let elapsed = started.elapsed();

    let mut table = Table::measurement(format!(
        "[1] create + read of a customer, encrypted vs unencrypted ({engine}, {} iterations each)",
        settings.iterations
    ));
    let mut pass = false;
    let mut headline = String::new();
    for (name, e, p) in [
        ("create", &mut enc.create, &mut plain.create),
        ("read", &mut enc.read, &mut plain.read),
        ("create+read", &mut enc.both, &mut plain.both),
    ] {
        let (e, p) = (Stats::of(e), Stats::of(p));
        for (stat, ev, pv) in [("mean", e.mean, p.mean), ("p50", e.p50, p.p50), ("p99", e.p99, p.p99)] {
            let r = ev.as_secs_f64() / pv.as_secs_f64().max(f64::MIN_POSITIVE);
            let headline_row = name == "create+read" && stat == "mean";
            if headline_row {
                pass = r <= MAX_RATIO;
                headline = format!("{} vs {} = {:.2}x", ms(ev), ms(pv), r);
            }
            table.row([
                format!("{name} {stat}"),
                ms(ev),
                ms(pv),
                ratio(ev.as_secs_f64(), pv.as_secs_f64()),
                if headline_row { format!("<= {MAX_RATIO:.1}x") } else { String::new() },
                if headline_row { verdict(pass) } else { String::new() },
            ]);
        }
    }
    table.note("measured: Store::create_customer + Store::read_customer (owner read, audited, durable)");
    table.note("baseline: same tables and statements via store.pool(), plaintext columns, dummy key and hashes");
    table.note(format!(
        "both sides interleaved; {} warm-up iterations each; wall {:.1} s",
        settings.warmup,
        elapsed.as_secs_f64()
    ));
    let outcome = Outcome::new("1 create+read encrypted/plain (mean)", engine, headline, "<= 1.5x", pass);
    Ok((table, vec![outcome]))
}
