//! The Asterisk Manager Interface listener: logs in over TCP, follows the channel events of
//! calls to the two hotline numbers, and turns them into the CTI push API's three events
//! (`newCall`, `answer`, `hangup`), applied like pushed ones (as calls `ami:<Linkedid>`).
//! It reconnects with backoff and logs in again; several instances may each listen, since
//! every event applies once.
//!
//! The protocol: a banner line, then packets of `Key: Value` lines ending in CRLF, each
//! packet ended by a blank line. One call spans several channels that share a `Linkedid`:
//! the caller's channel (its `Uniqueid` is the `Linkedid`) and the agents' it dials.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::cti::{line_of, CallDesk, RawEvent};
use crate::config::AmiSettings;
use crate::domain::Channel;
use crate::work::Stop;

/// One packet: its keys as sent (the first of a repeated key wins).
pub type Packet = HashMap<String, String>;

/// A call being followed: whether someone (or the voicemail) took it, and since when it is
/// followed (a call whose hangup was never seen is forgotten after four hours).
#[derive(Debug)]
struct Followed {
    answered: bool,
    since: std::time::Instant,
}

impl Default for Followed {
    fn default() -> Self {
        Followed {
            answered: false,
            since: std::time::Instant::now(),
        }
    }
}

/// How long a call is followed without its hangup.
const FORGET_AFTER: Duration = Duration::from_secs(4 * 3600);

/// Turns AMI events into call events. Pure: fed packets, returns events.
pub struct Tracker {
    lines: Vec<(String, Channel)>,
    calls: HashMap<String, Followed>,
}

/// The extension in a channel name: `PJSIP/801-00000012` → `801`.
fn extension_of(channel: &str) -> String {
    let after = channel.split_once('/').map_or(channel, |(_, rest)| rest);
    let ext = after.rsplit_once('-').map_or(after, |(ext, _)| ext);
    ext.split('@').next().unwrap_or(ext).to_owned()
}

/// The CTI cause of a caller's hangup before anyone answered, from its Q.850 cause code.
fn unanswered_cause(code: &str) -> &'static str {
    match code.trim() {
        "17" => "busy",
        "18" | "19" => "noAnswer",
        "1" | "3" | "28" => "notFound",
        "34" | "38" | "41" | "42" | "44" => "congestion",
        // 16 (normal clearing), 0, 21, 127: the caller hung up while it rang.
        _ => "cancel",
    }
}

impl Tracker {
    pub fn new(lines: Vec<(String, Channel)>) -> Self {
        Self {
            lines,
            calls: HashMap::new(),
        }
    }

    /// The calls still followed (for tests).
    pub fn following(&self) -> usize {
        self.calls.len()
    }

    pub fn on_packet(&mut self, p: &Packet) -> Vec<RawEvent> {
        let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
        let linked = get("Linkedid");
        let unique = get("Uniqueid");
        let event = |kind: &str, linked: &str| RawEvent {
            event: kind.to_owned(),
            call_id: linked.to_owned(),
            direction: "in".into(),
            ..RawEvent::default()
        };
        match get("Event") {
            "Newchannel" if !linked.is_empty() && unique == linked => {
                let exten = get("Exten");
                if line_of(&self.lines, exten, "").is_none() {
                    return Vec::new();
                }
                if self.calls.len() > 1000 {
                    self.calls.retain(|_, c| c.since.elapsed() < FORGET_AFTER);
                }
                self.calls.insert(linked.to_owned(), Followed::default());
                vec![RawEvent {
                    from: get("CallerIDNum").to_owned(),
                    to: exten.to_owned(),
                    ..event("newCall", linked)
                }]
            }
            "DialEnd" if get("DialStatus") == "ANSWER" => self.answered(
                linked,
                extension_of(get("DestChannel")),
                get("DestCallerIDNum"),
            ),
            "BridgeEnter" if !linked.is_empty() && unique != linked => {
                self.answered(linked, extension_of(get("Channel")), "")
            }
            "Newexten" if get("Application").eq_ignore_ascii_case("VoiceMail") => {
                self.answered(linked, "voicemail".into(), "")
            }
            "QueueCallerAbandon" => self.hung_up(linked, Some("cancel")),
            "Hangup" if !linked.is_empty() && unique == linked => {
                let answered = self.calls.get(linked).is_some_and(|c| c.answered);
                let cause = if answered {
                    "normalClearing"
                } else {
                    unanswered_cause(get("Cause"))
                };
                self.hung_up(linked, Some(cause))
            }
            _ => Vec::new(),
        }
    }

