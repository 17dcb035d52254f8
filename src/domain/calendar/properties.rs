//! Properties of the working calendar, for any instant from 2025 to 2027 (two official years
//! and one on the statutory fallback): the next opening is working time with none before it,
//! and counting working days forward then back returns to the day.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::fixtures::calendar;
use super::WorkingCalendar;

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let from = Utc
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    let to = Utc
        .with_ymd_and_hms(2027, 12, 31, 0, 0, 0)
        .unwrap()
        .timestamp();
    (from..to).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap())
}

/// Whether any minute in `[from, to)` is working time. Periods start and end on whole
/// minutes, so checking `from` and every whole minute after it is exact.
fn any_working_time(cal: &WorkingCalendar, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    if from >= to {
        return false;
    }
    if cal.is_working_time(from) {
        return true;
    }
    let mut m = from + Duration::seconds(60 - i64::from(from.timestamp().rem_euclid(60) as i32));
    while m < to {
        if cal.is_working_time(m) {
            return true;
        }
        m += Duration::minutes(1);
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_next_opening_is_working_time_with_none_before_it(t in instant()) {
        let cal = calendar();
        let opening = cal.next_opening(t).unwrap().at;
        prop_assert!(opening >= t);
        prop_assert!(cal.is_working_time(opening), "{opening} is not working time");
        // Off hours, nothing is open before the opening; during hours the next opening is
        // the next period's start and the window is open meanwhile.
        if !cal.is_working_time(t) {
            prop_assert!(!any_working_time(&cal, t, opening), "working time between {t} and {opening}");
        }
        // An opening is the start of a period: the minute before it is not working time.
        prop_assert!(!cal.is_working_time(opening - Duration::minutes(1)));
    }

    #[test]
    fn adding_working_days_then_going_back_returns_to_the_day(t in instant(), n in 0u32..=20) {
        let cal = calendar();
        let day = cal.local_date(t);
        let deadline = cal.add_working_days(t, n).unwrap().at;
        let end_day = cal.local_date(deadline);
        prop_assert!(n == 0 || cal.is_working_day(end_day));
        let back = cal.working_days_before(end_day, n).unwrap();
        if n == 0 || cal.is_working_day(day) {
            prop_assert_eq!(back, day);
        } else {
            // From a day off, going back lands on the last working day before it.
            prop_assert!(back < day);
            prop_assert!(cal.is_working_day(back));
            prop_assert_eq!(cal.working_days_before(day, 1).unwrap(), back);
        }
    }
}
