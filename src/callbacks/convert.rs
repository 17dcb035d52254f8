//! The stored list's rows as the list shows them: cases, recordings (with the first line of
//! a transcript) and missed calls, times in the bureau's zone.

use chrono::{DateTime, FixedOffset, Utc};
use chrono_tz::Tz;

use super::{ListCall, ListCase, ListRecording};
use crate::storage::{EntryCall, EntryCase, EntryRecording};

pub(super) fn list_case(c: &EntryCase, tz: Tz) -> ListCase {
    let linked = crate::domain::callback_result::LinkedCase {
        case_id: c.case_id,
        number: c.number.clone(),
        channel: c.channel,
        status: c.status,
        tier: crate::domain::Tier::Simple,
        callback: c.callback,
    };
    ListCase {
        number: c.number.clone(),
        channel: c.channel,
        received_at: local(c.received_at, tz),
        description: c.description.clone(),
        status: c.status,
        only_a_message: linked.only_a_message(),
    }
}

pub(super) fn list_recording(r: &EntryRecording) -> ListRecording {
    ListRecording {
        id: r.id,
        duration_seconds: r.duration_ms as f64 / 1000.0,
        transcript: r
            .transcript
            .as_deref()
            .map(|t| crate::domain::transcript::first_line(t, 80)),
        url: format!("/api/v1/recordings/{}", r.id),
    }
}

pub(crate) fn local(t: DateTime<Utc>, tz: Tz) -> DateTime<FixedOffset> {
    t.with_timezone(&tz).fixed_offset()
}

pub(super) fn list_call(c: &EntryCall, tz: Tz) -> ListCall {
    ListCall {
        channel: c.channel,
        received_at: local(c.received_at, tz),
    }
}
