//! Erasing a customer: every personal field and the customer's data key go, in
//! one transaction; invoices keep their own billing snapshot (A6). The erasure
//! journal keeps only a pseudonymous ID, the time and a reason code, so a restore
//! from an older backup can erase the same customer again.

use std::collections::HashMap;

use custodian_domain::policy::{Action, Resource};
use custodian_domain::retention::{Blocker, HoldReason};
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use crate::audit::{Access, Event};
use crate::permit;
use crate::records;
use crate::{Store, StoreError, now_micros};

/// Meta: the newest journal position the backup repository holds.
const JOURNAL_STORED: &str = "journal_stored";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErasureReason {
    /// The customer asked (GDPR art. 17, M3, "sooner when the customer asks" of M9).
    CustomerRequest,
    /// The retention period after the relationship ended has passed (M9).
    RetentionExpired,
    /// Replayed from the journal after a restore.
    JournalReplay,
}

impl ErasureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ErasureReason::CustomerRequest => "customer_request",
            ErasureReason::RetentionExpired => "retention_expired",
            ErasureReason::JournalReplay => "journal_replay",
        }
    }

    pub fn parse(s: &str) -> Option<ErasureReason> {
        [ErasureReason::CustomerRequest, ErasureReason::RetentionExpired, ErasureReason::JournalReplay]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    pub seq: i64,
    pub subject_kind: String,
    pub subject_id: String,
    pub erased_at: i64,
    pub reason: String,
}

/// `ids` as an SQL list. Numbers from our own tables, never user input; inlined
/// because binding hundreds of `$N` parameters is quadratic inside SQLite.
pub(crate) fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// What keeps each of the active customers `ids` from being erased; customers
/// with no blocker are absent. Unpaid invoices count only while dated on or
/// after `kept_from` (older ones are themselves due for deletion).
pub(crate) async fn blockers_of<'e, E>(
    executor: E,
    ids: &[i64],
    kept_from: &str,
) -> Result<HashMap<i64, Vec<Blocker>>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT c.id,
           (SELECT COUNT(*) FROM services s WHERE s.customer_id = c.id AND s.status <> 'ended'),
           (SELECT COUNT(*) FROM invoices i WHERE i.customer_id = c.id AND i.paid_on IS NULL AND i.issued_on >= $1),
           (SELECT h.reason FROM legal_holds h WHERE h.customer_id = c.id)
         FROM customers c WHERE c.id IN ({}) ORDER BY c.id",
        id_list(ids)
    );
    let rows = sqlx::query(&sql).bind(kept_from).persistent(false).fetch_all(executor).await?;
    for r in rows {
        let (id, services, unpaid, hold): (i64, i64, i64, Option<String>) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        let mut blockers = vec![];
        if services > 0 {
            blockers.push(Blocker::RunningServices { count: services as u32 });
        }
        if unpaid > 0 {
            blockers.push(Blocker::UnpaidInvoices { count: unpaid as u32 });
        }
        if let Some(reason) = hold.as_deref().and_then(HoldReason::parse) {
            blockers.push(Blocker::LegalHold { reason });
        }
        if !blockers.is_empty() {
            out.insert(id, blockers);
        }
    }
    Ok(out)
}

impl Store {
    /// Erases customer `id`. Refused while a service still runs or a legal hold
    /// is in place; unpaid invoices do not stop the owner (they may write a debt
    /// off), only requests and the retention run. Erasing an already erased
    /// customer changes nothing and returns `false`.
    pub async fn erase_customer(&self, access: &Access, id: i64, reason: ErasureReason) -> Result<bool, StoreError> {
        permit::require_on(access, id, Resource::Customers, Action::Erase)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (head, _) = self.load_customer_row(&mut *tx, id).await?;
        if head.live_key_id().is_err() {
            return Ok(false);
        }
        let mut blockers = blockers_of(&mut *tx, &[id], "").await?.remove(&id).unwrap_or_default();
        blockers.retain(|b| !matches!(b, Blocker::UnpaidInvoices { .. }));
        if let Some(b) = blockers.first() {
            return Err(StoreError::Refused(match b {
                Blocker::RunningServices { count } => crate::Refusal::RunningServices { count: *count },
                _ => crate::Refusal::LegalHold,
            }));
        }
        let keys = self.erase_rows(&mut tx, access, &[id], reason).await?;
        tx.commit().await?;
        self.keys.forget_all(&keys);
        Ok(true)
    }

