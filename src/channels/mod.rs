//! Channel adapters: one folder per channel (the counter, the two hotlines, the website),
//! each turning its own input (a walk-in's form, a logged call, a PBX's voicemail, a
//! website message) into one `domain::Submission` for the one intake path (`intake`), with
//! its routes beside it.

pub mod counter;
pub mod hotline;
pub mod website;
