//! Target 3: blind-index lookups among a million customers (SQLite).
//!
//! Customers `1..=N` are `custodian_testkit::customer(n)`, loaded in order with
//! [`Store::create_customers`], so on a database loaded by this bench customer
//! number `n` is customer `n`. A database given with `--db` is reused when it
//! already holds N customers, and topped up otherwise; its master key lives in
//! `<PATH>.key`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use custodian_domain::validate::Email;
use custodian_store::{Access, AccessPurpose, Actor, Key, Lookup, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::report::{Outcome, Stats, Table, ms, ratio, thousands, verdict};

const MAX_MEDIAN: Duration = Duration::from_millis(1);
const BATCH: u64 = 1000;
const PROGRESS_EVERY: u64 = 100_000;

pub struct Settings {
    pub customers: u64,
    pub email_lookups: usize,
    pub name_lookups: usize,
    pub warmup: usize,
    /// Reuse this SQLite file (and `<file>.key`); a temp dir otherwise.
    pub db: Option<PathBuf>,
}

fn key_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".key");
    PathBuf::from(p)
}

/// The master key of `db`: read from `<db>.key`, or made and written for a new database.
pub(crate) fn master_key(db: &Path) -> anyhow::Result<Key> {
    let path = key_path(db);
    if path.exists() {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        return Key::from_hex(&text).with_context(|| format!("key file {}", path.display()));
    }
    if db.exists() {
        bail!(
            "{} exists but its key file {} does not; remove the database to start over",
            db.display(),
            path.display()
        );
    }
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let key = Key::generate();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(key.to_hex().as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(key)
}

async fn count(store: &Store) -> anyhow::Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers").fetch_one(store.pool()).await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Adds customers `have+1..=want`, reporting progress on stderr.
async fn load(store: &Store, have: u64, want: u64) -> anyhow::Result<Duration> {
    let access = Access::new(Actor::operator(), AccessPurpose::Administration);
    let start = Instant::now();
    let mut n = have;
    eprintln!("lookup: loading customers {} to {} ...", thousands(have + 1), thousands(want));
    while n < want {
        let upto = (n + BATCH).min(want);
        let batch: Vec<_> = (n + 1..=upto).map(custodian_testkit::customer).collect();
        let ids = store.create_customers(&access, &batch).await?;
        if ids.first().copied() != i64::try_from(n + 1).ok() {
            eprintln!("lookup: warning: customer {} got number {:?}; lookups check existence only", n + 1, ids.first());
        }
        let before = n;
        n = upto;
        if n / PROGRESS_EVERY != before / PROGRESS_EVERY || n == want {
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "lookup: {:>9} customers loaded, {:>7.1} s elapsed, {:>6.0} customers/s",
                thousands(n),
                secs,
                (n - have) as f64 / secs
            );
        }
    }
    Ok(start.elapsed())
}

