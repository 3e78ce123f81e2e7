//! Domains: registered with existing handles of their customer, pointed at
//! other handles, and let go when they move to another registrar.

use sqlx::{Any, Row, Transaction};

use super::queue::enqueue;
use super::{DomainHandleIds, DomainRecord, OpKind, check_may_change, check_may_read, contact_head, job};
use crate::audit::{self, Access, Event};
use crate::{Store, StoreError, now_micros};

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

impl Store {
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
        used_until_now(&mut tx, domain_id).await?;
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

    pub async fn domains_of(&self, access: &Access, customer_id: i64) -> Result<Vec<DomainRecord>, StoreError> {
        check_may_read(access, customer_id)?;
        let sql = format!("SELECT {DOMAIN_COLUMNS} FROM domains WHERE customer_id = $1 ORDER BY name");
        let rows = sqlx::query(&sql).bind(customer_id).fetch_all(&self.pool).await?;
        rows.iter().map(domain_record).collect()
    }

    /// Every domain at `registry` (for reconciling).
    pub async fn domains_at(&self, registry: &str) -> Result<Vec<DomainRecord>, StoreError> {
        let sql =
            format!("SELECT {DOMAIN_COLUMNS} FROM domains WHERE registry = $1 AND status <> 'gone' ORDER BY name");
        let rows = sqlx::query(&sql).bind(registry).fetch_all(&self.pool).await?;
        rows.iter().map(domain_record).collect()
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
        used_until_now(&mut tx, id).await?;
        sqlx::query("UPDATE domains SET status = 'gone', updated_at = $1 WHERE id = $2")
            .bind(now_micros())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::append(&mut tx, &[Event::new(&job(), "domain.transferred_away", "customer", customer_id)]).await?;
        tx.commit().await?;
        Ok(true)
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

/// The columns [`domain_record`] reads, in its order.
const DOMAIN_COLUMNS: &str = "id, customer_id, name, registry, status, registrant_id, admin_id, tech_id";

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

/// Records that the handles domain `domain_id` uses now were in use until
/// now, before the domain stops using them: an unused handle's minimum age
/// counts from its last use (M12).
async fn used_until_now(tx: &mut Transaction<'static, Any>, domain_id: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE contacts SET last_used_at = $1 WHERE id IN (
             SELECT registrant_id FROM domains WHERE id = $2
             UNION SELECT admin_id FROM domains WHERE id = $2
             UNION SELECT tech_id FROM domains WHERE id = $2)",
    )
    .bind(now_micros())
    .bind(domain_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
