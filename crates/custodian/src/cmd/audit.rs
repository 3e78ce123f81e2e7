//! `custodian audit …`: the hash chain verified, and the entries about one customer.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;
use custodian_store::AccessPurpose;

use super::shared::{Format, format_micros, open, operator, print};
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub(crate) enum AuditCmd {
    /// Check the hash chain; exit 1 and name the first broken entry if altered.
    Verify,
    /// Entries about one customer.
    Show {
        #[arg(long)]
        subject: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Exit code 1 when the chain is broken.
pub(crate) async fn run(out: &mut impl Write, config: &Config, cmd: AuditCmd) -> anyhow::Result<ExitCode> {
    let store = open(config).await?;
    match cmd {
        AuditCmd::Verify => {
            let v = store.audit_verify().await?;
            match v.problem {
                None => writeln!(out, "audit trail intact: {} entries", v.entries)?,
                Some(p) => {
                    writeln!(out, "audit trail BROKEN: {p} ({} entries before it verified)", v.entries)?;
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        AuditCmd::Show { subject, format } => {
            let entries = store.access_log(&operator(AccessPurpose::Administration), subject).await?;
            print(out, format, &entries, |out, e| {
                writeln!(
                    out,
                    "{:>6}  {}  {}:{}  {}  {}  [{}]{}",
                    e.seq,
                    format_micros(e.at),
                    e.actor_kind,
                    e.actor_id,
                    e.action,
                    e.purpose,
                    e.fields.join(","),
                    e.source.as_ref().map(|s| format!("  from {s}")).unwrap_or_default()
                )
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
