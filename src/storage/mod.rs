//! Storage behind one trait, one module per backend: SQLite (the embedded default) and
//! PostgreSQL (several instances sharing one server). The backend is chosen from the URL.
//! Both run the same SQL (see [`shared`]) over their own schema (`migrations/<backend>/`),
//! and the same conformance tests.

pub mod group_commit;
mod postgres;
mod rows;
mod sender_limits;
mod shared;
mod sqlite;
pub mod transfer;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::{
    Case, CaseNumber, Cause, Channel, Event, NewCase, Role, Status, Tier, Transition,
};

pub use group_commit::{Batcher, GroupCommitter};
pub use postgres::PostgresStore;
pub use sqlite::{attach_search, search_file, SqliteStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is overloaded; the request may be retried.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Someone else changed the record first.
    #[error("the record was changed by someone else")]
    Conflict,
    /// A unique value already exists.
    #[error("the record already exists")]
    Duplicate,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl StoreError {
    /// The same failure for another waiter of a failed batch (errors are not `Clone`).
    pub fn replicate(&self) -> StoreError {
        match self {
            StoreError::Unavailable(_) => StoreError::Unavailable(sqlx::Error::PoolTimedOut),
            StoreError::Conflict => StoreError::Conflict,
            StoreError::Duplicate => StoreError::Duplicate,
            StoreError::Other(e) => StoreError::Other(anyhow::anyhow!("{e:#}")),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e)
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate,
            // The server is going away or not there yet (SQLSTATE class 08, connection
            // exception; 57P0x, shut down or starting): a retry later will do.
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) =>
            {
                StoreError::Unavailable(e)
            }
            _ => StoreError::Other(anyhow::Error::new(e)),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How many cases the search indexer takes from the backlog per transaction.
pub const SEARCH_INDEX_CHUNK: u32 = 250;

/// A case's text as the search indexer reads it: id, name, phone as typed, description.
pub type IndexedText = (i64, Option<String>, Option<String>, String);

/// The bigrams of these cases' texts, as (gram, case id) pairs in the index's order, worked
/// out on a blocking thread: for a chunk of 250 cases it is some 10,000 strings made and
/// sorted, milliseconds during which a request worker would serve no one.
pub async fn sorted_grams_apart(rows: Vec<IndexedText>) -> (Vec<IndexedText>, Vec<(String, i64)>) {
    tokio::task::spawn_blocking(move || {
        let grams = sorted_grams(&rows);
        (rows, grams)
    })
    .await
    .expect("working out search grams")
}

/// The bigrams of these cases' texts, as (gram, case id) pairs in the index's order.
fn sorted_grams(rows: &[IndexedText]) -> Vec<(String, i64)> {
    let mut grams: Vec<(String, i64)> = Vec::with_capacity(rows.len() * 48);
    for (id, name, phone, description) in rows {
        let text =
            crate::domain::search::indexed_text(name.as_deref(), phone.as_deref(), description);
        grams.extend(
            crate::domain::search::grams(&text)
                .into_iter()
                .map(|g| (g, *id)),
        );
    }
    grams.sort_unstable();
    grams
}

/// The most rows of one multi-row statement in a website batch: a batch of up to this many
/// messages (32 clients at once make batches of about 16) writes each table with one
/// statement, one round trip. Every length up to it is a statement shape of its own, prepared
/// once per connection, so the statement cache holds them all ([`STATEMENT_CACHE`]).
pub const BATCH_RUN: usize = 32;

/// Prepared statements a connection keeps: the website batch's shapes (up to nine statements:
/// the fold look-up, the limits' delete and count on PostgreSQL, six inserts; each in up to
/// [`BATCH_RUN`] lengths) and every other query, with room.
/// On PostgreSQL each pooled connection holds its own copies on the server: measured, the
/// eight connections' private memory grew by 25–30 MB in all (docs/BENCHMARKS.md, session 7).
pub const STATEMENT_CACHE: usize = 512;

/// Splits `items` into runs whose lengths are powers of two (largest first, at most `cap`):
/// a multi-row statement over them takes only a few shapes, so each shape is prepared once
/// and then found in the statement cache instead of being parsed again for every batch size.
pub fn pow2_runs<T>(items: &[T], cap: usize) -> Vec<&[T]> {
    let mut runs = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let mut len = cap.max(1).min(rest.len()).next_power_of_two();
        while len > rest.len() || len > cap.max(1) {
            len /= 2;
        }
        let (run, tail) = rest.split_at(len);
        runs.push(run);
        rest = tail;
    }
    runs
}

#[cfg(test)]
mod pow2_tests {
    #[test]
    fn runs_are_powers_of_two_up_to_the_cap() {
        let items: Vec<u32> = (0..100).collect();
        let lens: Vec<usize> = super::pow2_runs(&items, 32)
            .iter()
            .map(|r| r.len())
            .collect();
        assert_eq!(lens, vec![32, 32, 32, 4]);
        let lens: Vec<usize> = super::pow2_runs(&items[..15], 64)
            .iter()
            .map(|r| r.len())
            .collect();
        assert_eq!(lens, vec![8, 4, 2, 1]);
        assert!(super::pow2_runs::<u32>(&[], 8).is_empty());
        let all: Vec<u32> = super::pow2_runs(&items, 16).concat();
        assert_eq!(all, items);
    }
}

/// How the shared queue is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Earliest deadline first: what to work on next.
    #[default]
    Deadline,
    /// Newest arrival first.
    Received,
}

