//! The entities custodian keeps, as plain values. Each entity converts to and from
//! a flat map of field name → normalised text ([`Fields`]); the field names are the
//! ones declared in the [data inventory](crate::inventory), which is how storage,
//! forms, exports and erasure all agree on what a field is.

mod address;
mod contact;
mod customer;
mod form;
mod invoice;
mod service;
mod text;

pub use address::{Address, PostalCode};
pub use contact::{CONTACT_FIELDS, ContactData, LegalForm, parse_handle};
pub use customer::{CUSTOMER_FIELDS, CustomerData, CustomerKind, Gender, search_words};
pub use form::{FieldError, FieldErrors, Fields, Form};
pub use invoice::{
    BILLING_FIELDS, BillingSnapshot, Delivery, InvoiceAmounts, InvoiceData, InvoiceLine, InvoiceState, InvoiceTotals,
    check_invoice, format_amount, format_cents, parse_vat_rate,
};
pub(crate) use service::choice_enum;
pub use service::{SERVICE_FIELDS, ServiceData, ServiceKind, ServiceStatus};
pub use text::Text;

/// Parses an ISO date (`2026-01-05`).
pub fn parse_date(input: &str) -> Result<time::Date, crate::validate::Invalid> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(input.trim(), &format).map_err(|_| {
        crate::validate::Invalid::new(
            "date",
            "format",
            "Geef een datum als JJJJ-MM-DD, bijvoorbeeld 2026-01-05.",
            "Give a date as YYYY-MM-DD, for example 2026-01-05.",
        )
    })
}

/// Formats a date the way [`parse_date`] reads it.
pub fn format_date(date: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// A date as a letter writes it: `7 december 2026` / `7 December 2026`.
pub fn long_date(date: time::Date, lang: crate::Lang) -> String {
    const NL_MONTHS: [&str; 12] = [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ];
    let month = match lang {
        crate::Lang::Nl => NL_MONTHS[usize::from(u8::from(date.month())) - 1].to_string(),
        crate::Lang::En => date.month().to_string(),
    };
    format!("{} {month} {}", date.day(), date.year())
}
