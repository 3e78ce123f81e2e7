//! The retention rules as dates: when a customer relationship ends (M9, A2), when
//! a former customer's data, an unused handle (M12) and an invoice (A6) are due
//! for deletion, and on which days the retention run takes place. Pure date
//! arithmetic over the working-day calendar; the store applies it.
//!
//! Every rule is a *due date* per item, and a run on day D handles every item due
//! on or before D. So a run that was missed (the server was down on the sweep
//! day) is caught up by the next run, and running twice changes nothing.

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month};

use crate::Lang;
use crate::calendar::{CalendarRules, YearOutOfRange};

/// When a former customer's data is erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErasureSchedule {
    /// On the first working day of January after the relationship ended (M9).
    #[default]
    FirstWorkingDayOfJanuary,
    /// A fixed number of days ([`RetentionPolicy::days_after_end`]) after it ended.
    DaysAfterEnd,
}

/// The retention settings. The defaults are those of the source documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Years without a new invoice after which the relationship has ended (M9: 1).
    pub relationship_years: u32,
    pub erasure: ErasureSchedule,
    /// Days between the end of the relationship and the erasure, with
    /// `erasure = "days_after_end"` (1 to 365).
    pub days_after_end: u32,
    /// A handle used by no domain is spared until this many days after a
    /// domain last used it (or after it was made, when none ever did), so one
    /// just let go, or just made for a domain being registered, survives the sweep.
    pub unused_handle_min_age_days: u32,
    /// Years invoices are kept after the end of their calendar year (A6: 7).
    pub invoice_years: u32,
    /// Days before a scheduled erasure that the notice e-mail goes out; 0: none.
    pub notice_days: u32,
    /// Customers, handles or invoices per transaction of a run.
    pub batch: u32,
    /// Which days are working days; from the `[calendar]` settings.
    #[serde(skip)]
    pub calendar: CalendarRules,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            relationship_years: 1,
            erasure: ErasureSchedule::FirstWorkingDayOfJanuary,
            days_after_end: 30,
            unused_handle_min_age_days: 30,
            invoice_years: 7,
            notice_days: 30,
            batch: 500,
            calendar: CalendarRules,
        }
    }
}

/// `date` plus `years`; 29 February becomes 28 February in a common year (the
/// period ends on the last day of the month, as periods in years do).
pub fn add_years(date: Date, years: i32) -> Date {
    let year = date.year() + years;
    Date::from_calendar_date(year, date.month(), date.day())
        .or_else(|_| Date::from_calendar_date(year, date.month(), date.day() - 1))
        .unwrap_or(date)
}

fn january_first(year: i32) -> Result<Date, YearOutOfRange> {
    Date::from_calendar_date(year, Month::January, 1).map_err(|_| YearOutOfRange { year })
}

