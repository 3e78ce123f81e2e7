//! Invoices: each has its own data key, so its billing snapshot outlives the
//! customer's erasure and is destroyed with the invoice itself (A6). Payments
//! and credit notes are in `payments.rs`, the bulk import in `import.rs` and
//! the files it reads in `source.rs`, delivery by post in `post.rs` and by
//! e-mail in `email.rs`.

use custodian_domain::model::{
    BillingSnapshot, CustomerData, Delivery, Fields, InvoiceAmounts, InvoiceData, InvoiceLine, InvoiceState, Text,
    format_date,
};
use custodian_domain::policy::{Action, Principal, Resource};
use serde::Serialize;
use sqlx::{Any, Transaction};

use crate::audit::{Access, Event};
use crate::crypto::field_aad;
use crate::permit;
use crate::records::{self, placeholders};
use crate::rows::{Bind, Get, Reader};
use crate::{Store, StoreError, now_micros};

mod email;
mod import;
mod list;
mod payments;
mod post;
mod source;

pub use email::{InvoiceRecipient, NotByEmail};
pub use import::{ImportProblem, ImportSummary, LineReport, Outcome};
pub use list::{InvoicePage, Standing, StandingCount};
pub use payments::{CreditNote, NewCreditNote, Payment, PaymentRecord, Settlement};
pub use source::{ImportInvoice, Rejected, SourceFormat, invoice_from_json, json_lines, read_source};

const TABLE: &str = "invoices";