/// Where the previous page ended: the sort key and the id of its last case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: DateTime<Utc>,
    pub id: i64,
}

/// A filter over the shared queue. Empty lists mean "any".
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    pub statuses: Vec<Status>,
    pub channels: Vec<Channel>,
    pub causes: Vec<Cause>,
    pub tiers: Vec<Tier>,
    /// Some(true): only open cases past their deadline; Some(false): everything else.
    pub overdue: Option<bool>,
    pub received_from: Option<DateTime<Utc>>,
    pub received_to: Option<DateTime<Utc>>,
    pub text: Option<TextQuery>,
    pub owner: Option<String>,
    pub off_hours: Option<bool>,
    pub sort: Sort,
    pub after: Option<Cursor>,
    pub limit: u32,
    /// The instant "overdue" is judged at.
    pub now: Option<DateTime<Utc>>,
}

/// A search box entry, already interpreted: it may be a case number, a phone number, and
/// is always also a phrase to look for in names and descriptions.
#[derive(Debug, Clone, Default)]
pub struct TextQuery {
    pub number: Option<CaseNumber>,
    pub phone_e164: Option<String>,
    pub words: String,
}

#[derive(Debug, Clone)]
pub struct CasePage {
    pub cases: Vec<Case>,
    pub next: Option<Cursor>,
}

/// A recording to store with its probe, already saved in the audio folder by content hash.
#[derive(Debug, Clone)]
pub struct NewRecording {
    pub sha256: String,
    /// `asterisk`, `push` or `twilio`.
    pub source: &'static str,
    pub media_type: String,
    pub bytes: i64,
    pub duration_ms: i64,
    pub sample_rate: i64,
    pub channels: i64,
    pub rms: f64,
    pub peak: f64,
    pub silent: bool,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordingRecord {
    pub id: i64,
    pub case_id: i64,
    pub sha256: String,
    pub source: String,
    pub media_type: String,
    pub bytes: i64,
    pub duration_ms: i64,
    pub sample_rate: i64,
    pub channels: i64,
    pub rms: f64,
    pub peak: f64,
    pub silent: bool,
    pub received_at: DateTime<Utc>,
    /// When the audio was deleted under the retention rules (the row stays).
    pub purged_at: Option<DateTime<Utc>>,
}

/// A recording or a case the retention rules are due to purge or anonymize.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RetentionItem {
    /// The recording's id, or the case's.
    pub id: i64,
    pub case_id: i64,
    pub case_number: String,
    /// When the case was last changed (closed, or touched after closing).
    pub closed_at: DateTime<Utc>,
    /// The audio's digest (recordings only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,
}

/// One voicemail to ingest exactly once.
#[derive(Debug, Clone)]
pub struct VoicemailIngest {
    /// Stable across rescans, renumbering and instances (`asterisk:<context>/<mailbox>:<msg_id>`).
    pub identity: String,
    /// The quarantine entry this settles (the identity itself, or the spool's key).
    pub quarantine_key: String,
    pub source_path: String,
    /// The case to open, unless an open case from the same number in the same off-hours
    /// stretch takes the recording.
    pub case: NewCase,
    /// None for a call that left no recording (a missed call reported by a webhook).
    pub recording: Option<NewRecording>,
}

