//! `website_confirmation`: a website visitor's receipt by e-mail, with the case number, the
//! tracking code, the promise of when we respond, and the tracking link. Text from the public
//! is escaped in the HTML part (askama).

use askama::Template;

use super::{Mail, Render};
use crate::notify::DeliveryError;
use crate::storage::OutboxItem;

pub struct Confirmation;

#[derive(Template)]
#[template(path = "mail/confirmation.txt", config = "src/templates/askama.toml")]
struct ConfirmationText<'a> {
    case_number: &'a str,
    tracking_code: &'a str,
    promise_zh: &'a str,
    promise_en: &'a str,
    track_url: &'a str,
    sender: &'a str,
}

#[derive(Template)]
#[template(path = "mail/confirmation.html", config = "src/templates/askama.toml")]
struct ConfirmationHtml<'a> {
    case_number: &'a str,
    tracking_code: &'a str,
    promise_zh: &'a str,
    promise_en: &'a str,
    track_url: &'a str,
    sender: &'a str,
}

#[derive(serde::Deserialize)]
struct ConfirmationFields {
    case_number: String,
    tracking_code: String,
    track_url_base: String,
    promise_zh: String,
    promise_en: String,
}

#[async_trait::async_trait]
impl Render for Confirmation {
    async fn render(&self, item: &OutboxItem) -> Result<Mail, DeliveryError> {
        let permanent = |e: String| DeliveryError::Permanent(e);
        let c: ConfirmationFields = serde_json::from_value(item.payload.clone())
            .map_err(|e| permanent(format!("the payload of a confirmation is incomplete: {e}")))?;
        let track_url = crate::domain::website::tracking_link(
            &c.track_url_base,
            &c.case_number,
            &c.tracking_code,
        );
        let sender = "“办不成事”反映窗口";
        let text = ConfirmationText {
            case_number: &c.case_number,
            tracking_code: &c.tracking_code,
            promise_zh: &c.promise_zh,
            promise_en: &c.promise_en,
            track_url: &track_url,
            sender,
        }
        .render()
        .map_err(|e| permanent(e.to_string()))?;
        let html = ConfirmationHtml {
            case_number: &c.case_number,
            tracking_code: &c.tracking_code,
            promise_zh: &c.promise_zh,
            promise_en: &c.promise_en,
            track_url: &track_url,
            sender,
        }
        .render()
        .map_err(|e| permanent(e.to_string()))?;
        Ok(Mail {
            subject: format!("您的留言已收到（案件编号 {}）", c.case_number),
            text,
            html,
            attachments: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Topic;

    #[tokio::test]
    async fn a_confirmation_renders_in_chinese_with_the_tracking_link() {
        let item = OutboxItem {
            id: 1,
            topic: Topic::WebsiteConfirmation.as_str().into(),
            case_id: Some(1),
            recipient: "wang@example.com".into(),
            payload: serde_json::json!({
                "case_number": "YM-20261128-0001",
                "tracking_code": "K7QM3-XPA9D",
                "track_url_base": "https://youmen.example.gov.cn/track",
                "promise_zh": "我们将于2026年11月30日（星期一）上班后第一时间与您联系",
                "promise_en": "We will contact you first thing on Monday 30 November 2026",
            }),
            attempts: 1,
        };
        let mail = Confirmation.render(&item).await.unwrap();
        assert!(mail.subject.contains("YM-20261128-0001"));
        assert!(mail.text.contains("查询码：K7QM3-XPA9D"));
        assert!(mail.html.contains(
            "https://youmen.example.gov.cn/track#case=YM-20261128-0001&#38;code=K7QM3-XPA9D"
        ));
        assert!(mail.html.contains("星期一"));
    }
}
