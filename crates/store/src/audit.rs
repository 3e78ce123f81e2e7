//! The audit trail: append-only and hash-chained.
//!
//! Each entry's hash covers the previous entry's hash and all of its own columns,
//! so altering, removing or reordering any entry breaks the chain from there on.
//! The chain head (last seq and hash) is kept in `audit_head`, which also exposes
//! removal of the newest entries. Entries hold names, never values: which fields
//! were touched, by whom, why. The source address is the one personal value; it is
//! encrypted under the actor's key (a customer's own key, or the system key).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::str::FromStr;

use custodian_domain::inventory::Role;
use futures_util::TryStreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyPool, ConnectOptions, Connection, Row, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::{StoreError, now_micros};

/// Who did something. Made only where someone is authenticated: a session's
/// account ([`crate::Account::actor`]), an API token ([`crate::ApiToken::actor`]),
/// the command line ([`Actor::operator`]) or a scheduled job ([`Actor::job`]);
/// no other crate can make a person or a customer out of thin air.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub(crate) kind: ActorKind,
    /// Pseudonymous ID: staff user ID, customer number, job or token name.
    pub(crate) id: String,
    pub(crate) role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    /// Someone at the server's command line (the owner's access).
    Operator,
    Staff,
    Customer,
    Job,
    Api,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Operator => "operator",
            ActorKind::Staff => "staff",
            ActorKind::Customer => "customer",
            ActorKind::Job => "job",
            ActorKind::Api => "api",
        }
    }
}

impl Actor {
    /// The command line: full (owner) access, audited like everyone else.
    pub fn operator() -> Actor {
        Actor { kind: ActorKind::Operator, id: "cli".into(), role: Role::Owner }
    }

    /// A signed-in customer; see [`crate::Account::actor`].
    pub(crate) fn signed_in_customer(id: i64) -> Actor {
        Actor { kind: ActorKind::Customer, id: id.to_string(), role: Role::Subject }
    }

    /// A signed-in member of staff; see [`crate::Account::actor`].
    pub(crate) fn signed_in_staff(user_id: impl Into<String>, role: Role) -> Actor {
        Actor { kind: ActorKind::Staff, id: user_id.into(), role }
    }

    /// A customer, without signing in: for tests and the benchmark only
    /// (feature `test-actors`, never enabled by the server).
    #[cfg(any(test, feature = "test-actors"))]
    pub fn customer(id: i64) -> Actor {
        Actor::signed_in_customer(id)
    }

    /// A member of staff, without signing in: for tests and the benchmark only.
    #[cfg(any(test, feature = "test-actors"))]
    pub fn staff(user_id: impl Into<String>, role: Role) -> Actor {
        Actor::signed_in_staff(user_id, role)
    }

    pub fn kind(&self) -> ActorKind {
        self.kind
    }

    /// The pseudonymous ID (account, customer number, job or token name).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn job(name: &str) -> Actor {
        Actor { kind: ActorKind::Job, id: name.into(), role: Role::Owner }
    }

    /// Whether this actor is the customer `customer_id` acting on their own record.
    pub fn is_subject(&self, customer_id: i64) -> bool {
        self.kind == ActorKind::Customer && self.id == customer_id.to_string()
    }
}

pub use custodian_domain::policy::AccessPurpose;

/// An actor, the reason they give, and where the request came from: what every
/// store operation on personal data takes.
#[derive(Debug, Clone)]
pub struct Access {
    pub actor: Actor,
    pub purpose: AccessPurpose,
    pub source: Option<IpAddr>,
}

impl Access {
    pub fn new(actor: Actor, purpose: AccessPurpose) -> Access {
        Access { actor, purpose, source: None }
    }

    pub fn from(mut self, source: IpAddr) -> Access {
        self.source = Some(source);
        self
    }
}

/// One thing to record.
#[derive(Debug, Clone)]
pub struct Event {
    pub access: Access,
    pub action: &'static str,
    pub subject_kind: &'static str,
    pub subject_id: String,
    pub fields: Vec<String>,
    /// The source address, sealed: (key name, ciphertext).
    pub(crate) source: Option<(String, Vec<u8>)>,
}

impl Event {
    pub fn new(access: &Access, action: &'static str, subject_kind: &'static str, subject_id: impl ToString) -> Event {
        Event {
            access: access.clone(),
            action,
            subject_kind,
            subject_id: subject_id.to_string(),
            fields: vec![],
            source: None,
        }
    }

