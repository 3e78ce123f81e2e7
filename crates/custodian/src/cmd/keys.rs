//! `custodian keys rotate`: every data key re-wrapped under a new master key.

use std::io::Write;

use clap::Subcommand;
use custodian_store::AccessPurpose;

use super::shared::{open, operator};
use crate::config::Config;
use crate::keyfile;

#[derive(Subcommand, Debug)]
pub(crate) enum KeysCmd {
    /// Re-wrap every data key under a new master key (data is not rewritten).
    Rotate,
}

pub(crate) async fn run(out: &mut impl Write, config: &Config, cmd: KeysCmd) -> anyhow::Result<()> {
    let KeysCmd::Rotate = cmd;
    let store = open(config).await?;
    let (count, fingerprint) = keyfile::rotate(config, &store, &operator(AccessPurpose::Administration)).await?;
    writeln!(out, "re-wrapped {count} data keys; new master key fingerprint {fingerprint}")?;
    if config.master_key_env.is_some() {
        writeln!(
            out,
            "the new key is in {}: replace CUSTODIAN_MASTER_KEY with its content, or unset it",
            config.master_key_file.display()
        )?;
    }
    Ok(())
}
