//! Rows as both backends return them, and their conversion into domain types.

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::domain::{Case, CaseNumber, Citizen, Event, PhoneNumber};

use super::TokenRecord;

/// The column list every case query selects, in this order.
pub const CASE_COLUMNS: &str = "id, number, channel, received_at, citizen_name, phone_e164, \
    phone_original, id_card_masked, id_card_digest, matter, description, cause, tier, status, \
    owner, deadline, deadline_provisional, off_hours, created_at, updated_at, version";

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
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i64,
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
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
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
            action: r.action,
            before: serde_json::from_str(&r.before_state).context("event before_state")?,
            after: serde_json::from_str(&r.after_state).context("event after_state")?,
            note: r.note,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct TokenRow {
    id: i64,
    name: String,
    role: String,
    created_at: DateTime<Utc>,
}

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
        })
    }
}
