//! The audit trail: append-only and hash-chained.
//!
//! Each entry's hash covers the previous entry's hash and all of its own columns,
//! so altering, removing or reordering any entry breaks the chain from there on.
//! The chain head (last seq and hash) is kept in `audit_head`, which also exposes
//! removal of the newest entries. Entries hold names, never values: which fields
//! were touched, by whom, why. The source address is the one personal value; it is
//! encrypted under the actor's key (a customer's own key, or the system key).

use std::net::IpAddr;

use custodian_domain::inventory::Role;
use futures_util::TryStreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyPool, Row, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::{StoreError, now_micros};

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub kind: ActorKind,
    /// Pseudonymous ID: staff user ID, customer number, job or token name.
    pub id: String,
    pub role: Role,
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

    pub fn customer(id: i64) -> Actor {
        Actor { kind: ActorKind::Customer, id: id.to_string(), role: Role::Subject }
    }

    pub fn staff(user_id: impl Into<String>, role: Role) -> Actor {
        Actor { kind: ActorKind::Staff, id: user_id.into(), role }
    }

    pub fn job(name: &str) -> Actor {
        Actor { kind: ActorKind::Job, id: name.into(), role: Role::Owner }
    }

    /// Whether this actor is the customer `customer_id` acting on their own record.
    pub fn is_subject(&self, customer_id: i64) -> bool {
        self.kind == ActorKind::Customer && self.id == customer_id.to_string()
    }
}

/// Why personal data is accessed. Chosen from a short list, never free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessPurpose {
    /// Helping the customer with a question or problem.
    Support,
    /// Invoicing and the financial administration.
    Billing,
    /// Domain registration and registry contacts.
    Registry,
    /// Carrying out a request of the person themselves (access, export, erasure).
    DataSubjectRequest,
    /// A legal obligation (tax authority, court order).
    LegalObligation,
    /// Investigating a security incident (M17).
    SecurityIncident,
    /// Keeping the administration correct (creating, correcting records).
    Administration,
    /// Scheduled retention work.
    Retention,
}

impl AccessPurpose {
    pub const ALL: [AccessPurpose; 8] = [
        AccessPurpose::Support,
        AccessPurpose::Billing,
        AccessPurpose::Registry,
        AccessPurpose::DataSubjectRequest,
        AccessPurpose::LegalObligation,
        AccessPurpose::SecurityIncident,
        AccessPurpose::Administration,
        AccessPurpose::Retention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccessPurpose::Support => "support",
            AccessPurpose::Billing => "billing",
            AccessPurpose::Registry => "registry",
            AccessPurpose::DataSubjectRequest => "data_subject_request",
            AccessPurpose::LegalObligation => "legal_obligation",
            AccessPurpose::SecurityIncident => "security_incident",
            AccessPurpose::Administration => "administration",
            AccessPurpose::Retention => "retention",
        }
    }

    pub fn parse(s: &str) -> Option<AccessPurpose> {
        AccessPurpose::ALL.into_iter().find(|p| p.as_str() == s.trim())
    }
}

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
    actor_kind: &'a str,
    actor_id: &'a str,
    action: &'a str,
    subject_kind: &'a str,
    subject_id: &'a str,
    fields: &'a str,
    purpose: &'a str,
    source_key: &'a str,
    source: &'a [u8],
}

impl Row_<'_> {
    fn hash(&self, prev: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(prev);
        h.update(self.seq.to_be_bytes());
        h.update(self.at.to_be_bytes());
        for part in [
            self.actor_kind.as_bytes(),
            self.actor_id.as_bytes(),
            self.action.as_bytes(),
            self.subject_kind.as_bytes(),
            self.subject_id.as_bytes(),
            self.fields.as_bytes(),
            self.purpose.as_bytes(),
            self.source_key.as_bytes(),
            self.source,
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }
}

