//! Call events from the PBX (the generic CTI push API, or the AMI listener), made into
//! timed calls: each event is read ([`RawEvent::read`]), applied once in a group-committed
//! transaction, and a call that ends missed is taken in as a missed call for the callback
//! list, through the same door as a voicemail without a message (so it is listed once, by
//! its identity `cti:<call>`). Operators' screens are woken on every change
//! ([`CallDesk::changes`]); with PostgreSQL, other instances' changes wake them too.

use std::sync::Arc;

use chrono::{DateTime, Timelike, Utc};
use tokio::sync::watch;

use super::asterisk_message::CallerId;
use super::ingest::{Arrival, Ingestor, TakenIn};
use crate::calendar_source::CalendarHandle;
use crate::domain::call::{CallEvent, Cause, EventKind};
use crate::domain::phone::PhoneNumber;
use crate::domain::{Channel, IntakeRules};
use crate::storage::calls::{CallApplied, CallRecord, CallWrite, LastRecording, OpenEntry};
use crate::storage::{Batcher, Store, StoreResult};

/// An event as a PBX sends it, every field as text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawEvent {
    pub event: String,
    pub from: String,
    pub to: String,
    pub direction: String,
    pub call_id: String,
    pub user: Vec<String>,
    pub queue: String,
    pub answering_number: String,
    pub cause: String,
    /// When it happened (RFC 3339), for a PBX that queues events while youmen is away; a
    /// youmen addition to the API. Empty: when it arrives.
    pub at: String,
}

impl RawEvent {
    /// From a form-encoded body: `user` and `user[]` may repeat.
    pub fn from_form(body: &[u8]) -> Self {
        let mut raw = RawEvent::default();
        for (k, v) in form_urlencoded::parse(body) {
            let v = v.into_owned();
            match k.as_ref() {
                "event" => raw.event = v,
                "from" => raw.from = v,
                "to" => raw.to = v,
                "direction" => raw.direction = v,
                "callId" | "call_id" => raw.call_id = v,
                "user" | "user[]" => raw.user.push(v),
                "queue" => raw.queue = v,
                "answeringNumber" => raw.answering_number = v,
                "cause" => raw.cause = v,
                "at" => raw.at = v,
                _ => {}
            }
        }
        raw
    }

    /// From a JSON object: `user` (or `user[]`) is a string or an array of strings.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        let obj = value.as_object()?;
        let text = |k: &str| -> String {
            match obj.get(k) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => String::new(),
            }
        };
        let mut user = Vec::new();
        for key in ["user", "user[]"] {
            match obj.get(key) {
                Some(serde_json::Value::String(s)) => user.push(s.clone()),
                Some(serde_json::Value::Number(n)) => user.push(n.to_string()),
                Some(serde_json::Value::Array(items)) => {
                    user.extend(items.iter().filter_map(|i| match i {
                        serde_json::Value::String(s) => Some(s.clone()),
                        serde_json::Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    }))
                }
                _ => {}
            }
        }
        Some(RawEvent {
            event: text("event"),
            from: text("from"),
            to: text("to"),
            direction: text("direction"),
            call_id: if obj.contains_key("callId") {
                text("callId")
            } else {
                text("call_id")
            },
            user,
            queue: text("queue"),
            answering_number: text("answeringNumber"),
            cause: text("cause"),
            at: text("at"),
        })
    }
}

/// Why an event cannot be used (a 422, naming the field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub field: &'static str,
    pub zh: String,
    pub en: String,
}

/// How a call id may look: up to 250 characters, as the API allows.
const MAX_CALL_ID: usize = 250;

/// Names a PBX gives a caller who withheld their number. (No `from` at all is not
/// anonymity: a later event of the call may carry it.)
fn anonymous(raw: &str) -> bool {
    let raw = raw.trim();
    [
        "anonymous",
        "unknown",
        "private",
        "restricted",
        "unavailable",
        "withheld",
    ]
    .iter()
    .any(|a| raw.eq_ignore_ascii_case(a))
}

/// A name as stored: no control characters (PostgreSQL refuses NUL in text), at most 100
/// characters.
fn clean(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The hotline a called number (or queue) names: the configured line number at the end of
/// the digits, or the channel's code.
pub fn line_of(lines: &[(String, Channel)], called: &str, queue: &str) -> Option<Channel> {
    let digits: String = called.chars().filter(char::is_ascii_digit).collect();
    lines
        .iter()
        .find(|(number, channel)| {
            (!digits.is_empty() && !number.is_empty() && digits.ends_with(number.as_str()))
                || queue.trim() == number
                || queue.trim() == channel.as_str()
        })
        .map(|(_, c)| *c)
}

/// What one event did, for its answer and its tests.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub call: CallRecord,
    pub changed: bool,
    /// The missed call it was taken in as (on this event or an earlier one).
    pub missed_call: Option<i64>,
}

/// A live call as the operators' screens show it.
#[derive(Debug, Clone)]
pub struct LiveCall {
    pub call: CallRecord,
    pub earlier: Vec<crate::domain::Case>,
    pub entries: Vec<OpenEntry>,
    pub last_recording: Option<LastRecording>,
}

