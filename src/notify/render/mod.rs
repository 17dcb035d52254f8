//! One renderer per outbox topic ([`Topic`]): each turns a claimed row into a [`Mail`] (a
//! webhook gets its subject and text). Most render from the row's payload alone; the
//! morning list is read at delivery by the callback service's own renderer, registered here
//! at start-up ([`Renderers::with`]), so this module depends on no service.

pub mod bulletin;
mod callback_late;
mod confirmation;
mod deadline;
mod decision;
mod summons;

use std::collections::HashMap;
use std::sync::Arc;

use super::DeliveryError;
use crate::domain::Topic;
use crate::storage::OutboxItem;

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// File name, content type, bytes.
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

/// Renders the rows of one topic.
#[async_trait::async_trait]
pub trait Render: Send + Sync {
    async fn render(&self, item: &OutboxItem) -> Result<Mail, DeliveryError>;
}

/// The renderer of each topic.
#[derive(Clone)]
pub struct Renderers(HashMap<Topic, Arc<dyn Render>>);

impl Default for Renderers {
    /// The topics rendered from their payload alone.
    fn default() -> Self {
        Self(HashMap::new())
            .with(
                Topic::WebsiteConfirmation,
                Arc::new(confirmation::Confirmation),
            )
            .with(Topic::AwaitingDecision, Arc::new(decision::Decision))
            .with(Topic::DeadlineAlert, Arc::new(deadline::DeadlineAlert))
            .with(Topic::CallbackLate, Arc::new(callback_late::CallbackLate))
            .with(Topic::Summons, Arc::new(summons::Summons))
    }
}

impl Renderers {
    /// Renders `topic` with `renderer` (replacing any).
    pub fn with(mut self, topic: Topic, renderer: Arc<dyn Render>) -> Self {
        self.0.insert(topic, renderer);
        self
    }

    /// Renders a row by its topic; a topic without a renderer is a permanent failure.
    pub async fn render(&self, item: &OutboxItem) -> Result<Mail, DeliveryError> {
        let renderer = item
            .topic
            .parse::<Topic>()
            .ok()
            .and_then(|t| self.0.get(&t))
            .ok_or_else(|| {
                DeliveryError::Permanent(format!(
                    "no template for the outbox topic `{}`",
                    item.topic
                ))
            })?;
        renderer.render(item).await
    }
}

/// A string field of a row's payload ("" when missing).
pub(super) fn field(item: &OutboxItem, key: &str) -> String {
    item.payload
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_owned()
}

/// Text into HTML.
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A short message as HTML: a bold first line, then the rest.
pub(super) fn short_html(first: &str, rest: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><body><p><strong>{}</strong></p><p>{}</p></body></html>",
        html_escape(first),
        html_escape(rest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unknown_topic_is_a_permanent_failure_not_a_panic() {
        let item = OutboxItem {
            id: 1,
            topic: "fax".into(),
            case_id: None,
            recipient: "a@b.c".into(),
            payload: serde_json::json!({}),
            attempts: 1,
        };
        match Renderers::default().render(&item).await {
            Err(DeliveryError::Permanent(reason)) => assert!(reason.contains("fax")),
            other => panic!("expected a permanent failure, got {other:?}"),
        }
    }
}
