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
//! * **Leases.** Claims work as in the message outbox: a claim token and an
//!   expiry, so a worker that dies mid-command leaves the operation to be taken
//!   over; the worker makes every operation safe to repeat.
//! * **Holder data** travels in the operation's payload, sealed under the system
//!   key and wiped when the operation is finished. In passthrough mode (A8) the
//!   contacts row keeps only the handle ID and status; the holder data exists
//!   only at the registry.

use custodian_domain::model::{ContactData, Fields};
use custodian_domain::policy::{Action, Resource};
use rand::RngCore;
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use crate::audit::{self, Access, AccessPurpose, Actor, Event};
use crate::crypto::field_aad;
use crate::erasure::journal;
use crate::permit;
use crate::{ErasureReason, Store, StoreError, now_micros, records};

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
    token: String,
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

fn seal_payload(store: &Store, id: i64, fields: &Fields) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(fields).map_err(|e| StoreError::Config(e.to_string()))?;
    Ok(store.keys.system.seal(&field_aad(OPS, id, "payload"), &json))
}

fn open_payload(store: &Store, id: i64, sealed: &[u8]) -> Result<Fields, StoreError> {
    let plain = store.keys.system.open(&field_aad(OPS, id, "payload"), sealed)?;
    serde_json::from_slice(&plain).map_err(|_| crate::CryptoError::Malformed.into())
}

fn new_token() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// A syntactically valid domain name (LDH labels, at least two), lower-cased.
pub fn parse_domain_name(input: &str) -> Result<String, StoreError> {
    let name = input.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let labels: Vec<&str> = name.split('.').collect();
    if name.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
        return Err(custodian_domain::model::FieldErrors::single(
            "domain",
            custodian_domain::validate::Invalid::new(
                "domain",
                "format",
                "Een domeinnaam bestaat uit delen van letters, cijfers en streepjes, gescheiden door punten (voorbeeld.nl).",
                "A domain name has parts of letters, digits and hyphens, separated by dots (example.nl).",
            ),
        )
        .into());
    }
    Ok(name)
}

/// Inserts an operation; it waits for unfinished earlier operations on the
/// contacts `waits_on` and the domain `domain_id`.
#[allow(clippy::too_many_arguments)]
async fn enqueue(
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    registry: &str,
    kind: OpKind,
    customer_id: i64,
    contact_id: Option<i64>,
    domain_id: Option<i64>,
    waits_on: &[i64],
    payload: Option<&Fields>,
) -> Result<i64, StoreError> {
    let now = now_micros();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO registry_ops (registry, kind, customer_id, contact_id, domain_id, status, attempts, created_at, next_attempt_at, cltrid)
         VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6, '') RETURNING id",
    )
    .bind(registry)
    .bind(kind.as_str())
    .bind(customer_id)
    .bind(contact_id)
    .bind(domain_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let sealed = payload.map(|p| seal_payload(store, id, p)).transpose()?;
    // The client transaction ID is fixed per operation, so every attempt of it
    // carries the same one and the registry's logs can be matched to ours.
    sqlx::query("UPDATE registry_ops SET cltrid = $1, payload = $2 WHERE id = $3")
        .bind(format!("custodian-{}-{id}", &store.master_fingerprint()[..8]))
        .bind(sealed)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let mut blockers: Vec<i64> = vec![];
    for c in waits_on {
        blockers.extend(
            sqlx::query_scalar::<_, i64>(
                "SELECT id FROM registry_ops WHERE contact_id = $1 AND id < $2 AND status IN ('pending', 'sending')",
            )
            .bind(c)
            .bind(id)
            .fetch_all(&mut **tx)
            .await?,
        );
    }
    if let Some(d) = domain_id {
        blockers.extend(
            sqlx::query_scalar::<_, i64>(
                "SELECT id FROM registry_ops WHERE domain_id = $1 AND id < $2 AND status IN ('pending', 'sending')",
            )
            .bind(d)
            .bind(id)
            .fetch_all(&mut **tx)
            .await?,
        );
    }
    blockers.sort_unstable();
    blockers.dedup();
    for b in blockers {
        sqlx::query("INSERT INTO registry_op_waits (op_id, waits_for) VALUES ($1, $2)")
            .bind(id)
            .bind(b)
            .execute(&mut **tx)
            .await?;
    }
    Ok(id)
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

/// The domains that use contact `contact_id`.
async fn domains_using<'e, E>(executor: E, contact_id: i64) -> Result<Vec<String>, StoreError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    Ok(sqlx::query_scalar(
        "SELECT name FROM domains WHERE status <> 'gone' AND (registrant_id = $1 OR admin_id = $1 OR tech_id = $1) ORDER BY name",
    )
    .bind(contact_id)
    .fetch_all(executor)
    .await?)
}

