//! The command line: the clap definition of every command and the dispatch to
//! its group's module. Each command parses its input into domain types, calls
//! the store, and prints; no rules live here. Group modules use only
//! [`shared`], never each other or this module.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod account;
mod api_token;
mod audit;
mod backup;
mod calendar;
mod contact;
mod customer;
mod inventory;
mod invoice;
mod invoice_docs;
mod keys;
mod registry;
mod retention;
mod serve;
mod service;
mod setup;
mod shared;
mod statute;
mod validate;

use shared::Format;
pub use shared::{describe, exit_code};

use crate::config::Config;

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
    Customer(customer::CustomerCmd),
    /// Registry contacts (handles) of a customer, without a registry.
    #[command(subcommand)]
    Contact(contact::ContactCmd),
    /// Handles at a registry: add, list, show, update, delete (queued for the registry).
    #[command(subcommand)]
    Handle(registry::HandleCmd),
    /// Domains: register with existing handles, list.
    #[command(subcommand)]
    Domain(registry::DomainCmd),
    /// The registry outbox: operations, retry, sync, reconcile.
    #[command(subcommand)]
    Registry(registry::RegistryCmd),
    /// Services of a customer.
    #[command(subcommand)]
    Service(service::ServiceCmd),
    /// Invoices.
    #[command(subcommand)]
    Invoice(invoice::InvoiceCmd),
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
    Audit(audit::AuditCmd),
    /// The master key.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// API tokens for automation (`/api/v1`).
    #[command(subcommand)]
    ApiToken(api_token::ApiTokenCmd),
    /// Staff and bookkeeper accounts: add, list, disable, enable, remove, end sessions.
    #[command(subcommand)]
    Account(account::AccountCmd),
    /// The Dutch working-day calendar.
    #[command(subcommand)]
    Calendar(calendar::CalendarCmd),
    /// The retention schedule: what is due, carrying it out, when next.
    #[command(subcommand)]
    Retention(retention::RetentionCmd),
    /// Encrypted backups: run, list, verify, restore.
    #[command(subcommand)]
    Backup(backup::BackupCmd),
    /// Check a value and print its normalised form.
    Validate {
        #[arg(value_enum)]
        kind: validate::ValueKind,
        value: String,
    },
}

pub async fn run(args: Args, config: Config) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let config = &config;
    match args.command {
        Command::Serve { listen } => {
            drop(out);
            serve::run(config, listen).await?;
        }
        Command::Init => setup::init(&mut out, config).await?,
        Command::Migrate => setup::migrate(&mut out, config).await?,
        Command::Config => setup::show_config(&mut out, config)?,
        Command::Validate { kind, value } => return validate::run(&mut out, config.language, kind, &value),
        Command::Inventory { format } => inventory::run(&mut out, format, config.language, &config.registries)?,
        Command::Customer(cmd) => customer::run(&mut out, config, cmd).await?,
        Command::Contact(cmd) => contact::run(&mut out, config, cmd).await?,
        Command::Handle(cmd) => registry::handle(&mut out, config, cmd).await?,
        Command::Domain(cmd) => registry::domain(&mut out, config, cmd).await?,
        Command::Registry(cmd) => registry::registry(&mut out, config, cmd).await?,
        Command::Service(cmd) => service::run(&mut out, config, cmd).await?,
        Command::Calendar(cmd) => calendar::run(&mut out, config, cmd)?,
        Command::Retention(cmd) => retention::run(&mut out, config, cmd).await?,
        Command::Backup(cmd) => backup::run(&mut out, config, cmd).await?,
        Command::Invoice(cmd) => invoice::run(&mut out, config, cmd).await?,
        Command::Statute { customer, version, accepted_on } => {
            statute::run(&mut out, config, customer, &version, accepted_on.as_deref()).await?
        }
        Command::Audit(cmd) => return audit::run(&mut out, config, cmd).await,
        Command::ApiToken(cmd) => api_token::run(&mut out, config, cmd).await?,
        Command::Account(cmd) => account::run(&mut out, config, cmd).await?,
        Command::Keys(cmd) => keys::run(&mut out, config, cmd).await?,
    }
    Ok(ExitCode::SUCCESS)
}
