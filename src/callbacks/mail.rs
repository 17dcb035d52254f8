//! `callback_list`: the morning shift's list, read at delivery (so it holds what is open
//! then): a short summary and the whole list as CSV. Registered with the notifier's
//! renderers at start-up.

use chrono::Utc;

use super::CallbackService;
use crate::domain::CallbackKind;
use crate::notify::render::html_escape;
use crate::notify::{DeliveryError, Mail, Render};
use crate::storage::OutboxItem;

pub struct CallbackListMail(pub CallbackService);

#[async_trait::async_trait]
impl Render for CallbackListMail {
    async fn render(&self, item: &OutboxItem) -> Result<Mail, DeliveryError> {
        let date = item
            .payload
            .get("list_date")
            .and_then(|d| d.as_str())
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| DeliveryError::Permanent("the payload names no list_date".into()))?;
        let list = self
            .0
            .day(date, Utc::now())
            .await
            .map_err(|e| DeliveryError::Transient(format!("reading the list: {e}")))?;
        let csv = super::export::to_csv(&list)
            .map_err(|e| DeliveryError::Permanent(format!("writing the CSV: {e}")))?;
        let p = list.progress;
        let urgent = list.entries.iter().filter(|e| e.urgent).count();
        let missed = list
            .entries
            .iter()
            .filter(|e| e.kind == CallbackKind::MissedCall)
            .count();
        let carried = list.entries.iter().filter(|e| e.carried_over).count();
        let day = date.format("%Y年%-m月%-d日").to_string();
        let summary = format!(
            "{day}回访清单：共 {} 人待回访，其中紧急 {urgent} 人，未留言的未接来电 {missed} 人，前日转入 {carried} 人，无来电号码 {} 条。",
            p.total,
            list.unknown_numbers.len()
        );
        let text = format!(
            "早班同事：\n\n{summary}\n\n完整清单见附件（CSV，可用 Excel 打开），也可在 youmen 中查看和处理。请在上班后第一时间回访。\n"
        );
        let html = format!(
            "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><body style=\"font-family:sans-serif;font-size:16px\"><p>早班同事：</p><p><strong>{}</strong></p><p>完整清单见附件（CSV，可用 Excel 打开），也可在 youmen 中查看和处理。请在上班后第一时间回访。</p></body></html>",
            html_escape(&summary)
        );
        Ok(Mail {
            subject: format!("{day}回访清单（{} 人）", p.total),
            text,
            html,
            attachments: vec![(
                format!("callbacks-{date}.csv"),
                "text/csv; charset=utf-8".into(),
                csv,
            )],
        })
    }
}
