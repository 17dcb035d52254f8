//! What every channel hands the window: a [`Submission`] (who, how to reach them, what they
//! want, when, and the channel's evidence: a form record, a recording). Counter, hotline and
//! website adapters each turn their own input into one; [`Submission::admit`] is the one rule
//! that gives each its terms (the 1-working-day deadline, whether it arrived off hours, when
//! the window owes a call back), whatever door it came through.

use chrono::{DateTime, Duration, Utc};

use super::calendar::{CalendarError, WorkingCalendar};
use super::case::{Callback, Citizen, NewCase};
use super::notification::Notification;
use super::vocab::{CallbackKind, Channel, Tier};

#[derive(Debug, Clone)]
pub struct Submission {
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    /// Who, and how to reach them.
    pub citizen: Citizen,
    /// What they want: a matter code of the configured list, and in their words.
    pub matter: String,
    pub description: String,
    /// From the PBX's Urgent folder.
    pub urgent: bool,
    /// The window owes a call back of this kind (a message left, a call missed); None when
    /// the citizen was served in person or on the line.
    pub callback: Option<CallbackKind>,
    /// Answered on the spot: registered closed, as a consultation, with this answer.
    pub answer: Option<String>,
    /// Who registered it (the first event's actor), and the id behind the name.
    pub registered_by: String,
    pub registered_by_id: Option<String>,
    pub evidence: Evidence,
    /// Notifications owed once it is stored (the website's confirmation), written in the
    /// same transaction; each payload gets the case number when it is known.
    pub notify: Vec<Notification>,
    /// Where the matter could not be done, as the citizen or the clerk said.
    pub failed_at: super::directory::FailedAt,
}

/// What a channel keeps beside the case.
#[derive(Debug, Clone)]
pub enum Evidence {
    /// Typed by staff (a walk-in, a logged call) or an API client: nothing beside the case.
    Typed,
    Website(WebsiteForm),
    Voicemail(VoicemailEvidence),
}

/// A website message's record: how the visitor follows it, and how a repeat is folded.
#[derive(Debug, Clone)]
pub struct WebsiteForm {
    /// A digest of the tracking code the visitor was given.
    pub tracking_digest: String,
    pub email: Option<String>,
    /// The same phone with the same text gives the same key.
    pub fold_key: String,
    /// Fold into a website case with the same key registered since this instant.
    pub fold_since: DateTime<Utc>,
    /// The sender's per-address limit, checked and counted in the same transaction.
    pub limit: Option<RateCheck>,
    /// Confirmation e-mails one recipient address gets in a day, counted in the same
    /// transaction; over it the message is registered without one.
    pub confirmations_per_day: u32,
}

/// A voicemail (or a call that left none), taken in exactly once by its identity.
#[derive(Debug, Clone)]
pub struct VoicemailEvidence {
    /// Stable across rescans, renumbering and instances (`asterisk:<context>/<mailbox>:<msg_id>`).
    pub identity: String,
    /// The quarantine entry this settles (the identity itself, or the spool's key).
    pub quarantine_key: String,
    pub source_path: String,
    /// None for a call that left no recording (a missed call reported by a webhook).
    pub recording: Option<NewRecording>,
}

/// A recording to store with its probe, already saved in the audio folder by content hash.
#[derive(Debug, Clone)]
pub struct NewRecording {
    pub sha256: String,
    /// `asterisk`, `push` or `twilio`.
    pub source: &'static str,
    pub media_type: String,
    pub bytes: i64,
    pub duration_ms: i64,
    pub sample_rate: i64,
    pub channels: i64,
    pub rms: f64,
    pub peak: f64,
    pub silent: bool,
    pub received_at: DateTime<Utc>,
}

/// A per-address limit: at most `most` hits per window, for the keyed digest of an address.
#[derive(Debug, Clone)]
pub struct RateCheck {
    pub scope: String,
    pub key: String,
    pub limits: Vec<(Duration, u32)>,
}

impl RateCheck {
    /// The longest window: hits older than it count for nothing.
    pub fn longest(&self) -> Duration {
        self.limits
            .iter()
            .map(|(w, _)| *w)
            .max()
            .unwrap_or_default()
    }
}