    fn answered(&mut self, linked: &str, user: String, number: &str) -> Vec<RawEvent> {
        let Some(call) = self.calls.get_mut(linked) else {
            return Vec::new();
        };
        if call.answered {
            return Vec::new();
        }
        call.answered = true;
        vec![RawEvent {
            event: "answer".into(),
            call_id: linked.to_owned(),
            direction: "in".into(),
            user: vec![user],
            answering_number: number.to_owned(),
            ..RawEvent::default()
        }]
    }

    fn hung_up(&mut self, linked: &str, cause: Option<&str>) -> Vec<RawEvent> {
        if self.calls.remove(linked).is_none() {
            return Vec::new();
        }
        vec![RawEvent {
            event: "hangup".into(),
            call_id: linked.to_owned(),
            direction: "in".into(),
            cause: cause.unwrap_or("normalClearing").to_owned(),
            ..RawEvent::default()
        }]
    }
}

/// Reads one packet; None at the end of the stream.
pub async fn read_packet<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
) -> std::io::Result<Option<Packet>> {
    let mut packet = Packet::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if packet.is_empty() {
                continue;
            }
            return Ok(Some(packet));
        }
        if packet.len() > 200 || text.len() > 8192 {
            return Err(std::io::Error::other("an AMI packet too large"));
        }
        if let Some((k, v)) = text.split_once(':') {
            packet
                .entry(k.trim().to_owned())
                .or_insert_with(|| v.trim().to_owned());
        }
    }
}

