//! Handles (registry contacts) of a customer: created, changed and deleted
//! here together with the registry operation that carries the change, and
//! read (audited) with the domains that use them.

use custodian_domain::model::{ContactData, Fields};
use sqlx::{Any, Row, Transaction};

use super::queue::enqueue;
use super::{HandleSummary, OpKind, Target, check_may_change, check_may_read, contact_head, job, remove_contacts};
use crate::audit::{self, Access, Event};
use crate::crypto::field_aad;
use crate::permit;
use crate::{ErasureReason, Store, StoreError, now_micros, records};

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

/// A contact's sealed handle ID, opened.
fn open_handle(key: &crate::Key, contact_id: i64, sealed: Option<Vec<u8>>) -> Result<Option<String>, StoreError> {
    sealed
        .map(|s| {
            let plain = key.open(&field_aad("contacts", contact_id, "handle"), &s)?;
            String::from_utf8(plain.to_vec()).map_err(|_| crate::CryptoError::Malformed.into())
        })
        .transpose()
}

impl Store {
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
            self.write_contact_fields(&mut tx, &key, id, customer_id, &fields).await?;
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
        customer_id: i64,
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
        crate::lookups::write_contact(tx, &self.keys.index, id, customer_id, fields).await
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
            self.write_contact_fields(&mut tx, &key, contact_id, head.customer_id, &fields).await?;
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
    pub(super) async fn contact_handle(
        &self,
        tx: &mut Transaction<'static, Any>,
        key: &crate::Key,
        contact_id: i64,
    ) -> Result<Option<String>, StoreError> {
        let sealed: Option<Vec<u8>> = sqlx::query_scalar("SELECT handle FROM contacts WHERE id = $1")
            .bind(contact_id)
            .fetch_one(&mut **tx)
            .await?;
        open_handle(key, contact_id, sealed)
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

    /// A customer's handles with the domains using each; no holder data.
    /// A read: one pooled connection, no write lock.
    pub async fn handles_of(&self, access: &Access, customer_id: i64) -> Result<Vec<HandleSummary>, StoreError> {
        check_may_read(access, customer_id)?;
        let mut conn = self.pool.acquire().await?;
        let (customer, _) = self.load_customer_row(&mut *conn, customer_id).await?;
        let key = self.keys.data_key(&mut *conn, customer.live_key_id()?).await?;
        let rows = sqlx::query(
            "SELECT id, registry, status, passthrough, handle FROM contacts WHERE customer_id = $1 ORDER BY id",
        )
        .bind(customer_id)
        .fetch_all(&mut *conn)
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
                handle: open_handle(&key, contact_id, r.try_get(4)?)?,
                domains: domains_using(&mut *conn, contact_id).await?,
            });
        }
        Ok(out)
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
