//! Payments (partial or whole) and credit notes. An invoice's `paid_cents`,
//! `credited_cents` and `paid_on` are recomputed from its payments and the
//! credit notes naming it, in the transaction that adds one, so they never
//! drift from the rows they sum.

use custodian_domain::model::{
    BillingSnapshot, Delivery, FieldErrors, InvoiceAmounts, InvoiceData, InvoiceLine, InvoiceState, Text, format_date,
    parse_date,
};
use custodian_domain::policy::{Action, Resource};
use serde::Serialize;
use sqlx::{Any, Row, Transaction};
use time::Date;

use super::{TABLE, line_aad, refuse_taken};
use crate::audit::{Access, Event};
use crate::{Refusal, Store, StoreError, now_micros, permit, records};

/// A payment: the day it was received and the amount in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payment {
    pub paid_on: Date,
    pub amount_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentRecord {
    pub paid_on: String,
    pub amount_cents: i64,
}

/// Where an invoice stands after a payment or a credit note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settlement {
    pub number: String,
    pub state: InvoiceState,
    pub total_cents: i64,
    pub paid_cents: i64,
    pub credited_cents: i64,
    pub outstanding_cents: i64,
    pub paid_on: Option<String>,
}

/// A credit note for an invoice. Without `lines` it credits every line of the
/// invoice; without `number` it takes the next of `CN-<year>-0001`, ….
pub struct NewCreditNote {
    pub number: Option<String>,
    pub issued_on: Date,
    pub lines: Option<Vec<InvoiceLine>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditNote {
    pub id: i64,
    pub number: String,
    pub total_cents: i64,
    /// The credited invoice afterwards.
    pub invoice: Settlement,
}

/// The day the running sum of `events` (day, amount), in date order, first
/// reaches `total`; an invoice of nothing is settled when issued.
pub(crate) fn covered_on(issued_on: Date, total: i64, mut events: Vec<(Date, i64)>) -> Option<Date> {
    if total <= 0 {
        return Some(issued_on);
    }
    events.sort();
    let mut sum = 0;
    for (day, amount) in events {
        sum += amount;
        if sum >= total {
            return Some(day);
        }
    }
    None
}

pub(crate) async fn insert_payment(
    tx: &mut Transaction<'static, Any>,
    invoice_id: i64,
    payment: &Payment,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO invoice_payments (invoice_id, paid_on, amount_cents, created_at) VALUES ($1, $2, $3, $4)")
        .bind(invoice_id)
        .bind(format_date(payment.paid_on))
        .bind(payment.amount_cents)
        .bind(now_micros())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The columns of an invoice that payments and credits work with.
struct Head {
    id: i64,
    customer_id: i64,
    key_id: Option<i64>,
    number: String,
    issued_on: Date,
    due_on: Date,
    delivery: String,
    amounts: InvoiceAmounts,
}

fn day(id: i64, s: &str) -> Result<Date, StoreError> {
    parse_date(s).map_err(|_| StoreError::Corrupt(format!("invoice {id} has an unreadable date")))
}

async fn head(tx: &mut Transaction<'static, Any>, number: &str) -> Result<Head, StoreError> {
    let r = sqlx::query(
        "SELECT id, customer_id, key_id, number, issued_on, due_on, delivery, total_cents, paid_cents, credited_cents, credit_for
         FROM invoices WHERE number = $1",
    )
    .bind(number.trim())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound { kind: "invoice", id: number.trim().to_string() })?;
    let id: i64 = r.try_get("id")?;
    let credit_for: Option<String> = r.try_get("credit_for")?;
    Ok(Head {
        id,
        customer_id: r.try_get("customer_id")?,
        key_id: r.try_get("key_id")?,
        number: r.try_get("number")?,
        issued_on: day(id, &r.try_get::<String, _>("issued_on")?)?,
        due_on: day(id, &r.try_get::<String, _>("due_on")?)?,
        delivery: r.try_get("delivery")?,
        amounts: InvoiceAmounts {
            total_cents: r.try_get("total_cents")?,
            paid_cents: r.try_get("paid_cents")?,
            credited_cents: r.try_get("credited_cents")?,
            credit_note: credit_for.is_some(),
        },
    })
}

/// Recomputes the sums and `paid_on` of invoice `head` from its payments and
/// the credit notes naming it.
async fn settle(tx: &mut Transaction<'static, Any>, head: &Head) -> Result<Settlement, StoreError> {
    let mut events = vec![];
    let (mut paid, mut credited) = (0, 0);
    let rows = sqlx::query("SELECT paid_on, amount_cents FROM invoice_payments WHERE invoice_id = $1")
        .bind(head.id)
        .fetch_all(&mut **tx)
        .await?;
    for r in rows {
        let amount: i64 = r.try_get(1)?;
        paid += amount;
        events.push((day(head.id, &r.try_get::<String, _>(0)?)?, amount));
    }
    let rows = sqlx::query("SELECT issued_on, total_cents FROM invoices WHERE credit_for = $1")
        .bind(head.number.as_str())
        .fetch_all(&mut **tx)
        .await?;
    for r in rows {
        let total: i64 = r.try_get(1)?;
        credited += total;
        events.push((day(head.id, &r.try_get::<String, _>(0)?)?, -total));
    }
    let paid_on = covered_on(head.issued_on, head.amounts.total_cents, events).map(format_date);
    sqlx::query("UPDATE invoices SET paid_cents = $1, credited_cents = $2, paid_on = $3 WHERE id = $4")
        .bind(paid)
        .bind(credited)
        .bind(paid_on.clone())
        .bind(head.id)
        .execute(&mut **tx)
        .await?;
    let amounts = InvoiceAmounts { paid_cents: paid, credited_cents: credited, ..head.amounts };
    Ok(Settlement {
        number: head.number.clone(),
        state: InvoiceState::of(amounts, head.due_on, time::OffsetDateTime::now_utc().date()),
        total_cents: amounts.total_cents,
        paid_cents: paid,
        credited_cents: credited,
        outstanding_cents: amounts.outstanding_cents(),
        paid_on,
    })
}

impl Store {
    /// Records a payment of `amount_cents` on invoice `number`. Refused for a
    /// credit note, for an invoice with nothing due, and for more than is due.
    pub async fn record_payment(
        &self,
        access: &Access,
        number: &str,
        amount_cents: i64,
        paid_on: Date,
    ) -> Result<Settlement, StoreError> {
        permit::require(access, Resource::Invoices, Action::Write)?;
        if amount_cents <= 0 {
            return Err(FieldErrors::single("amount", positive_amount()).into());
        }
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let head = head(&mut tx, number).await?;
        let settlement = self.pay(&mut tx, access, &head, amount_cents, paid_on).await?;
        tx.commit().await?;
        Ok(settlement)
    }

