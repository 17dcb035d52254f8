//! Voicemail: each message taken in exactly once (its identity claimed in the transaction
//! that opens or extends the case), the quarantine of what could not be read, the
//! recordings, and the durable queue of recordings to download.

use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{CaseNumber, Channel};

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

#[async_trait::async_trait]
pub trait VoicemailStore: Send + Sync {
    /// Whether a voicemail with this identity is already in.
    async fn is_ingested(&self, identity: &str) -> StoreResult<bool>;

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
}

/// Implements [`VoicemailStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_voicemail_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::VoicemailStore for $store {
            async fn is_ingested(&self, identity: &str) -> $crate::storage::StoreResult<bool> {
                let row: Option<(String,)> = sqlx::query_as(
                    "select identity from voicemail_ingests where identity = $1 and case_id is not null",
                )
                .bind(identity)
                .fetch_optional(self.reader())
                .await?;
                Ok(row.is_some())
            }

            async fn ingested_case_number(
                &self,
                identity: &str,
            ) -> $crate::storage::StoreResult<Option<$crate::domain::CaseNumber>> {
                let row: Option<(String,)> = sqlx::query_as(
                    "select c.number from voicemail_ingests v join cases c on c.id = v.case_id where v.identity = $1",
                )
                .bind(identity)
                .fetch_optional(self.reader())
                .await?;
                Ok(row.map(|(n,)| n.parse()).transpose().map_err(anyhow::Error::new)?)
            }

            async fn quarantine(
                &self,
                identity: &str,
                source: &str,
                path: &str,
                reason: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<i64> {
                let (attempts,): (i64,) = sqlx::query_as(
                    "insert into quarantine (identity, source, path, reason, attempts, first_seen_at, \
                     last_seen_at, created_at) values ($1, $2, $3, $4, 1, $5, $5, $5) \
                     on conflict (identity) do update set reason = excluded.reason, path = excluded.path, \
                     attempts = quarantine.attempts + 1, last_seen_at = excluded.last_seen_at, resolved_at = null \
                     returning attempts",
                )
                .bind(identity)
                .bind(source)
                .bind(path)
                .bind(reason)
                .bind(now)
                .fetch_one(self.writer())
                .await?;
                Ok(attempts)
            }

            async fn quarantine_list(
                &self,
                include_resolved: bool,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::QuarantineItem>> {
                let rows: Vec<$crate::storage::rows::QuarantineRow> = sqlx::query_as(
                    "select id, identity, source, path, reason, attempts, first_seen_at, last_seen_at, resolved_at \
                     from quarantine where ($1 or resolved_at is null) order by last_seen_at desc, id desc",
                )
                .bind(include_resolved)
                .fetch_all(self.reader())
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn recording(
                &self,
                id: i64,
            ) -> $crate::storage::StoreResult<Option<$crate::storage::RecordingRecord>> {
                use $crate::storage::rows::{RecordingRow, RECORDING_COLUMNS};
                let sql = format!("select {RECORDING_COLUMNS} from recordings where id = $1");
                let row: Option<RecordingRow> = sqlx::query_as(&sql).bind(id).fetch_optional(self.reader()).await?;
                Ok(row.map(Into::into))
            }

            async fn recordings_of(
                &self,
                case_id: i64,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::RecordingRecord>> {
                use $crate::storage::rows::{RecordingRow, RECORDING_COLUMNS};
                let sql = format!("select {RECORDING_COLUMNS} from recordings where case_id = $1 order by id");
                let rows: Vec<RecordingRow> = sqlx::query_as(&sql).bind(case_id).fetch_all(self.reader()).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn enqueue_download(
                &self,
                d: &$crate::storage::NewDownload,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                let done = sqlx::query(
                    "insert into recording_downloads (recording_sid, call_sid, url, channel, caller, \
                     received_at, status, attempts, next_attempt_at, created_at) \
                     values ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) on conflict (recording_sid) do nothing",
                )
                .bind(&d.recording_sid)
                .bind(d.call_sid.as_deref())
                .bind(&d.url)
                .bind(d.channel.as_str())
                .bind(d.caller.as_deref())
                .bind(d.received_at)
                .bind(now)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn claim_download(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
                holder: &str,
            ) -> $crate::storage::StoreResult<Option<$crate::storage::DownloadJob>> {
                // The due conditions are repeated outside the subquery: when two instances
                // pick the same row, the second's update re-checks them after the first
                // commits and matches nothing.
                let row: Option<(i64, String, Option<String>, String, String, Option<String>, chrono::DateTime<chrono::Utc>, i64)> =
                    sqlx::query_as(
                        "update recording_downloads set claimed_until = $2, claimed_by = $3, attempts = attempts + 1 \
                         where id = (select id from recording_downloads where status = 'pending' \
                             and next_attempt_at <= $1 and (claimed_until is null or claimed_until < $1) \
                             order by next_attempt_at, id limit 1) \
                         and status = 'pending' and (claimed_until is null or claimed_until < $1) \
                         returning id, recording_sid, call_sid, url, channel, caller, received_at, attempts",
                    )
                    .bind(now)
                    .bind(lease_until)
                    .bind(holder)
                    .fetch_optional(self.writer())
                    .await?;
                let Some((id, recording_sid, call_sid, url, channel, caller, received_at, attempts)) = row else {
                    return Ok(None);
                };
                let channel = channel.parse().map_err(anyhow::Error::new)?;
                Ok(Some($crate::storage::DownloadJob {
                    id,
                    download: $crate::storage::NewDownload { recording_sid, call_sid, url, channel, caller, received_at },
                    attempts,
                }))
            }

            async fn settle_download(
                &self,
                id: i64,
                status: &str,
                next_attempt_at: chrono::DateTime<chrono::Utc>,
                error: Option<&str>,
            ) -> $crate::storage::StoreResult<()> {
                sqlx::query(
                    "update recording_downloads set status = $1, next_attempt_at = $2, last_error = $3, \
                     claimed_until = null where id = $4",
                )
                .bind(status)
                .bind(next_attempt_at)
                .bind(error)
                .bind(id)
                .execute(self.writer())
                .await?;
                Ok(())
            }
        }

        /// One voicemail inside the caller's transaction, exactly once: its identity is
        /// claimed first (a second instance waits for the first's commit, then finds the row
        /// and does nothing); then it opens a case, or joins the open case of the same caller
        /// on the same line in the same off-hours stretch; its recording is stored, and any
        /// quarantine entry it settles is resolved.
        async fn register_voicemail_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            admission: &$crate::domain::Admission,
            ingest: &$crate::domain::VoicemailEvidence,
            prefix: &str,
            tz: chrono_tz::Tz,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::storage::StoreResult<$crate::storage::Registered> {
            use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
            // Claim the identity first: a second instance blocks here until the first
            // commits, then finds the row and does nothing.
            let claimed: Option<(String,)> = sqlx::query_as(
                "insert into voicemail_ingests (identity, source_path, created_at) values ($1, $2, $3) \
                 on conflict (identity) do nothing returning identity",
            )
            .bind(&ingest.identity)
            .bind(&ingest.source_path)
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?;
            if claimed.is_none() {
                return Ok($crate::storage::Registered::Already);
            }
            let new = &admission.case;
            // A call without a message waits as a missed call, not a case, until someone
            // speaks to the caller (the callback list makes it a case, or closes it).
            if let (Some(callback), None) = (new.callback, &ingest.recording) {
                if callback.kind == $crate::domain::CallbackKind::MissedCall {
                    let source = new.registered_by.strip_prefix("voicemail:").unwrap_or(&new.registered_by);
                    // A call the PBX reported missed whose caller's message came already (the
                    // message is the call back owed): kept, counted, superseded, not listed.
                    let superseded: Option<(i64,)> = match (source, new.citizen.phone.as_ref()) {
                        ("cti", Some(phone)) => {
                            sqlx::query_as(
                                "select c.id from recordings r join cases c on c.id = r.case_id where c.phone_e164 = $1 \
                                 and c.channel = $2 and r.received_at >= $3 and not r.silent order by r.id limit 1",
                            )
                            .bind(phone.e164())
                            .bind(new.channel.as_str())
                            .bind(new.received_at - chrono::Duration::minutes(1))
                            .fetch_optional(&mut **tx)
                            .await?
                        }
                        _ => None,
                    };
                    let (call_id,): (i64,) = sqlx::query_as(
                        "insert into missed_calls (identity, source, channel, phone_e164, received_at, off_hours, \
                         urgent, callback_due_at, created_at, outcome, case_id) \
                         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id",
                    )
                    .bind(&ingest.identity)
                    .bind(source)
                    .bind(new.channel.as_str())
                    .bind(new.citizen.phone.as_ref().map(|p| p.e164()))
                    .bind(new.received_at)
                    .bind(new.off_hours)
                    .bind(new.urgent)
                    .bind(callback.due_at)
                    .bind(now)
                    .bind(superseded.map(|_| "voicemail"))
                    .bind(superseded.map(|(id,)| id))
                    .fetch_one(&mut **tx)
                    .await?;
                    sqlx::query("update quarantine set resolved_at = $1 where identity in ($2, $3) and resolved_at is null")
                        .bind(now)
                        .bind(&ingest.identity)
                        .bind(&ingest.quarantine_key)
                        .execute(&mut **tx)
                        .await?;
                    return Ok($crate::storage::Registered::Missed { call_id });
                }
            }
            // Two doors may bring the same caller's messages at once: the batch locked
            // this caller on this line up front (`lock_keys`; SQLite has one writer), so
            // the "is there an open case" question below has one answer.
            let open: Option<CaseRow> = match (new.off_hours, new.citizen.phone.as_ref(), new.callback) {
                (true, Some(phone), Some(callback)) => {
                    let sql = format!(
                        "select {CASE_COLUMNS} from cases where phone_e164 = $1 and channel = $2 \
                         and status = 'new' and consultation = $3 and callback_due_at = $4 \
                         order by id limit 1"
                    );
                    sqlx::query_as(&sql)
                        .bind(phone.e164())
                        .bind(new.channel.as_str())
                        .bind(false)
                        .bind(callback.due_at)
                        .fetch_optional(&mut **tx)
                        .await?
                }
                _ => None,
            };
            let (case, attached) = match open {
                Some(row) => {
                    let existing = $crate::domain::Case::try_from(row)?;
                    let urgent = existing.urgent || new.urgent;
                    let kind = $crate::domain::CallbackKind::joined(
                        existing.callback.map(|c| c.kind),
                        new.callback.map(|c| c.kind),
                    );
                    let sql = format!(
                        "update cases set urgent = $1, callback_kind = $2, updated_at = $3, \
                         version = version + 1 where id = $4 returning {CASE_COLUMNS}"
                    );
                    let row: CaseRow = sqlx::query_as(&sql)
                        .bind(urgent)
                        .bind(kind.as_str())
                        .bind(now)
                        .bind(existing.id)
                        .fetch_one(&mut **tx)
                        .await?;
                    let updated = $crate::domain::Case::try_from(row)?;
                    let before = serde_json::json!({"urgent": existing.urgent, "callback_kind": existing.callback.map(|c| c.kind)});
                    let after = serde_json::json!({"urgent": updated.urgent, "callback_kind": updated.callback.map(|c| c.kind)});
                    insert_event(tx, updated.id, now, new.registered_by(), $crate::domain::EventKind::AttachRecording, &before, &after, Some(&new.description))
                        .await?;
                    (updated, true)
                }
                None => (insert_case(tx, new, prefix, tz, now).await?, false),
            };
            let mut recording_id = None;
            if let Some(r) = &ingest.recording {
            let (id,): (i64,) = sqlx::query_as(
                "insert into recordings (case_id, sha256, source, media_type, bytes, duration_ms, \
                 sample_rate, channels, rms, peak, silent, received_at, created_at) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) returning id",
            )
            .bind(case.id)
            .bind(&r.sha256)
            .bind(r.source)
            .bind(&r.media_type)
            .bind(r.bytes)
            .bind(r.duration_ms)
            .bind(r.sample_rate)
            .bind(r.channels)
            .bind(r.rms)
            .bind(r.peak)
            .bind(r.silent)
            .bind(r.received_at)
            .bind(now)
            .fetch_one(&mut **tx)
            .await?;
            recording_id = Some(id);
            // Queued for a transcript with the recording itself (a breath is not sent).
            let worth = $crate::domain::transcript::worth_sending(r.duration_ms, r.silent);
            sqlx::query(
                "insert into transcriptions (recording_id, case_id, status, attempts, next_attempt_at, created_at, updated_at) \
                 values ($1, $2, $3, 0, $4, $4, $4)",
            )
            .bind(id)
            .bind(case.id)
            .bind(if worth { "pending" } else { "skipped" })
            .bind(now)
            .execute(&mut **tx)
            .await?;
            // The PBX may have reported this call as missed before its message arrived:
            // the message is the call back owed, so the missed call is not listed twice.
            if let Some(phone) = new.citizen.phone.as_ref() {
                sqlx::query(
                    "update missed_calls set outcome = 'voicemail', case_id = $1 where source = 'cti' \
                     and outcome is null and phone_e164 = $2 and channel = $3 and received_at >= $4 and received_at <= $5",
                )
                .bind(case.id)
                .bind(phone.e164())
                .bind(new.channel.as_str())
                .bind(r.received_at - chrono::Duration::hours(1))
                .bind(r.received_at + chrono::Duration::minutes(5))
                .execute(&mut **tx)
                .await?;
            }
            }
            sqlx::query("update voicemail_ingests set case_id = $1, recording_id = $2 where identity = $3")
                .bind(case.id)
                .bind(recording_id)
                .bind(&ingest.identity)
                .execute(&mut **tx)
                .await?;
            sqlx::query("update quarantine set resolved_at = $1 where identity in ($2, $3) and resolved_at is null")
                .bind(now)
                .bind(&ingest.identity)
                .bind(&ingest.quarantine_key)
                .execute(&mut **tx)
                .await?;
            Ok(match attached {
                true => $crate::storage::Registered::Attached { case: Box::new(case), recording_id },
                false => $crate::storage::Registered::Created { case: Box::new(case), recording_id, notified: true },
            })
        }
    };
}

pub(crate) use impl_voicemail_store;
