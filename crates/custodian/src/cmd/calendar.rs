//! `custodian calendar …`: the Dutch working-day calendar the retention rules use.

use std::io::Write;

use clap::Subcommand;
use custodian_domain::model::format_date;

use super::shared::Usage;
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub(crate) enum CalendarCmd {
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

pub(crate) fn run(out: &mut impl Write, config: &Config, cmd: CalendarCmd) -> anyhow::Result<()> {
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
