//! The conduct bulletin (行风建设通报) of a week or a month: compiled from the statistics and
//! the bulletin's own counts, with the directory's names, as rows for CSV and XLSX (the page
//! and the JSON take the report itself). Counts only: accountability is never named here.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};

use crate::domain::bulletin::Period;
use crate::domain::directory::EntryKind;
use crate::domain::permission::AccountabilityOutcome;
use crate::domain::IntakeRules;
use crate::storage::bulletins::BulletinCounts;
use crate::storage::{Statistics, Store, StoreResult};

/// A compiled bulletin.
#[derive(Debug, Clone)]
pub struct Report {
    pub period: Period,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub statistics: Statistics,
    pub counts: BulletinCounts,
    /// The directory's names: (kind, code) → name.
    names: HashMap<(EntryKind, String), String>,
}

impl Report {
    pub fn name(&self, kind: EntryKind, code: &str) -> String {
        self.names
            .get(&(kind, code.to_owned()))
            .cloned()
            .unwrap_or_else(|| code.to_owned())
    }

    /// The average minutes a summoned person took to come, when any came.
    pub fn average_minutes_to_arrive(&self) -> Option<i64> {
        let m = &self.counts.arrival_minutes;
        (!m.is_empty()).then(|| m.iter().sum::<i64>() / m.len() as i64)
    }
}

/// When `day` begins in `tz` (in a zone whose clocks skip midnight, when the clock shows it).
pub fn day_start(tz: chrono_tz::Tz, day: chrono::NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight");
    tz.from_local_datetime(&midnight).earliest().map_or_else(
        || tz.from_utc_datetime(&midnight).with_timezone(&Utc),
        |t| t.with_timezone(&Utc),
    )
}

/// Compiles the bulletin of `period` (local days in `tz`).
pub async fn compile(store: &dyn Store, tz: chrono_tz::Tz, period: Period) -> StoreResult<Report> {
    let start = |day| day_start(tz, day);
    let from = start(period.first);
    let to = start(period.last.succ_opt().expect("a next day"));
    let statistics = store.statistics(from, to).await?;
    let counts = store
        .bulletin_counts(
            from,
            to,
            &period.first.to_string(),
            &period.last.to_string(),
        )
        .await?;
    let names = store
        .directory_entries()
        .await?
        .into_iter()
        .map(|e| ((e.kind, e.code), e.name))
        .collect();
    Ok(Report {
        period,
        from,
        to,
        statistics,
        counts,
        names,
    })
}

fn percent(part: i64, whole: i64) -> String {
    match whole {
        0 => "—".into(),
        w => format!("{:.1}%", part as f64 * 100.0 / w as f64),
    }
}

