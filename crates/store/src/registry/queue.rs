//! The registry operation queue: operations written with the change they
//! carry, claimed under a lease (`crate::lease`), their results recorded and
//! applied to the local handles and domains, failed ones retried by staff.

use custodian_domain::model::Fields;
use custodian_domain::policy::{Action, Resource};
use sqlx::{Any, Row, Transaction};

use super::{Applied, ClaimedOp, OPS, OpKind, OpState, Outcome, RegistryOps, contact_head, job, remove_contacts};
use crate::audit::{self, Access, Event};
use crate::crypto::field_aad;
use crate::lease::{self, Queue};
use crate::permit;
use crate::{ErasureReason, Store, StoreError, now_micros, records};

fn seal_payload(store: &Store, id: i64, fields: &Fields) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(fields).map_err(|e| StoreError::Config(e.to_string()))?;
    Ok(store.keys.system.seal(&field_aad(OPS, id, "payload"), &json))
}

fn open_payload(store: &Store, id: i64, sealed: &[u8]) -> Result<Fields, StoreError> {
    let plain = store.keys.system.open(&field_aad(OPS, id, "payload"), sealed)?;
    serde_json::from_slice(&plain).map_err(|_| crate::CryptoError::Malformed.into())
}

/// Inserts an operation; it waits for unfinished earlier operations on the
/// contacts `waits_on` and the domain `domain_id`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn enqueue(
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
    let objects = waits_on.iter().map(|c| ("contact_id", *c)).chain(domain_id.map(|d| ("domain_id", d)));
    for (column, object) in objects {
        let sql =
            format!("SELECT id FROM registry_ops WHERE {column} = $1 AND id < $2 AND status IN ('pending', 'sending')");
        blockers.extend(sqlx::query_scalar::<_, i64>(&sql).bind(object).bind(id).fetch_all(&mut **tx).await?);
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

/// The registry operations as a leased queue: a claim takes nothing beyond the lease.
const QUEUE: Queue = Queue { table: OPS, on_claim: "" };

impl Store {
    pub fn registry_ops(&self) -> RegistryOps<'_> {
        RegistryOps { store: self }
    }
}

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
        let sql = format!(
            "SELECT o.id FROM registry_ops o WHERE o.registry = $1 AND {}
               AND NOT EXISTS (SELECT 1 FROM registry_op_waits w JOIN registry_ops d ON d.id = w.waits_for
                               WHERE w.op_id = o.id AND d.status <> 'done')
             ORDER BY o.id LIMIT $3",
            Queue::due("o.", "$2")
        );
        let ids: Vec<i64> = sqlx::query_scalar(&sql).bind(registry).bind(now).bind(limit).fetch_all(&mut *tx).await?;
        let mut out = vec![];
        for id in ids {
            let returning = "kind, cltrid, attempts, contact_id, domain_id, payload";
            let Some((ticket, r)) = QUEUE.take(&mut tx, id, now, lease_micros, returning).await? else { continue };
            let sealed: Option<Vec<u8>> = r.try_get(5)?;
            let kind: String = r.try_get(0)?;
            out.push(ClaimedOp {
                id,
                kind: OpKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown registry operation {kind}")))?,
                registry: registry.to_string(),
                cltrid: r.try_get(1)?,
                attempts: r.try_get(2)?,
                contact_id: r.try_get(3)?,
                domain_id: r.try_get(4)?,
                payload: sealed.map(|s| open_payload(store, id, &s)).transpose()?.unwrap_or_default(),
                ticket,
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
        let (later, done, failed) = (
            QUEUE.release_sql("result_code = $4, result_message = $5"),
            // A done operation's payload goes; a failed one's stays, so a
            // retry after a correction can send it again.
            QUEUE.finish_sql("result_code = $5, result_message = $6, payload = NULL"),
            QUEUE.finish_sql("result_code = $5, result_message = $6"),
        );
        let mut lost = 0;
        let mut events = vec![];
        for (op, outcome) in results {
            let update = match outcome {
                Outcome::Later { at, code, message } => {
                    lease::held(&later, &op.ticket).bind(*at).bind(*code).bind(clip(message))
                }
                Outcome::Done { code, message, .. } => {
                    lease::held(&done, &op.ticket).bind("done").bind(now).bind(Some(*code)).bind(clip(message))
                }
                Outcome::Failed { code, message } => {
                    lease::held(&failed, &op.ticket).bind("failed").bind(now).bind(*code).bind(clip(message))
                }
            };
            if update.execute(&mut *tx).await?.rows_affected() == 0 {
                lost += 1;
                continue;
            }
            match outcome {
                Outcome::Later { .. } => {}
                Outcome::Done { applied, .. } => {
                    events.push(Event::new(&job(), "registry.send", "registry_op", op.id).fields(op.payload.keys()));
                    events.extend(apply(store, &mut tx, op, applied, now).await?);
                }
                Outcome::Failed { .. } => {
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
