//! Retention: recordings of finished cases deleted, finished cases anonymized, each marked
//! once across instances with an event on the case's timeline; quarantine entries and the
//! callers and addresses of announced recordings cleared after the same time as recordings.

use chrono::{DateTime, Utc};

use super::StoreResult;

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

#[async_trait::async_trait]
pub trait RetentionStore: Send + Sync {
    /// Recordings of finished cases (closed, or resolved or refused and never closed) last
    /// changed before `closed_before`, not yet purged, oldest first.
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
        actor: crate::domain::By<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Finished cases last changed before `closed_before`, not yet anonymized, oldest first.
    async fn cases_to_anonymize(
        &self,
        closed_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<RetentionItem>>;

    /// Removes a closed case's personal data (name, phone numbers, ID card, description,
    /// e-mail, tracking code, search index, rating comment, the callback entry's number)
    /// and keeps what the statistics count; an event on its timeline says so. False when
    /// it was already done or the case is not finished.
    async fn anonymize_case(
        &self,
        id: i64,
        actor: crate::domain::By<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Quarantine entries last seen before `before` (their file gone from the spool since, or
    /// kept by youmen itself), oldest first: (id, path).
    async fn quarantine_to_purge(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(i64, String)>>;

    /// Deletes a quarantine entry; false when it was already gone.
    async fn delete_quarantine(&self, id: i64) -> StoreResult<bool>;

    /// Announced recordings (fetched, or given up on) received before `before` whose caller
    /// number or address is still kept: how many.
    async fn downloads_to_scrub(&self, before: DateTime<Utc>) -> StoreResult<u64>;

    /// Clears those callers and addresses; how many rows it cleared.
    async fn scrub_downloads(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}

/// Implements [`RetentionStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_retention_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::RetentionStore for $store {
            async fn recordings_to_purge(
                &self,
                closed_before: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::RetentionItem>> {
                let rows: Vec<(i64, i64, String, chrono::DateTime<chrono::Utc>, String, i64)> = sqlx::query_as(
                    "select r.id, c.id, c.number, c.updated_at, r.sha256, r.bytes from recordings r \
                     join cases c on c.id = r.case_id \
                     where c.status in ('closed', 'resolved', 'refused') and c.updated_at < $1 \
                     and r.purged_at is null order by c.updated_at, r.id limit $2",
                )
                .bind(closed_before)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, case_id, case_number, closed_at, sha256, bytes)| $crate::storage::RetentionItem {
                        id, case_id, case_number, closed_at, sha256: Some(sha256), bytes: Some(bytes),
                    })
                    .collect())
            }

            async fn recording_digests(&self) -> $crate::storage::StoreResult<Vec<String>> {
                let rows: Vec<(String,)> =
                    sqlx::query_as("select distinct sha256 from recordings where purged_at is null")
                        .fetch_all(self.reader())
                        .await?;
                Ok(rows.into_iter().map(|(s,)| s).collect())
            }

            async fn audio_in_use(&self, sha256: &str, except_id: i64) -> $crate::storage::StoreResult<bool> {
                let row: Option<(i64,)> = sqlx::query_as(
                    "select id from recordings where sha256 = $1 and id <> $2 and purged_at is null limit 1",
                )
                .bind(sha256)
                .bind(except_id)
                .fetch_optional(self.reader())
                .await?;
                Ok(row.is_some())
            }

            async fn mark_recording_purged(
                &self,
                id: i64,
                actor: $crate::domain::By<'_>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                let mut tx = self.writer().begin().await?;
                let row: Option<(i64, i64)> = sqlx::query_as(
                    "update recordings set purged_at = $1 where id = $2 and purged_at is null returning case_id, bytes",
                )
                .bind(now)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((case_id, bytes)) = row else {
                    return Ok(false);
                };
                // Its transcript is as personal as the recording: it goes too, and so does a
                // description made of it.
                let heard = sqlx::query(
                    "update transcriptions set text = null, language = null, \
                     status = case when status = 'pending' then 'failed' else status end, \
                     last_error = 'purged with its recording', claimed_by = null, claimed_until = null, updated_at = $1 \
                     where recording_id = $2 and (text is not null and text <> '' or status = 'pending')",
                )
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if heard > 0 {
                    // Its words leave the search index too.
                    sqlx::query("insert into search_backlog (case_id) values ($1) on conflict do nothing")
                        .bind(case_id)
                        .execute(&mut *tx)
                        .await?;
                }
                let (description,): (String,) = sqlx::query_as("select description from cases where id = $1")
                    .bind(case_id)
                    .fetch_one(&mut *tx)
                    .await?;
                if description.starts_with("电话留言（机器转写") {
                    sqlx::query("update cases set description = $1, version = version + 1 where id = $2")
                        .bind("电话留言（录音及其机器转写已按保存期限删除）")
                        .bind(case_id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("insert into search_backlog (case_id) values ($1) on conflict do nothing")
                        .bind(case_id)
                        .execute(&mut *tx)
                        .await?;
                }
                let empty = serde_json::json!({});
                let after = serde_json::json!({"recording": id, "bytes": bytes});
                insert_event(&mut tx, case_id, now, actor, $crate::domain::EventKind::PurgeRecording, &empty, &after, None).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn cases_to_anonymize(
                &self,
                closed_before: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::RetentionItem>> {
                let rows: Vec<(i64, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
                    "select id, number, updated_at from cases \
                     where status in ('closed', 'resolved', 'refused') and updated_at < $1 \
                     and anonymized_at is null order by updated_at, id limit $2",
                )
                .bind(closed_before)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, case_number, closed_at)| $crate::storage::RetentionItem {
                        id, case_id: id, case_number, closed_at, sha256: None, bytes: None,
                    })
                    .collect())
            }

            async fn anonymize_case(
                &self,
                id: i64,
                actor: $crate::domain::By<'_>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                let mut tx = self.writer().begin().await?;
                // updated_at stays: it is when the case closed, and the statistics count it.
                let done = sqlx::query(
                    "update cases set citizen_name = null, phone_e164 = null, phone_original = null, \
                     id_card_masked = null, id_card_digest = null, description = '', \
                     anonymized_at = $1, version = version + 1 \
                     where id = $2 and status in ('closed', 'resolved', 'refused') and anonymized_at is null",
                )
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if done == 0 {
                    return Ok(false);
                }
                for sql in [
                    // Its grams (of the name, phone and text) go with the indexer's next
                    // round, which replaces them with those of what is left: none.
                    "insert into search_backlog (case_id) values ($1) on conflict do nothing",
                    "delete from tracking_codes where case_id = $1",
                    "update website_messages set email = null, fold_key = '' where case_id = $1",
                    "update ratings set comment = null where case_id = $1",
                    // What the callers said goes with the rest (and a waiting transcript is
                    // never made).
                    "update transcriptions set text = null, language = null, last_error = 'anonymized', \
                     status = case when status = 'pending' then 'failed' else status end, \
                     claimed_by = null, claimed_until = null where case_id = $1",
                    // Mail to the citizen keeps its row (it was sent) but not the address.
                    "update outbox set recipient = '', payload = '{}' where case_id = $1 and status <> 'pending' \
                     and recipient not like 'webhook:%'",
                ] {
                    sqlx::query(sql).bind(id).execute(&mut *tx).await?;
                }
                // A callback entry keeps its number while another of its cases still needs it.
                sqlx::query(
                    "update callback_entries set phone_e164 = null, group_key = 'anonymized:' || id \
                     where id in (select entry_id from callback_entry_cases where case_id = $1) \
                     and not exists (select 1 from callback_entry_cases l join cases c on c.id = l.case_id \
                         where l.entry_id = callback_entries.id and c.anonymized_at is null)",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let empty = serde_json::json!({});
                let after = serde_json::json!({"anonymized": true});
                insert_event(&mut tx, id, now, actor, $crate::domain::EventKind::Anonymize, &empty, &after, None).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn quarantine_to_purge(
                &self,
                before: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::storage::StoreResult<Vec<(i64, String)>> {
                Ok(sqlx::query_as(
                    "select id, path from quarantine where last_seen_at < $1 order by last_seen_at, id limit $2",
                )
                .bind(before)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?)
            }

            async fn delete_quarantine(&self, id: i64) -> $crate::storage::StoreResult<bool> {
                Ok(sqlx::query("delete from quarantine where id = $1")
                    .bind(id)
                    .execute(self.writer())
                    .await?
                    .rows_affected()
                    > 0)
            }

            async fn downloads_to_scrub(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<u64> {
                let n: i64 = sqlx::query_scalar(
                    "select count(*) from recording_downloads where status in ('done', 'dead') \
                     and received_at < $1 and (caller is not null or url <> '')",
                )
                .bind(before)
                .fetch_one(self.reader())
                .await?;
                Ok(n as u64)
            }

            async fn scrub_downloads(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<u64> {
                Ok(sqlx::query(
                    "update recording_downloads set caller = null, url = '' where status in ('done', 'dead') \
                     and received_at < $1 and (caller is not null or url <> '')",
                )
                .bind(before)
                .execute(self.writer())
                .await?
                .rows_affected())
            }
        }
    };
}

pub(crate) use impl_retention_store;
