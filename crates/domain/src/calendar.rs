//! The Dutch working-day calendar: which days are weekends or national public
//! holidays, and so when the yearly erasure (the first working day of January)
//! takes place. Valid for the years in [`SUPPORTED_YEARS`]; other years are refused
//! rather than guessed.
//!
//! Sources of the rules:
//! - Fixed and Easter-based holidays: the "algemeen erkende feestdagen" of the
//!   Algemene termijnenwet (art. 3). Good Friday is not among them. Which days
//!   a company gives off beyond these (Good Friday, Liberation Day outside
//!   lustrum years under some collective agreements) is not a setting: the
//!   only date the product takes from this calendar is the first working day
//!   of January, which is 2, 3 or 4 January whatever those choices are.
//! - Easter: the anonymous Gregorian algorithm (Nature, 1876; Meeus,
//!   *Astronomical Algorithms*, ch. 8). The tests check it against Knuth's
//!   epact method (TAOCP vol. 1, §1.3.2, ex. 14) and python-dateutil.
//! - The monarch's day (Wikipedia "Koningsdag", nl and en; overzicht-feestdagen.nl):
//!   Queen's Day on 31 August (Wilhelmina) from 1891 to 1948, Monday 1 September
//!   when the 31st was a Sunday (this shift is unconfirmed); not observed under the German occupation
//!   1940–1944, which banned it (Omroep Gelderland 2017, quoting the occupier's
//!   notices of 30 August 1940); 30 April (Juliana) from 1949, on Monday 1 May
//!   when the 30th was a Sunday, on Saturday 29 April from 1980 (royal decree);
//!   King's Day on 27 April from 2014, on Saturday the 26th when the 27th is a Sunday.
//! - Liberation Day: first celebrated in 1946 (cabinet decision of 7 August 1945;
//!   NRC, 29 April 2006), national holiday every fifth year from 1958 and every
//!   year from 1990.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, Weekday};

use crate::Lang;

/// The years the calendar is verified for.
pub const SUPPORTED_YEARS: RangeInclusive<i32> = 1900..=2200;

/// A year outside [`SUPPORTED_YEARS`] was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{}", self.message(Lang::En))]
pub struct YearOutOfRange {
    pub year: i32,
}

impl YearOutOfRange {
    /// The explanation in the user's language.
    pub fn message(&self, lang: Lang) -> String {
        let (year, first, last) = (self.year, SUPPORTED_YEARS.start(), SUPPORTED_YEARS.end());
        match lang {
            Lang::Nl => format!("jaar {year} valt buiten de werkdagenkalender, die alleen {first} t/m {last} kent"),
            Lang::En => format!("year {year} is outside the working-day calendar, which only covers {first} to {last}"),
        }
    }
}

fn check_year(year: i32) -> Result<(), YearOutOfRange> {
    if SUPPORTED_YEARS.contains(&year) { Ok(()) } else { Err(YearOutOfRange { year }) }
}

/// The calendar of working days: weekends and the national holidays of the law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CalendarRules;

/// Which public holiday a date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayKind {
    NewYearsDay,
    EasterSunday,
    EasterMonday,
    QueensDay,
    KingsDay,
    LiberationDay,
    AscensionDay,
    WhitSunday,
    WhitMonday,
    ChristmasDay,
    BoxingDay,
}

impl HolidayKind {
    pub fn name(self, lang: Lang) -> &'static str {
        let (nl, en) = match self {
            HolidayKind::NewYearsDay => ("Nieuwjaarsdag", "New Year's Day"),
            HolidayKind::EasterSunday => ("Eerste Paasdag", "Easter Sunday"),
            HolidayKind::EasterMonday => ("Tweede Paasdag", "Easter Monday"),
            HolidayKind::QueensDay => ("Koninginnedag", "Queen's Day"),
            HolidayKind::KingsDay => ("Koningsdag", "King's Day"),
            HolidayKind::LiberationDay => ("Bevrijdingsdag", "Liberation Day"),
            HolidayKind::AscensionDay => ("Hemelvaartsdag", "Ascension Day"),
            HolidayKind::WhitSunday => ("Eerste Pinksterdag", "Whit Sunday"),
            HolidayKind::WhitMonday => ("Tweede Pinksterdag", "Whit Monday"),
            HolidayKind::ChristmasDay => ("Eerste Kerstdag", "Christmas Day"),
            HolidayKind::BoxingDay => ("Tweede Kerstdag", "Boxing Day"),
        };
        lang.pick(nl, en)
    }
}

