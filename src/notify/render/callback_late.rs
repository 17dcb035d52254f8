//! `callback_late`: a caller not called back by the end of "first thing", to the day's duty
//! leader, once per entry.

use super::{field, short_html, Mail, Render};
use crate::notify::DeliveryError;
use crate::storage::OutboxItem;

pub struct CallbackLate;

#[async_trait::async_trait]
impl Render for CallbackLate {
    async fn render(&self, item: &OutboxItem) -> Result<Mail, DeliveryError> {
        let phone = field(item, "phone");
        let phone = match phone.is_empty() {
            true => "（无来电号码）".to_owned(),
            false => crate::domain::phone::for_staff(&phone),
        };
        let deadline = field(item, "deadline");
        let what = match field(item, "kind").as_str() {
            "missed_call" => "未接来电",
            _ => "留言",
        };
        let line = format!(
            "来电人 {phone} 的{what}应在 {deadline} 前回电，至今尚未联系上，请安排人员立即回访。"
        );
        let link = "回访清单：/staff/callbacks".to_owned();
        Ok(Mail {
            subject: format!("【回访超时】{phone} 应于 {deadline} 前回电"),
            text: format!("{line}\n{link}\n"),
            html: short_html(&line, &link),
            attachments: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_leader_reads_the_number_the_chinese_way_and_the_deadline() {
        let item = OutboxItem {
            id: 1,
            case_id: None,
            topic: "callback_late".into(),
            recipient: "leader@example.org".into(),
            payload: serde_json::json!({"phone": "+8613904151234", "deadline": "11月30日 10:30", "kind": "message"}),
            attempts: 1,
        };
        let mail = CallbackLate.render(&item).await.unwrap();
        assert!(mail.subject.contains("139 0415 1234"), "{}", mail.subject);
        assert!(mail.text.contains("11月30日 10:30"));
    }
}