#[derive(Debug, Clone)]
pub enum IngestOutcome {
    Ingested {
        case: Box<Case>,
        attached: bool,
        recording_id: Option<i64>,
    },
    AlreadyIngested,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineItem {
    pub id: i64,
    pub identity: String,
    pub source: String,
    pub path: String,
    pub reason: String,
    pub attempts: i64,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A recording a callback announced, to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDownload {
    pub recording_sid: String,
    pub call_sid: Option<String>,
    pub url: String,
    pub channel: Channel,
    /// The caller as the provider sent it (`From`).
    pub caller: Option<String>,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadJob {
    pub id: i64,
    pub download: NewDownload,
    /// Including the attempt this claim is for.
    pub attempts: i64,
}

/// A website message to store with its case, unless the same message came recently.
#[derive(Debug, Clone)]
pub struct WebsiteSubmission {
    pub message: crate::domain::website::ValidMessage,
    pub tracking_digest: String,
    /// Fold into a website case with the same key registered since this instant.
    pub fold_since: DateTime<Utc>,
    /// The confirmation to mail, written to the outbox in the same transaction.
    pub confirmation: Option<NewOutboxMessage>,
    /// The sender's per-address limit, checked and counted in the same transaction.
    pub rate: Option<RateCheck>,
}

/// A per-address limit: at most `most` hits per window, for the keyed digest of an address.
#[derive(Debug, Clone)]
pub struct RateCheck {
    pub scope: String,
    pub key: String,
    pub limits: Vec<(chrono::Duration, u32)>,
}

impl RateCheck {
    /// The longest window: hits older than it count for nothing.
    pub fn longest(&self) -> chrono::Duration {
        self.limits
            .iter()
            .map(|(w, _)| *w)
            .max()
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub enum WebsiteOutcome {
    Created(Box<Case>),
    /// The same message was already received: its case, unchanged.
    Folded(Box<Case>),
    /// Over the sender's limit: nothing stored.
    Limited,
}

/// What the website channel keeps beside a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebsiteRecord {
    pub tracking_digest: String,
    pub email: Option<String>,
}

/// A notification to deliver, by topic (`website_confirmation`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboxMessage {
    pub topic: String,
    pub recipient: String,
    pub payload: serde_json::Value,
}

/// A claimed outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub id: i64,
    pub topic: String,
    pub case_id: Option<i64>,
    pub recipient: String,
    pub payload: serde_json::Value,
    /// Including the attempt this claim is for.
    pub attempts: i64,
}

/// An outbox row as administrators see it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub id: i64,
    pub topic: String,
    pub case_id: Option<i64>,
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// The outbox topic of the morning shift's list.
pub const CALLBACK_LIST_TOPIC: &str = "callback_list";

/// One generation of the callback list, at one opening.
#[derive(Debug, Clone)]
pub struct CallbackRun {
    pub opening_at: DateTime<Utc>,
    /// The working day whose list the entries join.
    pub list_date: chrono::NaiveDate,
    /// "First thing" ends here for the entries of this run.
    pub deadline_at: DateTime<Utc>,
    /// Who is told through the outbox: the morning shift's address, `webhook:<name>`s.
    pub notify: Vec<String>,
}

/// A case of an entry, as the list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryCase {
    pub case_id: i64,
    pub number: String,
    pub channel: crate::domain::Channel,
    pub received_at: DateTime<Utc>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EntryRecording {
    pub id: i64,
    pub case_id: i64,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallbackAttemptRecord {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub outcome: crate::domain::Outcome,
    pub note: Option<String>,
}

/// A stored entry of the callback list, with its cases, recordings and attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackEntryRecord {
    pub id: i64,
    pub list_date: chrono::NaiveDate,
    pub opening_at: DateTime<Utc>,
    pub phone: Option<String>,
    pub urgent: bool,
    pub kind: crate::domain::CallbackKind,
    pub first_arrival_at: DateTime<Utc>,
    pub deadline_at: DateTime<Utc>,
    pub status: crate::domain::EntryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub reached_at: Option<DateTime<Utc>>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub cases: Vec<EntryCase>,
    pub recordings: Vec<EntryRecording>,
    pub attempt_log: Vec<CallbackAttemptRecord>,
}

/// An off-hours arrival not yet on any list (for the preview before opening).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCallback {
    pub arrival: crate::domain::callback::PendingArrival,
    pub case: EntryCase,
    pub recordings: Vec<EntryRecording>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimResult {
    Claimed,
    NotFound,
    Finished,
    /// Someone else holds it, until then.
    HeldBy(String, DateTime<Utc>),
}

/// One attempt to store, decided by the domain from the entry as it was read.
#[derive(Debug, Clone)]
pub struct AttemptWrite {
    pub entry_id: i64,
    /// The entry's attempt count when it was read: a change since is a conflict.
    pub expected_attempts: i64,
    pub actor: String,
    pub outcome: crate::domain::Outcome,
    pub note: Option<String>,
    pub after: crate::domain::callback::AfterAttempt,
    pub at: DateTime<Utc>,
}

/// A staff account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub roles: Vec<Role>,
    pub disabled: bool,
    pub failed_logins: i64,
    pub locked_until: Option<DateTime<Utc>>,
    /// `zh` or `en`: the language the user chose for the UI.
    pub lang: String,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub roles: Vec<Role>,
}

/// A signed-in session and its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub user: UserRecord,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// What walking an audit chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub checked: u64,
    /// Events from before the chain existed (not chained).
    pub legacy: u64,
    pub broken: Option<crate::domain::audit::Break>,
}