fn check_may_change(access: &Access, customer_id: i64) -> Result<(), StoreError> {
    permit::require_on(access, customer_id, Resource::Handles, Action::Write)
}

fn check_may_read(access: &Access, customer_id: i64) -> Result<(), StoreError> {
    permit::require_on(access, customer_id, Resource::Handles, Action::Read)
}

impl Store {
    pub fn registry_ops(&self) -> RegistryOps<'_> {
        RegistryOps { store: self }
    }

    /// Creates a handle for a customer (possibly describing a third party, M11)
    /// and queues its creation at the registry.
    pub async fn create_handle(
        &self,
        access: &Access,
        customer_id: i64,
        target: Target<'_>,
        data: &ContactData,
    ) -> Result<i64, StoreError> {
        check_may_change(access, customer_id)?;
        permit::require_writes(access, "contacts", data.to_fields().keys())?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (head, _) = self.load_customer_row(&mut *tx, customer_id).await?;
        let key = self.keys.data_key(&mut *tx, head.live_key_id()?).await?;
        let now = now_micros();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO contacts (customer_id, registry, status, passthrough, created_at, updated_at) VALUES ($1, $2, 'pending', $3, $4, $4) RETURNING id",
        )
        .bind(customer_id)
        .bind(target.registry)
        .bind(i64::from(target.passthrough))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let fields = data.to_fields();
        if !target.passthrough {
            self.write_contact_fields(&mut tx, &key, id, &fields).await?;
        }
        let op = enqueue(
            self,
            &mut tx,
            target.registry,
            OpKind::ContactCreate,
            customer_id,
            Some(id),
            None,
            &[],
            Some(&fields),
        )
        .await?;
        let mut event = Event::new(access, "handle.create", "customer", customer_id).fields(fields.keys());
        self.keys.seal_source(&mut event, Some(&key));
        let queued = Event::new(access, "registry.queue", "registry_op", op).fields(fields.keys());
        audit::append(&mut tx, &[event, queued]).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn write_contact_fields(
        &self,
        tx: &mut Transaction<'static, Any>,
        key: &crate::Key,
        id: i64,
        fields: &Fields,
    ) -> Result<(), StoreError> {
        let cols = records::columns("contacts");
        let sql = format!(
            "UPDATE contacts SET handle_bidx = $1, {} WHERE id = ${}",
            records::assignments(2, &cols),
            2 + cols.len()
        );
        let mut q = sqlx::query(&sql).bind(fields.get("handle").map(|h| self.keys.index.blind_index("handle", h)));
        for v in records::seal(key, "contacts", id, fields) {
            q = q.bind(v);
        }
        q.bind(id).execute(&mut **tx).await?;
        Ok(())
    }

    /// Changes a handle's holder data; the change is queued for the registry.
    /// The handle ID itself cannot change.
    pub async fn update_handle(&self, access: &Access, contact_id: i64, data: &ContactData) -> Result<(), StoreError> {
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let head = contact_head(&mut *tx, contact_id).await?;
        check_may_change(access, head.customer_id)?;
        permit::require_writes(access, "contacts", data.to_fields().keys())?;
        let (customer, _) = self.load_customer_row(&mut *tx, head.customer_id).await?;
        let key = self.keys.data_key(&mut *tx, customer.live_key_id()?).await?;
        if head.status == "deleting" {
            return Err(StoreError::Refused(crate::Refusal::HandleBeingDeleted));
        }
        let mut fields = data.to_fields();
        match self.contact_handle(&mut tx, &key, contact_id).await? {
            Some(h) => fields.insert("handle".into(), h),
            None => fields.remove("handle"),
        };
        if !head.passthrough {
            self.write_contact_fields(&mut tx, &key, contact_id, &fields).await?;
        }
        sqlx::query("UPDATE contacts SET updated_at = $1 WHERE id = $2")
            .bind(now_micros())
            .bind(contact_id)
            .execute(&mut *tx)
            .await?;
        let mut events = vec![];
        if let Some(registry) = head.registry.as_deref().filter(|_| head.status != "failed") {
            let op = enqueue(
                self,
                &mut tx,
                registry,
                OpKind::ContactUpdate,
                head.customer_id,
                Some(contact_id),
                None,
                &[contact_id],
                Some(&fields),
            )
            .await?;
            events.push(Event::new(access, "registry.queue", "registry_op", op).fields(fields.keys()));
        }
        let mut event = Event::new(access, "handle.update", "customer", head.customer_id).fields(fields.keys());
        self.keys.seal_source(&mut event, Some(&key));
        events.insert(0, event);
        audit::append(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The handle ID stored for a contact, if it has one yet.
    async fn contact_handle(
        &self,
        tx: &mut Transaction<'static, Any>,
        key: &crate::Key,
        contact_id: i64,
    ) -> Result<Option<String>, StoreError> {
        let sealed: Option<Vec<u8>> = sqlx::query_scalar("SELECT handle FROM contacts WHERE id = $1")
            .bind(contact_id)
            .fetch_one(&mut **tx)
            .await?;
        sealed
            .map(|s| {
                let plain = key.open(&field_aad("contacts", contact_id, "handle"), &s)?;
                String::from_utf8(plain.to_vec()).map_err(|_| crate::CryptoError::Malformed.into())
            })
            .transpose()
    }

    /// Deletes a handle that no domain uses (M12): at once when the registry
    /// never had it, else at the registry first (queued), then here.
    pub async fn delete_handle(&self, access: &Access, contact_id: i64) -> Result<(), StoreError> {
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let head = contact_head(&mut *tx, contact_id).await?;
        check_may_change(access, head.customer_id)?;
        let users = domains_using(&mut *tx, contact_id).await?;
        if !users.is_empty() {
            return Err(StoreError::Refused(crate::Refusal::HandleInUse { domains: users.len() }));
        }
        if head.status == "deleting" {
            return Ok(());
        }
        let (customer, _) = self.load_customer_row(&mut *tx, head.customer_id).await?;
        let key = self.keys.data_key(&mut *tx, customer.live_key_id()?).await?;
        let mut events = vec![];
        for op in self.release_handles(&mut tx, &[contact_id], ErasureReason::CustomerRequest).await? {
            events.push(Event::new(access, "registry.queue", "registry_op", op).fields(["handle"]));
        }
        let mut event =
            Event::new(access, "handle.delete", "customer", head.customer_id).fields(records::columns("contacts"));
        self.keys.seal_source(&mut event, Some(&key));
        events.insert(0, event);
        audit::append(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Registers a domain for a customer with existing handles of that customer
    /// (M11: a handle serves many domains). Queued for the registry; the domain
    /// waits for the creation of handles still on their way.
    #[allow(clippy::too_many_arguments)]
    pub async fn register_domain(
        &self,
        access: &Access,
        customer_id: i64,
        name: &str,
        registry: &str,
        registrant_id: i64,
        admin_id: Option<i64>,
        tech_id: Option<i64>,
    ) -> Result<i64, StoreError> {
        check_may_change(access, customer_id)?;
        let name = parse_domain_name(name)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (customer, _) = self.load_customer_row(&mut *tx, customer_id).await?;
        customer.live_key_id()?;
        let handles = usable_handles(&mut tx, customer_id, registry, [Some(registrant_id), admin_id, tech_id]).await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM domains WHERE name = $1").bind(&name).fetch_optional(&mut *tx).await?;
        if exists.is_some() {
            return Err(StoreError::Refused(crate::Refusal::DomainTaken));
        }
        let now = now_micros();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO domains (customer_id, name, registry, status, registrant_id, admin_id, tech_id, created_at, updated_at)
             VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(customer_id)
        .bind(&name)
        .bind(registry)
        .bind(registrant_id)
        .bind(admin_id)
        .bind(tech_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let op =
            enqueue(self, &mut tx, registry, OpKind::DomainCreate, customer_id, None, Some(id), &handles, None).await?;
        let events = [
            Event::new(access, "domain.create", "customer", customer_id),
            Event::new(access, "registry.queue", "registry_op", op),
        ];
        audit::append(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Points a domain at other handles of its customer (registrant, admin,
    /// tech); the change is queued for the registry.
    pub async fn change_domain(
        &self,
        access: &Access,
        domain_id: i64,
        registrant_id: i64,
        admin_id: Option<i64>,
        tech_id: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let row: Option<(i64, String, String)> =
            sqlx::query_as("SELECT customer_id, registry, status FROM domains WHERE id = $1")
                .bind(domain_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((customer_id, registry, status)) = row else {
            return Err(StoreError::NotFound { kind: "domain", id: domain_id.to_string() });
        };
        check_may_change(access, customer_id)?;
        if !matches!(status.as_str(), "pending" | "active") {
            return Err(StoreError::Refused(crate::Refusal::DomainLocked { status }));
        }
        let handles = usable_handles(&mut tx, customer_id, &registry, [Some(registrant_id), admin_id, tech_id]).await?;
        sqlx::query(
            "UPDATE domains SET registrant_id = $1, admin_id = $2, tech_id = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(registrant_id)
        .bind(admin_id)
        .bind(tech_id)
        .bind(now_micros())
        .bind(domain_id)
        .execute(&mut *tx)
        .await?;
        let op =
            enqueue(self, &mut tx, &registry, OpKind::DomainUpdate, customer_id, None, Some(domain_id), &handles, None)
                .await?;
        let events = [
            Event::new(access, "domain.update", "customer", customer_id),
            Event::new(access, "registry.queue", "registry_op", op),
        ];
        audit::append(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A customer's handles with the domains using each; no holder data.
    pub async fn handles_of(&self, access: &Access, customer_id: i64) -> Result<Vec<HandleSummary>, StoreError> {
        check_may_read(access, customer_id)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (customer, _) = self.load_customer_row(&mut *tx, customer_id).await?;
        let key = self.keys.data_key(&mut *tx, customer.live_key_id()?).await?;
        let rows =
            sqlx::query("SELECT id, registry, status, passthrough FROM contacts WHERE customer_id = $1 ORDER BY id")
                .bind(customer_id)
                .fetch_all(&mut *tx)
                .await?;
        let mut out = vec![];
        for r in rows {
            let contact_id: i64 = r.try_get(0)?;
            out.push(HandleSummary {
                contact_id,
                customer_id,
                registry: r.try_get(1)?,
                status: r.try_get(2)?,
                passthrough: r.try_get::<i64, _>(3)? != 0,
                handle: self.contact_handle(&mut tx, &key, contact_id).await?,
                domains: domains_using(&mut *tx, contact_id).await?,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    pub async fn domains_of(&self, access: &Access, customer_id: i64) -> Result<Vec<DomainRecord>, StoreError> {
        check_may_read(access, customer_id)?;
        let rows = sqlx::query(
            "SELECT id, customer_id, name, registry, status, registrant_id, admin_id, tech_id FROM domains WHERE customer_id = $1 ORDER BY name",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(domain_record).collect()
    }

    /// Every domain at `registry` (for reconciling).
    pub async fn domains_at(&self, registry: &str) -> Result<Vec<DomainRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, customer_id, name, registry, status, registrant_id, admin_id, tech_id FROM domains WHERE registry = $1 AND status <> 'gone' ORDER BY name",
        )
        .bind(registry)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(domain_record).collect()
    }

    /// Every handle at `registry` with its ID, for reconciling. Opens the
    /// handle column only.
    pub async fn handles_at(&self, registry: &str) -> Result<Vec<HandleSummary>, StoreError> {
        let customers: Vec<i64> =
            sqlx::query_scalar("SELECT DISTINCT customer_id FROM contacts WHERE registry = $1 ORDER BY customer_id")
                .bind(registry)
                .fetch_all(&self.pool)
                .await?;
        let access = job();
        let mut out = vec![];
        for c in customers {
            out.extend(
                self.handles_of(&access, c).await?.into_iter().filter(|h| h.registry.as_deref() == Some(registry)),
            );
        }
        Ok(out)
    }

    /// The registry IDs of a domain's handles, for sending it.
    pub async fn domain_handle_ids(&self, domain_id: i64) -> Result<DomainHandleIds, StoreError> {
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let row = sqlx::query("SELECT customer_id, name, registrant_id, admin_id, tech_id FROM domains WHERE id = $1")
            .bind(domain_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound { kind: "domain", id: domain_id.to_string() })?;
        let (customer, _) = self.load_customer_row(&mut *tx, row.try_get(0)?).await?;
        let key = self.keys.data_key(&mut *tx, customer.live_key_id()?).await?;
        let mut ids = vec![];
        for i in 2..5 {
            let c: Option<i64> = row.try_get(i)?;
            ids.push(match c {
                Some(c) => Some(
                    self.contact_handle(&mut tx, &key, c)
                        .await?
                        .ok_or_else(|| StoreError::Refused(crate::Refusal::HandleNotRegistered { handle: c }))?,
                ),
                None => None,
            });
        }
        tx.commit().await?;
        let mut ids = ids.into_iter();
        Ok(DomainHandleIds {
            name: row.try_get(1)?,
            registrant: ids.next().flatten().unwrap_or_default(),
            admin: ids.next().flatten(),
            tech: ids.next().flatten(),
        })
    }

    /// A registry message said the domain moved to another registrar: it is no
    /// longer ours, and its handles become unused (M12).
    pub async fn domain_transferred_away(&self, registry: &str, name: &str) -> Result<bool, StoreError> {
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT id, customer_id FROM domains WHERE registry = $1 AND name = $2 AND status <> 'gone'",
        )
        .bind(registry)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, customer_id)) = row else { return Ok(false) };
        sqlx::query("UPDATE domains SET status = 'gone', updated_at = $1 WHERE id = $2")
            .bind(now_micros())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::append(&mut tx, &[Event::new(&job(), "domain.transferred_away", "customer", customer_id)]).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records that holder data of a passthrough handle was fetched from the
    /// registry to be shown (A8: every such look is audited like a local read).
    pub async fn audit_registry_fetch(&self, access: &Access, contact_id: i64) -> Result<(), StoreError> {
        let head = contact_head(&self.pool, contact_id).await?;
        check_may_read(access, head.customer_id)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let event =
            Event::new(access, "handle.fetch", "customer", head.customer_id).fields(records::columns("contacts"));
        audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The holder data kept here for a handle (empty in passthrough mode), read
    /// for `access` and audited like any read of a customer's data.
    pub async fn contact_fields(&self, access: &Access, contact_id: i64) -> Result<Fields, StoreError> {
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let head = contact_head(&mut *tx, contact_id).await?;
        check_may_read(access, head.customer_id)?;
        let (customer, _) = self.load_customer_row(&mut *tx, head.customer_id).await?;
        let key = self.keys.data_key(&mut *tx, customer.live_key_id()?).await?;
        let sql = format!("SELECT {} FROM contacts WHERE id = $1", records::columns("contacts").join(", "));
        let row = sqlx::query(&sql).bind(contact_id).fetch_one(&mut *tx).await?;
        let fields = records::open(&key, "contacts", contact_id, &row, permit::readable(access))?;
        if !access.actor.is_subject(head.customer_id) {
            let mut event = Event::new(access, "handle.read", "customer", head.customer_id).fields(fields.keys());
            self.keys.seal_source(&mut event, Some(&key));
            audit::append(&mut tx, &[event]).await?;
        }
        tx.commit().await?;
        Ok(fields)
    }

    /// The stored handle ID of a contact the caller may see.
    pub async fn handle_id(&self, access: &Access, contact_id: i64) -> Result<(i64, Option<String>), StoreError> {
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let head = contact_head(&mut *tx, contact_id).await?;
        check_may_read(access, head.customer_id)?;
        let (customer, _) = self.load_customer_row(&mut *tx, head.customer_id).await?;
        let key = self.keys.data_key(&mut *tx, customer.live_key_id()?).await?;
        let handle = self.contact_handle(&mut tx, &key, contact_id).await?;
        tx.commit().await?;
        Ok((head.customer_id, handle))
    }
}

impl Store {
    /// Lets go of the contacts `ids` (unused, checked by the caller): one the
    /// registry holds gets a delete queued and is removed here once the
    /// registry agrees; one it never had is removed now. The handle ID travels
    /// in the operation under the system key, so the customer's erasure in the
    /// same transaction does not strand it. Returns the queued operations.
    pub(crate) async fn release_handles(
        &self,
        tx: &mut Transaction<'static, Any>,
        ids: &[i64],
        reason: ErasureReason,
    ) -> Result<Vec<i64>, StoreError> {
        let mut local = vec![];
        let mut ops = vec![];
        for &c in ids {
            let head = contact_head(&mut **tx, c).await?;
            let registry = head.registry.as_deref().filter(|_| matches!(head.status.as_str(), "active" | "pending"));
            let Some(registry) = registry else {
                if head.status != "deleting" {
                    local.push(c);
                }
                continue;
            };
            let (customer, _) = self.load_customer_row(&mut **tx, head.customer_id).await?;
            let key = self.keys.data_key(&mut **tx, customer.live_key_id()?).await?;
            let mut payload = Fields::new();
            if let Some(h) = self.contact_handle(tx, &key, c).await? {
                payload.insert("handle".into(), h);
            }
            sqlx::query("UPDATE contacts SET status = 'deleting', updated_at = $1 WHERE id = $2")
                .bind(now_micros())
                .bind(c)
                .execute(&mut **tx)
                .await?;
            let waits = [c];
            ops.push(
                enqueue(
                    self,
                    tx,
                    registry,
                    OpKind::ContactDelete,
                    head.customer_id,
                    Some(c),
                    None,
                    &waits,
                    Some(&payload),
                )
                .await?,
            );
        }
        if !local.is_empty() {
            remove_contacts(tx, &local, reason).await?;
        }
        Ok(ops)
    }
}

/// The handles among `ids` after checking that each belongs to the customer,
/// is held at `registry` and exists there (or is on its way).
async fn usable_handles(
    tx: &mut Transaction<'static, Any>,
    customer_id: i64,
    registry: &str,
    ids: [Option<i64>; 3],
) -> Result<Vec<i64>, StoreError> {
    let handles: Vec<i64> = ids.into_iter().flatten().collect();
    for &c in &handles {
        let head = contact_head(&mut **tx, c).await?;
        if head.customer_id != customer_id {
            return Err(StoreError::Refused(crate::Refusal::ForeignHandle));
        }
        if head.registry.as_deref() != Some(registry) {
            return Err(StoreError::Refused(crate::Refusal::HandleAtOtherRegistry {
                handle: c,
                registry: registry.to_string(),
            }));
        }
        if !matches!(head.status.as_str(), "pending" | "active") {
            return Err(StoreError::Refused(crate::Refusal::HandleUnusable { handle: c, status: head.status }));
        }
    }
    Ok(handles)
}

fn domain_record(r: &sqlx::any::AnyRow) -> Result<DomainRecord, StoreError> {
    Ok(DomainRecord {
        id: r.try_get(0)?,
        customer_id: r.try_get(1)?,
        name: r.try_get(2)?,
        registry: r.try_get(3)?,
        status: r.try_get(4)?,
        registrant_id: r.try_get(5)?,
        admin_id: r.try_get(6)?,
        tech_id: r.try_get(7)?,
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
    sqlx::query(&format!("DELETE FROM contacts WHERE id IN ({list})")).persistent(false).execute(&mut **tx).await?;
    journal(tx, "contact", ids, now_micros(), reason).await
}

const FINISH: &str = "status = $1, finished_at = $2, result_code = $3, result_message = $4, payload = NULL, lease_until = NULL, claim_token = NULL";

impl RegistryOps<'_> {
    /// Claims up to `limit` ready operations of `registry`: pending and due, or
    /// with an expired lease, and not waiting for an unfinished one.
    pub async fn claim(
        self,
        registry: &str,
        limit: i64,
        now: i64,
        lease_micros: i64,
    ) -> Result<Vec<ClaimedOp>, StoreError> {
        let store = self.store;
        let mut tx = crate::db::write_tx(&store.pool).await?;
        let rows = sqlx::query(
            "SELECT o.id, o.kind, o.cltrid, o.attempts, o.contact_id, o.domain_id, o.payload FROM registry_ops o
             WHERE o.registry = $1
               AND ((o.status = 'pending' AND o.next_attempt_at <= $2) OR (o.status = 'sending' AND o.lease_until <= $2))
               AND NOT EXISTS (SELECT 1 FROM registry_op_waits w JOIN registry_ops d ON d.id = w.waits_for
                               WHERE w.op_id = o.id AND d.status <> 'done')
             ORDER BY o.id LIMIT $3",
        )
        .bind(registry)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = vec![];
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let token = new_token();
            let attempts: i64 = r.try_get::<i64, _>(3)? + 1;
            sqlx::query(
                "UPDATE registry_ops SET status = 'sending', attempts = $1, lease_until = $2, claim_token = $3 WHERE id = $4",
            )
            .bind(attempts)
            .bind(now + lease_micros)
            .bind(&token)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let sealed: Option<Vec<u8>> = r.try_get(6)?;
            let kind: String = r.try_get(1)?;
            out.push(ClaimedOp {
                id,
                kind: OpKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown registry operation {kind}")))?,
                registry: registry.to_string(),
                cltrid: r.try_get(2)?,
                attempts,
                contact_id: r.try_get(4)?,
                domain_id: r.try_get(5)?,
                payload: sealed.map(|s| open_payload(store, id, &s)).transpose()?.unwrap_or_default(),
                token,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Records what became of claimed operations, all in one transaction (a
    /// worker that dies before it commits leaves the operations to be sent
    /// again, which is safe). Returns how many results were not stored because
    /// the claim had been taken over by another worker.
    pub async fn record(self, results: &[(&ClaimedOp, Outcome)], now: i64) -> Result<u64, StoreError> {
        let store = self.store;
        let mut tx = crate::db::write_tx(&store.pool).await?;
        let mut lost = 0;
        let mut events = vec![];
        for (op, outcome) in results {
            if !held(&mut tx, op).await? {
                lost += 1;
                continue;
            }
            match outcome {
                Outcome::Done { applied, code, message } => {
                    events.push(Event::new(&job(), "registry.send", "registry_op", op.id).fields(op.payload.keys()));
                    if let Some(e) = apply(store, &mut tx, op, applied, now).await? {
                        events.push(e);
                    }
                    finish(&mut tx, op, "done", now, Some(*code), message).await?;
                }
                Outcome::Later { at, code, message } => {
                    sqlx::query(
                        "UPDATE registry_ops SET status = 'pending', next_attempt_at = $1, result_code = $2, result_message = $3, lease_until = NULL, claim_token = NULL WHERE id = $4",
                    )
                    .bind(at)
                    .bind(code)
                    .bind(clip(message))
                    .bind(op.id)
                    .execute(&mut *tx)
                    .await?;
                }
                Outcome::Failed { code, message } => {
                    // The payload stays, so a retry after a correction can send it again.
                    sqlx::query(
                        "UPDATE registry_ops SET status = 'failed', finished_at = $1, result_code = $2, result_message = $3, lease_until = NULL, claim_token = NULL WHERE id = $4",
                    )
                    .bind(now)
                    .bind(code)
                    .bind(clip(message))
                    .bind(op.id)
                    .execute(&mut *tx)
                    .await?;
                    match op.kind {
                        OpKind::ContactCreate => set_status(&mut tx, "contacts", op.contact_id, "failed").await?,
                        OpKind::DomainCreate => set_status(&mut tx, "domains", op.domain_id, "failed").await?,
                        // A refused delete (2305: still in use at the registry) leaves the handle active.
                        OpKind::ContactDelete => set_status(&mut tx, "contacts", op.contact_id, "active").await?,
                        OpKind::ContactUpdate | OpKind::DomainUpdate => {}
                    }
                    events.push(Event::new(&job(), "registry.fail", "registry_op", op.id));
                }
            }
        }
        audit::append(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(lost)
    }

    /// Staff put a failed operation back in the queue (and its object back to pending).
    pub async fn retry(self, access: &Access, id: i64, now: i64) -> Result<(), StoreError> {
        permit::require(access, Resource::RegistryQueue, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.store.pool).await?;
        let row: Option<(String, String, Option<i64>, Option<i64>)> =
            sqlx::query_as("SELECT status, kind, contact_id, domain_id FROM registry_ops WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((status, kind, contact_id, domain_id)) = row else {
            return Err(StoreError::NotFound { kind: "registry operation", id: id.to_string() });
        };
        if status != "failed" {
            return Err(StoreError::Refused(crate::Refusal::OnlyFailedRetried { status }));
        }
        sqlx::query(
            "UPDATE registry_ops SET status = 'pending', next_attempt_at = $1, finished_at = NULL, attempts = 0 WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        match OpKind::parse(&kind) {
            Some(OpKind::ContactCreate) => set_status(&mut tx, "contacts", contact_id, "pending").await?,
            Some(OpKind::DomainCreate) => set_status(&mut tx, "domains", domain_id, "pending").await?,
            Some(OpKind::ContactDelete) => set_status(&mut tx, "contacts", contact_id, "deleting").await?,
            _ => {}
        }
        audit::append(&mut tx, &[Event::new(access, "registry.retry", "registry_op", id)]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Operations, newest first; `status` filters (`pending`, `sending`, `done`, `failed`).
    pub async fn list(self, status: Option<&str>, limit: i64) -> Result<Vec<OpState>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, registry, kind, customer_id, contact_id, domain_id, status, attempts, created_at, next_attempt_at, finished_at, cltrid, result_code, result_message
             FROM registry_ops WHERE ($1 = '' OR status = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(status.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.store.pool)
        .await?;
        let mut out = vec![];
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let waits_for = sqlx::query_scalar(
                "SELECT w.waits_for FROM registry_op_waits w JOIN registry_ops d ON d.id = w.waits_for WHERE w.op_id = $1 AND d.status <> 'done' ORDER BY 1",
            )
            .bind(id)
            .fetch_all(&self.store.pool)
            .await?;
            out.push(OpState {
                id,
                registry: r.try_get(1)?,
                kind: r.try_get(2)?,
                customer_id: r.try_get(3)?,
                contact_id: r.try_get(4)?,
                domain_id: r.try_get(5)?,
                status: r.try_get(6)?,
                attempts: r.try_get(7)?,
                created_at: r.try_get(8)?,
                next_attempt_at: r.try_get(9)?,
                finished_at: r.try_get(10)?,
                cltrid: r.try_get(11)?,
                result_code: r.try_get(12)?,
                result_message: r.try_get(13)?,
                waits_for,
            });
        }
        Ok(out)
    }

    /// Unfinished operations (pending or sending) of `registry`, or of all.
    pub async fn unfinished(self, registry: Option<&str>) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM registry_ops WHERE status IN ('pending', 'sending') AND ($1 = '' OR registry = $1)",
        )
        .bind(registry.unwrap_or(""))
        .fetch_one(&self.store.pool)
        .await?)
    }

    /// When the next pending operation is due, if any.
    pub async fn next_due(self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM registry_ops WHERE status = 'pending'")
            .fetch_one(&self.store.pool)
            .await?)
    }
}

/// Applies the registry's success to the local object; the audit entry for
/// a handle removed here, if any.
async fn apply(
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    op: &ClaimedOp,
    applied: &Applied,
    now: i64,
) -> Result<Option<Event>, StoreError> {
    match (applied, op.contact_id, op.domain_id) {
        (Applied::ContactCreated { handle }, Some(c), _) => {
            let Ok(head) = contact_head(&mut **tx, c).await else { return Ok(None) };
            let (customer, _) = store.load_customer_row(&mut **tx, head.customer_id).await?;
            if let Ok(key_id) = customer.live_key_id() {
                let key = store.keys.data_key(&mut **tx, key_id).await?;
                let sealed = key.seal(&field_aad("contacts", c, "handle"), handle.as_bytes());
                sqlx::query(
                    "UPDATE contacts SET handle = $1, handle_bidx = $2, status = CASE WHEN status = 'pending' THEN 'active' ELSE status END WHERE id = $3",
                )
                .bind(sealed)
                .bind(store.keys.index.blind_index("handle", handle))
                .bind(c)
                .execute(&mut **tx)
                .await?;
            }
            Ok(None)
        }
        (Applied::ContactDeleted, Some(c), _) => {
            let exists: Option<i64> = sqlx::query_scalar("SELECT customer_id FROM contacts WHERE id = $1")
                .bind(c)
                .fetch_optional(&mut **tx)
                .await?;
            let Some(customer_id) = exists else { return Ok(None) };
            remove_contacts(tx, &[c], ErasureReason::CustomerRequest).await?;
            Ok(Some(Event::new(&job(), "handle.deleted", "customer", customer_id).fields(records::columns("contacts"))))
        }
        (Applied::DomainCreated, _, Some(d)) => {
            sqlx::query("UPDATE domains SET status = 'active', updated_at = $1 WHERE id = $2 AND status = 'pending'")
                .bind(now)
                .bind(d)
                .execute(&mut **tx)
                .await?;
            Ok(None)
        }
        _ => Ok(None),
    }
}

async fn held(tx: &mut Transaction<'static, Any>, op: &ClaimedOp) -> Result<bool, StoreError> {
    let token: Option<Option<String>> = sqlx::query_scalar("SELECT claim_token FROM registry_ops WHERE id = $1")
        .bind(op.id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(token.flatten().as_deref() == Some(op.token.as_str()))
}

async fn finish(
    tx: &mut Transaction<'static, Any>,
    op: &ClaimedOp,
    status: &str,
    now: i64,
    code: Option<i64>,
    message: &str,
) -> Result<(), StoreError> {
    sqlx::query(&format!("UPDATE registry_ops SET {FINISH} WHERE id = $5"))
        .bind(status)
        .bind(now)
        .bind(code)
        .bind(clip(message))
        .bind(op.id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn set_status(
    tx: &mut Transaction<'static, Any>,
    table: &str,
    id: Option<i64>,
    status: &str,
) -> Result<(), StoreError> {
    if let Some(id) = id {
        sqlx::query(&format!("UPDATE {table} SET status = $1 WHERE id = $2"))
            .bind(status)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// A registry's message, cut to 500 characters on one line.
fn clip(text: &str) -> String {
    text.chars().take(500).map(|c| if c.is_control() { ' ' } else { c }).collect()
}
