//! Customers: create, read (audited), update, find through blind indexes.

use custodian_domain::model::{CustomerData, CustomerKind, Fields, search_words};
use custodian_domain::policy::{Action, Resource};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::audit::{Access, Event};
use crate::crypto::Key;
use crate::permit;
use crate::records::{self, assignments, placeholders};
use crate::rows::Get;
use crate::{Store, StoreError, now_micros};

const TABLE: &str = "customers";

/// What the store returns about a customer: the non-personal facts and the
/// personal fields the reader's role may see (the others are listed as withheld).
#[derive(Debug, Clone, Serialize)]
pub struct CustomerRecord {
    pub id: i64,
    pub kind: CustomerKind,
    pub status: String,
    /// Set when staff created the record on the customer's behalf (M2).
    pub entered_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub fields: Fields,
    pub withheld: Vec<&'static str>,
}

impl CustomerRecord {
    /// The typed customer; only works when no field was withheld.
    pub fn data(&self) -> Result<CustomerData, StoreError> {
        if !self.withheld.is_empty() {
            return Err(StoreError::Denied(crate::Denial {
                resource: custodian_domain::policy::Resource::Customers,
                action: custodian_domain::policy::Action::Read,
                fields: self.withheld.clone(),
                purpose: false,
            }));
        }
        Ok(CustomerData::from_fields(self.kind, &self.fields)?)
    }
}

/// A customer without personal data, for lists.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerSummary {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub created_at: i64,
}

/// Sizes for monitoring; no personal data.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StoreCounts {
    pub active_customers: i64,
    pub erased_customers: i64,
    pub audit_entries: i64,
}

/// Exact-match lookups through keyed blind indexes: no record is decrypted.
#[derive(Debug, Clone)]
pub enum Lookup {
    Email(custodian_domain::validate::Email),
    Kvk(custodian_domain::validate::Kvk),
    /// One whole word of a company or contact name.
    NameWord(String),
}

pub(crate) fn email_index(index: &Key, email: &str) -> Vec<u8> {
    index.blind_index("email", &email.to_lowercase())
}

/// The non-personal part of a stored customer row.
pub(crate) struct Head {
    pub id: i64,
    pub kind: CustomerKind,
    pub status: String,
    pub key_id: Option<i64>,
    pub entered_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Head {
    pub(crate) fn live_key_id(&self) -> Result<i64, StoreError> {
        match (self.status.as_str(), self.key_id) {
            ("active", Some(k)) => Ok(k),
            _ => Err(StoreError::Erased(format!("customer {} has been erased", self.id))),
        }
    }
}

/// One customer by ID, with every sealed column (made once: a hot read).
pub(crate) fn select_sql() -> &'static str {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT id, kind, status, key_id, entered_by, created_at, updated_at, {} FROM customers WHERE id = $1",
            records::columns(TABLE).join(", ")
        )
    });
    &SQL
}

pub(crate) fn head(r: &impl Get) -> Result<Head, StoreError> {
    let kind: String = r.col("kind")?;
    Ok(Head {
        id: r.col("id")?,
        kind: CustomerKind::parse(&kind)
            .map_err(|e| StoreError::Corrupt(format!("stored customer kind: {}", e.rule)))?,
        status: r.col("status")?,
        key_id: r.col("key_id")?,
        entered_by: r.col("entered_by")?,
        created_at: r.col("created_at")?,
        updated_at: r.col("updated_at")?,
    })
}

