//! An invoice or credit note as documents: a PDF to print or mail and a UBL 2.1
//! XML file in the Dutch NLCIUS profile for accounting software.
//!
//! The input is plain data that the caller fills from the stored invoice; this
//! crate does no I/O. Totals come from `custodian_domain`'s rules so the
//! documents always show what was stored.

mod amounts;
mod metrics;
mod pdf;
mod text;
mod ubl;

use serde::{Deserialize, Serialize};

pub use amounts::{Amounts, RateGroup};
pub use custodian_domain::Lang;
pub use pdf::{WINDOW_HEIGHT_MM, WINDOW_LEFT_MM, WINDOW_TOP_MM, WINDOW_WIDTH_MM, pdf, pdf_batch};
pub use text::{format_amount, format_date, format_rate};
pub use ubl::ubl;

/// The company that sends the invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub name: String,
    pub street: String,
    pub postcode: String,
    pub city: String,
    /// ISO 3166-1 alpha-2, e.g. `NL`.
    pub country: String,
    pub kvk: String,
    /// BTW-identificatienummer, e.g. `NL123456789B01`.
    pub vat_id: String,
    pub iban: String,
    pub bic: Option<String>,
    pub email: String,
    pub phone: String,
}

impl Party {
    /// The first detail a Dutch invoice needs from the seller that is blank.
    pub fn missing(&self) -> Option<PartyField> {
        [
            (&self.name, PartyField::Name),
            (&self.street, PartyField::Street),
            (&self.postcode, PartyField::Postcode),
            (&self.city, PartyField::City),
            (&self.country, PartyField::Country),
            (&self.kvk, PartyField::Kvk),
            (&self.vat_id, PartyField::VatId),
            (&self.iban, PartyField::Iban),
        ]
        .into_iter()
        .find_map(|(value, field)| blank(value).then_some(field))
    }
}

/// The customer the invoice is addressed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    pub name: String,
    /// Printed as "t.a.v." (for the attention of) in the address block.
    pub contact: Option<String>,
    pub street: String,
    pub postcode: String,
    pub city: String,
    /// ISO 3166-1 alpha-2, e.g. `BE`.
    pub country: String,
    pub vat_id: Option<String>,
    pub kvk: Option<String>,
    pub email: Option<String>,
}

/// One line. Amounts in euro cents, the VAT rate in basis points (2100 = 21 %).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub description: String,
    pub quantity: i64,
    /// Negative on a credit note.
    pub unit_price_cents: i64,
    pub vat_rate_bp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub number: String,
    pub issued_on: time::Date,
    /// Delivery date or start of the period supplied; `issued_on` when absent.
    pub supply_date: Option<time::Date>,
    pub due_on: time::Date,
    /// Set: this is a credit note for the invoice with that number.
    pub credit_for: Option<String>,
    /// The reference the buyer's accounting matches the invoice on (UBL
    /// `BuyerReference`; Peppol needs it or an order reference).
    pub buyer_reference: Option<String>,
    pub lines: Vec<Line>,
    pub seller: Party,
    pub buyer: Buyer,
    pub lang: Lang,
}

/// A field of a party that a Dutch invoice must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartyField {
    Name,
    Street,
    Postcode,
    City,
    Country,
    Kvk,
    VatId,
    Iban,
}

impl PartyField {
    fn label(self, lang: Lang) -> &'static str {
        match self {
            PartyField::Name => lang.pick("naam", "name"),
            PartyField::Street => lang.pick("straat", "street"),
            PartyField::Postcode => lang.pick("postcode", "postcode"),
            PartyField::City => lang.pick("plaats", "city"),
            PartyField::Country => lang.pick("landcode", "country code"),
            PartyField::Kvk => lang.pick("KVK-nummer", "KVK number"),
            PartyField::VatId => lang.pick("btw-nummer", "VAT number"),
            PartyField::Iban => "IBAN",
        }
    }
}

impl std::fmt::Display for PartyField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label(Lang::En))
    }
}

/// Why no document could be made. `Display` is English; [`DocumentError::message`]
/// speaks Dutch too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the invoice has no lines")]
    NoLines,
    #[error("the invoice number is empty")]
    EmptyNumber,
    #[error("the seller's {0} is missing")]
    MissingSeller(PartyField),
    #[error("the buyer's {0} is missing")]
    MissingBuyer(PartyField),
    #[error("line {0}: the description is empty")]
    EmptyDescription(usize),
    /// The limits of `custodian_domain::InvoiceLine::new`, which also keep the
    /// arithmetic far from overflow.
    #[error(
        "line {0}: the quantity must be 1 to 1,000,000, the price at most 1,000,000 euro and the VAT rate 0 to 100 %"
    )]
    LineOutOfRange(usize),
    #[error("the amounts are too large")]
    TooLarge,
    #[error("could not write the XML: {0}")]
    Xml(String),
}