/// A submission with its terms decided: what storage registers.
#[derive(Debug, Clone)]
pub struct Admission {
    pub case: NewCase,
    pub evidence: Evidence,
    pub notify: Vec<Notification>,
}

impl From<NewCase> for Admission {
    /// A case whose terms were decided elsewhere (an import, a benchmark), typed.
    fn from(case: NewCase) -> Self {
        Admission {
            case,
            evidence: Evidence::Typed,
            notify: Vec::new(),
        }
    }
}

impl Submission {
    /// The terms every report is registered on: a simple matter, due within 1 working day of
    /// its arrival; off hours when it arrived outside working time; and a call back, when one
    /// is owed, due at the next opening after an off-hours arrival, or at once.
    pub fn admit(self, calendar: &WorkingCalendar) -> Result<Admission, CalendarError> {
        let tier = Tier::Simple;
        let due = calendar.add_working_days(self.received_at, tier.working_days())?;
        let off_hours = !calendar.is_working_time(self.received_at);
        let callback = match self.callback {
            Some(kind) => Some(Callback {
                due_at: match off_hours {
                    true => calendar.next_opening(self.received_at)?.at,
                    false => self.received_at,
                },
                kind,
            }),
            None => None,
        };
        Ok(Admission {
            case: NewCase {
                channel: self.channel,
                received_at: self.received_at,
                citizen: self.citizen,
                matter: self.matter,
                description: self.description,
                tier,
                deadline: due.at,
                deadline_provisional: due.provisional,
                off_hours,
                urgent: self.urgent,
                callback,
                consultation: self.answer,
                registered_by: self.registered_by,
                registered_by_id: self.registered_by_id,
                failed_at: self.failed_at,
            },
            evidence: self.evidence,
            notify: self.notify,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::fixtures::{at, calendar};

    fn submission(received_at: DateTime<Utc>, callback: Option<CallbackKind>) -> Submission {
        Submission {
            channel: Channel::ComplaintHotline,
            received_at,
            citizen: Citizen {
                name: None,
                phone: None,
                id_card_masked: None,
                id_card_digest: None,
            },
            matter: "other".into(),
            description: "电话留言".into(),
            urgent: false,
            callback,
            answer: None,
            registered_by: "voicemail:asterisk".into(),
            registered_by_id: None,
            evidence: Evidence::Typed,
            notify: Vec::new(),
            failed_at: Default::default(),
        }
    }

    #[test]
    fn a_friday_night_message_is_due_first_thing_on_monday() {
        let friday_night = at("2026-11-27T21:30:00+08:00");
        let a = submission(friday_night, Some(CallbackKind::Message))
            .admit(&calendar())
            .unwrap();
        assert!(a.case.off_hours);
        let cb = a.case.callback.unwrap();
        assert_eq!(cb.due_at, at("2026-11-30T08:30:00+08:00"));
        assert_eq!(cb.kind, CallbackKind::Message);
        assert_eq!(a.case.deadline, at("2026-11-30T17:00:00+08:00"));
    }

    #[test]
    fn in_working_hours_the_call_back_is_due_at_once_and_a_walk_in_owes_none() {
        let tuesday = at("2026-12-01T10:15:00+08:00");
        let a = submission(tuesday, Some(CallbackKind::MissedCall))
            .admit(&calendar())
            .unwrap();
        assert!(!a.case.off_hours);
        assert_eq!(a.case.callback.unwrap().due_at, tuesday);
        let walk_in = submission(tuesday, None).admit(&calendar()).unwrap();
        assert_eq!(walk_in.case.callback, None);
        assert_eq!(walk_in.case.deadline, at("2026-12-02T17:00:00+08:00"));
    }

    #[test]
    fn an_answer_registers_a_closed_consultation_owned_by_whoever_answered() {
        let mut s = submission(at("2026-12-01T10:15:00+08:00"), None);
        s.answer = Some("电话中已解答".into());
        let a = s.admit(&calendar()).unwrap();
        assert_eq!(a.case.status(), crate::domain::Status::Closed);
        assert_eq!(a.case.owner(), Some("voicemail:asterisk"));
    }
}
