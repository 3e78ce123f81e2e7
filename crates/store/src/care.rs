//! Where one customer stands on keeping and erasing, for the owner's page
//! about it: the hold, the waiting request, what blocks erasure, the services.

use custodian_domain::policy::{Action, Resource};
use custodian_domain::retention::{Blocker, HoldReason, RetentionPolicy};
use sqlx::Row;
use time::Date;

use crate::audit::Access;
use crate::{Store, StoreError, permit};

/// A customer's standing on erasure.
#[derive(Debug, Clone)]
pub struct ErasureStanding {
    /// `false` once the customer has been erased: the rest is then empty.
    pub active: bool,
    /// The legal hold and when it was placed (microseconds since 1970).
    pub hold: Option<(HoldReason, i64)>,
    /// When the customer asked to be erased, while that request waits.
    pub requested_at: Option<i64>,
    /// What keeps the customer from being erased today.
    pub blockers: Vec<Blocker>,
    pub services: Vec<ServiceLine>,
}

/// A service as the erasure page lists it: enough to end it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLine {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub started_on: String,
    pub ended_on: Option<String>,
}

impl Store {
    /// Customer `id`'s standing on erasure on `today`. For those who oversee
    /// retention (the owner); reads no personal field, so it leaves no entry.
    pub async fn erasure_standing(
        &self,
        access: &Access,
        policy: &RetentionPolicy,
        id: i64,
        today: Date,
    ) -> Result<ErasureStanding, StoreError> {
        permit::require(access, Resource::Retention, Action::Read)?;
        let (head, _) = self.load_customer_row(&self.pool, id).await?;
        if head.live_key_id().is_err() {
            return Ok(ErasureStanding {
                active: false,
                hold: None,
                requested_at: None,
                blockers: vec![],
                services: vec![],
            });
        }
        let hold = sqlx::query("SELECT reason, placed_at FROM legal_holds WHERE customer_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| Ok::<_, StoreError>((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
            .transpose()?
            .and_then(|(reason, at)| HoldReason::parse(&reason).map(|r| (r, at)));
        let services = sqlx::query(
            "SELECT id, kind, status, started_on, ended_on FROM services WHERE customer_id = $1 ORDER BY started_on, id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ServiceLine {
                id: r.try_get(0)?,
                kind: r.try_get(1)?,
                status: r.try_get(2)?,
                started_on: r.try_get(3)?,
                ended_on: r.try_get(4)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
        Ok(ErasureStanding {
            active: true,
            hold,
            requested_at: self.erasure_request(id).await?,
            blockers: self.erasure_blockers(policy, id, today).await?,
            services,
        })
    }
}
