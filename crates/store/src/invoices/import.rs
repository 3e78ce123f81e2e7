//! Bulk import of invoices from billing software, idempotent on the invoice
//! number: an invoice already here with the same customer, dates, delivery,
//! lines and payments is `unchanged`; one that differs is an error.
//!
//! All or nothing, in one transaction: the file is read once, each invoice is
//! checked and (unless this is a dry run, or an earlier one failed) written as
//! it comes; after the first failure the rest is still checked, so that every
//! bad line is named, and the transaction is rolled back at the end. Chunks
//! committed one by one could not be undone together, and validating the
//! whole file before writing would read it twice and still have to check
//! again in the writing transaction. The price is that the write lock is held
//! for the whole import (about a second per few thousand invoices); other
//! writers wait for it. Memory holds one invoice, the numbers seen (for
//! repeats within the file), a bounded cache of customers and the audit
//! entries of one batch.

use std::collections::HashMap;

use custodian_domain::Lang;
use custodian_domain::model::{BillingSnapshot, CustomerData, Delivery, InvoiceData, Text, format_date};
use custodian_domain::policy::{Action, Resource};
use custodian_domain::validate::Invalid;
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use super::payments::Payment;
use super::source::{ImportInvoice, Rejected};
use crate::audit::{Access, Event};
use crate::{Store, StoreError, permit};

/// Customers kept opened during an import; the cache is emptied when full.
const CACHED_CUSTOMERS: usize = 10_000;
/// Audit entries appended together.
const AUDIT_BATCH: usize = 1_000;

/// One problem of one invoice in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    /// The line of the file it is on (1-based).
    pub line: u64,
    /// The field or column (`lines[1].quantity`, `customer`, …).
    pub field: String,
    pub error: Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// New: written (or, in a dry run, would be).
    Created,
    /// Already here, identical: nothing to do.
    Unchanged,
    Error,
}

/// What happened (or would happen) to one invoice of the file.
#[derive(Debug, Clone)]
pub struct LineReport {
    pub line: u64,
    pub number: Option<String>,
    pub outcome: Outcome,
    pub problems: Vec<ImportProblem>,
}

