//! `youmen calendar`: openings, holidays and make-up working days, and the files' check.

use anyhow::Context;
use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use clap::Subcommand;

use crate::calendar_source;
use crate::config::Settings;
use crate::domain::calendar::DayKind;

#[derive(Subcommand)]
pub(super) enum CalendarCommand {
    /// The next opening of the window at or after a time (RFC 3339), printed as RFC 3339.
    NextOpening {
        /// e.g. 2026-02-13T19:30:00+08:00; defaults to now.
        time: Option<String>,
    },
    /// Working days, holidays and make-up days of a month, e.g. 2026-10.
    Show {
        /// YYYY-MM
        month: String,
    },
    /// Check the calendar files and list which years are official.
    Check,
}

pub(super) fn weekday_zh(d: Weekday) -> &'static str {
    ["一", "二", "三", "四", "五", "六", "日"][d.num_days_from_monday() as usize]
}

pub(super) fn calendar(settings: &Settings, command: CalendarCommand) -> anyhow::Result<()> {
    let calendar = calendar_source::load(settings)?;
    let tz = calendar.timezone();
    match command {
        CalendarCommand::NextOpening { time } => {
            let at = match time {
                Some(t) => DateTime::parse_from_rfc3339(t.trim())
                    .with_context(|| {
                        format!("`{t}` is not an RFC 3339 time like 2026-02-13T19:30:00+08:00")
                    })?
                    .with_timezone(&Utc),
                None => Utc::now(),
            };
            let next = calendar.next_opening(at)?;
            let mark = if next.provisional {
                "  (provisional: no official calendar for that year)"
            } else {
                ""
            };
            println!("{}{mark}", next.at.with_timezone(&tz).to_rfc3339());
        }
        CalendarCommand::Show { month } => {
            let first = NaiveDate::parse_from_str(&format!("{}-01", month.trim()), "%Y-%m-%d")
                .with_context(|| format!("`{month}` is not a month like 2026-10"))?;
            let days = calendar.month(first.year(), first.month());
            let working = days.iter().filter(|d| d.kind.is_working()).count();
            println!("{} 工作日 working days: {working}", first.format("%Y-%m"));
            for day in &days {
                let kind = match day.kind {
                    DayKind::Working => "工作日 working".to_owned(),
                    DayKind::MakeupWorking => "调休上班 make-up working day".to_owned(),
                    DayKind::Holiday => {
                        format!("放假 holiday {}", day.holiday.as_deref().unwrap_or(""))
                    }
                    DayKind::Weekend => "休息 weekend".to_owned(),
                };
                let mark = if day.provisional {
                    "  (provisional)"
                } else {
                    ""
                };
                println!(
                    "{} 周{} {kind}{mark}",
                    day.date,
                    weekday_zh(day.date.weekday())
                );
            }
        }
        CalendarCommand::Check => {
            let years: Vec<String> = calendar.official_years().map(|y| y.to_string()).collect();
            println!("official years: {}", years.join(", "));
            let periods: Vec<String> = calendar.periods().iter().map(|p| p.to_string()).collect();
            println!("working periods: {} ({})", periods.join(", "), tz);
            let today = calendar.local_date(Utc::now());
            for year in calendar.provisional_years(today, 30) {
                println!("warning: no official calendar for {year} (provisional statutory holidays are used)");
            }
        }
    }
    Ok(())
}