/// The bulletin as rows: section, item, count, of which staff-side (or a rate), note.
pub fn rows(report: &Report, rules: &IntakeRules) -> Vec<[String; 5]> {
    use crate::domain::vocab::{Channel, Rating, Tier};
    let s = &report.statistics;
    let c = &report.counts;
    let mut out: Vec<[String; 5]> = Vec::new();
    let mut row = |a: &str, b: String, n: String, m: String, note: String| {
        out.push([a.to_owned(), b, n, m, note]);
    };
    row(
        "受理总量",
        "全部渠道".into(),
        s.total.to_string(),
        String::new(),
        String::new(),
    );
    for (code, n) in &s.by_channel {
        let label = code
            .parse::<Channel>()
            .map_or(code.clone(), |c| c.label_zh().to_owned());
        row("按渠道", label, n.to_string(), String::new(), String::new());
    }
    for (tier, finished, on_time) in &s.on_time {
        let label = tier
            .parse::<Tier>()
            .map_or(tier.clone(), |t| t.label_zh().to_owned());
        row(
            "按时办结率",
            label,
            finished.to_string(),
            percent(*on_time, *finished),
            format!("按时 {on_time}"),
        );
    }
    for p in &c.by_department {
        row(
            "按科室（没办成的地方）",
            report.name(EntryKind::Department, &p.code),
            p.cases.to_string(),
            p.staff_side.to_string(),
            "其中窗口人员原因".into(),
        );
    }
    for p in &c.by_counter {
        row(
            "按窗口（没办成的地方）",
            report.name(EntryKind::Counter, &p.code),
            p.cases.to_string(),
            p.staff_side.to_string(),
            "其中窗口人员原因".into(),
        );
    }
    row(
        "没办成的地方未登记",
        "窗口和科室都未登记".into(),
        c.place_unknown.to_string(),
        String::new(),
        String::new(),
    );
    for (matter, n) in &s.staff_side_by_matter {
        let label = rules
            .matter(matter)
            .map_or(matter.clone(), |m| m.zh.clone());
        row(
            "窗口人员原因（按事项）",
            label,
            n.to_string(),
            String::new(),
            String::new(),
        );
    }
    for r in &c.ratings_by_counter {
        let level = r
            .level
            .parse::<Rating>()
            .map_or(r.level.clone(), |l| l.label_zh().to_owned());
        row(
            "好差评（按窗口）",
            report.name(EntryKind::Counter, &r.counter),
            r.count.to_string(),
            String::new(),
            level,
        );
    }
    for (level, n) in &s.ratings {
        let label = level
            .parse::<Rating>()
            .map_or(level.clone(), |l| l.label_zh().to_owned());
        row(
            "好差评（全部）",
            label,
            n.to_string(),
            String::new(),
            String::new(),
        );
    }
    row(
        "回访及时率",
        "次日上班第一时间回访".into(),
        s.callbacks_total.to_string(),
        percent(s.callbacks_on_time, s.callbacks_total),
        format!("按时 {}", s.callbacks_on_time),
    );
    row(
        "召见（随叫随到）",
        "召见次数".into(),
        c.summons.to_string(),
        String::new(),
        String::new(),
    );
    row(
        "召见（随叫随到）",
        "到场".into(),
        c.arrival_minutes.len().to_string(),
        report
            .average_minutes_to_arrive()
            .map_or("—".into(), |m| format!("平均 {m} 分钟")),
        String::new(),
    );
    for a in &c.accountability {
        let label = AccountabilityOutcome::parse(&a.outcome)
            .map_or(a.outcome.clone(), |o| o.label_zh().to_owned());
        row(
            "问责结果（只计数）",
            label,
            a.count.to_string(),
            String::new(),
            String::new(),
        );
    }
    for p in &c.problems {
        let status = crate::domain::problem::ProblemStatus::parse(&p.status)
            .map_or(p.status.clone(), |s| s.label_zh().to_owned());
        row(
            "共性问题",
            format!("#{} {}", p.id, p.title),
            p.cases.to_string(),
            String::new(),
            status,
        );
    }
    for r in &c.reforms {
        row(
            "制度创新成果",
            format!("#{} {}", r.id, r.title),
            String::new(),
            String::new(),
            format!("{}（{}）", r.document, r.date),
        );
    }
    out
}

pub const HEADERS: [&str; 5] = ["栏目", "项目", "数量", "其中／比率", "说明"];

/// A cell as a spreadsheet reads it: text that would start a formula is kept as text.
pub fn cell(value: &str) -> String {
    match value.starts_with(['=', '+', '-', '@']) && value.parse::<f64>().is_err() {
        true => format!("'{value}"),
        false => value.to_owned(),
    }
}

/// CSV, UTF-8 with a byte order mark (Excel opens it in Chinese).
pub fn to_csv(rows: &[[String; 5]]) -> anyhow::Result<Vec<u8>> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(HEADERS)?;
        for r in rows {
            w.write_record(r.iter().map(|v| cell(v)))?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// XLSX, one sheet, the title on top.
pub fn to_xlsx(title: &str, rows: &[[String; 5]]) -> anyhow::Result<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("行风建设通报")?;
    sheet.write_string(0, 0, title)?;
    for (c, h) in HEADERS.iter().enumerate() {
        sheet.write_string(1, c as u16, *h)?;
    }
    for (i, r) in rows.iter().enumerate() {
        for (c, value) in r.iter().enumerate() {
            match value.parse::<f64>() {
                Ok(n) if c == 2 => sheet.write_number(i as u32 + 2, c as u16, n)?,
                _ => sheet.write_string(i as u32 + 2, c as u16, value)?,
            };
        }
    }
    for (c, width) in [24, 36, 10, 14, 30].iter().enumerate() {
        sheet.set_column_width(c as u16, *width)?;
    }
    Ok(book.save_to_buffer()?)
}