    pub fn fields<S: ToString>(mut self, fields: impl IntoIterator<Item = S>) -> Event {
        self.fields = fields.into_iter().map(|f| f.to_string()).collect();
        self
    }
}

/// A stored entry as shown to people (source decrypted when the viewer may).
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub seq: i64,
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: String,
    pub action: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub fields: Vec<String>,
    pub purpose: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The columns that make up an entry, in the order the hash covers them.
struct Row_<'a> {
    seq: i64,
    at: i64,
    /// actor_kind, actor_id, action, subject_kind, subject_id, fields, purpose and
    /// source_key (columns 2 to 9 of [`COLUMNS`]), as UTF-8 bytes.
    texts: [&'a [u8]; 8],
    source: &'a [u8],
}

impl Row_<'_> {
    fn hash(&self, prev: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(prev);
        h.update(self.seq.to_be_bytes());
        h.update(self.at.to_be_bytes());
        for part in self.texts.into_iter().chain([self.source]) {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }
}

/// The columns of `audit_log`, in the order the INSERT and the verifying readers use.
const COLUMNS: &str = "seq, at, actor_kind, actor_id, action, subject_kind, subject_id, fields, purpose, source_key, source, prev_hash, hash";

/// How `append` writes its rows on one engine.
#[derive(Clone, Copy)]
struct InsertShape {
    /// Rows per INSERT at most; a power of two (see [`insert_sizes`]).
    max_rows: usize,
    /// Anonymous `?` placeholders instead of `$N`. sqlx-sqlite looks up every
    /// parameter's name, which SQLite finds by a linear walk over the named
    /// parameters: with `$N` binding one statement costs time quadratic in its
    /// parameters, with `?` (no names) linear. PostgreSQL reads only `$N`.
    anonymous: bool,
}

impl InsertShape {
    /// Measured with 256 concurrent callers (groups of up to 256 entries): on
    /// SQLite with `?`, 64 to 256 rows per statement all give about 60,000
    /// entries/s (16 rows: 50,000); on PostgreSQL, where each statement is a round
    /// trip, 64 to 512 rows are alike within the noise. 256 x 13 parameters stays
    /// far below either engine's limit (32,766 and 65,535).
    fn of(tx: &Transaction<'static, Any>) -> InsertShape {
        if tx.backend_name() == <sqlx::Sqlite as sqlx::Database>::NAME {
            InsertShape { max_rows: 128, anonymous: true }
        } else {
            InsertShape { max_rows: 256, anonymous: false }
        }
    }

    fn sql(self, rows: usize) -> String {
        let mut sql = format!("INSERT INTO audit_log ({COLUMNS}) VALUES ");
        sql.reserve(rows * 13 * 6);
        for row in 0..rows {
            sql.push_str(if row == 0 { "(" } else { ",(" });
            for k in 1..=13 {
                if k > 1 {
                    sql.push(',');
                }
                if self.anonymous {
                    sql.push('?');
                } else {
                    let _ = write!(sql, "${}", row * 13 + k);
                }
            }
            sql.push(')');
        }
        sql
    }
}

/// Splits `n` rows into statements: as many of `max` rows as fit, then the rest
/// by its binary digits (e.g. 100 with max 64: 64, 32, 4). Each connection thus
/// prepares at most log2(max) + 1 distinct statements, whatever the group sizes,
/// instead of one per leftover size (which would churn the statement cache).
fn insert_sizes(n: usize, max: usize) -> impl Iterator<Item = usize> {
    debug_assert!(max.is_power_of_two());
    let full = std::iter::repeat_n(max, n / max);
    let rest = n % max;
    let bits = (0..usize::BITS).rev().map(|b| 1usize << b).filter(move |size| rest & size != 0);
    full.chain(bits)
}

