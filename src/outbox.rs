//! The durable outbox: notifications are rows written in the transaction of the change that
//! causes them; this worker claims due rows (a lease, like every job), renders and sends them
//! over SMTP with lettre, retries with exponential backoff, and after the last attempt leaves
//! the row `dead` with its reason for administrators. An SMTP outage delays mail, never
//! loses it, and never blocks the person who caused it.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use chrono::Utc;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::callbacks::CallbackService;
use crate::channels::website::CONFIRMATION_TOPIC;
use crate::config::{MailSettings, WebhookSettings};
use crate::storage::{OutboxItem, Store, CALLBACK_LIST_TOPIC};
use crate::work::{backoff, instance_id, Stop};
use tracing::Instrument;

/// A rendered e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// File name, content type, bytes.
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug)]
enum DeliveryError {
    Transient(String),
    Permanent(String),
}

#[derive(Clone)]
pub struct OutboxWorker {
    store: Arc<dyn Store>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    settings: MailSettings,
    /// Renders the morning shift's list at delivery.
    callbacks: Option<CallbackService>,
    webhooks: Vec<WebhookSettings>,
    http: reqwest::Client,
}

/// The outbox recipients (`webhook:<name>`) of the webhooks subscribed to `topic`.
pub fn subscribers(webhooks: &[WebhookSettings], topic: &str) -> Vec<String> {
    webhooks
        .iter()
        .filter(|w| w.topics.iter().any(|t| t == topic))
        .map(|w| format!("webhook:{}", w.name))
        .collect()
}

impl OutboxWorker {
    pub fn new(
        store: Arc<dyn Store>,
        settings: MailSettings,
        callbacks: Option<CallbackService>,
        webhooks: Vec<WebhookSettings>,
    ) -> anyhow::Result<Self> {
        let settings_timeout = settings.timeout_seconds.max(1);
        let host = settings.smtp_host.trim();
        let builder = match settings.tls.as_str() {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        let mut builder = builder
            .port(settings.smtp_port)
            .timeout(Some(Duration::from_secs(settings.timeout_seconds.max(1))));
        if !settings.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                settings.username.clone(),
                settings.password.clone(),
            ));
        }
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("mail.from `{}` is not an address: {e}", settings.from))?;
        Ok(Self {
            store,
            transport: builder.build(),
            from,
            settings,
            callbacks,
            webhooks,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(settings_timeout))
                .build()?,
        })
    }

    /// Delivers every due row, one at a time, until none is left (or `stop`, checked between
    /// deliveries: a stopping instance takes no new row); returns how many were sent.
    pub async fn run_due(&self, stop: &Stop) -> anyhow::Result<usize> {
        let mut sent = 0;
        while !stop.is_cancelled() {
            let now = Utc::now();
            let Some(item) = self
                .store
                .claim_outbox(
                    now,
                    now + chrono::Duration::seconds(self.settings.lease_seconds.max(1) as i64),
                    instance_id(),
                )
                .await?
            else {
                return Ok(sent);
            };
            let domain = recipient_domain(&item.recipient);
            let span = tracing::info_span!("outbox", id = item.id, topic = %item.topic, to_domain = %domain, attempt = item.attempts);
            sent += usize::from(self.deliver_and_settle(&item).instrument(span).await?);
        }
        Ok(sent)
    }

    /// Delivers one claimed row and records the outcome; true when it was sent.
    async fn deliver_and_settle(&self, item: &OutboxItem) -> anyhow::Result<bool> {
        let result = self.deliver(item).await;
        let now = Utc::now();
        match result {
            Ok(()) => {
                self.store
                    .settle_outbox(item.id, "sent", now, None, now)
                    .await?;
                tracing::info!("mail sent");
                return Ok(true);
            }
            Err(DeliveryError::Transient(reason))
                if item.attempts < i64::from(self.settings.max_attempts) =>
            {
                let next = now + backoff(self.settings.retry_base_seconds, item.attempts);
                tracing::warn!(%reason, retry_at = %next, "mail not sent; will retry");
                self.store
                    .settle_outbox(item.id, "pending", next, Some(&reason), now)
                    .await?;
            }
            Err(DeliveryError::Transient(reason) | DeliveryError::Permanent(reason)) => {
                tracing::error!(%reason, "mail given up: it stays in the outbox as dead");
                self.store
                    .settle_outbox(item.id, "dead", now, Some(&reason), now)
                    .await?;
            }
        }
        Ok(false)
    }

    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        if let Some(name) = item.recipient.strip_prefix("webhook:") {
            return self.deliver_webhook(name, item).await;
        }
        let mail = match item.topic.as_str() {
            CALLBACK_LIST_TOPIC => self.callback_list_mail(item).await?,
            _ => render(item).map_err(DeliveryError::Permanent)?,
        };
        let to: Mailbox = item.recipient.parse().map_err(|e| {
            DeliveryError::Permanent(format!("the recipient is not an address: {e}"))
        })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .multipart(with_attachments(
                MultiPart::alternative_plain_html(mail.text, mail.html),
                mail.attachments,
            ))
            .map_err(|e| DeliveryError::Permanent(format!("building the message: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(e.to_string())),
            Err(e) => Err(DeliveryError::Transient(e.to_string())),
        }
    }
}

