//! `awaiting_decision`: the day's duty leader is told of an escalation (which body decides,
//! by when) or of an approval request.

use super::{field, short_html, Mail, Render};
use crate::notify::DeliveryError;
use crate::storage::OutboxItem;

pub struct Decision;

#[async_trait::async_trait]
impl Render for Decision {
    async fn render(&self, item: &OutboxItem) -> Result<Mail, DeliveryError> {
        let number = field(item, "case_number");
        let (tag, line) = match field(item, "what").as_str() {
            "escalated" => (
                "升级待决定",
                format!(
                    "案件 {number} 已升级为{}，由{}办理，须于 {} 前办结。",
                    field(item, "tier"),
                    field(item, "owner_group"),
                    field(item, "deadline")
                ),
            ),
            _ => ("请求批准", format!("案件 {number} 请求值班领导批准。")),
        };
        let note = field(item, "note");
        Ok(Mail {
            subject: format!("【{tag}】{number}"),
            text: format!("{line}\n{note}\n"),
            html: short_html(&line, &note),
            attachments: Vec::new(),
        })
    }
}