impl DocumentError {
    pub fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.to_string(),
            Lang::Nl => match self {
                DocumentError::NoLines => "de factuur heeft geen regels".into(),
                DocumentError::EmptyNumber => "het factuurnummer is leeg".into(),
                DocumentError::MissingSeller(f) => format!("de {} van de verkoper ontbreekt", f.label(Lang::Nl)),
                DocumentError::MissingBuyer(f) => format!("de {} van de klant ontbreekt", f.label(Lang::Nl)),
                DocumentError::EmptyDescription(n) => format!("regel {n}: de omschrijving is leeg"),
                DocumentError::LineOutOfRange(n) => format!(
                    "regel {n}: het aantal moet 1 tot 1.000.000 zijn, de prijs hoogstens 1.000.000 euro en het btw-percentage 0 tot 100"
                ),
                DocumentError::TooLarge => "de bedragen zijn te groot".into(),
                DocumentError::Xml(e) => format!("kon de XML niet schrijven: {e}"),
            },
        }
    }
}

/// EU member states by the prefix of their VAT numbers (Greece uses `EL`).
const EU_VAT_PREFIXES: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IE", "IT", "LT", "LU", "LV",
    "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

impl Invoice {
    /// Checks what every document needs; `pdf` and `ubl` call it first.
    pub fn validate(&self) -> Result<(), DocumentError> {
        if blank(&self.number) {
            return Err(DocumentError::EmptyNumber);
        }
        if self.lines.is_empty() {
            return Err(DocumentError::NoLines);
        }
        if let Some(field) = self.seller.missing() {
            return Err(DocumentError::MissingSeller(field));
        }
        let b = &self.buyer;
        for (value, field) in [
            (&b.name, PartyField::Name),
            (&b.street, PartyField::Street),
            (&b.postcode, PartyField::Postcode),
            (&b.city, PartyField::City),
            (&b.country, PartyField::Country),
        ] {
            if blank(value) {
                return Err(DocumentError::MissingBuyer(field));
            }
        }
        for (i, l) in self.lines.iter().enumerate() {
            if blank(&l.description) {
                return Err(DocumentError::EmptyDescription(i + 1));
            }
            if !(1..=1_000_000).contains(&l.quantity)
                || !(-100_000_000..=100_000_000).contains(&l.unit_price_cents)
                || !(0..=10_000).contains(&l.vat_rate_bp)
            {
                return Err(DocumentError::LineOutOfRange(i + 1));
            }
        }
        // VAT multiplies a rate group's net by up to 10 000: keep that within i64.
        let gross: i64 = self
            .lines
            .iter()
            .try_fold(0i64, |acc, l| acc.checked_add((l.quantity * l.unit_price_cents).abs()))
            .ok_or(DocumentError::TooLarge)?;
        if gross > 100_000_000_000_000 {
            return Err(DocumentError::TooLarge);
        }
        Ok(())
    }

    pub fn is_credit_note(&self) -> bool {
        self.credit_for.is_some()
    }

    pub fn supply_date(&self) -> time::Date {
        self.supply_date.unwrap_or(self.issued_on)
    }

    /// Intra-EU reverse charge ("btw verlegd"): the buyer has a VAT number of
    /// another member state than the seller's, and lines are at 0 %.
    pub fn is_reverse_charge(&self) -> bool {
        self.buyer_in_other_eu_state() && self.lines.iter().any(|l| l.vat_rate_bp == 0)
    }

    fn buyer_in_other_eu_state(&self) -> bool {
        let Some(vat) = self.buyer.vat_id.as_deref().map(str::trim).filter(|v| v.len() > 2) else {
            return false;
        };
        let prefix = vat.get(..2).unwrap_or("").to_ascii_uppercase();
        let seller = self.seller.vat_id.trim().get(..2).unwrap_or("").to_ascii_uppercase();
        EU_VAT_PREFIXES.contains(&prefix.as_str()) && prefix != seller
    }

    /// Net, VAT per rate and total, as `custodian_domain` computes them.
    pub fn amounts(&self) -> Amounts {
        Amounts::of(&self.lines)
    }
}
