//! Fresh databases for tests: SQLite always, PostgreSQL as well when
//! `CUSTODIAN_TEST_POSTGRES_URL` points at a server (each test gets a database of
//! its own, dropped when the test finishes). [`doubles`] holds the SMTP server
//! and SMS API stand-ins that messages are sent to; [`s3`], [`webdav`] and
//! [`sftp`] the storage servers backups go to.
#![forbid(unsafe_code)]

pub mod doubles;
pub mod epp;
pub mod s3;
pub mod sftp;
pub mod webdav;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use custodian_domain::model::{ContactData, CustomerData, CustomerKind, Fields};
use custodian_store::{Engine, Key, Store};
use sqlx::{Connection, Executor};

pub const POSTGRES_ENV: &str = "CUSTODIAN_TEST_POSTGRES_URL";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One empty database and the master key that goes with it.
pub struct TestDb {
    pub engine: Engine,
    pub url: String,
    pub key: Key,
    /// Holds the SQLite directory alive; `None` for PostgreSQL.
    pub dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

/// A fresh database on every engine under test.
pub async fn databases() -> Vec<TestDb> {
    let mut out = vec![sqlite()];
    if let Some(admin) = std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty()) {
        out.push(postgres(&admin).await);
    }
    out
}

/// The PostgreSQL database of a test that means something there only
/// (notices between connections, connections the server drops). Without a
/// server to test on it fails instead of passing without testing anything.
pub async fn postgres_only() -> TestDb {
    match std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty()) {
        Some(admin) => postgres(&admin).await,
        None => panic!("this test runs on PostgreSQL only: set {POSTGRES_ENV} to a server URL (scripts/test does)"),
    }
}

pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("custodian.db").display());
    TestDb { engine: Engine::Sqlite, url, key: Key::generate(), dir: Some(dir), postgres: None }
}

/// A new database on the PostgreSQL server at `admin_url`.
pub async fn postgres(admin_url: &str) -> TestDb {
    sqlx::any::install_default_drivers();
    let name = format!(
        "custodian_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    );
    let mut admin = sqlx::AnyConnection::connect(admin_url).await.expect("connect to the PostgreSQL test server");
    drop_stale(&mut admin).await;
    // Creating copies template1, which a concurrent creation may hold for a
    // moment ("source database is being accessed by other users").
    let mut tries = 0;
    while let Err(e) = admin.execute(format!("CREATE DATABASE {name}").as_str()).await {
        tries += 1;
        assert!(tries < 20, "create test database: {e}");
        tokio::time::sleep(std::time::Duration::from_millis(100 * tries)).await;
    }
    admin.close().await.ok();
    let url = with_database(admin_url, &name);
    TestDb { engine: Engine::Postgres, url, key: Key::generate(), dir: None, postgres: Some((admin_url.into(), name)) }
}

/// Drops test databases left behind by test processes that no longer run.
async fn drop_stale(admin: &mut sqlx::AnyConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE 'custodian_t_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
            let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
        }
    }
}

/// `admin_url` with its database name replaced by `name`.
pub fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url.split_once('?').map(|(b, q)| (b, Some(q))).unwrap_or((admin_url, None));
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl TestDb {
    pub async fn store(&self) -> Store {
        Store::open(&self.url, 8, self.key.clone()).await.expect("open store")
    }

    /// A short label for assertion messages.
    pub fn name(&self) -> &'static str {
        self.engine.name()
    }

    /// The PostgreSQL database name, when on PostgreSQL.
    pub fn postgres_database(&self) -> Option<&str> {
        self.postgres.as_ref().map(|(_, n)| n.as_str())
    }

    /// A second database holding what this one holds now, under the same key.
    /// Nothing may have this one open: SQLite's files are copied as they are,
    /// and PostgreSQL refuses a template that is in use.
    pub async fn duplicate(&self) -> TestDb {
        match (&self.postgres, &self.dir) {
            (Some((admin_url, name)), _) => {
                let copy = postgres(admin_url).await;
                let new = copy.postgres_database().expect("a PostgreSQL copy has a name").to_string();
                let mut admin = sqlx::AnyConnection::connect(admin_url).await.expect("connect to PostgreSQL");
                admin.execute(format!("DROP DATABASE {new}").as_str()).await.expect("drop the empty copy");
                admin
                    .execute(format!("CREATE DATABASE {new} TEMPLATE {name}").as_str())
                    .await
                    .expect("copy the database");
                admin.close().await.ok();
                TestDb { key: self.key.clone(), ..copy }
            }
            (None, dir) => {
                let dir = dir.as_ref().expect("a SQLite test database has a directory");
                let copy = sqlite();
                let to = copy.dir.as_ref().expect("a SQLite copy has a directory").path();
                for suffix in ["", "-wal", "-shm"] {
                    let from = dir.path().join(format!("custodian.db{suffix}"));
                    if from.exists() {
                        std::fs::copy(&from, to.join(format!("custodian.db{suffix}"))).expect("copy the database file");
                    }
                }
                TestDb { key: self.key.clone(), ..copy }
            }
        }
    }

    /// Drops the PostgreSQL database; SQLite files go with the temp dir.
    pub async fn finish(self) {
        if let Some((admin_url, name)) = &self.postgres
            && let Ok(mut admin) = sqlx::AnyConnection::connect(admin_url).await
        {
            let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
        }
    }
}

/// Form fields of a plausible business customer, distinct per `n`.
pub fn customer_fields(n: u64) -> Fields {
    let pairs = [
        ("company_name", format!("Bedrijf {n} B.V.")),
        ("contact_name", format!("Contact Persoon{n}")),
        ("visit_street", format!("Hoofdstraat {}", n % 500 + 1)),
        ("visit_postcode", format!("{} AB", 1000 + n % 9000)),
        ("visit_city", "Alkmaar".to_string()),
        ("email", format!("klant{n}@voorbeeld.nl")),
        ("phone", "072-5116617".to_string()),
        ("kvk", format!("{:08}", 10_000_000 + n % 89_999_999)),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

pub fn customer(n: u64) -> CustomerData {
    CustomerData::from_fields(CustomerKind::Business, &customer_fields(n)).expect("sample customer is valid")
}

/// A plausible registry contact (handle) with ID `handle`.
pub fn contact(handle: &str) -> ContactData {
    let pairs = [
        ("handle", handle),
        ("name", "Piet Kievit"),
        ("addr_street", "Dijk 1"),
        ("addr_postcode", "1811 AB"),
        ("addr_city", "Alkmaar"),
        ("addr_country", "NL"),
        ("phone", "072-5116617"),
        ("email", "piet@kievit.nl"),
    ];
    let fields: Fields = pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ContactData::from_fields(&fields).expect("sample contact is valid")
}

/// Every file under `dir`, at any depth.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(files(&path)) } else { out.push(path) }
    }
    out
}
