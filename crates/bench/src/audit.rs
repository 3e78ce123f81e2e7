//! Target 2: durable audit appends through the store's group commit, and
//! verifying the whole chain.
//!
//! Many tasks call [`Store::audit_event`] concurrently; each call returns only
//! once its entry is committed, so the rate is of durable entries. For context
//! (not a criterion), a raw single-row `INSERT` + `COMMIT` per entry through the
//! pool shows what one commit per entry costs on the same database. It runs after
//! the verification, since its rows carry dummy hashes and would break the chain.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use custodian_store::{Access, AccessPurpose, Actor, Store};
use sqlx::Row;

use crate::report::{Outcome, Stats, Table, ms, per_sec, thousands, verdict};

const MIN_APPEND_RATE: f64 = 20_000.0;
const MIN_VERIFY_RATE: f64 = 500_000.0;

pub struct Settings {
    /// Concurrent callers.
    pub tasks: usize,
    /// Entries in total (rounded up to a multiple of `tasks`).
    pub entries: usize,
    /// Raw single-row commits for the baseline.
    pub baseline: usize,
}

/// Runs `tasks` callers with `each` events apiece; returns the wall time and every
/// call's latency.
pub(crate) async fn append_concurrently(
    store: &Store,
    tasks: usize,
    each: usize,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let access = Access::new(Actor::operator(), AccessPurpose::Administration);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let store = store.clone();
        let access = access.clone();
        set.spawn(async move {
            let mut latencies = Vec::with_capacity(each);
            for _ in 0..each {
                let t = Instant::now();
                store.audit_event(&access, "bench.event", "customer", "1", &["email"]).await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, custodian_store::StoreError>(latencies)
        });
    }
    let mut all = Vec::with_capacity(tasks * each);
    while let Some(done) = set.join_next().await {
        all.extend(done.context("audit task panicked")??);
    }
    Ok((start.elapsed(), all))
}

/// Raw single-row INSERT + COMMIT per entry, sequentially, after the current head.
async fn raw_commits(store: &Store, count: usize) -> anyhow::Result<Duration> {
    let pool = store.pool();
    let head: i64 = sqlx::query("SELECT seq FROM audit_head WHERE id = 1").fetch_one(pool).await?.try_get(0)?;
    let start = Instant::now();
    for i in 0..count {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, subject_kind, subject_id, fields, purpose, source_key, source, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
        )
        .bind(head + 1 + i as i64)
        .bind(0i64)
        .bind("operator")
        .bind("cli")
        .bind("bench.raw")
        .bind("customer")
        .bind("1")
        .bind("email")
        .bind("administration")
        .bind("")
        .bind(None::<Vec<u8>>)
        .bind(vec![0u8; 32])
        .bind(vec![0u8; 32])
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(start.elapsed())
}

pub async fn run(store: &Store, engine: &str, settings: &Settings) -> anyhow::Result<(Table, Vec<Outcome>)> {
    let tasks = settings.tasks.max(1);
    let each = settings.entries.div_ceil(tasks);
    append_concurrently(store, tasks, 4).await?; // warm-up: connections, statement caches
    let (elapsed, mut latencies) = append_concurrently(store, tasks, each).await?;
    let appended = latencies.len();
    let append_rate = appended as f64 / elapsed.as_secs_f64();
    let lat = Stats::of(&mut latencies);

    let started = Instant::now();
    let verification = store.audit_verify().await?;
    let verify_time = started.elapsed();
    if let Some(problem) = &verification.problem {
        bail!("the audit chain does not verify: {problem}");
    }
    let verify_rate = verification.entries as f64 / verify_time.as_secs_f64();

    let raw_time = raw_commits(store, settings.baseline).await?;
    let raw_rate = settings.baseline as f64 / raw_time.as_secs_f64();

    let append_pass = append_rate >= MIN_APPEND_RATE;
    let verify_pass = verify_rate >= MIN_VERIFY_RATE;
    let mut t = Table::measurement(format!("[2] audit trail ({engine})"));
    t.row([
        format!("append, {tasks} tasks x {each}"),
        per_sec(append_rate),
        per_sec(raw_rate),
        format!("{:.1}x", append_rate / raw_rate),
        format!(">= {}", per_sec(MIN_APPEND_RATE)),
        verdict(append_pass),
    ]);
    t.row(["  call latency p50".to_string(), ms(lat.p50)]);
    t.row(["  call latency p99".to_string(), ms(lat.p99)]);
    t.row(["  call latency max".to_string(), ms(lat.max)]);
    t.row([
        format!("verify, {} entries", thousands(verification.entries)),
        per_sec(verify_rate),
        String::new(),
        String::new(),
        format!(">= {}", per_sec(MIN_VERIFY_RATE)),
        verdict(verify_pass),
    ]);
    t.note(format!(
        "append: {} durable entries in {:.2} s through Store::audit_event (group commit)",
        thousands(appended as u64),
        elapsed.as_secs_f64()
    ));
    t.note(format!(
        "baseline (context only): {} raw single-row INSERT+COMMIT through the pool, sequential, {:.2} s",
        thousands(settings.baseline as u64),
        raw_time.as_secs_f64()
    ));
    t.note(format!(
        "verify: Store::audit_verify over the whole chain in {:.2} s, no problem found",
        verify_time.as_secs_f64()
    ));
    let outcomes = vec![
        Outcome::new("2 audit append (durable)", engine, per_sec(append_rate), ">= 20,000 /s", append_pass),
        Outcome::new("2 audit verify", engine, per_sec(verify_rate), ">= 500,000 /s", verify_pass),
    ];
    Ok((t, outcomes))
}