impl RetentionPolicy {
    /// The settings that are out of range, as (key, rule); empty when all are fine.
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = vec![];
        let mut check = |ok: bool, key, rule| {
            if !ok {
                out.push((key, rule));
            }
        };
        check((1..=100).contains(&self.relationship_years), "relationship_years", "must be from 1 to 100");
        check((1..=365).contains(&self.days_after_end), "days_after_end", "must be from 1 to 365");
        check(
            (0..=3650).contains(&self.unused_handle_min_age_days),
            "unused_handle_min_age_days",
            "must be from 0 to 3650",
        );
        check((1..=100).contains(&self.invoice_years), "invoice_years", "must be from 1 to 100");
        check((0..=365).contains(&self.notice_days), "notice_days", "must be from 0 to 365");
        check((1..=100_000).contains(&self.batch), "batch", "must be from 1 to 100000");
        out
    }

    /// The day on which the relationship whose clock started on `start` (the
    /// last invoice, or the account's creation when never invoiced, A2) has
    /// lasted the full period. It has ended once this day is over: "more than a
    /// year after the last invoice" (M9).
    pub fn relationship_ends(&self, start: Date) -> Date {
        add_years(start, self.relationship_years as i32)
    }

    /// The day a former customer whose relationship ended on `ended_on` is erased.
    pub fn erasure_due(&self, ended_on: Date) -> Result<Date, YearOutOfRange> {
        match self.erasure {
            ErasureSchedule::FirstWorkingDayOfJanuary => self.calendar.first_working_day_of_january_after(ended_on),
            ErasureSchedule::DaysAfterEnd => Ok(ended_on + Duration::days(self.days_after_end.into())),
        }
    }

    /// The latest yearly sweep day (first working day of January) on or before `on`.
    pub fn latest_sweep_on_or_before(&self, on: Date) -> Result<Date, YearOutOfRange> {
        let this_year = self.calendar.first_working_day_of_january(on.year())?;
        if this_year <= on { Ok(this_year) } else { self.calendar.first_working_day_of_january(on.year() - 1) }
    }

    /// A relationship that ended before this day is due for erasure on `on`:
    /// `erasure_due(e) <= on` exactly when `e < erasure_cutoff(on)`.
    pub fn erasure_cutoff(&self, on: Date) -> Result<Date, YearOutOfRange> {
        match self.erasure {
            ErasureSchedule::FirstWorkingDayOfJanuary => self.latest_sweep_on_or_before(on),
            ErasureSchedule::DaysAfterEnd => Ok(on - Duration::days(i64::from(self.days_after_end) - 1)),
        }
    }

    /// The day a handle last used on `last_used` is deleted if no domain uses it
    /// again: the first working day of January after its minimum age (M12).
    pub fn handle_due(&self, last_used: Date) -> Result<Date, YearOutOfRange> {
        let grown = last_used + Duration::days(self.unused_handle_min_age_days.into());
        self.calendar.first_working_day_of_january_after(grown)
    }

    /// An unused handle last used before this day is due on `on`:
    /// `handle_due(u) <= on` exactly when `u < handle_cutoff(on)`.
    pub fn handle_cutoff(&self, on: Date) -> Result<Date, YearOutOfRange> {
        Ok(self.latest_sweep_on_or_before(on)? - Duration::days(self.unused_handle_min_age_days.into()))
    }

    /// Invoices dated on or after this day are still kept on `on`; older ones
    /// are due: seven years after the end of their calendar year (A6).
    pub fn invoices_kept_from(&self, on: Date) -> Result<Date, YearOutOfRange> {
        january_first(on.year() - self.invoice_years as i32)
    }

    /// The last day an invoice dated `issued_on` is kept.
    pub fn invoice_kept_until(&self, issued_on: Date) -> Result<Date, YearOutOfRange> {
        Ok(january_first(issued_on.year() + self.invoice_years as i32 + 1)? - Duration::DAY)
    }

    /// Whether a retention run is scheduled on `on`: the yearly sweep day, or
    /// every day when erasures follow a number of days after the end.
    pub fn is_run_day(&self, on: Date) -> Result<bool, YearOutOfRange> {
        Ok(match self.erasure {
            ErasureSchedule::FirstWorkingDayOfJanuary => self.calendar.first_working_day_of_january(on.year())? == on,
            ErasureSchedule::DaysAfterEnd => true,
        })
    }

    /// The first scheduled run on or after `from`.
    pub fn next_run(&self, from: Date) -> Result<Date, YearOutOfRange> {
        match self.erasure {
            ErasureSchedule::FirstWorkingDayOfJanuary => {
                let this_year = self.calendar.first_working_day_of_january(from.year())?;
                if this_year >= from {
                    Ok(this_year)
                } else {
                    self.calendar.first_working_day_of_january(from.year() + 1)
                }
            }
            ErasureSchedule::DaysAfterEnd => Ok(from),
        }
    }

    /// The latest scheduled run on or before `on`: the one a scheduler that was
    /// down must still make up for.
    pub fn latest_run(&self, on: Date) -> Result<Date, YearOutOfRange> {
        match self.erasure {
            ErasureSchedule::FirstWorkingDayOfJanuary => self.latest_sweep_on_or_before(on),
            ErasureSchedule::DaysAfterEnd => Ok(on),
        }
    }
}

/// Where the retention schedule stands: the last completed run, and the day
/// the scheduler began on this database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScheduleState {
    pub last_run: Option<Date>,
    pub since: Option<Date>,
}

