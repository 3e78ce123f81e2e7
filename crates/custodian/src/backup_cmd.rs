//! `custodian backup …` and the nightly backup of `serve`. The work is in
//! `custodian-backup`; this turns the configuration into its settings and
//! prints the outcome.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use custodian_backup::{BackupConfig, Settings, SnapshotInfo};
use custodian_domain::Lang;

use crate::config::Config;
use crate::keyfile;

#[derive(Subcommand, Debug)]
pub enum BackupCmd {
    /// Back up the database now (the server may keep running); `serve` does this nightly.
    Run,
    /// The restore points, oldest first.
    List,
    /// Download, decrypt and check a restore point, and open it with the master key.
    Verify {
        /// The restore point at or before this time (RFC 3339, or YYYY-MM-DD for the end of that day); default the newest.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// Restore into an empty database, erasing again everyone erased since.
    Restore {
        /// The restore point at or before this time (RFC 3339, or YYYY-MM-DD); default the newest.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// The new database: sqlite://PATH (a file that does not exist yet) or postgres://… (an empty database).
        #[arg(long, value_name = "DATABASE_URL")]
        into: String,
        /// Also replay the erasure journal of this database (the old one, when it still exists).
        #[arg(long, value_name = "DATABASE_URL")]
        journal_from: Option<String>,
    },
}

/// Bad input to a backup command (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackupUsage(pub String);

/// The settings of `[backup]`, or why backups cannot run.
pub fn settings(config: &Config) -> anyhow::Result<Settings> {
    let b = &config.backup;
    let service = b.service.clone().ok_or_else(|| {
        BackupUsage(
            config
                .language
                .pick(
                    "geen back-up ingesteld: zet service en options in [backup] van het configuratiebestand",
                    "no backup configured: set service and options in [backup] of the configuration file",
                )
                .into(),
        )
    })?;
    let mut options = b.options.clone();
    if let (Some(key), Some(secret)) = (BackupConfig::secret_option(&service), &config.backup_secret) {
        options.insert(key.into(), secret.clone());
    }
    let password = match (&config.backup_password, &b.password_file) {
        (Some(p), _) => p.clone(),
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("reading the backup password file {}", file.display()))?
            .trim_end_matches(['\r', '\n'])
            .to_string(),
        (None, None) => {
            return Err(BackupUsage(
                config
                    .language
                    .pick(
                        "geen back-upwachtwoord: zet CUSTODIAN_BACKUP_PASSWORD of password_file in [backup]",
                        "no backup password: set CUSTODIAN_BACKUP_PASSWORD or password_file in [backup]",
                    )
                    .into(),
            )
            .into());
        }
    };
    if password.is_empty() {
        return Err(BackupUsage("the backup password is empty".into()).into());
    }
    Ok(Settings {
        service,
        options,
        password,
        keep_days: b.keep_days,
        max_days: b.max_days,
        work_dir: config.data_dir.join("backup-work"),
    })
}

fn at(lang: Lang, at: Option<&str>) -> anyhow::Result<Option<i64>> {
    at.map(|s| {
        custodian_backup::parse_time(s).ok_or_else(|| {
            BackupUsage(
                lang.pick(
                    "--at: verwacht een tijd als 2026-03-01T02:00:00Z of een datum als 2026-03-01",
                    "--at: expected a time like 2026-03-01T02:00:00Z or a date like 2026-03-01",
                )
                .into(),
            )
            .into()
        })
    })
    .transpose()
}

fn line(s: &SnapshotInfo) -> String {
    format!("{}  {}  {} bytes", s.id, s.time_text(), s.size)
}

