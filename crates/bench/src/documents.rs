//! `documents`: invoices as the files customers and accounting software get.
//! Many distinct invoices are issued, then each is read in full (billing
//! snapshot and lines decrypted, the read audited: what a download does
//! first) and rendered as PDF and as UBL, one at a time on one task. The
//! baseline, in the same run, is the read alone: the ratios say what rendering
//! adds to a download.

use std::time::Instant;

use anyhow::Context;
use custodian_document::Party;
use custodian_domain::Lang;
use custodian_domain::model::{Delivery, InvoiceLine};
use custodian_store::{Access, AccessPurpose, Actor, InvoiceRecord, NewInvoice, Store};

use crate::report::{Table, per_sec, ratio, thousands};

pub struct Settings {
    pub invoices: u64,
    pub customers: u64,
}

fn seller() -> Party {
    Party {
        name: "Voorbeeld Hosting B.V.".into(),
        street: "Kanaalweg 12".into(),
        postcode: "1811 AB".into(),
        city: "Alkmaar".into(),
        country: "NL".into(),
        kvk: "12345678".into(),
        vat_id: "NL123456789B01".into(),
        iban: "NL91ABNA0417164300".into(),
        bic: None,
        email: "facturen@voorbeeld-hosting.nl".into(),
        phone: "072 511 66 17".into(),
    }
}

/// Invoice `n`: five lines, two VAT rates.
fn invoice(n: u64) -> anyhow::Result<NewInvoice> {
    let day = time::Date::from_ordinal_date(2026, (n % 300) as u16 + 1)?;
    let lines = [
        format!("Webhosting M, periode {n};12;595;21"),
        "Domeinregistratie voorbeeld.nl;1;999;21".to_string(),
        "Extra mailbox;3;250;21".to_string(),
        "SSL-certificaat;1;4900;21".to_string(),
        "Handboek beheer;1;2500;9".to_string(),
    ];
    Ok(NewInvoice {
        number: format!("D-{n:06}"),
        issued_on: day,
        due_on: day + time::Duration::days(30),
        delivery: Delivery::Post,
        lines: lines.iter().map(|l| InvoiceLine::parse(l)).collect::<Result<_, _>>()?,
    })
}

pub async fn run(store: &Store, engine: &'static str, s: &Settings) -> anyhow::Result<Table> {
    let books = Access::new(Actor::operator(), AccessPurpose::Billing);
    let owner = Access::new(Actor::operator(), AccessPurpose::Administration);
    eprintln!("documents ({engine}): {} invoices for {} customers ...", s.invoices, s.customers);
    let mut customers = Vec::new();
    for n in 1..=s.customers {
        customers.push(store.create_customer(&owner, &custodian_testkit::customer(n), false).await?);
    }
    let mut ids = Vec::new();
    for n in 1..=s.invoices {
        let customer = customers[(n % s.customers) as usize];
        ids.push(store.add_invoice(&books, customer, invoice(n)?).await?);
    }

    let started = Instant::now();
    let mut records: Vec<InvoiceRecord> = Vec::with_capacity(ids.len());
    for id in &ids {
        records.push(store.read_invoice(&books, *id).await?.context("an issued invoice is there")?);
    }
    let read = started.elapsed();

    let seller = seller();
    let documents: Vec<_> = records
        .iter()
        .map(|r| custodian_web::documents::invoice(r, seller.clone(), Lang::Nl).context("stored dates parse"))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let mut pdf_bytes = 0;
    for d in &documents {
        pdf_bytes += custodian_document::pdf(d)?.len();
    }
    let pdf = started.elapsed();
    let started = Instant::now();
    let mut ubl_bytes = 0;
    for d in &documents {
        ubl_bytes += custodian_document::ubl(d)?.len();
    }
    let ubl = started.elapsed();

    let n = ids.len() as f64;
    let rate = |d: std::time::Duration| n / d.as_secs_f64().max(1e-9);
    let mut table = Table::new(
        format!("[documents] {engine}: {} distinct invoices of 5 lines, one task", thousands(ids.len() as u64)),
        &["work", "invoices/s", "vs the read alone", "average size"],
    );
    table.row([
        "read in full (decrypt, audit): the baseline".to_string(),
        per_sec(rate(read)),
        "1.00x".into(),
        String::new(),
    ]);
    table.row([
        "render the PDF".to_string(),
        per_sec(rate(pdf)),
        ratio(rate(pdf), rate(read)),
        format!("{} bytes", pdf_bytes / ids.len()),
    ]);
    table.row([
        "render the UBL".to_string(),
        per_sec(rate(ubl)),
        ratio(rate(ubl), rate(read)),
        format!("{} bytes", ubl_bytes / ids.len()),
    ]);
    table.row([
        "read + PDF (a download)".to_string(),
        per_sec(rate(read + pdf)),
        ratio(rate(read + pdf), rate(read)),
        String::new(),
    ]);
    table.note("ratios are rates: above 1.00x is faster than reading the invoice");
    Ok(table)
}
