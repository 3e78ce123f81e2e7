//! `custodian handle …`, `custodian domain …` and `custodian registry …`:
//! handles and domains through the registry outbox, and the outbox itself.

use std::io::Write;

use clap::{Args, Subcommand};
use custodian_domain::model::ContactData;
use custodian_registry::Worker;
use custodian_store::registry::Target;
use custodian_store::{AccessPurpose, Store};

use super::shared::{Format, Usage, fields, open, operator, print};
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub(crate) enum HandleCmd {
    /// Create a handle for a customer (queued for the registry): --set name=… --set email=…
    Add {
        customer: i64,
        /// The registry that holds it (a `[registries.NAME]` section).
        #[arg(long)]
        registry: String,
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
    /// A customer's handles, their registry IDs and state, and the domains using each.
    List {
        customer: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The holder data of a handle (audited; fetched from the registry in passthrough mode).
    Show { id: i64 },
    /// Change a handle's holder data; the change is queued for the registry.
    Update {
        id: i64,
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
    /// Delete a handle no domain uses: at the registry first, then here.
    Delete { id: i64 },
}

#[derive(Subcommand, Debug)]
pub(crate) enum DomainCmd {
    /// Register a domain with existing handles of the customer (routed to a registry by TLD).
    Register {
        customer: i64,
        name: String,
        #[command(flatten)]
        handles: DomainHandles,
    },
    /// Point a domain at other handles of its customer (queued for the registry).
    Change {
        id: i64,
        #[command(flatten)]
        handles: DomainHandles,
    },
    /// A customer's domains.
    List {
        customer: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

// A domain's handles, by contact number (no doc comment: clap would take it
// for the subcommand's description).
#[derive(Args, Debug)]
pub(crate) struct DomainHandles {
    #[arg(long)]
    registrant: i64,
    #[arg(long)]
    admin: Option<i64>,
    #[arg(long)]
    tech: Option<i64>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum RegistryCmd {
    /// Registry operations, newest first, with the registry's result code and message.
    Ops {
        /// pending, sending, done or failed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Put a failed operation back in the queue.
    Retry { op: i64 },
    /// Send every ready operation now and read the registries' messages.
    Sync,
    /// Compare local handles and domains with the registry's (info commands); changes nothing.
    Reconcile { registry: String },
}

fn worker(config: &Config, store: &Store) -> anyhow::Result<Worker> {
    if config.registries.0.is_empty() {
        return Err(Usage("no registry is configured: add a [registries.NAME] section".into()).into());
    }
    Ok(Worker::new(store.clone(), &config.registries, config.registry_worker.clone())?)
}

fn target<'a>(config: &Config, registry: &'a str) -> Result<Target<'a>, Usage> {
    if config.registries.get(registry).is_none() {
        return Err(Usage(format!("no registry named {registry:?} is configured")));
    }
    Ok(Target { registry, passthrough: config.registries.passthrough(registry) })
}

pub(crate) async fn handle(out: &mut impl Write, config: &Config, cmd: HandleCmd) -> anyhow::Result<()> {
    let access = operator(AccessPurpose::Registry);
    match cmd {
        HandleCmd::Add { customer, registry, set } => {
            let target = target(config, &registry)?;
            let data = ContactData::from_fields(&fields(&set)?)?;
            let store = open(config).await?;
            let id = store.create_handle(&access, customer, target, &data).await?;
            writeln!(out, "{id}")?;
        }
        HandleCmd::List { customer, format } => {
            let store = open(config).await?;
            let handles = store.handles_of(&access, customer).await?;
            print(out, format, &handles, |out, h| {
                let mode = if h.passthrough { " passthrough" } else { "" };
                writeln!(
                    out,
                    "{:>6}  {:<18} {:<10} {:<9}{mode}  {}",
                    h.contact_id,
                    h.handle.as_deref().unwrap_or("-"),
                    h.registry.as_deref().unwrap_or("-"),
                    h.status,
                    h.domains.join(" ")
                )
            })?;
        }
        HandleCmd::Show { id } => {
            let store = open(config).await?;
            let summary = store.handle_id(&access, id).await?;
            let local = store.contact_fields(&access, id).await?;
            let passthrough = local.keys().all(|k| k == "handle");
            let fields = match (passthrough, summary.1) {
                (true, Some(handle)) => {
                    let registry = store
                        .handles_of(&access, summary.0)
                        .await?
                        .into_iter()
                        .find(|h| h.contact_id == id)
                        .and_then(|h| h.registry)
                        .unwrap_or_default();
                    let worker = worker(config, &store)?;
                    let reg = worker
                        .registry(&registry)
                        .ok_or_else(|| Usage(format!("registry {registry} is not configured")))?;
                    let remote = reg.contact_info(&handle, &reg.cltrid("show")).await?;
                    store.audit_registry_fetch(&access, id).await?;
                    remote.data.to_fields()
                }
                _ => local,
            };
            for (k, v) in fields {
                writeln!(out, "{k:<18} {v}")?;
            }
        }
        HandleCmd::Update { id, set } => {
            let store = open(config).await?;
            // The fields given replace the stored ones; passthrough handles need all of them.
            let mut merged = store.contact_fields(&access, id).await?;
            merged.extend(fields(&set)?);
            let data = ContactData::from_fields(&merged)?;
            store.update_handle(&access, id, &data).await?;
            writeln!(out, "handle {id} changed; queued for the registry")?;
        }
        HandleCmd::Delete { id } => {
            let store = open(config).await?;
            store.delete_handle(&access, id).await?;
            writeln!(out, "handle {id} deleted, at the registry first")?;
        }
    }
    Ok(())
}

pub(crate) async fn domain(out: &mut impl Write, config: &Config, cmd: DomainCmd) -> anyhow::Result<()> {
    let access = operator(AccessPurpose::Registry);
    match cmd {
        DomainCmd::Register { customer, name, handles: DomainHandles { registrant, admin, tech } } => {
            let name = custodian_store::registry::parse_domain_name(&name)?;
            let registry = config
                .registries
                .route(&name)
                .ok_or_else(|| Usage("no registry takes this TLD; add it to a registry's tlds".into()))?
                .to_string();
            let store = open(config).await?;
            let id = store.register_domain(&access, customer, &name, &registry, registrant, admin, tech).await?;
            writeln!(out, "{id}")?;
        }
        DomainCmd::Change { id, handles: DomainHandles { registrant, admin, tech } } => {
            let store = open(config).await?;
            store.change_domain(&access, id, registrant, admin, tech).await?;
            writeln!(out, "domain {id} changed; queued for the registry")?;
        }
        DomainCmd::List { customer, format } => {
            let store = open(config).await?;
            let domains = store.domains_of(&access, customer).await?;
            print(out, format, &domains, |out, d| {
                writeln!(out, "{:>6}  {:<40} {:<10} {}", d.id, d.name, d.registry, d.status)
            })?;
        }
    }
    Ok(())
}

pub(crate) async fn registry(out: &mut impl Write, config: &Config, cmd: RegistryCmd) -> anyhow::Result<()> {
    let store = open(config).await?;
    match cmd {
        RegistryCmd::Ops { status, limit, format } => {
            if let Some(s) = status.as_deref().filter(|s| !["pending", "sending", "done", "failed"].contains(s)) {
                return Err(Usage(format!("--status is pending, sending, done or failed, not {s:?}")).into());
            }
            let ops = store.registry_ops().list(status.as_deref(), limit.clamp(1, 10_000)).await?;
            print(out, format, &ops, |out, o| {
                let result = match (o.result_code, &o.result_message) {
                    (Some(c), Some(m)) => format!("{c} {m}"),
                    (None, Some(m)) => m.clone(),
                    _ => String::new(),
                };
                let waits =
                    if o.waits_for.is_empty() { String::new() } else { format!(" (waits for {:?})", o.waits_for) };
                writeln!(
                    out,
                    "{:>6}  {:<10} {:<15} {:<8} attempts {:<3} {result}{waits}",
                    o.id, o.registry, o.kind, o.status, o.attempts
                )
            })?;
        }
        RegistryCmd::Retry { op } => {
            store.registry_ops().retry(&operator(AccessPurpose::Registry), op, now_micros()).await?;
            writeln!(out, "operation {op} queued again")?;
        }
        RegistryCmd::Sync => {
            let worker = worker(config, &store)?;
            let report = worker.drain().await?;
            let messages = worker.poll().await?;
            writeln!(
                out,
                "done {}, retried later {}, failed {}; registry messages handled {messages}",
                report.done, report.retried, report.failed
            )?;
            let logins: u64 = worker.registries().map(|r| r.logins()).sum();
            writeln!(out, "sessions opened {logins}")?;
            for r in worker.registries() {
                r.close().await;
            }
        }
        RegistryCmd::Reconcile { registry } => {
            let worker = worker(config, &store)?;
            let differences = worker.reconcile(&registry).await?;
            if differences.is_empty() {
                writeln!(out, "no differences with {registry}")?;
            }
            for d in &differences {
                writeln!(out, "{}: {}", d.object, d.what)?;
            }
        }
    }
    store.close().await;
    Ok(())
}

fn now_micros() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}
