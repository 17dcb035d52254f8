//! The hotline channel (the complaint line 3105883 and the business line 6912333): calls
//! logged by operators while they talk, and voicemail from the PBX, from whichever door
//! (the Asterisk spool, a push, a Twilio-style callback and its download), each taken in
//! exactly once ([`ingest`]). Its routes are in [`routes`].

pub mod ami;
pub mod arrival;
pub mod asterisk_message;
pub mod audio;
pub mod cti;
pub mod downloads;
pub mod ingest;
pub mod routes;
pub mod spool;
pub mod transcribe;
pub mod twilio;

use std::sync::Arc;

use crate::calendar_source::CalendarHandle;
use crate::domain::IntakeRules;
use crate::intake::Intake;
use crate::storage::Store;
use ingest::Ingestor;

/// The hotline channel as its routes see it.
#[derive(Clone)]
pub struct Hotline {
    /// Where logged calls are registered.
    pub intake: Intake,
    pub rules: Arc<IntakeRules>,
    pub calendar: CalendarHandle,
    pub store: Arc<dyn Store>,
    /// Where recordings are taken in, from every door.
    pub ingestor: Ingestor,
    /// Calls as the PBX reports them, and the operators' screen pop.
    pub calls: cti::CallDesk,
    /// Who may push call events, and how fast.
    pub cti: Arc<routes::cti::CtiGate>,
    /// Whether a recognizer is configured (recordings wait in the queue otherwise).
    pub transcribing: bool,
    /// The counters and departments a caller may say the matter failed at.
    pub directory: crate::directory::Directory,
}
