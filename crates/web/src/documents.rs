//! A stored invoice as the documents `custodian-document` makes: the company's
//! invoicing details (`[invoicing]`) as the seller, the invoice's billing
//! snapshot as the buyer. Used by the pages (PDF downloads, the print queue)
//! and by the command line (`invoice pdf`, `invoice ubl`).

use custodian_document::{Buyer, Invoice, Line, Party};
use custodian_domain::Lang;
use custodian_domain::model::{Fields, parse_date};
use custodian_store::InvoiceRecord;

/// What a Dutch invoice must say about the company beyond its name and how to
/// reach it (`[invoicing]` in the configuration file).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Invoicing {
    pub street: String,
    pub postcode: String,
    pub city: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// KVK number (Chamber of Commerce).
    pub kvk: String,
    /// BTW identification number, e.g. `NL123456789B01`.
    pub vat_id: String,
    pub iban: String,
    pub bic: Option<String>,
}

impl Default for Invoicing {
    fn default() -> Self {
        Invoicing {
            street: String::new(),
            postcode: String::new(),
            city: String::new(),
            country: "NL".into(),
            kvk: String::new(),
            vat_id: String::new(),
            iban: String::new(),
            bic: None,
        }
    }
}

/// The company as the seller on its invoices.
pub fn seller(company: &str, contact: &crate::CompanyContact, invoicing: &Invoicing) -> Party {
    Party {
        name: company.to_string(),
        street: invoicing.street.clone(),
        postcode: invoicing.postcode.clone(),
        city: invoicing.city.clone(),
        country: invoicing.country.clone(),
        kvk: invoicing.kvk.clone(),
        vat_id: invoicing.vat_id.clone(),
        iban: invoicing.iban.clone(),
        bic: invoicing.bic.clone(),
        email: contact.email.clone(),
        phone: contact.phone.clone(),
    }
}

fn field(billing: &Fields, name: &str) -> Option<String> {
    billing.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// `record` (read in full: billing snapshot and lines) as a document in
/// `lang`; `None` when a stored date does not parse.
pub fn invoice(record: &InvoiceRecord, seller: Party, lang: Lang) -> Option<Invoice> {
    let b = &record.billing;
    let text = |name: &str| field(b, name).unwrap_or_default();
    Some(Invoice {
        number: record.number.clone(),
        issued_on: parse_date(&record.issued_on).ok()?,
        supply_date: None,
        due_on: parse_date(&record.due_on).ok()?,
        credit_for: record.credit_for.clone(),
        // The buyer's accounting knows us by their customer number with us.
        buyer_reference: Some(format!("{}", record.customer_id)),
        lines: record
            .lines
            .iter()
            .map(|l| Line {
                description: l.description.clone(),
                quantity: l.quantity,
                unit_price_cents: l.unit_price_cents,
                vat_rate_bp: l.vat_rate_bp,
            })
            .collect(),
        seller,
        buyer: Buyer {
            name: text("billing_name"),
            contact: field(b, "billing_contact"),
            street: text("billing_street"),
            postcode: text("billing_postcode"),
            city: text("billing_city"),
            country: field(b, "billing_country").unwrap_or_else(|| "NL".into()),
            vat_id: field(b, "billing_btw"),
            kvk: field(b, "billing_kvk"),
            email: field(b, "billing_email"),
        },
        lang,
    })
}

/// The file name of an invoice's document: its number with anything but
/// letters, digits, `-` and `_` replaced, so it is safe in a header and on disk.
pub fn file_name(number: &str, extension: &str) -> String {
    let safe: String =
        number.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    format!("{safe}.{extension}")
}
