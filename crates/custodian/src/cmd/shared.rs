//! What every command group uses: the store and the operator's access, input
//! parsing, output as a table or JSON, and errors as the user sees them. Group
//! modules depend on this one only, never on each other.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use custodian_backup::{BackupConfig, Settings};
use custodian_domain::Lang;
use custodian_domain::inventory::Role;
use custodian_domain::model::{CustomerKind, FieldErrors, Fields, parse_date};
use custodian_domain::retention::HoldReason;
use custodian_store::{Access, AccessPurpose, Actor, ErasureReason, Scope, Store, StoreError};
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::keyfile;

/// How a listing is printed.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum Format {
    Table,
    Json,
}

/// Bad input found by the command line itself (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Usage(pub(crate) String);

/// `field=value` pairs into [`Fields`].
pub(crate) fn fields(pairs: &[String]) -> Result<Fields, Usage> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=').map(|(k, v)| (k.trim().to_string(), v.to_string())).ok_or_else(|| {
                Usage(format!(
                    "--set takes FIELD=VALUE, got a value without '=' for {:?}",
                    p.split('=').next().unwrap_or("")
                ))
            })
        })
        .collect()
}

/// The person at the server's command line, giving `purpose`.
pub(crate) fn operator(purpose: AccessPurpose) -> Access {
    Access::new(Actor::operator(), purpose)
}

pub(crate) fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// `--on DATE`, or today.
pub(crate) fn day_or_today(on: Option<&str>, field: &str) -> Result<time::Date, FieldErrors> {
    on.map(|d| parse_date(d).map_err(|e| FieldErrors::single(field, e))).transpose().map(|d| d.unwrap_or_else(today))
}

/// A time in microseconds since the epoch as RFC 3339 (the number itself if out of range).
pub(crate) fn format_micros(us: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(us / 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| us.to_string())
}

/// `value` as pretty JSON and a newline.
pub(crate) fn write_json<W: Write, T: serde::Serialize + ?Sized>(out: &mut W, value: &T) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// `items` as pretty JSON, or one table line each.
pub(crate) fn print<W: Write, T: serde::Serialize>(
    out: &mut W,
    format: Format,
    items: &[T],
    line: impl Fn(&mut W, &T) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    if format == Format::Json {
        return write_json(out, items);
    }
    for item in items {
        line(out, item)?;
    }
    Ok(())
}

