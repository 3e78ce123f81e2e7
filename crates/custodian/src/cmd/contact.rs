//! `custodian contact add`: a registry contact (handle) of a customer, kept
//! here without sending it to a registry.

use std::io::Write;

use clap::Subcommand;
use custodian_domain::model::ContactData;
use custodian_store::AccessPurpose;

use super::shared::{fields, open, operator};
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub(crate) enum ContactCmd {
    /// Add a registry contact for a customer.
    Add {
        customer: i64,
        #[arg(long)]
        registry: Option<String>,
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
}

pub(crate) async fn run(out: &mut impl Write, config: &Config, cmd: ContactCmd) -> anyhow::Result<()> {
    let ContactCmd::Add { customer, registry, set } = cmd;
    let data = ContactData::from_fields(&fields(&set)?)?;
    let store = open(config).await?;
    let id = store.add_contact(&operator(AccessPurpose::Registry), customer, registry.as_deref(), &data).await?;
    writeln!(out, "{id}")?;
    Ok(())
}