impl LineReport {
    /// As JSON, with messages in `lang`.
    pub fn to_json(&self, lang: Lang) -> serde_json::Value {
        serde_json::json!({
            "line": self.line,
            "number": self.number,
            "outcome": self.outcome,
            "problems": self.problems.iter().map(|p| serde_json::json!({
                "line": p.line, "field": p.field, "rule": p.error.rule, "message": p.error.message(lang),
            })).collect::<Vec<_>>(),
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub created: u64,
    pub unchanged: u64,
    pub errors: u64,
    /// Whether anything was written: not in a dry run, nor when any invoice failed.
    pub written: bool,
}

fn differs(line: u64, field: &str) -> ImportProblem {
    ImportProblem {
        line,
        field: field.to_string(),
        error: Invalid::new(
            "import",
            "differs",
            "Er bestaat al een factuur met dit nummer, met een andere waarde hier.",
            "An invoice with this number exists already, with another value here.",
        ),
    }
}

fn problem(line: u64, field: &str, rule: &'static str, nl: &str, en: &str) -> ImportProblem {
    ImportProblem { line, field: field.to_string(), error: Invalid::new("import", rule, nl, en) }
}

impl Store {
    /// Imports `source` (see `source.rs`), reporting each invoice to `report`
    /// as it is handled. Writes nothing in a dry run or when any invoice fails.
    pub async fn import_invoices<I, F>(
        &self,
        access: &Access,
        source: I,
        dry_run: bool,
        mut report: F,
    ) -> Result<ImportSummary, StoreError>
    where
        I: Iterator<Item = Result<ImportInvoice, Rejected>> + Send,
        F: FnMut(LineReport) + Send,
    {
        permit::require(access, Resource::Invoices, Action::Write)?;
        let mut tx = if dry_run { self.pool.begin().await? } else { crate::db::write_tx(&self.pool).await? };
        let mut summary = ImportSummary::default();
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut customers: HashMap<i64, Option<CustomerData>> = HashMap::new();
        let mut events: Vec<Event> = Vec::new();
        for item in source {
            let (line, number, result) = match item {
                Err(rejected) => (rejected.line, rejected.number, Err(rejected.problems)),
                Ok(invoice) => {
                    let number = Some(invoice.number.clone());
                    let result = match seen.get(&invoice.number) {
                        Some(first) => Err(vec![problem(
                            invoice.line,
                            "number",
                            "repeated",
                            &format!("Dit factuurnummer staat al op regel {first}."),
                            &format!("This invoice number is on line {first} already."),
                        )]),
                        None => {
                            seen.insert(invoice.number.clone(), invoice.line);
                            let write = !dry_run && summary.errors == 0;
                            self.import_one(&mut tx, access, &mut customers, &invoice, write, &mut events).await?
                        }
                    };
                    (invoice.line, number, result)
                }
            };
            let outcome = match &result {
                Ok(o) => *o,
                Err(_) => Outcome::Error,
            };
            match outcome {
                Outcome::Created => summary.created += 1,
                Outcome::Unchanged => summary.unchanged += 1,
                Outcome::Error => summary.errors += 1,
            }
            if events.len() >= AUDIT_BATCH && summary.errors == 0 {
                crate::audit::append(&mut tx, &events).await?;
                events.clear();
            }
            report(LineReport { line, number, outcome, problems: result.err().unwrap_or_default() });
        }
        if dry_run || summary.errors > 0 {
            tx.rollback().await?;
            return Ok(summary);
        }
        crate::audit::append(&mut tx, &events).await?;
        tx.commit().await?;
        summary.written = true;
        Ok(summary)
    }

    /// Checks one invoice against what is here and, with `write`, writes it.
    async fn import_one(
        &self,
        tx: &mut Transaction<'static, Any>,
        access: &Access,
        customers: &mut HashMap<i64, Option<CustomerData>>,
        invoice: &ImportInvoice,
        write: bool,
        events: &mut Vec<Event>,
    ) -> Result<Result<Outcome, Vec<ImportProblem>>, StoreError> {
        if let Some(problems) = self.compare_existing(tx, invoice).await? {
            return Ok(if problems.is_empty() { Ok(Outcome::Unchanged) } else { Err(problems) });
        }
        if !customers.contains_key(&invoice.customer_id) {
            if customers.len() >= CACHED_CUSTOMERS {
                customers.clear();
            }
            let data = match self.customer_data(tx, invoice.customer_id).await {
                Ok(data) => Some(data),
                Err(StoreError::NotFound { .. } | StoreError::Erased(_)) => None,
                Err(e) => return Err(e),
            };
            customers.insert(invoice.customer_id, data);
        }
        let Some(customer) = customers.get(&invoice.customer_id).and_then(Option::as_ref) else {
            return Ok(Err(vec![problem(
                invoice.line,
                "customer",
                "unknown_customer",
                "Er is geen (niet-gewiste) klant met dit nummer.",
                "There is no (unerased) customer with this number.",
            )]));
        };
        let billing = match BillingSnapshot::of(customer, invoice.delivery) {
            Ok(b) => b,
            Err(errors) => {
                return Ok(Err(errors
                    .0
                    .into_iter()
                    .map(|e| ImportProblem {
                        line: invoice.line,
                        field: format!("customer.{}", e.field),
                        error: e.error,
                    })
                    .collect()));
            }
        };
        let data = InvoiceData {
            number: Text::parse(&invoice.number)
                .map_err(|e| custodian_domain::model::FieldErrors::single("number", e))?,
            issued_on: invoice.issued_on,
            due_on: invoice.due_on,
            delivery: invoice.delivery,
            lines: invoice.lines.clone(),
            billing,
        };
        if write {
            self.insert_invoice(tx, invoice.customer_id, &data, None, &invoice.payments).await?;
            events.push(self.created_event(access, invoice.customer_id));
        }
        Ok(Ok(Outcome::Created))
    }

    /// `None` when no invoice has this number; else the fields in which the
    /// one here differs (none: unchanged).
    async fn compare_existing(
        &self,
        tx: &mut Transaction<'static, Any>,
        invoice: &ImportInvoice,
    ) -> Result<Option<Vec<ImportProblem>>, StoreError> {
        let row = sqlx::query(
            "SELECT id, customer_id, key_id, issued_on, due_on, delivery, credit_for FROM invoices WHERE number = $1",
        )
        .bind(&invoice.number)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: i64 = row.try_get("id")?;
        let line = invoice.line;
        let mut problems = vec![];
        let credit_for: Option<String> = row.try_get("credit_for")?;
        if credit_for.is_some() {
            problems.push(differs(line, "number"));
            return Ok(Some(problems));
        }
        if row.try_get::<i64, _>("customer_id")? != invoice.customer_id {
            problems.push(differs(line, "customer"));
        }
        if row.try_get::<String, _>("issued_on")? != format_date(invoice.issued_on) {
            problems.push(differs(line, "issued_on"));
        }
        if row.try_get::<String, _>("due_on")? != format_date(invoice.due_on) {
            problems.push(differs(line, "due_on"));
        }
        if Delivery::parse(&row.try_get::<String, _>("delivery")?).ok() != Some(invoice.delivery) {
            problems.push(differs(line, "delivery"));
        }
        let key_id: Option<i64> = row.try_get("key_id")?;
        let key_id = key_id.ok_or_else(|| StoreError::Corrupt(format!("invoice {id} has no key")))?;
        if self.lines_of(tx, id, key_id).await? != invoice.lines {
            problems.push(differs(line, "lines"));
        }
        let mut here: Vec<Payment> = Vec::new();
        for r in sqlx::query("SELECT paid_on, amount_cents FROM invoice_payments WHERE invoice_id = $1")
            .bind(id)
            .fetch_all(&mut **tx)
            .await?
        {
            let on: String = r.try_get(0)?;
            let paid_on = custodian_domain::model::parse_date(&on)
                .map_err(|_| StoreError::Corrupt(format!("invoice {id} has an unreadable payment date")))?;
            here.push(Payment { paid_on, amount_cents: r.try_get(1)? });
        }
        let mut given = invoice.payments.clone();
        let key = |p: &Payment| (p.paid_on, p.amount_cents);
        here.sort_by_key(key);
        given.sort_by_key(key);
        if here != given {
            problems.push(differs(line, "payments"));
        }
        Ok(Some(problems))
    }
}
