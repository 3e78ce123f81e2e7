//! Everything held about one customer, for the right of access and portability.

use std::sync::Arc;

use custodian_domain::inventory::Role;
use custodian_domain::policy::{Action, Resource};
use serde::Serialize;

use crate::audit::{self, Access, Entry, Event};
use crate::invoices::Detail;
use crate::overview::Overview;
use crate::permit;
use crate::rows::Bind;
use crate::{ContactRecord, CustomerRecord, InvoiceRecord, ServiceRecord, StatuteAcceptance, Store, StoreError};

/// The export document. `format` names its version for machines reading it.
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub format: &'static str,
    pub generated_at: i64,
    pub customer: CustomerRecord,
    pub contacts: Vec<ContactRecord>,
    pub services: Vec<ServiceRecord>,
    /// `None` when the reader's role may not see invoices (staff, A4).
    pub invoices: Option<Vec<InvoiceRecord>>,
    pub statute_acceptances: Vec<StatuteAcceptance>,
    /// Who did what with this customer's data; `None` when the reader may not
    /// see the trail (only the owner and the customer do) or asked for the
    /// dashboard's short form.
    pub access_log: Option<Vec<Entry>>,
}

impl Store {
    /// Exports all data about customer `id` that the actor's role may see. Audited
    /// (one entry) unless the customer exports their own data.
    pub async fn export_customer(&self, access: &Access, id: i64) -> Result<Export, StoreError> {
        self.export_with(access, id, Detail::Full).await
    }

    /// What the customer's dashboard shows, in one statement (see `overview`):
    /// the export without its access log (left empty) and with invoice headers
    /// only (their billing snapshot and lines stay sealed and unread).
    ///
    /// A customer's own overview comes from the read cache when there is one
    /// (see `cache`), shared rather than copied (its `generated_at` is when it
    /// was read); nobody else's does, since their every read is audited.
    pub async fn customer_overview(&self, access: &Access, id: i64) -> Result<Arc<Export>, StoreError> {
        let cache = self.cache.as_deref().filter(|_| access.actor.is_subject(id));
        let ticket = cache.and_then(|c| c.ticket());
        if let (Some(cache), Some(ticket)) = (cache, ticket)
            && let Some(cached) = cache.overviews.get(cache, &id, ticket, |_| true)
        {
            return Ok(cached);
        }
        let export = Arc::new(self.export_with(access, id, Detail::Headers).await?);
        if let (Some(cache), Some(ticket)) = (cache, ticket) {
            cache.overviews.put(cache, ticket, id, export.clone());
        }
        Ok(export)
    }

    async fn export_with(&self, access: &Access, id: i64, detail: Detail) -> Result<Export, StoreError> {
        permit::require_on(access, id, Resource::Customers, Action::Export)?;
        let who = access.actor.principal();
        let read = match detail {
            Detail::Headers => self.read_overview(id, who, permit::readable(access)).await?,
            Detail::Full | Detail::Document => self.read_whole(access, id, detail).await?,
        };
        let Overview { head, key, fields, contacts, services, statute_acceptances, invoices } = read;
        let withheld = permit::withheld(access, "customers");
        let access_log = match detail {
            Detail::Full if custodian_domain::policy::allows(who, Resource::AccessLog, Action::Read) => {
                Some(self.access_log(access, id).await?)
            }
            _ => None,
        };
        if !access.actor.is_subject(id) {
            let mut event = Event::new(access, "customer.export", "customer", id).fields(fields.keys());
            self.keys.seal_source(&mut event, Some(&key));
            self.record(event).await?;
        }
        Ok(Export {
            format: "custodian-export-v1",
            generated_at: crate::now_micros(),
            customer: CustomerRecord {
                id,
                kind: head.kind,
                status: head.status,
                entered_by: head.entered_by,
                created_at: head.created_at,
                updated_at: head.updated_at,
                fields,
                withheld,
            },
            contacts,
            services,
            invoices,
            statute_acceptances,
            access_log,
        })
    }

