//! A notification owed because of a change (a confirmation, an alert, the morning list): it
//! is written to the outbox in the change's own transaction, so it is sent if and only if the
//! change commits.

use super::vocab::Topic;

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub topic: Topic,
    /// An e-mail address, or `webhook:<name>`.
    pub recipient: String,
    /// What the topic's renderer needs, and nothing more (it is cleared once sent).
    pub payload: serde_json::Value,
}
