//! The period of a conduct bulletin (行风建设通报) or an evaluation: an ISO week
//! (`2026-W48`), a month (`2026-11`) or a year (`2026`), read and checked. Pure.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// A bulletin's period: its first and last day (both included) and how it is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub code: String,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Week,
    Month,
    Year,
}

impl Period {
    /// `2026-W48`, `2026-11` or `2026`, ended by `today` at the latest (a period that has not begun is
    /// refused; the current one is shown so far).
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Period, String> {
        let raw = raw.trim();
        // Four digits: no sign, no spaces, no year out of the service's reach.
        let year_of = |y: &str| {
            (y.len() == 4 && y.chars().all(|c| c.is_ascii_digit()))
                .then(|| y.parse::<i32>().ok())
                .flatten()
                .filter(|y| (2000..=9999).contains(y))
        };
        let period = if let Some(year) = year_of(raw) {
            Period {
                code: year.to_string(),
                first: NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(|| bad(raw))?,
                last: NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(|| bad(raw))?,
                span: Span::Year,
            }
        } else if let Some((year, week)) = raw.split_once("-W") {
            let year: i32 = year_of(year).ok_or_else(|| bad(raw))?;
            let week: u32 = week.parse().map_err(|_| bad(raw))?;
            let first =
                NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(|| bad(raw))?;
            Period {
                code: format!("{year}-W{week:02}"),
                first,
                last: first + Duration::days(6),
                span: Span::Week,
            }
        } else {
            let (year, month) = raw.split_once('-').ok_or_else(|| bad(raw))?;
            let year: i32 = year_of(year).ok_or_else(|| bad(raw))?;
            let month: u32 = month.parse().map_err(|_| bad(raw))?;
            let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(|| bad(raw))?;
            let next = match month {
                12 => NaiveDate::from_ymd_opt(year + 1, 1, 1),
                m => NaiveDate::from_ymd_opt(year, m + 1, 1),
            }
            .ok_or_else(|| bad(raw))?;
            Period {
                code: format!("{year}-{month:02}"),
                first,
                last: next - Duration::days(1),
                span: Span::Month,
            }
        };
        if period.first > today {
            return Err(format!(
                "{} has not begun yet (today is {today})",
                period.code
            ));
        }
        Ok(period)
    }

    /// How the bulletin names it: 2026年第48周（…）, 2026年11月, 2026年.
    pub fn title_zh(&self) -> String {
        match self.span {
            Span::Week => format!(
                "{}年第{}周（{}—{}）",
                self.first.iso_week().year(),
                self.first.iso_week().week(),
                self.first.format("%-m月%-d日"),
                self.last.format("%-m月%-d日")
            ),
            Span::Month => format!("{}年{}月", self.first.year(), self.first.month()),
            Span::Year => format!("{}年", self.first.year()),
        }
    }

    /// Over by `today` (an award is made for a period that is over).
    pub fn over(&self, today: NaiveDate) -> bool {
        self.last < today
    }
}

/// The bulletins due by `today`, a working day: the past month's, and the past two ISO
/// weeks' (a week with no working day at all, like a Spring Festival week, is sent with the
/// next). None on a day off. Each is sent once (`bulletin_runs`), so asking again, or on a
/// later day after a day nobody asked, sends only what was missed.
pub fn due_on(today: NaiveDate, is_working_day: impl Fn(NaiveDate) -> bool) -> Vec<String> {
    if !is_working_day(today) {
        return Vec::new();
    }
    let first_of_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).expect("day 1");
    let last_month = (first_of_month - Duration::days(1))
        .format("%Y-%m")
        .to_string();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let mut due = vec![last_month];
    for back in [14, 7] {
        let week = (monday - Duration::days(back)).iso_week();
        due.push(format!("{}-W{:02}", week.year(), week.week()));
    }
    due
}

fn bad(raw: &str) -> String {
    format!("`{raw}` is not a period: use a month like 2026-11, an ISO week like 2026-W48 or a year like 2026")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn months_and_weeks_are_read_and_the_future_refused() {
        let today = day("2026-12-05");
        let m = Period::parse("2026-11", today).unwrap();
        assert_eq!((m.first, m.last), (day("2026-11-01"), day("2026-11-30")));
        assert_eq!(m.title_zh(), "2026年11月");
        let w = Period::parse("2026-W48", today).unwrap();
        assert_eq!((w.first, w.last), (day("2026-11-23"), day("2026-11-29")));
        let d = Period::parse("2026-12", today).unwrap();
        assert_eq!(d.last, day("2026-12-31"));
        assert!(Period::parse("2027-01", today)
            .unwrap_err()
            .contains("not begun"));
        for bad in [
            "2026-13",
            "2026/11",
            "November",
            "2026-W60",
            "",
            "-5000-W10",
            "+2026-11",
        ] {
            assert!(Period::parse(bad, today).is_err(), "{bad}");
        }
        let y = Period::parse("2026", today).unwrap();
        assert_eq!(
            (y.first, y.last, y.title_zh()),
            (day("2026-01-01"), day("2026-12-31"), "2026年".into())
        );
        assert!(!y.over(today) && m.over(today));
        assert!(Period::parse("2027", today).is_err() && Period::parse("1999", today).is_err());
    }

    #[test]
    fn bulletins_fall_due_on_working_days_with_what_was_missed() {
        let weekday = |d: NaiveDate| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
        // Tuesday 2026-12-01: November, and the two weeks before this one.
        assert_eq!(
            due_on(day("2026-12-01"), weekday),
            ["2026-11", "2026-W47", "2026-W48"]
        );
        assert!(due_on(day("2026-12-05"), weekday).is_empty());
        // After a whole week off (the Spring Festival, W08), the week before it is still due.
        assert!(due_on(day("2026-02-24"), weekday).contains(&"2026-W07".to_owned()));
    }
}
