//! `custodian api-token …`: tokens for `/api/v1`, created (the secret shown
//! once), listed and revoked.

use std::io::Write;

use clap::Subcommand;
use custodian_domain::inventory::Role;
use custodian_store::{AccessPurpose, Scope};

use super::shared::{Format, format_micros, open, operator, parse_role, parse_scope, print};
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub(crate) enum ApiTokenCmd {
    /// Create a token acting with ROLE within the given scopes; the secret is
    /// printed once and not kept.
    Create {
        /// A technical label: lowercase letters, digits, - _ .
        #[arg(long)]
        name: String,
        /// owner, staff or bookkeeper.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// customers:read, customers:write, invoices:read, invoices:write, services:write or audit:read (repeat for more).
        #[arg(long = "scope", value_parser = parse_scope, required = true)]
        scopes: Vec<Scope>,
        /// Days until the token expires; 0: until revoked.
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Revoke a token for good.
    Revoke { id: i64 },
}

pub(crate) async fn run(out: &mut impl Write, config: &Config, cmd: ApiTokenCmd) -> anyhow::Result<()> {
    let access = operator(AccessPurpose::Administration);
    let store = open(config).await?;
    match cmd {
        ApiTokenCmd::Create { name, role, scopes, days } => {
            let expires_at = (days > 0)
                .then(|| (time::OffsetDateTime::now_utc().unix_timestamp() + i64::from(days) * 86_400) * 1_000_000);
            let (token, secret) = store.create_api_token(&access, &name, role, &scopes, expires_at).await?;
            writeln!(out, "token {} created; copy the secret now, it is not kept:", token.id)?;
            writeln!(out, "{}", secret.as_str())?;
        }
        ApiTokenCmd::List { format } => {
            let tokens = store.api_tokens(&access).await?;
            print(out, format, &tokens, |out, t| {
                let scopes: Vec<_> = t.scopes.iter().map(|s| s.as_str()).collect();
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(at), _) => format!("revoked {}", format_micros(at)),
                    (None, Some(at)) => format!("expires {}", format_micros(at)),
                    (None, None) => "until revoked".into(),
                };
                let used = t.last_used_at.map(format_micros).unwrap_or_else(|| "never".into());
                writeln!(
                    out,
                    "{:>4}  {:<24} {:<10} {:<50} last used {used}; {state}",
                    t.id,
                    t.name,
                    t.role.as_str(),
                    scopes.join(" ")
                )
            })?;
        }
        ApiTokenCmd::Revoke { id } => {
            store.revoke_api_token(&access, id).await?;
            writeln!(out, "token {id} revoked")?;
        }
    }
    Ok(())
}
