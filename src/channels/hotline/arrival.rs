//! A voicemail (or a call without one) arriving through any door, and how it was taken in.

use chrono::{DateTime, Utc};

use super::asterisk_message::CallerId;
use crate::domain::Channel;

/// A voicemail (or a call without one) arriving through any door.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// Stable per message: the same message arriving twice has the same identity.
    pub identity: String,
    /// `asterisk`, `push` or `twilio`.
    pub source: &'static str,
    pub source_path: String,
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    pub caller: CallerId,
    pub urgent: bool,
    /// A quarantine entry this arrival settles besides its own identity (the spool keeps
    /// entries under a key that survives fixing the file).
    pub quarantine_key: Option<String>,
}

#[derive(Debug)]
pub enum TakenIn {
    Ingested {
        case: Box<crate::domain::Case>,
        attached: bool,
        recording_id: Option<i64>,
    },
    /// A call that left no message (none, or silence): on the callback list, not a case.
    MissedCall {
        call_id: i64,
    },
    Already {
        number: Option<crate::domain::CaseNumber>,
    },
    Rejected(String),
}
