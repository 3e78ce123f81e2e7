//! `custodian service …`: a customer's services, added, ended and listed.

use std::io::Write;

use clap::Subcommand;
use custodian_domain::model::ServiceData;
use custodian_store::AccessPurpose;

use super::shared::{Format, day_or_today, fields, open, operator, print};
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub(crate) enum ServiceCmd {
    /// Add a service: --set kind=hosting --set description=... --set started_on=2026-01-01
    /// [--set for_third_party=yes]
    Add {
        customer: i64,
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
    /// List a customer's services (audited).
    List {
        customer: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// End a running service.
    End {
        id: i64,
        /// The last day (YYYY-MM-DD); default today.
        #[arg(long)]
        on: Option<String>,
    },
}

pub(crate) async fn run(out: &mut impl Write, config: &Config, cmd: ServiceCmd) -> anyhow::Result<()> {
    let access = operator(AccessPurpose::Administration);
    match cmd {
        ServiceCmd::Add { customer, set } => {
            let data = ServiceData::from_fields(&fields(&set)?)?;
            let store = open(config).await?;
            let id = store.add_service(&access, customer, &data).await?;
            writeln!(out, "{id}")?;
        }
        ServiceCmd::List { customer, format } => {
            let store = open(config).await?;
            let services = store.read_services(&access, customer).await?;
            print(out, format, &services, |out, s| {
                writeln!(
                    out,
                    "{}\t{}{}\t{}\t{}\t{}\t{}",
                    s.id,
                    s.kind,
                    if s.for_third_party { " (for a third party)" } else { "" },
                    s.status,
                    s.started_on,
                    s.ended_on.as_deref().unwrap_or("-"),
                    s.description.as_deref().unwrap_or("")
                )
            })?;
        }
        ServiceCmd::End { id, on } => {
            let on = day_or_today(on.as_deref(), "on")?;
            let store = open(config).await?;
            let ended = store.end_service(&access, id, on).await?;
            writeln!(out, "{}", if ended { "ended" } else { "already ended" })?;
        }
    }
    Ok(())
}
