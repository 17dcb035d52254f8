//! The tamper-evident audit trail: every event stores the hash of the one before it, and
//! its own hash over its content and that link. Editing an event changes its hash; deleting
//! or inserting one breaks the link of the next; cutting events off the end leaves the chain
//! head pointing past the last row. `verify` walks a chain and names the first break.

use chrono::{DateTime, SubsecRound, Utc};
use sha2::{Digest, Sha256};

/// Who wrote an event or holds a claim, as stored: the name shown, and the id behind it
/// (`user:<id>` for a signed-in staff member, `token:<id>` for an API token; None for the
/// system's own work, `system:retention` and the like).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct By<'a> {
    pub name: &'a str,
    pub id: Option<&'a str>,
}

impl<'a> From<&'a str> for By<'a> {
    /// A system actor: a name and no id.
    fn from(name: &'a str) -> By<'a> {
        By { name, id: None }
    }
}

/// What is hashed of an event (case events and audit events alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEvent {
    pub id: i64,
    /// The case id, or the audit event's subject.
    pub subject: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub before: String,
    pub after: String,
    pub note: Option<String>,
    /// The id behind the actor; None for system actors and events written before ids were.
    pub actor_id: Option<String>,
    /// As stored; None for events written before the chain existed.
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

/// The hash of an event's content linked to the previous event's hash. The actor's id is
/// folded in only when there is one, so events written before ids were hash as they did. It
/// goes first, tagged and with its length: the content without an id begins with `prev` (hex,
/// or the separator for the first event), never with the tag, so no event with an id hashes
/// like one without (moving the id into a note, say).
#[allow(clippy::too_many_arguments)]
pub fn event_hash(
    prev: &str,
    subject: &str,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    before: &str,
    after: &str,
    note: Option<&str>,
    actor_id: Option<&str>,
) -> String {
    let mut h = Sha256::new();
    if let Some(id) = actor_id {
        h.update([2]);
        h.update((id.len() as u64).to_be_bytes());
        h.update(id.as_bytes());
    }
    let at = at
        .trunc_subsecs(6)
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    for part in [prev, subject, &at, actor, action, before, after] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    match note {
        Some(n) => {
            h.update([1]);
            h.update(n.as_bytes());
        }
        None => h.update([0]),
    }
    hex::encode(h.finalize())
}

/// Where a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The event's content no longer matches its hash: it was edited.
    Edited { id: i64 },
    /// The event does not follow the one before it: something was deleted or inserted
    /// before it.
    Link { id: i64 },
    /// The chain's recorded head is not the last event: events were cut off the end.
    Truncated { after_id: i64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Edited { id } => write!(f, "event {id} was edited after it was written"),
            Break::Link { id } => write!(
                f,
                "event {id} does not follow the event before it: an event was deleted or inserted before {id}"
            ),
            Break::Truncated { after_id } => {
                write!(f, "events after {after_id} were deleted (the chain head points past them)")
            }
        }
    }
}

/// Walks events in id order. `prev` is the hash the next chained event must link to
/// (start with ""); legacy events without a hash are counted and skipped.
#[derive(Debug, Default)]
pub struct Verifier {
    prev: String,
    last_id: i64,
    pub checked: u64,
    pub legacy: u64,
}

impl Verifier {
    pub fn check(&mut self, e: &ChainedEvent) -> Result<(), Break> {
        let (Some(prev), Some(hash)) = (&e.prev_hash, &e.hash) else {
            self.legacy += 1;
            return Ok(());
        };
        if *prev != self.prev {
            return Err(Break::Link { id: e.id });
        }
        let expected = event_hash(
            prev,
            &e.subject,
            e.at,
            &e.actor,
            &e.action,
            &e.before,
            &e.after,
            e.note.as_deref(),
            e.actor_id.as_deref(),
        );
        if expected != *hash {
            return Err(Break::Edited { id: e.id });
        }
        self.prev = hash.clone();
        self.last_id = e.id;
        self.checked += 1;
        Ok(())
    }

    /// After the last event: the recorded head must be the last hash seen.
    pub fn finish(&self, head_hash: &str) -> Result<(), Break> {
        match head_hash == self.prev {
            true => Ok(()),
            false => Err(Break::Truncated {
                after_id: self.last_id,
            }),
        }
    }
}

/// The kinds of audited event a reader filters the trail by, and the actions of each.
pub const TRAIL_KINDS: [(&str, &str, &str, &[&str]); 7] = [
    ("sign_in", "登录", "Sign-ins", &["sign_in"]),
    ("play", "播放录音", "Recordings played", &["play_recording"]),
    (
        "export",
        "导出",
        "Exports",
        &["export_callbacks", "export_statistics", "export_audit"],
    ),
    (
        "print",
        "打印",
        "Prints",
        &["print_referral", "print_receipt", "print_refusal"],
    ),
    (
        "roster",
        "值班安排",
        "The roster",
        &["set_duty", "import_roster"],
    ),
    (
        "accounts",
        "账号与令牌",
        "Accounts and tokens",
        &[
            "create_token",
            "revoke_token",
            "create_user",
            "update_user",
            "reset_password",
            "disable_user",
            "enable_user",
            "unlock_user",
            "choose_password",
        ],
    ),
    (
        "other",
        "其他",
        "Other",
        &["generate_callbacks", "retention", "read_audit"],
    ),
];

