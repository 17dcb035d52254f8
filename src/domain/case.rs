//! A case: one citizen's matter from registration to closure, and its timeline.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::phone::PhoneNumber;
use super::vocab::{CallbackKind, Cause, Channel, EventKind, Status, Tier};

/// The human case number, `YM-20261128-0007`: a prefix, the local date of registration and
/// the day's sequence number (gap-free per day, at least four digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a case number (it looks like YM-20261128-0007)")]
pub struct InvalidCaseNumber(pub String);

impl CaseNumber {
    pub fn new(prefix: &str, day: NaiveDate, sequence: u32) -> Self {
        Self(format!("{prefix}-{}-{sequence:04}", day.format("%Y%m%d")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CaseNumber {
    type Err = InvalidCaseNumber;

    /// Accepts any prefix of letters, a valid date and a sequence of four or more digits;
    /// lower case is folded, since people type numbers read out over the phone.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        let invalid = || InvalidCaseNumber(s.trim().to_owned());
        let mut parts = upper.split('-');
        let (Some(prefix), Some(date), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let prefix_ok = !prefix.is_empty() && prefix.chars().all(|c| c.is_ascii_uppercase());
        let date_ok = date.len() == 8 && NaiveDate::parse_from_str(date, "%Y%m%d").is_ok();
        let seq_ok = seq.len() >= 4 && seq.chars().all(|c| c.is_ascii_digit());
        if prefix_ok && date_ok && seq_ok {
            Ok(Self(upper))
        } else {
            Err(invalid())
        }
    }
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who the case is about. Everything here is personal data: never log it unmasked (its
/// `Debug` output is masked).
#[derive(Clone, PartialEq, Eq)]
pub struct Citizen {
    pub name: Option<String>,
    pub phone: Option<PhoneNumber>,
    /// For display only (`210602********123X`).
    pub id_card_masked: Option<String>,
    /// A keyed digest of the full number, to recognise a repeat visitor.
    pub id_card_digest: Option<String>,
}

impl fmt::Debug for Citizen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Citizen")
            .field("name", &self.name.as_deref().map(super::phone::mask_name))
            .field("phone", &self.phone)
            .field("id_card_masked", &self.id_card_masked)
            .finish_non_exhaustive()
    }
}

/// A registered case as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub id: i64,
    pub number: CaseNumber,
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    pub citizen: Citizen,
    pub matter: String,
    pub description: String,
    pub cause: Cause,
    pub tier: Tier,
    pub status: Status,
    /// The staff member who accepted the case and follows it to the end (首问负责制).
    pub owner: Option<String>,
    pub deadline: DateTime<Utc>,
    /// The deadline depends on a year with no official calendar yet.
    pub deadline_provisional: bool,
    /// Received outside working hours (and so due for a next-morning callback).
    pub off_hours: bool,
    /// Answered on the phone and closed at once: counted, not worked.
    pub consultation: bool,
    /// From the PBX's Urgent folder.
    pub urgent: bool,
    /// When the callback is due and what kind it is, for cases that need one.
    pub callback: Option<Callback>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Incremented by every change; guards against two people changing a case at once.
    pub version: i64,
    /// An accountability record exists (required to close a staff-side case).
    pub accountability_recorded: bool,
    /// Where the matter could not be done (the counter, its department, the clerk).
    pub failed_at: super::directory::FailedAt,
}

impl NewCase {
    /// How it is registered: closed at once when answered on the spot (a consultation),
    /// otherwise new.
    pub fn status(&self) -> Status {
        match self.consultation {
            Some(_) => Status::Closed,
            None => Status::New,
        }
    }

    /// Who owns it from the start: whoever answered a consultation; nobody otherwise, until
    /// someone accepts it.
    pub fn owner(&self) -> Option<&str> {
        self.consultation
            .as_ref()
            .map(|_| self.registered_by.as_str())
    }
}

impl NewCase {
    /// Who registered it, as its events store it.
    pub fn registered_by(&self) -> super::audit::By<'_> {
        super::audit::By {
            name: &self.registered_by,
            id: self.registered_by_id.as_deref(),
        }
    }
}

impl Case {
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status.is_open() && self.deadline < now
    }
}

/// A callback the window owes the citizen: due at the next opening after an off-hours
/// arrival, or at once for an arrival in working hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Callback {
    pub due_at: DateTime<Utc>,
    pub kind: CallbackKind,
}

/// A case about to be registered, with everything already validated.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    pub citizen: Citizen,
    pub matter: String,
    pub description: String,
    pub tier: Tier,
    pub deadline: DateTime<Utc>,
    pub deadline_provisional: bool,
    pub off_hours: bool,
    pub urgent: bool,
    pub callback: Option<Callback>,
    /// `Some(answer)`: answered on the phone; the case is registered closed, as a
    /// consultation, with the answer on its timeline.
    pub consultation: Option<String>,
    /// Who registered it (the first event's actor).
    pub registered_by: String,
    /// The id behind `registered_by` (`user:<id>`, `token:<id>`); None for a channel's own
    /// intake (the website, the voicemail pick-up).
    pub registered_by_id: Option<String>,
    /// Where the matter could not be done, as far as it is known at registration.
    pub failed_at: super::directory::FailedAt,
}

/// One entry of a case's append-only timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: EventKind,
    /// The fields the action changed, before and after, as JSON objects.
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_numbers_are_prefix_date_and_four_digit_sequence() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        assert_eq!(CaseNumber::new("YM", day, 7).as_str(), "YM-20261128-0007");
        assert_eq!(
            CaseNumber::new("YM", day, 12345).as_str(),
            "YM-20261128-12345"
        );
    }

    #[test]
    fn case_numbers_parse_case_insensitively_and_reject_nonsense() {
        assert_eq!(
            "ym-20261128-0007".parse::<CaseNumber>().unwrap().as_str(),
            "YM-20261128-0007"
        );
        for bad in [
            "YM-20261332-0007",
            "YM-20261128-7",
            "20261128-0007",
            "YM-20261128-0007-1",
            "",
        ] {
            assert!(bad.parse::<CaseNumber>().is_err(), "{bad}");
        }
    }
}
