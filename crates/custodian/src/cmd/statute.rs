//! `custodian statute`: a customer's acceptance of a statute or DPA version (A1).

use std::io::Write;

use custodian_domain::model::{FieldErrors, parse_date};
use custodian_store::AccessPurpose;

use super::shared::{open, operator, today};
use crate::config::Config;

/// Records the acceptance at midnight UTC of `accepted_on` (default today).
pub(crate) async fn run(
    out: &mut impl Write,
    config: &Config,
    customer: i64,
    version: &str,
    accepted_on: Option<&str>,
) -> anyhow::Result<()> {
    let date = match accepted_on {
        Some(d) => parse_date(d).map_err(|e| FieldErrors::single("accepted_on", e))?,
        None => today(),
    };
    let at = date.midnight().assume_utc().unix_timestamp() * 1_000_000;
    let store = open(config).await?;
    store.record_statute_acceptance(&operator(AccessPurpose::Administration), customer, version, at).await?;
    writeln!(out, "recorded")?;
    Ok(())
}
