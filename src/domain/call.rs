//! A telephone call as the PBX reports it, event by event (the generic CTI push API:
//! `newCall`, `answer`, `hangup`), and what its end means for the window: answered by an
//! operator, taken by voicemail, or missed (a call back is owed). Pure: storage keeps the
//! [`CallState`] and applies each [`CallEvent`] with [`apply`].
//!
//! Events arrive out of order and twice: each field is set once, by the first event that
//! knows it, so a repeated event changes nothing and a `hangup` before its `answer` still
//! ends the call (the late `answer` fills in who answered, not the ending).

use chrono::{DateTime, Utc};

use super::Channel;

/// What the PBX said happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    NewCall,
    Answer,
    Hangup,
}

impl EventKind {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "newCall" | "newcall" | "new_call" => Some(Self::NewCall),
            "answer" => Some(Self::Answer),
            "hangup" => Some(Self::Hangup),
            _ => None,
        }
    }
}

/// How a call ended, as the CTI API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    NormalClearing,
    Busy,
    Cancel,
    NoAnswer,
    Congestion,
    NotFound,
    Forwarded,
}

impl Cause {
    pub const ALL: [Cause; 7] = [
        Cause::NormalClearing,
        Cause::Busy,
        Cause::Cancel,
        Cause::NoAnswer,
        Cause::Congestion,
        Cause::NotFound,
        Cause::Forwarded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::NormalClearing => "normalClearing",
            Cause::Busy => "busy",
            Cause::Cancel => "cancel",
            Cause::NoAnswer => "noAnswer",
            Cause::Congestion => "congestion",
            Cause::NotFound => "notFound",
            Cause::Forwarded => "forwarded",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw.trim())
    }

    /// The caller gave up or could not get through to anyone: a call back is owed when
    /// nobody answered. (Congestion and a wrong number are the network's, not a caller
    /// waiting; a forwarded call went on elsewhere.)
    pub fn unanswered(self) -> bool {
        matches!(self, Cause::Busy | Cause::Cancel | Cause::NoAnswer)
    }
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Ringing,
    Answered,
    /// Taken by voicemail: the message, when it comes, is the call back owed.
    Voicemail,
    Ended,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ringing => "ringing",
            State::Answered => "answered",
            State::Voicemail => "voicemail",
            State::Ended => "ended",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            State::Ringing,
            State::Answered,
            State::Voicemail,
            State::Ended,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// One event, read and checked (numbers parsed, names trimmed).
#[derive(Debug, Clone, PartialEq)]
pub struct CallEvent {
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    /// `in` or `out`.
    pub inbound: bool,
    /// The caller's number in E.164; None when anonymous or not a number.
    pub phone: Option<String>,
    pub anonymous: bool,
    /// The line called, when it is a hotline.
    pub channel: Option<Channel>,
    /// The users or extensions it rings at (`newCall`).
    pub users: Vec<String>,
    pub queue: Option<String>,
    /// Who answered (`answer`: `user` or `answeringNumber`).
    pub answered_by: Option<String>,
    pub cause: Option<Cause>,
}

impl CallEvent {
    /// The answer was the voicemail's, not a person's.
    pub fn by_voicemail(&self) -> bool {
        self.answered_by
            .as_deref()
            .is_some_and(|who| who.eq_ignore_ascii_case("voicemail"))
    }
}

/// A call as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CallState {
    pub inbound: bool,
    pub channel: Option<Channel>,
    pub phone: Option<String>,
    pub anonymous: bool,
    pub users: Vec<String>,
    pub queue: Option<String>,
    pub answered_by: Option<String>,
    pub state: State,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub cause: Option<Cause>,
}

impl CallState {
    /// Ended without anyone answering, in a way that means the caller wanted someone (it
    /// rang out, they gave up or found it busy, or only the voicemail took it): a call back
    /// is owed, unless the caller is anonymous or it was an outgoing call. A message left on
    /// the voicemail is that call back, and supersedes the missed call when it comes (a
    /// caller who hangs up at the greeting leaves none, and is still called back).
    pub fn missed(&self) -> bool {
        self.inbound
            && self.ended_at.is_some()
            && self.answered_at.is_none()
            && (self.state == State::Voicemail || self.cause.is_some_and(Cause::unanswered))
    }

    /// A missed call with a number to call back, on a hotline.
    pub fn owes_callback(&self) -> bool {
        self.missed() && self.phone.is_some() && self.channel.is_some()
    }

