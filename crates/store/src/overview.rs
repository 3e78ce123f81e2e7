//! The customer's dashboard in one statement: the customer row, its wrapped
//! data key, and its contacts, services, statute acceptances and invoice
//! headers aggregated as JSON arrays in the same SELECT.
//!
//! The dashboard is the portal's most visited page and, with many distinct
//! customers, mostly not in the read cache. Read as separate statements it cost
//! a round trip each on PostgreSQL; aggregated it costs one, and on either
//! engine the parts come from one snapshot. Sealed columns travel as hex (JSON
//! holds no bytes); the rows inside each array decode through the same [`Get`]
//! decoders as rows read on their own.

use std::sync::LazyLock;

use custodian_domain::policy::{Action, Principal, Resource};

use crate::db::Engine;
use crate::invoices::HEADER_COLUMNS;
use crate::related::{contact_record, service_record, statute_acceptance};
use crate::rows::{Bind, Get, Value};
use crate::{ContactRecord, InvoiceRecord, ServiceRecord, StatuteAcceptance, Store, StoreError, records};

/// What the dashboard shows, opened for its reader.
pub(crate) struct Overview {
    pub head: crate::customers::Head,
    pub key: crate::Key,
    pub fields: custodian_domain::model::Fields,
    pub contacts: Vec<ContactRecord>,
    pub services: Vec<ServiceRecord>,
    pub statute_acceptances: Vec<StatuteAcceptance>,
    /// `None` when the reader may not see invoices.
    pub invoices: Option<Vec<InvoiceRecord>>,
}

/// One part of the statement: a JSON array of the rows of `table` that belong
/// to the customer, each an object of `columns` (plain) and `sealed` (as hex).
struct Part {
    alias: &'static str,
    table: &'static str,
    columns: Vec<&'static str>,
    sealed: Vec<&'static str>,
    order: &'static str,
}

fn parts() -> [Part; 4] {
    [
        Part {
            alias: "contacts_json",
            table: "contacts",
            columns: vec!["id", "registry", "status", "passthrough"],
            sealed: records::columns("contacts"),
            order: "id",
        },
        Part {
            alias: "services_json",
            table: "services",
            columns: vec!["id", "kind", "status", "started_on", "ended_on", "for_third_party"],
            sealed: vec!["description"],
            order: "id",
        },
        Part {
            alias: "statutes_json",
            table: "statute_acceptances",
            columns: vec!["version", "accepted_at", "recorded_by"],
            sealed: vec![],
            order: "accepted_at",
        },
        Part {
            alias: "invoices_json",
            table: "invoices",
            columns: HEADER_COLUMNS.split(", ").collect(),
            sealed: vec![],
            order: "issued_on, id",
        },
    ]
}

/// The statement for `engine`: the same shape, spelled in each one's JSON
/// functions. SQLite's `hex(NULL)` is `''`, hence the `nullif`; PostgreSQL's
/// `json` is returned as text, which both drivers read.
fn sql(engine: Engine) -> String {
    let object = match engine {
        Engine::Sqlite => "json_object",
        Engine::Postgres => "json_build_object",
    };
    let aggregate = |o: &str, order: &str| match engine {
        Engine::Sqlite => format!("json_group_array({o} ORDER BY {order})"),
        Engine::Postgres => format!("json_agg({o} ORDER BY {order})::text"),
    };
    let hex = |c: &str| match engine {
        Engine::Sqlite => format!("nullif(hex({c}), '')"),
        Engine::Postgres => format!("encode({c}, 'hex')"),
    };
    let arrays = parts().map(|p| {
        let pairs: Vec<String> = p
            .columns
            .iter()
            .map(|c| format!("'{c}', {c}"))
            .chain(p.sealed.iter().map(|c| format!("'{c}', {}", hex(c))))
            .collect();
        let object = format!("{object}({})", pairs.join(", "));
        format!("(SELECT {} FROM {} WHERE customer_id = c.id) AS {}", aggregate(&object, p.order), p.table, p.alias)
    });
    let customer: Vec<String> = ["id", "kind", "status", "key_id", "entered_by", "created_at", "updated_at"]
        .into_iter()
        .chain(records::columns("customers"))
        .map(|c| format!("c.{c}"))
        .collect();
    format!(
        "SELECT {}, (SELECT wrapped FROM data_keys WHERE id = c.key_id) AS wrapped_key, {} FROM customers c WHERE c.id = $1",
        customer.join(", "),
        arrays.join(", ")
    )
}

fn statement(engine: Engine) -> &'static str {
    static SQLITE: LazyLock<String> = LazyLock::new(|| sql(Engine::Sqlite));
    static POSTGRES: LazyLock<String> = LazyLock::new(|| sql(Engine::Postgres));
    match engine {
        Engine::Sqlite => &SQLITE,
        Engine::Postgres => &POSTGRES,
    }
}

/// An object of one of the statement's JSON arrays, read like a row.
struct JsonRow(serde_json::Map<String, serde_json::Value>);

impl Get for JsonRow {
    fn col<T: Value>(&self, name: &str) -> Result<T, StoreError> {
        let value = self.0.get(name).ok_or_else(|| corrupt(name, "no such member"))?;
        T::from_json(value).ok_or_else(|| corrupt(name, "unexpected type"))
    }
}

fn corrupt(name: &str, what: &str) -> StoreError {
    StoreError::Db(sqlx::Error::Decode(format!("overview member {name}: {what}").into()))
}

/// The objects of the JSON array in column `alias` (NULL when there are none).
fn rows_of(r: &impl Get, alias: &str) -> Result<Vec<JsonRow>, StoreError> {
    let Some(text) = r.col::<Option<String>>(alias)? else { return Ok(vec![]) };
    let items: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&text).map_err(|e| corrupt(alias, &e.to_string()))?;
    Ok(items.into_iter().map(JsonRow).collect())
}

impl Store {
    /// Customer `id`'s overview for `who` in one statement (see the module).
    /// The caller checks the policy and audits.
    pub(crate) async fn read_overview(
        &self,
        id: i64,
        who: Principal,
        readable: impl Fn(&custodian_domain::inventory::Field) -> bool,
    ) -> Result<Overview, StoreError> {
        let mut reader = self.reader().await?;
        let row = reader
            .optional(statement(self.engine), &[Bind::Int(id)])
            .await?
            .ok_or(StoreError::NotFound { kind: "customer", id: id.to_string() })?;
        drop(reader);
        let head = crate::customers::head(&row)?;
        let key_id = head.live_key_id()?;
        let key = self.keys.data_key_from(key_id, row.col("wrapped_key")?)?;
        let fields = records::open(&key, "customers", key_id, &row, readable)?;
        let contacts = rows_of(&row, "contacts_json")?
            .iter()
            .map(|r| contact_record(r, id, &key, who))
            .collect::<Result<_, _>>()?;
        let services = rows_of(&row, "services_json")?
            .iter()
            .map(|r| service_record(r, id, &key, who))
            .collect::<Result<_, _>>()?;
        let statute_acceptances =
            rows_of(&row, "statutes_json")?.iter().map(statute_acceptance).collect::<Result<_, _>>()?;
        let invoices = match custodian_domain::policy::allows(who, Resource::Invoices, Action::Read) {
            true => {
                let today = time::OffsetDateTime::now_utc().date();
                let rows = rows_of(&row, "invoices_json")?;
                Some(rows.iter().map(|r| crate::invoices::header(r, today)).collect::<Result<_, _>>()?)
            }
            false => None,
        };
        Ok(Overview { head, key, fields, contacts, services, statute_acceptances, invoices })
    }
}
