//! Database access for custodian.
//!
//! The [`Store`] is the only way to personal data. Every method that returns or
//! changes personal data takes an [`Access`] (actor, purpose, source), checks the
//! actor's role against the data inventory, and leaves an audit entry that is
//! durable before the data is returned. Personal fields are encrypted per
//! customer; see [`crypto`].
#![forbid(unsafe_code)]

pub mod api_tokens;
pub mod audit;
pub mod auth;
mod cache;
mod care;
pub mod crypto;
pub mod db;
mod erasure;
mod jobs;
mod keys;
pub mod lease;
mod lookups;
pub mod outbox;
mod permit;
mod records;
mod refusal;
pub mod registry;
mod replay;
mod retention;

mod customers;
mod export;
mod invoices;
mod overview;
mod related;
pub mod requests;
mod rows;
mod search_names;

use custodian_domain::model::FieldErrors;
use sqlx::AnyPool;

pub use api_tokens::{ApiToken, Scope};
pub use audit::{
    Access, AccessPurpose, Actor, ActorKind, AuditFilter, AuditPage, Entry, Problem, ProblemKind, Verification,
};
pub use auth::{Account, AuthError, NewSession, Session};
pub use cache::CacheStats;
pub use care::{ErasureStanding, ServiceLine};
pub use crypto::{CryptoError, Key};
pub use customers::{CustomerRecord, CustomerSummary, Lookup, StoreCounts};
pub use db::Engine;
pub use erasure::{ErasureReason, JournalEntry};
pub use export::Export;
pub use invoices::{
    CreditNote, ImportInvoice, ImportProblem, ImportSummary, InvoicePage, InvoiceRecipient, InvoiceRecord, LineRecord,
    LineReport, NewCreditNote, NewInvoice, NotByEmail, Outcome, Payment, PaymentRecord, Rejected, Settlement,
    SourceFormat, Standing, StandingCount, invoice_from_json, json_lines, read_source,
};
pub use jobs::JobLease;
pub use outbox::{Channel, EmailConsent, Outbox, OutboxCounts};
pub use permit::Denial;
pub use refusal::Refusal;
pub use related::{ContactRecord, ServiceRecord, StatuteAcceptance};
pub use replay::{RESTORE_MARKER, ReplayReport};
pub use retention::{Cause, InvoiceYear, Plan, PlannedErasure, PlannedHandle, RequestOutcome, RunReport};
pub use search_names::NAMED_RESULTS;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Invalid(FieldErrors),
    #[error("{kind} {id} does not exist")]
    NotFound { kind: &'static str, id: String },
    #[error("{0}")]
    Erased(String),
    /// The access policy refused: a coded refusal, shown in the user's language.
    #[error("not allowed: {0}")]
    Denied(Denial),
    /// A valid request the state does not allow: coded, shown in the user's language.
    #[error("{0}")]
    Refused(Refusal),
    /// Stored data that does not decode or is inconsistent: internal, never
    /// shown as the user's fault.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(
        "the master key (fingerprint {given}) does not open this database, which was set up with the key of fingerprint {expected}"
    )]
    WrongMasterKey { given: String, expected: String },
    #[error("decryption failed: {0}")]
    Crypto(#[from] CryptoError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("audit trail: {0}")]
    Audit(String),
    #[error("{0}")]
    Auth(#[from] auth::AuthError),
}

impl StoreError {
    /// The database could not be reached in time (down, unreachable, or every
    /// connection busy): nothing is wrong with the request, try again later.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Db(
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::WorkerCrashed
            )
        )
    }
}

impl From<Refusal> for StoreError {
    fn from(r: Refusal) -> Self {
        StoreError::Refused(r)
    }
}

impl From<FieldErrors> for StoreError {
    fn from(e: FieldErrors) -> Self {
        StoreError::Invalid(e)
    }
}

pub(crate) fn now_micros() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The personal-data store. Cheap to clone (the pool and keys are shared).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    keys: std::sync::Arc<keys::Keyring>,
    audit: audit::Writer,
    /// Inline readers for the hot path when the database is a SQLite file.
    natives: Option<std::sync::Arc<rows::Natives>>,
    /// Where the database is, for the read cache's listener.
    url: std::sync::Arc<str>,
    /// A server's read cache (see [`Store::with_read_cache`]).
    cache: Option<std::sync::Arc<cache::Cache>>,
    /// The policy settings of this company's protocol (whether it has staff).
    settings: custodian_domain::policy::Settings,
}

impl Store {
    /// Connects, applies pending migrations, and opens the keyring with `master`
    /// (creating the keyring on a new database).
    pub async fn open(url: &str, max_connections: u32, master: Key) -> Result<Store, StoreError> {
        let (pool, engine) = db::connect(url, max_connections).await?;
        db::migrate(&pool, engine).await?;
        replay::refuse_unfinished_restore(&pool).await?;
        let keys = keys::Keyring::open(&pool, master).await?;
        lookups::fill_missing(&pool, &keys).await?;
        let audit = audit::Writer::spawn(pool.clone());
        let natives = match engine {
            Engine::Sqlite => audit::sqlite_file(url)?.map(|path| std::sync::Arc::new(rows::Natives::new(path))),
            Engine::Postgres => None,
        };
        Ok(Store {
            pool,
            engine,
            keys: std::sync::Arc::new(keys),
            audit,
            natives,
            url: url.into(),
            cache: None,
            settings: Default::default(),
        })
    }

