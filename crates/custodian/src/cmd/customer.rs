//! `custodian customer …`: customers added, read (audited), found, changed,
//! exported, erased, held, and imported in batches.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use custodian_domain::Lang;
use custodian_domain::inventory;
use custodian_domain::model::{CustomerData, CustomerKind, FieldErrors, Fields};
use custodian_domain::retention::HoldReason;
use custodian_domain::validate::{Email, Kvk};
use custodian_store::{Access, AccessPurpose, ErasureReason, Lookup, RequestOutcome, Store};

use super::shared::{
    Format, Usage, fields, format_micros, open, operator, parse_hold_reason, parse_kind, parse_purpose, parse_reason,
    push_erasures, today, write_json,
};
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub(crate) enum CustomerCmd {
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

pub(crate) async fn run(out: &mut impl Write, config: &Config, cmd: CustomerCmd) -> anyhow::Result<()> {
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
                write_json(out, &record)?;
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
                None => write_json(out, &export)?,
            }
        }
        CustomerCmd::Erase { id, reason } => {
            let store = open(config).await?;
            let erased = store.erase_customer(&operator(AccessPurpose::DataSubjectRequest), id, reason).await?;
            writeln!(out, "{}", if erased { "erased" } else { "already erased" })?;
            if erased {
                push_erasures(out, config, &store).await?;
            }
        }
        CustomerCmd::RequestErasure { id } => {
            let store = open(config).await?;
            let access = operator(AccessPurpose::DataSubjectRequest);
            match store.request_erasure(&access, &config.retention, id, today()).await? {
                RequestOutcome::Erased => {
                    writeln!(out, "{}", lang.pick("gewist", "erased"))?;
                    push_erasures(out, config, &store).await?;
                }
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