/// Appends `events` to the chain inside `tx`. The caller opened `tx` with
/// [`crate::db::write_tx`], so the head row is locked.
pub(crate) async fn append(tx: &mut Transaction<'static, Any>, events: &[Event]) -> Result<Vec<i64>, StoreError> {
    if events.is_empty() {
        return Ok(vec![]);
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut **tx).await?;
    let mut seq: i64 = head.try_get(0)?;
    let mut prev: Vec<u8> = head.try_get(1)?;
    let at = now_micros();

    struct Prepared<'e> {
        seq: i64,
        event: &'e Event,
        fields: String,
        source_key: &'e str,
        source: Option<&'e [u8]>,
        prev: Vec<u8>,
        hash: Vec<u8>,
    }
    let mut prepared = Vec::with_capacity(events.len());
    for event in events {
        seq += 1;
        let (source_key, source) = match &event.source {
            Some((name, sealed)) => (name.as_str(), Some(sealed.as_slice())),
            None => ("", None),
        };
        let fields = event.fields.join(",");
        let row = Row_ {
            seq,
            at,
            texts: [
                event.access.actor.kind.as_str(),
                &event.access.actor.id,
                event.action,
                event.subject_kind,
                &event.subject_id,
                &fields,
                event.access.purpose.as_str(),
                source_key,
            ]
            .map(str::as_bytes),
            source: source.unwrap_or_default(),
        };
        let hash = row.hash(&prev).to_vec();
        let prev = std::mem::replace(&mut prev, hash.clone());
        prepared.push(Prepared { seq, event, fields, source_key, source, prev, hash });
    }

    let shape = InsertShape::of(tx);
    let mut rest = prepared.as_slice();
    for size in insert_sizes(prepared.len(), shape.max_rows) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let sql = shape.sql(size);
        let mut q = sqlx::query(&sql);
        for p in chunk {
            let e = p.event;
            q = q
                .bind(p.seq)
                .bind(at)
                .bind(e.access.actor.kind.as_str())
                .bind(e.access.actor.id.as_str())
                .bind(e.action)
                .bind(e.subject_kind)
                .bind(e.subject_id.as_str())
                .bind(p.fields.as_str())
                .bind(e.access.purpose.as_str())
                .bind(p.source_key)
                .bind(p.source)
                .bind(p.prev.as_slice())
                .bind(p.hash.as_slice());
        }
        q.execute(&mut **tx).await?;
    }
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(prev)
        .execute(&mut **tx)
        .await?;
    Ok(prepared.iter().map(|p| p.seq).collect())
}

/// A source address opens only as the address of the actor it was recorded for.
pub(crate) fn source_aad(actor: &Actor) -> Vec<u8> {
    format!("custodian/audit/source/{}/{}", actor.kind.as_str(), actor.id).into_bytes()
}

type Pending = (Event, oneshot::Sender<Result<i64, String>>);

/// Group commit for audit entries that are not part of a larger change (reads,
/// exports). Callers wait until their entry is durable; many waiting callers share
/// one transaction and one fsync.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Pending>,
}

/// How many entries one group commit takes at most.
const GROUP_MAX: usize = 2048;

impl Writer {
    pub(crate) fn spawn(pool: AnyPool) -> Writer {
        let (tx, mut rx) = mpsc::channel::<Pending>(GROUP_MAX * 4);
        tokio::spawn(async move {
            let mut batch: Vec<Pending> = Vec::with_capacity(GROUP_MAX);
            while rx.recv_many(&mut batch, GROUP_MAX).await > 0 {
                let events: Vec<Event> = batch.iter().map(|(e, _)| e.clone()).collect();
                let result = async {
                    let mut t = crate::db::write_tx(&pool).await?;
                    let seqs = append(&mut t, &events).await?;
                    t.commit().await?;
                    Ok::<_, StoreError>(seqs)
                }
                .await;
                match result {
                    Ok(seqs) => {
                        for ((_, reply), seq) in batch.drain(..).zip(seqs) {
                            let _ = reply.send(Ok(seq));
                        }
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        for (_, reply) in batch.drain(..) {
                            let _ = reply.send(Err(msg.clone()));
                        }
                    }
                }
            }
        });
        Writer { tx }
    }

    /// Records `event` and returns once it is committed.
    pub(crate) async fn record(&self, event: Event) -> Result<i64, StoreError> {
        let (reply, wait) = oneshot::channel();
        self.tx.send((event, reply)).await.map_err(|_| StoreError::Audit("audit writer stopped".into()))?;
        wait.await.map_err(|_| StoreError::Audit("audit writer stopped".into()))?.map_err(StoreError::Audit)
    }
}

