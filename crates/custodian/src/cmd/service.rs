//! `custodian service …`: a customer's services, added and ended.

use std::io::Write;

use clap::Subcommand;
use custodian_domain::model::ServiceData;
use custodian_store::AccessPurpose;

use super::shared::{day_or_today, fields, open, operator};
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub(crate) enum ServiceCmd {
    /// Add a service: --set kind=hosting --set description=... --set started_on=2026-01-01
    Add {
        customer: i64,
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
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
        ServiceCmd::End { id, on } => {
            let on = day_or_today(on.as_deref(), "on")?;
            let store = open(config).await?;
            let ended = store.end_service(&access, id, on).await?;
            writeln!(out, "{}", if ended { "ended" } else { "already ended" })?;
        }
    }
    Ok(())
}
