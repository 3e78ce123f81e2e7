//! Target 6: the retention run on a large administration.
//!
//! Generates N customers with five invoices each (each invoice with one line
//! and its own data key, each customer two name-index words and a data key),
//! of which every tenth had its last invoice in 2024 and so is due for erasure
//! on 2 January 2026; the others were invoiced in 2025. Then, on copies of that
//! database, it measures the real binary as a child process:
//!
//! * `custodian retention plan --on 2026-01-02 --format json`: wall time (< 60 s)
//!   and peak memory;
//! * `custodian retention run --on 2026-01-02`: wall time against a raw-SQL
//!   baseline that deletes the same rows in batches of the same size, without
//!   planning, re-checking, audit or journal (<= 5x), and peak memory (< 300 MB).
//!
//! The data is written with bulk SQL, not through the store: personal columns
//! hold random bytes of the size the store's ciphertext has, and every data key
//! row the same wrapped key. The run reads neither (a scheduled erasure destroys
//! keys without opening them), so this changes what generation costs, not what
//! is measured.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use custodian_store::{Key, Store};
use rand::RngCore;
use sqlx::{Any, AnyPool, Transaction};

use crate::import::{clean_command, custodian_binary, run_measured};
use crate::report::{Outcome, Table, megabytes, ratio, thousands, verdict};

const ON: &str = "2026-01-02";
const MAX_PLAN: Duration = Duration::from_secs(60);
const MAX_RATIO: f64 = 5.0;
const MAX_PEAK_BYTES: u64 = 300_000_000;
const INVOICES_PER_CUSTOMER: i64 = 5;
/// Customers per generated transaction.
const GENERATE_BATCH: i64 = 10_000;
/// The run's batch (the default), also the baseline's.
const BATCH: usize = 500;

pub struct Settings {
    pub customers: i64,
}

/// Every tenth customer is a former customer.
fn former(id: i64) -> bool {
    id % 10 == 0
}

/// A value of one column in a generated row.
enum V {
    I(i64),
    T(String),
    B(Vec<u8>),
    Null,
}

/// Random bytes shaped like the store's ciphertext of a `len`-byte value.
fn sealed(len: usize) -> V {
    let mut b = vec![0u8; 1 + 24 + len + 16];
    rand::thread_rng().fill_bytes(&mut b);
    V::B(b)
}