/// The outcome of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub entries: u64,
    pub problem: Option<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The first position where the chain is broken.
    pub seq: i64,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The entry's content does not match its hash.
    Altered,
    /// The entry does not follow the one before it: an entry before it was
    /// removed or the order was changed.
    Removed,
    /// Entries at and after this position were removed (the head says more exist).
    Truncated,
    /// The entry is out of sequence.
    Reordered,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            ProblemKind::Altered => "was altered",
            ProblemKind::Removed => "is missing: it or an entry before it was removed",
            ProblemKind::Truncated => "and every entry after it were removed",
            ProblemKind::Reordered => "is out of order",
        };
        write!(f, "audit entry {} {what}", self.seq)
    }
}

/// One stored entry as a reader hands it to [`Walk`]: borrowed from the reader's
/// buffer, so reading allocates nothing per entry.
struct Stored<'a> {
    row: Row_<'a>,
    prev_hash: &'a [u8],
    hash: &'a [u8],
}

/// The chain walk that every reader feeds, entry by entry in `seq` order: it
/// finds the first break. Readers differ only in how they get the columns.
///
/// A long chain can be read as consecutive `seq` ranges at once: the first range
/// is walked from the start of the chain, each later one from its own first
/// entry, which stays unchecked until [`Walk::join`] checks it against the end
/// of the range before. Joined in order, the ranges give exactly the outcome of
/// one walk over the whole chain.
struct Walk {
    /// The seq the next entry must have.
    expected: i64,
    /// The hash the next entry must follow.
    prev: Vec<u8>,
    /// Entries checked and found intact (or, in a later range, its first entry).
    entries: u64,
    problem: Option<Problem>,
    /// Whether this walks a later range: its first entry is taken as it is.
    later_range: bool,
    /// A later range's first entry, for [`Walk::join`].
    first: Option<Box<OwnedEntry>>,
}

impl Walk {
    fn new() -> Walk {
        Walk { expected: 1, prev: vec![0; 32], entries: 0, problem: None, later_range: false, first: None }
    }

    /// A walk over a range that does not start the chain.
    fn later_range() -> Walk {
        Walk { later_range: true, ..Walk::new() }
    }

    fn broken(&self) -> bool {
        self.problem.is_some()
    }

    /// Checks the next entry. Once the chain is broken, later entries change
    /// nothing (the reader may stop).
    fn feed(&mut self, e: &Stored) {
        if self.broken() {
            return;
        }
        if self.later_range && self.first.is_none() {
            self.first = Some(Box::new(OwnedEntry::of(e)));
            self.prev.clear();
            self.prev.extend_from_slice(e.hash);
            self.expected = e.row.seq.saturating_add(1);
            self.entries = 1;
            return;
        }
        self.problem = self.check(e);
        if !self.broken() {
            self.prev.clear();
            self.prev.extend_from_slice(e.hash);
            self.expected += 1;
            self.entries += 1;
        }
    }

    fn check(&self, e: &Stored) -> Option<Problem> {
        let seq = e.row.seq;
        if seq != self.expected {
            let kind = if seq > self.expected { ProblemKind::Removed } else { ProblemKind::Reordered };
            return Some(Problem { seq: self.expected, kind });
        }
        let kind = if e.row.hash(&self.prev) != e.hash {
            ProblemKind::Altered
        } else if e.prev_hash != self.prev.as_slice() {
            ProblemKind::Removed
        } else {
            return None;
        };
        Some(Problem { seq, kind })
    }

    /// This walk, which starts the chain, continued by `next`, the walk over the
    /// range right after this one's.
    fn join(mut self, next: Walk) -> Walk {
        debug_assert!(!self.later_range && next.later_range);
        let Some(first) = &next.first else { return self };
        self.feed(&first.stored());
        if self.broken() {
            return self;
        }
        // Found intact, `next`'s first entry leaves this walk exactly where `next`
        // stood after it (the seq after it, its hash), so from there on `next`
        // found what this walk would have.
        Walk { entries: self.entries + next.entries - 1, first: None, later_range: false, ..next }
    }

