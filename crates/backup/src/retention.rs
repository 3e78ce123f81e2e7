//! Which snapshots go (A16): every nightly restore point of the last
//! `keep_days` stays, then one a week (the newest of its ISO week) until
//! `max_days`, and nothing older. The newest restore point always stays, and
//! of the journal-only snapshots only the newest (each holds the whole journal).

use std::collections::HashSet;

use crate::SnapshotInfo;

const DAY: i64 = 86_400;

/// The snapshots among `snaps` to forget at time `now` (seconds).
pub fn forget(snaps: &[SnapshotInfo], now: i64, keep_days: u32, max_days: u32) -> Vec<SnapshotInfo> {
    let mut gone = vec![];
    let newest = |journal: bool| snaps.iter().filter(|s| s.kind_journal == journal).max_by_key(|s| s.time);
    let (newest_db, newest_journal) = (newest(false), newest(true));
    let mut weeks_kept = HashSet::new();
    let mut newest_first: Vec<&SnapshotInfo> = snaps.iter().collect();
    newest_first.sort_by_key(|s| std::cmp::Reverse(s.time));
    for s in newest_first {
        if s.kind_journal {
            if Some(s) != newest_journal {
                gone.push(s.clone());
            }
            continue;
        }
        if Some(s) == newest_db {
            continue;
        }
        let age = now - s.time;
        let keep = if age <= i64::from(keep_days) * DAY {
            true
        } else if age <= i64::from(max_days) * DAY {
            weeks_kept.insert(week(s.time))
        } else {
            false
        };
        if !keep {
            gone.push(s.clone());
        }
    }
    gone
}

fn week(t: i64) -> (i32, u8) {
    let d = time::OffsetDateTime::from_unix_timestamp(t).map(|t| t.date()).unwrap_or(time::Date::MIN);
    let (year, week, _) = d.to_iso_week_date();
    (year, week)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(day: i64, journal: bool) -> SnapshotInfo {
        SnapshotInfo::for_test(day * DAY, journal)
    }

    // 2026-03-02 (a Monday) at midnight UTC.
    const NOW_DAY: i64 = 20_514;

    fn kept(snaps: &[SnapshotInfo], keep: u32, max: u32) -> Vec<i64> {
        let gone = forget(snaps, NOW_DAY * DAY + 3_600, keep, max);
        snaps.iter().filter(|s| !gone.contains(s)).map(|s| NOW_DAY - s.time / DAY).collect()
    }

    #[test]
    fn nightly_for_two_weeks_weekly_to_two_months_nothing_older() {
        let snaps: Vec<SnapshotInfo> = (0..90).map(|ago| snap(NOW_DAY - ago, false)).collect();
        let kept = kept(&snaps, 14, 60);
        assert!((0..=14).all(|d| kept.contains(&d)), "every night of the last 14 days: {kept:?}");
        let older: Vec<i64> = kept.iter().copied().filter(|d| *d > 14).collect();
        assert!(older.iter().all(|d| *d <= 60), "nothing past 60 days: {older:?}");
        // One per ISO week between: weeks end on Sunday, 1 day before NOW_DAY's Monday.
        assert_eq!(older, [15, 22, 29, 36, 43, 50, 57], "the newest of each week");
    }

    #[test]
    fn the_newest_restore_point_stays_however_old() {
        let snaps = vec![snap(NOW_DAY - 200, false), snap(NOW_DAY - 100, false), snap(NOW_DAY - 1, true)];
        assert_eq!(kept(&snaps, 14, 60), [100, 1]);
    }

    #[test]
    fn only_the_newest_journal_snapshot_stays() {
        let snaps = vec![snap(NOW_DAY - 3, true), snap(NOW_DAY - 2, false), snap(NOW_DAY - 1, true)];
        assert_eq!(kept(&snaps, 14, 60), [2, 1]);
    }
}
