//! `custodian retention …`: the plan for a day, carrying it out, and the next
//! scheduled run.

use std::io::Write;

use clap::Subcommand;
use custodian_domain::Lang;
use custodian_domain::model::format_date;
use custodian_store::{AccessPurpose, Plan};

use super::shared::{Format, Usage, day_or_today, open, operator, push_erasures, today, write_json};
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub(crate) enum RetentionCmd {
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

pub(crate) async fn run(out: &mut impl Write, config: &Config, cmd: RetentionCmd) -> anyhow::Result<()> {
    let lang = config.language;
    let policy = &config.retention;
    match cmd {
        RetentionCmd::Plan { on, format } => {
            let on = day_or_today(on.as_deref(), "on")?;
            let store = open(config).await?;
            let plan = store.retention_plan(policy, on).await?;
            if format == Format::Json {
                write_json(out, &plan)?;
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
                "{} {}: {}",
                lang.pick("retentierun", "retention run"),
                format_date(on),
                report.describe(lang)
            )?;
            if report.erased_anything() {
                push_erasures(out, config, &store).await?;
            }
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
