//! Notifications: the outbox delivered. Rows are written in the transaction of the change
//! that causes them (see `storage::outbox`); the [`Notifier`] claims due rows (a lease, like
//! every job), renders each by its topic ([`render`], one renderer per [`Topic`]), and sends
//! it by mail ([`mail`]: SMTP, or `.eml` files for a laptop without SMTP) or to a webhook
//! ([`webhook`]). It retries with exponential backoff, and after the last attempt leaves the
//! row `dead` with its reason for administrators. An outage delays a notification, never
//! loses it, and never blocks the person who caused it.

pub mod mail;
pub mod render;
pub mod webhook;

use std::sync::Arc;

use chrono::Utc;
use tracing::Instrument;

use crate::config::{MailSettings, WebhookSettings};
use crate::domain::Topic;
use crate::storage::{OutboxItem, Store};
use crate::work::{backoff, instance_id, Stop};
pub use mail::Mailer;
pub use render::{Mail, Render, Renderers};

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug)]
pub enum DeliveryError {
    Transient(String),
    Permanent(String),
}

/// The outbox recipients (`webhook:<name>`) of the webhooks subscribed to `topic`.
pub fn subscribers(webhooks: &[WebhookSettings], topic: Topic) -> Vec<String> {
    webhooks
        .iter()
        .filter(|w| w.topics.iter().any(|t| t == topic.as_str()))
        .map(|w| format!("webhook:{}", w.name))
        .collect()
}

/// Only the domain of an address goes into logs.
pub fn recipient_domain(address: &str) -> &str {
    address.rsplit_once('@').map_or("?", |(_, d)| d)
}

/// Delivers the outbox.
pub struct Notifier {
    store: Arc<dyn Store>,
    /// None: mail is off; rows for addresses stay pending.
    mailer: Option<Mailer>,
    webhooks: webhook::Webhooks,
    renderers: Renderers,
    settings: MailSettings,
}

impl Notifier {
    pub fn new(
        store: Arc<dyn Store>,
        settings: MailSettings,
        webhooks: Vec<WebhookSettings>,
        renderers: Renderers,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            mailer: Mailer::from_settings(&settings)?,
            webhooks: webhook::Webhooks::new(webhooks, settings.timeout_seconds)?,
            renderers,
            settings,
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
        let mail = self.renderers.render(item).await?;
        if let Some(name) = item.recipient.strip_prefix("webhook:") {
            return self.webhooks.post(name, item, &mail).await;
        }
        match &self.mailer {
            Some(mailer) => mailer.send(&item.recipient, mail).await,
            None => Err(DeliveryError::Transient(
                "mail is not configured here".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_get_only_the_domain() {
        assert_eq!(recipient_domain("wang.daye@qq.com"), "qq.com");
        assert_eq!(recipient_domain("nonsense"), "?");
    }
}