/// A public holiday as observed in a particular year. Two holidays can share a
/// date (Ascension Day and Liberation Day on 5 May 2005 and 2016).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Holiday {
    pub date: Date,
    pub kind: HolidayKind,
}

impl Holiday {
    pub fn name(&self, lang: Lang) -> &'static str {
        self.kind.name(lang)
    }
}

/// Easter Sunday of `year` in the Gregorian calendar.
pub fn easter_sunday(year: i32) -> Result<Date, YearOutOfRange> {
    check_year(year)?;
    let a = year % 19; // place in the 19-year lunar (Metonic) cycle
    let (b, c) = (year / 100, year % 100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30; // days from 21 March to the paschal full moon, roughly
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7; // days from that full moon to the next Sunday
    let m = (a + 11 * h + 22 * l) / 451;
    let n = h + l - 7 * m + 114;
    let month = if n / 31 == 3 { Month::March } else { Month::April };
    Ok(ymd(year, month, (n % 31 + 1) as u8))
}

/// Only for dates that exist in every supported year.
fn ymd(year: i32, month: Month, day: u8) -> Date {
    Date::from_calendar_date(year, month, day).expect("fixed holiday dates exist in every supported year")
}

fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

fn is_working_day_given(date: Date, holidays: &[Holiday]) -> bool {
    !is_weekend(date) && !holidays.iter().any(|h| h.date == date)
}

/// Queen's or King's Day, moved off a Sunday as was the custom at the time.
fn monarchs_day(year: i32) -> Option<Holiday> {
    let (kind, month, day, off_sunday) = match year {
        1891..=1939 | 1945..=1948 => (HolidayKind::QueensDay, Month::August, 31, 1),
        1949..=1979 => (HolidayKind::QueensDay, Month::April, 30, 1),
        1980..=2013 => (HolidayKind::QueensDay, Month::April, 30, -1),
        // Assumes Willem-Alexander's day until the law says otherwise.
        2014.. => (HolidayKind::KingsDay, Month::April, 27, -1),
        _ => return None,
    };
    let mut date = ymd(year, month, day);
    if date.weekday() == Weekday::Sunday {
        date += Duration::days(off_sunday);
    }
    Some(Holiday { date, kind })
}

impl CalendarRules {
    /// All public holidays of `year`, sorted by date, including those that
    /// fall on a weekend.
    pub fn holidays(&self, year: i32) -> Result<Vec<Holiday>, YearOutOfRange> {
        let easter = easter_sunday(year)?;
        let after_easter = |days| easter + Duration::days(days);
        let mut list = vec![
            Holiday { date: ymd(year, Month::January, 1), kind: HolidayKind::NewYearsDay },
            Holiday { date: easter, kind: HolidayKind::EasterSunday },
            Holiday { date: after_easter(1), kind: HolidayKind::EasterMonday },
            Holiday { date: after_easter(39), kind: HolidayKind::AscensionDay },
            Holiday { date: after_easter(49), kind: HolidayKind::WhitSunday },
            Holiday { date: after_easter(50), kind: HolidayKind::WhitMonday },
            Holiday { date: ymd(year, Month::December, 25), kind: HolidayKind::ChristmasDay },
            Holiday { date: ymd(year, Month::December, 26), kind: HolidayKind::BoxingDay },
        ];
        list.extend(monarchs_day(year));
        // A national holiday in lustrum years from 1946 on, every year from 1990.
        if year >= 1990 || (year >= 1946 && year % 5 == 0) {
            // Before 1968 it moved when 5 May was a Sunday; no lustrum year was affected.
            list.push(Holiday { date: ymd(year, Month::May, 5), kind: HolidayKind::LiberationDay });
        }
        list.sort();
        Ok(list)
    }

    /// Whether `date` is neither a weekend day nor a public holiday.
    pub fn is_working_day(&self, date: Date) -> Result<bool, YearOutOfRange> {
        Ok(is_working_day_given(date, &self.holidays(date.year())?))
    }

    /// `date` itself if it is a working day, else the first working day after it.
    /// Fails if that would lie beyond the supported years.
    pub fn next_working_day_on_or_after(&self, date: Date) -> Result<Date, YearOutOfRange> {
        let mut day = date;
        let mut holidays = self.holidays(day.year())?;
        while !is_working_day_given(day, &holidays) {
            let next = day + Duration::DAY;
            if next.year() != day.year() {
                holidays = self.holidays(next.year())?;
            }
            day = next;
        }
        Ok(day)
    }

    /// The day of the yearly erasure: always 2, 3 or 4 January, as New Year's
    /// Day is a holiday.
    pub fn first_working_day_of_january(&self, year: i32) -> Result<Date, YearOutOfRange> {
        check_year(year)?;
        self.next_working_day_on_or_after(ymd(year, Month::January, 1))
    }

    /// The first erasure day strictly after `date`: the first working day of
    /// January of `date`'s year if `date` lies before it, else that of the next year.
    pub fn first_working_day_of_january_after(&self, date: Date) -> Result<Date, YearOutOfRange> {
        let this_year = self.first_working_day_of_january(date.year())?;
        if date < this_year { Ok(this_year) } else { self.first_working_day_of_january(date.year() + 1) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    /// Knuth's Easter (TAOCP vol. 1, §1.3.2, ex. 14), after Lilius and Clavius:
    /// works from the epact, independently of the algorithm under test.
    fn easter_knuth(year: i32) -> Date {
        let golden = year % 19 + 1;
        let century = year / 100 + 1;
        let skipped_leap_days = 3 * century / 4 - 12;
        let moon_correction = (8 * century + 5) / 25 - 5;
        let sunday_key = 5 * year / 4 - skipped_leap_days - 10;
        let mut epact = (11 * golden + 20 + moon_correction - skipped_leap_days).rem_euclid(30);
        if (epact == 25 && golden > 11) || epact == 24 {
            epact += 1;
        }
        let mut full_moon = 44 - epact; // a day of March
        if full_moon < 21 {
            full_moon += 30;
        }
        let sunday = full_moon + 7 - (sunday_key + full_moon).rem_euclid(7);
        if sunday > 31 { ymd(year, Month::April, (sunday - 31) as u8) } else { ymd(year, Month::March, sunday as u8) }
    }

    fn holiday_on(rules: &CalendarRules, date: Date) -> Vec<HolidayKind> {
        rules.holidays(date.year()).unwrap().into_iter().filter(|h| h.date == date).map(|h| h.kind).collect()
    }

    fn monarchs_day_of(year: i32) -> Option<Holiday> {
        let found: Vec<_> = CalendarRules
            .holidays(year)
            .unwrap()
            .into_iter()
            .filter(|h| matches!(h.kind, HolidayKind::QueensDay | HolidayKind::KingsDay))
            .collect();
        assert!(found.len() <= 1, "{year}: {found:?}");
        found.first().copied()
    }

    #[test]
    fn easter_matches_known_dates() {
        // Cross-checked with python-dateutil's `easter`.
        let known = [
            date!(1900 - 04 - 15),
            date!(1913 - 03 - 23),
            date!(1943 - 04 - 25),
            date!(1954 - 04 - 18),
            date!(2000 - 04 - 23),
            date!(2008 - 03 - 23),
            date!(2011 - 04 - 24),
            date!(2019 - 04 - 21),
            date!(2024 - 03 - 31),
            date!(2025 - 04 - 20),
            date!(2026 - 04 - 05),
            date!(2038 - 04 - 25),
            date!(2100 - 03 - 28),
            date!(2200 - 04 - 06),
        ];
        for expected in known {
            assert_eq!(easter_sunday(expected.year()).unwrap(), expected);
        }
    }

    #[test]
    fn easter_agrees_with_an_independent_method_every_year() {
        for year in SUPPORTED_YEARS {
            let easter = easter_sunday(year).unwrap();
            assert_eq!(easter, easter_knuth(year), "{year}");
            assert_eq!(easter.weekday(), Weekday::Sunday, "{year}");
            assert!((ymd(year, Month::March, 22)..=ymd(year, Month::April, 25)).contains(&easter), "{year}");
        }
    }

    #[test]
    fn monarchs_day_follows_history() {
        let cases = [
            (2025, Some((date!(2025 - 04 - 26), HolidayKind::KingsDay))), // 27th a Sunday
            (2026, Some((date!(2026 - 04 - 27), HolidayKind::KingsDay))),
            (2014, Some((date!(2014 - 04 - 26), HolidayKind::KingsDay))),
            (2013, Some((date!(2013 - 04 - 30), HolidayKind::QueensDay))),
            (2006, Some((date!(2006 - 04 - 29), HolidayKind::QueensDay))), // 30th a Sunday
            (2000, Some((date!(2000 - 04 - 29), HolidayKind::QueensDay))),
            (1980, Some((date!(1980 - 04 - 30), HolidayKind::QueensDay))),
            (1978, Some((date!(1978 - 05 - 01), HolidayKind::QueensDay))), // Sunday, moved forward then
            (1967, Some((date!(1967 - 05 - 01), HolidayKind::QueensDay))),
            (1949, Some((date!(1949 - 04 - 30), HolidayKind::QueensDay))),
            (1948, Some((date!(1948 - 08 - 31), HolidayKind::QueensDay))),
            (1947, Some((date!(1947 - 09 - 01), HolidayKind::QueensDay))), // 31 August a Sunday
            (1945, Some((date!(1945 - 08 - 31), HolidayKind::QueensDay))),
            (1942, None), // occupation
            (1940, None),
            (1938, Some((date!(1938 - 08 - 31), HolidayKind::QueensDay))),
            (1902, Some((date!(1902 - 09 - 01), HolidayKind::QueensDay))),
            (1900, Some((date!(1900 - 08 - 31), HolidayKind::QueensDay))),
            (2200, Some((date!(2200 - 04 - 26), HolidayKind::KingsDay))), // 27th a Sunday
        ];
        for (year, expected) in cases {
            assert_eq!(monarchs_day_of(year).map(|h| (h.date, h.kind)), expected, "{year}");
        }
        for year in SUPPORTED_YEARS {
            if let Some(day) = monarchs_day_of(year) {
                assert_ne!(day.date.weekday(), Weekday::Sunday, "{year}");
            }
        }
    }

    #[test]
    fn first_working_day_of_january_examples() {
        let rules = CalendarRules;
        for expected in [
            date!(2022 - 01 - 03), // 1 January a Saturday
            date!(2023 - 01 - 02), // a Sunday
            date!(2026 - 01 - 02), // a Thursday: the Friday after it
            date!(2028 - 01 - 03),
            date!(2017 - 01 - 02),
            date!(2027 - 01 - 04), // a Friday
            date!(2200 - 01 - 02),
        ] {
            assert_eq!(rules.first_working_day_of_january(expected.year()).unwrap(), expected);
        }
    }

    #[test]
    fn first_working_day_of_january_after_is_strictly_after() {
        let rules = CalendarRules;
        let after = |d| rules.first_working_day_of_january_after(d);
        assert_eq!(after(date!(2025 - 06 - 01)), Ok(date!(2026 - 01 - 02)));
        assert_eq!(after(date!(2025 - 12 - 31)), Ok(date!(2026 - 01 - 02)));
        assert_eq!(after(date!(2026 - 01 - 01)), Ok(date!(2026 - 01 - 02)));
        assert_eq!(after(date!(2026 - 01 - 02)), Ok(date!(2027 - 01 - 04)));
        assert_eq!(after(date!(2200 - 01 - 01)), Ok(date!(2200 - 01 - 02)));
        assert_eq!(after(date!(2200 - 01 - 02)), Err(YearOutOfRange { year: 2201 }));
    }

    #[test]
    fn liberation_day_in_lustrum_years_then_every_year_from_1990() {
        let rules = CalendarRules;
        let liberation = |year| holiday_on(&rules, ymd(year, Month::May, 5)).contains(&HolidayKind::LiberationDay);
        for year in [1950, 1985, 1990, 1991, 2025, 2026] {
            assert!(liberation(year), "{year}");
        }
        for year in [1940, 1945, 1946, 1986, 1989] {
            assert!(!liberation(year), "{year}");
        }
        assert!(!rules.is_working_day(date!(2026 - 05 - 05)).unwrap());
        assert!(rules.is_working_day(date!(1986 - 05 - 05)).unwrap());
    }

    #[test]
    fn coinciding_holidays_are_both_listed() {
        let on = holiday_on(&CalendarRules, date!(2005 - 05 - 05));
        assert_eq!(on, [HolidayKind::LiberationDay, HolidayKind::AscensionDay]);
    }

    #[test]
    fn good_friday_is_a_working_day() {
        let good_friday = date!(2025 - 04 - 18);
        assert!(CalendarRules.is_working_day(good_friday).unwrap());
        assert!(holiday_on(&CalendarRules, good_friday).is_empty());
    }

    #[test]
    fn holidays_of_2025() {
        let expected = [
            (date!(2025 - 01 - 01), "Nieuwjaarsdag", "New Year's Day"),
            (date!(2025 - 04 - 20), "Eerste Paasdag", "Easter Sunday"),
            (date!(2025 - 04 - 21), "Tweede Paasdag", "Easter Monday"),
            (date!(2025 - 04 - 26), "Koningsdag", "King's Day"),
            (date!(2025 - 05 - 05), "Bevrijdingsdag", "Liberation Day"),
            (date!(2025 - 05 - 29), "Hemelvaartsdag", "Ascension Day"),
            (date!(2025 - 06 - 08), "Eerste Pinksterdag", "Whit Sunday"),
            (date!(2025 - 06 - 09), "Tweede Pinksterdag", "Whit Monday"),
            (date!(2025 - 12 - 25), "Eerste Kerstdag", "Christmas Day"),
            (date!(2025 - 12 - 26), "Tweede Kerstdag", "Boxing Day"),
        ];
        let actual: Vec<_> = CalendarRules
            .holidays(2025)
            .unwrap()
            .iter()
            .map(|h| (h.date, h.name(Lang::Nl), h.name(Lang::En)))
            .collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn working_days_around_holidays() {
        let rules = CalendarRules;
        assert!(rules.is_working_day(date!(2025 - 04 - 22)).unwrap());
        assert!(!rules.is_working_day(date!(2025 - 04 - 19)).unwrap()); // Saturday
        assert_eq!(rules.next_working_day_on_or_after(date!(2025 - 04 - 19)), Ok(date!(2025 - 04 - 22)));
        assert_eq!(rules.next_working_day_on_or_after(date!(2025 - 12 - 25)), Ok(date!(2025 - 12 - 29)));
        assert_eq!(rules.next_working_day_on_or_after(date!(2025 - 12 - 31)), Ok(date!(2025 - 12 - 31)));
        assert_eq!(rules.next_working_day_on_or_after(date!(2022 - 12 - 31)), Ok(date!(2023 - 01 - 02)));
        assert_eq!(rules.next_working_day_on_or_after(date!(2200 - 12 - 31)), Ok(date!(2200 - 12 - 31)));
    }

    #[test]
    fn years_out_of_range_are_refused() {
        let rules = CalendarRules;
        for year in [1899, 2201, 0, -1, i32::MIN, i32::MAX] {
            let err = YearOutOfRange { year };
            assert_eq!(easter_sunday(year), Err(err));
            assert_eq!(rules.holidays(year), Err(err));
            assert_eq!(rules.first_working_day_of_january(year), Err(err));
        }
        for day in [date!(1899 - 12 - 31), date!(2201 - 01 - 01)] {
            let err = YearOutOfRange { year: day.year() };
            assert_eq!(rules.is_working_day(day), Err(err));
            assert_eq!(rules.next_working_day_on_or_after(day), Err(err));
            assert_eq!(rules.first_working_day_of_january_after(day), Err(err));
        }
        let err = YearOutOfRange { year: 1899 };
        assert!(err.message(Lang::Nl).contains("1899") && err.message(Lang::Nl).contains("jaar"));
        assert!(err.message(Lang::En).contains("1899") && err.message(Lang::En).contains("year"));
        assert_eq!(err.to_string(), err.message(Lang::En));
        let _: &dyn std::error::Error = &err;
    }

    fn any_date() -> impl Strategy<Value = Date> {
        let first = ymd(*SUPPORTED_YEARS.start(), Month::January, 1).to_julian_day();
        let last = ymd(*SUPPORTED_YEARS.end(), Month::December, 31).to_julian_day();
        (first..=last).prop_map(|day| Date::from_julian_day(day).unwrap())
    }

    proptest! {
        #[test]
        fn first_working_day_of_january_is_2_to_4_january(year in SUPPORTED_YEARS) {
            let rules = CalendarRules;
            let day = rules.first_working_day_of_january(year).unwrap();
            prop_assert_eq!((day.year(), day.month()), (year, Month::January));
            prop_assert!((2..=4).contains(&day.day()));
            prop_assert!(!is_weekend(day));
            prop_assert!(rules.holidays(year).unwrap().iter().all(|h| h.date != day));
            prop_assert!(rules.is_working_day(day).unwrap());
        }

        #[test]
        fn holidays_are_sorted_distinct_and_in_the_year(year in SUPPORTED_YEARS) {
            let holidays = CalendarRules.holidays(year).unwrap();
            prop_assert!(holidays.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(holidays.iter().all(|h| h.date.year() == year));
            let mut kinds: Vec<_> = holidays.iter().map(|h| h.kind).collect();
            kinds.sort();
            kinds.dedup();
            prop_assert_eq!(kinds.len(), holidays.len());
        }

        #[test]
        fn next_working_day_is_the_nearest(date in any_date()) {
            let rules = CalendarRules;
            let found = rules.next_working_day_on_or_after(date).unwrap();
            prop_assert!(found >= date);
            prop_assert!(rules.is_working_day(found).unwrap());
            let mut day = date;
            while day < found {
                prop_assert!(!rules.is_working_day(day).unwrap());
                day += Duration::DAY;
            }
        }

        #[test]
        fn first_working_day_of_january_after_is_the_next_erasure(date in any_date()) {
            let rules = CalendarRules;
            match rules.first_working_day_of_january_after(date) {
                Ok(found) => {
                    prop_assert!(found > date);
                    prop_assert!(found.year() == date.year() || found.year() == date.year() + 1);
                    prop_assert_eq!(rules.first_working_day_of_january(found.year()).unwrap(), found);
                    if found.year() > date.year() {
                        prop_assert!(rules.first_working_day_of_january(date.year()).unwrap() <= date);
                    }
                }
                Err(err) => {
                    prop_assert_eq!(err.year, 2201);
                    prop_assert!(rules.first_working_day_of_january(2200).unwrap() <= date);
                }
            }
        }
    }
}
