//! Rows as both backends return them, and their conversion into domain types.

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::domain::{Callback, Case, CaseNumber, Citizen, Event, PhoneNumber};

use super::{QuarantineItem, RecordingRecord, TokenRecord};

/// The columns a new case is inserted with, in this order (one registration or a batch).
pub const CASE_INSERT_COLUMNS: &str = "number, channel, received_at, citizen_name, phone_e164, \
    phone_original, id_card_masked, id_card_digest, matter, description, cause, tier, status, \
    owner, deadline, deadline_provisional, off_hours, consultation, urgent, callback_due_at, \
    callback_kind, created_at, updated_at, version, id_card_keyed, failed_counter, \
    failed_department, failed_clerk";

/// What the register event records of a new case (its `after` state), for both paths.
pub fn registered_state(case: &Case) -> serde_json::Value {
    serde_json::json!({
        "status": crate::domain::Status::New, "channel": case.channel, "tier": case.tier,
        "deadline": case.deadline, "off_hours": case.off_hours, "urgent": case.urgent,
    })
}

/// The column list every case query selects, in this order.
pub const CASE_COLUMNS: &str = "id, number, channel, received_at, citizen_name, phone_e164, \
    phone_original, id_card_masked, id_card_digest, matter, description, cause, tier, status, \
    owner, deadline, deadline_provisional, off_hours, consultation, urgent, callback_due_at, \
    callback_kind, created_at, updated_at, version, accountability, failed_counter, \
    failed_department, failed_clerk";

#[derive(sqlx::FromRow)]
pub struct CaseRow {
    id: i64,
    number: String,
    channel: String,
    received_at: DateTime<Utc>,
    citizen_name: Option<String>,
    phone_e164: Option<String>,
    phone_original: Option<String>,
    id_card_masked: Option<String>,
    id_card_digest: Option<String>,
    matter: String,
    description: String,
    cause: String,
    tier: String,
    status: String,
    owner: Option<String>,
    deadline: DateTime<Utc>,
    deadline_provisional: bool,
    off_hours: bool,
    consultation: bool,
    urgent: bool,
    callback_due_at: Option<DateTime<Utc>>,
    callback_kind: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i64,
    accountability: bool,
    failed_counter: Option<String>,
    failed_department: Option<String>,
    failed_clerk: Option<String>,
}

impl TryFrom<CaseRow> for Case {
    type Error = anyhow::Error;

    fn try_from(r: CaseRow) -> anyhow::Result<Case> {
        let bad = |what: &str| format!("case {} has an unreadable {what}", r.id);
        Ok(Case {
            id: r.id,
            number: r
                .number
                .parse::<CaseNumber>()
                .with_context(|| bad("number"))?,
            channel: r.channel.parse().with_context(|| bad("channel"))?,
            received_at: r.received_at,
            citizen: Citizen {
                name: r.citizen_name,
                phone: r.phone_e164.map(|e164| {
                    let original = r.phone_original.unwrap_or_else(|| e164.clone());
                    PhoneNumber::from_stored(e164, original)
                }),
                id_card_masked: r.id_card_masked,
                id_card_digest: r.id_card_digest,
            },
            matter: r.matter,
            description: r.description,
            cause: r.cause.parse().with_context(|| bad("cause"))?,
            tier: r.tier.parse().with_context(|| bad("tier"))?,
            status: r.status.parse().with_context(|| bad("status"))?,
            owner: r.owner,
            deadline: r.deadline,
            deadline_provisional: r.deadline_provisional,
            off_hours: r.off_hours,
            consultation: r.consultation,
            urgent: r.urgent,
            callback: match (r.callback_due_at, r.callback_kind) {
                (Some(due_at), Some(kind)) => Some(Callback {
                    due_at,
                    kind: kind.parse().with_context(|| bad("callback kind"))?,
                }),
                _ => None,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
            accountability_recorded: r.accountability,
            failed_at: crate::domain::directory::FailedAt {
                counter: r.failed_counter,
                department: r.failed_department,
                clerk: r.failed_clerk,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct EventRow {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    before_state: String,
    after_state: String,
    note: Option<String>,
}

impl TryFrom<EventRow> for Event {
    type Error = anyhow::Error;

    fn try_from(r: EventRow) -> anyhow::Result<Event> {
        Ok(Event {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action.parse().context("event action")?,
            before: serde_json::from_str(&r.before_state).context("event before_state")?,
            after: serde_json::from_str(&r.after_state).context("event after_state")?,
            note: r.note,
        })
    }
}

pub const RECORDING_COLUMNS: &str = "id, case_id, sha256, source, media_type, bytes, duration_ms, \
    sample_rate, channels, rms, peak, silent, received_at, purged_at";

#[derive(sqlx::FromRow)]
pub struct RecordingRow {
    id: i64,
    case_id: i64,
    sha256: String,
    source: String,
    media_type: String,
    bytes: i64,
    duration_ms: i64,
    sample_rate: i64,
    channels: i64,
    rms: f64,
    peak: f64,
    silent: bool,
    received_at: DateTime<Utc>,
    purged_at: Option<DateTime<Utc>>,
}

impl From<RecordingRow> for RecordingRecord {
    fn from(r: RecordingRow) -> Self {
        RecordingRecord {
            id: r.id,
            case_id: r.case_id,
            sha256: r.sha256,
            source: r.source,
            media_type: r.media_type,
            bytes: r.bytes,
            duration_ms: r.duration_ms,
            sample_rate: r.sample_rate,
            channels: r.channels,
            rms: r.rms,
            peak: r.peak,
            silent: r.silent,
            received_at: r.received_at,
            purged_at: r.purged_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct QuarantineRow {
    id: i64,
    identity: String,
    source: String,
    path: String,
    reason: String,
    attempts: i64,
    first_seen_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
}

impl From<QuarantineRow> for QuarantineItem {
    fn from(r: QuarantineRow) -> Self {
        QuarantineItem {
            id: r.id,
            identity: r.identity,
            source: r.source,
            path: r.path,
            reason: r.reason,
            attempts: r.attempts,
            first_seen_at: r.first_seen_at,
            last_seen_at: r.last_seen_at,
            resolved_at: r.resolved_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct TokenRow {
    id: i64,
    name: String,
    role: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// The columns a [`TokenRow`] reads.
pub const TOKEN_COLUMNS: &str = "id, name, role, created_at, expires_at, last_used_at, revoked_at";

impl TryFrom<TokenRow> for TokenRecord {
    type Error = anyhow::Error;

    fn try_from(r: TokenRow) -> anyhow::Result<TokenRecord> {
        Ok(TokenRecord {
            id: r.id,
            role: r
                .role
                .parse()
                .with_context(|| format!("token {} has an unknown role", r.id))?,
            name: r.name,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        })
    }
}