#[derive(Debug, Clone, Serialize)]
pub struct InvoiceRecord {
    pub id: i64,
    pub customer_id: i64,
    pub number: String,
    pub issued_on: String,
    pub due_on: String,
    /// The day nothing was due any more: payments, with any credit notes,
    /// covered the total (a credit note: its own date).
    pub paid_on: Option<String>,
    pub delivery: String,
    pub net_cents: i64,
    pub vat_cents: i64,
    pub total_cents: i64,
    /// On a credit note, the number of the invoice it credits.
    pub credit_for: Option<String>,
    pub paid_cents: i64,
    /// The totals of the credit notes naming this invoice (zero or negative).
    pub credited_cents: i64,
    pub outstanding_cents: i64,
    pub state: InvoiceState,
    pub billing: Fields,
    pub lines: Vec<LineRecord>,
    /// Empty in lists of headers.
    pub payments: Vec<PaymentRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineRecord {
    pub position: i64,
    pub description: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub vat_rate_bp: i64,
}

fn line_aad(key_id: i64, position: i64) -> Vec<u8> {
    field_aad("invoice_lines", key_id, &format!("description/{position}"))
}

/// The invoice-level parameters a caller gives; billing details come from the customer.
pub struct NewInvoice {
    pub number: String,
    pub issued_on: time::Date,
    pub due_on: time::Date,
    pub delivery: Delivery,
    pub lines: Vec<InvoiceLine>,
}

impl Store {
    /// Issues an invoice: snapshots the customer's billing details under a new
    /// invoice key, computes the totals, and stores the lines.
    pub async fn add_invoice(&self, access: &Access, customer_id: i64, new: NewInvoice) -> Result<i64, StoreError> {
        permit::require_on(access, customer_id, Resource::Invoices, Action::Write)?;
        let number = Text::parse(&new.number).map_err(|e| custodian_domain::model::FieldErrors::single("number", e))?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let customer = self.customer_data(&mut tx, customer_id).await?;
        let invoice = InvoiceData {
            number,
            issued_on: new.issued_on,
            due_on: new.due_on,
            delivery: new.delivery,
            lines: new.lines,
            billing: BillingSnapshot::of(&customer, new.delivery)?,
        };
        invoice.check()?;
        refuse_taken(&mut tx, invoice.number.as_str()).await?;
        let id = self.insert_invoice(&mut tx, customer_id, &invoice, None, &[]).await?;
        crate::audit::append(&mut tx, &[self.created_event(access, customer_id)]).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The customer's record, opened whole: what a billing snapshot is taken from.
    pub(crate) async fn customer_data(
        &self,
        tx: &mut Transaction<'static, Any>,
        customer_id: i64,
    ) -> Result<CustomerData, StoreError> {
        let (head, row) = self.load_customer_row(&mut **tx, customer_id).await?;
        let key_id = head.live_key_id()?;
        let key = self.keys.data_key(&mut **tx, key_id).await?;
        Ok(CustomerData::from_fields(head.kind, &records::open(&key, "customers", key_id, &row, |_| true)?)?)
    }

    /// The audit entry of a new invoice or credit note: the fields it holds.
    pub(crate) fn created_event(&self, access: &Access, customer_id: i64) -> Event {
        let fields = records::columns(TABLE).into_iter().chain(["description"]);
        let mut event = Event::new(access, "invoice.create", "customer", customer_id).fields(fields);
        self.keys.seal_source(&mut event, None);
        event
    }

    /// Writes a checked invoice (or credit note, with `credit_for`) under a new
    /// key, with its lines and `payments`; the caller audits and commits.
    pub(crate) async fn insert_invoice(
        &self,
        tx: &mut Transaction<'static, Any>,
        customer_id: i64,
        invoice: &InvoiceData,
        credit_for: Option<&str>,
        payments: &[Payment],
    ) -> Result<i64, StoreError> {
        let totals = invoice.totals();
        let paid_cents: i64 = payments.iter().map(|p| p.amount_cents).sum();
        let paid_on = match credit_for {
            Some(_) => Some(invoice.issued_on),
            None => payments::covered_on(
                invoice.issued_on,
                totals.total_cents,
                payments.iter().map(|p| (p.paid_on, p.amount_cents)).collect(),
            ),
        };
        let (key_id, key) = self.keys.new_data_key(tx).await?;
        let billing = invoice.billing.to_fields();
        // Made once: an import runs it for every invoice.
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            let cols = records::columns(TABLE);
            format!(
                "INSERT INTO invoices (customer_id, key_id, number, issued_on, due_on, delivery, net_cents, vat_cents, total_cents, created_at, credit_for, paid_cents, paid_on, {}) VALUES ({}) RETURNING id",
                cols.join(", "),
                placeholders(1, 13 + cols.len())
            )
        });
        let mut q = sqlx::query_scalar::<_, i64>(&SQL)
            .bind(customer_id)
            .bind(key_id)
            .bind(invoice.number.as_str())
            .bind(format_date(invoice.issued_on))
            .bind(format_date(invoice.due_on))
            .bind(invoice.delivery.as_str())
            .bind(totals.net_cents)
            .bind(totals.vat_cents)
            .bind(totals.total_cents)
            .bind(now_micros())
            .bind(credit_for)
            .bind(paid_cents)
            .bind(paid_on.map(format_date));
        for v in records::seal(&key, TABLE, key_id, &billing) {
            q = q.bind(v);
        }
        let id = q.fetch_one(&mut **tx).await?;
        for (i, line) in invoice.lines.iter().enumerate() {
            let position = i as i64 + 1;
            sqlx::query(
                "INSERT INTO invoice_lines (invoice_id, position, quantity, unit_price_cents, vat_rate_bp, description) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(position)
            .bind(line.quantity)
            .bind(line.unit_price_cents)
            .bind(line.vat_rate_bp)
            .bind(key.seal(&line_aad(key_id, position), line.description.as_str().as_bytes()))
            .execute(&mut **tx)
            .await?;
        }
        for p in payments {
            payments::insert_payment(tx, id, p).await?;
        }
        Ok(id)
    }