/// A case's rating as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingRecord {
    pub case_id: i64,
    pub case_number: String,
    pub level: crate::domain::Rating,
    pub comment: Option<String>,
    pub source: String,
    pub recorded_by: String,
    pub verify_due: Option<DateTime<Utc>>,
    pub rectify_due: Option<DateTime<Utc>>,
    pub follow_up: Option<String>,
    pub followed_up_by: Option<String>,
    pub followed_up_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A rating to record, with the follow-up deadlines of a bad one.
#[derive(Debug, Clone)]
pub struct NewRating {
    pub case_id: i64,
    pub level: crate::domain::Rating,
    pub comment: Option<String>,
    /// `citizen` or `staff`.
    pub source: &'static str,
    pub recorded_by: String,
    pub verify_due: Option<DateTime<Utc>>,
    pub rectify_due: Option<DateTime<Utc>>,
}

/// Counts over a period, for the statistics page and API.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Statistics {
    pub total: i64,
    pub by_channel: Vec<(String, i64)>,
    pub by_cause: Vec<(String, i64)>,
    pub by_tier: Vec<(String, i64)>,
    pub by_status: Vec<(String, i64)>,
    /// Per tier: finished cases, and those finished by their deadline.
    pub on_time: Vec<(String, i64, i64)>,
    /// Callback entries due in the period, reached by their deadline, reached late or not.
    pub callbacks_total: i64,
    pub callbacks_on_time: i64,
    pub ratings: Vec<(String, i64)>,
    /// Staff-side causes per matter (the matter's department).
    pub staff_side_by_matter: Vec<(String, i64)>,
    /// Answered on the phone and closed at once.
    pub consultations: i64,
}

/// What /metrics reports of the database at a scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Open cases by status and tier.
    pub open: Vec<(String, String, i64)>,
    pub overdue: i64,
    /// Every case ever registered, by channel.
    pub by_channel: Vec<(String, i64)>,
    /// Callback entries not finished.
    pub callback_backlog: i64,
    pub outbox_pending: i64,
    pub outbox_dead: i64,
    pub outbox_oldest: Option<DateTime<Utc>>,
    pub quarantine_open: i64,
}