/// Follows the AMI until `stop`, reconnecting with backoff (1 s, doubling, up to
/// `reconnect_max_seconds`).
pub async fn listen(
    settings: AmiSettings,
    desk: CallDesk,
    lines: Vec<(String, Channel)>,
    stop: Stop,
) {
    let mut wait = Duration::from_secs(1);
    let most = Duration::from_secs(settings.reconnect_max_seconds.max(1));
    // Kept across reconnections: a call that began before a drop still ends.
    let mut tracker = Tracker::new(lines);
    loop {
        let outcome = tokio::select! {
            _ = stop.cancelled() => return,
            r = session(&settings, &desk, &mut tracker, &mut wait) => r,
        };
        match outcome {
            Ok(()) => {
                tracing::warn!(host = %settings.host, "the AMI connection closed; reconnecting")
            }
            Err(e) => {
                tracing::warn!(host = %settings.host, error = format!("{e:#}"), retry_in = ?wait, "the AMI connection failed; reconnecting")
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(most);
    }
}

/// One connection: log in, then follow events (and ping every 20 s) until it ends.
async fn session(
    settings: &AmiSettings,
    desk: &CallDesk,
    tracker: &mut Tracker,
    wait: &mut Duration,
) -> anyhow::Result<()> {
    let address = format!("{}:{}", settings.host.trim(), settings.port);
    let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&address))
        .await
        .context("connecting timed out")?
        .with_context(|| format!("connecting to {address}"))?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut banner = String::new();
    tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut banner))
        .await
        .context("no banner")??;
    write
        .write_all(
            format!(
                "Action: Login\r\nActionID: youmen-login\r\nUsername: {}\r\nSecret: {}\r\nEvents: call\r\n\r\n",
                settings.username, settings.secret
            )
            .as_bytes(),
        )
        .await?;
    loop {
        let packet = tokio::time::timeout(Duration::from_secs(10), read_packet(&mut reader))
            .await
            .context("no answer to the login")??
            .context("the connection closed during the login")?;
        if packet.get("ActionID").map(String::as_str) == Some("youmen-login")
            || packet.contains_key("Response")
        {
            match packet.get("Response").map(String::as_str) {
                Some("Success") => break,
                _ => anyhow::bail!(
                    "the login was refused: {}",
                    packet
                        .get("Message")
                        .map(String::as_str)
                        .unwrap_or("no reason given")
                ),
            }
        }
    }
    tracing::info!(host = %settings.host, "following the AMI");
    *wait = Duration::from_secs(1);
    let mut ping = tokio::time::interval(Duration::from_secs(20));
    ping.tick().await;
    loop {
        tokio::select! {
            _ = ping.tick() => {
                write.write_all(b"Action: Ping\r\nActionID: youmen-ping\r\n\r\n").await?;
            }
            packet = read_packet(&mut reader) => {
                let Some(packet) = packet? else { return Ok(()) };
                for raw in tracker.on_packet(&packet) {
                    let now = crate::clock::now();
                    match desk.read(&raw, now) {
                        Ok((call_id, event)) => {
                            // One event the store could not take is logged, not the end of
                            // the connection (and of what it knows of the calls in progress).
                            if let Err(e) = desk.record("ami", &call_id, event).await {
                                tracing::error!(error = format!("{e:#}"), "an AMI call event was not recorded");
                            }
                        }
                        Err(e) => tracing::warn!(field = e.field, "an AMI call event could not be read"),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(lines: &[(&str, &str)]) -> Packet {
        lines
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn tracker() -> Tracker {
        Tracker::new(vec![
            ("3105883".into(), Channel::ComplaintHotline),
            ("6912333".into(), Channel::BusinessHotline),
        ])
    }

    #[test]
    fn a_queued_call_answered_by_an_agent_makes_three_events() {
        let mut t = tracker();
        let caller = [("Uniqueid", "1700.1"), ("Linkedid", "1700.1")];
        let mut events = t.on_packet(&packet(&[
            ("Event", "Newchannel"),
            ("Channel", "PJSIP/trunk-00000001"),
            ("CallerIDNum", "13800138000"),
            ("Exten", "3105883"),
            caller[0],
            caller[1],
        ]));
        events.extend(t.on_packet(&packet(&[
            ("Event", "DialEnd"),
            ("DialStatus", "ANSWER"),
            ("DestChannel", "PJSIP/801-00000002"),
            ("DestCallerIDNum", "801"),
            ("Linkedid", "1700.1"),
        ])));
        events.extend(t.on_packet(&packet(&[
            ("Event", "BridgeEnter"),
            ("Channel", "PJSIP/801-00000002"),
            ("Uniqueid", "1700.2"),
            ("Linkedid", "1700.1"),
        ])));
        events.extend(t.on_packet(&packet(&[
            ("Event", "Hangup"),
            ("Cause", "16"),
            caller[0],
            caller[1],
        ])));
        let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(kinds, ["newCall", "answer", "hangup"]);
        assert_eq!(events[0].from, "13800138000");
        assert_eq!(events[1].user, ["801"]);
        assert_eq!(events[2].cause, "normalClearing");
        assert_eq!(t.following(), 0);
    }

    #[test]
    fn a_caller_who_gives_up_is_a_cancel_and_other_numbers_are_not_followed() {
        let mut t = tracker();
        assert!(t
            .on_packet(&packet(&[
                ("Event", "Newchannel"),
                ("Exten", "8000"),
                ("Uniqueid", "9.1"),
                ("Linkedid", "9.1"),
            ]))
            .is_empty());
        t.on_packet(&packet(&[
            ("Event", "Newchannel"),
            ("Exten", "6912333"),
            ("CallerIDNum", "anonymous"),
            ("Uniqueid", "9.2"),
            ("Linkedid", "9.2"),
        ]));
        let gone = t.on_packet(&packet(&[
            ("Event", "QueueCallerAbandon"),
            ("Uniqueid", "9.2"),
            ("Linkedid", "9.2"),
        ]));
        assert_eq!(gone[0].cause, "cancel");
        // The caller channel's own hangup comes after: the call was already ended.
        assert!(t
            .on_packet(&packet(&[
                ("Event", "Hangup"),
                ("Cause", "16"),
                ("Uniqueid", "9.2"),
                ("Linkedid", "9.2"),
            ]))
            .is_empty());
    }

    #[test]
    fn extensions_are_read_from_channel_names() {
        assert_eq!(extension_of("PJSIP/801-00000012"), "801");
        assert_eq!(extension_of("SIP/wang-0000a"), "wang");
        assert_eq!(extension_of("Local/802@from-queue-0001;1"), "802");
        assert_eq!(unanswered_cause("17"), "busy");
        assert_eq!(unanswered_cause("19"), "noAnswer");
    }
}