    /// The invoices of a customer with their billing snapshot and lines. Audited
    /// unless the customer reads their own.
    pub async fn read_invoices(&self, access: &Access, customer_id: i64) -> Result<Vec<InvoiceRecord>, StoreError> {
        permit::require_on(access, customer_id, Resource::Invoices, Action::Read)?;
        let mut reader = self.reader().await?;
        let invoices = self.invoices_of(&mut reader, customer_id, access.actor.principal(), Detail::Full).await?;
        // The audit writer needs a connection of its own.
        drop(reader);
        if invoices.is_empty() {
            // None, or no such customer: only the latter is not found.
            self.load_customer_row(&self.pool, customer_id).await?;
        }
        if !access.actor.is_subject(customer_id) && !invoices.is_empty() {
            let mut event = Event::new(access, "invoice.read", "customer", customer_id)
                .fields(records::columns(TABLE).into_iter().chain(["description"]));
            self.keys.seal_source(&mut event, None);
            self.record(event).await?;
        }
        Ok(invoices)
    }

    /// The invoices of a customer as `who` may see them, read on `conn`. With
    /// [`Detail::Headers`] the billing snapshot and lines stay sealed and unread
    /// (`billing` and `lines` are empty): what a list of invoices shows.
    pub(crate) async fn invoices_of(
        &self,
        reader: &mut Reader,
        customer_id: i64,
        who: Principal,
        detail: Detail,
    ) -> Result<Vec<InvoiceRecord>, StoreError> {
        self.invoices_in(reader, Scope::Customer(customer_id), who, detail).await
    }

    /// The invoices in `scope`, as [`Store::invoices_of`] reads them.
    pub(crate) async fn invoices_in(
        &self,
        reader: &mut Reader,
        scope: Scope,
        who: Principal,
        detail: Detail,
    ) -> Result<Vec<InvoiceRecord>, StoreError> {
        // Made once each: the headers are read on every dashboard.
        static SQL: std::sync::LazyLock<[String; 3]> = std::sync::LazyLock::new(|| {
            let sealed = format!(", {}", records::columns(TABLE).join(", "));
            let select = |sealed: &str, filter: &str| {
                format!("SELECT {HEADER_COLUMNS}{sealed} FROM invoices WHERE {filter} ORDER BY issued_on, id")
            };
            [select("", "customer_id = $1"), select(&sealed, "customer_id = $1"), select(&sealed, "id = $1")]
        });
        let (sql, lines_of) = match (scope, detail) {
            (Scope::Customer(_), Detail::Headers) => (&SQL[0], ""),
            (Scope::Customer(_), Detail::Full | Detail::Document) => {
                (&SQL[1], "IN (SELECT id FROM invoices WHERE customer_id = $1)")
            }
            (Scope::One(_), _) => (&SQL[2], "= $1"),
        };
        let by = [Bind::Int(match scope {
            Scope::Customer(id) | Scope::One(id) => id,
        })];
        let rows = reader.all(sql, &by).await?;
        let full = detail != Detail::Headers || matches!(scope, Scope::One(_));
        // Every line and payment of every invoice in one statement each, grouped by invoice below.
        let (line_rows, payment_rows) = match full {
            true => {
                let lines = format!(
                    "SELECT invoice_id, position, quantity, unit_price_cents, vat_rate_bp, description FROM invoice_lines
                     WHERE invoice_id {lines_of} ORDER BY invoice_id, position"
                );
                let payments = format!(
                    "SELECT invoice_id, paid_on, amount_cents FROM invoice_payments
                     WHERE invoice_id {lines_of} ORDER BY invoice_id, paid_on, id"
                );
                (reader.all(&lines, &by).await?, reader.all(&payments, &by).await?)
            }
            false => (vec![], vec![]),
        };
        let today = time::OffsetDateTime::now_utc().date();
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut invoice = header(r, today)?;
            if full {
                let id = invoice.id;
                let key_id: i64 = r.col("key_id")?;
                let key = reader.data_key(&self.keys, &self.pool, key_id).await?;
                for l in line_rows.iter().filter(|l| l.col::<i64>("invoice_id").is_ok_and(|i| i == id)) {
                    let position: i64 = l.col("position")?;
                    let sealed: Vec<u8> = l.col("description")?;
                    let plain = key.open(&line_aad(key_id, position), &sealed)?;
                    invoice.lines.push(LineRecord {
                        position,
                        description: String::from_utf8_lossy(&plain).into_owned(),
                        quantity: l.col("quantity")?,
                        unit_price_cents: l.col("unit_price_cents")?,
                        vat_rate_bp: l.col("vat_rate_bp")?,
                    });
                }
                let readable = permit::readable_by(who);
                let document = detail == Detail::Document;
                invoice.billing = records::open(&key, TABLE, key_id, r, |f| document || readable(f))?;
                for p in payment_rows.iter().filter(|p| p.col::<i64>("invoice_id").is_ok_and(|i| i == id)) {
                    invoice
                        .payments
                        .push(PaymentRecord { paid_on: p.col("paid_on")?, amount_cents: p.col("amount_cents")? });
                }
            }
            out.push(invoice);
        }
        Ok(out)
    }
}