    /// How long it lasted from the answer to the end.
    pub fn handling(&self) -> Option<chrono::Duration> {
        match (self.answered_at, self.ended_at) {
            (Some(a), Some(e)) if e >= a => Some(e - a),
            _ => None,
        }
    }

    /// On the screen of someone known by `names`: while it rings, if it rings at them;
    /// once answered, only if they answered it (`answered_by_them`: matched by the store).
    pub fn shown_to(&self, names: &[&str], answered_by_them: bool) -> bool {
        match self.answered_at {
            Some(_) => {
                answered_by_them
                    || self.answered_by.as_deref().is_some_and(|who| {
                        names
                            .iter()
                            .any(|n| !n.is_empty() && who.trim().eq_ignore_ascii_case(n.trim()))
                    })
            }
            None => self.rings_at(names),
        }
    }

    /// Rings at `who` (a username, display name or extension), or at every operator when
    /// it names nobody.
    pub fn rings_at(&self, names: &[&str]) -> bool {
        self.users.is_empty()
            || self.users.iter().any(|u| {
                names
                    .iter()
                    .any(|n| !n.is_empty() && u.trim().eq_ignore_ascii_case(n.trim()))
            })
    }
}

/// The call after `event`: `None` when it changes nothing (a repeat). A first event of
/// any kind starts the call (an `answer` or `hangup` whose `newCall` was lost still makes
/// a record).
pub fn apply(current: Option<&CallState>, event: &CallEvent) -> Option<CallState> {
    let mut call = match current {
        Some(c) => c.clone(),
        None => CallState {
            inbound: event.inbound,
            channel: event.channel,
            phone: event.phone.clone(),
            anonymous: event.anonymous,
            users: Vec::new(),
            queue: None,
            answered_by: None,
            state: State::Ringing,
            started_at: event.at,
            answered_at: None,
            ended_at: None,
            cause: None,
        },
    };
    // What any event may tell first.
    if call.channel.is_none() {
        call.channel = event.channel;
    }
    if call.phone.is_none() && !call.anonymous {
        call.phone = event.phone.clone();
        call.anonymous = event.anonymous;
    }
    if event.at < call.started_at && event.kind == EventKind::NewCall {
        call.started_at = event.at;
    }
    match event.kind {
        EventKind::NewCall => {
            if call.users.is_empty() {
                call.users = event.users.clone();
            }
            if call.queue.is_none() {
                call.queue = event.queue.clone();
            }
        }
        EventKind::Answer => {
            if call.answered_at.is_none() && call.state != State::Voicemail {
                if event.by_voicemail() {
                    // Even when the hangup came first: no missed call (the message, if
                    // any, is the call back owed).
                    call.state = State::Voicemail;
                } else {
                    call.answered_at = Some(event.at.max(call.started_at));
                    call.answered_by = event.answered_by.clone();
                    if call.state == State::Ringing {
                        call.state = State::Answered;
                    }
                }
            }
        }
        EventKind::Hangup => {
            if call.ended_at.is_none() {
                call.ended_at = Some(event.at.max(call.started_at));
                call.cause = event.cause;
                if call.state != State::Voicemail {
                    call.state = State::Ended;
                }
            }
        }
    }
    // A late answer after the hangup keeps the call ended.
    if call.ended_at.is_some() && call.state == State::Answered {
        call.state = State::Ended;
    }
    match current {
        Some(c) if *c == call => None,
        _ => Some(call),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn event(kind: EventKind, t: &str) -> CallEvent {
        CallEvent {
            kind,
            at: at(t),
            inbound: true,
            phone: Some("+8613800138000".into()),
            anonymous: false,
            channel: Some(Channel::ComplaintHotline),
            users: Vec::new(),
            queue: None,
            answered_by: None,
            cause: None,
        }
    }

    fn run(events: &[CallEvent]) -> CallState {
        let mut state = None;
        for e in events {
            if let Some(next) = apply(state.as_ref(), e) {
                state = Some(next);
            }
        }
        state.unwrap()
    }

    fn hangup(t: &str, cause: Cause) -> CallEvent {
        CallEvent {
            cause: Some(cause),
            ..event(EventKind::Hangup, t)
        }
    }

    fn answer(t: &str, who: &str) -> CallEvent {
        CallEvent {
            answered_by: Some(who.into()),
            ..event(EventKind::Answer, t)
        }
    }

    #[test]
    fn an_answered_call_is_timed_and_not_missed() {
        let call = run(&[
            event(EventKind::NewCall, "2026-12-07T01:00:00Z"),
            answer("2026-12-07T01:00:10Z", "801"),
            hangup("2026-12-07T01:04:10Z", Cause::NormalClearing),
        ]);
        assert_eq!(call.state, State::Ended);
        assert_eq!(call.handling(), Some(chrono::Duration::minutes(4)));
        assert!(!call.missed());
        assert_eq!(call.answered_by.as_deref(), Some("801"));
    }

    #[test]
    fn a_call_that_rang_out_is_missed_and_a_repeat_changes_nothing() {
        let first = run(&[
            event(EventKind::NewCall, "2026-12-07T01:00:00Z"),
            hangup("2026-12-07T01:00:30Z", Cause::NoAnswer),
        ]);
        assert!(first.missed() && first.owes_callback());
        assert_eq!(
            apply(Some(&first), &hangup("2026-12-07T01:00:31Z", Cause::Cancel)),
            None
        );
        assert_eq!(
            apply(
                Some(&first),
                &event(EventKind::NewCall, "2026-12-07T01:00:00Z")
            ),
            None
        );
    }

    #[test]
    fn a_hangup_before_its_answer_still_counts_the_answer_once() {
        let call = run(&[
            event(EventKind::NewCall, "2026-12-07T01:00:00Z"),
            hangup("2026-12-07T01:03:00Z", Cause::NormalClearing),
            answer("2026-12-07T01:00:05Z", "801"),
        ]);
        assert_eq!(call.state, State::Ended);
        assert_eq!(call.handling(), Some(chrono::Duration::seconds(175)));
        assert!(!call.missed());
    }

    #[test]
    fn a_call_only_the_voicemail_took_is_missed_and_anonymous_owes_no_callback() {
        let vm = run(&[
            event(EventKind::NewCall, "2026-12-07T12:00:00Z"),
            answer("2026-12-07T12:00:20Z", "voicemail"),
            hangup("2026-12-07T12:01:00Z", Cause::NormalClearing),
        ]);
        assert_eq!(vm.state, State::Voicemail);
        assert!(vm.missed(), "until its message comes");
        let anonymous = run(&[
            CallEvent {
                phone: None,
                anonymous: true,
                ..event(EventKind::NewCall, "2026-12-07T01:00:00Z")
            },
            hangup("2026-12-07T01:00:30Z", Cause::Cancel),
        ]);
        assert!(anonymous.missed() && !anonymous.owes_callback());
    }

    #[test]
    fn a_hangup_with_no_newcall_still_makes_a_call_and_congestion_is_not_missed() {
        let call = run(&[hangup("2026-12-07T01:00:30Z", Cause::Congestion)]);
        assert_eq!(call.state, State::Ended);
        assert!(!call.missed());
    }

    #[test]
    fn an_answered_call_stays_only_on_the_screen_of_whoever_took_it() {
        let mut call = run(&[event(EventKind::NewCall, "2026-12-07T01:00:00Z")]);
        assert!(call.shown_to(&["zhou"], false) && call.shown_to(&["sun"], false));
        call = apply(Some(&call), &answer("2026-12-07T01:00:09Z", "801")).unwrap();
        assert!(call.shown_to(&["zhou", "801"], false));
        assert!(call.shown_to(&["zhou"], true));
        assert!(!call.shown_to(&["sun", "802"], false));
    }

    #[test]
    fn a_number_learned_late_is_kept_and_silence_is_not_anonymity() {
        let call = run(&[
            CallEvent {
                phone: None,
                ..event(EventKind::Answer, "2026-12-07T01:00:05Z")
            },
            event(EventKind::NewCall, "2026-12-07T01:00:00Z"),
        ]);
        assert_eq!(call.phone.as_deref(), Some("+8613800138000"));
        assert!(!call.anonymous);
        assert_eq!(call.started_at, at("2026-12-07T01:00:00Z"));
    }

    #[test]
    fn it_rings_at_the_named_users_or_everyone() {
        let mut call = run(&[event(EventKind::NewCall, "2026-12-07T01:00:00Z")]);
        assert!(call.rings_at(&["anyone"]));
        call.users = vec!["801".into(), "wang".into()];
        assert!(call.rings_at(&["li", "801"]));
        assert!(!call.rings_at(&["li", "802", ""]));
    }
}
