//! Handles, domains and the registry outbox (M10, M11, M12, A8).
//!
//! * **Outbox first.** A change that the registry must follow (a handle created,
//!   changed or deleted, a domain registered) is written locally together with
//!   its registry operation in one transaction. The registry worker sends the
//!   operation later and records the registry's result code and message; the
//!   local object only becomes `active` (or disappears) when the registry agreed.
//! * **Order.** An operation waits for earlier unfinished ones on the objects it
//!   needs (`registry_op_waits`): a domain for the creation of its handles, an
//!   update or delete for the creation of its handle.
//! * **Leases.** Claims work as in the message outbox (`crate::lease`): a claim
//!   token and an expiry, so a worker that dies mid-command leaves the
//!   operation to be taken over; the worker makes every operation safe to repeat.
//! * **Holder data** travels in the operation's payload, sealed under the system
//!   key and wiped when the operation is finished. In passthrough mode (A8) the
//!   contacts row keeps only the handle ID and status; the holder data exists
//!   only at the registry.
//!
//! The queue itself is in `queue.rs`, handles in `handles.rs`, domains in
//! `domains.rs`; here the types and what they all use.

use custodian_domain::model::Fields;
use custodian_domain::policy::{Action, Resource};
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use crate::audit::{Access, AccessPurpose, Actor};
use crate::erasure::journal;
use crate::lease::ClaimTicket;
use crate::permit;
use crate::{ErasureReason, Store, StoreError, now_micros};

mod domains;
mod handles;
mod queue;

pub use domains::parse_domain_name;

const OPS: &str = "registry_ops";
/// The actor that sends operations and applies their results.
pub const WORKER_ACTOR: &str = "registry";

/// What an operation does at the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    ContactCreate,
    ContactUpdate,
    ContactDelete,
    DomainCreate,
    DomainUpdate,
}

impl OpKind {
    pub const ALL: [OpKind; 5] = [
        OpKind::ContactCreate,
        OpKind::ContactUpdate,
        OpKind::ContactDelete,
        OpKind::DomainCreate,
        OpKind::DomainUpdate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::ContactCreate => "contact_create",
            OpKind::ContactUpdate => "contact_update",
            OpKind::ContactDelete => "contact_delete",
            OpKind::DomainCreate => "domain_create",
            OpKind::DomainUpdate => "domain_update",
        }
    }

    pub fn parse(s: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a new handle goes: its registry, and whether that registry runs in
/// passthrough mode (A8).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub registry: &'a str,
    pub passthrough: bool,
}

/// A handle as listed for its owner: no holder data.
#[derive(Debug, Clone, Serialize)]
pub struct HandleSummary {
    pub contact_id: i64,
    pub customer_id: i64,
    pub registry: Option<String>,
    pub status: String,
    pub passthrough: bool,
    /// The registry's ID, once known.
    pub handle: Option<String>,
    /// Domains that use this handle (registrant, admin or tech).
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DomainRecord {
    pub id: i64,
    pub customer_id: i64,
    pub name: String,
    pub registry: String,
    pub status: String,
    pub registrant_id: i64,
    pub admin_id: Option<i64>,
    pub tech_id: Option<i64>,
}

/// An operation as staff see it: never its payload.
#[derive(Debug, Clone, Serialize)]
pub struct OpState {
    pub id: i64,
    pub registry: String,
    pub kind: String,
    pub customer_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub domain_id: Option<i64>,
    pub status: String,
    pub attempts: i64,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub finished_at: Option<i64>,
    pub cltrid: String,
    pub result_code: Option<i64>,
    pub result_message: Option<String>,
    /// Unfinished operations this one waits for.
    pub waits_for: Vec<i64>,
}

/// A claimed operation, with what the worker needs to send it.
#[derive(Debug)]
pub struct ClaimedOp {
    pub id: i64,
    pub kind: OpKind,
    pub registry: String,
    pub cltrid: String,
    /// 1 on the first attempt.
    pub attempts: i64,
    pub contact_id: Option<i64>,
    pub domain_id: Option<i64>,
    /// Holder data (contact create and update) or `handle` (delete).
    pub payload: Fields,
    ticket: ClaimTicket,
}

/// What the registry's success means locally.
#[derive(Debug, Clone)]
pub enum Applied {
    /// The contact exists at the registry under this ID.
    ContactCreated {
        handle: String,
    },
    ContactUpdated,
    ContactDeleted,
    DomainCreated,
    DomainUpdated,
}

/// What became of one attempt at an operation.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The registry agreed, with its result code and message.
    Done { applied: Applied, code: i64, message: String },
    /// A transient failure: try again at `at`.
    Later { at: i64, code: Option<i64>, message: String },
    /// Refused for good (the operation, and a refused create's object, fail).
    Failed { code: Option<i64>, message: String },
}

/// A domain's handles as the registry knows them.
#[derive(Debug, Clone)]
pub struct DomainHandleIds {
    pub name: String,
    pub registrant: String,
    pub admin: Option<String>,
    pub tech: Option<String>,
}

pub struct RegistryOps<'s> {
    store: &'s Store,
}

fn job() -> Access {
    Access::new(Actor::job(WORKER_ACTOR), AccessPurpose::Registry)
}

fn check_may_change(access: &Access, customer_id: i64) -> Result<(), StoreError> {
    permit::require_on(access, customer_id, Resource::Handles, Action::Write)
}

fn check_may_read(access: &Access, customer_id: i64) -> Result<(), StoreError> {
    permit::require_on(access, customer_id, Resource::Handles, Action::Read)
}

struct ContactHead {
    customer_id: i64,
    registry: Option<String>,
    status: String,
    passthrough: bool,
}

async fn contact_head<'e, E>(executor: E, contact_id: i64) -> Result<ContactHead, StoreError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let row = sqlx::query("SELECT customer_id, registry, status, passthrough FROM contacts WHERE id = $1")
        .bind(contact_id)
        .fetch_optional(executor)
        .await?
        .ok_or(StoreError::NotFound { kind: "handle", id: contact_id.to_string() })?;
    Ok(ContactHead {
        customer_id: row.try_get(0)?,
        registry: row.try_get(1)?,
        status: row.try_get(2)?,
        passthrough: row.try_get::<i64, _>(3)? != 0,
    })
}

/// Removes contacts locally, with a journal entry each (so a restore removes them again).
pub(crate) async fn remove_contacts(
    tx: &mut Transaction<'static, Any>,
    ids: &[i64],
    reason: ErasureReason,
) -> Result<(), StoreError> {
    let list = crate::erasure::id_list(ids);
    // Domains that left us (transferred away) still name the handle; they go
    // with it. Callers only remove handles no live domain uses; in a restored
    // snapshot a domain may still look live that left us later.
    sqlx::query(&format!(
        "DELETE FROM domains WHERE registrant_id IN ({list}) OR admin_id IN ({list}) OR tech_id IN ({list})"
    ))
    .persistent(false)
    .execute(&mut **tx)
    .await?;
    sqlx::query(&format!("DELETE FROM contact_name_words WHERE contact_id IN ({list})"))
        .persistent(false)
        .execute(&mut **tx)
        .await?;
    sqlx::query(&format!("DELETE FROM contacts WHERE id IN ({list})")).persistent(false).execute(&mut **tx).await?;
    journal(tx, "contact", ids, now_micros(), reason).await
}
