//! Who sees what of a case: one rule for every view. The case page, the API, the printed
//! referral form and the exports all take a case's timeline through [`timeline_for`]; the
//! public tracking page takes only [`public_replies`].
//!
//! An accountability record (问责记录) is for the window's leaders: duty leaders and
//! administrators see it whole; anyone else sees that it exists, withheld.

use chrono::{DateTime, Utc};

use crate::domain::{ActionKind, Actor, Event, EventKind};

/// One entry of a timeline as a viewer may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    /// With its note and state blanked when withheld.
    pub event: Event,
    /// The viewer may not see what this entry says, only that it is there.
    pub withheld: bool,
}

/// Whether `viewer` may read entries of `kind`.
pub fn may_read(viewer: &Actor, kind: EventKind) -> bool {
    !kind.for_leaders_only() || viewer.may(ActionKind::Oversee)
}

/// A case's timeline as `viewer` may see it.
pub fn timeline_for(viewer: &Actor, events: Vec<Event>) -> Vec<TimelineEntry> {
    events
        .into_iter()
        .map(|mut event| {
            let withheld = !may_read(viewer, event.action);
            if withheld {
                event.note = None;
                event.after = serde_json::json!({});
            }
            TimelineEntry { event, withheld }
        })
        .collect()
}

/// What the public may read of a case's timeline: the replies staff chose to publish,
/// oldest first. Never an internal note, a name of staff, or anything else.
pub fn public_replies(events: &[Event]) -> Vec<(DateTime<Utc>, String)> {
    events
        .iter()
        .filter(|e| e.action == EventKind::PublishNote)
        .filter_map(|e| e.note.clone().map(|n| (e.at, n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn event(action: EventKind, note: &str) -> Event {
        Event {
            id: 1,
            at: "2026-11-30T02:00:00Z".parse().unwrap(),
            actor: "王芳".into(),
            action,
            before: serde_json::json!({}),
            after: serde_json::json!({"accountability": true}),
            note: Some(note.into()),
        }
    }

    fn actor(role: Role) -> Actor {
        Actor {
            name: "x".into(),
            roles: vec![role],
            id: None,
        }
    }

    #[test]
    fn an_accountability_record_is_withheld_from_everyone_but_leaders() {
        let events = vec![
            event(EventKind::AddNote, "已电话联系"),
            event(
                EventKind::RecordAccountability,
                "经办人：张某；处理：批评教育",
            ),
        ];
        for role in [Role::Counter, Role::Hotline, Role::Callback] {
            let seen = timeline_for(&actor(role), events.clone());
            assert!(!seen[0].withheld);
            assert_eq!(seen[0].event.note.as_deref(), Some("已电话联系"));
            assert!(seen[1].withheld, "{role:?}");
            assert_eq!(seen[1].event.note, None);
            assert_eq!(seen[1].event.after, serde_json::json!({}));
        }
        for role in [Role::DutyLeader, Role::Admin] {
            let seen = timeline_for(&actor(role), events.clone());
            assert!(!seen[1].withheld);
            assert!(seen[1].event.note.as_deref().unwrap().contains("批评教育"));
        }
    }

    #[test]
    fn the_public_reads_published_replies_only() {
        let events = vec![
            event(EventKind::AddNote, "内部：材料不全"),
            event(EventKind::PublishNote, "请携带身份证到三楼窗口"),
            event(EventKind::RecordAccountability, "问责"),
        ];
        let replies = public_replies(&events);
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].1, "请携带身份证到三楼窗口");
    }
}
