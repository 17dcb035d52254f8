//! The working calendar: when the window is open, the next opening, working-day deadlines.
//!
//! Pure data and functions. Official years come from files (see [`year_file`]); a year with
//! no file falls back to the statutory holidays ([`statutory`]) and everything derived from
//! such a year is marked provisional.

#[cfg(test)]
mod properties;
mod statutory;
mod year_file;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

pub use statutory::statutory_year;
pub use year_file::{parse_year_file, suspicious_makeup_days, YearFileError};

/// How far ahead the calendar searches for a working day before it gives up. The longest
/// real stretch without one is the Spring Festival (9 days); a year is plenty.
const SEARCH_LIMIT_DAYS: u64 = 366;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub name: String,
    pub name_en: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Holiday {
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date <= self.end
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YearSource {
    /// From the State Council notice, as an administrator entered it.
    Official { notice: String },
    /// Derived from the statutory holidays; no make-up days are known.
    Provisional,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCalendar {
    pub year: i32,
    pub source: YearSource,
    pub holidays: Vec<Holiday>,
    pub makeup_workdays: BTreeSet<NaiveDate>,
}

/// One working period of a working day, in local time, `start < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingPeriod {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl FromStr for WorkingPeriod {
    type Err = String;

    /// Parses `08:30-12:00`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("working period `{s}` must look like 08:30-12:00"))?;
        let time = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M")
                .map_err(|_| format!("`{}` in working period `{s}` is not a time HH:MM", t.trim()))
        };
        let (start, end) = (time(a)?, time(b)?);
        if start >= end {
            return Err(format!("working period `{s}` ends before it starts"));
        }
        Ok(Self { start, end })
    }
}

impl fmt::Display for WorkingPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// An ordinary Monday to Friday.
    Working,
    /// A weekend day made a working day (调休上班).
    MakeupWorking,
    /// Inside a public holiday.
    Holiday,
    /// An ordinary Saturday or Sunday.
    Weekend,
}

impl DayKind {
    pub fn is_working(self) -> bool {
        matches!(self, DayKind::Working | DayKind::MakeupWorking)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayInfo {
    pub date: NaiveDate,
    pub kind: DayKind,
    /// The holiday's Chinese name, when `kind` is `Holiday`.
    pub holiday: Option<String>,
    /// True when the year has no official file and the day was derived by the fallback.
    pub provisional: bool,
}

/// A computed instant, with whether any day it depends on came from the fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Derived {
    pub at: DateTime<Utc>,
    pub provisional: bool,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CalendarError {
    #[error("no working period is configured")]
    NoWorkingPeriods,
    #[error("working periods {0} and {1} overlap or are out of order")]
    OverlappingPeriods(String, String),
    #[error("no working day within a year of {0}: the calendar cannot answer")]
    NoWorkingDay(NaiveDate),
}

#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    tz: Tz,
    periods: Vec<WorkingPeriod>,
    official: BTreeMap<i32, YearCalendar>,
    fallback: BTreeMap<i32, YearCalendar>,
}

impl WorkingCalendar {
    pub fn new(
        tz: Tz,
        periods: Vec<WorkingPeriod>,
        official_years: impl IntoIterator<Item = YearCalendar>,
    ) -> Result<Self, CalendarError> {
        if periods.is_empty() {
            return Err(CalendarError::NoWorkingPeriods);
        }
        for pair in periods.windows(2) {
            if pair[0].end > pair[1].start {
                return Err(CalendarError::OverlappingPeriods(
                    pair[0].to_string(),
                    pair[1].to_string(),
                ));
            }
        }
        let official: BTreeMap<i32, YearCalendar> =
            official_years.into_iter().map(|y| (y.year, y)).collect();
        // Every year the lunar tables cover gets a fallback, computed once: a deadline
        // loop must not redo lunar arithmetic per day.
        let fallback = (1901..=2100)
            .filter(|y| !official.contains_key(y))
            .filter_map(statutory_year)
            .map(|y| (y.year, y))
            .collect();
        Ok(Self {
            tz,
            periods,
            official,
            fallback,
        })
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    pub fn periods(&self) -> &[WorkingPeriod] {
        &self.periods
    }

    pub fn official_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.official.keys().copied()
    }

