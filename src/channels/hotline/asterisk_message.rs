//! The `msgNNNN.txt` metadata file Asterisk's `app_voicemail` writes beside each message.
//!
//! INI-like: `;` comments, one `[message]` section, `key=value` lines (spaces around `=`
//! tolerated). `origtime` (Unix seconds) is the authority for when the call came;
//! `origdate` is UTC text for display and may disagree. `msg_id` is the stable identity
//! (message numbers are renumbered by Asterisk). Caller names may be GBK, not UTF-8.

use chrono::{DateTime, Utc};

/// The caller as the PBX saw them. `Debug` is masked (personal data).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CallerId {
    pub name: Option<String>,
    /// Digits (with an optional leading `+`) as sent; not yet normalized.
    pub number: Option<String>,
}

impl std::fmt::Debug for CallerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let number = self
            .number
            .as_deref()
            .map(|n| crate::domain::phone::mask_middle(n, 3, 2));
        f.debug_struct("CallerId")
            .field(
                "name",
                &self.name.as_deref().map(crate::domain::phone::mask_name),
            )
            .field("number", &number)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub msg_id: Option<String>,
    pub received_at: DateTime<Utc>,
    pub caller: CallerId,
    pub duration_secs: Option<u32>,
    pub urgent_flag: bool,
    pub origmailbox: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    #[error("the metadata file is empty")]
    Empty,
    #[error("no [message] section")]
    NoMessageSection,
    #[error("no origtime key: the time of the call is unknown")]
    NoOrigtime,
    #[error("origtime `{0}` is not a Unix time in seconds")]
    BadOrigtime(String),
}

/// Decodes the file's bytes: UTF-8 when valid, otherwise GB18030 (a superset of GBK and
/// GB2312), which is what a Chinese PBX writes for caller names.
pub fn decode_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::GB18030.decode(bytes).0.into_owned(),
    }
}

pub fn parse_message(bytes: &[u8]) -> Result<MessageMeta, MetaError> {
    let text = decode_text(bytes);
    if text.trim().is_empty() {
        return Err(MetaError::Empty);
    }
    let mut in_message = false;
    let mut saw_section = false;
    let mut get = std::collections::HashMap::new();
    for line in text.lines() {
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            in_message = line.eq_ignore_ascii_case("[message]");
            saw_section |= in_message;
            continue;
        }
        if !in_message {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            get.entry(key.trim().to_ascii_lowercase())
                .or_insert_with(|| value.trim().to_owned());
        }
    }
    if !saw_section {
        return Err(MetaError::NoMessageSection);
    }
    let origtime = get
        .get("origtime")
        .filter(|v| !v.is_empty())
        .ok_or(MetaError::NoOrigtime)?;
    let received_at = origtime
        .parse::<i64>()
        .ok()
        .filter(|s| *s > 0)
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(|| MetaError::BadOrigtime(origtime.clone()))?;
    let non_empty = |k: &str| {
        get.get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    Ok(MessageMeta {
        msg_id: non_empty("msg_id"),
        received_at,
        caller: parse_callerid(get.get("callerid").map(String::as_str).unwrap_or("")),
        duration_secs: non_empty("duration").and_then(|d| d.parse().ok()),
        urgent_flag: non_empty("flag").is_some_and(|f| f.eq_ignore_ascii_case("urgent")),
        origmailbox: non_empty("origmailbox"),
    })
}

fn looks_like_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    !digits.is_empty()
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | ' '))
}

fn clean_name(raw: &str) -> Option<String> {
    let name = raw
        .trim()
        .trim_matches('"')
        .replace("\\\"", "\"")
        .replace("\\\\", "\\");
    let name = name.trim();
    (!name.is_empty() && !name.eq_ignore_ascii_case("unknown")).then(|| name.to_owned())
}

