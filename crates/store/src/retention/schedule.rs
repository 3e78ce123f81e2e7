//! When the retention run is due (the schedule kept in `meta`, a run made up
//! when the server was down on its day), the last run's report, and the
//! notices of a coming erasure.

use custodian_domain::model::format_date;
use custodian_domain::retention::{RetentionPolicy, ScheduleState};
use time::Date;

use super::{Cause, Day, LAST_REPORT, LAST_RUN, RunReport, SCHEDULE_FROM, stored_date};
use crate::{Store, StoreError, now_micros};

impl Store {
    /// The customers who should get the notice of their coming erasure today:
    /// due within `notice_days` (not yet today), nothing blocking, and not yet
    /// told about that date. As (customer number, erasure day).
    pub async fn retention_notices_due(
        &self,
        policy: &RetentionPolicy,
        today: Date,
    ) -> Result<Vec<(i64, Date)>, StoreError> {
        if policy.notice_days == 0 {
            return Ok(vec![]);
        }
        let horizon = today + time::Duration::days(policy.notice_days.into());
        let day = Day::new(policy, horizon)?;
        let (erasures, _) = self.customers_due(&day).await?;
        let mut out = vec![];
        for e in erasures.into_iter().filter(|e| e.cause == Cause::RetentionExpired && e.due_on > today) {
            let told: Option<i64> = sqlx::query_scalar(
                "SELECT queued_at FROM retention_notices WHERE customer_id = $1 AND erasure_on = $2",
            )
            .bind(e.customer_id)
            .bind(format_date(e.due_on))
            .fetch_optional(&self.pool)
            .await?;
            if told.is_none() {
                out.push((e.customer_id, e.due_on));
            }
        }
        Ok(out)
    }

    /// Records that the notice about the erasure on `erasure_on` was queued (or
    /// could not be sent for want of consent), so it is not sent again.
    pub async fn record_retention_notice(&self, customer_id: i64, erasure_on: Date) -> Result<(), StoreError> {
        let mut tx = crate::db::write_tx(&self.pool).await?;
        sqlx::query(
            "INSERT INTO retention_notices (customer_id, erasure_on, queued_at) VALUES ($1, $2, $3)
             ON CONFLICT (customer_id, erasure_on) DO NOTHING",
        )
        .bind(customer_id)
        .bind(format_date(erasure_on))
        .bind(now_micros())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The last completed run and the day scheduling began, as stored.
    pub async fn retention_schedule(&self) -> Result<ScheduleState, StoreError> {
        let date = |name| async move {
            let v: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
            v.as_deref().map(stored_date).transpose()
        };
        Ok(ScheduleState { last_run: date(LAST_RUN).await?, since: date(SCHEDULE_FROM).await? })
    }

    /// The newest completed run: its day and what it did.
    pub async fn retention_last_report(&self) -> Result<Option<(Date, RunReport)>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Stored {
            on: String,
            report: RunReport,
        }
        let v: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
            .bind(LAST_REPORT)
            .fetch_optional(&self.pool)
            .await?;
        let Some(v) = v else { return Ok(None) };
        let stored: Stored = serde_json::from_str(&v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Some((stored_date(&stored.on)?, stored.report)))
    }

    /// The day the scheduler first ran on this database (set to `today` the
    /// first time): runs scheduled before it were never missed.
    pub async fn retention_schedule_from(&self, today: Date) -> Result<Date, StoreError> {
        let mut tx = crate::db::write_tx(&self.pool).await?;
        sqlx::query("INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(SCHEDULE_FROM)
            .bind(format_date(today))
            .execute(&mut *tx)
            .await?;
        let v: String = sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
            .bind(SCHEDULE_FROM)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        stored_date(&v)
    }
}
