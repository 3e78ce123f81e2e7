//! Finding every record about a requester through the blind indexes, without
//! decrypting anything else: customers and domain contacts by e-mail address,
//! by all the words of the name, and contacts by the handle the person named.
//! The owner then confirms which of them really are about the person.

use std::collections::BTreeMap;

use custodian_domain::model::search_words;
use custodian_domain::policy::{Action, Resource};
use serde::Serialize;
use sqlx::Row;

use crate::audit::{Access, Event};
use crate::customers::email_index;
use crate::{Refusal, Store, StoreError, permit, records};

/// What kind of record a match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Customer,
    /// A domain contact (handle) a customer entered.
    Contact,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Customer => "customer",
            RecordKind::Contact => "contact",
        }
    }

    pub fn parse(s: &str) -> Option<RecordKind> {
        [RecordKind::Customer, RecordKind::Contact].into_iter().find(|k| k.as_str() == s)
    }
}

/// A record that may be about the requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    pub kind: RecordKind,
    pub id: i64,
    /// The customer the record belongs to (a contact's: who entered it);
    /// `None` when the record is gone since it was confirmed.
    pub customer_id: Option<i64>,
    /// Which lookups found it: `email`, `name`, `handle`.
    pub matched_on: Vec<String>,
}

/// Number → the lookups that found it, per kind.
type Found = BTreeMap<(RecordKind, i64), (i64, Vec<&'static str>)>;

impl Store {
    /// Every customer and domain contact the requester's e-mail address, name
    /// or handle leads to. Audited as a search with the lookups used (never
    /// their values); reading a match is a read of its own.
    pub async fn find_request_records(&self, access: &Access, id: i64) -> Result<Vec<Match>, StoreError> {
        permit::require(access, Resource::SubjectRequests, Action::Read)?;
        let requester = self.requester(id).await?;
        let index = &self.keys.index;
        let mut found = Found::new();
        let mut used = Vec::new();
        if let Some(email) = requester.get("email") {
            used.push("email");
            let hash = email_index(index, email);
            let customers: Vec<i64> =
                sqlx::query_scalar("SELECT id FROM customers WHERE email_bidx = $1 AND status = 'active'")
                    .bind(hash.clone())
                    .fetch_all(&self.pool)
                    .await?;
            for c in customers {
                add(&mut found, RecordKind::Customer, c, c, "email");
            }
            let contacts: Vec<(i64, i64)> =
                sqlx::query_as("SELECT id, customer_id FROM contacts WHERE email_bidx = $1")
                    .bind(hash)
                    .fetch_all(&self.pool)
                    .await?;
            for (c, owner) in contacts {
                add(&mut found, RecordKind::Contact, c, owner, "email");
            }
        }
        if let Some(handle) = requester.get("handle") {
            used.push("handle");
            let contacts: Vec<(i64, i64)> =
                sqlx::query_as("SELECT id, customer_id FROM contacts WHERE handle_bidx = $1")
                    .bind(index.blind_index("handle", handle))
                    .fetch_all(&self.pool)
                    .await?;
            for (c, owner) in contacts {
                add(&mut found, RecordKind::Contact, c, owner, "handle");
            }
        }
        let words = requester.get("name").map(|n| search_words(n)).unwrap_or_default();
        if !words.is_empty() {
            used.push("name");
            let hashes: Vec<Vec<u8>> = words.iter().map(|w| index.blind_index("name", w)).collect();
            // A record matches by name only when it has every word of it.
            let every = |table: &str, key: &str| {
                format!(
                    "SELECT {key}, MIN(customer_id) FROM {table} WHERE word IN ({}) GROUP BY {key} HAVING COUNT(DISTINCT word) = {}",
                    records::placeholders(1, hashes.len()),
                    hashes.len()
                )
            };
            for (kind, table, key) in [
                (RecordKind::Customer, "customer_name_words", "customer_id"),
                (RecordKind::Contact, "contact_name_words", "contact_id"),
            ] {
                let sql = every(table, key);
                let mut q = sqlx::query(&sql);
                for h in &hashes {
                    q = q.bind(h.clone());
                }
                for r in q.fetch_all(&self.pool).await? {
                    add(&mut found, kind, r.try_get(0)?, r.try_get(1)?, "name");
                }
            }
        }
        let mut event = Event::new(access, "request.search", "subject_request", id).fields(&used);
        self.keys.seal_source(&mut event, None);
        self.record(event).await?;
        Ok(found
            .into_iter()
            .map(|((kind, id), (customer_id, on))| Match {
                kind,
                id,
                customer_id: Some(customer_id),
                matched_on: on.into_iter().map(String::from).collect(),
            })
            .collect())
    }

    /// Confirms which of the records found are about the person: `chosen`
    /// replaces the earlier choice. Each must be among what the lookups find
    /// now, so the register never links a record nothing led to.
    pub async fn confirm_request_records(
        &self,
        access: &Access,
        id: i64,
        chosen: &[(RecordKind, i64)],
    ) -> Result<(), StoreError> {
        permit::require(access, Resource::SubjectRequests, Action::Write)?;
        let found = self.find_request_records(access, id).await?;
        let mut picked = Vec::new();
        for (kind, record) in chosen {
            let m = found
                .iter()
                .find(|m| m.kind == *kind && m.id == *record)
                .ok_or(StoreError::Refused(Refusal::RequestNotAMatch))?;
            picked.push(m);
        }
        let mut tx = crate::db::write_tx(&self.pool).await?;
        self.open_request(&mut tx, id).await?;
        sqlx::query("DELETE FROM subject_request_records WHERE request_id = $1").bind(id).execute(&mut *tx).await?;
        for m in &picked {
            sqlx::query(
                "INSERT INTO subject_request_records (request_id, record_kind, record_id, matched_on) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(m.kind.as_str())
            .bind(m.id)
            .bind(m.matched_on.join(","))
            .execute(&mut *tx)
            .await?;
        }
        let kinds: Vec<&str> = picked.iter().map(|m| m.kind.as_str()).collect();
        let mut event = Event::new(access, "request.confirm_records", "subject_request", id).fields(kinds);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The records confirmed for request `id`, with their customer while
    /// they still exist.
    pub(super) async fn request_records(&self, id: i64) -> Result<Vec<Match>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.record_kind, r.record_id, r.matched_on,
                    CASE WHEN r.record_kind = 'customer' THEN cu.id ELSE co.customer_id END
             FROM subject_request_records r
             LEFT JOIN customers cu ON r.record_kind = 'customer' AND cu.id = r.record_id AND cu.status = 'active'
             LEFT JOIN contacts co ON r.record_kind = 'contact' AND co.id = r.record_id
             WHERE r.request_id = $1 ORDER BY r.record_kind DESC, r.record_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(0)?;
                let on: String = r.try_get(2)?;
                Ok(Match {
                    kind: RecordKind::parse(&kind).ok_or_else(|| super::corrupt("record kind"))?,
                    id: r.try_get(1)?,
                    customer_id: r.try_get(3)?,
                    matched_on: on.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
                })
            })
            .collect()
    }

    /// The requester's e-mail, name and handle, for the lookups.
    async fn requester(&self, id: i64) -> Result<custodian_domain::model::Fields, StoreError> {
        let row = sqlx::query("SELECT key_id, email, name, handle FROM subject_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound { kind: "request", id: id.to_string() })?;
        let Some(key_id) = row.try_get::<Option<i64>, _>(0)? else {
            return Ok(Default::default());
        };
        let key = self.keys.data_key(&self.pool, key_id).await?;
        records::open(&key, super::TABLE, id, &row, |f| matches!(f.column, "email" | "name" | "handle"))
    }
}

fn add(found: &mut Found, kind: RecordKind, id: i64, customer_id: i64, on: &'static str) {
    let entry = found.entry((kind, id)).or_insert((customer_id, Vec::new()));
    if !entry.1.contains(&on) {
        entry.1.push(on);
    }
}
