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
        let quantity: i64 = quantity.parse().map_err(|_| bad())?;
        let unit_price_cents: i64 = price.parse().map_err(|_| bad())?;
        let vat_rate_bp = parse_vat_rate(vat).ok_or_else(bad)?;
        InvoiceLine::new(description, quantity, unit_price_cents, vat_rate_bp)
    }

    /// A line from its parts, with the limits every line keeps.
    pub fn new(
        description: &str,
        quantity: i64,
        unit_price_cents: i64,
        vat_rate_bp: i64,
    ) -> Result<InvoiceLine, Invalid> {
        let description = Text::parse(description)?;
        if !(1..=1_000_000).contains(&quantity) || !(-100_000_000..=100_000_000).contains(&unit_price_cents) {
            return Err(Invalid::new(
                "invoice_line",
                "range",
                "Aantal moet 1 tot 1.000.000 zijn en de prijs hoogstens 1.000.000 euro.",
                "Quantity must be 1 to 1,000,000 and the price at most 1,000,000 euro.",
            ));
        }
        if !(0..=10_000).contains(&vat_rate_bp) {
            return Err(Invalid::new(
                "invoice_line",
                "vat_rate",
                "Het btw-percentage ligt tussen 0 en 100, met hoogstens twee decimalen.",
                "The VAT percentage lies between 0 and 100, with at most two decimals.",
            ));
        }
        Ok(InvoiceLine { description, quantity, unit_price_cents, vat_rate_bp })
    }

    pub fn net_cents(&self) -> i64 {
        self.quantity * self.unit_price_cents
    }
}

/// A VAT percentage (`21`, `9%`, `10,5`) in basis points.
pub fn parse_vat_rate(s: &str) -> Option<i64> {
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

impl InvoiceTotals {
    pub fn of(lines: &[InvoiceLine]) -> InvoiceTotals {
        let mut per_rate: BTreeMap<i64, i64> = BTreeMap::new();
        for l in lines {
            *per_rate.entry(l.vat_rate_bp).or_default() += l.net_cents();
        }
        let net_cents: i64 = per_rate.values().sum();
        let vat_cents: i64 = per_rate.iter().map(|(rate, net)| div_round(net * rate, 10_000)).sum();
        InvoiceTotals { net_cents, vat_cents, total_cents: net_cents + vat_cents }
    }
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
        InvoiceTotals::of(&self.lines)
    }

    /// Checks what a single line cannot: a number, at least one line, a sane due date.
    pub fn check(&self) -> Result<(), FieldErrors> {
        check_invoice(self.number.as_str(), self.issued_on, self.due_on, &self.lines)
    }
}

