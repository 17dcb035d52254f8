//! Parsing of one year's official calendar file (`config/calendar/<year>.toml`).
//!
//! The format mirrors the State Council notice: holiday ranges and make-up working days.
//! Parsing is pure: the caller reads the file.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

use super::{Holiday, YearCalendar, YearSource};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum YearFileError {
    #[error("not valid TOML: {0}")]
    Syntax(String),
    #[error("`{0}` is not a date (write it as YYYY-MM-DD)")]
    NotADate(String),
    #[error("holiday `{name}` ends ({end}) before it starts ({start})")]
    Reversed {
        name: String,
        start: NaiveDate,
        end: NaiveDate,
    },
    #[error("{date} is outside the year {year} this file describes")]
    OutsideYear { year: i32, date: NaiveDate },
    #[error("make-up working day {0} falls inside a holiday")]
    MakeupInsideHoliday(NaiveDate),
    #[error("the file describes {found} but is named for {expected}")]
    WrongYear { expected: i32, found: i32 },
}

#[derive(Deserialize)]
struct RawYear {
    year: i32,
    #[serde(default)]
    notice_title: String,
    #[serde(default)]
    holidays: Vec<RawHoliday>,
    #[serde(default)]
    makeup_workdays: Vec<RawMakeup>,
}

#[derive(Deserialize)]
struct RawHoliday {
    name: String,
    #[serde(default)]
    name_en: String,
    start: toml::value::Datetime,
    end: toml::value::Datetime,
}

#[derive(Deserialize)]
struct RawMakeup {
    date: toml::value::Datetime,
}

fn to_date(value: &toml::value::Datetime) -> Result<NaiveDate, YearFileError> {
    let text = value.to_string();
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| YearFileError::NotADate(text))
}

/// Parses one year's file. `expected_year` comes from the file name, when there is one.
pub fn parse_year_file(
    text: &str,
    expected_year: Option<i32>,
) -> Result<YearCalendar, YearFileError> {
    let raw: RawYear = toml::from_str(text).map_err(|e| YearFileError::Syntax(e.to_string()))?;
    if let Some(expected) = expected_year {
        if expected != raw.year {
            return Err(YearFileError::WrongYear {
                expected,
                found: raw.year,
            });
        }
    }
    let year = raw.year;
    let in_year = |date: NaiveDate| {
        if date.year() == year {
            Ok(date)
        } else {
            Err(YearFileError::OutsideYear { year, date })
        }
    };
    let mut holidays = Vec::with_capacity(raw.holidays.len());
    for h in raw.holidays {
        let start = in_year(to_date(&h.start)?)?;
        // A holiday may run into the next year (New Year's Eve is never one today, but
        // the format allows it); only its start has to be in this file's year.
        let end = to_date(&h.end)?;
        if end < start {
            return Err(YearFileError::Reversed {
                name: h.name,
                start,
                end,
            });
        }
        let name_en = if h.name_en.is_empty() {
            h.name.clone()
        } else {
            h.name_en
        };
        holidays.push(Holiday {
            name: h.name,
            name_en,
            start,
            end,
        });
    }
    let mut makeup = BTreeSet::new();
    for m in raw.makeup_workdays {
        let date = in_year(to_date(&m.date)?)?;
        if holidays.iter().any(|h| h.contains(date)) {
            return Err(YearFileError::MakeupInsideHoliday(date));
        }
        makeup.insert(date);
    }
    Ok(YearCalendar {
        year,
        source: YearSource::Official {
            notice: raw.notice_title,
        },
        holidays,
        makeup_workdays: makeup,
    })
}

/// Make-up days on ordinary weekdays are legal in the format but almost surely a typo.
pub fn suspicious_makeup_days(year: &YearCalendar) -> Vec<NaiveDate> {
    year.makeup_workdays
        .iter()
        .copied()
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED_2026: &str = include_str!("../../../config/calendar/2026.toml");

    #[test]
    fn shipped_2026_file_parses_with_its_seven_holidays_and_six_makeup_days() {
        let year = parse_year_file(SHIPPED_2026, Some(2026)).unwrap();
        assert_eq!(year.holidays.len(), 7);
        assert_eq!(year.makeup_workdays.len(), 6);
        assert!(suspicious_makeup_days(&year).is_empty());
    }

    #[test]
    fn a_file_named_for_another_year_is_rejected() {
        let err = parse_year_file(SHIPPED_2026, Some(2027)).unwrap_err();
        assert_eq!(
            err,
            YearFileError::WrongYear {
                expected: 2027,
                found: 2026
            }
        );
    }

    #[test]
    fn a_reversed_holiday_is_rejected_with_its_name() {
        let text =
            "year = 2030\n[[holidays]]\nname = \"x\"\nstart = 2030-05-05\nend = 2030-05-01\n";
        assert!(matches!(
            parse_year_file(text, None),
            Err(YearFileError::Reversed { .. })
        ));
    }

    #[test]
    fn a_makeup_day_inside_a_holiday_is_rejected() {
        let text =
            "year = 2030\n[[holidays]]\nname = \"x\"\nstart = 2030-05-01\nend = 2030-05-05\n\
                    [[makeup_workdays]]\ndate = 2030-05-04\n";
        assert_eq!(
            parse_year_file(text, None).unwrap_err(),
            YearFileError::MakeupInsideHoliday(NaiveDate::from_ymd_opt(2030, 5, 4).unwrap())
        );
    }
}
