//! `invoice pdf`, `invoice ubl` and `invoice print-queue`: an invoice as the
//! documents the customer and their accounting software receive, and the
//! invoices still to post.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use custodian_domain::Lang;
use custodian_domain::model::format_cents;
use custodian_store::AccessPurpose;

use super::shared::{Format, Usage, open, operator, print};
use crate::config::Config;

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Pdf,
    Ubl,
}

/// Writes invoice `number` to `file` as `kind`, in `lang`.
pub(crate) async fn write(
    out: &mut impl Write,
    config: &Config,
    number: &str,
    file: &Path,
    kind: Kind,
    lang: Lang,
) -> anyhow::Result<()> {
    let store = open(config).await?;
    let access = operator(AccessPurpose::Billing);
    let id = store.invoice_id(&access, number).await?.ok_or_else(|| Usage(format!("no invoice numbered {number}")))?;
    let record =
        store.read_invoice(&access, id).await?.ok_or_else(|| Usage(format!("no invoice numbered {number}")))?;
    let seller = custodian_web::documents::seller(&config.company_name, &config.company, &config.invoicing);
    let document = custodian_web::documents::invoice(&record, seller, lang)
        .with_context(|| format!("invoice {number} has an unreadable date"))?;
    let made = match kind {
        Kind::Pdf => custodian_document::pdf(&document),
        Kind::Ubl => custodian_document::ubl(&document).map(String::into_bytes),
    };
    // What is missing is the company's own details or the invoice's: the user can act on either.
    let bytes =
        made.map_err(|e| Usage(format!("{number}: {}; see [invoicing] in the configuration", e.message(lang))))?;
    std::fs::write(file, &bytes).with_context(|| format!("writing {}", file.display()))?;
    writeln!(out, "{}\t{} bytes", file.display(), bytes.len())?;
    Ok(())
}

pub(crate) async fn print_queue(out: &mut impl Write, config: &Config, format: Format) -> anyhow::Result<()> {
    let store = open(config).await?;
    let queue = store.print_queue(&operator(AccessPurpose::Billing)).await?;
    print(out, format, &queue, |out, i| {
        writeln!(out, "{}\t{}\tcustomer {}\t{}", i.number, i.issued_on, i.customer_id, format_cents(i.total_cents))
    })
}
