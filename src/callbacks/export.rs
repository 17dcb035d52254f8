//! The list as files: CSV (UTF-8 with a BOM, so that Excel opens Chinese correctly) and
//! XLSX, one row per entry, in calling order, numbers without a caller ID last.

use rust_xlsxwriter::{Format, Workbook};

use super::{DayList, ListEntry};

const HEADERS: [&str; 13] = [
    "序号",
    "电话",
    "紧急",
    "类型",
    "状态",
    "首次来电",
    "案件编号",
    "渠道",
    "录音时长（秒）",
    "留言内容（机器转写首句，以录音为准）",
    "已尝试次数",
    "回访时限",
    "最近一次结果",
];

fn rows(list: &DayList) -> Vec<[String; 13]> {
    list.entries
        .iter()
        .chain(&list.daytime)
        .chain(&list.unknown_numbers)
        .enumerate()
        .map(|(i, e)| row(i + 1, e))
        .collect()
}

fn row(n: usize, e: &ListEntry) -> [String; 13] {
    let seconds: f64 = e.recordings.iter().map(|r| r.duration_seconds).sum();
    let last = e
        .attempt_log
        .last()
        .map_or(String::new(), |a| match &a.note {
            Some(note) => format!("{}：{note}", a.outcome.label_zh()),
            None => a.outcome.label_zh().to_owned(),
        });
    [
        n.to_string(),
        e.phone
            .as_deref()
            .map_or_else(|| "（无来电号码）".into(), crate::domain::phone::for_staff),
        if e.urgent {
            "紧急".into()
        } else {
            String::new()
        },
        e.kind.label_zh().to_owned(),
        e.status.label_zh().to_owned()
            + if e.carried_over {
                "（前日转入）"
            } else {
                ""
            },
        e.first_arrival_at.format("%Y-%m-%d %H:%M").to_string(),
        e.cases
            .iter()
            .map(|c| c.number.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        e.cases
            .iter()
            .map(|c| c.channel.label_zh())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join("、"),
        if e.recordings.is_empty() {
            String::new()
        } else {
            format!("{seconds:.0}")
        },
        e.recordings
            .iter()
            .filter_map(|r| r.transcript.as_deref())
            .collect::<Vec<_>>()
            .join(" / "),
        e.attempts.to_string(),
        e.deadline_at.format("%Y-%m-%d %H:%M").to_string(),
        last,
    ]
}

/// CSV, UTF-8 with a byte order mark.
pub fn to_csv(list: &DayList) -> anyhow::Result<Vec<u8>> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(HEADERS)?;
        for r in rows(list) {
            w.write_record(&r)?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// An XLSX workbook with one sheet named after the date.
pub fn to_xlsx(list: &DayList, produced_by: &str) -> anyhow::Result<Vec<u8>> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(list.date.format("%Y-%m-%d").to_string())?;
    let bold = Format::new().set_bold();
    sheet.write_string_with_format(
        0,
        0,
        format!("{} 回访清单", list.date.format("%Y年%-m月%-d日")),
        &bold,
    )?;
    sheet.write_string(0, 6, format!("导出人：{produced_by}"))?;
    for (c, h) in HEADERS.iter().enumerate() {
        sheet.write_string_with_format(1, c as u16, *h, &bold)?;
    }
    for (i, r) in rows(list).iter().enumerate() {
        for (c, value) in r.iter().enumerate() {
            sheet.write_string(i as u32 + 2, c as u16, value)?;
        }
    }
    for (c, width) in [6, 16, 6, 10, 14, 17, 36, 14, 8, 40, 8, 17, 30]
        .iter()
        .enumerate()
    {
        sheet.set_column_width(c as u16, *width)?;
    }
    Ok(book.save_to_buffer()?)
}
