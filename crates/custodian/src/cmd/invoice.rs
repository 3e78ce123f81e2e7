//! `custodian invoice …`: invoices issued with the customer's billing
//! details copied in, paid (in parts), credited, imported from billing
//! software, and listed (audited).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use custodian_domain::model::{Delivery, FieldError, FieldErrors, InvoiceLine, format_cents, parse_date};
use custodian_domain::validate::Invalid;
use custodian_store::{AccessPurpose, NewCreditNote, NewInvoice, Outcome, Settlement, SourceFormat, read_source};

use super::shared::{Format, Usage, day_or_today, open, operator, print, today, write_json};
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
    /// Record that what is still due on an invoice was paid.
    Paid {
        number: String,
        /// Day of payment (YYYY-MM-DD); default today.
        #[arg(long)]
        on: Option<String>,
    },
    /// Record a (partial) payment.
    Pay {
        number: String,
        /// The amount received, in cents.
        #[arg(long)]
        amount: i64,
        /// Day of payment (YYYY-MM-DD); default today.
        #[arg(long)]
        on: Option<String>,
    },
    /// Issue a credit note for an invoice: every line of it, or the lines given.
    Credit {
        number: String,
        /// The credit note's number; default the next `CN-<year>-NNNN`.
        #[arg(long = "as")]
        credit_number: Option<String>,
        /// Date of the credit note (YYYY-MM-DD); default today.
        #[arg(long)]
        date: Option<String>,
        /// `description;quantity;unit price in cents;VAT %` credited, repeatable.
        #[arg(long = "line")]
        lines: Vec<String>,
    },
    /// Import invoices from billing software: CSV (.csv) or JSON lines (.jsonl, .ndjson).
    Import {
        file: PathBuf,
        /// Report per invoice what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List a customer's invoices with their state (audited).
    List {
        customer: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Write an invoice or credit note as PDF (A4, the address in the window of an envelope; audited).
    Pdf {
        number: String,
        #[arg(long)]
        out: PathBuf,
        /// Language of the document (nl, en); default the configured language.
        #[arg(long)]
        lang: Option<String>,
    },
    /// Write an invoice or credit note as UBL 2.1 e-invoice, NLCIUS profile (audited).
    Ubl {
        number: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// The invoices to send by post that are not posted yet, oldest first.
    PrintQueue {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Record that an invoice to send by post was printed and posted.
    Posted { number: String },
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
            let settled = store.mark_invoice_paid(&operator(AccessPurpose::Billing), &number, on).await?;
            settlement(out, &settled)?;
        }
        InvoiceCmd::Pay { number, amount, on } => {
            let on = day_or_today(on.as_deref(), "on")?;
            let store = open(config).await?;
            let settled = store.record_payment(&operator(AccessPurpose::Billing), &number, amount, on).await?;
            settlement(out, &settled)?;
        }
        InvoiceCmd::Credit { number, credit_number, date, lines } => {
            let mut errors = vec![];
            let issued_on = match &date {
                Some(d) => collect(&mut errors, "date", parse_date(d)),
                None => Some(today()),
            };
            let lines: Vec<_> =
                lines.iter().filter_map(|l| collect(&mut errors, "line", InvoiceLine::parse(l))).collect();
            let (Some(issued_on), true) = (issued_on, errors.is_empty()) else {
                return Err(FieldErrors(errors).into());
            };
            let store = open(config).await?;
            let new = NewCreditNote { number: credit_number, issued_on, lines: (!lines.is_empty()).then_some(lines) };
            let note = store.credit_invoice(&operator(AccessPurpose::Billing), &number, new).await?;
            writeln!(out, "{}\t{}", note.number, format_cents(note.total_cents))?;
            settlement(out, &note.invoice)?;
        }
        InvoiceCmd::Import { file, dry_run, format } => import(out, config, &file, dry_run, format).await?,
        InvoiceCmd::Pdf { number, out: file, lang } => {
            let lang = match lang.as_deref() {
                Some(l) => custodian_domain::Lang::parse(l).ok_or_else(|| Usage(format!("--lang {l}: nl or en")))?,
                None => config.language,
            };
            super::invoice_docs::write(out, config, &number, &file, super::invoice_docs::Kind::Pdf, lang).await?
        }
        InvoiceCmd::Ubl { number, out: file } => {
            let kind = super::invoice_docs::Kind::Ubl;
            super::invoice_docs::write(out, config, &number, &file, kind, config.language).await?
        }
        InvoiceCmd::PrintQueue { format } => super::invoice_docs::print_queue(out, config, format).await?,
        InvoiceCmd::Posted { number } => {
            let store = open(config).await?;
            store.mark_posted(&operator(AccessPurpose::Billing), &number).await?;
            writeln!(out, "{number}\tposted")?;
        }
        InvoiceCmd::List { customer, format } => {
            let store = open(config).await?;
            let invoices = store.read_invoices(&operator(AccessPurpose::Billing), customer).await?;
            print(out, format, &invoices, |out, i| {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    i.number,
                    i.issued_on,
                    i.due_on,
                    i.state.as_str(),
                    format_cents(i.total_cents),
                    format_cents(i.outstanding_cents),
                    i.delivery,
                    i.billing.get("billing_name").map(String::as_str).unwrap_or(""),
                )
            })?;
        }
    }
    Ok(())
}