/// Opens the store; a fresh SQLite data directory is initialised on the way.
pub(crate) async fn open(config: &Config) -> anyhow::Result<Store> {
    let fresh_sqlite = config.sqlite_path().is_some_and(|p| !p.exists());
    if !keyfile::exists(config) && fresh_sqlite {
        keyfile::create(config)?;
        tracing::warn!(file = %config.master_key_file.display(), "created a new master key; keep a copy offline");
    }
    if !keyfile::exists(config) {
        anyhow::bail!(
            "no master key: run `custodian init`, set CUSTODIAN_MASTER_KEY, or restore {}",
            config.master_key_file.display()
        );
    }
    if let Some(dir) = config.sqlite_path().as_ref().and_then(|p| p.parent()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    keyfile::open_store(config).await
}

/// After a command erased or deleted something: when backups are set up,
/// the erasure journal goes to the repository now, so that a restore of an
/// earlier snapshot erases it again even if this database is lost before
/// the next backup (deletion is final, also after a restore). `serve` does
/// the same for what it erases; when it (or another backup command) holds
/// the backup lock at this moment, the journal goes with that run or with
/// `serve`'s next look. A push that fails is an error: the erasure stands,
/// but the operator must know the repository does not have it yet.
pub(crate) async fn push_erasures(out: &mut impl Write, config: &Config, store: &Store) -> anyhow::Result<()> {
    if config.backup.service.is_none() {
        return Ok(());
    }
    let lang = config.language;
    let settings = backup_settings(config)?;
    match custodian_backup::push_journal(&settings, &config.database_url).await {
        Ok(position) => {
            store.journal_stored(position).await?;
            writeln!(
                out,
                "{}",
                lang.pick(
                    "wisjournaal naar de back-upopslag gestuurd",
                    "erasure journal sent to the backup repository"
                )
            )?
        }
        Err(custodian_backup::BackupError::Busy) => writeln!(
            out,
            "{}",
            lang.pick(
                "wisjournaal: er loopt al een back-up; die neemt het mee",
                "erasure journal: a backup is running; it takes the journal along"
            )
        )?,
        Err(e) => {
            return Err(anyhow::Error::new(e).context(lang.pick(
                "gewist, maar het wisjournaal kon niet naar de back-upopslag; een teruggezette back-up zou deze gegevens terugbrengen tot `custodian backup run` of `serve` het journaal verstuurt",
                "erased, but the erasure journal could not be sent to the backup repository; a restored backup would bring this data back until `custodian backup run` or `serve` sends the journal",
            )));
        }
    }
    Ok(())
}

/// The settings of `[backup]`, or why backups cannot run.
pub(crate) fn backup_settings(config: &Config) -> anyhow::Result<Settings> {
    let b = &config.backup;
    let service = b.service.clone().ok_or_else(|| {
        Usage(
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
        options.insert(key.into(), secret.expose_secret().to_string());
    }
    let password = match (&config.backup_password, &b.password_file) {
        (Some(p), _) => p.expose_secret().to_string(),
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("reading the backup password file {}", file.display()))?
            .trim_end_matches(['\r', '\n'])
            .to_string(),
        (None, None) => {
            return Err(Usage(
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
        return Err(Usage("the backup password is empty".into()).into());
    }
    Ok(Settings {
        service,
        options,
        password: password.into(),
        keep_days: b.keep_days,
        max_days: b.max_days,
        work_dir: config.data_dir.join("backup-work"),
    })
}

/// "choose one of: a, b, c" for a closed list of names.
fn choose_one(names: impl IntoIterator<Item = &'static str>) -> String {
    format!("choose one of: {}", names.into_iter().collect::<Vec<_>>().join(", "))
}

pub(crate) fn parse_kind(s: &str) -> Result<CustomerKind, String> {
    CustomerKind::parse(s).map_err(|e| e.message(Lang::En).to_string())
}

pub(crate) fn parse_purpose(s: &str) -> Result<AccessPurpose, String> {
    AccessPurpose::parse(s).ok_or_else(|| choose_one(AccessPurpose::ALL.iter().map(|p| p.as_str())))
}

pub(crate) fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).filter(|r| *r != Role::Subject).ok_or_else(|| "choose one of: owner, staff, bookkeeper".into())
}

pub(crate) fn parse_scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s).ok_or_else(|| choose_one(Scope::ALL.iter().map(|s| s.as_str())))
}

pub(crate) fn parse_hold_reason(s: &str) -> Result<HoldReason, String> {
    HoldReason::parse(s).ok_or_else(|| choose_one(HoldReason::ALL.iter().map(|r| r.as_str())))
}

pub(crate) fn parse_reason(s: &str) -> Result<ErasureReason, String> {
    match ErasureReason::parse(s) {
        Some(r @ (ErasureReason::CustomerRequest | ErasureReason::RetentionExpired)) => Ok(r),
        _ => Err("choose customer_request or retention_expired".into()),
    }
}

/// Turns an error into the line the user sees, in their language where we have it.
pub fn describe(e: &anyhow::Error, lang: Lang) -> String {
    if let Some(f) = e.downcast_ref::<FieldErrors>().or_else(|| match e.downcast_ref::<StoreError>() {
        Some(StoreError::Invalid(f)) => Some(f),
        _ => None,
    }) {
        return format!("{}\n{}", lang.pick("ongeldige invoer:", "invalid input:"), f.render(lang));
    }
    format!("{e:#}")
}

/// 2 for bad input (nothing was written), 1 for everything else.
pub fn exit_code(e: &anyhow::Error) -> ExitCode {
    let bad_input = e.downcast_ref::<FieldErrors>().is_some()
        || e.downcast_ref::<Usage>().is_some()
        || matches!(
            e.downcast_ref::<StoreError>(),
            Some(
                StoreError::Invalid(_)
                    | StoreError::NotFound { .. }
                    | StoreError::Refused(_)
                    | StoreError::Erased(_)
                    | StoreError::Denied(_)
            )
        );
    if bad_input { ExitCode::from(2) } else { ExitCode::FAILURE }
}