/// The actions of a trail kind (`sign_in`, `play`, ...); None for an unknown kind.
pub fn trail_actions(kind: &str) -> Option<&'static [&'static str]> {
    TRAIL_KINDS
        .iter()
        .find(|(code, ..)| *code == kind)
        .map(|(.., actions)| *actions)
}

/// How the trail labels an action, in Chinese.
pub fn trail_label_zh(action: &str) -> &str {
    match action {
        "sign_in" => "登录",
        "play_recording" => "播放录音",
        "export_callbacks" => "导出回访清单",
        "export_statistics" => "导出统计",
        "export_audit" => "导出审计记录",
        "print_referral" => "打印转办单",
        "print_receipt" => "打印回执",
        "print_refusal" => "打印否定备案告知书",
        "set_duty" => "排班",
        "import_roster" => "导入值班表",
        "create_token" => "签发令牌",
        "revoke_token" => "吊销令牌",
        "create_user" => "新增账号",
        "update_user" => "修改账号",
        "reset_password" => "重置密码（临时密码）",
        "disable_user" => "停用账号",
        "enable_user" => "启用账号",
        "unlock_user" => "解除登录限制",
        "choose_password" => "设置本人密码",
        "generate_callbacks" => "生成回访清单",
        "retention" => "到期清理",
        "read_audit" => "查阅审计记录",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<ChainedEvent> {
        let mut prev = String::new();
        (1..=n)
            .map(|id| {
                let at: DateTime<Utc> = "2026-11-28T01:00:00Z".parse().unwrap();
                let hash = event_hash(&prev, "7", at, "王芳", "accept", "{}", "{}", None, None);
                let e = ChainedEvent {
                    id,
                    subject: "7".into(),
                    at,
                    actor: "王芳".into(),
                    action: "accept".into(),
                    before: "{}".into(),
                    after: "{}".into(),
                    note: None,
                    actor_id: None,
                    prev_hash: Some(prev.clone()),
                    hash: Some(hash.clone()),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn verify(events: &[ChainedEvent], head: &str) -> Result<u64, Break> {
        let mut v = Verifier::default();
        for e in events {
            v.check(e)?;
        }
        v.finish(head)?;
        Ok(v.checked)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        let head = c.last().unwrap().hash.clone().unwrap();
        assert_eq!(verify(&c, &head), Ok(5));
    }

    #[test]
    fn an_edit_a_deletion_and_a_cut_are_each_found() {
        let c = chain(5);
        let head = c.last().unwrap().hash.clone().unwrap();
        let mut edited = c.clone();
        edited[2].actor = "别人".into();
        assert_eq!(verify(&edited, &head), Err(Break::Edited { id: 3 }));
        let mut deleted = c.clone();
        deleted.remove(1);
        assert_eq!(verify(&deleted, &head), Err(Break::Link { id: 3 }));
        assert_eq!(
            verify(&c[..4], &head),
            Err(Break::Truncated { after_id: 4 })
        );
    }

    #[test]
    fn an_event_without_an_actor_id_hashes_as_before_ids_were_stored() {
        // Computed by the hash as it was before actor ids: chains written then still verify.
        let at: DateTime<Utc> = "2026-11-28T01:00:00Z".parse().unwrap();
        let mut old = Sha256::new();
        for part in [
            "",
            "7",
            "2026-11-28T01:00:00.000000Z",
            "王芳",
            "accept",
            "{}",
            "{}",
        ] {
            old.update(part.as_bytes());
            old.update([0x1f]);
        }
        old.update([1]);
        old.update("已联系".as_bytes());
        let old = hex::encode(old.finalize());
        let none = event_hash(
            "",
            "7",
            at,
            "王芳",
            "accept",
            "{}",
            "{}",
            Some("已联系"),
            None,
        );
        assert_eq!(none, old);
        let with_id = event_hash(
            "",
            "7",
            at,
            "王芳",
            "accept",
            "{}",
            "{}",
            Some("已联系"),
            Some("user:3"),
        );
        assert_ne!(with_id, old);
    }

    #[test]
    fn an_edited_actor_id_breaks_the_chain() {
        let at: DateTime<Utc> = "2026-11-28T01:00:00Z".parse().unwrap();
        let mut prev = String::new();
        let mut events = Vec::new();
        for (id, actor_id) in [(1, Some("token:4")), (2, None), (3, Some("user:9"))] {
            let hash = event_hash(&prev, "7", at, "王芳", "accept", "{}", "{}", None, actor_id);
            events.push(ChainedEvent {
                id,
                subject: "7".into(),
                at,
                actor: "王芳".into(),
                action: "accept".into(),
                before: "{}".into(),
                after: "{}".into(),
                note: None,
                actor_id: actor_id.map(Into::into),
                prev_hash: Some(prev.clone()),
                hash: Some(hash.clone()),
            });
            prev = hash;
        }
        assert_eq!(verify(&events, &prev), Ok(3));
        for (i, forged) in [
            (0, Some("user:1")),
            (0, None),
            (1, Some("token:4")),
            (2, None),
        ] {
            let mut edited = events.clone();
            edited[i].actor_id = forged.map(Into::into);
            assert_eq!(
                verify(&edited, &prev),
                Err(Break::Edited { id: edited[i].id }),
                "{i} {forged:?}"
            );
        }
        // Nor can the id be moved into the note: the event without one hashes differently.
        let mut moved = events.clone();
        moved[0].actor_id = None;
        moved[0].note = Some("\u{2}token:4".into());
        assert_eq!(verify(&moved, &prev), Err(Break::Edited { id: 1 }));
    }
}
