//! Webhooks: youmen's signed JSON, or a group robot's text message (WeCom 企业微信, DingTalk
//! 钉钉), posted with the same retries as mail. 5xx, 429 and network errors are retried; any
//! other 4xx is final.

use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};

use super::{DeliveryError, Mail};
use crate::config::WebhookSettings;
use crate::storage::OutboxItem;

pub struct Webhooks {
    hooks: Vec<WebhookSettings>,
    http: reqwest::Client,
}

impl Webhooks {
    pub fn new(hooks: Vec<WebhookSettings>, timeout_seconds: u64) -> anyhow::Result<Self> {
        Ok(Self {
            hooks,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(timeout_seconds.max(1)))
                .build()?,
        })
    }

    /// Posts `mail`, the rendering of `item`, to the webhook named `name`.
    pub async fn post(
        &self,
        name: &str,
        item: &OutboxItem,
        mail: &Mail,
    ) -> Result<(), DeliveryError> {
        let hook = self.hooks.iter().find(|w| w.name == name).ok_or_else(|| {
            DeliveryError::Permanent(format!("no webhook named {name} in the configuration"))
        })?;
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
            // The time is signed with the body, so a post captured on the way cannot be
            // replayed later: receivers refuse a timestamp more than a few minutes off.
            let timestamp = Utc::now().timestamp();
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(hook.secret.as_bytes())
                .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
            mac.update(format!("{timestamp}.{body}").as_bytes());
            request = request
                .header("X-Youmen-Timestamp", timestamp.to_string())
                .header(
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
}