pub async fn run(settings: &Settings) -> anyhow::Result<(Table, Vec<Outcome>)> {
    let temp;
    let path = match &settings.db {
        Some(p) => p.clone(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().join("lookup.db")
        }
    };
    let key = master_key(&path)?;
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = Store::open(&url, 8, key).await.with_context(|| format!("opening {}", path.display()))?;
    let have = count(&store).await?;
    let load_note = if have >= settings.customers {
        eprintln!("lookup: {} already holds {} customers; not loading", path.display(), thousands(have));
        format!("reused {} with {} customers", path.display(), thousands(have))
    } else {
        let took = load(&store, have, settings.customers).await?;
        format!(
            "loaded {} customers into {} in {:.0} s ({:.0}/s) with Store::create_customers, {} per call",
            thousands(settings.customers - have),
            path.display(),
            took.as_secs_f64(),
            (settings.customers - have) as f64 / took.as_secs_f64(),
            BATCH
        )
    };
    let total = count(&store).await?;
    let pick_from = settings.customers.min(total).max(1);

    let mut rng = StdRng::seed_from_u64(0x5eed);
    let pool = store.pool();
    let pk =
        |id: i64| sqlx::query_scalar::<_, i64>("SELECT id FROM customers WHERE id = $1").bind(id).fetch_optional(pool);

    // Warm-up: page cache and statement caches, all three kinds.
    for _ in 0..settings.warmup {
        let n = rng.gen_range(1..=pick_from);
        store.find_customers(&search_access(), &email_lookup(n)?).await?;
        store.find_customers(&search_access(), &Lookup::NameWord(format!("Persoon{n}"))).await?;
        pk(n as i64).await?;
    }

    let mut email = Vec::with_capacity(settings.email_lookups);
    let mut name = Vec::with_capacity(settings.name_lookups);
    let mut base = Vec::with_capacity(settings.email_lookups + settings.name_lookups);
    let mut exact = 0usize;
    let mut check = |found: &[i64], n: u64, what: &str| -> anyhow::Result<()> {
        if found.is_empty() {
            bail!("{what} lookup of customer {n} found nothing");
        }
        if found == [n as i64] {
            exact += 1;
        }
        Ok(())
    };
    // Interleaved with the primary-key baseline, one each in turn.
    for i in 0..settings.email_lookups + settings.name_lookups {
        let n = rng.gen_range(1..=pick_from);
        let (lookup, what) = if i < settings.email_lookups {
            (email_lookup(n)?, "e-mail")
        } else {
            (Lookup::NameWord(format!("Persoon{n}")), "name word")
        };
        let t = Instant::now();
        let found = store.find_customers(&search_access(), &lookup).await?;
        let took = t.elapsed();
        check(&found, n, what)?;
        if i < settings.email_lookups {
            email.push(took)
        } else {
            name.push(took)
        }

        let id = rng.gen_range(1..=pick_from) as i64;
        let t = Instant::now();
        let row = pk(id).await?;
        base.push(t.elapsed());
        if row.is_none() {
            eprintln!("lookup: warning: no customer with number {id}");
        }
    }
    store.close().await;

    let base = Stats::of(&mut base);
    let mut t = Table::measurement(format!("[3] blind-index lookup among {} customers (sqlite)", thousands(total)));
    let mut outcomes = vec![];
    for (label, samples, variant) in
        [("Lookup::Email", &mut email, "email"), ("Lookup::NameWord", &mut name, "name word")]
    {
        let s = Stats::of(samples);
        let pass = s.p50 < MAX_MEDIAN;
        t.row([
            format!("{label} median ({})", thousands(s.count as u64)),
            ms(s.p50),
            ms(base.p50),
            ratio(s.p50.as_secs_f64(), base.p50.as_secs_f64()),
            "< 1.000 ms".into(),
            verdict(pass),
        ]);
        t.row([format!("  {label} p99"), ms(s.p99), ms(base.p99), ratio(s.p99.as_secs_f64(), base.p99.as_secs_f64())]);
        t.row([format!("  {label} max"), ms(s.max), ms(base.max), ratio(s.max.as_secs_f64(), base.max.as_secs_f64())]);
        t.row([
            format!("  {label} mean"),
            ms(s.mean),
            ms(base.mean),
            ratio(s.mean.as_secs_f64(), base.mean.as_secs_f64()),
        ]);
        outcomes.push(Outcome::new(
            &format!("3 {variant} lookup median, {} customers", thousands(total)),
            "sqlite",
            ms(s.p50),
            "< 1 ms",
            pass,
        ));
    }
    t.note(load_note);
    t.note(format!(
        "baseline: {} lookups by primary key (SELECT id FROM customers WHERE id = $1) through the pool, interleaved",
        thousands(base.count as u64)
    ));
    t.note(format!(
        "{} of {} lookups returned exactly the expected customer; {} warm-up rounds",
        thousands(exact as u64),
        thousands((settings.email_lookups + settings.name_lookups) as u64),
        settings.warmup
    ));
    if total < 1_000_000 {
        t.note("fewer than 1,000,000 customers: the target is stated for 1,000,000");
    }
    Ok((t, outcomes))
}

fn email_lookup(n: u64) -> anyhow::Result<Lookup> {
    let email = Email::parse(&format!("klant{n}@voorbeeld.nl")).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(Lookup::Email(email))
}

/// The operator's access for the searches measured here (each is audited).
fn search_access() -> custodian_store::Access {
    custodian_store::Access::new(custodian_store::Actor::operator(), custodian_store::AccessPurpose::Administration)
}