/// Reads FILE and imports it; exit 2 (nothing written) when any invoice is bad.
async fn import(
    out: &mut impl Write,
    config: &Config,
    file: &std::path::Path,
    dry_run: bool,
    format: Format,
) -> anyhow::Result<()> {
    let kind = SourceFormat::of_path(file)
        .ok_or_else(|| Usage(format!("{}: name a .csv, .jsonl or .ndjson file", file.display())))?;
    let reader = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let source = read_source(kind, std::io::BufReader::new(reader));
    let store = open(config).await?;
    let lang = config.language;
    let mut lines = vec![];
    let mut text = String::new();
    let summary = store
        .import_invoices(&operator(AccessPurpose::Billing), source, dry_run, |report| {
            // A real import lists only the invoices that stop it.
            if !dry_run && report.outcome != Outcome::Error {
                return;
            }
            match format {
                Format::Json => lines.push(report.to_json(lang)),
                Format::Table => {
                    let outcome = match report.outcome {
                        Outcome::Created if dry_run => "would be created",
                        Outcome::Created => "created",
                        Outcome::Unchanged => "unchanged",
                        Outcome::Error => "error",
                    };
                    text.push_str(&format!(
                        "line {}\t{}\t{outcome}\n",
                        report.line,
                        report.number.as_deref().unwrap_or("-")
                    ));
                    for p in &report.problems {
                        text.push_str(&format!("  line {}, {}: {}\n", p.line, p.field, p.error.message(lang)));
                    }
                }
            }
        })
        .await?;
    match format {
        Format::Json => {
            write_json(out, &serde_json::json!({ "dry_run": dry_run, "summary": summary, "lines": lines }))?
        }
        Format::Table => {
            out.write_all(text.as_bytes())?;
            let done = if summary.written {
                "written"
            } else if dry_run {
                "dry run: nothing written"
            } else {
                "nothing written"
            };
            writeln!(
                out,
                "created {}, unchanged {}, errors {}; {done}",
                summary.created, summary.unchanged, summary.errors
            )?;
        }
    }
    if summary.errors > 0 {
        return Err(Usage(format!(
            "{} invoice(s) in {} cannot be imported (see above); nothing was written",
            summary.errors,
            file.display()
        ))
        .into());
    }
    Ok(())
}

fn settlement(out: &mut impl Write, s: &Settlement) -> anyhow::Result<()> {
    writeln!(
        out,
        "{}\t{}\tpaid {}\toutstanding {}{}",
        s.number,
        s.state.as_str(),
        format_cents(s.paid_cents),
        format_cents(s.outstanding_cents),
        s.paid_on.as_deref().map(|d| format!("\tsettled on {d}")).unwrap_or_default()
    )?;
    Ok(())
}

/// Keeps the value, or files the error under `field`.
fn collect<T>(errors: &mut Vec<FieldError>, field: &str, r: Result<T, Invalid>) -> Option<T> {
    r.map_err(|error| errors.push(FieldError { field: field.into(), error })).ok()
}