/// The checks of [`InvoiceData::check`], before the billing details are known.
pub fn check_invoice(
    number: &str,
    issued_on: time::Date,
    due_on: time::Date,
    lines: &[InvoiceLine],
) -> Result<(), FieldErrors> {
    let mut errs = vec![];
    if lines.is_empty() {
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
    if due_on < issued_on {
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
    let number_ok = !number.is_empty()
        && number.len() <= 32
        && number.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/');
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

/// Where an invoice stands, derived from its own amounts and dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceState {
    /// Something is due and the due date has not passed.
    Open,
    /// Something is due and the due date has passed.
    Overdue,
    /// Payments (with any partial credit) cover the total.
    Paid,
    /// Credit notes cancel the whole total.
    Credited,
    /// The invoice is itself a credit note: it is settled when made.
    CreditNote,
}

/// What [`InvoiceState::of`] reads: amounts in cents, `credited_cents` the
/// (negative) sum of the credit notes naming the invoice.
#[derive(Debug, Clone, Copy)]
pub struct InvoiceAmounts {
    pub total_cents: i64,
    pub paid_cents: i64,
    pub credited_cents: i64,
    pub credit_note: bool,
}

impl InvoiceAmounts {
    /// What is still to be paid (negative when more was paid than is now due).
    pub fn outstanding_cents(&self) -> i64 {
        if self.credit_note { 0 } else { self.total_cents + self.credited_cents - self.paid_cents }
    }
}

impl InvoiceState {
    pub fn of(amounts: InvoiceAmounts, due_on: time::Date, today: time::Date) -> InvoiceState {
        if amounts.credit_note {
            InvoiceState::CreditNote
        } else if amounts.credited_cents != 0 && amounts.total_cents + amounts.credited_cents <= 0 {
            InvoiceState::Credited
        } else if amounts.outstanding_cents() <= 0 {
            InvoiceState::Paid
        } else if due_on < today {
            InvoiceState::Overdue
        } else {
            InvoiceState::Open
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceState::Open => "open",
            InvoiceState::Overdue => "overdue",
            InvoiceState::Paid => "paid",
            InvoiceState::Credited => "credited",
            InvoiceState::CreditNote => "credit_note",
        }
    }
}

impl InvoiceLine {
    /// The line as a credit note carries it: the same line with a negative
    /// price, whichever sign it was given with.
    pub fn credited(&self) -> InvoiceLine {
        InvoiceLine { unit_price_cents: -self.unit_price_cents.abs(), ..self.clone() }
    }
}

/// Cents as euros with two decimals (`12.10`, `-0.50`).
pub fn format_cents(cents: i64) -> String {
    format!("{}{}.{:02}", if cents < 0 { "-" } else { "" }, cents.abs() / 100, cents.abs() % 100)
}

/// Euro cents as Dutch (`€ 1.234,56`, `€ -59,50`) or English (`€1,234.56`,
/// `-€59.50`) write them.
pub fn format_amount(cents: i64, lang: crate::Lang) -> String {
    let abs = cents.unsigned_abs();
    let minus = if cents < 0 { "-" } else { "" };
    match lang {
        crate::Lang::Nl => format!("€ {minus}{},{:02}", grouped(abs / 100, '.'), abs % 100),
        crate::Lang::En => format!("{minus}€{}.{:02}", grouped(abs / 100, ','), abs % 100),
    }
}

/// Groups digits in threes with `sep`.
fn grouped(mut n: u64, sep: char) -> String {
    let mut groups = Vec::new();
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut out = groups.pop().map(|g| g.to_string()).unwrap_or_default();
    while let Some(g) = groups.pop() {
        out.push(sep);
        out.push_str(&format!("{g:03}"));
    }
    out
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
    fn amounts_in_both_languages() {
        assert_eq!(format_amount(123_456, crate::Lang::Nl), "€ 1.234,56");
        assert_eq!(format_amount(123_456, crate::Lang::En), "€1,234.56");
        assert_eq!(format_amount(5, crate::Lang::Nl), "€ 0,05");
        assert_eq!(format_amount(-5950, crate::Lang::Nl), "€ -59,50");
        assert_eq!(format_amount(-5950, crate::Lang::En), "-€59.50");
        assert_eq!(format_amount(100_000_000_000, crate::Lang::Nl), "€ 1.000.000.000,00");
        assert_eq!(format_amount(100_100_000, crate::Lang::En), "€1,001,000.00");
        assert_eq!(format_amount(0, crate::Lang::En), "€0.00");
    }

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

    #[test]
    fn state_follows_payments_credits_and_the_due_date() {
        let due = time::macros::date!(2026 - 03 - 01);
        let before = time::macros::date!(2026 - 02 - 15);
        let after = time::macros::date!(2026 - 03 - 02);
        let amounts = |paid_cents, credited_cents| InvoiceAmounts {
            total_cents: 1210,
            paid_cents,
            credited_cents,
            credit_note: false,
        };
        assert_eq!(InvoiceState::of(amounts(0, 0), due, before), InvoiceState::Open);
        assert_eq!(InvoiceState::of(amounts(0, 0), due, due), InvoiceState::Open);
        assert_eq!(InvoiceState::of(amounts(1000, 0), due, after), InvoiceState::Overdue);
        assert_eq!(InvoiceState::of(amounts(1210, 0), due, after), InvoiceState::Paid);
        assert_eq!(InvoiceState::of(amounts(1000, -210), due, after), InvoiceState::Paid);
        assert_eq!(InvoiceState::of(amounts(0, -1210), due, after), InvoiceState::Credited);
        assert_eq!(amounts(1000, -100).outstanding_cents(), 110);
        let note = InvoiceAmounts { total_cents: -1210, paid_cents: 0, credited_cents: 0, credit_note: true };
        assert_eq!(InvoiceState::of(note, due, after), InvoiceState::CreditNote);
    }
}
