//! What hangs off a customer and shares the customer's data key: contacts
//! (handles), services and statute acceptances.

use custodian_domain::model::{ContactData, Fields, ServiceData, format_date};
use custodian_domain::policy::{Action, Principal, Resource};
use serde::Serialize;

use crate::audit::{Access, Event};
use crate::permit;
use crate::records::{self, assignments};
use crate::rows::{Bind, Get, Reader};
use crate::{Store, StoreError, now_micros};

#[derive(Debug, Clone, Serialize)]
pub struct ContactRecord {
    pub id: i64,
    pub customer_id: i64,
    pub registry: Option<String>,
    /// Where the handle stands at its registry (`local`, `pending`, `active`, ...).
    pub status: String,
    /// Passthrough (A8): the holder data is at the registry only, so `fields`
    /// holds just the handle ID.
    pub passthrough: bool,
    pub fields: Fields,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceRecord {
    pub id: i64,
    pub customer_id: i64,
    pub kind: String,
    pub status: String,
    pub started_on: String,
    pub ended_on: Option<String>,
    /// Delivered for a third party on the customer's behalf (M1).
    pub for_third_party: bool,
    /// Absent when the reader's role may not see it.
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatuteAcceptance {
    pub version: String,
    pub accepted_at: i64,
    pub recorded_by: String,
}

impl Store {
    /// Adds a registry contact (handle) for a customer; it may describe a third
    /// party on whose behalf the customer registers domains (M11).
    pub async fn add_contact(
        &self,
        access: &Access,
        customer_id: i64,
        registry: Option<&str>,
        data: &ContactData,
    ) -> Result<i64, StoreError> {
        permit::require_on(access, customer_id, Resource::Handles, Action::Write)?;
        permit::require_writes(access, "contacts", data.to_fields().keys())?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (head, _) = self.load_customer_row(&mut *tx, customer_id).await?;
        let key = self.keys.data_key(&mut *tx, head.live_key_id()?).await?;
        let now = now_micros();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO contacts (customer_id, registry, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id",
        )
        .bind(customer_id)
        .bind(registry)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let fields = data.to_fields();
        let cols = records::columns("contacts");
        let sql =
            format!("UPDATE contacts SET handle_bidx = $1, {} WHERE id = ${}", assignments(2, &cols), 2 + cols.len());
        let mut q =
            sqlx::query(&sql).bind(data.handle.as_ref().map(|h| self.keys.index.blind_index("handle", h.as_str())));
        for v in records::seal(&key, "contacts", id, &fields) {
            q = q.bind(v);
        }
        q.bind(id).execute(&mut *tx).await?;
        crate::lookups::write_contact(&mut tx, &self.keys.index, id, customer_id, &fields).await?;
        let mut event = Event::new(access, "contact.create", "customer", customer_id).fields(fields.keys());
        self.keys.seal_source(&mut event, Some(&key));
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Adds a service for a customer.
    pub async fn add_service(&self, access: &Access, customer_id: i64, data: &ServiceData) -> Result<i64, StoreError> {
        permit::require_on(access, customer_id, Resource::Services, Action::Write)?;
        permit::require_writes(access, "services", data.to_fields().keys())?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (head, _) = self.load_customer_row(&mut *tx, customer_id).await?;
        let key = self.keys.data_key(&mut *tx, head.live_key_id()?).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO services (customer_id, kind, status, started_on, ended_on, for_third_party)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(customer_id)
        .bind(data.kind.as_str())
        .bind(data.status.as_str())
        .bind(format_date(data.started_on))
        .bind(data.ended_on.map(format_date))
        .bind(i64::from(data.for_third_party))
        .fetch_one(&mut *tx)
        .await?;
        let sealed =
            key.seal(&crate::crypto::field_aad("services", id, "description"), data.description.as_str().as_bytes());
        sqlx::query("UPDATE services SET description = $1 WHERE id = $2")
            .bind(sealed)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let mut event = Event::new(access, "service.create", "customer", customer_id).fields(["description"]);
        self.keys.seal_source(&mut event, Some(&key));
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records that the customer accepted statute/DPA `version` (A1).
    pub async fn record_statute_acceptance(
        &self,
        access: &Access,
        customer_id: i64,
        version: &str,
        accepted_at: i64,
    ) -> Result<(), StoreError> {
        permit::require_on(access, customer_id, Resource::Statute, Action::Write)?;
        let version = custodian_domain::model::Text::parse(version)
            .map_err(|e| custodian_domain::model::FieldErrors::single("version", e))?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (head, _) = self.load_customer_row(&mut *tx, customer_id).await?;
        let key = self.keys.data_key(&mut *tx, head.live_key_id()?).await?;
        sqlx::query(
            "INSERT INTO statute_acceptances (customer_id, version, accepted_at, recorded_by) VALUES ($1, $2, $3, $4)",
        )
        .bind(customer_id)
        .bind(version.as_str())
        .bind(accepted_at)
        .bind(access.actor.reference())
        .execute(&mut *tx)
        .await?;
        let mut event = Event::new(access, "statute.accept", "customer", customer_id);
        self.keys.seal_source(&mut event, Some(&key));
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Contacts, services and statute acceptances of a customer, opened with
    /// `key` for `who`, through `reader`. Used by the export; not audited on its own.
    pub(crate) async fn related(
        &self,
        reader: &mut Reader,
        customer_id: i64,
        key: &crate::Key,
        who: Principal,
    ) -> Result<(Vec<ContactRecord>, Vec<ServiceRecord>, Vec<StatuteAcceptance>), StoreError> {
        let id = [Bind::Int(customer_id)];
        static CONTACTS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT id, customer_id, registry, status, passthrough, {} FROM contacts WHERE customer_id = $1 ORDER BY id",
                records::columns("contacts").join(", ")
            )
        });
        let contacts = reader
            .all(&CONTACTS, &id)
            .await?
            .iter()
            .map(|r| contact_record(r, customer_id, key, who))
            .collect::<Result<_, _>>()?;
        let services = self.services_of(reader, customer_id, key, who).await?;
        let sql = "SELECT version, accepted_at, recorded_by FROM statute_acceptances WHERE customer_id = $1 ORDER BY accepted_at";
        let statutes = reader.all(sql, &id).await?.iter().map(statute_acceptance).collect::<Result<_, _>>()?;
        Ok((contacts, services, statutes))
    }

    /// The services of a customer, opened with `key` for `who`.
    async fn services_of(
        &self,
        reader: &mut Reader,
        customer_id: i64,
        key: &crate::Key,
        who: Principal,
    ) -> Result<Vec<ServiceRecord>, StoreError> {
        let sql = "SELECT id, kind, status, started_on, ended_on, for_third_party, description FROM services
                   WHERE customer_id = $1 ORDER BY id";
        reader
            .all(sql, &[Bind::Int(customer_id)])
            .await?
            .iter()
            .map(|r| service_record(r, customer_id, key, who))
            .collect()
    }

    /// A customer's services, the description only for roles that may read
    /// it. Audited unless the customer reads their own.
    pub async fn read_services(&self, access: &Access, customer_id: i64) -> Result<Vec<ServiceRecord>, StoreError> {
        permit::require_record(access, customer_id, "services")?;
        let (head, _) = self.load_customer_row(&self.pool, customer_id).await?;
        let key_id = head.live_key_id()?;
        let key = self.keys.data_key(&self.pool, key_id).await?;
        let mut reader = self.reader().await?;
        let services = self.services_of(&mut reader, customer_id, &key, access.actor.principal()).await?;
        // The audit writer needs a connection of its own.
        drop(reader);
        if !access.actor.is_subject(customer_id) && !services.is_empty() {
            let shown = services.iter().any(|s| s.description.is_some());
            let mut event =
                Event::new(access, "service.read", "customer", customer_id).fields(shown.then_some("description"));
            self.keys.seal_source(&mut event, Some(&key));
            self.record(event).await?;
        }
        Ok(services)
    }
}

/// A contact from a row of `contacts`, its personal columns opened for `who`.
pub(crate) fn contact_record(
    r: &impl Get,
    customer_id: i64,
    key: &crate::Key,
    who: Principal,
) -> Result<ContactRecord, StoreError> {
    let id: i64 = r.col("id")?;
    Ok(ContactRecord {
        id,
        customer_id,
        registry: r.col("registry")?,
        status: r.col("status")?,
        passthrough: r.col::<i64>("passthrough")? != 0,
        fields: records::open(key, "contacts", id, r, permit::readable_by(who))?,
    })
}

/// A service from a row of `services`, the description only when `who` may read it.
pub(crate) fn service_record(
    r: &impl Get,
    customer_id: i64,
    key: &crate::Key,
    who: Principal,
) -> Result<ServiceRecord, StoreError> {
    let id: i64 = r.col("id")?;
    let description = records::open(key, "services", id, r, permit::readable_by(who))?.remove("description");
    Ok(ServiceRecord {
        id,
        customer_id,
        kind: r.col("kind")?,
        status: r.col("status")?,
        started_on: r.col("started_on")?,
        ended_on: r.col("ended_on")?,
        for_third_party: r.col::<i64>("for_third_party")? != 0,
        description,
    })
}

pub(crate) fn statute_acceptance(r: &impl Get) -> Result<StatuteAcceptance, StoreError> {
    Ok(StatuteAcceptance {
        version: r.col("version")?,
        accepted_at: r.col("accepted_at")?,
        recorded_by: r.col("recorded_by")?,
    })
}
