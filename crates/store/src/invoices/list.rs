//! The bookkeeper's view of the books: invoice headers across all customers by
//! where they stand, how many stand where, and one invoice in full.
//!
//! A list reads headers only (number, dates, amounts, delivery): nothing is
//! decrypted, so nothing is audited. Opening one invoice reads its billing
//! snapshot and lines and is audited like any other read of a customer's
//! invoices.

use custodian_domain::model::format_date;
use custodian_domain::policy::{Action, Resource};
use serde::Serialize;

use super::{Detail, HEADER_COLUMNS, InvoiceRecord, Scope, TABLE, header};
use crate::audit::{Access, Event};
use crate::{Store, StoreError, permit, records};

/// Where an invoice stands, as the bookkeeper filters them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Something is due, the due date has not passed.
    Open,
    /// Something is due and the due date has passed.
    Overdue,
    /// Paid in full (with any partial credit).
    Paid,
    /// Cancelled in full by credit notes.
    Credited,
    /// The credit notes themselves.
    CreditNotes,
    All,
}

/// Conditions on an invoice's own row: cancelled by credit notes, and something still due.
const CREDITED: &str = "credit_for IS NULL AND credited_cents <> 0 AND total_cents + credited_cents <= 0";
const DUE: &str = "credit_for IS NULL AND NOT (credited_cents <> 0 AND total_cents + credited_cents <= 0) AND total_cents + credited_cents - paid_cents > 0";

impl Standing {
    pub const ALL: [Standing; 6] =
        [Standing::Open, Standing::Overdue, Standing::Paid, Standing::Credited, Standing::CreditNotes, Standing::All];

    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Open => "open",
            Standing::Overdue => "overdue",
            Standing::Paid => "paid",
            Standing::Credited => "credited",
            Standing::CreditNotes => "credit_notes",
            Standing::All => "all",
        }
    }

    pub fn parse(s: &str) -> Option<Standing> {
        Standing::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The SQL condition that [`custodian_domain::model::InvoiceState::of`]
    /// agrees with. `today` is written in as a literal: it is a date we
    /// formatted ourselves, digits and hyphens only.
    fn condition(self, today: time::Date) -> String {
        let today = format_date(today);
        match self {
            Standing::Open => format!("{DUE} AND due_on >= '{today}'"),
            Standing::Overdue => format!("{DUE} AND due_on < '{today}'"),
            Standing::Paid => {
                format!("credit_for IS NULL AND NOT ({CREDITED}) AND total_cents + credited_cents - paid_cents <= 0")
            }
            Standing::Credited => CREDITED.into(),
            Standing::CreditNotes => "credit_for IS NOT NULL".into(),
            Standing::All => "1 = 1".into(),
        }
    }
}

/// One page of a list, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct InvoicePage {
    pub invoices: Vec<InvoiceRecord>,
    /// Pass as `before` for the next page; `None` on the last.
    pub next: Option<i64>,
}

/// How many invoices stand where, and what is still to be paid on them.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StandingCount {
    pub standing: Standing,
    pub count: i64,
    pub outstanding_cents: i64,
}

impl Store {
    /// Invoice headers of every customer that stand as `standing`, newest
    /// first, `limit` at a time, starting below invoice `before`.
    pub async fn list_invoices(
        &self,
        access: &Access,
        standing: Standing,
        before: Option<i64>,
        limit: u32,
    ) -> Result<InvoicePage, StoreError> {
        permit::require(access, Resource::Invoices, Action::Read)?;
        let limit = limit.clamp(1, 500);
        let today = time::OffsetDateTime::now_utc().date();
        let sql = format!(
            "SELECT {HEADER_COLUMNS} FROM invoices WHERE {} AND id < $1 ORDER BY id DESC LIMIT $2",
            standing.condition(today)
        );
        let rows =
            sqlx::query(&sql).bind(before.unwrap_or(i64::MAX)).bind(i64::from(limit) + 1).fetch_all(&self.pool).await?;
        let mut invoices = rows.iter().map(|r| header(r, today)).collect::<Result<Vec<_>, _>>()?;
        let next = match invoices.len() > limit as usize {
            true => {
                invoices.truncate(limit as usize);
                invoices.last().map(|i| i.id)
            }
            false => None,
        };
        Ok(InvoicePage { invoices, next })
    }

    /// How many invoices stand where, in the order of [`Standing::ALL`].
    pub async fn count_invoices(&self, access: &Access) -> Result<Vec<StandingCount>, StoreError> {
        permit::require(access, Resource::Invoices, Action::Read)?;
        let today = time::OffsetDateTime::now_utc().date();
        let mut out = Vec::with_capacity(Standing::ALL.len());
        for standing in Standing::ALL {
            let sql = format!(
                "SELECT COUNT(*), CAST(COALESCE(SUM(total_cents + credited_cents - paid_cents), 0) AS BIGINT) FROM invoices WHERE {}",
                standing.condition(today)
            );
            let (count, outstanding): (i64, i64) = sqlx::query_as(&sql).fetch_one(&self.pool).await?;
            let outstanding_cents = match standing {
                Standing::Open | Standing::Overdue => outstanding,
                _ => 0,
            };
            out.push(StandingCount { standing, count, outstanding_cents });
        }
        Ok(out)
    }

    /// One invoice with its billing snapshot, lines and payments. Audited
    /// unless the customer reads their own; `None` when there is no such invoice.
    pub async fn read_invoice(&self, access: &Access, id: i64) -> Result<Option<InvoiceRecord>, StoreError> {
        permit::require(access, Resource::Invoices, Action::Read)?;
        let customer: Option<i64> = sqlx::query_scalar("SELECT customer_id FROM invoices WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(customer_id) = customer else { return Ok(None) };
        permit::require_on(access, customer_id, Resource::Invoices, Action::Read)?;
        let mut reader = self.reader().await?;
        let invoice = self.invoices_in(&mut reader, Scope::One(id), access.actor.principal(), Detail::Full).await?;
        drop(reader);
        let Some(invoice) = invoice.into_iter().next() else { return Ok(None) };
        if !access.actor.is_subject(customer_id) {
            let mut event = Event::new(access, "invoice.read", "customer", customer_id)
                .fields(records::columns(TABLE).into_iter().chain(["description"]));
            self.keys.seal_source(&mut event, None);
            self.record(event).await?;
        }
        Ok(Some(invoice))
    }

    /// The id of the invoice numbered `number`, for those who may read invoices.
    pub async fn invoice_id(&self, access: &Access, number: &str) -> Result<Option<i64>, StoreError> {
        permit::require(access, Resource::Invoices, Action::Read)?;
        Ok(sqlx::query_scalar("SELECT id FROM invoices WHERE number = $1")
            .bind(number)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The number of invoice `id`, for those who may read invoices.
    pub async fn invoice_number(&self, access: &Access, id: i64) -> Result<Option<String>, StoreError> {
        permit::require(access, Resource::Invoices, Action::Read)?;
        Ok(sqlx::query_scalar("SELECT number FROM invoices WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
    }

    /// The invoice headers of one customer (number, dates, amounts, standing:
    /// nothing decrypted, so not audited), oldest first.
    pub async fn invoice_headers(&self, access: &Access, customer_id: i64) -> Result<Vec<InvoiceRecord>, StoreError> {
        permit::require_on(access, customer_id, Resource::Invoices, Action::Read)?;
        let mut reader = self.reader().await?;
        self.invoices_in(&mut reader, Scope::Customer(customer_id), access.actor.principal(), Detail::Headers).await
    }
}
