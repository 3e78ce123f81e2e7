//! The owner's view of the whole trail: filtered, newest first, a page at a
//! time. Looking is itself recorded, as any read of personal data is.

use custodian_domain::policy::{Action, Resource};
use sqlx::Row;

use super::{Access, Entry, Event};
use crate::{AccessPurpose, Store, StoreError, permit};

/// Which entries to show; every part left `None` matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// An actor kind (`staff`, `customer`, `operator`, `job`, `api`), with an
    /// id for one actor of that kind.
    pub actor: Option<(String, Option<String>)>,
    /// Entries about this customer.
    pub customer: Option<i64>,
    /// One action (`customer.read`), or a family of them (`customer.`).
    pub action: Option<String>,
    pub purpose: Option<AccessPurpose>,
    /// From this moment (microseconds since 1970, inclusive)...
    pub from: Option<i64>,
    /// ...until this one (exclusive).
    pub until: Option<i64>,
}

/// One page of entries, newest first.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub entries: Vec<Entry>,
    /// Pass as `before` for the next (older) page; `None` on the last page.
    pub next_before: Option<i64>,
}

impl AuditFilter {
    /// The WHERE clause and its values, numbered from `$1`.
    fn clause(&self, before: Option<i64>) -> (String, Vec<Value>) {
        let mut terms = Vec::new();
        let mut values = Vec::new();
        let mut push = |term: &str, value: Value| {
            values.push(value);
            terms.push(term.replace('?', &format!("${}", values.len())));
        };
        if let Some((kind, id)) = &self.actor {
            push("actor_kind = ?", Value::Text(kind.clone()));
            if let Some(id) = id {
                push("actor_id = ?", Value::Text(id.clone()));
            }
        }
        if let Some(customer) = self.customer {
            push("subject_kind = ?", Value::Text("customer".into()));
            push("subject_id = ?", Value::Text(customer.to_string()));
        }
        match self.action.as_deref() {
            Some(family) if family.ends_with('.') => {
                // A prefix match without LIKE, whose `_` wildcard is in action names.
                let term = format!("substr(action, 1, {}) = ?", family.chars().count());
                push(&term, Value::Text(family.into()));
            }
            Some(action) => push("action = ?", Value::Text(action.into())),
            None => {}
        }
        if let Some(purpose) = self.purpose {
            push("purpose = ?", Value::Text(purpose.as_str().into()));
        }
        if let Some(from) = self.from {
            push("at >= ?", Value::Int(from));
        }
        if let Some(until) = self.until {
            push("at < ?", Value::Int(until));
        }
        if let Some(before) = before {
            push("seq < ?", Value::Int(before));
        }
        let clause = if terms.is_empty() { String::new() } else { format!("WHERE {}", terms.join(" AND ")) };
        (clause, values)
    }
}

enum Value {
    Text(String),
    Int(i64),
}

impl Store {
    /// Up to `limit` entries matching `filter` older than `before`, newest
    /// first. Only those the policy lets read the trail may; source addresses
    /// open for those who may read them.
    pub async fn audit_browse(
        &self,
        access: &Access,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<AuditPage, StoreError> {
        permit::require(access, Resource::AuditTrail, Action::Read)?;
        let limit = limit.clamp(1, 1000);
        let (clause, values) = filter.clause(before);
        let sql = format!(
            "SELECT seq, at, actor_kind, actor_id, action, subject_kind, subject_id, fields, purpose, source_key, source
             FROM audit_log {clause} ORDER BY seq DESC LIMIT {}",
            limit + 1
        );
        let mut query = sqlx::query(&sql);
        for value in values {
            query = match value {
                Value::Text(t) => query.bind(t),
                Value::Int(i) => query.bind(i),
            };
        }
        let mut conn = self.pool.acquire().await?;
        let rows = query.fetch_all(&mut *conn).await?;
        let more = rows.len() > limit as usize;
        let mut entries = Vec::with_capacity(rows.len().min(limit as usize));
        let all_sources = crate::export::reads_sources(access);
        for row in rows.iter().take(limit as usize) {
            let (mut entry, key_name, sealed) = super::entry_of(row)?;
            if let Some(sealed) = sealed {
                entry.source = self.open_source(&mut conn, access, all_sources, &entry, &key_name, &sealed).await;
            }
            entries.push(entry);
        }
        drop(conn);
        let next_before = if more { entries.last().map(|e| e.seq) } else { None };
        let mut event = match filter.customer {
            Some(customer) => Event::new(access, "audit.browse", "customer", customer),
            None => Event::new(access, "audit.browse", "audit_log", entries.len()),
        };
        self.keys.seal_source(&mut event, None);
        self.record(event).await?;
        Ok(AuditPage { entries, next_before })
    }

    /// The actions that occur in the trail, for a filter's choices.
    pub async fn audit_actions(&self, access: &Access) -> Result<Vec<String>, StoreError> {
        permit::require(access, Resource::AuditTrail, Action::Read)?;
        let rows = sqlx::query("SELECT DISTINCT action FROM audit_log ORDER BY action").fetch_all(&self.pool).await?;
        rows.iter().map(|r| r.try_get::<String, _>(0).map_err(StoreError::from)).collect()
    }
}