/// Rows per INSERT statement: well under both engines' parameter limits.
const INSERT_CHUNK: usize = 200;

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

    struct Prepared {
        seq: i64,
        actor_kind: &'static str,
        actor_id: String,
        fields: String,
        purpose: &'static str,
        source_key: String,
        source: Option<Vec<u8>>,
        prev: Vec<u8>,
        hash: Vec<u8>,
        event: usize,
    }
    let mut prepared = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        seq += 1;
        let (source_key, source) = match &e.source {
            Some((name, sealed)) => (name.clone(), Some(sealed.clone())),
            None => (String::new(), None),
        };
        let fields = e.fields.join(",");
        let row = Row_ {
            seq,
            at,
            actor_kind: e.access.actor.kind.as_str(),
            actor_id: &e.access.actor.id,
            action: e.action,
            subject_kind: e.subject_kind,
            subject_id: &e.subject_id,
            fields: &fields,
            purpose: e.access.purpose.as_str(),
            source_key: &source_key,
            source: source.as_deref().unwrap_or_default(),
        };
        let hash = row.hash(&prev).to_vec();
        prepared.push(Prepared {
            seq,
            actor_kind: e.access.actor.kind.as_str(),
            actor_id: e.access.actor.id.clone(),
            fields,
            purpose: e.access.purpose.as_str(),
            source_key,
            source,
            prev: std::mem::replace(&mut prev, hash.clone()),
            hash,
            event: i,
        });
    }

    for chunk in prepared.chunks(INSERT_CHUNK) {
        let mut sql = String::from(
            "INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, subject_kind, subject_id, fields, purpose, source_key, source, prev_hash, hash) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 13;
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            sql.push_str(&(1..=13).map(|k| format!("${}", b + k)).collect::<Vec<_>>().join(","));
            sql.push(')');
        }
        let mut q = sqlx::query(&sql);
        for p in chunk {
            let e = &events[p.event];
            q = q
                .bind(p.seq)
                .bind(at)
                .bind(p.actor_kind)
                .bind(p.actor_id.clone())
                .bind(e.action)
                .bind(e.subject_kind)
                .bind(e.subject_id.clone())
                .bind(p.fields.clone())
                .bind(p.purpose)
                .bind(p.source_key.clone())
                .bind(p.source.clone())
                .bind(p.prev.clone())
                .bind(p.hash.clone());
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

/// Walks the chain in order, streaming, and reports the first break.
pub(crate) async fn verify(pool: &AnyPool) -> Result<Verification, StoreError> {
    let mut rows = sqlx::query(
        "SELECT seq, at, actor_kind, actor_id, action, subject_kind, subject_id, fields, purpose, source_key, source, prev_hash, hash
         FROM audit_log ORDER BY seq",
    )
    .fetch(pool);
    let mut expected: i64 = 1;
    let mut prev = vec![0u8; 32];
    let mut entries = 0u64;
    let broken = |entries, seq, kind| Ok(Verification { entries, problem: Some(Problem { seq, kind }) });
    while let Some(r) = rows.try_next().await? {
        let seq: i64 = r.try_get(0)?;
        let source: Option<Vec<u8>> = r.try_get(10)?;
        let stored_prev: Vec<u8> = r.try_get(11)?;
        let stored_hash: Vec<u8> = r.try_get(12)?;
        if seq != expected {
            let kind = if seq > expected { ProblemKind::Removed } else { ProblemKind::Reordered };
            return broken(entries, expected, kind);
        }
        let row = Row_ {
            seq,
            at: r.try_get(1)?,
            actor_kind: r.try_get(2)?,
            actor_id: r.try_get(3)?,
            action: r.try_get(4)?,
            subject_kind: r.try_get(5)?,
            subject_id: r.try_get(6)?,
            fields: r.try_get(7)?,
            purpose: r.try_get(8)?,
            source_key: r.try_get(9)?,
            source: source.as_deref().unwrap_or_default(),
        };
        if row.hash(&prev) != stored_hash.as_slice() {
            return broken(entries, seq, ProblemKind::Altered);
        }
        if stored_prev != prev {
            return broken(entries, seq, ProblemKind::Removed);
        }
        prev = stored_hash;
        expected += 1;
        entries += 1;
    }
    drop(rows);
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(pool).await?;
    let head_seq: i64 = head.try_get(0)?;
    let head_hash: Vec<u8> = head.try_get(1)?;
    if head_seq != expected - 1 || head_hash != prev {
        let kind = if head_seq > expected - 1 { ProblemKind::Truncated } else { ProblemKind::Altered };
        return Ok(Verification { entries, problem: Some(Problem { seq: expected.min(head_seq.max(1)), kind }) });
    }
    Ok(Verification { entries, problem: None })
}

/// Entries about one subject, oldest first.
pub(crate) async fn about(
    pool: &AnyPool,
    subject_kind: &str,
    subject_id: &str,
) -> Result<Vec<(Entry, String, Option<Vec<u8>>)>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, at, actor_kind, actor_id, action, subject_kind, subject_id, fields, purpose, source_key, source
         FROM audit_log WHERE subject_kind = $1 AND subject_id = $2 ORDER BY seq",
    )
    .bind(subject_kind)
    .bind(subject_id)
    .fetch_all(pool)
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