    /// Everything [`Store::read_overview`] reads, with the invoices at `detail`
    /// (their billing snapshots and lines opened), statement by statement.
    async fn read_whole(&self, access: &Access, id: i64, detail: Detail) -> Result<Overview, StoreError> {
        let who = access.actor.principal();
        // All reads through one reader, so they see one snapshot.
        let mut reader = self.reader().await?;
        let row = reader
            .optional(crate::customers::select_sql(), &[Bind::Int(id)])
            .await?
            .ok_or(StoreError::NotFound { kind: "customer", id: id.to_string() })?;
        let head = crate::customers::head(&row)?;
        let key_id = head.live_key_id()?;
        let key = reader.data_key(&self.keys, &self.pool, key_id).await?;
        let fields = crate::records::open(&key, "customers", key_id, &row, permit::readable(access))?;
        let (contacts, services, statute_acceptances) = self.related(&mut reader, id, &key, who).await?;
        let invoices = match custodian_domain::policy::allows(who, Resource::Invoices, Action::Read) {
            true => Some(self.invoices_of(&mut reader, id, who, detail).await?),
            false => None,
        };
        Ok(Overview { head, key, fields, contacts, services, statute_acceptances, invoices })
    }

    /// The audit entries about customer `id`. Source addresses are shown to the
    /// owner only, and to a customer for their own actions.
    pub async fn access_log(&self, access: &Access, id: i64) -> Result<Vec<Entry>, StoreError> {
        self.access_log_on(&mut *self.pool.acquire().await?, access, id, None).await
    }

    /// The latest `n` of [`Store::access_log`], oldest first: for pages that
    /// show the recent trail and link to the whole of it.
    pub async fn recent_access_log(&self, access: &Access, id: i64, n: u32) -> Result<Vec<Entry>, StoreError> {
        self.access_log_on(&mut *self.pool.acquire().await?, access, id, Some(n)).await
    }

    async fn access_log_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        access: &Access,
        id: i64,
        newest: Option<u32>,
    ) -> Result<Vec<Entry>, StoreError> {
        permit::require_on(access, id, Resource::AccessLog, Action::Read)?;
        let rows = audit::about(&mut *conn, "customer", &id.to_string(), newest).await?;
        if rows.is_empty() {
            // An empty trail, or no such customer: only the latter is not found.
            self.load_customer_row(&mut *conn, id).await?;
        }
        let mut out = Vec::with_capacity(rows.len());
        let all_sources = reads_sources(access);
        for (mut entry, key_name, sealed) in rows {
            if let Some(sealed) = sealed {
                entry.source = self.open_source(conn, access, all_sources, &entry, &key_name, &sealed).await;
            }
            out.push(entry);
        }
        Ok(out)
    }

    /// The source address of `entry`, when the reader may see it: every
    /// entry's with `all_sources` (see [`reads_sources`]), else a customer
    /// those of their own actions.
    pub(crate) async fn open_source(
        &self,
        conn: &mut sqlx::AnyConnection,
        access: &Access,
        all_sources: bool,
        entry: &Entry,
        key_name: &str,
        sealed: &[u8],
    ) -> Option<String> {
        let own = entry.actor_kind == "customer"
            && access.actor.kind == audit::ActorKind::Customer
            && entry.actor_id == access.actor.id;
        if !own && !all_sources {
            return None;
        }
        let actor_kind = match entry.actor_kind.as_str() {
            "staff" => audit::ActorKind::Staff,
            "customer" => audit::ActorKind::Customer,
            "job" => audit::ActorKind::Job,
            "api" => audit::ActorKind::Api,
            _ => audit::ActorKind::Operator,
        };
        let actor = audit::Actor { kind: actor_kind, id: entry.actor_id.clone(), role: Role::Owner };
        let aad = audit::source_aad(&actor);
        let key = match key_name.strip_prefix("customer:") {
            Some(cid) => {
                let cid: i64 = cid.parse().ok()?;
                let key_id: i64 =
                    sqlx::query_scalar("SELECT key_id FROM customers WHERE id = $1 AND key_id IS NOT NULL")
                        .bind(cid)
                        .fetch_optional(&mut *conn)
                        .await
                        .ok()??;
                self.keys.data_key(&mut *conn, key_id).await.ok()?
            }
            None => self.keys.system.clone(),
        };
        let plain = key.open(&aad, sealed).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

/// Whether `access` may read the source address of every audit entry: it is
/// security data (M17), asked once per list rather than per entry.
pub(crate) fn reads_sources(access: &Access) -> bool {
    custodian_domain::inventory::field("audit_log", "source")
        .is_some_and(|f| permit::readable_by(access.actor.principal())(f))
}
