//! `custodian validate KIND VALUE`: a value checked and normalised, as the
//! forms and the store would take it.

use std::io::Write;
use std::process::ExitCode;

use clap::ValueEnum;
use custodian_domain::Lang;
use custodian_domain::validate::{Btw, DutchPostcode, Email, Iban, Kvk, Phone};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum ValueKind {
    Iban,
    Btw,
    Kvk,
    Postcode,
    Phone,
    Email,
}

/// Prints the normalised value, or says why it is invalid (exit code 2).
pub(crate) fn run(out: &mut impl Write, lang: Lang, kind: ValueKind, value: &str) -> anyhow::Result<ExitCode> {
    let result = match kind {
        ValueKind::Iban => Iban::parse(value).map(|v| v.to_string()),
        ValueKind::Btw => Btw::parse(value).map(|v| v.to_string()),
        ValueKind::Kvk => Kvk::parse(value).map(|v| v.to_string()),
        ValueKind::Postcode => DutchPostcode::parse(value).map(|v| v.to_string()),
        ValueKind::Phone => Phone::parse(value).map(|v| v.to_string()),
        ValueKind::Email => Email::parse(value).map(|v| v.to_string()),
    };
    match result {
        Ok(v) => writeln!(out, "{v}")?,
        Err(e) => {
            eprintln!("invalid {}: {} ({})", e.kind, e.message(lang), e.rule);
            return Ok(ExitCode::from(2));
        }
    }
    Ok(ExitCode::SUCCESS)
}
