//! The provisional calendar for a year without an official notice.
//!
//! The State Council publishes each year's arrangement (with make-up working days) in
//! November of the year before. Until an administrator adds that file, youmen falls back to
//! the statutory holidays of 《全国年节及纪念日放假办法》 as revised in 2024, without make-up
//! days, and marks every date it derives as provisional. Lunar dates and the Qingming solar
//! term come from the `nongli` crate.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate};
use nongli::{ChineseDate, SolarTerm};

use super::{Holiday, YearCalendar, YearSource};

/// The statutory holidays of `year`, or `None` outside the lunar tables (1901..=2100).
pub fn statutory_year(year: i32) -> Option<YearCalendar> {
    let ymd = |m, d| NaiveDate::from_ymd_opt(year, m, d);
    let lunar_new_year = lunar_date_in(year, 1, 1)?;
    let new_years_eve = lunar_new_year.checked_sub_days(Days::new(1))?;
    let qingming = (1..=10)
        .filter_map(|d| ymd(4, d))
        .find(|d| SolarTerm::from_date(d) == Some(SolarTerm::Qingming))?;
    let span = |name: &str, name_en: &str, start: NaiveDate, days: u64| Holiday {
        name: name.to_owned(),
        name_en: name_en.to_owned(),
        start,
        end: start + Days::new(days - 1),
    };
    let holidays = vec![
        span("元旦", "New Year's Day", ymd(1, 1)?, 1),
        span("春节", "Spring Festival", new_years_eve, 4),
        span("清明节", "Qingming Festival", qingming, 1),
        span("劳动节", "Labour Day", ymd(5, 1)?, 2),
        span(
            "端午节",
            "Dragon Boat Festival",
            lunar_date_in(year, 5, 5)?,
            1,
        ),
        span(
            "中秋节",
            "Mid-Autumn Festival",
            lunar_date_in(year, 8, 15)?,
            1,
        ),
        span("国庆节", "National Day", ymd(10, 1)?, 3),
    ];
    Some(YearCalendar {
        year,
        source: YearSource::Provisional,
        holidays,
        makeup_workdays: BTreeSet::new(),
    })
}

/// The Gregorian date in `year` of the lunar date (month, day) of the lunar year that
/// starts in `year`. Found by converting Gregorian to lunar (`ChineseDate::to_gregorian`
/// prints debug output in nongli 0.4, so the other direction is used).
fn lunar_date_in(year: i32, month: u8, day: u8) -> Option<NaiveDate> {
    let target = ChineseDate::new(year, month, false, day)?;
    NaiveDate::from_ymd_opt(year, 1, 1)?
        .iter_days()
        .take_while(|d| d.year() == year)
        .find(|d| ChineseDate::from_gregorian(d) == Some(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn starts(year: &YearCalendar) -> Vec<(String, NaiveDate, NaiveDate)> {
        year.holidays
            .iter()
            .map(|h| (h.name.clone(), h.start, h.end))
            .collect()
    }

    #[test]
    fn statutory_2026_lands_inside_the_official_2026_holidays() {
        // The official notice places every statutory day inside its (longer) ranges.
        let y = statutory_year(2026).unwrap();
        let got = starts(&y);
        assert_eq!(
            got[1],
            ("春节".into(), date(2026, 2, 16), date(2026, 2, 19))
        );
        assert_eq!(got[2].1, date(2026, 4, 5));
        assert_eq!(got[4].1, date(2026, 6, 19));
        assert_eq!(got[5].1, date(2026, 9, 25));
        assert!(y.makeup_workdays.is_empty());
        assert_eq!(y.source, YearSource::Provisional);
    }

    #[test]
    fn statutory_2027_follows_the_lunar_calendar() {
        let got = starts(&statutory_year(2027).unwrap());
        // 2027: Lunar New Year on Feb 6, so New Year's Eve is Feb 5.
        assert_eq!(got[1].1, date(2027, 2, 5));
        assert_eq!(got[1].2, date(2027, 2, 8));
        assert_eq!(got[2].1, date(2027, 4, 5));
        assert_eq!(got[4].1, date(2027, 6, 9));
        assert_eq!(got[5].1, date(2027, 9, 15));
        assert_eq!(
            got[6],
            ("国庆节".into(), date(2027, 10, 1), date(2027, 10, 3))
        );
    }

    #[test]
    fn years_beyond_the_lunar_tables_have_no_fallback() {
        assert!(statutory_year(2101).is_none());
    }
}