    /// This store under the protocol's policy settings (e.g. no staff accounts, M6).
    pub fn with_policy_settings(mut self, settings: custodian_domain::policy::Settings) -> Store {
        self.settings = settings;
        self
    }

    pub fn policy_settings(&self) -> custodian_domain::policy::Settings {
        self.settings
    }

    /// This store with a read cache for session checks and customers' own
    /// dashboards (see `cache`). For a long-running server: on PostgreSQL the
    /// cache keeps a listening connection of its own. Call inside a Tokio
    /// runtime.
    pub fn with_read_cache(mut self) -> Store {
        if self.cache.is_some() {
            return self;
        }
        self.cache = match (self.engine, &self.natives) {
            (Engine::Postgres, _) => {
                let cache = std::sync::Arc::new(cache::Cache::listening());
                cache::spawn_listener(&cache, self.url.to_string(), self.pool.clone());
                Some(cache)
            }
            (Engine::Sqlite, Some(natives)) => Some(std::sync::Arc::new(cache::Cache::versioned(natives.clone()))),
            // An in-memory database is a test's: nothing to save.
            (Engine::Sqlite, None) => None,
        };
        self
    }

    /// Returns once the read cache reflects every change committed before the
    /// call, by any process (at once without a cache). A server calls it after
    /// each change it made, so that what it shows next cannot predate the
    /// change: the database's change notices arrive a moment after the commit.
    pub async fn settle_read_cache(&self) {
        if let Some(cache) = &self.cache {
            cache.settle(&self.pool).await;
        }
    }

    /// The read cache's state and counters; `None` without a cache.
    pub fn read_cache_stats(&self) -> Option<CacheStats> {
        self.cache.as_ref().map(|c| c.stats())
    }

    /// One trivial statement: whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// A reader for the hot path (see `rows`).
    pub(crate) async fn reader(&self) -> Result<rows::Reader, StoreError> {
        rows::Reader::new(&self.natives, &self.pool).await
    }

    /// The first row of one hot-path statement (see `rows`), read outside any
    /// transaction.
    pub(crate) async fn read_one(&self, sql: &str, binds: &[rows::Bind<'_>]) -> Result<Option<rows::Row>, StoreError> {
        match &self.natives {
            Some(natives) => natives.read_one(sql, binds),
            None => self.reader().await?.optional(sql, binds).await,
        }
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The pool, for tests and benchmarks that need raw SQL (tamper tests,
    /// schema inspection, baselines).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A keyed MAC under an installation secret, for tokens that must not be
    /// forgeable (e.g. the anti-forgery token of public forms).
    pub fn mac(&self, domain: &str, value: &str) -> Vec<u8> {
        self.keys.index.blind_index(&format!("mac/{domain}"), value)
    }

    pub fn master_fingerprint(&self) -> String {
        self.keys.master_fingerprint()
    }

    /// Checks the whole audit chain.
    pub async fn audit_verify(&self) -> Result<Verification, StoreError> {
        audit::verify(&self.pool).await
    }

    /// Re-wraps every data key and system key under `new_master`, in one
    /// transaction; the data itself is not rewritten. The caller stores the new
    /// key first, so a crash leaves either key usable (see the binary's keyfile).
    pub async fn rotate_master_key(&self, access: &Access, new_master: &Key) -> Result<u64, StoreError> {
        keys::rotate(&self.pool, &self.keys, new_master, access).await
    }

    async fn record(&self, event: audit::Event) -> Result<i64, StoreError> {
        self.audit.record(event).await
    }

    /// Records an event that is not a change to stored data (a login, a search,
    /// a failed attempt) and returns its position once it is durable. A
    /// customer's source address is sealed under their own key.
    pub async fn audit_event(
        &self,
        access: &Access,
        action: &'static str,
        subject_kind: &'static str,
        subject_id: &str,
        fields: &[&str],
    ) -> Result<i64, StoreError> {
        let mut event = audit::Event::new(access, action, subject_kind, subject_id).fields(fields);
        let customer_key = match (access.actor.kind, access.source) {
            (ActorKind::Customer, Some(_)) => {
                let id: i64 =
                    access.actor.id.parse().map_err(|_| StoreError::Audit("customer actor without a number".into()))?;
                let (head, _) = self.load_customer_row(&self.pool, id).await?;
                Some(self.keys.data_key(&self.pool, head.live_key_id()?).await?)
            }
            _ => None,
        };
        self.keys.seal_source(&mut event, customer_key.as_ref());
        self.record(event).await
    }

    /// The columns of the live schema, for the inventory-completeness check.
    pub async fn live_columns(&self) -> Result<Vec<(String, String)>, StoreError> {
        db::live_columns(&self.pool, self.engine).await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
