//! `bulletin`: the conduct bulletin of the past week or month (行风建设通报), compiled at
//! delivery from the period in the payload: a summary, the whole bulletin as CSV and XLSX.

use std::sync::Arc;

use super::{html_escape, Mail, Render};
use crate::domain::bulletin::Period;
use crate::domain::IntakeRules;
use crate::notify::DeliveryError;
use crate::storage::{OutboxItem, Store};

pub struct BulletinMail {
    pub store: Arc<dyn Store>,
    pub calendar: crate::calendar_source::CalendarHandle,
    pub rules: Arc<IntakeRules>,
}

#[async_trait::async_trait]
impl Render for BulletinMail {
    async fn render(&self, item: &OutboxItem) -> Result<Mail, DeliveryError> {
        let code = item
            .payload
            .get("period")
            .and_then(|p| p.as_str())
            .ok_or_else(|| DeliveryError::Permanent("the payload names no period".into()))?;
        let calendar = self.calendar.current();
        let today = calendar.local_date(crate::clock::now());
        let period = Period::parse(code, today).map_err(DeliveryError::Permanent)?;
        let report = crate::bulletin::compile(self.store.as_ref(), calendar.timezone(), period)
            .await
            .map_err(|e| DeliveryError::Transient(format!("compiling the bulletin: {e}")))?;
        let rows = crate::bulletin::rows(&report, &self.rules);
        let title = format!("{}“办不成事”反映窗口行风建设通报", report.period.title_zh());
        let csv = crate::bulletin::to_csv(&rows)
            .map_err(|e| DeliveryError::Permanent(format!("writing the CSV: {e}")))?;
        let xlsx = crate::bulletin::to_xlsx(&title, &rows)
            .map_err(|e| DeliveryError::Permanent(format!("writing the XLSX: {e}")))?;
        let s = &report.statistics;
        let staff_side: i64 = s
            .by_cause
            .iter()
            .filter(|(c, _)| c == "staff_side")
            .map(|(_, n)| *n)
            .sum();
        let summary = format!(
            "{title}：受理 {} 件，其中窗口人员原因 {staff_side} 件；召见 {} 次；已形成制度创新成果 {} 项。",
            s.total,
            report.counts.summons,
            report.counts.reforms.len()
        );
        let link = format!("全文：/staff/reports?period={}", report.period.code);
        Ok(Mail {
            subject: title.clone(),
            text: format!("{summary}\n附件为通报全文（Excel 与 CSV）。\n{link}\n"),
            html: format!(
                "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><body style=\"font-family:sans-serif;font-size:16px\"><p>{}</p><p>附件为通报全文（Excel 与 CSV）。</p><p>{}</p></body></html>",
                html_escape(&summary),
                html_escape(&link)
            ),
            attachments: vec![
                (
                    format!("bulletin-{}.xlsx", report.period.code),
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".into(),
                    xlsx,
                ),
                (
                    format!("bulletin-{}.csv", report.period.code),
                    "text/csv; charset=utf-8".into(),
                    csv,
                ),
            ],
        })
    }
}