impl OutboxWorker {
    /// Posts a notification to a webhook: youmen's signed JSON, or a group robot's text
    /// message (WeCom, DingTalk). 5xx and network errors are retried; 4xx is final.
    async fn deliver_webhook(&self, name: &str, item: &OutboxItem) -> Result<(), DeliveryError> {
        use hmac::{Hmac, Mac};
        let hook = self
            .webhooks
            .iter()
            .find(|w| w.name == name)
            .ok_or_else(|| {
                DeliveryError::Permanent(format!("no webhook named {name} in the configuration"))
            })?;
        let mail = match item.topic.as_str() {
            CALLBACK_LIST_TOPIC => self.callback_list_mail(item).await?,
            _ => render(item).map_err(DeliveryError::Permanent)?,
        };
        let content = format!("{}\n{}", mail.subject, mail.text.trim_end());
        let body = match hook.format.as_str() {
            "wecom" | "dingtalk" => serde_json::json!({"msgtype": "text", "text": {"content": content}}),
            _ => serde_json::json!({"topic": item.topic, "subject": mail.subject, "text": mail.text, "payload": item.payload}),
        }
        .to_string();
        let mut url = hook.url.clone();
        let mut request = self.http.post(&url);
        if hook.format == "dingtalk" && !hook.secret.is_empty() {
            // DingTalk's own scheme: HMAC-SHA256 of "timestamp\nsecret", base64, in the URL.
            let timestamp = Utc::now().timestamp_millis();
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(hook.secret.as_bytes())
                .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
            mac.update(format!("{timestamp}\n{}", hook.secret).as_bytes());
            let sign = base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                mac.finalize().into_bytes(),
            );
            let sep = if url.contains('?') { '&' } else { '?' };
            url = format!(
                "{url}{sep}timestamp={timestamp}&sign={}",
                form_urlencoded::byte_serialize(sign.as_bytes()).collect::<String>()
            );
            request = self.http.post(&url);
        } else if !hook.secret.is_empty() {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(hook.secret.as_bytes())
                .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
            mac.update(body.as_bytes());
            request = request.header(
                "X-Youmen-Signature",
                format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
            );
        }
        let response = request
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| DeliveryError::Transient(format!("posting to {name}: {e}")))?;
        let status = response.status();
        match status.as_u16() {
            200..=299 => Ok(()),
            400..=499 if status.as_u16() != 429 => Err(DeliveryError::Permanent(format!(
                "{name} answered {status}"
            ))),
            _ => Err(DeliveryError::Transient(format!(
                "{name} answered {status}"
            ))),
        }
    }

    /// The morning shift's list, read at delivery: a short summary and the list as CSV.
    async fn callback_list_mail(&self, item: &OutboxItem) -> Result<Mail, DeliveryError> {
        let Some(callbacks) = &self.callbacks else {
            return Err(DeliveryError::Permanent(
                "the callback list is not available here".into(),
            ));
        };
        let date = item
            .payload
            .get("list_date")
            .and_then(|d| d.as_str())
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| DeliveryError::Permanent("the payload names no list_date".into()))?;
        let list = callbacks
            .day(date, Utc::now())
            .await
            .map_err(|e| DeliveryError::Transient(format!("reading the list: {e}")))?;
        let csv = crate::callbacks::export::to_csv(&list)
            .map_err(|e| DeliveryError::Permanent(format!("writing the CSV: {e}")))?;
        let p = list.progress;
        let urgent = list.entries.iter().filter(|e| e.urgent).count();
        let missed = list
            .entries
            .iter()
            .filter(|e| e.kind == crate::domain::CallbackKind::MissedCall)
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