impl RetentionPolicy {
    /// The scheduled run still owed on `today`: the latest one on or before it,
    /// unless a run on or after that day completed or the schedule began later.
    pub fn run_owed(&self, today: Date, state: ScheduleState) -> Result<Option<Date>, YearOutOfRange> {
        let latest = self.latest_run(today)?;
        let done = state.last_run.is_some_and(|l| l >= latest);
        let began = state.since.unwrap_or(today);
        Ok((!done && latest >= began).then_some(latest))
    }

    /// The day of the next run as seen on `today`: one still owed, else the
    /// next scheduled day not yet done.
    pub fn next_due_run(&self, today: Date, state: ScheduleState) -> Result<Date, YearOutOfRange> {
        if let Some(owed) = self.run_owed(today, state)? {
            return Ok(owed);
        }
        let next = self.next_run(today)?;
        if state.last_run.is_some_and(|l| l >= next) { self.next_run(next + Duration::DAY) } else { Ok(next) }
    }
}

/// Why a legal hold was placed: a short fixed list, so no free text about a
/// person accumulates here (M8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// The tax authority audits the administration.
    TaxAudit,
    /// A dispute or court case with or about the customer.
    LegalDispute,
    /// A request of the police, the courts or a regulator to preserve data.
    AuthorityRequest,
    /// An unpaid debt handed over for collection.
    DebtCollection,
}

impl HoldReason {
    pub const ALL: [HoldReason; 4] =
        [HoldReason::TaxAudit, HoldReason::LegalDispute, HoldReason::AuthorityRequest, HoldReason::DebtCollection];

    pub fn as_str(self) -> &'static str {
        match self {
            HoldReason::TaxAudit => "tax_audit",
            HoldReason::LegalDispute => "legal_dispute",
            HoldReason::AuthorityRequest => "authority_request",
            HoldReason::DebtCollection => "debt_collection",
        }
    }

    pub fn parse(s: &str) -> Option<HoldReason> {
        HoldReason::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    pub fn describe(self, lang: Lang) -> &'static str {
        match self {
            HoldReason::TaxAudit => lang.pick("controle door de Belastingdienst", "a tax audit"),
            HoldReason::LegalDispute => lang.pick("een geschil of rechtszaak", "a dispute or court case"),
            HoldReason::AuthorityRequest => lang
                .pick("een verzoek van politie, rechter of toezichthouder", "a request of police, court or regulator"),
            HoldReason::DebtCollection => lang.pick("een openstaande vordering in incasso", "a debt in collection"),
        }
    }
}

/// What keeps a customer's data from being erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Blocker {
    /// Services still run; they must end first.
    RunningServices { count: u32 },
    /// Invoices are not paid yet (only those still within their retention).
    UnpaidInvoices { count: u32 },
    /// A legal hold is in place.
    LegalHold { reason: HoldReason },
}

impl Blocker {
    pub fn code(self) -> &'static str {
        match self {
            Blocker::RunningServices { .. } => "running_services",
            Blocker::UnpaidInvoices { .. } => "unpaid_invoices",
            Blocker::LegalHold { .. } => "legal_hold",
        }
    }

    /// What blocks and why, as the customer reads it.
    pub fn message(self, lang: Lang) -> String {
        match self {
            Blocker::RunningServices { count } => {
                let services = plural(
                    count,
                    lang,
                    ("lopende dienst", "lopende diensten"),
                    ("running service", "running services"),
                );
                match lang {
                    Lang::Nl => format!(
                        "U heeft nog {services}. Zolang wij diensten voor u leveren, hebben wij uw gegevens nodig; zeg ze eerst op."
                    ),
                    Lang::En => format!(
                        "You still have {services}. While we deliver services to you we need your data; cancel them first."
                    ),
                }
            }
            Blocker::UnpaidInvoices { count } => {
                let invoices = plural(
                    count,
                    lang,
                    ("onbetaalde factuur", "onbetaalde facturen"),
                    ("unpaid invoice", "unpaid invoices"),
                );
                match lang {
                    Lang::Nl => format!(
                        "Er staan nog {invoices} open. Zodra die betaald zijn, kunnen wij uw gegevens verwijderen."
                    ),
                    Lang::En => format!("You still have {invoices}. Once they are paid, we can delete your data."),
                }
            }
            Blocker::LegalHold { reason } => format!(
                "{} {}.",
                lang.pick(
                    "Wij moeten uw gegevens wettelijk nog bewaren vanwege",
                    "The law requires us to keep your data for now because of"
                ),
                reason.describe(lang)
            ),
        }
    }
}