    /// The outcome, given the chain head read in the same snapshot as the entries.
    fn finish(self, head_seq: i64, head_hash: &[u8]) -> Verification {
        debug_assert!(!self.later_range);
        let Walk { expected, prev, entries, problem, .. } = self;
        if problem.is_some() {
            return Verification { entries, problem };
        }
        if head_seq != expected - 1 || head_hash != prev.as_slice() {
            let kind = if head_seq > expected - 1 { ProblemKind::Truncated } else { ProblemKind::Altered };
            return Verification { entries, problem: Some(Problem { seq: expected.min(head_seq.max(1)), kind }) };
        }
        Verification { entries, problem: None }
    }
}

/// A [`Stored`] entry kept past its reader's buffer.
#[derive(Clone)]
struct OwnedEntry {
    seq: i64,
    at: i64,
    texts: [Vec<u8>; 8],
    source: Vec<u8>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl OwnedEntry {
    fn of(e: &Stored) -> OwnedEntry {
        OwnedEntry {
            seq: e.row.seq,
            at: e.row.at,
            texts: e.row.texts.map(<[u8]>::to_vec),
            source: e.row.source.to_vec(),
            prev_hash: e.prev_hash.to_vec(),
            hash: e.hash.to_vec(),
        }
    }

    fn stored(&self) -> Stored<'_> {
        Stored {
            row: Row_ {
                seq: self.seq,
                at: self.at,
                texts: self.texts.each_ref().map(Vec::as_slice),
                source: &self.source,
            },
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        }
    }
}

fn read_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Audit(format!("reading the audit trail: {e}"))
}

fn bad_column(seq: i64, column: usize) -> StoreError {
    let name = COLUMNS.split(", ").nth(column).unwrap_or("?");
    StoreError::Audit(format!("audit entry {seq}: column {name} holds a value of the wrong type"))
}

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

