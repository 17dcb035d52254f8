//! `summons`: a department head summoned to the window (随叫随到), told at once.

use super::{field, short_html, Mail, Render};
use crate::notify::DeliveryError;
use crate::storage::OutboxItem;

pub struct Summons;

#[async_trait::async_trait]
impl Render for Summons {
    async fn render(&self, item: &OutboxItem) -> Result<Mail, DeliveryError> {
        let number = field(item, "case_number");
        let who = field(item, "who");
        let why = field(item, "why");
        let by = field(item, "by");
        let at = field(item, "summoned_at");
        let line = format!(
            "{who}：{by}于{at}召见您，请立即到办不成事反映窗口。案件 {number}，事由：{why}"
        );
        let link = format!("案件：/staff/cases/{number}");
        Ok(Mail {
            subject: format!("【召见】请立即到办不成事反映窗口（{number}）"),
            text: format!("{line}\n{link}\n"),
            html: short_html(&line, &link),
            attachments: Vec::new(),
        })
    }
}