pub async fn run(out: &mut impl Write, config: &Config, cmd: BackupCmd) -> anyhow::Result<()> {
    let lang = config.language;
    // Bad --at is reported before anything is read or written.
    let when = match &cmd {
        BackupCmd::Verify { at: a } | BackupCmd::Restore { at: a, .. } => at(lang, a.as_deref())?,
        _ => None,
    };
    let settings = settings(config)?;
    match cmd {
        BackupCmd::Run => {
            let r = custodian_backup::run(&settings, &config.database_url).await?;
            writeln!(out, "{}", line(&r.snapshot))?;
            writeln!(out, "{} {} bytes", lang.pick("geüpload:", "uploaded:"), r.uploaded_bytes)?;
            if r.forgotten > 0 {
                writeln!(out, "{} {}", lang.pick("vergeten snapshots:", "snapshots forgotten:"), r.forgotten)?;
            }
        }
        BackupCmd::List => {
            for s in custodian_backup::list(&settings).await? {
                writeln!(out, "{}", line(&s))?;
            }
        }
        BackupCmd::Verify { .. } => {
            let r = custodian_backup::verify(&settings, when, keyfile::master_key(config)?).await?;
            writeln!(out, "{} {}", line(&r.snapshot), lang.pick("in orde", "ok"))?;
            writeln!(
                out,
                "{} {}, {} {}, {} {}",
                lang.pick("klanten", "customers"),
                r.customers,
                lang.pick("auditregels", "audit entries"),
                r.audit_entries,
                lang.pick("wisjournaal", "erasure journal"),
                r.journal_entries
            )?;
        }
        BackupCmd::Restore { into, journal_from, .. } => {
            let master = keyfile::master_key(config)?;
            let r = custodian_backup::restore(&settings, when, &into, journal_from.as_deref(), master).await?;
            writeln!(out, "{} {}", lang.pick("teruggezet:", "restored:"), line(&r.snapshot))?;
            writeln!(
                out,
                "{} {} ({} {}, {} {}, {} {})",
                lang.pick("opnieuw gewist volgens het wisjournaal:", "erased again from the erasure journal:"),
                r.journal_entries,
                lang.pick("klanten", "customers"),
                r.replayed.customers,
                lang.pick("handles", "handles"),
                r.replayed.handles,
                lang.pick("facturen", "invoices"),
                r.replayed.invoices
            )?;
        }
    }
    Ok(())
}

/// How often `serve` looks whether a backup or a journal push is due: an
/// erasure reaches the storage within about this long (looking is one
/// `MAX(seq)` read).
const TICK: Duration = Duration::from_secs(15);
/// The pause after a failed backup or push before the next attempt, so a
/// storage that is down is not hammered (nor the log filled).
const RETRY: Duration = Duration::from_secs(300);

/// The backups of `serve`: the nightly snapshot once the configured hour has
/// passed, and between those the erasure journal on its own whenever it grew,
/// so an erasure made today survives the loss of the database.
pub async fn scheduled(config: Config, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let Ok(settings) = settings(&config) else { return };
    let url = config.database_url.clone();
    let mut last_day = custodian_backup::list(&settings)
        .await
        .ok()
        .and_then(|s| s.last().map(|s| s.time))
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .map(|t| t.date());
    // What the storage already has: erasures made while no server ran are pushed now.
    let mut pushed = custodian_backup::stored_journal_position(&settings).await.unwrap_or(0);
    loop {
        let now = time::OffsetDateTime::now_utc();
        let mut pause = TICK;
        if now.hour() >= config.backup.hour && last_day != Some(now.date()) {
            match custodian_backup::run(&settings, &url).await {
                Ok(r) => {
                    tracing::info!(snapshot = %r.snapshot.id, uploaded = r.uploaded_bytes, "backup: done");
                    last_day = Some(now.date());
                    pushed = custodian_backup::journal_position(&url).await.unwrap_or(pushed);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "backup: failed; will try again");
                    pause = RETRY;
                }
            }
        } else if let Ok(position) = custodian_backup::journal_position(&url).await
            && position > pushed
        {
            match custodian_backup::push_journal(&settings, &url).await {
                Ok(p) => pushed = p,
                Err(e) => {
                    tracing::warn!(error = %e, "backup: erasure journal push failed; will try again");
                    pause = RETRY;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stopped.changed() => return,
        }
    }
}
