//! The audit trail: append-only and hash-chained.
//!
//! Each entry's hash covers the previous entry's hash and all of its own columns,
//! so altering, removing or reordering any entry breaks the chain from there on.
//! The chain head (last seq and hash) is kept in `audit_head`, which also exposes
//! removal of the newest entries. Entries hold names, never values: which fields
//! were touched, by whom, why. The source address is the one personal value; it is
//! encrypted under the actor's key (a customer's own key, or the system key).
//!
//! `append.rs` writes entries inside a change's transaction, `writer.rs`
//! group-commits the ones that stand alone (reads, exports), `chain.rs` is the
//! hashed row and the walk that checks it, which the readers of `verify.rs`
//! (SQLite, any pool) and `pg_copy.rs` (PostgreSQL's binary COPY) feed.

use std::net::IpAddr;

use custodian_domain::inventory::Role;
use serde::Serialize;
use sqlx::Row;

use crate::StoreError;

mod append;
mod browse;
mod chain;
mod pg_copy;
mod verify;
mod writer;

pub(crate) use append::append;
pub use browse::{AuditFilter, AuditPage};
pub use chain::{Problem, ProblemKind, Verification};
pub(crate) use verify::{sqlite_file, verify};
pub(crate) use writer::Writer;

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

    /// `kind:id`, as rows that say who placed, recorded or entered them keep it.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.id)
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

/// A source address opens only as the address of the actor it was recorded for.
pub(crate) fn source_aad(actor: &Actor) -> Vec<u8> {
    format!("custodian/audit/source/{}/{}", actor.kind.as_str(), actor.id).into_bytes()
}

/// Entries about one subject, oldest first; with `newest`, only that many of
/// the latest.
pub(crate) async fn about(
    conn: &mut sqlx::AnyConnection,
    subject_kind: &str,
    subject_id: &str,
    newest: Option<u32>,
) -> Result<Vec<(Entry, String, Option<Vec<u8>>)>, StoreError> {
    let limit = newest.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
    let mut rows = sqlx::query(&format!(
        "SELECT seq, at, actor_kind, actor_id, action, subject_kind, subject_id, fields, purpose, source_key, source
         FROM audit_log WHERE subject_kind = $1 AND subject_id = $2 ORDER BY seq DESC{limit}"
    ))
    .bind(subject_kind)
    .bind(subject_id)
    .fetch_all(conn)
    .await?;
    rows.reverse();
    rows.iter().map(entry_of).collect()
}

/// An entry from a row of `seq, at, actor_kind, actor_id, action, subject_kind,
/// subject_id, fields, purpose, source_key, source`, with its sealed source.
pub(crate) fn entry_of(r: &sqlx::any::AnyRow) -> Result<(Entry, String, Option<Vec<u8>>), StoreError> {
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
}