/// `"Name" <number>`, `Name <number>`, `<number>`, a bare number, a bare name, or `Unknown`.
pub fn parse_callerid(raw: &str) -> CallerId {
    let raw = raw.trim();
    if raw.is_empty() || raw.eq_ignore_ascii_case("unknown") {
        return CallerId::default();
    }
    if let (Some(open), true) = (raw.rfind('<'), raw.ends_with('>')) {
        let number = raw[open + 1..raw.len() - 1].trim();
        let number = (!number.is_empty() && !number.eq_ignore_ascii_case("unknown"))
            .then(|| number.to_owned());
        return CallerId {
            name: clean_name(&raw[..open]),
            number,
        };
    }
    if looks_like_number(raw) {
        return CallerId {
            name: None,
            number: Some(raw.to_owned()),
        };
    }
    CallerId {
        name: clean_name(raw),
        number: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAZO: &str =
        ";\n; Message Information file\n;\n[message]\norigmailbox=1001\ncontext=user\n\
        macrocontext=\nexten=voicemail\nrdnis=1001\npriority=7\ncallerchan=PJSIP/xivo64-00000000\n\
        callerid=\"Etienne\" <101>\norigdate=Thu Nov  3 07:11:59 PM UTC 2016\norigtime=1478200319\n\
        category=\nmsg_id=1478200319-00000000\nflag=\nduration=12\n";

    #[test]
    fn the_wazo_capture_with_macrocontext_parses() {
        let m = parse_message(WAZO.as_bytes()).unwrap();
        assert_eq!(m.msg_id.as_deref(), Some("1478200319-00000000"));
        assert_eq!(
            m.caller,
            CallerId {
                name: Some("Etienne".into()),
                number: Some("101".into())
            }
        );
        assert_eq!(m.received_at.timestamp(), 1478200319);
        assert_eq!(m.duration_secs, Some(12));
        assert!(!m.urgent_flag);
    }

    #[test]
    fn the_current_layout_without_macrocontext_and_origdate_disagreeing_parses_by_origtime() {
        let text =
            "[message]\norigmailbox=3105883\ncontext=default\nexten=3105883\nrdnis=unknown\n\
            callerid=13912345678\norigdate=Thu Mar 22 23:13:03 PM UTC 2012\norigtime=1770982200\n\
            msg_id=1770982200-0000002a\nflag=Urgent\nduration=31\n";
        let m = parse_message(text.as_bytes()).unwrap();
        assert_eq!(m.received_at.to_rfc3339(), "2026-02-13T11:30:00+00:00");
        assert_eq!(m.caller.number.as_deref(), Some("13912345678"));
        assert!(m.urgent_flag);
    }

    #[test]
    fn callerid_shapes() {
        let c = |s: &str| parse_callerid(s);
        assert_eq!(
            c("\"Phil\" <2000>"),
            CallerId {
                name: Some("Phil".into()),
                number: Some("2000".into())
            }
        );
        assert_eq!(
            c("\"Maria\" <+17675550123>").number.as_deref(),
            Some("+17675550123")
        );
        assert_eq!(c("张三 <13800138000>").name.as_deref(), Some("张三"));
        assert_eq!(
            c("13912345678"),
            CallerId {
                name: None,
                number: Some("13912345678".into())
            }
        );
        assert_eq!(
            c("李四"),
            CallerId {
                name: Some("李四".into()),
                number: None
            }
        );
        assert_eq!(c("Unknown"), CallerId::default());
        assert_eq!(c(""), CallerId::default());
        assert_eq!(c("\"Unknown\" <Unknown>"), CallerId::default());
        assert_eq!(c("\"O\\\"Neil\" <555>").name.as_deref(), Some("O\"Neil"));
    }

    #[test]
    fn a_gbk_caller_name_is_decoded_not_rejected() {
        let (gbk, _, _) = encoding_rs::GBK
            .encode("[message]\norigtime=1778249700\ncallerid=\"王老师\" <0415-2123456>\n");
        assert!(std::str::from_utf8(&gbk).is_err());
        let m = parse_message(&gbk).unwrap();
        assert_eq!(m.caller.name.as_deref(), Some("王老师"));
    }

    #[test]
    fn garbage_and_missing_keys_are_errors_with_reasons() {
        assert_eq!(parse_message(b""), Err(MetaError::Empty));
        assert_eq!(
            parse_message(b"\x00\x01\x02 garbage"),
            Err(MetaError::NoMessageSection)
        );
        assert_eq!(
            parse_message(b"[message]\ncallerid=1\n"),
            Err(MetaError::NoOrigtime)
        );
        assert_eq!(
            parse_message(b"[message]\norigtime=yesterday\n"),
            Err(MetaError::BadOrigtime("yesterday".into()))
        );
        assert!(parse_message(b"[other]\norigtime=1\n").is_err());
    }

    #[test]
    fn spaces_around_equals_and_a_missing_msg_id_are_accepted() {
        let m = parse_message(b"[message]\norigtime = 1767405600\ncallerid = 3105883\n").unwrap();
        assert_eq!(m.msg_id, None);
        assert_eq!(m.caller.number.as_deref(), Some("3105883"));
    }
}
