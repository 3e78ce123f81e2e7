//! `invoices`: the bulk import of 100,000 invoices through the real command
//! line (`custodian invoice import`, one transaction) on SQLite: invoices/s
//! and the child's peak memory. The baseline, in the same run, issues the
//! same invoices one at a time with `Store::add_invoice` (one transaction
//! each, as an integration without the import would), on a sample of them.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use custodian_store::{Access, AccessPurpose, Actor, NewInvoice, SourceFormat, Store, read_source};

use crate::import::{clean_command, custodian_binary, run_measured};
use crate::report::{Outcome, Table, megabytes, per_sec, ratio, thousands, verdict};

/// Peak memory allowed to the import, whatever the file's size.
const MAX_PEAK_BYTES: u64 = 200_000_000;

pub struct Settings {
    pub invoices: u64,
    pub customers: u64,
    /// Invoices issued one by one for the baseline.
    pub baseline: u64,
}

/// Invoice `n` (from 1) as a JSON line: two lines, every other one half paid.
fn invoice_line(n: u64, customers: u64) -> serde_json::Value {
    let day = time::Date::from_ordinal_date(2026, (n % 300) as u16 + 1).unwrap_or(time::Date::MIN);
    let issued = custodian_domain::model::format_date(day);
    let mut invoice = serde_json::json!({
        "customer": n % customers + 1,
        "number": format!("B-{n:07}"),
        "issued_on": issued,
        "delivery": if n.is_multiple_of(3) { "email" } else { "post" },
        "lines": [
            { "description": format!("Webhosting M, periode {n}"), "quantity": 12, "unit_price_cents": 595, "vat_rate": 21 },
            { "description": "Domeinregistratie", "quantity": 1 + n % 3, "unit_price_cents": 999, "vat_rate": 21 },
        ],
    });
    if n.is_multiple_of(2) {
        invoice["payments"] = serde_json::json!([{ "paid_on": issued, "amount_cents": 4000 }]);
    }
    invoice
}

fn write_inputs(dir: &Path, settings: &Settings) -> anyhow::Result<()> {
    let mut customers = BufWriter::new(std::fs::File::create(dir.join("customers.jsonl"))?);
    for n in 1..=settings.customers {
        let line = serde_json::json!({ "kind": "business", "fields": custodian_testkit::customer_fields(n) });
        serde_json::to_writer(&mut customers, &line)?;
        customers.write_all(b"\n")?;
    }
    customers.flush()?;
    let mut invoices = BufWriter::new(std::fs::File::create(dir.join("invoices.jsonl"))?);
    for n in 1..=settings.invoices {
        serde_json::to_writer(&mut invoices, &invoice_line(n, settings.customers))?;
        invoices.write_all(b"\n")?;
    }
    invoices.flush()?;
    Ok(())
}

/// The baseline: the first `settings.baseline` invoices, each its own `add_invoice`.
async fn one_by_one(dir: &Path, settings: &Settings) -> anyhow::Result<f64> {
    let db = custodian_testkit::sqlite();
    let store = Store::open(&db.url, 8, db.key.clone()).await?;
    let operator = Access::new(Actor::operator(), AccessPurpose::Administration);
    let all: Vec<_> = (1..=settings.customers).map(custodian_testkit::customer).collect();
    for batch in all.chunks(500) {
        store.create_customers(&operator, batch).await?;
    }
    let file = std::fs::File::open(dir.join("invoices.jsonl"))?;
    let source = read_source(SourceFormat::JsonLines, std::io::BufReader::new(file));
    let billing = Access::new(Actor::operator(), AccessPurpose::Billing);
    let mut parsed = Vec::new();
    for item in source.take(settings.baseline as usize) {
        let Ok(invoice) = item else { bail!("the generated invoices do not parse") };
        parsed.push(invoice);
    }
    let start = Instant::now();
    for invoice in parsed {
        let new = NewInvoice {
            number: invoice.number.clone(),
            issued_on: invoice.issued_on,
            due_on: invoice.due_on,
            delivery: invoice.delivery,
            lines: invoice.lines,
        };
        store.add_invoice(&billing, invoice.customer_id, new).await?;
        for p in &invoice.payments {
            store.record_payment(&billing, &invoice.number, p.amount_cents, p.paid_on).await?;
        }
    }
    let rate = settings.baseline as f64 / start.elapsed().as_secs_f64();
    store.close().await;
    db.finish().await;
    Ok(rate)
}

pub async fn run(settings: &Settings) -> anyhow::Result<(Table, Vec<Outcome>)> {
    let bin = custodian_binary()?;
    let dir = tempfile::tempdir()?;
    eprintln!(
        "invoices: writing {} customers and {} invoices ...",
        thousands(settings.customers),
        thousands(settings.invoices)
    );
    write_inputs(dir.path(), settings)?;
    let data_dir = dir.path().join("data");
    let mut customers = clean_command(&bin);
    customers.arg("--data-dir").arg(&data_dir).args(["customer", "import"]).arg(dir.path().join("customers.jsonl"));
    let setup = tokio::task::spawn_blocking(move || run_measured(customers)).await??;
    if !setup.status.success() {
        bail!("importing the customers failed:\n{}{}", setup.stdout, setup.stderr);
    }
    eprintln!("invoices: running {} invoice import ...", bin.display());
    let mut cmd = clean_command(&bin);
    cmd.arg("--data-dir").arg(&data_dir).args(["invoice", "import"]).arg(dir.path().join("invoices.jsonl"));
    let run = tokio::task::spawn_blocking(move || run_measured(cmd)).await??;
    let expected = format!("created {}, unchanged 0, errors 0; written", settings.invoices);
    if !run.status.success() || !run.stdout.contains(&expected) {
        bail!("the invoice import did not report {expected:?}:\n{}{}", run.stdout, run.stderr);
    }
    let rate = settings.invoices as f64 / run.wall.as_secs_f64();
    eprintln!("invoices: baseline, {} invoices one by one ...", thousands(settings.baseline));
    let baseline = one_by_one(dir.path(), settings).await.context("the baseline")?;
    let pass = run.peak < MAX_PEAK_BYTES;
    let mut t = Table::measurement(format!(
        "[10] import of {} invoices for {} customers through the CLI (sqlite)",
        thousands(settings.invoices),
        thousands(settings.customers)
    ));
    t.row([
        "import".to_string(),
        per_sec(rate),
        per_sec(baseline),
        ratio(rate, baseline),
        String::new(),
        String::new(),
    ]);
    t.row([
        "peak RSS (VmHWM)".to_string(),
        megabytes(run.peak),
        String::new(),
        String::new(),
        "< 200 MB".into(),
        verdict(pass),
    ]);
    t.row(["wall time".to_string(), format!("{:.2} s", run.wall.as_secs_f64())]);
    t.note(format!(
        "baseline: the first {} invoices issued one by one with Store::add_invoice (and record_payment), one transaction each",
        thousands(settings.baseline)
    ));
    t.note(
        "every invoice: two lines, its own data key and sealed billing snapshot; every other one a payment".to_string(),
    );
    let outcome = Outcome::new(
        &format!("10 invoice import {} peak RSS", thousands(settings.invoices)),
        "sqlite",
        megabytes(run.peak),
        "< 200 MB",
        pass,
    );
    Ok((t, vec![outcome]))
}