    pub fn year(&self, year: i32) -> Option<&YearCalendar> {
        self.official
            .get(&year)
            .or_else(|| self.fallback.get(&year))
    }

    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    pub fn day(&self, date: NaiveDate) -> DayInfo {
        let year = self.year(date.year());
        let provisional = !self.official.contains_key(&date.year());
        // A holiday that starts in late December may spill into the next year's file.
        let holiday = year
            .into_iter()
            .chain(self.year(date.year() - 1))
            .flat_map(|y| y.holidays.iter())
            .find(|h| h.contains(date));
        let kind = if year.is_some_and(|y| y.makeup_workdays.contains(&date)) {
            DayKind::MakeupWorking
        } else if holiday.is_some() {
            DayKind::Holiday
        } else if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            DayKind::Weekend
        } else {
            DayKind::Working
        };
        DayInfo {
            date,
            kind,
            holiday: holiday
                .filter(|_| kind == DayKind::Holiday)
                .map(|h| h.name.clone()),
            provisional,
        }
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.day(date).kind.is_working()
    }

    fn at(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        // Asia/Shanghai has no DST since 1991; `earliest` keeps other zones total.
        let local = date.and_time(time);
        match self.tz.from_local_datetime(&local).earliest() {
            Some(t) => t.with_timezone(&Utc),
            None => Utc.from_utc_datetime(&local),
        }
    }

    /// Whether the window is staffed at instant `t`: a working day, inside a period
    /// (start inclusive, end exclusive).
    pub fn is_working_time(&self, t: DateTime<Utc>) -> bool {
        let local = t.with_timezone(&self.tz);
        self.is_working_day(local.date_naive())
            && self
                .periods
                .iter()
                .any(|p| p.start <= local.time() && local.time() < p.end)
    }

    /// The first start of a working period at or after `t`.
    pub fn next_opening(&self, t: DateTime<Utc>) -> Result<Derived, CalendarError> {
        let first = self.local_date(t);
        let mut provisional = false;
        for offset in 0..=SEARCH_LIMIT_DAYS {
            let date = first + Days::new(offset);
            let day = self.day(date);
            provisional |= day.provisional;
            if !day.kind.is_working() {
                continue;
            }
            if let Some(start) = self
                .periods
                .iter()
                .map(|p| self.at(date, p.start))
                .find(|s| *s >= t)
            {
                return Ok(Derived {
                    at: start,
                    provisional,
                });
            }
        }
        Err(CalendarError::NoWorkingDay(first))
    }

    /// The close of the `n`-th working day after the local day of `from`: the deadline of a
    /// matter received at `from` with `n` working days to solve it.
    pub fn add_working_days(&self, from: DateTime<Utc>, n: u32) -> Result<Derived, CalendarError> {
        let mut date = self.local_date(from);
        let mut provisional = false;
        let mut remaining = n;
        let mut searched = 0;
        while remaining > 0 {
            date = date + Days::new(1);
            searched += 1;
            if searched > SEARCH_LIMIT_DAYS * u64::from(n.max(1)) {
                return Err(CalendarError::NoWorkingDay(self.local_date(from)));
            }
            let day = self.day(date);
            provisional |= day.provisional;
            if day.kind.is_working() {
                remaining -= 1;
            }
        }
        let close = self
            .periods
            .last()
            .map(|p| p.end)
            .ok_or(CalendarError::NoWorkingPeriods)?;
        Ok(Derived {
            at: self.at(date, close),
            provisional,
        })
    }