    /// Erases the active customers `ids` inside `tx`, set-wise: every personal
    /// field, the related rows, the portal account, waiting messages and the
    /// data keys go, and each customer gets a journal entry and an audit entry.
    /// The caller has checked the blockers under the same transaction, and
    /// drops the returned data keys from memory once it has committed.
    pub(crate) async fn erase_rows(
        &self,
        tx: &mut Transaction<'static, Any>,
        access: &Access,
        ids: &[i64],
        reason: ErasureReason,
    ) -> Result<Vec<i64>, StoreError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let list = id_list(ids);
        let keys: Vec<(i64, i64)> = sqlx::query_as(&format!(
            "SELECT id, key_id FROM customers WHERE id IN ({list}) AND status = 'active' AND key_id IS NOT NULL ORDER BY id"
        ))
        .persistent(false)
        .fetch_all(&mut **tx)
        .await?;
        if keys.len() != ids.len() {
            return Err(StoreError::Refused(crate::Refusal::NoLongerActive));
        }
        let cols = records::columns("customers");
        let mut events = Vec::with_capacity(ids.len());
        for &(id, key_id) in &keys {
            let mut event = Event::new(access, "customer.erase", "customer", id).fields(&cols);
            // Sealing the customer's own request under the key about to be
            // destroyed keeps even that entry from linking back to them.
            if access.actor.is_subject(id) && access.source.is_some() {
                let key = self.keys.data_key(&mut **tx, key_id).await?;
                self.keys.seal_source(&mut event, Some(&key));
            } else {
                self.keys.seal_source(&mut event, None);
            }
            events.push(event);
        }
        // Handles the registry holds are deleted there too (queued; the handle
        // ID travels under the system key since the customer's key goes now).
        let at_registry: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT id FROM contacts WHERE customer_id IN ({list}) AND status IN ('active', 'pending') ORDER BY id"
        ))
        .persistent(false)
        .fetch_all(&mut **tx)
        .await?;
        self.release_handles(tx, &at_registry, reason).await?;
        let now = now_micros();
        // The customer's portal account goes too, with its sessions and codes.
        for table in ["sessions", "one_time_codes"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE user_id IN (SELECT id FROM users WHERE customer_id IN ({list}))"
            ))
            .persistent(false)
            .execute(&mut **tx)
            .await?;
        }
        for table in [
            "users",
            "customer_name_words",
            "contact_name_words",
            "domains",
            "contacts",
            "services",
            "statute_acceptances",
            "erasure_requests",
            "retention_notices",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE customer_id IN ({list})"))
                .persistent(false)
                .execute(&mut **tx)
                .await?;
        }
        let sql = format!(
            "UPDATE customers SET status = 'erased', key_id = NULL, entered_by = NULL, email_bidx = NULL, kvk_bidx = NULL, erased_at = $1, updated_at = $1, {} WHERE id IN ({list})",
            cols.iter().map(|c| format!("{c} = NULL")).collect::<Vec<_>>().join(", ")
        );
        sqlx::query(&sql).bind(now).persistent(false).execute(&mut **tx).await?;
        let key_ids: Vec<i64> = keys.iter().map(|(_, k)| *k).collect();
        sqlx::query(&format!("DELETE FROM data_keys WHERE id IN ({})", id_list(&key_ids)))
            .persistent(false)
            .execute(&mut **tx)
            .await?;
        journal(tx, "customer", ids, now, reason).await?;
        let job = Access::new(crate::Actor::job("erasure"), access.purpose);
        for customer in crate::outbox::Outbox::cancel_for_customers_in(tx, &list, now).await? {
            let event = Event::new(&job, "outbox.cancel", "customer", customer).fields(crate::outbox::PERSONAL_COLUMNS);
            events.push(event);
        }
        crate::audit::append(tx, &events).await?;
        Ok(key_ids)
    }

    /// Records that the backup repository holds the erasure journal up to
    /// `position` (a snapshot or a journal push reached it). A lower position
    /// than the one recorded changes nothing.
    pub async fn journal_stored(&self, position: i64) -> Result<(), StoreError> {
        let value = format!("{position:020}");
        sqlx::query(
            "INSERT INTO meta (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE meta.value < excluded.value",
        )
        .bind(JOURNAL_STORED)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Erasures made since the backup repository last received the journal:
    /// a restore would bring them back until they reach it. 0 while no
    /// backup has been made (there is nothing to bring back).
    pub async fn journal_unstored(&self) -> Result<i64, StoreError> {
        let stored: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
            .bind(JOURNAL_STORED)
            .fetch_optional(&self.pool)
            .await?;
        let Some(stored) = stored else { return Ok(0) };
        let stored: i64 = stored.parse().map_err(|_| StoreError::Corrupt(format!("meta {JOURNAL_STORED}")))?;
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM erasure_journal WHERE seq > $1")
            .bind(stored)
            .fetch_one(&self.pool)
            .await?)
    }

    /// The erasure journal after position `after`, oldest first.
    pub async fn erasure_journal(&self, after: i64) -> Result<Vec<JournalEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, subject_kind, subject_id, erased_at, reason FROM erasure_journal WHERE seq > $1 ORDER BY seq",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JournalEntry {
                    seq: r.try_get(0)?,
                    subject_kind: r.try_get(1)?,
                    subject_id: r.try_get(2)?,
                    erased_at: r.try_get(3)?,
                    reason: r.try_get(4)?,
                })
            })
            .collect()
    }
}

/// Appends one journal entry per erased or deleted record, so a restore from an
/// older backup can delete them again.
pub(crate) async fn journal(
    tx: &mut Transaction<'static, Any>,
    subject_kind: &str,
    ids: &[i64],
    now: i64,
    reason: ErasureReason,
) -> Result<(), StoreError> {
    for chunk in ids.chunks(500) {
        let values =
            chunk.iter().map(|id| format!("('{subject_kind}', '{id}', $1, $2)")).collect::<Vec<_>>().join(", ");
        sqlx::query(&format!(
            "INSERT INTO erasure_journal (subject_kind, subject_id, erased_at, reason) VALUES {values}"
        ))
        .bind(now)
        .bind(reason.as_str())
        .persistent(false)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