impl Blocker {
    /// What blocks, as the owner reads it on the retention plan: about the
    /// customer, not addressed to them.
    pub fn summary(self, lang: Lang) -> String {
        match self {
            Blocker::RunningServices { count } => {
                plural(count, lang, ("lopende dienst", "lopende diensten"), ("running service", "running services"))
            }
            Blocker::UnpaidInvoices { count } => plural(
                count,
                lang,
                ("onbetaalde factuur", "onbetaalde facturen"),
                ("unpaid invoice", "unpaid invoices"),
            ),
            Blocker::LegalHold { reason } => {
                format!("{}: {}", lang.pick("wettelijke bewaarplicht", "legal hold"), reason.describe(lang))
            }
        }
    }
}

/// `count` with the singular or plural noun of `lang`: "1 factuur", "2 facturen".
pub fn plural(count: impl Into<u64>, lang: Lang, nl: (&str, &str), en: (&str, &str)) -> String {
    let count = count.into();
    let (one, many) = match lang {
        Lang::Nl => nl,
        Lang::En => en,
    };
    format!("{count} {}", if count == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::SUPPORTED_YEARS;
    use proptest::prelude::*;
    use time::macros::date;

    fn days_after(n: u32) -> RetentionPolicy {
        RetentionPolicy { erasure: ErasureSchedule::DaysAfterEnd, days_after_end: n, ..Default::default() }
    }

    #[test]
    fn defaults_are_the_source_documents() {
        let p = RetentionPolicy::default();
        assert_eq!((p.relationship_years, p.invoice_years, p.notice_days), (1, 7, 30));
        assert_eq!(p.erasure, ErasureSchedule::FirstWorkingDayOfJanuary);
        assert!(p.problems().is_empty());
    }

    #[test]
    fn leap_days_end_on_the_last_day_of_february() {
        assert_eq!(add_years(date!(2024 - 02 - 29), 1), date!(2025 - 02 - 28));
        assert_eq!(add_years(date!(2024 - 02 - 29), 4), date!(2028 - 02 - 29));
        assert_eq!(add_years(date!(2023 - 03 - 01), 1), date!(2024 - 03 - 01));
        let p = RetentionPolicy::default();
        // Last invoice on 29 February 2024: ended 28 February 2025, erased 2 January 2026.
        assert_eq!(p.relationship_ends(date!(2024 - 02 - 29)), date!(2025 - 02 - 28));
        assert_eq!(p.erasure_due(date!(2025 - 02 - 28)), Ok(date!(2026 - 01 - 02)));
    }

    #[test]
    fn exactly_one_year_is_not_yet_more_than_a_year() {
        let p = RetentionPolicy::default();
        // Last invoice 2 January 2025: the year is full on 2 January 2026, the
        // sweep day itself, so the relationship has not ended by that sweep.
        let ended = p.relationship_ends(date!(2025 - 01 - 02));
        assert_eq!(ended, date!(2026 - 01 - 02));
        assert_eq!(p.erasure_due(ended), Ok(date!(2027 - 01 - 04)));
        assert!(ended >= p.erasure_cutoff(date!(2026 - 01 - 02)).unwrap());
        // A day earlier, it had.
        let ended = p.relationship_ends(date!(2025 - 01 - 01));
        assert!(ended < p.erasure_cutoff(date!(2026 - 01 - 02)).unwrap());
    }

    #[test]
    fn the_sweep_skips_weekends_and_catches_up() {
        let p = RetentionPolicy::default();
        // 1 January 2022 was a Saturday: the sweep is on Monday the 3rd.
        assert_eq!(p.next_run(date!(2021 - 06 - 01)), Ok(date!(2022 - 01 - 03)));
        assert!(!p.is_run_day(date!(2022 - 01 - 01)).unwrap() && !p.is_run_day(date!(2022 - 01 - 02)).unwrap());
        assert!(p.is_run_day(date!(2022 - 01 - 03)).unwrap());
        assert_eq!(p.next_run(date!(2022 - 01 - 03)), Ok(date!(2022 - 01 - 03)));
        assert_eq!(p.next_run(date!(2022 - 01 - 04)), Ok(date!(2023 - 01 - 02)));
        // Down on the sweep day: the latest run to make up for is still that one.
        assert_eq!(p.latest_run(date!(2022 - 02 - 10)), Ok(date!(2022 - 01 - 03)));
        assert_eq!(p.latest_run(date!(2022 - 01 - 02)), Ok(date!(2021 - 01 - 04)));
        let daily = days_after(30);
        assert_eq!(daily.next_run(date!(2022 - 01 - 01)), Ok(date!(2022 - 01 - 01)));
        assert_eq!(daily.erasure_due(date!(2025 - 03 - 01)), Ok(date!(2025 - 03 - 31)));
    }

    #[test]
    fn a_missed_sweep_is_owed_until_done() {
        let p = RetentionPolicy::default();
        let began = ScheduleState { last_run: None, since: Some(date!(2025 - 06 - 01)) };
        assert_eq!(p.run_owed(date!(2025 - 12 - 31), began), Ok(None));
        assert_eq!(p.next_due_run(date!(2025 - 12 - 31), began), Ok(date!(2026 - 01 - 02)));
        // Down on 2 January 2026, back on the 5th: the run is owed.
        assert_eq!(p.run_owed(date!(2026 - 01 - 05), began), Ok(Some(date!(2026 - 01 - 02))));
        assert_eq!(p.next_due_run(date!(2026 - 01 - 05), began), Ok(date!(2026 - 01 - 02)));
        let done = ScheduleState { last_run: Some(date!(2026 - 01 - 05)), ..began };
        assert_eq!(p.run_owed(date!(2026 - 01 - 05), done), Ok(None));
        assert_eq!(p.next_due_run(date!(2026 - 01 - 05), done), Ok(date!(2027 - 01 - 04)));
        // A schedule that began after the sweep owes nothing for it.
        let late = ScheduleState { last_run: None, since: Some(date!(2026 - 01 - 03)) };
        assert_eq!(p.run_owed(date!(2026 - 01 - 05), late), Ok(None));
        let daily = days_after(10);
        let ran_today = ScheduleState { last_run: Some(date!(2026 - 03 - 01)), since: None };
        assert_eq!(daily.next_due_run(date!(2026 - 03 - 01), ran_today), Ok(date!(2026 - 03 - 02)));
    }

    #[test]
    fn invoices_are_kept_seven_years_after_their_year() {
        let p = RetentionPolicy::default();
        assert_eq!(p.invoice_kept_until(date!(2019 - 03 - 05)), Ok(date!(2026 - 12 - 31)));
        assert_eq!(p.invoice_kept_until(date!(2020 - 02 - 29)), Ok(date!(2027 - 12 - 31)));
        // On the sweep of 4 January 2027, invoices of 2019 go and those of 2020 stay.
        assert_eq!(p.invoices_kept_from(date!(2027 - 01 - 04)), Ok(date!(2020 - 01 - 01)));
        assert_eq!(p.invoices_kept_from(date!(2026 - 12 - 31)), Ok(date!(2019 - 01 - 01)));
    }

    #[test]
    fn unused_handles_wait_their_minimum_age() {
        let p = RetentionPolicy::default();
        assert_eq!(p.handle_due(date!(2025 - 12 - 10)), Ok(date!(2027 - 01 - 04)));
        assert_eq!(p.handle_due(date!(2025 - 11 - 01)), Ok(date!(2026 - 01 - 02)));
        assert_eq!(p.handle_cutoff(date!(2026 - 01 - 02)), Ok(date!(2025 - 12 - 03)));
    }

    #[test]
    fn out_of_range_settings_are_named() {
        let p = RetentionPolicy { relationship_years: 0, days_after_end: 400, batch: 0, ..Default::default() };
        let keys: Vec<_> = p.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["relationship_years", "days_after_end", "batch"]);
    }

    #[test]
    fn settings_read_from_toml_like_maps() {
        let p: RetentionPolicy =
            serde_json::from_str(r#"{"erasure":"days_after_end","days_after_end":14,"invoice_years":10}"#).unwrap();
        assert_eq!(
            (p.erasure, p.days_after_end, p.invoice_years, p.relationship_years),
            (ErasureSchedule::DaysAfterEnd, 14, 10, 1)
        );
        assert!(serde_json::from_str::<RetentionPolicy>(r#"{"erasure":"monthly"}"#).is_err());
        assert!(serde_json::from_str::<RetentionPolicy>(r#"{"years":3}"#).is_err());
    }

    #[test]
    fn blockers_explain_themselves_in_both_languages() {
        for b in [
            Blocker::RunningServices { count: 2 },
            Blocker::UnpaidInvoices { count: 1 },
            Blocker::LegalHold { reason: HoldReason::TaxAudit },
        ] {
            assert_ne!(b.message(Lang::Nl), b.message(Lang::En));
        }
        assert!(Blocker::LegalHold { reason: HoldReason::TaxAudit }.message(Lang::Nl).contains("Belastingdienst"));
        assert!(Blocker::UnpaidInvoices { count: 1 }.message(Lang::Nl).contains("1 onbetaalde factuur open"));
        assert!(Blocker::RunningServices { count: 2 }.message(Lang::Nl).contains("2 lopende diensten."));
        assert_eq!(Blocker::UnpaidInvoices { count: 3 }.summary(Lang::En), "3 unpaid invoices");
        assert!(!Blocker::RunningServices { count: 1 }.summary(Lang::Nl).contains("U "));
        assert_eq!(HoldReason::parse("legal_dispute"), Some(HoldReason::LegalDispute));
        assert_eq!(HoldReason::parse("because"), None);
    }

    fn any_date() -> impl Strategy<Value = Date> {
        let first = date!(1901 - 01 - 01).to_julian_day();
        let last = date!(2199 - 12 - 31).to_julian_day();
        (first..=last).prop_map(|d| Date::from_julian_day(d).unwrap())
    }

    fn any_policy() -> impl Strategy<Value = RetentionPolicy> {
        (any::<bool>(), 1u32..=365, 0u32..=400).prop_map(|(january, days, age)| RetentionPolicy {
            erasure: if january { ErasureSchedule::FirstWorkingDayOfJanuary } else { ErasureSchedule::DaysAfterEnd },
            days_after_end: days,
            unused_handle_min_age_days: age,
            ..Default::default()
        })
    }

    proptest! {
        /// The cutoffs the store filters by say exactly what the due dates say.
        #[test]
        fn cutoffs_agree_with_due_dates(p in any_policy(), ended in any_date(), on in any_date()) {
            prop_assume!(SUPPORTED_YEARS.contains(&(on.year() - 1)));
            if let Ok(due) = p.erasure_due(ended) {
                prop_assert_eq!(due <= on, ended < p.erasure_cutoff(on).unwrap());
                prop_assert!(due > ended);
            }
            if let Ok(due) = p.handle_due(ended) {
                prop_assert_eq!(due <= on, ended < p.handle_cutoff(on).unwrap());
            }
        }

        #[test]
        fn runs_are_scheduled_days(p in any_policy(), from in any_date()) {
            let next = p.next_run(from).unwrap();
            prop_assert!(next >= from && p.is_run_day(next).unwrap());
            let latest = p.latest_run(from).unwrap();
            prop_assert!(latest <= from && p.is_run_day(latest).unwrap());
        }

        #[test]
        fn invoices_are_due_after_their_last_kept_day(issued in any_date(), on in any_date()) {
            let p = RetentionPolicy::default();
            prop_assume!(SUPPORTED_YEARS.contains(&(on.year() - 7)));
            let due = issued < p.invoices_kept_from(on).unwrap();
            prop_assert_eq!(due, on > p.invoice_kept_until(issued).unwrap());
        }
    }
}
