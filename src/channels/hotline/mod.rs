//! The hotline channel: calls logged by operators (see `http::hotline`) and voicemail from
//! the PBX.

pub mod asterisk_message;
pub mod audio;
pub mod downloads;
pub mod ingest;
pub mod spool;
pub mod twilio;
