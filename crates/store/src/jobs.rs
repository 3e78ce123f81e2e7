//! Leases on the scheduled jobs, so that of several instances on one
//! database exactly one runs each job (design principle 6).
//!
//! A job's lease names its holder and runs out at `lease_until` unless the
//! holder renews it; a holder that was killed loses the job when its lease
//! runs out, and the next instance that asks takes it over. Taking and
//! renewing are one statement, so two instances asking at once never both
//! get it. Times are the instances' clocks: leases are long against the skew
//! of synchronised clocks.

use std::time::Duration;

use sqlx::Row;

use crate::{Store, StoreError, now_micros};

/// A job's lease and how its latest run went, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLease {
    pub name: String,
    pub holder: String,
    /// When the lease runs out unless renewed (microseconds since the epoch).
    pub lease_until: i64,
    pub runs: i64,
    pub last_started: Option<i64>,
    pub last_finished: Option<i64>,
    pub last_failed: Option<i64>,
}

impl JobLease {
    /// Whether a run has started and neither finished nor failed since.
    pub fn running(&self) -> bool {
        self.last_started.is_some_and(|s| s > self.last_finished.unwrap_or(0).max(self.last_failed.unwrap_or(0)))
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl Store {
    /// Takes the lease of job `name` for `holder` until `lease` from now, or
    /// renews it when `holder` has it already. False while another holder's
    /// lease runs.
    pub async fn lead_job(&self, name: &str, holder: &str, lease: Duration) -> Result<bool, StoreError> {
        let now = now_micros();
        let done = sqlx::query(
            "INSERT INTO job_leases (name, holder, lease_until, taken_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET
                 taken_at = CASE WHEN job_leases.holder = excluded.holder THEN job_leases.taken_at ELSE excluded.taken_at END,
                 holder = excluded.holder, lease_until = excluded.lease_until
             WHERE job_leases.holder = excluded.holder OR job_leases.lease_until <= excluded.taken_at",
        )
        .bind(name)
        .bind(holder)
        .bind(now.saturating_add(micros(lease)))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease up at once (a clean stop), so another instance need
    /// not wait for it to run out. Nothing when `holder` no longer has it.
    pub async fn leave_job(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE job_leases SET lease_until = 0 WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that `holder` starts a run of `name`; false when it no longer
    /// holds the lease (the run must not start).
    pub async fn job_started(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE job_leases SET runs = runs + 1, last_started = $1 WHERE name = $2 AND holder = $3 AND lease_until > $1",
        )
        .bind(now_micros())
        .bind(name)
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records how `holder`'s run of `name` ended.
    pub async fn job_ended(&self, name: &str, holder: &str, succeeded: bool) -> Result<(), StoreError> {
        let column = if succeeded { "last_finished" } else { "last_failed" };
        sqlx::query(&format!("UPDATE job_leases SET {column} = $1 WHERE name = $2 AND holder = $3"))
            .bind(now_micros())
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every job's lease, by name.
    pub async fn job_leases(&self) -> Result<Vec<JobLease>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, holder, lease_until, runs, last_started, last_finished, last_failed
             FROM job_leases ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JobLease {
                    name: r.try_get(0)?,
                    holder: r.try_get(1)?,
                    lease_until: r.try_get(2)?,
                    runs: r.try_get(3)?,
                    last_started: r.try_get(4)?,
                    last_finished: r.try_get(5)?,
                    last_failed: r.try_get(6)?,
                })
            })
            .collect()
    }
}