fn with_attachments(body: MultiPart, attachments: Vec<(String, String, Vec<u8>)>) -> MultiPart {
    if attachments.is_empty() {
        return body;
    }
    let mut mixed = MultiPart::mixed().multipart(body);
    for (name, content_type, bytes) in attachments {
        let content_type = ContentType::parse(&content_type).unwrap_or(ContentType::TEXT_PLAIN);
        mixed = mixed.singlepart(Attachment::new(name).body(bytes, content_type));
    }
    mixed
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Only the domain of an address goes into logs.
pub fn recipient_domain(address: &str) -> &str {
    address.rsplit_once('@').map_or("?", |(_, d)| d)
}

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

/// Renders an outbox row by its topic. Text from the public is escaped in the HTML part.
pub fn render(item: &OutboxItem) -> Result<Mail, String> {
    match item.topic.as_str() {
        CONFIRMATION_TOPIC => {
            let c: ConfirmationFields = serde_json::from_value(item.payload.clone())
                .map_err(|e| format!("the payload of a confirmation is incomplete: {e}"))?;
            let track_url = format!(
                "{}?case={}&code={}",
                c.track_url_base, c.case_number, c.tracking_code
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
            .map_err(|e| e.to_string())?;
            let html = ConfirmationHtml {
                case_number: &c.case_number,
                tracking_code: &c.tracking_code,
                promise_zh: &c.promise_zh,
                promise_en: &c.promise_en,
                track_url: &track_url,
                sender,
            }
            .render()
            .map_err(|e| e.to_string())?;
            Ok(Mail {
                subject: format!("您的留言已收到（案件编号 {}）", c.case_number),
                text,
                html,
                attachments: Vec::new(),
            })
        }
        crate::oversight::DECISION_TOPIC => {
            let field = |k: &str| {
                item.payload
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_owned()
            };
            let number = field("case_number");
            let (tag, line) = match field("what").as_str() {
                "escalated" => (
                    "升级待决定",
                    format!(
                        "案件 {number} 已升级为{}，由{}办理，须于 {} 前办结。",
                        field("tier"),
                        field("owner_group"),
                        field("deadline")
                    ),
                ),
                _ => ("请求批准", format!("案件 {number} 请求值班领导批准。")),
            };
            let note = field("note");
            Ok(Mail {
                subject: format!("【{tag}】{number}"),
                text: format!("{line}\n{note}\n"),
                html: format!(
                    "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><body><p><strong>{}</strong></p><p>{}</p></body></html>",
                    html_escape(&line),
                    html_escape(&note)
                ),
                attachments: Vec::new(),
            })
        }
        crate::oversight::DEADLINE_TOPIC => {
            let field = |k: &str| {
                item.payload
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_owned()
            };
            let (number, deadline, tier) = (field("case_number"), field("deadline"), field("tier"));
            let (tag, line) = match field("kind").as_str() {
                "overdue" => (
                    "已超期",
                    format!(
                        "案件 {number}（{tier}）已超过办结时限 {deadline}，请立即处理并说明原因。"
                    ),
                ),
                _ => (
                    "即将到期",
                    format!("案件 {number}（{tier}）将于 {deadline} 到达办结时限，请抓紧办理。"),
                ),
            };
            let owner = field("owner");
            let owner_line = match owner.is_empty() {
                true => "尚无人受理。".to_owned(),
                false => format!("承办人：{owner}。"),
            };
            Ok(Mail {
                subject: format!("【{tag}】{number} 办结时限 {deadline}"),
                text: format!("{line}\n{owner_line}\n"),
                html: format!(
                    "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><body><p><strong>{}</strong></p><p>{}</p></body></html>",
                    html_escape(&line),
                    html_escape(&owner_line)
                ),
                attachments: Vec::new(),
            })
        }
        other => Err(format!("no template for the outbox topic `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confirmation_renders_in_chinese_with_the_tracking_link() {
        let item = OutboxItem {
            id: 1,
            topic: CONFIRMATION_TOPIC.into(),
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
        let mail = render(&item).unwrap();
        assert!(mail.subject.contains("YM-20261128-0001"));
        assert!(mail.text.contains("查询码：K7QM3-XPA9D"));
        assert!(mail.html.contains(
            "https://youmen.example.gov.cn/track?case=YM-20261128-0001&#38;code=K7QM3-XPA9D"
        ));
        assert!(mail.html.contains("星期一"));
    }

    #[test]
    fn an_unknown_topic_is_a_permanent_failure_not_a_panic() {
        let item = OutboxItem {
            id: 1,
            topic: "fax".into(),
            case_id: None,
            recipient: "a@b.c".into(),
            payload: serde_json::json!({}),
            attempts: 1,
        };
        assert!(render(&item).unwrap_err().contains("fax"));
    }

    #[test]
    fn logs_get_only_the_domain() {
        assert_eq!(recipient_domain("wang.daye@qq.com"), "qq.com");
        assert_eq!(recipient_domain("nonsense"), "?");
    }
}