/// The columns of an invoice that hold no personal data: what [`header`] reads.
pub(crate) const HEADER_COLUMNS: &str = "id, customer_id, number, issued_on, due_on, paid_on, delivery, net_cents, vat_cents, total_cents, credit_for, paid_cents, credited_cents, key_id";

/// An invoice's header from a row holding [`HEADER_COLUMNS`]: its state as of
/// `today`, with the billing snapshot, lines and payments left empty.
pub(crate) fn header(r: &impl Get, today: time::Date) -> Result<InvoiceRecord, StoreError> {
    // Read in the order of HEADER_COLUMNS: a native row finds each column where the last one ended.
    let id: i64 = r.col("id")?;
    let customer_id: i64 = r.col("customer_id")?;
    let number: String = r.col("number")?;
    let issued_on: String = r.col("issued_on")?;
    let due_on: String = r.col("due_on")?;
    let paid_on: Option<String> = r.col("paid_on")?;
    let delivery: String = r.col("delivery")?;
    let net_cents: i64 = r.col("net_cents")?;
    let vat_cents: i64 = r.col("vat_cents")?;
    let total_cents: i64 = r.col("total_cents")?;
    let credit_for: Option<String> = r.col("credit_for")?;
    let amounts = InvoiceAmounts {
        total_cents,
        paid_cents: r.col("paid_cents")?,
        credited_cents: r.col("credited_cents")?,
        credit_note: credit_for.is_some(),
    };
    let due = custodian_domain::model::parse_date(&due_on)
        .map_err(|_| StoreError::Corrupt(format!("invoice {id} has an unreadable due date")))?;
    Ok(InvoiceRecord {
        id,
        customer_id,
        number,
        issued_on,
        due_on,
        paid_on,
        delivery,
        net_cents,
        vat_cents,
        total_cents,
        credit_for,
        paid_cents: amounts.paid_cents,
        credited_cents: amounts.credited_cents,
        outstanding_cents: amounts.outstanding_cents(),
        state: InvoiceState::of(amounts, due, today),
        billing: Fields::new(),
        lines: vec![],
        payments: vec![],
    })
}

/// Which invoices [`Store::invoices_in`] reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    /// Every invoice of this customer.
    Customer(i64),
    /// This one invoice, always in full.
    One(i64),
}

/// How much of an invoice [`Store::invoices_of`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    /// Everything: the billing snapshot and the lines, decrypted.
    Full,
    /// Number, dates, amounts and delivery: no personal data, nothing decrypted.
    Headers,
    /// Everything, every billing field whoever reads: what a document sent
    /// out shows (for those who may deliver invoices).
    Document,
}

/// Refuses an invoice number that is taken (by an invoice or a credit note).
pub(crate) async fn refuse_taken(tx: &mut Transaction<'static, Any>, number: &str) -> Result<(), StoreError> {
    let taken: Option<i64> =
        sqlx::query_scalar("SELECT id FROM invoices WHERE number = $1").bind(number).fetch_optional(&mut **tx).await?;
    match taken {
        Some(_) => Err(StoreError::Refused(crate::Refusal::InvoiceNumberTaken)),
        None => Ok(()),
    }
}