    /// Records the payment of what is still due on invoice `number`.
    pub async fn mark_invoice_paid(
        &self,
        access: &Access,
        number: &str,
        paid_on: Date,
    ) -> Result<Settlement, StoreError> {
        permit::require(access, Resource::Invoices, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let head = head(&mut tx, number).await?;
        let due = head.amounts.outstanding_cents();
        let settlement = self.pay(&mut tx, access, &head, due, paid_on).await?;
        tx.commit().await?;
        Ok(settlement)
    }

    async fn pay(
        &self,
        tx: &mut Transaction<'static, Any>,
        access: &Access,
        head: &Head,
        amount_cents: i64,
        paid_on: Date,
    ) -> Result<Settlement, StoreError> {
        if head.amounts.credit_note {
            return Err(Refusal::CreditNoteNotPayable.into());
        }
        let due = head.amounts.outstanding_cents();
        if due <= 0 {
            return Err(Refusal::NothingDue.into());
        }
        if amount_cents > due {
            return Err(Refusal::MoreThanDue { due_cents: due }.into());
        }
        if paid_on < head.issued_on {
            return Err(FieldErrors::single("on", paid_before_issue()).into());
        }
        insert_payment(tx, head.id, &Payment { paid_on, amount_cents }).await?;
        let settlement = settle(tx, head).await?;
        let mut event =
            Event::new(access, "invoice.paid", "customer", head.customer_id).fields(["amount_cents", "paid_on"]);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(tx, &[event]).await?;
        Ok(settlement)
    }

    /// Issues a credit note for invoice `number`: negative lines under a key
    /// of its own, with the credited invoice's billing snapshot (which
    /// outlives the customer's record). It may not credit more than the
    /// invoice's total less earlier credit notes.
    pub async fn credit_invoice(
        &self,
        access: &Access,
        number: &str,
        new: NewCreditNote,
    ) -> Result<CreditNote, StoreError> {
        permit::require(access, Resource::Invoices, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let original = head(&mut tx, number).await?;
        if original.amounts.credit_note {
            return Err(Refusal::CreditOfCreditNote.into());
        }
        let key_id =
            original.key_id.ok_or_else(|| StoreError::Corrupt(format!("invoice {} has no key", original.id)))?;
        let key = self.keys.data_key(&mut *tx, key_id).await?;
        let row = sqlx::query(&format!("SELECT {} FROM invoices WHERE id = $1", records::columns(TABLE).join(", ")))
            .bind(original.id)
            .fetch_one(&mut *tx)
            .await?;
        let billing = BillingSnapshot::from_fields(&records::open(&key, TABLE, key_id, &row, |_| true)?)?;
        let lines = match new.lines {
            Some(lines) => lines.iter().map(InvoiceLine::credited).collect(),
            None => self.lines_of(&mut tx, original.id, key_id).await?.iter().map(InvoiceLine::credited).collect(),
        };
        let number = match new.number {
            Some(n) => n,
            None => next_credit_number(&mut tx, new.issued_on).await?,
        };
        let note = InvoiceData {
            number: Text::parse(&number).map_err(|e| FieldErrors::single("number", e))?,
            issued_on: new.issued_on,
            due_on: new.issued_on,
            delivery: Delivery::parse(&original.delivery)
                .map_err(|_| StoreError::Corrupt(format!("invoice {} has an unknown delivery", original.id)))?,
            lines,
            billing,
        };
        note.check()?;
        if new.issued_on < original.issued_on {
            return Err(FieldErrors::single("date", credit_before_invoice()).into());
        }
        let total = note.totals().total_cents;
        let creditable = original.amounts.total_cents + original.amounts.credited_cents;
        if total >= 0 || -total > creditable {
            return Err(Refusal::CreditExceedsInvoice { creditable_cents: creditable.max(0) }.into());
        }
        refuse_taken(&mut tx, note.number.as_str()).await?;
        let id = self.insert_invoice(&mut tx, original.customer_id, &note, Some(&original.number), &[]).await?;
        let invoice = settle(&mut tx, &original).await?;
        crate::audit::append(&mut tx, &[self.created_event(access, original.customer_id)]).await?;
        tx.commit().await?;
        Ok(CreditNote { id, number: note.number.as_str().to_string(), total_cents: total, invoice })
    }

    /// The lines of an invoice, opened with its key.
    pub(crate) async fn lines_of(
        &self,
        tx: &mut Transaction<'static, Any>,
        invoice_id: i64,
        key_id: i64,
    ) -> Result<Vec<InvoiceLine>, StoreError> {
        let key = self.keys.data_key(&mut **tx, key_id).await?;
        let rows = sqlx::query(
            "SELECT position, quantity, unit_price_cents, vat_rate_bp, description FROM invoice_lines WHERE invoice_id = $1 ORDER BY position",
        )
        .bind(invoice_id)
        .fetch_all(&mut **tx)
        .await?;
        let mut lines = Vec::with_capacity(rows.len());
        for r in rows {
            let position: i64 = r.try_get(0)?;
            let sealed: Vec<u8> = r.try_get(4)?;
            let plain = key.open(&line_aad(key_id, position), &sealed)?;
            lines.push(InvoiceLine {
                description: Text::parse(&String::from_utf8_lossy(&plain))
                    .map_err(|_| StoreError::Corrupt(format!("invoice {invoice_id} has an unreadable line")))?,
                quantity: r.try_get(1)?,
                unit_price_cents: r.try_get(2)?,
                vat_rate_bp: r.try_get(3)?,
            });
        }
        Ok(lines)
    }
}

/// The next credit note number of the year of `on`: `CN-2026-0001`, …
async fn next_credit_number(tx: &mut Transaction<'static, Any>, on: Date) -> Result<String, StoreError> {
    let prefix = format!("CN-{}-", on.year());
    let numbers: Vec<String> = sqlx::query_scalar("SELECT number FROM invoices WHERE number LIKE $1")
        .bind(format!("{prefix}%"))
        .fetch_all(&mut **tx)
        .await?;
    let last = numbers.iter().filter_map(|n| n.strip_prefix(&prefix)?.parse::<u32>().ok()).max().unwrap_or(0);
    Ok(format!("{prefix}{:04}", last + 1))
}

fn positive_amount() -> custodian_domain::validate::Invalid {
    custodian_domain::validate::Invalid::new(
        "amount",
        "positive",
        "Een betaling is een bedrag in centen groter dan nul.",
        "A payment is an amount in cents above zero.",
    )
}

fn paid_before_issue() -> custodian_domain::validate::Invalid {
    custodian_domain::validate::Invalid::new(
        "date",
        "before_issue",
        "De betaaldatum ligt voor de factuurdatum.",
        "The payment date is before the invoice date.",
    )
}

fn credit_before_invoice() -> custodian_domain::validate::Invalid {
    custodian_domain::validate::Invalid::new(
        "date",
        "before_issue",
        "Een creditnota kan niet van voor de factuur zijn.",
        "A credit note cannot be dated before its invoice.",
    )
}
