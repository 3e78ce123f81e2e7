use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::address::Address;
use super::customer::CustomerData;
use super::form::{FieldErrors, Fields, Form, put};
use super::service::choice_enum;
use super::text::Text;
use crate::validate::{Btw, Email, Invalid, Kvk};

choice_enum!(Delivery, "delivery", {
    Post => "post",
    Email => "email",
});

/// The billing details an invoice must carry by law, copied from the customer when
/// the invoice is made. It outlives the customer record: it is kept with the
/// invoice for the invoice's own retention period (A6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingSnapshot {
    pub name: Text,
    pub contact: Option<Text>,
    pub address: Address,
    pub btw: Option<Btw>,
    pub kvk: Option<Kvk>,
    pub email: Option<Email>,
}

pub const BILLING_FIELDS: &[&str] = &[
    "billing_name",
    "billing_contact",
    "billing_street",
    "billing_postcode",
    "billing_city",
    "billing_country",
    "billing_btw",
    "billing_kvk",
    "billing_email",
];

impl BillingSnapshot {
    /// Takes the billing identity of a customer: the correspondence address when
    /// there is one, and the e-mail address only when the invoice goes by e-mail.
    pub fn of(customer: &CustomerData, delivery: Delivery) -> Result<BillingSnapshot, FieldErrors> {
        let name = customer.company_name.clone().or_else(|| customer.contact_name.clone());
        let name = name.ok_or_else(|| FieldErrors::single("billing_name", super::form::missing()))?;
        Ok(BillingSnapshot {
            name,
            contact: customer.company_name.as_ref().and(customer.contact_name.clone()),
            address: customer.correspondence_address.clone().unwrap_or_else(|| customer.visiting_address.clone()),
            btw: customer.btw.clone(),
            kvk: customer.kvk.clone(),
            email: (delivery == Delivery::Email).then(|| customer.email.clone()),
        })
    }

    pub fn from_fields(input: &Fields) -> Result<BillingSnapshot, FieldErrors> {
        let mut f = Form::new(input, BILLING_FIELDS);
        let name = f.required("billing_name", Text::parse);
        let contact = f.optional("billing_contact", Text::parse);
        let address = Address::read(&mut f, "billing", true);
        let btw = f.optional("billing_btw", Btw::parse);
        let kvk = f.optional("billing_kvk", Kvk::parse);
        let email = f.optional("billing_email", Email::parse);
        f.finish(|| Some(BillingSnapshot { name: name?, contact, address: address?, btw, kvk, email }))
    }

    pub fn to_fields(&self) -> Fields {
        let mut f = Fields::new();
        put(&mut f, "billing_name", Some(&self.name));
        put(&mut f, "billing_contact", self.contact.as_ref());
        self.address.write(&mut f, "billing");
        put(&mut f, "billing_btw", self.btw.as_ref());
        put(&mut f, "billing_kvk", self.kvk.as_ref());
        put(&mut f, "billing_email", self.email.as_ref());
        f
    }
}

/// One invoice line. Amounts in euro cents; the VAT rate in basis points
/// (2100 = 21 %).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub description: Text,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub vat_rate_bp: i64,
}

impl InvoiceLine {
    /// Parses `description;quantity;unit price in cents;VAT %` (e.g.
    /// `Webhosting 2026;1;5950;21`).
    pub fn parse(s: &str) -> Result<InvoiceLine, Invalid> {
        let bad = || {
            Invalid::new(
                "invoice_line",
                "format",
                "Schrijf een regel als omschrijving;aantal;prijs in centen;btw-percentage (bijv. Hosting;1;5950;21).",
                "Write a line as description;quantity;price in cents;VAT percentage (e.g. Hosting;1;5950;21).",
            )
        };
        let parts: Vec<&str> = s.split(';').map(str::trim).collect();
        let [description, quantity, price, vat] = parts.as_slice() else {
            return Err(bad());
        };
        let description = Text::parse(description)?;
        let quantity: i64 = quantity.parse().map_err(|_| bad())?;
        let unit_price_cents: i64 = price.parse().map_err(|_| bad())?;
        let vat_rate_bp = parse_vat_rate(vat).ok_or_else(bad)?;
        if !(1..=1_000_000).contains(&quantity) || !(-100_000_000..=100_000_000).contains(&unit_price_cents) {
            return Err(Invalid::new(
                "invoice_line",
                "range",
                "Aantal moet 1 tot 1.000.000 zijn en de prijs hoogstens 1.000.000 euro.",
                "Quantity must be 1 to 1,000,000 and the price at most 1,000,000 euro.",
            ));
        }
        Ok(InvoiceLine { description, quantity, unit_price_cents, vat_rate_bp })
    }

