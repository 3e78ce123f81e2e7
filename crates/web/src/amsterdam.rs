//! Times as people in the Netherlands read them: Europe/Amsterdam, which
//! follows the EU rule since 1996 (summer time from the last Sunday of March to
//! the last Sunday of October, each switch at 01:00 UTC). The rule is short
//! enough to state here; a time-zone database would only add a dependency.

use time::macros::offset;
use time::{Date, Month, OffsetDateTime, UtcOffset};

/// The last Sunday of `month` in `year`.
fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let last = Date::from_calendar_date(year, month, time::util::days_in_month(month, year)).ok()?;
    let back = last.weekday().number_days_from_sunday();
    last.checked_sub(time::Duration::days(i64::from(back)))
}

/// The offset from UTC in Amsterdam at the instant `utc`.
pub(crate) fn offset_at(utc: OffsetDateTime) -> UtcOffset {
    let utc = utc.to_offset(UtcOffset::UTC);
    let switch = |month| last_sunday(utc.year(), month).map(|d| d.midnight().assume_utc() + time::Duration::hours(1));
    match (switch(Month::March), switch(Month::October)) {
        (Some(start), Some(end)) if utc >= start && utc < end => offset!(+2),
        _ => offset!(+1),
    }
}

/// `utc` as the clock in Amsterdam shows it.
pub(crate) fn local(utc: OffsetDateTime) -> OffsetDateTime {
    utc.to_offset(offset_at(utc))
}

/// The instant a day begins in Amsterdam. Local midnight falls at 22:00 or
/// 23:00 UTC the evening before, never near a switch (01:00 UTC), so the
/// offset an hour before UTC midnight is the day's first offset.
pub(crate) fn midnight(day: Date) -> OffsetDateTime {
    let probe = day.midnight().assume_utc() - time::Duration::hours(1);
    day.midnight().assume_offset(offset_at(probe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_begin_at_local_midnight() {
        // Winter: 23:00 UTC the evening before; summer: 22:00 UTC.
        assert_eq!(midnight(time::macros::date!(2026 - 12 - 01)), datetime!(2026-11-30 23:00 UTC));
        assert_eq!(midnight(time::macros::date!(2026 - 07 - 01)), datetime!(2026-06-30 22:00 UTC));
        // The days of the switches begin before them.
        assert_eq!(midnight(time::macros::date!(2026 - 03 - 29)), datetime!(2026-03-28 23:00 UTC));
        assert_eq!(midnight(time::macros::date!(2026 - 03 - 30)), datetime!(2026-03-29 22:00 UTC));
        assert_eq!(midnight(time::macros::date!(2026 - 10 - 25)), datetime!(2026-10-24 22:00 UTC));
        assert_eq!(midnight(time::macros::date!(2026 - 10 - 26)), datetime!(2026-10-25 23:00 UTC));
    }
    use time::Weekday;
    use time::macros::datetime;

    #[test]
    fn last_sundays_of_the_switch_months() {
        let march = last_sunday(2026, Month::March);
        assert_eq!(march, Some(time::macros::date!(2026 - 03 - 29)));
        assert_eq!(march.map(|d| d.weekday()), Some(Weekday::Sunday));
        assert_eq!(last_sunday(2026, Month::October), Some(time::macros::date!(2026 - 10 - 25)));
        // A month ending on a Sunday: that day itself.
        assert_eq!(last_sunday(2024, Month::March), Some(time::macros::date!(2024 - 03 - 31)));
    }

    #[test]
    fn winter_and_summer() {
        assert_eq!(offset_at(datetime!(2026-01-15 12:00 UTC)), offset!(+1));
        assert_eq!(offset_at(datetime!(2026-07-01 12:00 UTC)), offset!(+2));
        assert_eq!(local(datetime!(2026-07-01 12:00 UTC)).hour(), 14);
        assert_eq!(local(datetime!(2026-12-31 23:30 UTC)).date(), time::macros::date!(2027 - 01 - 01));
    }

    #[test]
    fn spring_forward_at_one_utc() {
        // 29 March 2026: 02:00 local becomes 03:00.
        assert_eq!(local(datetime!(2026-03-29 00:59 UTC)).time(), time::macros::time!(01:59));
        assert_eq!(local(datetime!(2026-03-29 01:00 UTC)).time(), time::macros::time!(03:00));
        // The day before at the same UTC time is still winter.
        assert_eq!(offset_at(datetime!(2026-03-28 01:00 UTC)), offset!(+1));
    }

    #[test]
    fn fall_back_at_one_utc() {
        // 25 October 2026: 03:00 local becomes 02:00 again.
        assert_eq!(local(datetime!(2026-10-25 00:59 UTC)).time(), time::macros::time!(02:59));
        assert_eq!(local(datetime!(2026-10-25 01:00 UTC)).time(), time::macros::time!(02:00));
        assert_eq!(offset_at(datetime!(2026-10-26 00:30 UTC)), offset!(+1));
    }

    #[test]
    fn an_instant_given_in_another_offset() {
        assert_eq!(offset_at(datetime!(2026-03-29 02:30 +01:00)), offset!(+2));
    }
}