/// PostgreSQL: `COPY (SELECT ...) TO STDOUT (FORMAT binary)` on native
/// connections, parsed in place. A long chain is read as consecutive ranges on
/// that many connections at once, all in one exported snapshot (REPEATABLE READ).
async fn verify_postgres(url: &str, max_ranges: i64, min_range: i64) -> Result<Verification, StoreError> {
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
const PG_RANGES: i64 = 2;

/// Fewest entries per range: a range costs a connection (a few milliseconds
/// with TLS), which pays off only from some tens of thousands of entries.
const PG_MIN_RANGE: i64 = 10_000;

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

/// Entries about one subject, oldest first.
pub(crate) async fn about(
    conn: &mut sqlx::AnyConnection,
    subject_kind: &str,
    subject_id: &str,
) -> Result<Vec<(Entry, String, Option<Vec<u8>>)>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, at, actor_kind, actor_id, action, subject_kind, subject_id, fields, purpose, source_key, source
         FROM audit_log WHERE subject_kind = $1 AND subject_id = $2 ORDER BY seq",
    )
    .bind(subject_kind)
    .bind(subject_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let fields: String = r.try_get(7)?;
            let entry = Entry {
                seq: r.try_get(0)?,
                at: r.try_get(1)?,
                actor_kind: r.try_get(2)?,
                actor_id: r.try_get(3)?,
                action: r.try_get(4)?,
                subject_kind: r.try_get(5)?,
                subject_id: r.try_get(6)?,
                fields: fields.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
                purpose: r.try_get(8)?,
                source: None,
            };
            Ok((entry, r.try_get(9)?, r.try_get(10)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An intact chain of `n` entries, as stored, and its head.
    fn chain(n: i64) -> (Vec<OwnedEntry>, (i64, Vec<u8>)) {
        let mut prev = vec![0u8; 32];
        let mut entries = Vec::new();
        for seq in 1..=n {
            let subject_id = seq.to_string();
            let source = if seq % 3 == 0 { vec![seq as u8; 5] } else { vec![] };
            let source_key = if source.is_empty() { "" } else { "system" };
            let texts = ["staff", "u1", "customer.read", "customer", &subject_id, "email,phone", "support", source_key];
            let row = Row_ { seq, at: 1_700_000_000_000_000 + seq, texts: texts.map(str::as_bytes), source: &source };
            let hash = row.hash(&prev).to_vec();
            let e = Stored { row, prev_hash: &prev, hash: &hash };
            entries.push(OwnedEntry::of(&e));
            prev = hash;
        }
        (entries, (n, prev))
    }

    fn walk(entries: &[OwnedEntry], start: Walk) -> Walk {
        entries.iter().fold(start, |mut w, e| {
            w.feed(&e.stored());
            w
        })
    }

    /// Every way to cut `entries` into up to three consecutive ranges, walked
    /// apart and joined, gives what one walk over all of them gives.
    fn assert_ranges_agree(label: &str, entries: &[OwnedEntry], head: &(i64, Vec<u8>)) -> Verification {
        let whole = walk(entries, Walk::new()).finish(head.0, &head.1);
        for a in 0..=entries.len() {
            for b in a..=entries.len() {
                let joined = walk(&entries[..a], Walk::new())
                    .join(walk(&entries[a..b], Walk::later_range()))
                    .join(walk(&entries[b..], Walk::later_range()))
                    .finish(head.0, &head.1);
                assert_eq!(joined, whole, "{label}: ranges cut before positions {a} and {b}");
            }
        }
        whole
    }

    #[test]
    fn rows_are_inserted_in_few_statement_sizes() {
        let sizes = |n| insert_sizes(n, 64).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(64), [64]);
        assert_eq!(sizes(100), [64, 32, 4]);
        assert_eq!(sizes(255), [64, 64, 64, 32, 16, 8, 4, 2, 1]);
        let shapes: std::collections::BTreeSet<usize> = (0..3000).flat_map(|n| insert_sizes(n, 64)).collect();
        assert_eq!(shapes.into_iter().collect::<Vec<_>>(), [1, 2, 4, 8, 16, 32, 64]);
        assert!((0..3000).all(|n| insert_sizes(n, 128).sum::<usize>() == n));
    }

    #[test]
    fn walking_in_ranges_finds_what_one_walk_finds() {
        let n = 9;
        let (intact, head) = chain(n);
        let found = |v: Verification| v.problem.map(|p| (p.seq, p.kind));
        assert_eq!(found(assert_ranges_agree("intact", &intact, &head)), None);
        for k in 0..n as usize {
            let seq = k as i64 + 1;
            let mut altered = intact.clone();
            altered[k].texts[6] = b"billing".to_vec();
            let v = assert_ranges_agree("altered", &altered, &head);
            assert_eq!(found(v), Some((seq, ProblemKind::Altered)));

            let mut relinked = intact.clone();
            relinked[k].prev_hash = vec![7; 32];
            let v = assert_ranges_agree("prev_hash replaced", &relinked, &head);
            assert_eq!(found(v), Some((seq, ProblemKind::Removed)));

            let mut short = intact.clone();
            short[k].hash.truncate(31);
            let v = assert_ranges_agree("hash shortened", &short, &head);
            assert_eq!(found(v), Some((seq, ProblemKind::Altered)));

            let mut removed = intact.clone();
            removed.remove(k);
            let v = assert_ranges_agree("removed", &removed, &head);
            let expect = if seq == n { ProblemKind::Truncated } else { ProblemKind::Removed };
            assert_eq!(found(v), Some((seq, expect)));

            if seq < n {
                let mut swapped = intact.clone();
                swapped.swap(k, k + 1);
                (swapped[k].seq, swapped[k + 1].seq) = (seq, seq + 1);
                let v = assert_ranges_agree("swapped", &swapped, &head);
                assert_eq!(found(v), Some((seq, ProblemKind::Altered)));
            }
        }
        let mut early = intact.clone();
        early[0].seq = 0;
        assert_eq!(found(assert_ranges_agree("seq 0", &early, &head)), Some((1, ProblemKind::Reordered)));
        let mut gap = intact.clone();
        gap[4].seq = 1_000;
        gap.sort_by_key(|e| e.seq);
        assert_eq!(found(assert_ranges_agree("moved to the end", &gap, &head)), Some((5, ProblemKind::Removed)));
        let beyond = (n + 3, head.1.clone());
        assert_eq!(found(assert_ranges_agree("head ahead", &intact, &beyond)), Some((n + 1, ProblemKind::Truncated)));
        let behind = (n - 2, head.1.clone());
        assert_eq!(found(assert_ranges_agree("head behind", &intact, &behind)), Some((n - 2, ProblemKind::Altered)));
        let wrong = (n, vec![1; 32]);
        assert_eq!(found(assert_ranges_agree("head hash", &intact, &wrong)), Some((n, ProblemKind::Altered)));
        let none = (0, vec![0; 32]);
        assert_eq!(found(assert_ranges_agree("empty", &[], &none)), None);
    }

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
