//! The pure domain: cases, the working calendar, deadlines, phone numbers, the state machine.
//! Nothing here does I/O; adapters and storage depend on it, never the other way round.

pub mod action;
pub mod audit;
pub mod bulletin;
pub mod calendar;
pub mod call;
pub mod callback;
pub mod callback_result;
pub mod case;
pub mod citizen;
pub mod correction;
pub mod directory;
pub mod evaluation;
pub mod notification;
pub mod permission;
pub mod phone;
pub mod problem;
pub mod registration;
pub mod search;
pub mod submission;
pub mod transcript;
pub mod vocab;
pub mod website;

pub use action::{decide, Action, ActionKind, Actor, Refusal, Transition};
pub use audit::By;
pub use calendar::WorkingCalendar;
pub use case::{Callback, Case, CaseNumber, Citizen, Event, NewCase};
pub use notification::Notification;
pub use phone::{LocalDialing, PhoneNumber};
pub use registration::{Department, FieldError, IntakeRules, Matter, RegistrationForm};
pub use submission::{
    Admission, Evidence, NewRecording, RateCheck, Submission, VoicemailEvidence, WebsiteForm,
};
pub use vocab::{
    CallbackKind, Cause, Channel, EntryStatus, EventKind, Outcome, Rating, Role, Status, Tier,
    Topic,
};