/// An API token as stored: only the hash of the secret.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> &'static str;

    /// Applies the pending migrations of this backend.
    async fn migrate(&self) -> StoreResult<()>;

    /// A cheap round trip, for readiness.
    async fn ping(&self) -> StoreResult<()>;

    /// Adds up to `limit` of the cases not yet in the search index to it, in one
    /// transaction; returns how many. New cases are stored without their bigrams (a search
    /// scans that short backlog directly), and the search indexer job writes them here in
    /// bulk, sorted, so each page of the index is written once per round rather than once
    /// per commit. Each case is claimed by a conditional update: two instances never index
    /// one case twice.
    async fn index_search_backlog(&self, limit: u32) -> StoreResult<usize>;

    /// Numbers the case (per local day of `now`, gap-free) and stores it with its first
    /// timeline event, in one transaction. Durable when this returns.
    async fn register_case(
        &self,
        new: &NewCase,
        prefix: &str,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> StoreResult<Case>;

    /// Registers several cases in one transaction (a group commit: one durable commit for
    /// the batch). Each case is inside its own savepoint, so one failing leaves the others,
    /// and numbers stay gap-free. Results come back in the order given; `Err` on the outside
    /// means the whole batch failed and nothing was stored.
    async fn register_cases(
        &self,
        batch: &[(NewCase, DateTime<Utc>)],
        prefix: &str,
        tz: Tz,
    ) -> StoreResult<Vec<StoreResult<Case>>>;

    async fn case_by_number(&self, number: &CaseNumber) -> StoreResult<Option<Case>>;

    /// The timeline of a case, oldest first.
    async fn timeline(&self, case_id: i64) -> StoreResult<Vec<Event>>;

    /// Stores a decided transition and its event, if the case is still at the version it
    /// was decided on; otherwise `Conflict`. Returns the case and the event written.
    async fn apply_transition(
        &self,
        case: &Case,
        transition: &Transition,
        actor: &str,
        now: DateTime<Utc>,
        notify: &[NewOutboxMessage],
    ) -> StoreResult<(Case, Event)>;

    async fn list_cases(&self, query: &CaseQuery) -> StoreResult<CasePage>;

    async fn insert_token(
        &self,
        name: &str,
        role: Role,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<TokenRecord>;

    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<TokenRecord>>;

    /// Whether a voicemail with this identity is already in.
    async fn is_ingested(&self, identity: &str) -> StoreResult<bool>;

    /// In one transaction: records the identity as ingested (or finds it already was),
    /// opens the case or attaches to the caller's open case of the same stretch, stores the
    /// recording, and resolves any quarantine entry of the same identity.
    async fn ingest_voicemail(
        &self,
        ingest: &VoicemailIngest,
        prefix: &str,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> StoreResult<IngestOutcome>;

    /// The case an ingested identity went to.
    async fn ingested_case_number(&self, identity: &str) -> StoreResult<Option<CaseNumber>>;

    /// Puts (or refreshes) an entry in the quarantine; returns how often it has been seen.
    async fn quarantine(
        &self,
        identity: &str,
        source: &str,
        path: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<i64>;

    async fn quarantine_list(&self, include_resolved: bool) -> StoreResult<Vec<QuarantineItem>>;

    async fn recording(&self, id: i64) -> StoreResult<Option<RecordingRecord>>;

    async fn recordings_of(&self, case_id: i64) -> StoreResult<Vec<RecordingRecord>>;

    /// Queues a recording download; false if this recording was already queued.
    async fn enqueue_download(
        &self,
        download: &NewDownload,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Claims the oldest due download until `lease_until`, counting the attempt. Two
    /// instances never hold the same job at once; a crashed holder's lease runs out.
    async fn claim_download(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        holder: &str,
    ) -> StoreResult<Option<DownloadJob>>;

    /// `done` (taken in), `pending` again at `next_attempt_at`, or `dead` (given up).
    async fn settle_download(
        &self,
        id: i64,
        status: &str,
        next_attempt_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> StoreResult<()>;

    /// Appends an event that changes nothing (an access, for the audit trail).
    async fn record_access(
        &self,
        case_id: i64,
        actor: &str,
        action: &str,
        note: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Registers website messages (each with its case, its confirmation mail and its
    /// sender's rate-limit hit), or for each the case the same message already opened, or
    /// `Limited`: all in one transaction (group commit), each with its own result, in order.
    async fn submit_website_messages(
        &self,
        batch: &[(WebsiteSubmission, DateTime<Utc>)],
        prefix: &str,
        tz: Tz,
    ) -> StoreResult<Vec<StoreResult<WebsiteOutcome>>>;

    async fn website_record(&self, case_id: i64) -> StoreResult<Option<WebsiteRecord>>;

    /// Issues (or replaces) the tracking code of a case registered elsewhere than the
    /// website, such as a walk-in's receipt.
    async fn set_tracking_code(
        &self,
        case_id: i64,
        digest: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The digest of the tracking code issued by `set_tracking_code`, if any.
    async fn tracking_code(&self, case_id: i64) -> StoreResult<Option<String>>;

    /// Counts one request against `limits` (window, most allowed in it) for `key` in
    /// `scope`. False, and nothing counted, when a limit is already reached.
    async fn rate_hit(
        &self,
        scope: &str,
        key: &str,
        limits: &[(chrono::Duration, u32)],
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Claims the oldest due outbox row until `lease_until`, counting the attempt.
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        holder: &str,
    ) -> StoreResult<Option<OutboxItem>>;

    /// Hands back the outbox and download leases `holder` still holds (a graceful
    /// shutdown), so another instance takes them at once; returns how many.
    async fn release_claims(&self, holder: &str) -> StoreResult<u64>;

    /// `sent` (the payload is then cleared of what it carried), `pending` again at
    /// `next_attempt_at`, or `dead`.
    async fn settle_outbox(
        &self,
        id: i64,
        status: &str,
        next_attempt_at: DateTime<Utc>,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The outbox, newest first, optionally of one status.
    async fn outbox_list(&self, status: Option<&str>, limit: u32) -> StoreResult<Vec<OutboxEntry>>;

    /// Generates the callback entries of one opening from every off-hours arrival due by
    /// then and not yet listed, grouped by phone (joining a still-open entry of the same
    /// phone). None when this opening was already generated: it runs once, whoever asks.
    async fn generate_callbacks(
        &self,
        run: &CallbackRun,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<usize>>;

    /// How many generation runs the day has had (0: not generated yet).
    async fn callback_runs_on(&self, date: chrono::NaiveDate) -> StoreResult<usize>;

    /// The day's list: its own entries, and those carried over from earlier days that were
    /// still open at `opening` (the day's first opening).
    async fn callback_entries(
        &self,
        date: chrono::NaiveDate,
        opening: DateTime<Utc>,
    ) -> StoreResult<Vec<CallbackEntryRecord>>;

    async fn callback_entry(&self, id: i64) -> StoreResult<Option<CallbackEntryRecord>>;

    /// Entries given up as unreachable since `since`, for the duty leader.
    async fn unreachable_callbacks(
        &self,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<CallbackEntryRecord>>;

    /// Off-hours arrivals due by `up_to` that are on no list yet.
    async fn callback_pending(&self, up_to: DateTime<Utc>) -> StoreResult<Vec<PendingCallback>>;

    async fn claim_callback(
        &self,
        id: i64,
        actor: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<ClaimResult>;

    /// Stores an attempt, the entry's new state and an event on each of its cases; the
    /// claim is released. `Conflict` if the entry changed since it was read or another
    /// person holds it.
    async fn record_callback_attempt(&self, attempt: &AttemptWrite) -> StoreResult<()>;

    /// Writes an event that belongs to no single case (an export, a generation by hand).
    async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Recordings of closed cases last changed before `closed_before`, not yet purged,
    /// oldest first.
    async fn recordings_to_purge(
        &self,
        closed_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<RetentionItem>>;

    /// The audio digests of every recording not purged (to check the audio folder).
    async fn recording_digests(&self) -> StoreResult<Vec<String>>;

    /// Whether a recording other than `except_id`, not purged, shares this audio file.
    async fn audio_in_use(&self, sha256: &str, except_id: i64) -> StoreResult<bool>;

    /// Marks a recording purged, with an event on its case's timeline; false when another
    /// instance did it first.
    async fn mark_recording_purged(
        &self,
        id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Closed cases last changed before `closed_before`, not yet anonymized, oldest first.
    async fn cases_to_anonymize(
        &self,
        closed_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<RetentionItem>>;

    /// Removes a closed case's personal data (name, phone numbers, ID card, description,
    /// e-mail, tracking code, search index, rating comment, the callback entry's number)
    /// and keeps what the statistics count; an event on its timeline says so. False when
    /// it was already done or the case is not closed.
    async fn anonymize_case(&self, id: i64, actor: &str, now: DateTime<Utc>) -> StoreResult<bool>;

    /// Walks one audit chain (`case_events` or `audit_events`) and reports the first break.
    async fn verify_chain(&self, chain: &str) -> StoreResult<ChainReport>;

    /// Cases of the same person (the same phone number or ID card digest), newest first,
    /// without `exclude`.
    async fn cases_of_person(
        &self,
        phone_e164: Option<&str>,
        id_card_digest: Option<&str>,
        exclude: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<Case>>;

    /// Sets the duty leader of a date (replacing any).
    async fn set_duty(
        &self,
        date: chrono::NaiveDate,
        username: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The roster from `from` to `to` inclusive: date, username, display name (None when the
    /// username has no account).
    async fn roster(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> StoreResult<Vec<(chrono::NaiveDate, String, Option<String>)>>;

    /// The duty leader's account for a date.
    async fn duty_leader_on(&self, date: chrono::NaiveDate) -> StoreResult<Option<UserRecord>>;

    async fn set_user_email(
        &self,
        username: &str,
        email: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// The account whose display name is `name` (how owners are recorded on cases).
    async fn user_by_display_name(
        &self,
        name: &str,
    ) -> StoreResult<Option<(UserRecord, Option<String>)>>;

    /// Open cases whose deadline is before `until` (the overdue ones included), oldest
    /// deadline first.
    async fn cases_due_before(&self, until: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Case>>;

    /// Raises an alert once: false if this (case, kind, deadline) was already raised. The
    /// notifications go to the outbox in the same transaction.
    async fn raise_alert(
        &self,
        case_id: i64,
        kind: &str,
        deadline: DateTime<Utc>,
        notifications: &[NewOutboxMessage],
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Records a case's rating, with an event on its timeline. `Duplicate` if it was rated.
    async fn rate_case(&self, rating: &NewRating, now: DateTime<Utc>) -> StoreResult<()>;

    async fn rating_of(&self, case_id: i64) -> StoreResult<Option<RatingRecord>>;

    /// Bad ratings whose follow-up is not recorded yet, oldest first.
    async fn open_bad_ratings(&self) -> StoreResult<Vec<RatingRecord>>;

    /// Records the follow-up of a bad rating (on the timeline too). False if there is none
    /// to follow up.
    async fn follow_up_rating(
        &self,
        case_id: i64,
        outcome: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Open cases whose latest approval request has no approval or refusal after it.
    async fn awaiting_approval(&self) -> StoreResult<Vec<(Case, String)>>;

    /// The gauges /metrics reports.
    async fn gauges(&self, now: DateTime<Utc>) -> StoreResult<Gauges>;

    /// Counts of the cases received in `[from, to)`.
    async fn statistics(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Statistics>;

    /// The cases of each of these phone numbers (E.164), newest first, in one query.
    async fn cases_of_phones(&self, phones: &[String]) -> StoreResult<Vec<Case>>;

    /// `Duplicate` when the username is taken.
    async fn create_user(&self, user: &NewUser, now: DateTime<Utc>) -> StoreResult<UserRecord>;

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRecord>>;

    /// False when there is no such user.
    async fn set_password(
        &self,
        username: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Disabling also ends the user's sessions. False when there is no such user.
    async fn set_disabled(
        &self,
        username: &str,
        disabled: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    async fn set_user_lang(&self, user_id: i64, lang: &str, now: DateTime<Utc>) -> StoreResult<()>;

    /// Counts a failed sign-in; at `lock_after` failures in a row the account is locked
    /// until `lock_until`.
    async fn login_failed(
        &self,
        user_id: i64,
        lock_after: i64,
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    async fn login_succeeded(&self, user_id: i64, now: DateTime<Utc>) -> StoreResult<()>;

    async fn create_session(
        &self,
        id_hash: &str,
        user_id: i64,
        csrf_token: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The live session with this hash: not expired, not idle since `idle_since`, its user
    /// enabled. Seeing it refreshes its idle clock.
    async fn session(
        &self,
        id_hash: &str,
        idle_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>>;

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
}

/// Opens the store the URL names: `sqlite://…` or `postgres://…`.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, max_connections).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(
            PostgresStore::connect(url, max_connections).await?,
        ))
    } else {
        anyhow::bail!(
            "database.url must start with sqlite:// or postgres:// (got `{}`)",
            scheme_of(url)
        )
    }
}

/// The scheme only: a URL may carry a password.
fn scheme_of(url: &str) -> &str {
    url.split(':').next().unwrap_or("")
}
