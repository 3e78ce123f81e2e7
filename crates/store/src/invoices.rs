//! Invoices: each has its own data key, so its billing snapshot outlives the
//! customer's erasure and is destroyed with the invoice itself (A6).

use custodian_domain::model::{BillingSnapshot, Delivery, Fields, InvoiceData, InvoiceLine, Text, format_date};
use custodian_domain::policy::{Action, Principal, Resource};
use serde::Serialize;

use crate::audit::{Access, Event};
use crate::crypto::field_aad;
use crate::permit;
use crate::records::{self, placeholders};
use crate::rows::{Bind, Get, Reader};
use crate::{Store, StoreError, now_micros};

const TABLE: &str = "invoices";

#[derive(Debug, Clone, Serialize)]
pub struct InvoiceRecord {
    pub id: i64,
    pub customer_id: i64,
    pub number: String,
    pub issued_on: String,
    pub due_on: String,
    pub paid_on: Option<String>,
    pub delivery: String,
    pub net_cents: i64,
    pub vat_cents: i64,
    pub total_cents: i64,
    pub billing: Fields,
    pub lines: Vec<LineRecord>,
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
        let (head, row) = self.load_customer_row(&mut *tx, customer_id).await?;
        let customer_key_id = head.live_key_id()?;
        let customer_key = self.keys.data_key(&mut *tx, customer_key_id).await?;
        let customer = custodian_domain::model::CustomerData::from_fields(
            head.kind,
            &records::open(&customer_key, "customers", customer_key_id, &row, |_| true)?,
        )?;
        let invoice = InvoiceData {
            number,
            issued_on: new.issued_on,
            due_on: new.due_on,
            delivery: new.delivery,
            lines: new.lines,
            billing: BillingSnapshot::of(&customer, new.delivery)?,
        };
        invoice.check()?;
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM invoices WHERE number = $1")
            .bind(invoice.number.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Refused(crate::Refusal::InvoiceNumberTaken));
        }
        let totals = invoice.totals();
        let (key_id, key) = self.keys.new_data_key(&mut tx).await?;
        let billing = invoice.billing.to_fields();
        let cols = records::columns(TABLE);
        let sql = format!(
            "INSERT INTO invoices (customer_id, key_id, number, issued_on, due_on, delivery, net_cents, vat_cents, total_cents, created_at, {}) VALUES ({}) RETURNING id",
            cols.join(", "),
            placeholders(1, 10 + cols.len())
        );
        let mut q = sqlx::query_scalar::<_, i64>(&sql)
            .bind(customer_id)
            .bind(key_id)
            .bind(invoice.number.as_str())
            .bind(format_date(invoice.issued_on))
            .bind(format_date(invoice.due_on))
            .bind(invoice.delivery.as_str())
            .bind(totals.net_cents)
            .bind(totals.vat_cents)
            .bind(totals.total_cents)
            .bind(now_micros());
        for v in records::seal(&key, TABLE, key_id, &billing) {
            q = q.bind(v);
        }
        let id = q.fetch_one(&mut *tx).await?;
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
            .execute(&mut *tx)
            .await?;
        }
        let mut fields: Vec<String> = billing.into_keys().collect();
        fields.push("description".into());
        let mut event = Event::new(access, "invoice.create", "customer", customer_id).fields(fields);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
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
        // Made once each: the headers are read on every dashboard.
        static SQL: std::sync::LazyLock<[String; 2]> = std::sync::LazyLock::new(|| {
            [String::new(), format!(", {}", records::columns(TABLE).join(", "))].map(|sealed| {
                format!(
                    "SELECT id, key_id, number, issued_on, due_on, paid_on, delivery, net_cents, vat_cents, total_cents{sealed} FROM invoices WHERE customer_id = $1 ORDER BY issued_on, id"
                )
            })
        });
        let sql = match detail {
            Detail::Headers => &SQL[0],
            Detail::Full => &SQL[1],
        };
        let by_customer = [Bind::Int(customer_id)];
        let rows = reader.all(sql, &by_customer).await?;
        // Every line of every invoice in one statement, grouped by invoice below.
        let line_rows = match detail {
            Detail::Full => {
                let sql = "SELECT invoice_id, position, quantity, unit_price_cents, vat_rate_bp, description FROM invoice_lines
                     WHERE invoice_id IN (SELECT id FROM invoices WHERE customer_id = $1) ORDER BY invoice_id, position";
                reader.all(sql, &by_customer).await?
            }
            Detail::Headers => vec![],
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.col("id")?;
            let mut invoice = InvoiceRecord {
                id,
                customer_id,
                number: r.col("number")?,
                issued_on: r.col("issued_on")?,
                due_on: r.col("due_on")?,
                paid_on: r.col("paid_on")?,
                delivery: r.col("delivery")?,
                net_cents: r.col("net_cents")?,
                vat_cents: r.col("vat_cents")?,
                total_cents: r.col("total_cents")?,
                billing: Fields::new(),
                lines: vec![],
            };
            if detail == Detail::Full {
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
                invoice.billing = records::open(&key, TABLE, key_id, r, permit::readable_by(who))?;
            }
            out.push(invoice);
        }
        Ok(out)
    }
}

/// How much of an invoice [`Store::invoices_of`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    /// Everything: the billing snapshot and the lines, decrypted.
    Full,
    /// Number, dates, amounts and delivery: no personal data, nothing decrypted.
    Headers,
}