    /// The `n`-th working day before `date` (`date` itself for 0): the inverse of counting
    /// working days forward, e.g. for "received more than five working days ago".
    pub fn working_days_before(&self, date: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut day = date;
        let mut remaining = n;
        let mut searched = 0;
        while remaining > 0 {
            day = day - Days::new(1);
            searched += 1;
            if searched > SEARCH_LIMIT_DAYS * u64::from(n.max(1)) {
                return Err(CalendarError::NoWorkingDay(date));
            }
            if self.day(day).kind.is_working() {
                remaining -= 1;
            }
        }
        Ok(day)
    }

    /// The days of one month, for display.
    pub fn month(&self, year: i32, month: u32) -> Vec<DayInfo> {
        let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
            return Vec::new();
        };
        first
            .iter_days()
            .take_while(|d| d.month() == month)
            .map(|d| self.day(d))
            .collect()
    }

    /// The years between `from` and `from + days` that have no official file.
    pub fn provisional_years(&self, from: NaiveDate, days: u64) -> Vec<i32> {
        let last = from + Days::new(days);
        (from.year()..=last.year())
            .filter(|y| !self.official.contains_key(y))
            .collect()
    }
}

/// Fixtures for the domain's tests: the shipped official years and the default hours.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn calendar() -> WorkingCalendar {
        let years = [
            include_str!("../../../config/calendar/2025.toml"),
            include_str!("../../../config/calendar/2026.toml"),
        ]
        .map(|t| parse_year_file(t, None).unwrap());
        let periods = vec![
            "08:30-12:00".parse().unwrap(),
            "13:00-17:00".parse().unwrap(),
        ];
        WorkingCalendar::new(chrono_tz::Asia::Shanghai, periods, years).unwrap()
    }

    /// An RFC 3339 instant.
    pub fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::fixtures::{at as local, calendar};

    fn next_opening(s: &str) -> String {
        let got = calendar().next_opening(local(s)).unwrap();
        assert!(!got.provisional);
        got.at
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .to_rfc3339()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn friday_evening_before_a_makeup_saturday_opens_on_that_saturday() {
        assert_eq!(
            next_opening("2026-02-13T19:30:00+08:00"),
            "2026-02-14T08:30:00+08:00"
        );
    }

    #[test]
    fn the_evening_before_national_day_opens_after_the_whole_holiday() {
        assert_eq!(
            next_opening("2026-09-30T20:00:00+08:00"),
            "2026-10-08T08:30:00+08:00"
        );
    }

    #[test]
    fn friday_night_before_a_makeup_saturday_in_may_opens_on_saturday() {
        assert_eq!(
            next_opening("2026-05-08T22:15:00+08:00"),
            "2026-05-09T08:30:00+08:00"
        );
    }

    #[test]
    fn new_years_holiday_saturday_opens_on_the_makeup_sunday() {
        assert_eq!(
            next_opening("2026-01-03T10:00:00+08:00"),
            "2026-01-04T08:30:00+08:00"
        );
    }

    #[test]
    fn lunch_break_opens_at_one_the_same_day() {
        assert_eq!(
            next_opening("2026-11-27T12:30:00+08:00"),
            "2026-11-27T13:00:00+08:00"
        );
    }

    #[test]
    fn an_ordinary_friday_night_opens_on_monday() {
        assert_eq!(
            next_opening("2026-11-27T18:00:00+08:00"),
            "2026-11-30T08:30:00+08:00"
        );
    }

    #[test]
    fn opening_time_itself_is_the_opening() {
        assert_eq!(
            next_opening("2026-11-30T08:30:00+08:00"),
            "2026-11-30T08:30:00+08:00"
        );
    }

    #[test]
    fn a_simple_case_from_friday_afternoon_is_due_at_the_close_of_the_makeup_sunday() {
        let due = calendar()
            .add_working_days(local("2026-09-18T15:00:00+08:00"), 1)
            .unwrap();
        assert_eq!(due.at, local("2026-09-20T17:00:00+08:00"));
        assert!(!due.provisional);
    }

    #[test]
    fn a_difficult_case_counts_five_working_days_across_national_day() {
        // Received Wed 9-30: working days after it are 10-8, 10-9, 10-10 (make-up), 10-12, 10-13.
        let due = calendar()
            .add_working_days(local("2026-09-30T10:00:00+08:00"), 5)
            .unwrap();
        assert_eq!(due.at, local("2026-10-13T17:00:00+08:00"));
    }

    #[test]
    fn working_time_excludes_lunch_weekends_and_holidays_but_includes_makeup_days() {
        let c = calendar();
        assert!(c.is_working_time(local("2026-11-27T09:00:00+08:00")));
        assert!(!c.is_working_time(local("2026-11-27T12:00:00+08:00")));
        assert!(!c.is_working_time(local("2026-11-28T09:00:00+08:00")));
        assert!(!c.is_working_time(local("2026-10-02T09:00:00+08:00")));
        assert!(c.is_working_time(local("2026-10-10T09:00:00+08:00")));
        assert!(!c.is_working_time(local("2026-11-27T17:00:00+08:00")));
    }

    #[test]
    fn the_reference_next_working_day_vectors_hold() {
        let c = calendar();
        let cases = [
            ((2026, 2, 14), (2026, 2, 24)),
            ((2026, 2, 22), (2026, 2, 24)),
            ((2026, 2, 27), (2026, 2, 28)),
            ((2025, 12, 31), (2026, 1, 4)),
            ((2026, 4, 3), (2026, 4, 7)),
            ((2026, 6, 18), (2026, 6, 22)),
            ((2026, 9, 19), (2026, 9, 20)),
            ((2026, 9, 24), (2026, 9, 28)),
            ((2026, 10, 9), (2026, 10, 10)),
            ((2025, 1, 24), (2025, 1, 26)),
            ((2025, 9, 30), (2025, 10, 9)),
        ];
        for ((y, m, d), (ey, em, ed)) in cases {
            let evening = c.at(date(y, m, d), NaiveTime::from_hms_opt(20, 0, 0).unwrap());
            let next = c.next_opening(evening).unwrap();
            assert_eq!(c.local_date(next.at), date(ey, em, ed), "after {y}-{m}-{d}");
        }
    }

    #[test]
    fn official_years_have_248_working_days() {
        let c = calendar();
        for year in [2025, 2026] {
            let working = date(year, 1, 1)
                .iter_days()
                .take_while(|d| d.year() == year)
                .filter(|d| c.is_working_day(*d))
                .count();
            assert_eq!(working, 248, "{year}");
        }
    }

    #[test]
    fn a_year_without_a_file_is_provisional_not_guessed() {
        let c = calendar();
        let day = c.day(date(2027, 2, 5));
        assert_eq!(day.kind, DayKind::Holiday);
        assert!(day.provisional);
        let next = c.next_opening(local("2026-12-31T18:00:00+08:00")).unwrap();
        assert!(next.provisional);
        assert_eq!(c.local_date(next.at), date(2027, 1, 4));
        assert_eq!(c.provisional_years(date(2026, 12, 20), 30), vec![2027]);
        assert!(c.provisional_years(date(2026, 11, 28), 30).is_empty());
    }

    #[test]
    fn month_view_marks_holidays_and_makeup_days() {
        let days = calendar().month(2026, 10);
        assert_eq!(days.len(), 31);
        assert_eq!(days[0].kind, DayKind::Holiday);
        assert_eq!(days[0].holiday.as_deref(), Some("国庆节"));
        assert_eq!(days[9].kind, DayKind::MakeupWorking);
        assert_eq!(days[7].kind, DayKind::Working);
    }

    #[test]
    fn working_periods_are_parsed_and_checked() {
        assert!("12:00-08:30".parse::<WorkingPeriod>().is_err());
        assert!("8h".parse::<WorkingPeriod>().is_err());
        let overlapping = vec![
            "08:30-12:30".parse().unwrap(),
            "12:00-17:00".parse().unwrap(),
        ];
        assert!(matches!(
            WorkingCalendar::new(chrono_tz::Asia::Shanghai, overlapping, []),
            Err(CalendarError::OverlappingPeriods(..))
        ));
    }
}
