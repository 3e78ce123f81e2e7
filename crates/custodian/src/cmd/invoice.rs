//! `custodian invoice …`: invoices issued with the customer's billing
//! details copied in, marked paid, and listed (audited).

use std::io::Write;

use clap::Subcommand;
use custodian_domain::model::{Delivery, FieldError, FieldErrors, InvoiceLine, parse_date};
use custodian_domain::validate::Invalid;
use custodian_store::{AccessPurpose, NewInvoice};

use super::shared::{Format, day_or_today, open, operator, print};
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub(crate) enum InvoiceCmd {
    /// Issue an invoice; billing details are copied from the customer.
    Add {
        customer: i64,
        #[arg(long)]
        number: String,
        /// Invoice date (YYYY-MM-DD).
        #[arg(long)]
        date: String,
        /// Due date; default 30 days after the invoice date.
        #[arg(long)]
        due: Option<String>,
        #[arg(long, default_value = "post")]
        delivery: String,
        /// `description;quantity;unit price in cents;VAT %`, repeatable.
        #[arg(long = "line", required = true)]
        lines: Vec<String>,
    },
    /// Record that an invoice was paid.
    Paid {
        number: String,
        /// Day of payment (YYYY-MM-DD); default today.
        #[arg(long)]
        on: Option<String>,
    },
    /// List a customer's invoices (audited).
    List {
        customer: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

pub(crate) async fn run(out: &mut impl Write, config: &Config, cmd: InvoiceCmd) -> anyhow::Result<()> {
    match cmd {
        InvoiceCmd::Add { customer, number, date, due, delivery, lines } => {
            let mut errors = vec![];
            let issued_on = collect(&mut errors, "date", parse_date(&date));
            let due_on = match &due {
                Some(d) => collect(&mut errors, "due", parse_date(d)),
                None => issued_on.map(|d| d + time::Duration::days(30)),
            };
            let delivery = collect(&mut errors, "delivery", Delivery::parse(&delivery));
            let lines: Vec<_> =
                lines.iter().filter_map(|l| collect(&mut errors, "line", InvoiceLine::parse(l))).collect();
            let (Some(issued_on), Some(due_on), Some(delivery), true) =
                (issued_on, due_on, delivery, errors.is_empty())
            else {
                return Err(FieldErrors(errors).into());
            };
            let store = open(config).await?;
            let id = store
                .add_invoice(
                    &operator(AccessPurpose::Billing),
                    customer,
                    NewInvoice { number, issued_on, due_on, delivery, lines },
                )
                .await?;
            writeln!(out, "{id}")?;
        }
        InvoiceCmd::Paid { number, on } => {
            let on = day_or_today(on.as_deref(), "on")?;
            let store = open(config).await?;
            store.mark_invoice_paid(&operator(AccessPurpose::Billing), &number, on).await?;
            writeln!(out, "paid")?;
        }
        InvoiceCmd::List { customer, format } => {
            let store = open(config).await?;
            let invoices = store.read_invoices(&operator(AccessPurpose::Billing), customer).await?;
            print(out, format, &invoices, |out, i| {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{:.2}",
                    i.number,
                    i.issued_on,
                    i.delivery,
                    i.billing.get("billing_name").map(String::as_str).unwrap_or(""),
                    i.total_cents as f64 / 100.0
                )
            })?;
        }
    }
    Ok(())
}

/// Keeps the value, or files the error under `field`.
fn collect<T>(errors: &mut Vec<FieldError>, field: &str, r: Result<T, Invalid>) -> Option<T> {
    r.map_err(|error| errors.push(FieldError { field: field.into(), error })).ok()
}