/// Inserts `rows` into `table` in statements of up to 100 rows, with anonymous
/// placeholders on SQLite (binding many `$N` is quadratic there).
async fn insert(
    tx: &mut Transaction<'static, Any>,
    sqlite: bool,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<V>>,
) -> anyhow::Result<()> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<V>> = rows.by_ref().take(100).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 { "(" } else { ",(" });
            for c in 0..columns.len() {
                n += 1;
                if c > 0 {
                    sql.push(',');
                }
                if sqlite { sql.push('?') } else { sql.push_str(&format!("${n}")) }
            }
            sql.push(')');
        }
        let mut q = sqlx::query(&sql);
        for row in chunk {
            for v in row {
                q = match v {
                    V::I(i) => q.bind(i),
                    V::T(t) => q.bind(t),
                    V::B(b) => q.bind(b),
                    V::Null => q.bind(Option::<Vec<u8>>::None),
                };
            }
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

fn micros(date: &str) -> i64 {
    custodian_domain::model::parse_date(date)
        .map(|d| d.midnight().assume_utc().unix_timestamp() * 1_000_000)
        .unwrap_or(0)
}

/// Writes the data set into the store's (migrated, empty) database.
pub(crate) async fn generate(store: &Store, customers: i64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let sqlite = store.engine() == custodian_store::Engine::Sqlite;
    let pool: &AnyPool = store.pool();
    let wrapped = Key::generate().wrap("dek", &Key::generate());
    let created = micros("2018-01-01");
    let customer_columns = [
        "id",
        "kind",
        "status",
        "key_id",
        "created_at",
        "updated_at",
        "company_name",
        "contact_name",
        "visit_street",
        "visit_postcode",
        "visit_city",
        "phone",
        "email",
        "kvk",
        "iban",
        "language",
        "email_consent",
        "email_bidx",
        "kvk_bidx",
    ];
    let invoice_columns = [
        "id",
        "customer_id",
        "key_id",
        "number",
        "issued_on",
        "due_on",
        "paid_on",
        "delivery",
        "net_cents",
        "vat_cents",
        "total_cents",
        "created_at",
        "billing_name",
        "billing_contact",
        "billing_street",
        "billing_postcode",
        "billing_city",
        "billing_country",
        "billing_kvk",
    ];
    let mut first = 1;
    while first <= customers {
        let last = (first + GENERATE_BATCH - 1).min(customers);
        let mut tx = pool.begin().await?;
        let keys: Vec<Vec<V>> = (first..=last)
            .map(|id| vec![V::I(id), V::B(wrapped.clone()), V::I(created)])
            .chain(
                (first..=last)
                    .flat_map(|c| {
                        (0..INVOICES_PER_CUSTOMER).map(move |k| customers + (c - 1) * INVOICES_PER_CUSTOMER + k + 1)
                    })
                    .map(|id| vec![V::I(id), V::B(wrapped.clone()), V::I(created)]),
            )
            .collect();
        insert(&mut tx, sqlite, "data_keys", &["id", "wrapped", "created_at"], keys).await?;
        let rows: Vec<Vec<V>> = (first..=last)
            .map(|id| {
                let mut row = vec![
                    V::I(id),
                    V::T("business".into()),
                    V::T("active".into()),
                    V::I(id),
                    V::I(created),
                    V::I(created),
                ];
                for len in [18, 14, 16, 7, 7, 12, 22, 8, 18, 2, 3] {
                    row.push(sealed(len));
                }
                row.push(sealed(0)); // blind indexes: 16 bytes, near enough
                row.push(V::Null);
                row
            })
            .collect();
        insert(&mut tx, sqlite, "customers", &customer_columns, rows).await?;
        let words: Vec<Vec<V>> = (first..=last)
            .flat_map(|id| (0..2).map(move |_| id))
            .map(|id| {
                let mut w = vec![0u8; 16];
                rand::thread_rng().fill_bytes(&mut w);
                vec![V::I(id), V::B(w)]
            })
            .collect();
        insert(&mut tx, sqlite, "customer_name_words", &["customer_id", "word"], words).await?;
        let mut invoices = vec![];
        let mut lines = vec![];
        for c in first..=last {
            for k in 0..INVOICES_PER_CUSTOMER {
                let id = (c - 1) * INVOICES_PER_CUSTOMER + k + 1;
                // Former customers were last invoiced in 2024, the others in 2025.
                let year = if former(c) { 2020 + k } else { 2021 + k };
                // From February, so no relationship ends before the sweep day by a day.
                let date = format!("{year}-{:02}-{:02}", 2 + c % 11, 1 + c % 28);
                let mut row = vec![
                    V::I(id),
                    V::I(c),
                    V::I(customers + id),
                    V::T(format!("B{c}-{k}")),
                    V::T(date.clone()),
                    V::T(date.clone()),
                    V::T(date),
                    V::T("post".into()),
                    V::I(995),
                    V::I(209),
                    V::I(1204),
                    V::I(created),
                ];
                for len in [18, 14, 16, 7, 7, 2, 8] {
                    row.push(sealed(len));
                }
                invoices.push(row);
                lines.push(vec![V::I(id), V::I(id), V::I(1), V::I(1), V::I(995), V::I(2100), sealed(20)]);
            }
        }
        insert(&mut tx, sqlite, "invoices", &invoice_columns, invoices).await?;
        insert(
            &mut tx,
            sqlite,
            "invoice_lines",
            &["id", "invoice_id", "position", "quantity", "unit_price_cents", "vat_rate_bp", "description"],
            lines,
        )
        .await?;
        tx.commit().await?;
        if last / 100_000 != (first - 1) / 100_000 || last == customers {
            eprintln!(
                "retention: {} customers generated, {:.0} s",
                thousands(last as u64),
                started.elapsed().as_secs_f64()
            );
        }
        first = last + 1;
    }
    Ok(started.elapsed())
}

/// The baseline: the same rows the run deletes, by plain SQL in batches of the
/// run's size, without planning, re-checking, audit or journal.
async fn baseline(pool: &AnyPool, ids: &[i64]) -> anyhow::Result<Duration> {
    let columns = custodian_domain::inventory::fields_of("customers")
        .map(|f| format!("{} = NULL", f.column))
        .collect::<Vec<_>>()
        .join(", ");
    let started = Instant::now();
    for chunk in ids.chunks(BATCH) {
        let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let mut tx = pool.begin().await?;
        let mut statements = vec![
            format!("DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE customer_id IN ({list}))"),
            format!("DELETE FROM one_time_codes WHERE user_id IN (SELECT id FROM users WHERE customer_id IN ({list}))"),
        ];
        for table in ["users", "customer_name_words", "contacts", "services", "statute_acceptances"] {
            statements.push(format!("DELETE FROM {table} WHERE customer_id IN ({list})"));
        }
        statements.push(format!(
            "UPDATE customers SET status = 'erased', key_id = NULL, email_bidx = NULL, kvk_bidx = NULL, erased_at = 1, {columns} WHERE id IN ({list})"
        ));
        // In the generated data a customer's data key has the customer's number.
        statements.push(format!("DELETE FROM data_keys WHERE id IN ({list})"));
        for sql in statements {
            sqlx::query(&sql).persistent(false).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(started.elapsed())
}

/// A copy of the generated database: a file copy on SQLite, a template copy on PostgreSQL.
async fn copy(db: &custodian_testkit::TestDb, to: &Path, admin: Option<&str>) -> anyhow::Result<String> {
    match (&db.dir, admin, db.postgres_database()) {
        (Some(dir), _, _) => {
            std::fs::create_dir_all(to)?;
            for name in ["custodian.db", "custodian.db-wal", "custodian.db-shm"] {
                let from = dir.path().join(name);
                if from.exists() {
                    std::fs::copy(&from, to.join(name)).with_context(|| format!("copying {}", from.display()))?;
                }
            }
            Ok(format!("sqlite://{}?mode=rwc", to.join("custodian.db").display()))
        }
        (None, Some(admin), Some(name)) => {
            use sqlx::{Connection, Executor};
            let copy = format!("{name}_{}", to.file_name().and_then(|n| n.to_str()).unwrap_or("copy"));
            let mut conn = sqlx::AnyConnection::connect(admin).await?;
            conn.execute(format!("DROP DATABASE IF EXISTS {copy}").as_str()).await?;
            // Autovacuum visits the freshly loaded database, and a template must have no visitors.
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind(name)
            .execute(&mut conn)
            .await?;
            conn.execute(format!("CREATE DATABASE {copy} TEMPLATE {name}").as_str()).await?;
            conn.close().await?;
            Ok(custodian_testkit::with_database(admin, &copy))
        }
        _ => bail!("no way to copy this database"),
    }
}

async fn drop_copy(url: &str, admin: Option<&str>) {
    use sqlx::{Connection, Executor};
    if let (Some(admin), Some(name)) = (admin, url.rsplit('/').next())
        && let Ok(mut conn) = sqlx::AnyConnection::connect(admin).await
    {
        let _ = conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
    }
}

/// The binary on the database at `url` (its key in the environment), in `dir`.
fn custodian(bin: &Path, dir: &Path, url: &str, key: &Key, args: &[&str]) -> std::process::Command {
    let mut cmd = clean_command(bin);
    cmd.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("CUSTODIAN_MASTER_KEY", key.to_hex().as_str())
        .env("CUSTODIAN_DATABASE_URL", url);
    cmd
}

pub async fn run(
    db: &custodian_testkit::TestDb,
    admin: Option<&str>,
    settings: &Settings,
) -> anyhow::Result<(Table, Vec<Outcome>)> {
    let bin = custodian_binary()?;
    let engine = db.name();
    let customers = settings.customers;
    let store = Store::open(&db.url, 8, db.key.clone()).await?;
    eprintln!("retention ({engine}): generating {} customers ...", thousands(customers as u64));
    let generated = generate(&store, customers).await?;
    store.close().await;
    let due: Vec<i64> = (1..=customers).filter(|id| former(*id)).collect();

    let work = tempfile::tempdir()?;
    std::fs::write(work.path().join("custodian.toml"), format!("[retention]\nbatch = {BATCH}\n"))?;
    let base_url = copy(db, &work.path().join("baseline"), admin).await?;
    let run_url = copy(db, &work.path().join("run"), admin).await?;

    eprintln!("retention ({engine}): plan ...");
    let plan = run_measured(custodian(
        &bin,
        work.path(),
        &run_url,
        &db.key,
        &["retention", "plan", "--on", ON, "--format", "json"],
    ))?;
    if !plan.status.success() {
        bail!("the plan failed: {}", plan.stderr);
    }
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).context("the plan's JSON")?;
    let planned = json["erasures"].as_array().map(Vec::len).unwrap_or(0);
    if planned != due.len() {
        bail!("the plan names {planned} customers to erase, the data set {}", due.len());
    }
    drop(json);

    eprintln!("retention ({engine}): baseline ...");
    let (pool, _) = custodian_store::db::connect(&base_url, 8).await?;
    let base = baseline(&pool, &due).await?;
    pool.close().await;
    drop_copy(&base_url, admin).await;

    eprintln!("retention ({engine}): run ...");
    let run = run_measured(custodian(&bin, work.path(), &run_url, &db.key, &["retention", "run", "--on", ON]))?;
    if !run.status.success() {
        bail!("the run failed: {}", run.stderr);
    }
    let expected = format!("{} customers erased (retention ended)", due.len());
    if !run.stdout.contains(&expected) {
        bail!("the run did not report {expected:?}: {}", run.stdout);
    }
    let (pool, _) = custodian_store::db::connect(&run_url, 2).await?;
    let erased: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE status = 'erased'").fetch_one(&pool).await?;
    let journal: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM erasure_journal").fetch_one(&pool).await?;
    pool.close().await;
    drop_copy(&run_url, admin).await;
    if erased != due.len() as i64 || journal != erased {
        bail!("after the run {erased} customers are erased and {journal} journaled, expected {}", due.len());
    }

    let mut t = Table::measurement(format!(
        "[6] retention among {} customers / {} invoices ({engine})",
        thousands(customers as u64),
        thousands((customers * INVOICES_PER_CUSTOMER) as u64)
    ));
    let plan_pass = plan.wall < MAX_PLAN;
    let r = run.wall.as_secs_f64() / base.as_secs_f64();
    let run_pass = r <= MAX_RATIO;
    let plan_mem_pass = plan.peak < MAX_PEAK_BYTES;
    let run_mem_pass = run.peak < MAX_PEAK_BYTES;
    t.row([
        format!("plan ({} due)", thousands(planned as u64)),
        format!("{:.1} s", plan.wall.as_secs_f64()),
        String::new(),
        String::new(),
        "< 60 s".into(),
        verdict(plan_pass),
    ]);
    t.row([
        format!("run: erase {}", thousands(due.len() as u64)),
        format!("{:.1} s", run.wall.as_secs_f64()),
        format!("{:.1} s", base.as_secs_f64()),
        ratio(run.wall.as_secs_f64(), base.as_secs_f64()),
        "<= 5.00x".into(),
        verdict(run_pass),
    ]);
    t.row([
        "  run throughput".to_string(),
        format!("{} customers/s", thousands((due.len() as f64 / run.wall.as_secs_f64()) as u64)),
    ]);
    t.row([
        "plan peak RSS".to_string(),
        megabytes(plan.peak),
        String::new(),
        String::new(),
        "< 300 MB".into(),
        verdict(plan_mem_pass),
    ]);
    t.row([
        "run peak RSS".to_string(),
        megabytes(run.peak),
        String::new(),
        String::new(),
        "< 300 MB".into(),
        verdict(run_mem_pass),
    ]);
    t.note(format!("data set generated with bulk SQL in {:.0} s (see the module comment)", generated.as_secs_f64()));
    t.note(format!(
        "plan and run: the real binary as a child process on a copy of the data set, batch {BATCH}; run includes its own planning"
    ));
    t.note(format!("baseline: plain DELETE/UPDATE of the same rows in batches of {BATCH}, no plan, audit or journal, on another copy"));
    t.note(format!("run said: {}", run.stdout.trim()));
    let scale = format!("{} customers", thousands(customers as u64));
    let outcomes = vec![
        Outcome::new(
            &format!("6 retention plan, {scale}"),
            engine,
            format!("{:.1} s", plan.wall.as_secs_f64()),
            "< 60 s",
            plan_pass,
        ),
        Outcome::new(&format!("6 retention run vs raw SQL, {scale}"), engine, format!("{r:.2}x"), "<= 5x", run_pass),
        Outcome::new(
            &format!("6 retention peak RSS, {scale}"),
            engine,
            megabytes(plan.peak.max(run.peak)),
            "< 300 MB",
            plan_mem_pass && run_mem_pass,
        ),
    ];
    Ok((t, outcomes))
}
