//! `deadline_alert`: a reminder before a case's deadline, or the alarm once it has passed,
//! to the owner and the day's duty leader.

use super::{field, short_html, Mail, Render};
use crate::notify::DeliveryError;
use crate::storage::OutboxItem;

pub struct DeadlineAlert;

#[async_trait::async_trait]
impl Render for DeadlineAlert {
    async fn render(&self, item: &OutboxItem) -> Result<Mail, DeliveryError> {
        let (number, deadline, tier) = (
            field(item, "case_number"),
            field(item, "deadline"),
            field(item, "tier"),
        );
        let (tag, line) = match field(item, "kind").as_str() {
            "overdue" => (
                "已超期",
                format!("案件 {number}（{tier}）已超过办结时限 {deadline}，请立即处理并说明原因。"),
            ),
            "rating_verify_overdue" | "rating_rectify_overdue" => {
                (
                    "差评整改超时",
                    format!(
                    "案件 {number} 的差评应于 {deadline} 前{}，至今未登记整改情况，请立即督办。",
                    if field(item, "kind").contains("verify") { "核实" } else { "整改到位" }
                ),
                )
            }
            "rating_verify_due_soon" | "rating_rectify_due_soon" => (
                "差评整改即将到期",
                format!(
                    "案件 {number} 的差评须于 {deadline} 前{}，请抓紧办理。",
                    if field(item, "kind").contains("verify") {
                        "核实"
                    } else {
                        "整改到位"
                    }
                ),
            ),
            _ => (
                "即将到期",
                format!("案件 {number}（{tier}）将于 {deadline} 到达办结时限，请抓紧办理。"),
            ),
        };
        let owner = field(item, "owner");
        let owner_line = match (owner.is_empty(), field(item, "kind").starts_with("rating_")) {
            (_, true) => format!(
                "评价登记人：{}。",
                if owner.is_empty() {
                    "群众自评"
                } else {
                    owner.as_str()
                }
            ),
            (true, false) => "尚无人受理。".to_owned(),
            (false, false) => format!("承办人：{owner}。"),
        };
        Ok(Mail {
            subject: format!("【{tag}】{number} 办结时限 {deadline}"),
            text: format!("{line}\n{owner_line}\n"),
            html: short_html(&line, &owner_line),
            attachments: Vec::new(),
        })
    }
}
