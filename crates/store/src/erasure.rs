//! Erasing a customer: every personal field and the customer's data key go, in
//! one transaction; invoices keep their own billing snapshot (A6). The erasure
//! journal keeps only a pseudonymous ID, the time and a reason code, so a restore
//! from an older backup can erase the same customer again.

use custodian_domain::inventory::Role;
use serde::Serialize;
use sqlx::Row;

use crate::audit::{Access, Event};
use crate::customers::check_subject;
use crate::records;
use crate::{Store, StoreError, now_micros};

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

impl Store {
    /// Erases customer `id`. Refused while a service still runs (it must be ended
    /// first). Erasing an already erased customer changes nothing and returns
    /// `false`.
    pub async fn erase_customer(&self, access: &Access, id: i64, reason: ErasureReason) -> Result<bool, StoreError> {
        check_subject(access, id)?;
        if !matches!(access.actor.role, Role::Owner | Role::Subject) {
            return Err(StoreError::Forbidden("only the owner or the customer themselves can erase a customer".into()));
        }
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (head, _) = self.load_customer_row(&mut *tx, id).await?;
        let Ok(key_id) = head.live_key_id() else {
            return Ok(false);
        };
        // Sealing this entry's source under the key about to be destroyed keeps
        // even the customer's own erasure request from linking back to them.
        let key = self.keys.data_key(&mut *tx, key_id).await?;
        let live: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM services WHERE customer_id = $1 AND status <> 'ended'")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if live > 0 {
            return Err(StoreError::Conflict(format!(
                "customer {id} still has {live} running service(s); end them before erasing"
            )));
        }
        // The customer's portal account goes too, with its sessions and codes.
        for table in ["sessions", "one_time_codes"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id IN (SELECT id FROM users WHERE customer_id = $1)"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for table in ["users", "customer_name_words", "contacts", "services", "statute_acceptances"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE customer_id = $1")).bind(id).execute(&mut *tx).await?;
        }
        let cols = records::columns("customers");
        let sql = format!(
            "UPDATE customers SET status = 'erased', key_id = NULL, entered_by = NULL, email_bidx = NULL, kvk_bidx = NULL, erased_at = $1, updated_at = $1, {} WHERE id = $2",
            cols.iter().map(|c| format!("{c} = NULL")).collect::<Vec<_>>().join(", ")
        );
        let now = now_micros();
        sqlx::query(&sql).bind(now).bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM data_keys WHERE id = $1").bind(key_id).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO erasure_journal (subject_kind, subject_id, erased_at, reason) VALUES ('customer', $1, $2, $3)",
        )
        .bind(id.to_string())
        .bind(now)
        .bind(reason.as_str())
        .execute(&mut *tx)
        .await?;
        let mut event = Event::new(access, "customer.erase", "customer", id).fields(cols);
        self.keys.seal_source(&mut event, Some(&key));
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        self.keys.forget(key_id);
        // Messages still queued about this customer would only greet someone who
        // no longer exists here.
        let job = Access::new(crate::Actor::job("erasure"), access.purpose);
        self.outbox().cancel_for_customer(&job, id, now).await?;
        Ok(true)
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