impl Store {
    /// Creates a customer. `on_behalf` marks a record entered by staff for the
    /// customer (M2); the actor is kept as `entered_by`.
    pub async fn create_customer(
        &self,
        access: &Access,
        data: &CustomerData,
        on_behalf: bool,
    ) -> Result<i64, StoreError> {
        permit::require(access, Resource::Customers, Action::Write)?;
        permit::require_writes(access, TABLE, data.to_fields().keys())?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let id = self.insert_customer(&mut tx, access, data, on_behalf).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Inserts many customers in one transaction (used by the importer).
    pub async fn create_customers(&self, access: &Access, batch: &[CustomerData]) -> Result<Vec<i64>, StoreError> {
        permit::require(access, Resource::Import, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let mut ids = Vec::with_capacity(batch.len());
        for data in batch {
            ids.push(self.insert_customer(&mut tx, access, data, false).await?);
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn insert_customer(
        &self,
        tx: &mut Transaction<'static, Any>,
        access: &Access,
        data: &CustomerData,
        on_behalf: bool,
    ) -> Result<i64, StoreError> {
        let (key_id, key) = self.keys.new_data_key(tx).await?;
        let fields = data.to_fields();
        let cols = records::columns(TABLE);
        let sealed = records::seal(&key, TABLE, key_id, &fields);
        let sql = format!(
            "INSERT INTO customers (kind, status, key_id, entered_by, created_at, updated_at, email_bidx, kvk_bidx, {}) VALUES ({}) RETURNING id",
            cols.join(", "),
            placeholders(1, 8 + cols.len())
        );
        let now = now_micros();
        let entered_by = on_behalf.then(|| access.actor.reference());
        let mut q = sqlx::query_scalar::<_, i64>(&sql)
            .bind(data.kind.as_str())
            .bind("active")
            .bind(key_id)
            .bind(entered_by)
            .bind(now)
            .bind(now)
            .bind(email_index(&self.keys.index, data.email.as_str()))
            .bind(data.kvk.as_ref().map(|k| self.keys.index.blind_index("kvk", k.as_str())));
        for v in sealed {
            q = q.bind(v);
        }
        let id = q.fetch_one(&mut **tx).await?;
        self.write_name_words(tx, id, data).await?;
        let mut event = Event::new(access, "customer.create", "customer", id).fields(fields.keys());
        self.keys.seal_source(&mut event, Some(&key));
        crate::audit::append(tx, &[event]).await?;
        Ok(id)
    }

    async fn write_name_words(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: i64,
        data: &CustomerData,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM customer_name_words WHERE customer_id = $1").bind(id).execute(&mut **tx).await?;
        let words = data.name_words();
        if words.is_empty() {
            return Ok(());
        }
        let values = (0..words.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect::<Vec<_>>();
        let sql = format!("INSERT INTO customer_name_words (customer_id, word) VALUES {}", values.join(", "));
        let mut q = sqlx::query(&sql);
        for w in &words {
            q = q.bind(id).bind(self.keys.index.blind_index("name", w));
        }
        q.execute(&mut **tx).await?;
        Ok(())
    }

    pub(crate) async fn load_customer_row<'e, E>(&self, executor: E, id: i64) -> Result<(Head, AnyRow), StoreError>
    where
        E: sqlx::Executor<'e, Database = Any>,
    {
        let row = sqlx::query(select_sql())
            .bind(id)
            .fetch_optional(executor)
            .await?
            .ok_or(StoreError::NotFound { kind: "customer", id: id.to_string() })?;
        Ok((head(&row)?, row))
    }

    /// Reads a customer. Anyone but the customer themselves leaves an audit entry
    /// naming the fields shown; it is committed before this returns.
    pub async fn read_customer(&self, access: &Access, id: i64) -> Result<CustomerRecord, StoreError> {
        permit::require_record(access, id, TABLE)?;
        let (head, row) = self.load_customer_row(&self.pool, id).await?;
        let key_id = head.live_key_id()?;
        let key = self.keys.data_key(&self.pool, key_id).await?;
        let fields = records::open(&key, TABLE, key_id, &row, permit::readable(access))?;
        let withheld = permit::withheld(access, TABLE);
        if !access.actor.is_subject(id) {
            let mut event = Event::new(access, "customer.read", "customer", id).fields(fields.keys());
            self.keys.seal_source(&mut event, Some(&key));
            self.record(event).await?;
        }
        Ok(CustomerRecord {
            id,
            kind: head.kind,
            status: head.status,
            entered_by: head.entered_by,
            created_at: head.created_at,
            updated_at: head.updated_at,
            fields,
            withheld,
        })
    }

    /// Applies `changes` (field → new value; an empty value clears the field;
    /// a field not named stays as it is). Refused whole when it names a field
    /// the actor may not change. All fields are validated together; when any
    /// is invalid nothing is stored. Returns the names of the fields that
    /// changed, of those the actor may read.
    pub async fn update_customer(&self, access: &Access, id: i64, changes: &Fields) -> Result<Vec<String>, StoreError> {
        permit::require_record(access, id, TABLE)?;
        permit::require_writes(access, TABLE, changes.keys())?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (head, row) = self.load_customer_row(&mut *tx, id).await?;
        let key_id = head.live_key_id()?;
        let key = self.keys.data_key(&mut *tx, key_id).await?;
        let current = records::open(&key, TABLE, key_id, &row, |_| true)?;
        let mut merged = current.clone();
        for (k, v) in changes {
            if v.trim().is_empty() {
                merged.remove(k);
            } else {
                merged.insert(k.clone(), v.clone());
            }
        }
        let data = CustomerData::from_fields(head.kind, &merged)?;
        let normalised = data.to_fields();
        let changed: Vec<String> = records::columns(TABLE)
            .into_iter()
            .filter(|c| current.get(*c) != normalised.get(*c))
            .map(String::from)
            .collect();
        // Normalising may touch a field nobody named (never one the actor may
        // not change: those are refused above, and the rest stay as stored).
        let refused: Vec<&String> = changed.iter().filter(|c| !changes.contains_key(*c)).collect();
        permit::require_writes(access, TABLE, refused)?;
        if changed.is_empty() {
            return Ok(changed);
        }
        let cols = records::columns(TABLE);
        let sql = format!(
            "UPDATE customers SET updated_at = $1, email_bidx = $2, kvk_bidx = $3, {} WHERE id = ${}",
            assignments(4, &cols),
            4 + cols.len()
        );
        let mut q = sqlx::query(&sql)
            .bind(now_micros())
            .bind(email_index(&self.keys.index, data.email.as_str()))
            .bind(data.kvk.as_ref().map(|k| self.keys.index.blind_index("kvk", k.as_str())));
        for v in records::seal(&key, TABLE, key_id, &normalised) {
            q = q.bind(v);
        }
        q.bind(id).execute(&mut *tx).await?;
        self.write_name_words(&mut tx, id, &data).await?;
        let mut event = Event::new(access, "customer.update", "customer", id).fields(&changed);
        self.keys.seal_source(&mut event, Some(&key));
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        let readable = permit::readable(access);
        Ok(changed
            .into_iter()
            .filter(|c| custodian_domain::inventory::field(TABLE, c).is_some_and(&readable))
            .collect())
    }

    /// Customer numbers matching `lookup`. Decrypts nothing; the search is
    /// audited with its purpose and the kind of lookup (never the value), and
    /// the caller reads a match through [`Store::read_customer`], also audited.
    pub async fn find_customers(&self, access: &Access, lookup: &Lookup) -> Result<Vec<i64>, StoreError> {
        permit::require(access, Resource::Customers, Action::Read)?;
        let index = &self.keys.index;
        let (sql, value) = match lookup {
            Lookup::Email(e) => {
                ("SELECT id FROM customers WHERE email_bidx = $1 ORDER BY id", email_index(index, e.as_str()))
            }
            Lookup::Kvk(k) => {
                ("SELECT id FROM customers WHERE kvk_bidx = $1 ORDER BY id", index.blind_index("kvk", k.as_str()))
            }
            Lookup::NameWord(w) => {
                let word = search_words(w).into_iter().next().unwrap_or_default();
                (
                    "SELECT customer_id FROM customer_name_words WHERE word = $1 ORDER BY customer_id",
                    index.blind_index("name", &word),
                )
            }
        };
        let found: Vec<i64> = sqlx::query_scalar(sql).bind(value).fetch_all(&self.pool).await?;
        let by = match lookup {
            Lookup::Email(_) => "email",
            Lookup::Kvk(_) => "kvk",
            Lookup::NameWord(_) => "name",
        };
        let mut event = Event::new(access, "customer.search", "customers", found.len()).fields([by]);
        self.keys.seal_source(&mut event, None);
        self.record(event).await?;
        Ok(found)
    }

    pub async fn counts(&self) -> Result<StoreCounts, StoreError> {
        let active: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE status = 'active'").fetch_one(&self.pool).await?;
        let erased: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE status = 'erased'").fetch_one(&self.pool).await?;
        let audit: i64 = sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1").fetch_one(&self.pool).await?;
        Ok(StoreCounts { active_customers: active, erased_customers: erased, audit_entries: audit })
    }

    /// All customers, without personal data, in pages of `limit` after `after`.
    pub async fn list_customers(
        &self,
        access: &Access,
        after: i64,
        limit: i64,
    ) -> Result<Vec<CustomerSummary>, StoreError> {
        permit::require(access, Resource::Customers, Action::Read)?;
        let rows = sqlx::query("SELECT id, kind, status, created_at FROM customers WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CustomerSummary {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    status: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                })
            })
            .collect()
    }
}