/// The hotline's calls: events in, missed calls out, screens woken.
#[derive(Clone)]
pub struct CallDesk {
    store: Arc<dyn Store>,
    calendar: CalendarHandle,
    rules: Arc<IntakeRules>,
    lines: Arc<Vec<(String, Channel)>>,
    ingestor: Ingestor,
    writer: Batcher<CallWrite, Result<CallApplied, String>>,
    changes: watch::Sender<u64>,
    /// Cancelled when the service shuts down: the operators' streams end.
    stopping: crate::work::Stop,
}

impl CallDesk {
    pub fn new(
        store: Arc<dyn Store>,
        calendar: CalendarHandle,
        rules: Arc<IntakeRules>,
        lines: Vec<(String, Channel)>,
        ingestor: Ingestor,
    ) -> Self {
        let batch_store = store.clone();
        let writer = Batcher::spawn(move |items: Vec<CallWrite>| {
            let store = batch_store.clone();
            async move {
                match store.apply_call_events(&items, crate::clock::now()).await {
                    Ok(done) => done.into_iter().map(Ok).collect(),
                    // One event's failure is not its neighbours': each alone, then.
                    Err(e) if items.len() > 1 => {
                        tracing::warn!(error = %e, size = items.len(), "a call event batch failed; applying its events one by one");
                        let mut out = Vec::with_capacity(items.len());
                        for item in items {
                            let alone = store
                                .apply_call_events(std::slice::from_ref(&item), crate::clock::now())
                                .await;
                            out.push(match alone {
                                Ok(mut done) => done.pop().ok_or_else(|| "no result".to_owned()),
                                Err(e) => {
                                    tracing::error!(error = %e, "a call event failed");
                                    Err(e.to_string())
                                }
                            });
                        }
                        out
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "a call event failed");
                        vec![Err(e.to_string())]
                    }
                }
            }
        });
        let (changes, _) = watch::channel(0);
        Self {
            store,
            calendar,
            rules,
            lines: Arc::new(lines),
            ingestor,
            writer,
            changes,
            stopping: crate::work::Stop::new(),
        }
    }

    /// Cancelled when the service shuts down (the operators' streams end with it).
    pub fn stopping(&self) -> &crate::work::Stop {
        &self.stopping
    }

    /// Wakes on every change of a call (this instance's, and with PostgreSQL every
    /// instance's once [`CallDesk::watch_other_instances`] runs).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Follows other instances' call changes until the store stops answering (PostgreSQL);
    /// returns at once with SQLite.
    pub async fn watch_other_instances(&self) -> StoreResult<()> {
        self.store.watch_calls(self.changes.clone()).await
    }

    /// Reads an event received at `at`.
    pub fn read(
        &self,
        raw: &RawEvent,
        at: DateTime<Utc>,
    ) -> Result<(String, CallEvent), Unreadable> {
        let kind = EventKind::parse(&raw.event).ok_or_else(|| Unreadable {
            field: "event",
            zh: format!(
                "事件 `{}` 无效，可选：newCall、answer、hangup",
                raw.event.trim()
            ),
            en: format!(
                "Unknown event `{}`; use newCall, answer or hangup",
                raw.event.trim()
            ),
        })?;
        let call_id = raw.call_id.trim();
        if call_id.is_empty()
            || call_id.chars().count() > MAX_CALL_ID
            || call_id.chars().any(char::is_control)
        {
            return Err(Unreadable {
                field: "callId",
                zh: "callId 须为 1 至 250 个字符".into(),
                en: "callId must be 1 to 250 characters".into(),
            });
        }
        // A PBX's clock ahead of ours is taken as now: a call cannot start in the future.
        let at = match raw.at.trim() {
            "" => at,
            given => DateTime::parse_from_rfc3339(given)
                .map(|t| t.with_timezone(&Utc).min(at))
                .map_err(|_| Unreadable {
                    field: "at",
                    zh: "at 须为 RFC 3339 时间，如 2026-12-07T09:00:00+08:00".into(),
                    en: "at must be an RFC 3339 time, like 2026-12-07T09:00:00+08:00".into(),
                })?,
        };
        let inbound = !raw.direction.trim().eq_ignore_ascii_case("out");
        let cause = match raw.cause.trim() {
            "" => None,
            other => Some(Cause::parse(other).ok_or_else(|| Unreadable {
                field: "cause",
                zh: format!("挂机原因 `{other}` 无效"),
                en: format!("Unknown hangup cause `{other}`"),
            })?),
        };
        let (theirs, ours) = match inbound {
            true => (&raw.from, &raw.to),
            false => (&raw.to, &raw.from),
        };
        let is_anonymous = anonymous(theirs);
        // Garbage caller ID is no callback number (and is not anonymous either).
        let phone = match is_anonymous {
            true => None,
            false => PhoneNumber::parse(theirs, &self.rules.dialing)
                .ok()
                .flatten()
                .map(|p| p.e164().to_owned()),
        };
        let answered_by = [raw.user.first(), Some(&raw.answering_number)]
            .into_iter()
            .flatten()
            .map(|s| clean(s))
            .find(|s| !s.is_empty())
            .filter(|_| kind == EventKind::Answer);
        let event = CallEvent {
            kind,
            at,
            inbound,
            phone,
            anonymous: is_anonymous,
            channel: line_of(&self.lines, ours, &raw.queue),
            users: match kind {
                EventKind::NewCall => raw
                    .user
                    .iter()
                    .map(|u| clean(u))
                    .filter(|u| !u.is_empty())
                    .take(50)
                    .collect(),
                _ => Vec::new(),
            },
            queue: Some(clean(&raw.queue)).filter(|q| !q.is_empty()),
            answered_by,
            cause,
        };
        Ok((call_id.to_owned(), event))
    }

    /// Applies an event of `source`'s call `call_id` durably, and takes a missed call in
    /// for the callback list when the call ended missed (again on a repeat: taking in is
    /// once by identity, so a crash between the two steps is mended by the PBX's retry).
    pub async fn record(
        &self,
        source: &str,
        call_id: &str,
        event: CallEvent,
    ) -> anyhow::Result<Recorded> {
        let tz = self.calendar.current().timezone();
        let write = CallWrite {
            key: format!("{source}:{call_id}"),
            local_hour: event.at.with_timezone(&tz).hour() as i32,
            event,
        };
        let applied = self
            .writer
            .submit(write)
            .await
            .ok_or_else(|| anyhow::anyhow!("the call writer has stopped"))?
            .map_err(|e| anyhow::anyhow!(e))?;
        if applied.changed {
            self.changes.send_modify(|v| *v = v.wrapping_add(1));
        }
        let missed_call = self.take_in_missed(&applied.record).await?;
        Ok(Recorded {
            call: applied.record,
            changed: applied.changed,
            missed_call,
        })
    }

    /// A whole call at once, in one transaction (a call timed from the operator's form):
    /// nobody sees it ringing.
    pub async fn record_whole(
        &self,
        source: &str,
        call_id: &str,
        events: Vec<CallEvent>,
    ) -> anyhow::Result<CallRecord> {
        let tz = self.calendar.current().timezone();
        let writes: Vec<CallWrite> = events
            .into_iter()
            .map(|event| CallWrite {
                key: format!("{source}:{call_id}"),
                local_hour: event.at.with_timezone(&tz).hour() as i32,
                event,
            })
            .collect();
        let applied = self
            .store
            .apply_call_events(&writes, crate::clock::now())
            .await?;
        let last = applied
            .into_iter()
            .last()
            .ok_or_else(|| anyhow::anyhow!("no call events"))?;
        Ok(last.record)
    }

    /// A missed call on a hotline, anonymous ones included (counted, never listed). When
    /// the caller's message came already, storage records it as superseded by the message
    /// (in the same transaction, under the caller's lock).
    async fn take_in_missed(&self, record: &CallRecord) -> anyhow::Result<Option<i64>> {
        let call = &record.call;
        let (true, Some(channel)) = (call.missed(), call.channel) else {
            return Ok(None);
        };
        let arrival = Arrival {
            identity: format!("cti:{}", record.key),
            source: "cti",
            source_path: String::new(),
            channel,
            received_at: call.started_at,
            caller: CallerId {
                name: None,
                number: call.phone.clone(),
            },
            urgent: false,
            quarantine_key: None,
        };
        Ok(match self.ingestor.take_in(arrival, None).await? {
            TakenIn::MissedCall { call_id } => Some(call_id),
            _ => None,
        })
    }

    /// The calls ringing or in progress: for `viewer` (a user's id and the names a PBX may
    /// call them by: login, display name, extension), those ringing at them and those they
    /// answered; every one without a viewer. Calls older than four hours without an end
    /// are taken as lost events, not live calls.
    pub async fn live(&self, viewer: Option<(i64, &[&str])>) -> StoreResult<Vec<LiveCall>> {
        let since = crate::clock::now() - chrono::Duration::hours(4);
        let mut out = Vec::new();
        for record in self.store.live_calls(since).await? {
            if let Some((id, names)) = viewer {
                if !record
                    .call
                    .shown_to(names, record.answered_user_id == Some(id))
                {
                    continue;
                }
            }
            out.push(self.with_history(record).await?);
        }
        Ok(out)
    }

    /// A call with its caller's earlier cases, open callback entries and last recording.
    pub async fn with_history(&self, record: CallRecord) -> StoreResult<LiveCall> {
        let (earlier, entries, last_recording) = match &record.call.phone {
            Some(phone) => {
                let earlier = self
                    .store
                    .cases_of_person(Some(phone), None, None, 5)
                    .await?;
                let (entries, last) = self.store.caller_history(phone).await?;
                (earlier, entries, last)
            }
            None => (Vec::new(), Vec::new(), None),
        };
        Ok(LiveCall {
            call: record,
            earlier,
            entries,
            last_recording,
        })
    }

    pub fn calendar(&self) -> &CalendarHandle {
        &self.calendar
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}