    pub fn net_cents(&self) -> i64 {
        self.quantity * self.unit_price_cents
    }
}

fn parse_vat_rate(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('%').replace(',', ".");
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    if frac.len() > 2 || whole.is_empty() {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().ok()? };
    let bp = whole * 100 + frac;
    (0..=10_000).contains(&bp).then_some(bp)
}

/// Totals of an invoice: VAT is computed per rate over the summed lines and
/// rounded half away from zero to whole cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceTotals {
    pub net_cents: i64,
    pub vat_cents: i64,
    pub total_cents: i64,
}

/// An invoice (A6, A12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceData {
    pub number: Text,
    pub issued_on: time::Date,
    pub due_on: time::Date,
    pub delivery: Delivery,
    pub lines: Vec<InvoiceLine>,
    pub billing: BillingSnapshot,
}

impl InvoiceData {
    pub fn totals(&self) -> InvoiceTotals {
        let mut per_rate: BTreeMap<i64, i64> = BTreeMap::new();
        for l in &self.lines {
            *per_rate.entry(l.vat_rate_bp).or_default() += l.net_cents();
        }
        let net_cents: i64 = per_rate.values().sum();
        let vat_cents: i64 = per_rate.iter().map(|(rate, net)| div_round(net * rate, 10_000)).sum();
        InvoiceTotals { net_cents, vat_cents, total_cents: net_cents + vat_cents }
    }

    /// Checks what a single line cannot: a number, at least one line, a sane due date.
    pub fn check(&self) -> Result<(), FieldErrors> {
        let mut errs = vec![];
        if self.lines.is_empty() {
            errs.push((
                "lines",
                Invalid::new(
                    "invoice",
                    "no_lines",
                    "Een factuur heeft minstens één regel.",
                    "An invoice needs at least one line.",
                ),
            ));
        }
        if self.due_on < self.issued_on {
            errs.push((
                "due_on",
                Invalid::new(
                    "date",
                    "before_issue",
                    "De vervaldatum ligt voor de factuurdatum.",
                    "The due date is before the invoice date.",
                ),
            ));
        }
        let number_ok = self.number.as_str().len() <= 32
            && self.number.as_str().chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/');
        if !number_ok {
            errs.push((
                "number",
                Invalid::new(
                    "invoice",
                    "number_format",
                    "Een factuurnummer heeft hoogstens 32 letters, cijfers, - of /.",
                    "An invoice number has at most 32 letters, digits, - or /.",
                ),
            ));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(FieldErrors(
                errs.into_iter().map(|(field, error)| super::FieldError { field: field.to_string(), error }).collect(),
            ))
        }
    }
}

fn div_round(n: i64, d: i64) -> i64 {
    let q = n / d;
    let r = n % d;
    if r.abs() * 2 >= d { q + n.signum() } else { q }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vat_per_rate_rounds_half_away_from_zero() {
        let line = |s| InvoiceLine::parse(s).unwrap();
        assert_eq!(line("Hosting;2;1250;21").vat_rate_bp, 2100);
        assert_eq!(line("Boek;1;999;9%").vat_rate_bp, 900);
        assert_eq!(line("x;1;1;10,5").vat_rate_bp, 1050);
        assert!(InvoiceLine::parse("x;0;1;21").is_err());
        assert!(InvoiceLine::parse("x;1;1").is_err());
        assert!(InvoiceLine::parse("x;1;1;101").is_err());
        assert_eq!(div_round(250, 100), 3);
        assert_eq!(div_round(249, 100), 2);
        assert_eq!(div_round(-250, 100), -3);
    }
}
