//! `custodian init`, `migrate` and `config`: the installation itself.

use std::io::Write;

use super::shared::open;
use crate::config::{self, Config};
use crate::keyfile;

/// Creates the master key unless there is one, then the database.
pub(crate) async fn init(out: &mut impl Write, config: &Config) -> anyhow::Result<()> {
    if keyfile::exists(config) {
        writeln!(out, "master key present at {}", config.master_key_file.display())?;
    } else {
        keyfile::create(config)?;
        writeln!(out, "created master key {} (mode 0600); keep a copy offline", config.master_key_file.display())?;
    }
    let store = open(config).await?;
    writeln!(out, "database ready ({}), master key fingerprint {}", store.engine().name(), store.master_fingerprint())?;
    Ok(())
}

pub(crate) async fn migrate(out: &mut impl Write, config: &Config) -> anyhow::Result<()> {
    let store = open(config).await?;
    writeln!(out, "migrations applied ({})", store.engine().name())?;
    Ok(())
}

/// The effective configuration: where things are and where messages go, never a secret.
pub(crate) fn show_config(out: &mut impl Write, config: &Config) -> anyhow::Result<()> {
    writeln!(
        out,
        "config file          {}",
        config.file.as_ref().map(|p| p.display().to_string()).unwrap_or("(none)".into())
    )?;
    writeln!(out, "data_dir             {}", config.data_dir.display())?;
    writeln!(out, "database_url         {}", config.database_url_redacted())?;
    writeln!(out, "master_key_file      {}", config.master_key_file.display())?;
    writeln!(
        out,
        "master key source    {}",
        if config.master_key_env.is_some() { "CUSTODIAN_MASTER_KEY" } else { "key file" }
    )?;
    writeln!(out, "db_max_connections   {}", config.db_max_connections)?;
    writeln!(out, "language             {}", config.language.code())?;
    writeln!(out, "log                  {}", config.log)?;
    writeln!(out, "log_format           {}", config.log_format.as_str())?;
    writeln!(out, "login_attempts_per_minute {}", config.login_attempts_per_minute)?;
    writeln!(out, "listen               {}", config.listen)?;
    writeln!(out, "public_url           {}", config.public_url)?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => format!("{} + {}", cert.display(), key.display()),
        _ => "(none)".into(),
    };
    writeln!(out, "tls_cert, tls_key    {tls}")?;
    writeln!(out, "behind_tls_proxy     {}", config.behind_tls_proxy)?;
    let proxy = config.trusted_proxy.map_or_else(|| "(none)".to_string(), |ip| ip.to_string());
    writeln!(out, "trusted_proxy        {proxy}")?;
    writeln!(out, "company_name         {}", config.company_name)?;
    // Where messages go, never the secrets.
    let smtp = match &config.smtp {
        Some(s) => {
            let port = s.port.map_or_else(|| "default port".into(), |p| p.to_string());
            let security = serde_json::to_value(s.security)?;
            format!("{} {port} {}", s.host, security.as_str().unwrap_or_default())
        }
        None => "(none: no e-mail)".into(),
    };
    writeln!(out, "[smtp]               {smtp}")?;
    let sms = match &config.sms {
        Some(custodian_notify::SmsConfig::Cm(_)) => "cm",
        Some(custodian_notify::SmsConfig::Webhook(_)) => "webhook",
        None => "(none: codes by phone)",
    };
    writeln!(out, "[sms]                {sms}")?;
    for (name, r) in &config.registries.0 {
        writeln!(out, "[registries.{name}]    {}:{} tlds {}", r.host, r.port, r.tlds.join(","))?;
    }
    let r = &config.retention;
    writeln!(
        out,
        "[retention]          relationship_years {}, erasure {}, days_after_end {}, unused_handle_min_age_days {}, invoice_years {}, notice_days {}, batch {}",
        r.relationship_years,
        serde_json::to_value(r.erasure)?.as_str().unwrap_or_default(),
        r.days_after_end,
        r.unused_handle_min_age_days,
        r.invoice_years,
        r.notice_days,
        r.batch
    )?;
    let b = &config.backup;
    writeln!(
        out,
        "[backup]             service {}, keep_days {}, max_days {}, hour {} UTC",
        b.service.as_deref().unwrap_or("(none)"),
        b.keep_days,
        b.max_days,
        b.hour
    )?;
    writeln!(out, "\nkeys (TOML key, environment variable, default):")?;
    for (key, env, default, about) in config::KEYS {
        writeln!(out, "  {key:<20} {env:<30} {default:<34} {about}")?;
    }
    Ok(())
}
