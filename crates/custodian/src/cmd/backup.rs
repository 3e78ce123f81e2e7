//! `custodian backup …`. The work is in `custodian-backup`; this prints the
//! outcome (the settings come from [`backup_settings`], shared with `serve`).

use std::io::Write;

use clap::Subcommand;
use custodian_backup::SnapshotInfo;
use custodian_domain::Lang;

use super::shared::{Usage, backup_settings, open};
use crate::config::Config;
use crate::keyfile;

#[derive(Subcommand, Debug)]
pub(crate) enum BackupCmd {
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
        /// Restore without the old database's journal, accepting that whoever
        /// was erased after the repository's newest journal comes back.
        #[arg(long)]
        accept_journal_age: bool,
    },
}

fn at(lang: Lang, at: Option<&str>) -> anyhow::Result<Option<i64>> {
    at.map(|s| {
        custodian_backup::parse_time(s).ok_or_else(|| {
            Usage(
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

/// Why a restore without the old database's journal waits for the
/// operator's word: the repository cannot know what was erased after its
/// newest journal.
fn journal_age_refusal(newest: Option<i64>, lang: Lang) -> String {
    let known = match newest {
        Some(t) => format!(
            "{} {} ({} {})",
            lang.pick(
                "Het nieuwste wisjournaal in de back-upopslag is van",
                "The newest erasure journal in the repository is of"
            ),
            custodian_backup::time_text(t),
            age_words(time::OffsetDateTime::now_utc().unix_timestamp() - t, lang),
            lang.pick("geleden).", "ago).")
        ),
        None => lang
            .pick("De back-upopslag heeft nog geen wisjournaal.", "The repository holds no erasure journal yet.")
            .into(),
    };
    format!(
        "{known} {}",
        lang.pick(
            "Wie daarna gewist is, zou terugkomen. Geef de oude database mee met --journal-from als die nog leesbaar is, of zet terug met --accept-journal-age.",
            "Whoever was erased after it would come back. Pass the old database with --journal-from if it is still readable, or restore with --accept-journal-age.",
        )
    )
}

/// An age in seconds, in the largest whole unit.
fn age_words(seconds: i64, lang: Lang) -> String {
    let s = seconds.max(0);
    match s {
        s if s < 120 => format!("{s} {}", lang.pick("seconden", "seconds")),
        s if s < 7200 => format!("{} {}", s / 60, lang.pick("minuten", "minutes")),
        s if s < 172_800 => format!("{} {}", s / 3600, lang.pick("uur", "hours")),
        s => format!("{} {}", s / 86_400, lang.pick("dagen", "days")),
    }
}

fn line(s: &SnapshotInfo) -> String {
    format!("{}  {}  {} bytes", s.id, s.time_text(), s.size)
}

pub(crate) async fn run(out: &mut impl Write, config: &Config, cmd: BackupCmd) -> anyhow::Result<()> {
    let lang = config.language;
    // Bad --at is reported before anything is read or written.
    let when = match &cmd {
        BackupCmd::Verify { at: a } | BackupCmd::Restore { at: a, .. } => at(lang, a.as_deref())?,
        _ => None,
    };
    let settings = backup_settings(config)?;
    match cmd {
        BackupCmd::Run => {
            let r = custodian_backup::run(&settings, &config.database_url).await?;
            // What the repository now holds of the erasure journal, for the
            // owner's warning; without the key `serve` records it at its next look.
            if let Ok(store) = open(config).await {
                store.journal_stored(r.journal_position).await?;
                store.close().await;
            }
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
        BackupCmd::Restore { into, journal_from, accept_journal_age, .. } => {
            if journal_from.is_none() && !accept_journal_age {
                let newest = custodian_backup::newest_journal_time(&settings).await?;
                return Err(Usage(journal_age_refusal(newest, lang)).into());
            }
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
            if r.replayed.requests > 0 {
                writeln!(
                    out,
                    "{} {}",
                    lang.pick("verzoeken van betrokkenen:", "data subject requests:"),
                    r.replayed.requests
                )?;
            }
            // How old the journal is says what a restore cannot know.
            if let Some(t) = r.journal_time {
                let age = time::OffsetDateTime::now_utc().unix_timestamp() - t;
                writeln!(
                    out,
                    "{} {} ({} {})",
                    lang.pick("nieuwste wisjournaal:", "newest erasure journal:"),
                    custodian_backup::time_text(t),
                    age_words(age, lang),
                    lang.pick(
                        "geleden; wat daarna gewist is kent alleen de oude database: geef die mee met --journal-from als hij nog leesbaar is",
                        "ago; what was erased after it only the old database knows: pass it with --journal-from if it is still readable"
                    )
                )?;
            }
        }
    }
    Ok(())
}
