//! The command line. Each command parses its input into domain types, calls the
//! store, and prints; no rules live here.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use custodian_domain::Lang;
use custodian_domain::inventory;
use custodian_domain::inventory::Role;
use custodian_domain::model::format_date;
use custodian_domain::model::{
    ContactData, CustomerData, CustomerKind, Delivery, FieldErrors, Fields, InvoiceLine, ServiceData, parse_date,
};
use custodian_domain::retention::HoldReason;
use custodian_domain::validate::{Btw, Email, Iban, Invalid, Kvk, Phone};
use custodian_store::{
    Access, AccessPurpose, Actor, ErasureReason, Lookup, NewInvoice, Plan, RequestOutcome, Scope, Store, StoreError,
};

use crate::config::{self, Config};
use crate::keyfile;

#[derive(Parser, Debug)]
#[command(name = "custodian", version, about = "Customer administration that enforces its privacy protocol")]
pub struct Args {
    /// Directory for the SQLite database and the master key file.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file (default: <data-dir>/custodian.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the customer portal and the staff back-office (the main job).
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Create the data directory, the master key and the database.
    Init,
    /// Apply pending database migrations.
    Migrate,
    /// Print the effective configuration (never the key).
    Config,
    /// Customers: add, show, list, find, update, export, erase, import.
    #[command(subcommand)]
    Customer(CustomerCmd),
    /// Registry contacts (handles) of a customer, without a registry.
    #[command(subcommand)]
    Contact(ContactCmd),
    /// Handles at a registry: add, list, show, update, delete (queued for the registry).
    #[command(subcommand)]
    Handle(crate::registry_cmd::HandleCmd),
    /// Domains: register with existing handles, list.
    #[command(subcommand)]
    Domain(crate::registry_cmd::DomainCmd),
    /// The registry outbox: operations, retry, sync, reconcile.
    #[command(subcommand)]
    Registry(crate::registry_cmd::RegistryCmd),
    /// Services of a customer.
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Invoices.
    #[command(subcommand)]
    Invoice(InvoiceCmd),
    /// Record that a customer accepted a statute/DPA version (A1).
    Statute {
        customer: i64,
        #[arg(long)]
        version: String,
        /// Date of acceptance (YYYY-MM-DD); default today.
        #[arg(long)]
        accepted_on: Option<String>,
    },
    /// Print the data inventory.
    Inventory {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// The master key.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// API tokens for automation (`/api/v1`).
    #[command(subcommand)]
    ApiToken(ApiTokenCmd),
    /// Staff and bookkeeper accounts: add, list, disable, enable, remove, end sessions.
    #[command(subcommand)]
    Account(crate::cmd::account::AccountCmd),
    /// The Dutch working-day calendar.
    #[command(subcommand)]
    Calendar(CalendarCmd),
    /// The retention schedule: what is due, carrying it out, when next.
    #[command(subcommand)]
    Retention(RetentionCmd),
    /// Encrypted backups: run, list, verify, restore.
    #[command(subcommand)]
    Backup(crate::backup_cmd::BackupCmd),
    /// Check a value and print its normalised form.
    Validate {
        #[arg(value_enum)]
        kind: ValueKind,
        value: String,
    },
}

#[derive(Subcommand, Debug)]
enum CustomerCmd {
    /// Add a customer from `--set field=value` pairs (see `custodian inventory`).
    Add {
        #[arg(long, value_parser = parse_kind)]
        kind: CustomerKind,
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
        /// Entered by staff on the customer's behalf (M2).
        #[arg(long)]
        on_behalf: bool,
    },
    /// Show a customer (audited).
    Show {
        id: i64,
        #[arg(long, value_parser = parse_purpose)]
        purpose: AccessPurpose,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List customer numbers, kinds and status (no personal data).
    List {
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Find customers by exact e-mail, KVK number, or a whole word of the name.
    Find {
        #[arg(long, group = "by")]
        email: Option<String>,
        #[arg(long, group = "by")]
        kvk: Option<String>,
        #[arg(long, group = "by")]
        name: Option<String>,
    },
    /// Change fields; `--set field=` clears one. Nothing is saved if any is invalid.
    Update {
        id: i64,
        #[arg(long = "set", value_name = "FIELD=VALUE", required = true)]
        set: Vec<String>,
    },
    /// Everything about a customer as JSON (audited).
    Export {
        id: i64,
        #[arg(long, value_parser = parse_purpose, default_value = "data_subject_request")]
        purpose: AccessPurpose,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Erase a customer: personal data and key destroyed, invoices kept (A6).
    Erase {
        id: i64,
        #[arg(long, value_parser = parse_reason)]
        reason: ErasureReason,
    },
    /// Record the customer's request to be erased: carried out at once when
    /// nothing blocks it, else as soon as the blockers are gone.
    RequestErasure { id: i64 },
    /// Withdraw a waiting erasure request.
    WithdrawRequest { id: i64 },
    /// Place a legal hold: the customer is not erased until it is lifted.
    Hold {
        id: i64,
        /// tax_audit, legal_dispute, authority_request or debt_collection.
        #[arg(long, value_parser = parse_hold_reason)]
        reason: HoldReason,
    },
    /// Lift a legal hold.
    Release { id: i64 },
    /// Import customers from JSON lines: {"kind": "business", "fields": {...}}.
    Import {
        file: PathBuf,
        /// Customers per transaction.
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
}

#[derive(Subcommand, Debug)]
enum ContactCmd {
    /// Add a registry contact for a customer.
    Add {
        customer: i64,
        #[arg(long)]
        registry: Option<String>,
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ServiceCmd {
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

#[derive(Subcommand, Debug)]
enum CalendarCmd {
    /// The day of the yearly erasure: the first working day of January.
    FirstWorkingDay {
        #[arg(long, allow_negative_numbers = true)]
        year: i32,
    },
    /// The public holidays of a year (also those on a weekend).
    Holidays {
        #[arg(long, allow_negative_numbers = true)]
        year: i32,
    },
}

#[derive(Subcommand, Debug)]
enum RetentionCmd {
    /// What a run on DATE (default today) would erase and delete, and why; changes nothing.
    Plan {
        #[arg(long, value_name = "DATE")]
        on: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Carry out the plan for DATE (default today; not later than today).
    Run {
        #[arg(long, value_name = "DATE")]
        on: Option<String>,
    },
    /// The day of the next scheduled run.
    NextRun,
}

#[derive(Subcommand, Debug)]
enum InvoiceCmd {
    /// Issue an invoice; billing details are copied from the customer.
    Add {
        customer: i64,
        #[arg(long)]
        number: String,
        /// Invoice date (YYYY-MM-DD).
        #[arg(long)]
        date: String,
        /// Due date; default 30 days after the invoice date.
        #[arg(long)]
        due: Option<String>,
        #[arg(long, default_value = "post")]
        delivery: String,
        /// `description;quantity;unit price in cents;VAT %`, repeatable.
        #[arg(long = "line", required = true)]
        lines: Vec<String>,
    },
    /// Record that an invoice was paid.
    Paid {
        number: String,
        /// Day of payment (YYYY-MM-DD); default today.
        #[arg(long)]
        on: Option<String>,
    },
    /// List a customer's invoices (audited).
    List {
        customer: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCmd {
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

#[derive(Subcommand, Debug)]
enum KeysCmd {
    /// Re-wrap every data key under a new master key (data is not rewritten).
    Rotate,
}

#[derive(Subcommand, Debug)]
enum ApiTokenCmd {
    /// Create a token acting with ROLE within the given scopes; the secret is
    /// printed once and not kept.
    Create {
        /// A technical label: lowercase letters, digits, - _ .
        #[arg(long)]
        name: String,
        /// owner, staff or bookkeeper.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// customers:read, customers:write, invoices:read or audit:read (repeat for more).
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

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ValueKind {
    Iban,
    Btw,
    Kvk,
    Postcode,
    Phone,
    Email,
}

fn parse_kind(s: &str) -> Result<CustomerKind, String> {
    CustomerKind::parse(s).map_err(|e| e.message(Lang::En).to_string())
}

fn parse_purpose(s: &str) -> Result<AccessPurpose, String> {
    AccessPurpose::parse(s).ok_or_else(|| {
        let all: Vec<_> = AccessPurpose::ALL.iter().map(|p| p.as_str()).collect();
        format!("choose one of: {}", all.join(", "))
    })
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).filter(|r| *r != Role::Subject).ok_or_else(|| "choose one of: owner, staff, bookkeeper".into())
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s).ok_or_else(|| {
        let all: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        format!("choose one of: {}", all.join(", "))
    })
}

fn parse_hold_reason(s: &str) -> Result<HoldReason, String> {
    HoldReason::parse(s).ok_or_else(|| {
        let all: Vec<_> = HoldReason::ALL.iter().map(|r| r.as_str()).collect();
        format!("choose one of: {}", all.join(", "))
    })
}

/// `--on DATE`, or today.
fn day_or_today(on: Option<&str>, field: &str) -> Result<time::Date, FieldErrors> {
    on.map(|d| parse_date(d).map_err(|e| FieldErrors::single(field, e))).transpose().map(|d| d.unwrap_or_else(today))
}

fn parse_reason(s: &str) -> Result<ErasureReason, String> {
    match ErasureReason::parse(s) {
        Some(r @ (ErasureReason::CustomerRequest | ErasureReason::RetentionExpired)) => Ok(r),
        _ => Err("choose customer_request or retention_expired".into()),
    }
}

/// Bad input found by the command line itself.
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

pub(crate) fn operator(purpose: AccessPurpose) -> Access {
    Access::new(Actor::operator(), purpose)
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// Opens the store; a fresh SQLite data directory is initialised on the way.
pub(crate) async fn open(config: &Config) -> anyhow::Result<Store> {
    let fresh_sqlite = config.sqlite_path().is_some_and(|p| !p.exists());
    if !keyfile::exists(config) && fresh_sqlite {
        keyfile::create(config)?;
        eprintln!("created a new master key in {}; keep a copy offline", config.master_key_file.display());
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

pub async fn run(args: Args, config: Config) -> anyhow::Result<ExitCode> {
    let lang = config.language;
    let mut out = std::io::stdout().lock();
    match args.command {
        Command::Serve { listen } => {
            drop(out);
            serve(&config, listen).await?;
        }
        Command::Init => {
            if keyfile::exists(&config) {
                writeln!(out, "master key present at {}", config.master_key_file.display())?;
            } else {
                keyfile::create(&config)?;
                writeln!(
                    out,
                    "created master key {} (mode 0600); keep a copy offline",
                    config.master_key_file.display()
                )?;
            }
            let store = open(&config).await?;
            writeln!(
                out,
                "database ready ({}), master key fingerprint {}",
                store.engine().name(),
                store.master_fingerprint()
            )?;
        }
        Command::Migrate => {
            let store = open(&config).await?;
            writeln!(out, "migrations applied ({})", store.engine().name())?;
        }
        Command::Config => {
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
            writeln!(
                out,
                "[calendar]           liberation_day {}, good_friday {}",
                serde_json::to_value(r.calendar.liberation_day)?.as_str().unwrap_or_default(),
                r.calendar.good_friday
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
        }
        Command::Validate { kind, value } => {
            let result = match kind {
                ValueKind::Iban => Iban::parse(&value).map(|v| v.to_string()),
                ValueKind::Btw => Btw::parse(&value).map(|v| v.to_string()),
                ValueKind::Kvk => Kvk::parse(&value).map(|v| v.to_string()),
                ValueKind::Postcode => custodian_domain::validate::DutchPostcode::parse(&value).map(|v| v.to_string()),
                ValueKind::Phone => Phone::parse(&value).map(|v| v.to_string()),
                ValueKind::Email => Email::parse(&value).map(|v| v.to_string()),
            };
            match result {
                Ok(v) => writeln!(out, "{v}")?,
                Err(e) => {
                    eprintln!("invalid {}: {} ({})", e.kind, e.message(lang), e.rule);
                    return Ok(ExitCode::from(2));
                }
            }
        }
        Command::Inventory { format } => print_inventory(&mut out, format, lang, &config.registries)?,
        Command::Customer(cmd) => customer(&mut out, &config, cmd).await?,
        Command::Contact(ContactCmd::Add { customer, registry, set }) => {
            let data = ContactData::from_fields(&fields(&set)?)?;
            let store = open(&config).await?;
            let id =
                store.add_contact(&operator(AccessPurpose::Registry), customer, registry.as_deref(), &data).await?;
            writeln!(out, "{id}")?;
        }
        Command::Handle(cmd) => crate::registry_cmd::handle(&mut out, &config, cmd).await?,
        Command::Domain(cmd) => crate::registry_cmd::domain(&mut out, &config, cmd).await?,
        Command::Registry(cmd) => crate::registry_cmd::registry(&mut out, &config, cmd).await?,
        Command::Service(ServiceCmd::End { id, on }) => {
            let on = day_or_today(on.as_deref(), "on")?;
            let store = open(&config).await?;
            let ended = store.end_service(&operator(AccessPurpose::Administration), id, on).await?;
            writeln!(out, "{}", if ended { "ended" } else { "already ended" })?;
        }
        Command::Calendar(cmd) => calendar(&mut out, &config, cmd)?,
        Command::Retention(cmd) => retention(&mut out, &config, cmd).await?,
        Command::Backup(cmd) => crate::backup_cmd::run(&mut out, &config, cmd).await?,
        Command::Service(ServiceCmd::Add { customer, set }) => {
            let data = ServiceData::from_fields(&fields(&set)?)?;
            let store = open(&config).await?;
            let id = store.add_service(&operator(AccessPurpose::Administration), customer, &data).await?;
            writeln!(out, "{id}")?;
        }
        Command::Invoice(cmd) => invoice(&mut out, &config, cmd).await?,
        Command::Statute { customer, version, accepted_on } => {
            let date = match accepted_on {
                Some(d) => parse_date(&d).map_err(|e| FieldErrors::single("accepted_on", e))?,
                None => today(),
            };
            let at = date.midnight().assume_utc().unix_timestamp() * 1_000_000;
            let store = open(&config).await?;
            store.record_statute_acceptance(&operator(AccessPurpose::Administration), customer, &version, at).await?;
            writeln!(out, "recorded")?;
        }
        Command::Audit(AuditCmd::Verify) => {
            let store = open(&config).await?;
            let v = store.audit_verify().await?;
            match v.problem {
                None => writeln!(out, "audit trail intact: {} entries", v.entries)?,
                Some(p) => {
                    writeln!(out, "audit trail BROKEN: {p} ({} entries before it verified)", v.entries)?;
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Audit(AuditCmd::Show { subject, format }) => {
            let store = open(&config).await?;
            let entries = store.access_log(&operator(AccessPurpose::Administration), subject).await?;
            if format == Format::Json {
                serde_json::to_writer_pretty(&mut out, &entries)?;
                writeln!(out)?;
            } else {
                for e in entries {
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
                        e.source.map(|s| format!("  from {s}")).unwrap_or_default()
                    )?;
                }
            }
        }
        Command::ApiToken(ApiTokenCmd::Create { name, role, scopes, days }) => {
            let store = open(&config).await?;
            let expires_at = (days > 0)
                .then(|| (time::OffsetDateTime::now_utc().unix_timestamp() + i64::from(days) * 86_400) * 1_000_000);
            let (token, secret) = store
                .create_api_token(&operator(AccessPurpose::Administration), &name, role, &scopes, expires_at)
                .await?;
            writeln!(out, "token {} created; copy the secret now, it is not kept:", token.id)?;
            writeln!(out, "{}", secret.as_str())?;
        }
        Command::ApiToken(ApiTokenCmd::List { format }) => {
            let store = open(&config).await?;
            let tokens = store.api_tokens(&operator(AccessPurpose::Administration)).await?;
            if format == Format::Json {
                serde_json::to_writer_pretty(&mut out, &tokens)?;
                writeln!(out)?;
            } else {
                for t in tokens {
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
                    )?;
                }
            }
        }
        Command::ApiToken(ApiTokenCmd::Revoke { id }) => {
            let store = open(&config).await?;
            store.revoke_api_token(&operator(AccessPurpose::Administration), id).await?;
            writeln!(out, "token {id} revoked")?;
        }
        Command::Account(cmd) => crate::cmd::account::run(&mut out, &config, cmd).await?,
        Command::Keys(KeysCmd::Rotate) => {
            let store = open(&config).await?;
            let (count, fingerprint) =
                keyfile::rotate(&config, &store, &operator(AccessPurpose::Administration)).await?;
            writeln!(out, "re-wrapped {count} data keys; new master key fingerprint {fingerprint}")?;
            if config.master_key_env.is_some() {
                writeln!(
                    out,
                    "the new key is in {}: replace CUSTODIAN_MASTER_KEY with its content, or unset it",
                    config.master_key_file.display()
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the store, offers the owner setup link when nobody can log in yet, and
/// serves until Ctrl-C or SIGTERM.
async fn serve(config: &Config, listen: Option<std::net::SocketAddr>) -> anyhow::Result<()> {
    let store = open(config).await?;
    let addr = listen.unwrap_or(config.listen);
    let listener = std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    let bound = listener.local_addr()?;
    // Unless it was set, the public URL follows the address actually bound.
    let scheme = if config.tls_cert.is_some() { "https" } else { "http" };
    let public_url = if config.public_url == format!("{scheme}://{}", config.listen) {
        format!("{scheme}://{bound}")
    } else {
        config.public_url.clone()
    };
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(custodian_web::TlsFiles { cert: cert.clone(), key: key.clone() }),
        _ => None,
    };
    // Messages: queued by the web pages, sent by the worker, both only when a
    // channel is configured.
    let clock: std::sync::Arc<dyn custodian_notify::Clock> = std::sync::Arc::new(custodian_notify::SystemClock);
    let mailer = config.smtp.as_ref().map(custodian_notify::Mailer::new).transpose()?;
    let mailer_configured = mailer.is_some();
    let sms = config.sms.as_ref().map(custodian_notify::SmsGateway::new).transpose()?;
    let notifier = if mailer.is_some() || sms.is_some() {
        let branding =
            custodian_notify::Branding { company: config.company_name.clone(), portal_url: public_url.clone() };
        Some(custodian_notify::Notifier::new(store.clone(), branding, clock.clone())?)
    } else {
        None
    };
    // One set of registry sessions for the worker and the pages.
    let registry = if config.registries.0.is_empty() {
        None
    } else {
        let worker =
            custodian_registry::Worker::new(store.clone(), &config.registries, config.registry_worker.clone())?;
        Some(std::sync::Arc::new(worker))
    };
    let web = custodian_web::WebConfig {
        public_url: public_url.clone(),
        tls: tls.is_some() || config.behind_tls_proxy,
        trusted_proxy: config.trusted_proxy,
        company: config.company_name.clone(),
        attempts_per_minute: config.login_attempts_per_minute,
        sms: sms.is_some(),
        notifier: notifier.clone(),
        retention: config.retention.clone(),
        registry: registry.clone(),
        read_cache: config.read_cache,
        limits: config.http,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = if mailer.is_some() || sms.is_some() {
        let worker = custodian_notify::Worker::new(store.clone(), config.outbox.clone(), clock, mailer, sms)?;
        let mut stopped = stopped.clone();
        Some(tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stopped.changed().await;
                })
                .await
        }))
    } else {
        None
    };
    // Registry operations: sent by their worker when a registry is configured.
    let registry_worker = registry.clone().map(|worker| {
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stopped.changed().await;
                })
                .await
        })
    });
    // Notices of coming erasures go by e-mail only (A10).
    let retention = tokio::spawn(crate::scheduler::run(
        store.clone(),
        config.retention.clone(),
        notifier.filter(|_| mailer_configured),
        stopped.clone(),
    ));
    let backups = config
        .backup
        .service
        .is_some()
        .then(|| tokio::spawn(crate::backup_cmd::scheduled(config.clone(), stopped.clone())));
    println!("custodian listening on {bound} ({}), database {}", public_url, store.engine().name());
    if store.needs_setup().await? {
        let code = store.issue_setup_code().await?;
        println!(
            "No owner account yet. Create it within 24 hours, once, at:\n  {public_url}/setup?code={}",
            code.as_str()
        );
    }
    let shutdown = async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let term = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! { _ = ctrl_c => {}, _ = term => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    };
    custodian_web::serve(listener, tls, store, web, shutdown).await?;
    if let Some(w) = worker {
        let _ = w.await;
    }
    if let Some(w) = registry_worker {
        let _ = w.await;
    }
    let _ = retention.await;
    if let Some(b) = backups {
        let _ = b.await;
    }
    drop(stopped);
    Ok(())
}

async fn customer(out: &mut impl Write, config: &Config, cmd: CustomerCmd) -> anyhow::Result<()> {
    let lang = config.language;
    match cmd {
        CustomerCmd::Add { kind, set, on_behalf } => {
            let data = CustomerData::from_fields(kind, &fields(&set)?)?;
            let store = open(config).await?;
            let id = store.create_customer(&operator(AccessPurpose::Administration), &data, on_behalf).await?;
            writeln!(out, "{id}")?;
        }
        CustomerCmd::Show { id, purpose, format } => {
            let store = open(config).await?;
            let record = store.read_customer(&operator(purpose), id).await?;
            if format == Format::Json {
                serde_json::to_writer_pretty(&mut *out, &record)?;
                writeln!(out)?;
            } else {
                writeln!(out, "{:<32} {}", lang.pick("klantnummer", "customer number"), record.id)?;
                writeln!(out, "{:<32} {}", lang.pick("soort", "kind"), record.kind.as_str())?;
                writeln!(out, "{:<32} {}", "status", record.status)?;
                if let Some(by) = &record.entered_by {
                    writeln!(out, "{:<32} {by}", lang.pick("ingevoerd namens klant door", "entered on behalf by"))?;
                }
                for f in inventory::fields_of("customers") {
                    if let Some(v) = record.fields.get(f.column) {
                        writeln!(out, "{:<32} {v}", f.label(lang))?;
                    }
                }
            }
        }
        CustomerCmd::List { after, limit } => {
            let store = open(config).await?;
            for c in
                store.list_customers(&operator(AccessPurpose::Administration), after, limit.clamp(1, 10_000)).await?
            {
                writeln!(out, "{}\t{}\t{}\t{}", c.id, c.kind, c.status, format_micros(c.created_at))?;
            }
        }
        CustomerCmd::Find { email, kvk, name } => {
            let lookup = match (email, kvk, name) {
                (Some(e), _, _) => Lookup::Email(Email::parse(&e).map_err(|e| FieldErrors::single("email", e))?),
                (_, Some(k), _) => Lookup::Kvk(Kvk::parse(&k).map_err(|e| FieldErrors::single("kvk", e))?),
                (_, _, Some(n)) => Lookup::NameWord(n),
                _ => return Err(Usage("give --email, --kvk or --name".into()).into()),
            };
            let store = open(config).await?;
            for id in store.find_customers(&operator(AccessPurpose::Administration), &lookup).await? {
                writeln!(out, "{id}")?;
            }
        }
        CustomerCmd::Update { id, set } => {
            let changes = fields(&set)?;
            let store = open(config).await?;
            let changed = store.update_customer(&operator(AccessPurpose::Administration), id, &changes).await?;
            if changed.is_empty() {
                writeln!(out, "{}", lang.pick("niets gewijzigd", "nothing changed"))?;
            } else {
                writeln!(out, "{}: {}", lang.pick("gewijzigd", "changed"), changed.join(", "))?;
            }
        }
        CustomerCmd::Export { id, purpose, out: file } => {
            let store = open(config).await?;
            let export = store.export_customer(&operator(purpose), id).await?;
            match file {
                Some(path) => {
                    let f = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
                    serde_json::to_writer_pretty(f, &export)?;
                }
                None => {
                    serde_json::to_writer_pretty(&mut *out, &export)?;
                    writeln!(out)?;
                }
            }
        }
        CustomerCmd::Erase { id, reason } => {
            let store = open(config).await?;
            let erased = store.erase_customer(&operator(AccessPurpose::DataSubjectRequest), id, reason).await?;
            writeln!(out, "{}", if erased { "erased" } else { "already erased" })?;
        }
        CustomerCmd::RequestErasure { id } => {
            let store = open(config).await?;
            let access = operator(AccessPurpose::DataSubjectRequest);
            match store.request_erasure(&access, &config.retention, id, today()).await? {
                RequestOutcome::Erased => writeln!(out, "{}", lang.pick("gewist", "erased"))?,
                RequestOutcome::Waiting(blockers) => {
                    writeln!(out, "{}", lang.pick("verzoek vastgelegd; wacht op:", "request recorded; waiting for:"))?;
                    for b in blockers {
                        writeln!(out, "  {}: {}", b.code(), b.message(lang))?;
                    }
                }
            }
        }
        CustomerCmd::WithdrawRequest { id } => {
            let store = open(config).await?;
            let withdrawn = store.withdraw_erasure_request(&operator(AccessPurpose::DataSubjectRequest), id).await?;
            writeln!(out, "{}", if withdrawn { "withdrawn" } else { "no request was waiting" })?;
        }
        CustomerCmd::Hold { id, reason } => {
            let store = open(config).await?;
            store.place_legal_hold(&operator(AccessPurpose::LegalObligation), id, reason).await?;
            writeln!(out, "legal hold placed ({})", reason.as_str())?;
        }
        CustomerCmd::Release { id } => {
            let store = open(config).await?;
            let lifted = store.lift_legal_hold(&operator(AccessPurpose::LegalObligation), id).await?;
            writeln!(out, "{}", if lifted { "legal hold lifted" } else { "no legal hold was in place" })?;
        }
        CustomerCmd::Import { file, batch } => {
            let store = open(config).await?;
            let (count, first, last) = import(&store, &file, batch.clamp(1, 10_000), lang).await?;
            writeln!(out, "imported {count} customers (numbers {first} to {last})")?;
        }
    }
    Ok(())
}

/// One line of an import file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    kind: String,
    fields: Fields,
}

/// Streams the file: validates every line of a batch, writes the batch in one
/// transaction. A bad line stops the import before its batch is written and
/// names the line; batches before it stay imported.
async fn import(store: &Store, path: &PathBuf, batch_size: usize, lang: Lang) -> anyhow::Result<(u64, i64, i64)> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = std::io::BufReader::with_capacity(1 << 16, file);
    let access = operator(AccessPurpose::Administration);
    let mut batch = Vec::with_capacity(batch_size);
    let (mut count, mut first, mut last) = (0u64, 0i64, 0i64);
    for (n, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: ImportLine = serde_json::from_str(&line)
            .map_err(|e| Usage(format!("line {}: not a customer record ({})", n + 1, e.classify_name())))?;
        let kind = CustomerKind::parse(&parsed.kind)
            .map_err(|e| Usage(format!("line {}: kind: {}", n + 1, e.message(lang))))?;
        let data = CustomerData::from_fields(kind, &parsed.fields)
            .map_err(|e| Usage(format!("line {}:\n{}", n + 1, e.render(lang))))?;
        batch.push(data);
        if batch.len() == batch_size {
            flush(store, &access, &mut batch, &mut count, &mut first, &mut last).await?;
        }
    }
    flush(store, &access, &mut batch, &mut count, &mut first, &mut last).await?;
    Ok((count, first, last))
}

async fn flush(
    store: &Store,
    access: &Access,
    batch: &mut Vec<CustomerData>,
    count: &mut u64,
    first: &mut i64,
    last: &mut i64,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let ids = store.create_customers(access, batch).await?;
    if *first == 0 {
        *first = ids.first().copied().unwrap_or(0);
    }
    *last = ids.last().copied().unwrap_or(*last);
    *count += ids.len() as u64;
    batch.clear();
    Ok(())
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    /// serde_json's messages may quote the input; only the category is shown.
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "expected {\"kind\": ..., \"fields\": {...}} with text values",
            serde_json::error::Category::Eof => "incomplete JSON",
        }
    }
}

async fn invoice(out: &mut impl Write, config: &Config, cmd: InvoiceCmd) -> anyhow::Result<()> {
    match cmd {
        InvoiceCmd::Add { customer, number, date, due, delivery, lines } => {
            let mut errors = vec![];
            let issued_on = collect(&mut errors, "date", parse_date(&date));
            let due_on = match &due {
                Some(d) => collect(&mut errors, "due", parse_date(d)),
                None => issued_on.map(|d| d + time::Duration::days(30)),
            };
            let delivery = collect(&mut errors, "delivery", Delivery::parse(&delivery));
            let lines: Vec<_> =
                lines.iter().filter_map(|l| collect(&mut errors, "line", InvoiceLine::parse(l))).collect();
            let (Some(issued_on), Some(due_on), Some(delivery), true) =
                (issued_on, due_on, delivery, errors.is_empty())
            else {
                return Err(FieldErrors(errors).into());
            };
            let store = open(config).await?;
            let id = store
                .add_invoice(
                    &operator(AccessPurpose::Billing),
                    customer,
                    NewInvoice { number, issued_on, due_on, delivery, lines },
                )
                .await?;
            writeln!(out, "{id}")?;
        }
        InvoiceCmd::Paid { number, on } => {
            let on = day_or_today(on.as_deref(), "on")?;
            let store = open(config).await?;
            store.mark_invoice_paid(&operator(AccessPurpose::Billing), &number, on).await?;
            writeln!(out, "paid")?;
        }
        InvoiceCmd::List { customer, format } => {
            let store = open(config).await?;
            let invoices = store.read_invoices(&operator(AccessPurpose::Billing), customer).await?;
            if format == Format::Json {
                serde_json::to_writer_pretty(&mut *out, &invoices)?;
                writeln!(out)?;
            } else {
                for i in invoices {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{:.2}",
                        i.number,
                        i.issued_on,
                        i.delivery,
                        i.billing.get("billing_name").map(String::as_str).unwrap_or(""),
                        i.total_cents as f64 / 100.0
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// Keeps the value, or files the error under `field`.
fn collect<T>(errors: &mut Vec<custodian_domain::model::FieldError>, field: &str, r: Result<T, Invalid>) -> Option<T> {
    r.map_err(|error| errors.push(custodian_domain::model::FieldError { field: field.into(), error })).ok()
}

fn calendar(out: &mut impl Write, config: &Config, cmd: CalendarCmd) -> anyhow::Result<()> {
    let lang = config.language;
    let rules = &config.retention.calendar;
    let out_of_range = |e: custodian_domain::calendar::YearOutOfRange| Usage(e.message(lang));
    match cmd {
        CalendarCmd::FirstWorkingDay { year } => {
            writeln!(out, "{}", format_date(rules.first_working_day_of_january(year).map_err(out_of_range)?))?;
        }
        CalendarCmd::Holidays { year } => {
            for h in rules.holidays(year).map_err(out_of_range)? {
                writeln!(out, "{}  {}", format_date(h.date), h.name(lang))?;
            }
        }
    }
    Ok(())
}

async fn retention(out: &mut impl Write, config: &Config, cmd: RetentionCmd) -> anyhow::Result<()> {
    let lang = config.language;
    let policy = &config.retention;
    match cmd {
        RetentionCmd::Plan { on, format } => {
            let on = day_or_today(on.as_deref(), "on")?;
            let store = open(config).await?;
            let plan = store.retention_plan(policy, on).await?;
            if format == Format::Json {
                serde_json::to_writer_pretty(&mut *out, &plan)?;
                writeln!(out)?;
            } else {
                print_plan(out, &plan, lang)?;
            }
        }
        RetentionCmd::Run { on } => {
            let on = day_or_today(on.as_deref(), "on")?;
            if on > today() {
                return Err(Usage(
                    lang.pick(
                        "--on ligt na vandaag: een run wist alleen wat nu al aan de beurt is (bekijk de toekomst met `retention plan`)",
                        "--on is after today: a run only erases what is due by now (look ahead with `retention plan`)",
                    )
                    .into(),
                )
                .into());
            }
            let store = open(config).await?;
            let report = store.retention_run(&operator(AccessPurpose::Retention), policy, on).await?;
            writeln!(
                out,
                "{} {}: {} {}, {} {}, {} {}, {} {}, {} {}",
                lang.pick("retentierun", "retention run"),
                format_date(on),
                report.erased_retention_expired,
                lang.pick("klanten gewist (bewaartermijn voorbij)", "customers erased (retention ended)"),
                report.erased_on_request,
                lang.pick("op verzoek gewist", "erased on request"),
                report.handles_deleted,
                lang.pick("handles verwijderd", "handles deleted"),
                report.invoices_deleted,
                lang.pick("facturen verwijderd", "invoices deleted"),
                report.skipped,
                lang.pick("overgeslagen (intussen gewijzigd)", "skipped (changed meanwhile)"),
            )?;
        }
        RetentionCmd::NextRun => {
            let store = open(config).await?;
            let state = store.retention_schedule().await?;
            let today = today();
            let next = policy.next_due_run(today, state).map_err(|e| Usage(e.message(lang)))?;
            writeln!(out, "{}", format_date(next))?;
            if next < today {
                writeln!(
                    out,
                    "{}",
                    lang.pick(
                        "deze run is gemist en wordt ingehaald zodra `custodian serve` draait",
                        "this run was missed and is made up as soon as `custodian serve` runs"
                    )
                )?;
            }
        }
    }
    Ok(())
}

fn print_plan(out: &mut impl Write, plan: &Plan, lang: Lang) -> anyhow::Result<()> {
    let day = |d: Option<time::Date>| d.map(format_date).unwrap_or_else(|| "-".into());
    writeln!(
        out,
        "{} {} ({})",
        lang.pick("Retentieplan voor", "Retention plan for"),
        format_date(plan.on),
        lang.pick("er verandert niets", "nothing is changed")
    )?;
    writeln!(out, "{}\n", plan.cutoffs(lang))?;
    let cause = |c| match c {
        custodian_store::Cause::Request => lang.pick("verzoek", "request"),
        custodian_store::Cause::RetentionExpired => lang.pick("bewaartermijn voorbij", "retention ended"),
    };
    writeln!(out, "{} ({})", lang.pick("Klanten die gewist worden", "Customers to erase"), plan.erasures.len())?;
    writeln!(
        out,
        "  {:>10}  {:<22} {:<16} {}",
        lang.pick("klant", "customer"),
        lang.pick("reden", "cause"),
        lang.pick("relatie tot", "ended on"),
        lang.pick("gepland op", "due on")
    )?;
    for e in &plan.erasures {
        writeln!(
            out,
            "  {:>10}  {:<22} {:<16} {}",
            e.customer_id,
            cause(e.cause),
            day(e.relationship_ended_on),
            format_date(e.due_on)
        )?;
    }
    writeln!(
        out,
        "\n{} ({})",
        lang.pick("Aan de beurt, maar tegengehouden", "Due, but kept for now"),
        plan.blocked.len()
    )?;
    for e in &plan.blocked {
        let why: Vec<String> = e.blockers.iter().map(|b| b.message(lang)).collect();
        writeln!(
            out,
            "  {:>10}  {:<22} {:<16} {}  {}",
            e.customer_id,
            cause(e.cause),
            day(e.relationship_ended_on),
            format_date(e.due_on),
            why.join(" ")
        )?;
    }
    writeln!(
        out,
        "\n{} ({})",
        lang.pick("Ongebruikte handles die verwijderd worden", "Unused handles to delete"),
        plan.handles.len()
    )?;
    for h in &plan.handles {
        writeln!(
            out,
            "  {} {:>8}  {} {:>8}  {} {}  {} {}",
            lang.pick("contact", "contact"),
            h.contact_id,
            lang.pick("klant", "customer"),
            h.customer_id,
            lang.pick("laatst gebruikt", "last used"),
            format_date(h.last_used_on),
            lang.pick("gepland op", "due on"),
            format_date(h.due_on)
        )?;
    }
    writeln!(
        out,
        "\n{} ({})",
        lang.pick("Facturen die verwijderd worden", "Invoices to delete"),
        plan.invoice_ids.len()
    )?;
    for y in &plan.invoice_years {
        writeln!(
            out,
            "  {}: {} {}, {} {}",
            y.year,
            y.invoices,
            lang.pick("facturen", "invoices"),
            lang.pick("bewaard tot en met", "kept until"),
            format_date(y.kept_until)
        )?;
    }
    Ok(())
}

/// Where the holder data of a registry's handles lives (A8), for the inventory.
#[derive(serde::Serialize)]
struct RegistryMode<'a> {
    registry: &'a str,
    tlds: &'a [String],
    /// `stored_here` or `registry_only` (passthrough).
    holder_data: &'static str,
}

fn print_inventory(
    out: &mut impl Write,
    format: Format,
    lang: Lang,
    registries: &custodian_registry::Registries,
) -> anyhow::Result<()> {
    let modes: Vec<RegistryMode> = registries
        .0
        .iter()
        .map(|(name, c)| RegistryMode {
            registry: name,
            tlds: &c.tlds,
            holder_data: if c.passthrough { "registry_only" } else { "stored_here" },
        })
        .collect();
    if format == Format::Json {
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            fields: &'static [inventory::Field],
            derived: &'static [inventory::DerivedIndex],
            registries: &'a [RegistryMode<'a>],
        }
        let doc = Doc { fields: inventory::FIELDS, derived: inventory::DERIVED, registries: &modes };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<34} {:<30} {:<20} {:<20} {:<18} {:<30} {:<22} recipients",
        "table.column", "label", "category", "purpose", "basis", "readers", "retention"
    )?;
    for f in inventory::FIELDS {
        let readers: Vec<_> = f.readers().iter().map(|r| r.as_str()).collect();
        let recipients: Vec<_> = f.recipients.iter().map(|r| format!("{r:?}").to_lowercase()).collect();
        writeln!(
            out,
            "{:<34} {:<30} {:<20} {:<20} {:<18} {:<30} {:<22} {}",
            format!("{}.{}", f.table, f.column),
            f.label(lang),
            format!("{:?}", f.category),
            format!("{:?}", f.purpose),
            format!("{:?}", f.basis),
            readers.join(","),
            format!("{:?}", f.retention),
            recipients.join(",")
        )?;
    }
    for m in &modes {
        let place = match (m.holder_data, lang) {
            ("registry_only", Lang::Nl) => "alleen bij de registry (passthrough); hier alleen de handle-ID",
            ("registry_only", _) => "at the registry only (passthrough); here only the handle ID",
            (_, Lang::Nl) => "hier versleuteld en bij de registry",
            _ => "here, encrypted, and at the registry",
        };
        writeln!(out, "contacts.* {} {} ({}): {place}", lang.pick("bij", "at"), m.registry, m.tlds.join(", "))?;
    }
    Ok(())
}

fn format_micros(us: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(us / 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| us.to_string())
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
        || e.downcast_ref::<crate::backup_cmd::BackupUsage>().is_some()
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
