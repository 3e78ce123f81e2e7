//! What keeps a customer from being erased that people decide: the
//! customer's erasure request (carried out as soon as nothing blocks it),
//! legal holds, and services that still run.

use custodian_domain::model::format_date;
use custodian_domain::policy::{Action, Resource};
use custodian_domain::retention::{Blocker, HoldReason, RetentionPolicy};
use time::Date;

use super::{Day, RequestOutcome};
use crate::audit::{Access, Event};
use crate::erasure::blockers_of;
use crate::permit;
use crate::{ErasureReason, Store, StoreError, now_micros};

impl Store {
    /// Records that the customer asked to be erased and, when nothing blocks
    /// it, erases them at once. Otherwise the request waits and the retention
    /// jobs carry it out as soon as the blockers are gone.
    pub async fn request_erasure(
        &self,
        access: &Access,
        policy: &RetentionPolicy,
        id: i64,
        today: Date,
    ) -> Result<RequestOutcome, StoreError> {
        permit::require_on(access, id, Resource::ErasureRequests, Action::Write)?;
        let day = Day::new(policy, today)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (head, _) = self.load_customer_row(&mut *tx, id).await?;
        let Ok(key_id) = head.live_key_id() else {
            return Ok(RequestOutcome::Erased);
        };
        sqlx::query(
            "INSERT INTO erasure_requests (customer_id, requested_at, requested_by) VALUES ($1, $2, $3)
             ON CONFLICT (customer_id) DO NOTHING",
        )
        .bind(id)
        .bind(now_micros())
        .bind(access.actor.reference())
        .execute(&mut *tx)
        .await?;
        let mut event = Event::new(access, "customer.erasure_request", "customer", id);
        let key = self.keys.data_key(&mut *tx, key_id).await?;
        self.keys.seal_source(&mut event, Some(&key));
        crate::audit::append(&mut tx, &[event]).await?;
        let blockers = blockers_of(&mut *tx, &[id], &day.kept_from_text).await?.remove(&id).unwrap_or_default();
        if !blockers.is_empty() {
            tx.commit().await?;
            return Ok(RequestOutcome::Waiting(blockers));
        }
        let keys = self.erase_rows(&mut tx, access, &[id], ErasureReason::CustomerRequest).await?;
        tx.commit().await?;
        self.keys.forget_all(&keys);
        Ok(RequestOutcome::Erased)
    }

    /// Withdraws a waiting erasure request (the customer changed their mind).
    /// Returns whether one was waiting.
    pub async fn withdraw_erasure_request(&self, access: &Access, id: i64) -> Result<bool, StoreError> {
        permit::require_on(access, id, Resource::ErasureRequests, Action::Write)?;
        self.change_and_audit(
            access,
            id,
            "DELETE FROM erasure_requests WHERE customer_id = $1",
            "customer.erasure_request_withdrawn",
            &[],
        )
        .await
    }

    /// The waiting erasure request of a customer: when it was made.
    pub async fn erasure_request(&self, id: i64) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT requested_at FROM erasure_requests WHERE customer_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// What would keep customer `id` from being erased on `today`.
    pub async fn erasure_blockers(
        &self,
        policy: &RetentionPolicy,
        id: i64,
        today: Date,
    ) -> Result<Vec<Blocker>, StoreError> {
        let day = Day::new(policy, today)?;
        Ok(blockers_of(&self.pool, &[id], &day.kept_from_text).await?.remove(&id).unwrap_or_default())
    }

    /// Places (or changes the reason of) a legal hold: the customer is not
    /// erased until it is lifted. The owner only; audited with the reason code.
    pub async fn place_legal_hold(&self, access: &Access, id: i64, reason: HoldReason) -> Result<(), StoreError> {
        permit::require(access, Resource::LegalHolds, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (head, _) = self.load_customer_row(&mut *tx, id).await?;
        head.live_key_id()?;
        sqlx::query(
            "INSERT INTO legal_holds (customer_id, reason, placed_at, placed_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (customer_id) DO UPDATE SET reason = excluded.reason, placed_at = excluded.placed_at, placed_by = excluded.placed_by",
        )
        .bind(id)
        .bind(reason.as_str())
        .bind(now_micros())
        .bind(access.actor.reference())
        .execute(&mut *tx)
        .await?;
        let mut event = Event::new(access, "customer.legal_hold", "customer", id).fields([reason.as_str()]);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lifts a legal hold. The owner only; audited. Returns whether one was in place.
    pub async fn lift_legal_hold(&self, access: &Access, id: i64) -> Result<bool, StoreError> {
        permit::require(access, Resource::LegalHolds, Action::Write)?;
        self.change_and_audit(
            access,
            id,
            "DELETE FROM legal_holds WHERE customer_id = $1",
            "customer.legal_hold_lifted",
            &[],
        )
        .await
    }

    /// The legal hold on a customer, if any.
    pub async fn legal_hold(&self, id: i64) -> Result<Option<HoldReason>, StoreError> {
        let reason: Option<String> = sqlx::query_scalar("SELECT reason FROM legal_holds WHERE customer_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(reason.as_deref().and_then(HoldReason::parse))
    }

    /// Runs `sql` (one `$1`: the customer number) and, when it changed a row,
    /// appends `action` about the customer in the same transaction.
    async fn change_and_audit(
        &self,
        access: &Access,
        id: i64,
        sql: &str,
        action: &'static str,
        fields: &[&str],
    ) -> Result<bool, StoreError> {
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let changed = sqlx::query(sql).bind(id).execute(&mut *tx).await?.rows_affected() > 0;
        if changed {
            let mut event = Event::new(access, action, "customer", id).fields(fields);
            self.keys.seal_source(&mut event, None);
            crate::audit::append(&mut tx, &[event]).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// As [`Store::end_service`], for a service that must be `customer_id`'s
    /// (another customer's is not found).
    pub async fn end_customer_service(
        &self,
        access: &Access,
        customer_id: i64,
        service_id: i64,
        ended_on: Date,
    ) -> Result<bool, StoreError> {
        let owner: Option<i64> = sqlx::query_scalar("SELECT customer_id FROM services WHERE id = $1")
            .bind(service_id)
            .fetch_optional(&self.pool)
            .await?;
        if owner != Some(customer_id) {
            // The customer is what the address names: missing, it is not
            // found; present, the service number in the request is wrong.
            self.load_customer_row(&self.pool, customer_id).await?;
            let unknown = custodian_domain::validate::Invalid::new(
                "service",
                "unknown",
                "Deze klant heeft geen dienst met dit nummer.",
                "This customer has no service with this number.",
            );
            return Err(StoreError::Invalid(custodian_domain::model::FieldErrors::single("service", unknown)));
        }
        self.end_service(access, service_id, ended_on).await
    }

    /// Ends a running service (it then no longer keeps the customer from
    /// being erased). Returns `false` when it had already ended.
    pub async fn end_service(&self, access: &Access, service_id: i64, ended_on: Date) -> Result<bool, StoreError> {
        let customer: i64 = sqlx::query_scalar("SELECT customer_id FROM services WHERE id = $1")
            .bind(service_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound { kind: "service", id: service_id.to_string() })?;
        permit::require_on(access, customer, Resource::Services, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let changed =
            sqlx::query("UPDATE services SET status = 'ended', ended_on = $1 WHERE id = $2 AND status <> 'ended'")
                .bind(format_date(ended_on))
                .bind(service_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
        if changed {
            let mut event = Event::new(access, "service.end", "customer", customer).fields(["status", "ended_on"]);
            self.keys.seal_source(&mut event, None);
            crate::audit::append(&mut tx, &[event]).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }
}
