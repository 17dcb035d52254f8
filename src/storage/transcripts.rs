//! Transcripts of recordings: the durable queue (rows made with their recordings, see
//! `storage::voicemail`), claimed under a lease so that with several instances each is sent
//! once; the text or why not; and what a transcript changes in its case (the description
//! while no person wrote one, the search index).

use chrono::{DateTime, Utc};

use super::StoreResult;

/// A claimed transcription: the recording to send.
#[derive(Debug, Clone)]
pub struct TranscriptJob {
    pub id: i64,
    pub recording_id: i64,
    pub case_id: i64,
    pub sha256: String,
    /// This attempt's number (1 for the first).
    pub attempts: i64,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum TranscriptOutcome {
    /// Heard: the text ('' when nothing), the language and the model.
    Done {
        text: String,
        language: String,
        model: String,
    },
    /// Try again at `at`, for this reason.
    Retry { reason: String, at: DateTime<Utc> },
    /// No more attempts, for this reason.
    GiveUp { reason: String },
}

/// A recording's transcript as the case page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptRecord {
    pub recording_id: i64,
    /// pending, done, failed, skipped
    pub status: String,
    pub text: Option<String>,
    pub language: Option<String>,
    pub model: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

#[async_trait::async_trait]
pub trait TranscriptStore: Send + Sync {
    /// The next due transcription, claimed by `holder` until `lease_until`.
    async fn claim_transcription(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        holder: &str,
    ) -> StoreResult<Option<TranscriptJob>>;

    /// Records how the attempt ended, if `holder` still holds it (false otherwise: another
    /// instance took it over, and its answer stands). A transcript heard replaces a
    /// description no person wrote (made by `describe` from the case's transcripts) and
    /// puts the case back in the search backlog.
    async fn finish_transcription(
        &self,
        id: i64,
        holder: &str,
        outcome: &TranscriptOutcome,
        description_max_chars: usize,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// The transcripts of a case's recordings.
    async fn transcripts_of_case(&self, case_id: i64) -> StoreResult<Vec<TranscriptRecord>>;

    /// How many wait, were heard, failed, were skipped.
    async fn transcription_counts(&self) -> StoreResult<Vec<(String, i64)>>;
}

/// Implements [`TranscriptStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_transcript_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::transcripts::TranscriptStore for $store {
            async fn claim_transcription(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
                holder: &str,
            ) -> $crate::storage::StoreResult<Option<$crate::storage::transcripts::TranscriptJob>> {
                // The due conditions are repeated outside the subquery: when two instances
                // pick the same row, the second's update re-checks them after the first
                // commits and matches nothing.
                let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
                    "update transcriptions set claimed_until = $2, claimed_by = $3, attempts = attempts + 1, updated_at = $1 \
                     where id = (select id from transcriptions where status = 'pending' \
                         and next_attempt_at <= $1 and (claimed_until is null or claimed_until < $1) \
                         order by next_attempt_at, id limit 1) \
                     and status = 'pending' and (claimed_until is null or claimed_until < $1) \
                     returning id, recording_id, case_id, attempts",
                )
                .bind(now)
                .bind(lease_until)
                .bind(holder)
                .fetch_optional(self.writer())
                .await?;
                let Some((id, recording_id, case_id, attempts)) = row else {
                    return Ok(None);
                };
                let (sha256,): (String,) = sqlx::query_as("select sha256 from recordings where id = $1")
                    .bind(recording_id)
                    .fetch_one(self.writer())
                    .await?;
                Ok(Some($crate::storage::transcripts::TranscriptJob { id, recording_id, case_id, sha256, attempts }))
            }

            async fn finish_transcription(
                &self,
                id: i64,
                holder: &str,
                outcome: &$crate::storage::transcripts::TranscriptOutcome,
                description_max_chars: usize,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                use $crate::storage::transcripts::TranscriptOutcome;
                let mut tx = self.writer().begin().await?;
                let held = "where id = $1 and claimed_by = $2 and status = 'pending'";
                let done = match outcome {
                    TranscriptOutcome::Done { text, language, model } => sqlx::query(&format!(
                        "update transcriptions set status = 'done', text = $3, language = $4, model = $5, \
                         last_error = null, claimed_by = null, claimed_until = null, updated_at = $6 {held}"
                    ))
                    .bind(id)
                    .bind(holder)
                    .bind(text)
                    .bind(language)
                    .bind(model)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?,
                    TranscriptOutcome::Retry { reason, at } => sqlx::query(&format!(
                        "update transcriptions set last_error = $3, next_attempt_at = $4, claimed_by = null, \
                         claimed_until = null, updated_at = $5 {held}"
                    ))
                    .bind(id)
                    .bind(holder)
                    .bind(reason)
                    .bind(at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?,
                    TranscriptOutcome::GiveUp { reason } => sqlx::query(&format!(
                        "update transcriptions set status = 'failed', last_error = $3, claimed_by = null, \
                         claimed_until = null, updated_at = $4 {held}"
                    ))
                    .bind(id)
                    .bind(holder)
                    .bind(reason)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?,
                };
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                if let TranscriptOutcome::Done { text, .. } = outcome {
                    if !text.is_empty() {
                        let (case_id, description, anonymized): (i64, String, bool) = sqlx::query_as(
                            "select c.id, c.description, c.anonymized_at is not null from cases c \
                             join transcriptions t on t.case_id = c.id where t.id = $1",
                        )
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                        if !anonymized && $crate::domain::transcript::is_machine_description(&description) {
                            let texts: Vec<(String,)> = sqlx::query_as(
                                "select text from transcriptions where case_id = $1 and status = 'done' \
                                 and text is not null order by recording_id",
                            )
                            .bind(case_id)
                            .fetch_all(&mut *tx)
                            .await?;
                            let texts: Vec<&str> = texts.iter().map(|(t,)| t.as_str()).collect();
                            if let Some(made) = $crate::domain::transcript::machine_description(&texts, description_max_chars) {
                                // Not `updated_at`: retention counts from the last person's
                                // change. Only over the description read: a person's
                                // correction committed meanwhile stands.
                                sqlx::query("update cases set description = $1, version = version + 1 where id = $2 and description = $3")
                                    .bind(made)
                                    .bind(case_id)
                                    .bind(&description)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                        // Search covers transcripts, whoever wrote the description.
                        sqlx::query("insert into search_backlog (case_id) values ($1) on conflict do nothing")
                            .bind(case_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn transcripts_of_case(
                &self,
                case_id: i64,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::transcripts::TranscriptRecord>> {
                let rows: Vec<(i64, String, Option<String>, Option<String>, Option<String>, i64, Option<String>)> = sqlx::query_as(
                    "select recording_id, status, text, language, model, attempts, last_error from transcriptions \
                     where case_id = $1 order by recording_id",
                )
                .bind(case_id)
                .fetch_all(self.reader())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(recording_id, status, text, language, model, attempts, last_error)| {
                        $crate::storage::transcripts::TranscriptRecord { recording_id, status, text, language, model, attempts, last_error }
                    })
                    .collect())
            }

            async fn transcription_counts(&self) -> $crate::storage::StoreResult<Vec<(String, i64)>> {
                Ok(sqlx::query_as("select status, count(*) from transcriptions group by status order by status")
                    .fetch_all(self.reader())
                    .await?)
            }
        }
    };
}

pub(crate) use impl_transcript_store;
