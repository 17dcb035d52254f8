//! The SQL both backends share. SQLite and PostgreSQL accept the same `$n` placeholders,
//! `RETURNING` and `ON CONFLICT`; timestamps are UTC `DateTime`s on both (text in SQLite in
//! one fixed format, so it orders correctly; `timestamptz` in PostgreSQL). The macro stamps
//! the same queries out for each backend's pool type, so a query is written once.

/// Bigram occurrences from which a bigram counts as common (see `list_cases`).
pub const COMMON_GRAM: i64 = 5000;

/// Implements the case and token queries of [`super::Store`] for `$store`, whose
/// `writer()` and `reader()` return `&sqlx::Pool<$db>`. `$migrate` is its migrator.
/// `$attach_lock` is a statement taking a transaction-scoped lock on one key (`$1`), and
/// `$batch_lock` the same lock as an expression over a column `k`, for many keys in one
/// statement; None where a single writer makes locks unnecessary (SQLite).
macro_rules! impl_shared_queries {
    ($store:ty, $db:ty, $migrator:expr, $name:literal, $attach_lock:expr, $batch_lock:expr) => {
        #[async_trait::async_trait]
        impl $crate::storage::Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn migrate(&self) -> $crate::storage::StoreResult<()> {
                $migrator.run(self.writer()).await.map_err(|e| {
                    $crate::storage::StoreError::Other(anyhow::Error::new(e).context("applying migrations"))
                })?;
                self.search_ready().await?;
                // A long search backlog (an upgrade that rebuilds the index, an import) is left
                // to the indexer job, in the background: indexing a million cases here took
                // four minutes, before the service, or any CLI command, could start.
                let (waiting,): (i64,) = sqlx::query_as("select count(*) from search_backlog")
                    .fetch_one(self.reader())
                    .await?;
                if waiting >= i64::from($crate::storage::SEARCH_INDEX_CHUNK) * 4 {
                    tracing::info!(
                        cases = waiting,
                        "cases wait for the search index; the indexer catches up in the background, \
                         and searches find them by their text meanwhile"
                    );
                }
                Ok(())
            }

            async fn index_search_backlog(&self, limit: u32) -> $crate::storage::StoreResult<usize> {
                Ok(self.index_chunk(limit).await?)
            }

            async fn ping(&self) -> $crate::storage::StoreResult<()> {
                sqlx::query("select 1").execute(self.reader()).await?;
                Ok(())
            }

            async fn register_case(
                &self,
                new: &$crate::domain::NewCase,
                prefix: &str,
                tz: chrono_tz::Tz,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<$crate::domain::Case> {
                let mut tx = self.writer().begin().await?;
                let case = insert_case(&mut tx, new, prefix, tz, now).await?;
                tx.commit().await?;
                Ok(case)
            }

            async fn register_cases(
                &self,
                batch: &[($crate::domain::NewCase, chrono::DateTime<chrono::Utc>)],
                prefix: &str,
                tz: chrono_tz::Tz,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::StoreResult<$crate::domain::Case>>> {
                use sqlx::Connection;
                let mut tx = self.writer().begin().await?;
                let mut results = Vec::with_capacity(batch.len());
                for (new, now) in batch {
                    let mut savepoint = tx.begin().await?;
                    match insert_case(&mut savepoint, new, prefix, tz, *now).await {
                        Ok(case) => {
                            savepoint.commit().await?;
                            results.push(Ok(case));
                        }
                        Err(e) => {
                            savepoint.rollback().await?;
                            results.push(Err(e));
                        }
                    }
                }
                tx.commit().await?;
                Ok(results)
            }

            async fn case_by_number(
                &self,
                number: &$crate::domain::CaseNumber,
            ) -> $crate::storage::StoreResult<Option<$crate::domain::Case>> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                let sql = format!("select {CASE_COLUMNS} from cases where number = $1");
                let row: Option<CaseRow> =
                    sqlx::query_as(&sql).bind(number.as_str()).fetch_optional(self.reader()).await?;
                Ok(row.map($crate::domain::Case::try_from).transpose()?)
            }

            async fn timeline(
                &self,
                case_id: i64,
            ) -> $crate::storage::StoreResult<Vec<$crate::domain::Event>> {
                let rows: Vec<$crate::storage::rows::EventRow> = sqlx::query_as(
                    "select id, at, actor, action, before_state, after_state, note \
                     from case_events where case_id = $1 order by id",
                )
                .bind(case_id)
                .fetch_all(self.reader())
                .await?;
                Ok(rows.into_iter().map($crate::domain::Event::try_from).collect::<anyhow::Result<_>>()?)
            }

            async fn apply_transition(
                &self,
                case: &$crate::domain::Case,
                t: &$crate::domain::Transition,
                actor: &str,
                now: chrono::DateTime<chrono::Utc>,
                notify: &[$crate::storage::NewOutboxMessage],
            ) -> $crate::storage::StoreResult<($crate::domain::Case, $crate::domain::Event)> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                let mut tx = self.writer().begin().await?;
                let sql = format!(
                    "update cases set status = $1, owner = $2, cause = $3, tier = $4, deadline = $5, \
                     deadline_provisional = $6, updated_at = $7, version = version + 1, accountability = $10 \
                     where id = $8 and version = $9 returning {CASE_COLUMNS}"
                );
                let row: Option<CaseRow> = sqlx::query_as(&sql)
                    .bind(t.status.as_str())
                    .bind(t.owner.as_deref())
                    .bind(t.cause.as_str())
                    .bind(t.tier.as_str())
                    .bind(t.deadline)
                    .bind(t.deadline_provisional)
                    .bind(now)
                    .bind(case.id)
                    .bind(case.version)
                    .bind(t.accountability)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else {
                    return Err($crate::storage::StoreError::Conflict);
                };
                let updated = $crate::domain::Case::try_from(row)?;
                let event_id =
                    insert_event(&mut tx, case.id, now, actor, t.kind.code(), &t.before, &t.after, t.note.as_deref())
                        .await?;
                // Who must hear of this change is told in the same transaction.
                for n in notify {
                    insert_outbox(&mut tx, Some(case.id), &n.topic, &n.recipient, &n.payload, now).await?;
                }
                tx.commit().await?;
                let event = $crate::domain::Event {
                    id: event_id,
                    at: now,
                    actor: actor.to_owned(),
                    action: t.kind.code().to_owned(),
                    before: t.before.clone(),
                    after: t.after.clone(),
                    note: t.note.clone(),
                };
                Ok((updated, event))
            }

            async fn list_cases(
                &self,
                q: &$crate::storage::CaseQuery,
            ) -> $crate::storage::StoreResult<$crate::storage::CasePage> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                use $crate::storage::Sort;
                let mut b = sqlx::QueryBuilder::<$db>::new(format!("select {CASE_COLUMNS} from cases where 1 = 1"));
                // The codes of a closed vocabulary ([a-z_], never user text) written as
                // literals, sorted: the open queue's `status in ('in_progress', 'new')` then
                // matches the partial index on open cases, which a planner proves only for
                // the same literal condition, not for bound parameters.
                macro_rules! any_of {
                    ($column:literal, $values:expr) => {
                        if !$values.is_empty() {
                            let mut codes: Vec<&str> = $values.iter().map(|v| v.as_str()).collect();
                            codes.sort_unstable();
                            codes.dedup();
                            debug_assert!(codes.iter().all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
                            let list: Vec<String> = codes.iter().map(|c| format!("'{c}'")).collect();
                            b.push(format!(" and {} in ({})", $column, list.join(", ")));
                        }
                    };
                }
                any_of!("status", q.statuses);
                any_of!("channel", q.channels);
                any_of!("cause", q.causes);
                any_of!("tier", q.tiers);
                let now = q.now.unwrap_or_else(chrono::Utc::now);
                match q.overdue {
                    Some(true) => {
                        b.push(" and status in ('in_progress', 'new') and deadline < ").push_bind(now);
                    }
                    Some(false) => {
                        b.push(" and (status not in ('new', 'in_progress') or deadline >= ").push_bind(now).push(")");
                    }
                    None => {}
                }
                if let Some(owner) = &q.owner {
                    b.push(" and owner = ").push_bind(owner.clone());
                }
                if let Some(off_hours) = q.off_hours {
                    b.push(" and off_hours = ").push_bind(off_hours);
                }
                if let Some(from) = q.received_from {
                    b.push(" and received_at >= ").push_bind(from);
                }
                if let Some(to) = q.received_to {
                    b.push(" and received_at < ").push_bind(to);
                }
                if let Some(text) = &q.text {
                    let words = text.words.to_lowercase();
                    let pattern = format!("%{}%", $crate::storage::shared::escape_like(&words));
                    // Which way is fast depends on how common the words are: the bigram
                    // index names the cases that may match when they are few; when they are
                    // many, matches are everywhere and a scan in the page's sort order fills
                    // the page at once. A bounded look-up decides (`gram_candidates`).
                    let common = $crate::storage::shared::COMMON_GRAM;
                    // A whole case number or a full phone number (with its area code or
                    // mobile prefix: 11 digits or more) is a look-up, answered by its own
                    // index: its digits' bigrams are in every phone number, so neither the
                    // bigram index nor a scan of the text would narrow anything down. A
                    // shorter number (a local one, or the end of a mobile) is searched in
                    // the text as well.
                    let digits = words.chars().filter(char::is_ascii_digit).count();
                    let lookup = text.number.is_some() || (text.phone_e164.is_some() && digits >= 11);
                    // Cases in the search backlog (not indexed yet: the last moments'
                    // intake) have no grams: they are candidates too, matched by their text.
                    // The backlog is read *before* the grams: a case the indexer takes in
                    // between is then in the list already, or its grams (committed with the
                    // deletion of its backlog row, or before it on SQLite) are found by the
                    // index look-up. A backlog too long to list (the indexer
                    // catching up after an import) makes the search take the scan, which
                    // needs no index.
                    let backlog: Option<Vec<i64>> = if lookup {
                        None
                    } else {
                        let ids: Vec<i64> = sqlx::query_scalar(&format!(
                            "select case_id from search_backlog limit {}",
                            common + 1
                        ))
                        .fetch_all(self.reader())
                        .await?;
                        (ids.len() as i64 <= common).then_some(ids)
                    };
                    // The indexed cases that may match (fewer than `common`), each engine
                    // by its own index; None when the words are common. Not asked when no
                    // candidate list is made anyway (a look-up, or a backlog too long to list).
                    let indexed = if backlog.is_none() {
                        None
                    } else {
                        let grams: Vec<String> =
                            $crate::domain::search::grams(&words).into_iter().take(16).collect();
                        self.gram_candidates(&grams).await?
                    };
                    let candidates: Option<Vec<i64>> = match (indexed, backlog) {
                        (Some(found), Some(mut ids)) => {
                            ids.extend(found);
                            Some(ids)
                        }
                        _ => None,
                    };
                    let scan_text = !lookup;
                    b.push(" and (");
                    if scan_text {
                        b.push("(");
                        if let Some(ids) = &candidates {
                            // The candidates themselves (fewer than `common`), so that every
                            // planner goes by primary key rather than scanning in page order.
                            b.push("id in (");
                            let mut list = b.separated(", ");
                            for id in ids {
                                list.push_bind(*id);
                            }
                            if ids.is_empty() {
                                list.push("null");
                            }
                            list.push_unseparated(") and ");
                        }
                        b.push("(lower(description) like ").push_bind(pattern.clone()).push(" escape '\\'");
                        b.push(" or lower(coalesce(citizen_name, '')) like ").push_bind(pattern.clone()).push(" escape '\\'");
                        b.push(" or coalesce(phone_original, '') like ").push_bind(pattern).push(" escape '\\'))");
                    }
                    let mut or = if scan_text { " or " } else { "" };
                    if let Some(number) = &text.number {
                        b.push(or).push("number = ").push_bind(number.as_str().to_owned());
                        or = " or ";
                    }
                    if let Some(phone) = &text.phone_e164 {
                        b.push(or).push("phone_e164 = ").push_bind(phone.clone());
                    }
                    b.push(")");
                }
                let (column, cmp, order) = match q.sort {
                    Sort::Deadline => ("deadline", ">", "asc"),
                    Sort::Received => ("received_at", "<", "desc"),
                };
                if let Some(after) = &q.after {
                    b.push(format!(" and ({column} {cmp} ")).push_bind(after.key);
                    b.push(format!(" or ({column} = ")).push_bind(after.key);
                    b.push(format!(" and id {cmp} ")).push_bind(after.id).push("))");
                }
                b.push(format!(" order by {column} {order}, id {order} limit "));
                b.push_bind(i64::from(q.limit) + 1);
                let rows: Vec<CaseRow> = b.build_query_as().fetch_all(self.reader()).await?;
                let mut cases = rows
                    .into_iter()
                    .map($crate::domain::Case::try_from)
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let next = if cases.len() > q.limit as usize {
                    cases.truncate(q.limit as usize);
                    cases.last().map(|c| $crate::storage::Cursor {
                        key: match q.sort {
                            Sort::Deadline => c.deadline,
                            Sort::Received => c.received_at,
                        },
                        id: c.id,
                    })
                } else {
                    None
                };
                Ok($crate::storage::CasePage { cases, next })
            }

            async fn insert_token(
                &self,
                name: &str,
                role: $crate::domain::Role,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<$crate::storage::TokenRecord> {
                let row: $crate::storage::rows::TokenRow = sqlx::query_as(
                    "insert into api_tokens (name, role, token_hash, created_at) values ($1, $2, $3, $4) \
                     returning id, name, role, created_at",
                )
                .bind(name)
                .bind(role.as_str())
                .bind(token_hash)
                .bind(now)
                .fetch_one(self.writer())
                .await?;
                Ok(row.try_into()?)
            }

            async fn token_by_hash(
                &self,
                token_hash: &str,
            ) -> $crate::storage::StoreResult<Option<$crate::storage::TokenRecord>> {
                let row: Option<$crate::storage::rows::TokenRow> = sqlx::query_as(
                    "select id, name, role, created_at from api_tokens \
                     where token_hash = $1 and revoked_at is null",
                )
                .bind(token_hash)
                .fetch_optional(self.reader())
                .await?;
                Ok(row.map(TryInto::try_into).transpose()?)
            }

            async fn is_ingested(&self, identity: &str) -> $crate::storage::StoreResult<bool> {
                let row: Option<(String,)> = sqlx::query_as(
                    "select identity from voicemail_ingests where identity = $1 and case_id is not null",
                )
                .bind(identity)
                .fetch_optional(self.reader())
                .await?;
                Ok(row.is_some())
            }

            async fn ingest_voicemail(
                &self,
                ingest: &$crate::storage::VoicemailIngest,
                prefix: &str,
                tz: chrono_tz::Tz,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<$crate::storage::IngestOutcome> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                let mut tx = self.writer().begin().await?;
                // Claim the identity first: a second instance blocks here until the first
                // commits, then finds the row and does nothing.
                let claimed: Option<(String,)> = sqlx::query_as(
                    "insert into voicemail_ingests (identity, source_path, created_at) values ($1, $2, $3) \
                     on conflict (identity) do nothing returning identity",
                )
                .bind(&ingest.identity)
                .bind(&ingest.source_path)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if claimed.is_none() {
                    tx.rollback().await?;
                    return Ok($crate::storage::IngestOutcome::AlreadyIngested);
                }
                let new = &ingest.case;
                // Two doors may bring the same caller's messages at once: serialize the
                // "is there an open case" check per caller and hotline where the engine
                // does not already (SQLite has one writer).
                let attach_lock: Option<&str> = $attach_lock;
                if let (Some(lock), Some(phone)) = (attach_lock, new.citizen.phone.as_ref()) {
                    sqlx::query(lock)
                        .bind(format!("{}|{}", phone.e164(), new.channel.as_str()))
                        .execute(&mut *tx)
                        .await?;
                }
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
                            .fetch_optional(&mut *tx)
                            .await?
                    }
                    _ => None,
                };
                let (case, attached) = match open {
                    Some(row) => {
                        let existing = $crate::domain::Case::try_from(row)?;
                        let urgent = existing.urgent || new.urgent;
                        let kind = match (existing.callback, new.callback) {
                            (Some(a), Some(b)) if a.kind == $crate::domain::CallbackKind::Message
                                || b.kind == $crate::domain::CallbackKind::Message => $crate::domain::CallbackKind::Message,
                            (Some(a), _) => a.kind,
                            (None, Some(b)) => b.kind,
                            (None, None) => $crate::domain::CallbackKind::Message,
                        };
                        let sql = format!(
                            "update cases set urgent = $1, callback_kind = $2, updated_at = $3, \
                             version = version + 1 where id = $4 returning {CASE_COLUMNS}"
                        );
                        let row: CaseRow = sqlx::query_as(&sql)
                            .bind(urgent)
                            .bind(kind.as_str())
                            .bind(now)
                            .bind(existing.id)
                            .fetch_one(&mut *tx)
                            .await?;
                        let updated = $crate::domain::Case::try_from(row)?;
                        let before = serde_json::json!({"urgent": existing.urgent, "callback_kind": existing.callback.map(|c| c.kind)});
                        let after = serde_json::json!({"urgent": updated.urgent, "callback_kind": updated.callback.map(|c| c.kind)});
                        insert_event(&mut tx, updated.id, now, &new.registered_by, "attach_recording", &before, &after, Some(&new.description))
                            .await?;
                        (updated, true)
                    }
                    None => (insert_case(&mut tx, new, prefix, tz, now).await?, false),
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
                .fetch_one(&mut *tx)
                .await?;
                recording_id = Some(id);
                }
                sqlx::query("update voicemail_ingests set case_id = $1, recording_id = $2 where identity = $3")
                    .bind(case.id)
                    .bind(recording_id)
                    .bind(&ingest.identity)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("update quarantine set resolved_at = $1 where identity in ($2, $3) and resolved_at is null")
                    .bind(now)
                    .bind(&ingest.identity)
                    .bind(&ingest.quarantine_key)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok($crate::storage::IngestOutcome::Ingested { case: Box::new(case), attached, recording_id })
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

            async fn record_access(
                &self,
                case_id: i64,
                actor: &str,
                action: &str,
                note: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<()> {
                let mut tx = self.writer().begin().await?;
                let empty = serde_json::json!({});
                insert_event(&mut tx, case_id, now, actor, action, &empty, &empty, Some(note)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn submit_website_messages(
                &self,
                batch: &[($crate::storage::WebsiteSubmission, chrono::DateTime<chrono::Utc>)],
                prefix: &str,
                tz: chrono_tz::Tz,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::StoreResult<$crate::storage::WebsiteOutcome>>> {
                use sqlx::Connection;
                // Two identical submissions at once on two instances: the second waits for
                // the first's commit and folds. The batch takes its keys' locks up front, in
                // one order, before the day's counter row: batches on two instances never
                // wait for each other in a cycle.
                async fn lock_keys(
                    tx: &mut sqlx::Transaction<'_, $db>,
                    batch: &[($crate::storage::WebsiteSubmission, chrono::DateTime<chrono::Utc>)],
                ) -> Result<(), sqlx::Error> {
                    let batch_lock: Option<&str> = $batch_lock;
                    let (Some(lock), false) = (batch_lock, batch.is_empty()) else {
                        return Ok(());
                    };
                    let mut keys: Vec<&str> = batch.iter().map(|(s, _)| s.message.fold_key.as_str()).collect();
                    keys.sort_unstable();
                    keys.dedup();
                    // One statement; the VALUES rows are scanned (and locked) in key order.
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!("select count({lock}) from (values "));
                    let mut list = q.separated(", ");
                    for key in keys {
                        list.push("(").push_bind_unseparated(key).push_unseparated(")");
                    }
                    q.push(") as v(k)");
                    q.build().execute(&mut **tx).await?;
                    Ok(())
                }
                // The fast path writes the whole batch with a few multi-row statements,
                // straight in the transaction (a savepoint around it would copy every page it
                // touches into SQLite's sub-journal: a sixth of the writer's time). If any
                // statement fails, the transaction is rolled back and the batch done again
                // in a new one, one savepoint per message, so each gets its own answer.
                let memory = self.sender_limits();
                let mut tx = self.writer().begin().await?;
                lock_keys(&mut tx, batch).await?;
                match submit_website_batch(&mut tx, batch, prefix, tz, memory).await {
                    Ok(Some(results)) => {
                        tx.commit().await?;
                        // Limits kept in memory count the messages let through once they
                        // are stored (in the database, they are rows of the transaction).
                        if let Some(memory) = memory {
                            for ((s, now), result) in batch.iter().zip(&results) {
                                let through = !matches!(result, Ok($crate::storage::WebsiteOutcome::Limited));
                                if let (Some(r), true) = (&s.rate, through) {
                                    memory.record(&r.scope, &r.key, *now, r.longest());
                                }
                            }
                        }
                        return Ok(results);
                    }
                    Ok(None) => {
                        metrics::counter!("youmen_batch_fallbacks_total", "reason" => "uncommon").increment(1);
                    }
                    Err(e) => {
                        metrics::counter!("youmen_batch_fallbacks_total", "reason" => "error").increment(1);
                        tracing::warn!(error = format!("{e:#}"), size = batch.len(), "website batch written one by one");
                    }
                }
                tx.rollback().await?;
                let mut tx = self.writer().begin().await?;
                lock_keys(&mut tx, batch).await?;
                let mut results = Vec::with_capacity(batch.len());
                // Hits counted in memory as each message is stored, taken back if the
                // transaction does not commit.
                let mut counted = Vec::new();
                for (submission, now) in batch {
                    let mut savepoint = tx.begin().await?;
                    match submit_website_in(&mut savepoint, submission, prefix, tz, *now, memory).await {
                        Ok(outcome) => {
                            savepoint.commit().await?;
                            if let (Some(memory), Some(r)) = (memory, &submission.rate) {
                                if !matches!(outcome, $crate::storage::WebsiteOutcome::Limited) {
                                    memory.record(&r.scope, &r.key, *now, r.longest());
                                    counted.push((r, *now));
                                }
                            }
                            results.push(Ok(outcome));
                        }
                        Err(e) => {
                            savepoint.rollback().await?;
                            results.push(Err(e));
                        }
                    }
                }
                if let Err(e) = tx.commit().await {
                    if let Some(memory) = memory {
                        for (r, now) in counted {
                            memory.forget(&r.scope, &r.key, now);
                        }
                    }
                    return Err(e.into());
                }
                Ok(results)
            }

            async fn website_record(
                &self,
                case_id: i64,
            ) -> $crate::storage::StoreResult<Option<$crate::storage::WebsiteRecord>> {
                let row: Option<(String, Option<String>)> = sqlx::query_as(
                    "select tracking_digest, email from website_messages where case_id = $1",
                )
                .bind(case_id)
                .fetch_optional(self.reader())
                .await?;
                Ok(row.map(|(tracking_digest, email)| $crate::storage::WebsiteRecord { tracking_digest, email }))
            }

            async fn set_tracking_code(
                &self,
                case_id: i64,
                digest: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<()> {
                sqlx::query(
                    "insert into tracking_codes (case_id, digest, created_at) values ($1, $2, $3) \
                     on conflict (case_id) do update set digest = excluded.digest, created_at = excluded.created_at",
                )
                .bind(case_id)
                .bind(digest)
                .bind(now)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn tracking_code(&self, case_id: i64) -> $crate::storage::StoreResult<Option<String>> {
                let row: Option<(String,)> = sqlx::query_as("select digest from tracking_codes where case_id = $1")
                    .bind(case_id)
                    .fetch_optional(self.reader())
                    .await?;
                Ok(row.map(|(d,)| d))
            }

            async fn rate_hit(
                &self,
                scope: &str,
                key: &str,
                limits: &[(chrono::Duration, u32)],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                if let Some(memory) = self.sender_limits() {
                    return Ok(memory.hit(scope, key, limits, now));
                }
                let mut tx = self.writer().begin().await?;
                let allowed = rate_hit_in(&mut tx, scope, key, limits, now).await?;
                tx.commit().await?;
                Ok(allowed)
            }

            async fn claim_outbox(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
                holder: &str,
            ) -> $crate::storage::StoreResult<Option<$crate::storage::OutboxItem>> {
                // As for downloads: the due conditions are checked again outside the
                // subquery, so of two instances picking one row only one gets it.
                let row: Option<(i64, String, Option<i64>, String, String, i64)> = sqlx::query_as(
                    "update outbox set claimed_until = $2, claimed_by = $3, attempts = attempts + 1 \
                     where id = (select id from outbox where status = 'pending' \
                         and next_attempt_at <= $1 and (claimed_until is null or claimed_until < $1) \
                         order by next_attempt_at, id limit 1) \
                     and status = 'pending' and (claimed_until is null or claimed_until < $1) \
                     returning id, topic, case_id, recipient, payload, attempts",
                )
                .bind(now)
                .bind(lease_until)
                .bind(holder)
                .fetch_optional(self.writer())
                .await?;
                let Some((id, topic, case_id, recipient, payload, attempts)) = row else {
                    return Ok(None);
                };
                let payload = serde_json::from_str(&payload).map_err(anyhow::Error::new)?;
                Ok(Some($crate::storage::OutboxItem { id, topic, case_id, recipient, payload, attempts }))
            }

            async fn release_claims(&self, holder: &str) -> $crate::storage::StoreResult<u64> {
                // The attempt in hand was not made: it is not counted.
                let mut released = 0;
                for table in ["outbox", "recording_downloads"] {
                    released += sqlx::query(&format!(
                        "update {table} set claimed_until = null, claimed_by = null, attempts = attempts - 1 \
                         where claimed_by = $1 and status = 'pending' and claimed_until is not null"
                    ))
                    .bind(holder)
                    .execute(self.writer())
                    .await?
                    .rows_affected();
                }
                Ok(released)
            }

            async fn settle_outbox(
                &self,
                id: i64,
                status: &str,
                next_attempt_at: chrono::DateTime<chrono::Utc>,
                error: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<()> {
                let sent = status == "sent";
                sqlx::query(
                    "update outbox set status = $1, next_attempt_at = $2, last_error = $3, claimed_until = null, \
                     sent_at = case when $4 then $5 else sent_at end, \
                     payload = case when $4 then '{}' else payload end where id = $6",
                )
                .bind(status)
                .bind(next_attempt_at)
                .bind(error)
                .bind(sent)
                .bind(now)
                .bind(id)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn outbox_list(
                &self,
                status: Option<&str>,
                limit: u32,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::OutboxEntry>> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(i64, String, Option<i64>, String, String, i64, chrono::DateTime<chrono::Utc>, Option<String>, chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>)> =
                    sqlx::query_as(
                        "select id, topic, case_id, recipient, status, attempts, next_attempt_at, last_error, \
                         created_at, sent_at from outbox where ($1 is null or status = $1) order by id desc limit $2",
                    )
                    .bind(status)
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, topic, case_id, recipient, status, attempts, next_attempt_at, last_error, created_at, sent_at)| {
                        $crate::storage::OutboxEntry {
                            id, topic, case_id, recipient, status, attempts, next_attempt_at, last_error, created_at, sent_at,
                        }
                    })
                    .collect())
            }
            async fn generate_callbacks(
                &self,
                run: &$crate::storage::CallbackRun,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Option<usize>> {
                use std::collections::HashMap;
                let list_date = run.list_date.format("%Y-%m-%d").to_string();
                let mut tx = self.writer().begin().await?;
                // The run's row first: a second instance waits here, then finds it and stops.
                let claimed: Option<(chrono::DateTime<chrono::Utc>,)> = sqlx::query_as(
                    "insert into callback_runs (opening_at, list_date, entries, created_at) values ($1, $2, 0, $3) \
                     on conflict (opening_at) do nothing returning opening_at",
                )
                .bind(run.opening_at)
                .bind(&list_date)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if claimed.is_none() {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let rows: Vec<(i64, Option<String>, String, Option<String>, bool, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
                    "select c.id, c.phone_e164, c.channel, c.callback_kind, c.urgent, c.received_at from cases c \
                     where c.callback_due_at is not null and c.callback_due_at <= $1 and c.off_hours = $2 \
                     and c.consultation = $3 \
                     and not exists (select 1 from callback_entry_cases x where x.case_id = c.id) \
                     order by c.received_at, c.id",
                )
                .bind(run.opening_at)
                .bind(true)
                .bind(false)
                .fetch_all(&mut *tx)
                .await?;
                let arrivals = rows
                    .into_iter()
                    .map(|(case_id, phone, channel, kind, urgent, received_at)| {
                        Ok($crate::domain::callback::PendingArrival {
                            case_id,
                            phone,
                            channel: channel.parse().map_err(anyhow::Error::new)?,
                            kind: kind.as_deref().unwrap_or("message").parse().map_err(anyhow::Error::new)?,
                            urgent,
                            received_at,
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let drafts = $crate::domain::callback::group(&arrivals);
                // A person still on an earlier list (not reached yet) is not listed twice:
                // the new arrivals join that entry.
                let open: Vec<(i64, String, bool, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
                    "select id, phone_e164, urgent, kind, first_arrival_at from callback_entries \
                     where status = 'open' and phone_e164 is not null",
                )
                .fetch_all(&mut *tx)
                .await?;
                let open: HashMap<String, (i64, bool, String, chrono::DateTime<chrono::Utc>)> = open
                    .into_iter()
                    .map(|(id, phone, urgent, kind, first)| (phone, (id, urgent, kind, first)))
                    .collect();
                let mut links: Vec<(i64, i64)> = Vec::new();
                let mut fresh = Vec::new();
                for d in &drafts {
                    match d.phone.as_ref().and_then(|p| open.get(p)) {
                        Some((id, urgent, kind, first)) => {
                            let kind = if d.kind == $crate::domain::CallbackKind::Message { "message" } else { kind.as_str() };
                            sqlx::query(
                                "update callback_entries set urgent = $1, kind = $2, first_arrival_at = $3, updated_at = $4 where id = $5",
                            )
                            .bind(*urgent || d.urgent)
                            .bind(kind)
                            .bind((*first).min(d.first_arrival_at))
                            .bind(now)
                            .bind(*id)
                            .execute(&mut *tx)
                            .await?;
                            links.extend(d.case_ids.iter().map(|c| (*c, *id)));
                        }
                        None => fresh.push(d),
                    }
                }
                let mut ids: HashMap<String, i64> = HashMap::new();
                for chunk in fresh.chunks(500) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "insert into callback_entries (list_date, opening_at, group_key, phone_e164, urgent, kind, \
                         first_arrival_at, deadline_at, status, attempts, created_at, updated_at) ",
                    );
                    insert.push_values(chunk, |mut b, d| {
                        b.push_bind(&list_date)
                            .push_bind(run.opening_at)
                            .push_bind(&d.key)
                            .push_bind(d.phone.as_deref())
                            .push_bind(d.urgent)
                            .push_bind(d.kind.as_str())
                            .push_bind(d.first_arrival_at)
                            .push_bind(run.deadline_at)
                            .push_bind("open")
                            .push_bind(0i64)
                            .push_bind(now)
                            .push_bind(now);
                    });
                    insert.push(" returning id, group_key");
                    let created: Vec<(i64, String)> = insert.build_query_as().fetch_all(&mut *tx).await?;
                    ids.extend(created.into_iter().map(|(id, key)| (key, id)));
                }
                for d in &fresh {
                    let id = ids[&d.key];
                    links.extend(d.case_ids.iter().map(|c| (*c, id)));
                }
                for chunk in links.chunks(1000) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new("insert into callback_entry_cases (case_id, entry_id) ");
                    insert.push_values(chunk, |mut b, (case_id, entry_id)| {
                        b.push_bind(*case_id).push_bind(*entry_id);
                    });
                    insert.build().execute(&mut *tx).await?;
                }
                sqlx::query("update callback_runs set entries = $1 where opening_at = $2")
                    .bind(fresh.len() as i64)
                    .bind(run.opening_at)
                    .execute(&mut *tx)
                    .await?;
                let payload = serde_json::json!({"list_date": list_date, "opening_at": run.opening_at});
                for to in &run.notify {
                    insert_outbox(&mut tx, None, $crate::storage::CALLBACK_LIST_TOPIC, to, &payload, now).await?;
                }
                tx.commit().await?;
                Ok(Some(fresh.len()))
            }

            async fn callback_runs_on(&self, date: chrono::NaiveDate) -> $crate::storage::StoreResult<usize> {
                let (n,): (i64,) = sqlx::query_as("select count(*) from callback_runs where list_date = $1")
                    .bind(date.format("%Y-%m-%d").to_string())
                    .fetch_one(self.reader())
                    .await?;
                Ok(n as usize)
            }

            async fn callback_entries(
                &self,
                date: chrono::NaiveDate,
                opening: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::CallbackEntryRecord>> {
                load_entries(
                    self.reader(),
                    "e.list_date = $1 or (e.list_date < $1 and (e.finished_at is null or e.finished_at >= $2))",
                    EntryKey::Day(date.format("%Y-%m-%d").to_string(), opening),
                )
                .await
            }

            async fn unreachable_callbacks(
                &self,
                since: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::CallbackEntryRecord>> {
                load_entries(self.reader(), "e.status = 'unreachable' and e.finished_at >= $1", EntryKey::Since(since)).await
            }

            async fn callback_entry(&self, id: i64) -> $crate::storage::StoreResult<Option<$crate::storage::CallbackEntryRecord>> {
                Ok(load_entries(self.reader(), "e.id = $1", EntryKey::Id(id)).await?.pop())
            }

            async fn callback_pending(
                &self,
                up_to: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::PendingCallback>> {
                use std::collections::HashMap;
                let pending = "c.callback_due_at is not null and c.callback_due_at <= $1 and c.off_hours = $2 \
                     and c.consultation = $3 and not exists (select 1 from callback_entry_cases x where x.case_id = c.id)";
                let rows: Vec<(i64, Option<String>, String, Option<String>, bool, chrono::DateTime<chrono::Utc>, String, String)> =
                    sqlx::query_as(&format!(
                        "select c.id, c.phone_e164, c.channel, c.callback_kind, c.urgent, c.received_at, c.number, c.description \
                         from cases c where {pending} order by c.received_at, c.id"
                    ))
                    .bind(up_to)
                    .bind(true)
                    .bind(false)
                    .fetch_all(self.reader())
                    .await?;
                let recordings: Vec<(i64, i64, i64)> = sqlx::query_as(&format!(
                    "select r.id, r.case_id, r.duration_ms from recordings r join cases c on c.id = r.case_id \
                     where {pending} order by r.id"
                ))
                .bind(up_to)
                .bind(true)
                .bind(false)
                .fetch_all(self.reader())
                .await?;
                let mut by_case: HashMap<i64, Vec<$crate::storage::EntryRecording>> = HashMap::new();
                for (id, case_id, duration_ms) in recordings {
                    by_case.entry(case_id).or_default().push($crate::storage::EntryRecording { id, case_id, duration_ms });
                }
                rows.into_iter()
                    .map(|(case_id, phone, channel, kind, urgent, received_at, number, description)| {
                        let channel: $crate::domain::Channel = channel.parse().map_err(anyhow::Error::new)?;
                        Ok($crate::storage::PendingCallback {
                            arrival: $crate::domain::callback::PendingArrival {
                                case_id,
                                phone,
                                channel,
                                kind: kind.as_deref().unwrap_or("message").parse().map_err(anyhow::Error::new)?,
                                urgent,
                                received_at,
                            },
                            case: $crate::storage::EntryCase { case_id, number, channel, received_at, description },
                            recordings: by_case.remove(&case_id).unwrap_or_default(),
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
                    .map_err(Into::into)
            }

            async fn claim_callback(
                &self,
                id: i64,
                actor: &str,
                until: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<$crate::storage::ClaimResult> {
                let done = sqlx::query(
                    "update callback_entries set claimed_by = $1, claimed_until = $2, updated_at = $3 \
                     where id = $4 and finished_at is null \
                     and (claimed_by is null or claimed_until < $3 or claimed_by = $1)",
                )
                .bind(actor)
                .bind(until)
                .bind(now)
                .bind(id)
                .execute(self.writer())
                .await?;
                if done.rows_affected() == 1 {
                    return Ok($crate::storage::ClaimResult::Claimed);
                }
                let row: Option<(Option<chrono::DateTime<chrono::Utc>>, Option<String>, Option<chrono::DateTime<chrono::Utc>>)> =
                    sqlx::query_as("select finished_at, claimed_by, claimed_until from callback_entries where id = $1")
                        .bind(id)
                        .fetch_optional(self.writer())
                        .await?;
                Ok(match row {
                    None => $crate::storage::ClaimResult::NotFound,
                    Some((Some(_), _, _)) => $crate::storage::ClaimResult::Finished,
                    Some((None, Some(by), Some(until))) => $crate::storage::ClaimResult::HeldBy(by, until),
                    Some(_) => $crate::storage::ClaimResult::Finished,
                })
            }

            async fn record_callback_attempt(
                &self,
                a: &$crate::storage::AttemptWrite,
            ) -> $crate::storage::StoreResult<()> {
                let mut tx = self.writer().begin().await?;
                let finished = a.after.status.is_finished();
                let reached = matches!(a.outcome, $crate::domain::Outcome::ReachedResolved | $crate::domain::Outcome::ReachedContinues);
                let done = sqlx::query(
                    "update callback_entries set status = $1, attempts = attempts + 1, next_attempt_at = $2, \
                     first_attempt_at = coalesce(first_attempt_at, $3), \
                     reached_at = case when $4 then $3 else reached_at end, \
                     finished_at = case when $5 then $3 else null end, \
                     claimed_by = null, claimed_until = null, updated_at = $3 \
                     where id = $6 and attempts = $7 and finished_at is null \
                     and (claimed_by is null or claimed_by = $8 or claimed_until < $3)",
                )
                .bind(a.after.status.as_str())
                .bind(a.after.next_attempt_at)
                .bind(a.at)
                .bind(reached)
                .bind(finished)
                .bind(a.entry_id)
                .bind(a.expected_attempts)
                .bind(&a.actor)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Err($crate::storage::StoreError::Conflict);
                }
                sqlx::query("insert into callback_attempts (entry_id, at, actor, outcome, note) values ($1, $2, $3, $4, $5)")
                    .bind(a.entry_id)
                    .bind(a.at)
                    .bind(&a.actor)
                    .bind(a.outcome.as_str())
                    .bind(a.note.as_deref())
                    .execute(&mut *tx)
                    .await?;
                let cases: Vec<(i64,)> = sqlx::query_as("select case_id from callback_entry_cases where entry_id = $1")
                    .bind(a.entry_id)
                    .fetch_all(&mut *tx)
                    .await?;
                let after = serde_json::json!({"callback": a.after.status, "outcome": a.outcome});
                let empty = serde_json::json!({});
                let note = match &a.note {
                    Some(n) => format!("{}：{n}", a.outcome.label_zh()),
                    None => a.outcome.label_zh().to_owned(),
                };
                for (case_id,) in cases {
                    insert_event(&mut tx, case_id, a.at, &a.actor, "callback_attempt", &empty, &after, Some(&note)).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn audit(
                &self,
                actor: &str,
                action: &str,
                subject: &str,
                note: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<()> {
                let mut tx = self.writer().begin().await?;
                let prev = chain_prev(&mut tx, "audit_events").await?;
                let hash = $crate::domain::audit::event_hash(&prev, subject, now, actor, action, "", "", note);
                let (id,): (i64,) = sqlx::query_as(
                    "insert into audit_events (at, actor, action, subject, note, prev_hash, hash) \
                     values ($1, $2, $3, $4, $5, $6, $7) returning id",
                )
                .bind(now)
                .bind(actor)
                .bind(action)
                .bind(subject)
                .bind(note)
                .bind(&prev)
                .bind(&hash)
                .fetch_one(&mut *tx)
                .await?;
                chain_advance(&mut tx, "audit_events", id, &hash).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn cases_of_person(
                &self,
                phone_e164: Option<&str>,
                id_card_digest: Option<&str>,
                exclude: Option<i64>,
                limit: u32,
            ) -> $crate::storage::StoreResult<Vec<$crate::domain::Case>> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                if phone_e164.is_none() && id_card_digest.is_none() {
                    return Ok(Vec::new());
                }
                let sql = format!(
                    "select {CASE_COLUMNS} from cases where id <> $1 and (phone_e164 = $2 or id_card_digest = $3) \
                     order by received_at desc, id desc limit $4"
                );
                let rows: Vec<CaseRow> = sqlx::query_as(&sql)
                    .bind(exclude.unwrap_or(0))
                    .bind(phone_e164)
                    .bind(id_card_digest)
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                Ok(rows.into_iter().map($crate::domain::Case::try_from).collect::<anyhow::Result<_>>()?)
            }

            async fn recordings_to_purge(
                &self,
                closed_before: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::RetentionItem>> {
                let rows: Vec<(i64, i64, String, chrono::DateTime<chrono::Utc>, String, i64)> = sqlx::query_as(
                    "select r.id, c.id, c.number, c.updated_at, r.sha256, r.bytes from recordings r \
                     join cases c on c.id = r.case_id \
                     where c.status = 'closed' and c.updated_at < $1 and r.purged_at is null \
                     order by c.updated_at, r.id limit $2",
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
                actor: &str,
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
                let empty = serde_json::json!({});
                let after = serde_json::json!({"recording": id, "bytes": bytes});
                insert_event(&mut tx, case_id, now, actor, "purge_recording", &empty, &after, None).await?;
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
                     where status = 'closed' and updated_at < $1 and anonymized_at is null \
                     order by updated_at, id limit $2",
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
                actor: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                let mut tx = self.writer().begin().await?;
                // updated_at stays: it is when the case closed, and the statistics count it.
                let done = sqlx::query(
                    "update cases set citizen_name = null, phone_e164 = null, phone_original = null, \
                     id_card_masked = null, id_card_digest = null, description = '', \
                     anonymized_at = $1, version = version + 1 \
                     where id = $2 and status = 'closed' and anonymized_at is null",
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
                insert_event(&mut tx, id, now, actor, "anonymize", &empty, &after, None).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn verify_chain(
                &self,
                chain: &str,
            ) -> $crate::storage::StoreResult<$crate::storage::ChainReport> {
                let sql = match chain {
                    "case_events" => "select id, cast(case_id as text), at, actor, action, before_state, after_state, note, prev_hash, hash \
                                      from case_events where id > $1 order by id limit 1000",
                    "audit_events" => "select id, subject, at, actor, action, '', '', note, prev_hash, hash \
                                       from audit_events where id > $1 order by id limit 1000",
                    other => return Err(anyhow::anyhow!("no chain named {other}").into()),
                };
                // The head first: events appended while we walk are not judged this time.
                let (head_id, head_hash): (i64, String) =
                    sqlx::query_as("select last_id, last_hash from chain_heads where name = $1")
                        .bind(chain)
                        .fetch_one(self.reader())
                        .await?;
                let mut verifier = $crate::domain::audit::Verifier::default();
                let mut after = 0i64;
                loop {
                    #[allow(clippy::type_complexity)]
                    let rows: Vec<(i64, String, chrono::DateTime<chrono::Utc>, String, String, String, String, Option<String>, Option<String>, Option<String>)> =
                        sqlx::query_as(sql).bind(after).fetch_all(self.reader()).await?;
                    let Some(last) = rows.last().map(|r| r.0) else { break };
                    for (id, subject, at, actor, action, before, after_state, note, prev_hash, hash) in rows {
                        if id > head_id {
                            break;
                        }
                        let e = $crate::domain::audit::ChainedEvent { id, subject, at, actor, action, before, after: after_state, note, prev_hash, hash };
                        if let Err(b) = verifier.check(&e) {
                            return Ok($crate::storage::ChainReport { checked: verifier.checked, legacy: verifier.legacy, broken: Some(b) });
                        }
                    }
                    if last >= head_id {
                        break;
                    }
                    after = last;
                }
                let broken = verifier.finish(&head_hash).err();
                Ok($crate::storage::ChainReport { checked: verifier.checked, legacy: verifier.legacy, broken })
            }

            async fn set_duty(&self, date: chrono::NaiveDate, username: &str, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<()> {
                sqlx::query(
                    "insert into duty_roster (duty_date, username, created_at, updated_at) values ($1, $2, $3, $3) \
                     on conflict (duty_date) do update set username = excluded.username, updated_at = excluded.updated_at",
                )
                .bind(date.format("%Y-%m-%d").to_string())
                .bind(username)
                .bind(now)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn roster(
                &self,
                from: chrono::NaiveDate,
                to: chrono::NaiveDate,
            ) -> $crate::storage::StoreResult<Vec<(chrono::NaiveDate, String, Option<String>)>> {
                let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
                    "select r.duty_date, r.username, u.display_name from duty_roster r left join users u on u.username = r.username \
                     where r.duty_date >= $1 and r.duty_date <= $2 order by r.duty_date",
                )
                .bind(from.format("%Y-%m-%d").to_string())
                .bind(to.format("%Y-%m-%d").to_string())
                .fetch_all(self.reader())
                .await?;
                rows.into_iter()
                    .map(|(d, u, n)| Ok((chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(anyhow::Error::new)?, u, n)))
                    .collect()
            }

            async fn duty_leader_on(&self, date: chrono::NaiveDate) -> $crate::storage::StoreResult<Option<$crate::storage::UserRecord>> {
                let row: Option<UserRow> = sqlx::query_as(&format!(
                    "select {USER_COLUMNS} from duty_roster r join users u on u.username = r.username where r.duty_date = $1"
                ))
                .bind(date.format("%Y-%m-%d").to_string())
                .fetch_optional(self.reader())
                .await?;
                row.map(user_record).transpose()
            }

            async fn set_user_email(&self, username: &str, email: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<bool> {
                let done = sqlx::query("update users set email = $1, updated_at = $2 where username = $3")
                    .bind(email)
                    .bind(now)
                    .bind(username)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn user_by_display_name(&self, name: &str) -> $crate::storage::StoreResult<Option<($crate::storage::UserRecord, Option<String>)>> {
                #[derive(sqlx::FromRow)]
                struct Row {
                    #[sqlx(flatten)]
                    user: UserRow,
                    email: Option<String>,
                }
                let row: Option<Row> = sqlx::query_as(&format!(
                    "select {USER_COLUMNS}, u.email from users u where u.display_name = $1 and u.disabled = $2 order by u.id limit 1"
                ))
                .bind(name)
                .bind(false)
                .fetch_optional(self.reader())
                .await?;
                row.map(|r| Ok((user_record(r.user)?, r.email))).transpose()
            }

            async fn cases_due_before(&self, until: chrono::DateTime<chrono::Utc>, limit: u32) -> $crate::storage::StoreResult<Vec<$crate::domain::Case>> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                let rows: Vec<CaseRow> = sqlx::query_as(&format!(
                    "select {CASE_COLUMNS} from cases where status in ('new', 'in_progress') and deadline < $1 \
                     order by deadline, id limit $2"
                ))
                .bind(until)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?;
                Ok(rows.into_iter().map($crate::domain::Case::try_from).collect::<anyhow::Result<_>>()?)
            }

            async fn raise_alert(
                &self,
                case_id: i64,
                kind: &str,
                deadline: chrono::DateTime<chrono::Utc>,
                notifications: &[$crate::storage::NewOutboxMessage],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                let mut tx = self.writer().begin().await?;
                let claimed: Option<(i64,)> = sqlx::query_as(
                    "insert into case_alerts (case_id, kind, deadline, created_at) values ($1, $2, $3, $4) \
                     on conflict do nothing returning case_id",
                )
                .bind(case_id)
                .bind(kind)
                .bind(deadline)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if claimed.is_none() {
                    tx.rollback().await?;
                    return Ok(false);
                }
                for n in notifications {
                    insert_outbox(&mut tx, Some(case_id), &n.topic, &n.recipient, &n.payload, now).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn rate_case(&self, r: &$crate::storage::NewRating, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<()> {
                let mut tx = self.writer().begin().await?;
                sqlx::query(
                    "insert into ratings (case_id, level, comment, source, recorded_by, verify_due, rectify_due, created_at) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(r.case_id)
                .bind(r.level.as_str())
                .bind(r.comment.as_deref())
                .bind(r.source)
                .bind(&r.recorded_by)
                .bind(r.verify_due)
                .bind(r.rectify_due)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let after = serde_json::json!({"rating": r.level, "source": r.source});
                let note = match &r.comment {
                    Some(c) => format!("{}：{c}", r.level.label_zh()),
                    None => r.level.label_zh().to_owned(),
                };
                insert_event(&mut tx, r.case_id, now, &r.recorded_by, "rate", &serde_json::json!({}), &after, Some(&note)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn rating_of(&self, case_id: i64) -> $crate::storage::StoreResult<Option<$crate::storage::RatingRecord>> {
                let rows = load_ratings(self.reader(), "r.case_id = $1", Some(case_id)).await?;
                Ok(rows.into_iter().next())
            }

            async fn open_bad_ratings(&self) -> $crate::storage::StoreResult<Vec<$crate::storage::RatingRecord>> {
                load_ratings(
                    self.reader(),
                    "r.level in ('dissatisfied', 'very_dissatisfied') and r.followed_up_at is null",
                    None,
                )
                .await
            }

            async fn follow_up_rating(&self, case_id: i64, outcome: &str, by: &str, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<bool> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query(
                    "update ratings set follow_up = $1, followed_up_by = $2, followed_up_at = $3 \
                     where case_id = $4 and followed_up_at is null and level in ('dissatisfied', 'very_dissatisfied')",
                )
                .bind(outcome)
                .bind(by)
                .bind(now)
                .bind(case_id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                insert_event(&mut tx, case_id, now, by, "rating_follow_up", &serde_json::json!({}), &serde_json::json!({}), Some(outcome)).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn awaiting_approval(&self) -> $crate::storage::StoreResult<Vec<($crate::domain::Case, String)>> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                #[derive(sqlx::FromRow)]
                struct Row {
                    #[sqlx(flatten)]
                    case: CaseRow,
                    request: Option<String>,
                }
                let columns = CASE_COLUMNS.split(", ").map(|c| format!("c.{}", c.trim())).collect::<Vec<_>>().join(", ");
                let sql = format!(
                    "select {columns}, r.note as request from cases c \
                     join (select case_id, max(id) as id from case_events where action = 'request_approval' group by case_id) last on last.case_id = c.id \
                     join case_events r on r.id = last.id \
                     where c.status in ('new', 'in_progress') and not exists (select 1 from case_events d where d.case_id = c.id \
                     and d.id > last.id and d.action in ('approve_missing_materials', 'refuse')) order by r.id"
                );
                let rows: Vec<Row> = sqlx::query_as(&sql).fetch_all(self.reader()).await?;
                rows.into_iter()
                    .map(|r| Ok(($crate::domain::Case::try_from(r.case)?, r.request.unwrap_or_default())))
                    .collect::<anyhow::Result<Vec<_>>>()
                    .map_err(Into::into)
            }

            async fn gauges(&self, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<$crate::storage::Gauges> {
                let pool = self.reader();
                let open: Vec<(String, String, i64)> = sqlx::query_as(
                    "select status, tier, count(*) from cases where status in ('new', 'in_progress') group by status, tier order by status, tier",
                )
                .fetch_all(pool)
                .await?;
                let (overdue,): (i64,) = sqlx::query_as(
                    "select count(*) from cases where status in ('new', 'in_progress') and deadline < $1",
                )
                .bind(now)
                .fetch_one(pool)
                .await?;
                let by_channel: Vec<(String, i64)> =
                    sqlx::query_as("select channel, count(*) from cases group by channel order by channel")
                        .fetch_all(pool)
                        .await?;
                let (callback_backlog,): (i64,) =
                    sqlx::query_as("select count(*) from callback_entries where status = 'open'")
                        .fetch_one(pool)
                        .await?;
                let (outbox_pending, outbox_oldest): (i64, Option<chrono::DateTime<chrono::Utc>>) =
                    sqlx::query_as("select count(*), min(created_at) from outbox where status = 'pending'")
                        .fetch_one(pool)
                        .await?;
                let (outbox_dead,): (i64,) = sqlx::query_as("select count(*) from outbox where status = 'dead'")
                    .fetch_one(pool)
                    .await?;
                let (quarantine_open,): (i64,) =
                    sqlx::query_as("select count(*) from quarantine where resolved_at is null")
                        .fetch_one(pool)
                        .await?;
                Ok($crate::storage::Gauges {
                    open,
                    overdue,
                    by_channel,
                    callback_backlog,
                    outbox_pending,
                    outbox_dead,
                    outbox_oldest,
                    quarantine_open,
                })
            }

            async fn statistics(
                &self,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<$crate::storage::Statistics> {
                let pool = self.reader();
                let grouped = |column: &'static str| {
                    let sql = format!(
                        "select {column}, count(*) from cases where received_at >= $1 and received_at < $2 group by {column} order by {column}"
                    );
                    async move {
                        let rows: Vec<(String, i64)> = sqlx::query_as(&sql).bind(from).bind(to).fetch_all(pool).await?;
                        Ok::<_, sqlx::Error>(rows)
                    }
                };
                let by_channel = grouped("channel").await?;
                let by_cause = grouped("cause").await?;
                let by_tier = grouped("tier").await?;
                let by_status = grouped("status").await?;
                let total = by_channel.iter().map(|(_, n)| n).sum();
                let on_time: Vec<(String, i64, i64)> = sqlx::query_as(
                    "select c.tier, count(*), sum(case when f.at <= c.deadline then 1 else 0 end) from cases c \
                     join (select case_id, min(at) as at from case_events where action in ('resolve', 'refuse', 'answer_and_close') group by case_id) f \
                     on f.case_id = c.id where c.received_at >= $1 and c.received_at < $2 group by c.tier order by c.tier",
                )
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                let (callbacks_total, callbacks_on_time): (i64, Option<i64>) = sqlx::query_as(
                    "select count(*), sum(case when reached_at is not null and reached_at <= deadline_at then 1 else 0 end) \
                     from callback_entries where opening_at >= $1 and opening_at < $2",
                )
                .bind(from)
                .bind(to)
                .fetch_one(pool)
                .await?;
                let ratings: Vec<(String, i64)> = sqlx::query_as(
                    "select r.level, count(*) from ratings r join cases c on c.id = r.case_id \
                     where c.received_at >= $1 and c.received_at < $2 group by r.level order by r.level",
                )
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                let staff_side_by_matter: Vec<(String, i64)> = sqlx::query_as(
                    "select matter, count(*) from cases where cause = 'staff_side' and received_at >= $1 and received_at < $2 \
                     group by matter order by count(*) desc, matter",
                )
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                let (consultations,): (i64,) = sqlx::query_as(
                    "select count(*) from cases where consultation = $3 and received_at >= $1 and received_at < $2",
                )
                .bind(from)
                .bind(to)
                .bind(true)
                .fetch_one(pool)
                .await?;
                Ok($crate::storage::Statistics {
                    total,
                    by_channel,
                    by_cause,
                    by_tier,
                    by_status,
                    on_time,
                    callbacks_total,
                    callbacks_on_time: callbacks_on_time.unwrap_or(0),
                    ratings,
                    staff_side_by_matter,
                    consultations,
                })
            }

            async fn cases_of_phones(&self, phones: &[String]) -> $crate::storage::StoreResult<Vec<$crate::domain::Case>> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                let mut cases = Vec::new();
                for chunk in phones.chunks(500) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!("select {CASE_COLUMNS} from cases where phone_e164 in ("));
                    let mut list = q.separated(", ");
                    for p in chunk {
                        list.push_bind(p.as_str());
                    }
                    list.push_unseparated(") order by received_at desc, id desc");
                    let rows: Vec<CaseRow> = q.build_query_as().fetch_all(self.reader()).await?;
                    for r in rows {
                        cases.push($crate::domain::Case::try_from(r)?);
                    }
                }
                Ok(cases)
            }

            async fn create_user(
                &self,
                user: &$crate::storage::NewUser,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<$crate::storage::UserRecord> {
                let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
                sqlx::query(
                    "insert into users (username, display_name, password_hash, roles, disabled, failed_logins, \
                     lang, created_at, updated_at) values ($1, $2, $3, $4, $5, 0, 'zh', $6, $6)",
                )
                .bind(&user.username)
                .bind(&user.display_name)
                .bind(&user.password_hash)
                .bind(roles.join(","))
                .bind(false)
                .bind(now)
                .execute(self.writer())
                .await?;
                self.user_by_username(&user.username)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("the user just created is missing").into())
            }

            async fn user_by_username(
                &self,
                username: &str,
            ) -> $crate::storage::StoreResult<Option<$crate::storage::UserRecord>> {
                let row: Option<UserRow> = sqlx::query_as(&format!("select {USER_COLUMNS} from users u where u.username = $1"))
                    .bind(username)
                    .fetch_optional(self.writer())
                    .await?;
                row.map(user_record).transpose()
            }

            async fn set_password(&self, username: &str, hash: &str, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<bool> {
                let done = sqlx::query(
                    "update users set password_hash = $1, failed_logins = 0, locked_until = null, updated_at = $2 where username = $3",
                )
                .bind(hash)
                .bind(now)
                .bind(username)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_disabled(&self, username: &str, disabled: bool, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<bool> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query("update users set disabled = $1, updated_at = $2 where username = $3")
                    .bind(disabled)
                    .bind(now)
                    .bind(username)
                    .execute(&mut *tx)
                    .await?;
                if disabled {
                    sqlx::query("delete from sessions where user_id = (select id from users where username = $1)")
                        .bind(username)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_user_lang(&self, user_id: i64, lang: &str, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<()> {
                sqlx::query("update users set lang = $1, updated_at = $2 where id = $3")
                    .bind(lang)
                    .bind(now)
                    .bind(user_id)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn login_failed(
                &self,
                user_id: i64,
                lock_after: i64,
                lock_until: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<()> {
                sqlx::query(
                    "update users set failed_logins = failed_logins + 1, \
                     locked_until = case when failed_logins + 1 >= $1 then $2 else locked_until end, \
                     updated_at = $3 where id = $4",
                )
                .bind(lock_after)
                .bind(lock_until)
                .bind(now)
                .bind(user_id)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn login_succeeded(&self, user_id: i64, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<()> {
                sqlx::query("update users set failed_logins = 0, locked_until = null, updated_at = $1 where id = $2")
                    .bind(now)
                    .bind(user_id)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn create_session(
                &self,
                id_hash: &str,
                user_id: i64,
                csrf_token: &str,
                expires_at: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<()> {
                sqlx::query(
                    "insert into sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) \
                     values ($1, $2, $3, $4, $4, $5)",
                )
                .bind(id_hash)
                .bind(user_id)
                .bind(csrf_token)
                .bind(now)
                .bind(expires_at)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn session(
                &self,
                id_hash: &str,
                idle_since: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Option<$crate::storage::SessionRecord>> {
                #[derive(sqlx::FromRow)]
                struct Row {
                    #[sqlx(flatten)]
                    user: UserRow,
                    csrf_token: String,
                    expires_at: chrono::DateTime<chrono::Utc>,
                    last_seen_at: chrono::DateTime<chrono::Utc>,
                }
                let row: Option<Row> = sqlx::query_as(&format!(
                    "select {USER_COLUMNS}, s.csrf_token, s.expires_at, s.last_seen_at from sessions s \
                     join users u on u.id = s.user_id where s.id_hash = $1 and s.expires_at > $2 \
                     and s.last_seen_at > $3 and u.disabled = $4"
                ))
                .bind(id_hash)
                .bind(now)
                .bind(idle_since)
                .bind(false)
                .fetch_optional(self.reader())
                .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                // Refreshing at most once a minute keeps reads from becoming writes.
                if now - row.last_seen_at > chrono::Duration::minutes(1) {
                    sqlx::query("update sessions set last_seen_at = $1 where id_hash = $2")
                        .bind(now)
                        .bind(id_hash)
                        .execute(self.writer())
                        .await?;
                }
                Ok(Some($crate::storage::SessionRecord {
                    user: user_record(row.user)?,
                    csrf_token: row.csrf_token,
                    expires_at: row.expires_at,
                }))
            }

            async fn delete_session(&self, id_hash: &str) -> $crate::storage::StoreResult<()> {
                sqlx::query("delete from sessions where id_hash = $1")
                    .bind(id_hash)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }
        }

        const USER_COLUMNS: &str = "u.id, u.username, u.display_name, u.password_hash, u.roles, u.disabled, \
             u.failed_logins, u.locked_until, u.lang";

        #[derive(sqlx::FromRow)]
        struct UserRow {
            id: i64,
            username: String,
            display_name: String,
            password_hash: String,
            roles: String,
            disabled: bool,
            failed_logins: i64,
            locked_until: Option<chrono::DateTime<chrono::Utc>>,
            lang: String,
        }

        fn user_record(r: UserRow) -> $crate::storage::StoreResult<$crate::storage::UserRecord> {
            let roles = r
                .roles
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map_err(anyhow::Error::new))
                .collect::<anyhow::Result<Vec<$crate::domain::Role>>>()?;
            Ok($crate::storage::UserRecord {
                id: r.id,
                username: r.username,
                display_name: r.display_name,
                password_hash: r.password_hash,
                roles,
                disabled: r.disabled,
                failed_logins: r.failed_logins,
                locked_until: r.locked_until,
                lang: r.lang,
            })
        }

        async fn load_ratings(
            pool: &sqlx::Pool<$db>,
            filter: &str,
            case_id: Option<i64>,
        ) -> $crate::storage::StoreResult<Vec<$crate::storage::RatingRecord>> {
            type Ts = chrono::DateTime<chrono::Utc>;
            #[allow(clippy::type_complexity)]
            let sql = format!(
                "select r.case_id, c.number, r.level, r.comment, r.source, r.recorded_by, r.verify_due, r.rectify_due, \
                 r.follow_up, r.followed_up_by, r.followed_up_at, r.created_at from ratings r join cases c on c.id = r.case_id \
                 where {filter} order by r.created_at"
            );
            let mut q = sqlx::query_as::<_, (i64, String, String, Option<String>, String, String, Option<Ts>, Option<Ts>, Option<String>, Option<String>, Option<Ts>, Ts)>(&sql);
            if let Some(id) = case_id {
                q = q.bind(id);
            }
            let rows = q.fetch_all(pool).await?;
            rows.into_iter()
                .map(|(case_id, case_number, level, comment, source, recorded_by, verify_due, rectify_due, follow_up, followed_up_by, followed_up_at, created_at)| {
                    Ok($crate::storage::RatingRecord {
                        case_id, case_number, level: level.parse().map_err(anyhow::Error::new)?, comment, source, recorded_by,
                        verify_due, rectify_due, follow_up, followed_up_by, followed_up_at, created_at,
                    })
                })
                .collect()
        }

        /// Which entries to load: a day's list, or one entry.
        enum EntryKey {
            Day(String, chrono::DateTime<chrono::Utc>),
            Id(i64),
            Since(chrono::DateTime<chrono::Utc>),
        }

        fn bind_key<'q, O>(
            q: sqlx::query::QueryAs<'q, $db, O, <$db as sqlx::Database>::Arguments<'q>>,
            key: &'q EntryKey,
        ) -> sqlx::query::QueryAs<'q, $db, O, <$db as sqlx::Database>::Arguments<'q>> {
            match key {
                EntryKey::Day(date, opening) => q.bind(date.as_str()).bind(*opening),
                EntryKey::Id(id) => q.bind(*id),
                EntryKey::Since(t) => q.bind(*t),
            }
        }

        /// Entries matching `filter` (over `e`, the entries), with their cases, recordings
        /// and attempts, in four queries.
        async fn load_entries(
            pool: &sqlx::Pool<$db>,
            filter: &str,
            key: EntryKey,
        ) -> $crate::storage::StoreResult<Vec<$crate::storage::CallbackEntryRecord>> {
            use std::collections::HashMap;
            type Ts = chrono::DateTime<chrono::Utc>;
            #[allow(clippy::type_complexity)]
            let rows: Vec<(i64, String, Ts, Option<String>, bool, String, Ts, Ts, String, i64, Option<Ts>, Option<Ts>, Option<Ts>, Option<String>, Option<Ts>, Option<Ts>)> =
                bind_key(sqlx::query_as(&format!(
                    "select e.id, e.list_date, e.opening_at, e.phone_e164, e.urgent, e.kind, e.first_arrival_at, \
                     e.deadline_at, e.status, e.attempts, e.next_attempt_at, e.first_attempt_at, e.reached_at, \
                     e.claimed_by, e.claimed_until, e.finished_at from callback_entries e where {filter}"
                )), &key)
                .fetch_all(pool)
                .await?;
            let cases: Vec<(i64, i64, String, String, Ts, String)> = bind_key(sqlx::query_as(&format!(
                "select x.entry_id, c.id, c.number, c.channel, c.received_at, c.description from callback_entry_cases x \
                 join callback_entries e on e.id = x.entry_id join cases c on c.id = x.case_id where {filter} \
                 order by c.received_at, c.id"
            )), &key)
            .fetch_all(pool)
            .await?;
            let recordings: Vec<(i64, i64, i64, i64)> = bind_key(sqlx::query_as(&format!(
                "select x.entry_id, r.id, r.case_id, r.duration_ms from recordings r \
                 join callback_entry_cases x on x.case_id = r.case_id join callback_entries e on e.id = x.entry_id \
                 where {filter} order by r.id"
            )), &key)
            .fetch_all(pool)
            .await?;
            let attempts: Vec<(i64, Ts, String, String, Option<String>)> = bind_key(sqlx::query_as(&format!(
                "select a.entry_id, a.at, a.actor, a.outcome, a.note from callback_attempts a \
                 join callback_entries e on e.id = a.entry_id where {filter} order by a.id"
            )), &key)
            .fetch_all(pool)
            .await?;
            let mut entries: Vec<$crate::storage::CallbackEntryRecord> = Vec::with_capacity(rows.len());
            let mut index: HashMap<i64, usize> = HashMap::new();
            for (id, list_date, opening_at, phone, urgent, kind, first_arrival_at, deadline_at, status, attempts_n,
                 next_attempt_at, first_attempt_at, reached_at, claimed_by, claimed_until, finished_at) in rows
            {
                index.insert(id, entries.len());
                entries.push($crate::storage::CallbackEntryRecord {
                    id,
                    list_date: chrono::NaiveDate::parse_from_str(&list_date, "%Y-%m-%d").map_err(anyhow::Error::new)?,
                    opening_at,
                    phone,
                    urgent,
                    kind: kind.parse().map_err(anyhow::Error::new)?,
                    first_arrival_at,
                    deadline_at,
                    status: status.parse().map_err(anyhow::Error::new)?,
                    attempts: attempts_n,
                    next_attempt_at,
                    first_attempt_at,
                    reached_at,
                    claimed_by,
                    claimed_until,
                    finished_at,
                    cases: Vec::new(),
                    recordings: Vec::new(),
                    attempt_log: Vec::new(),
                });
            }
            for (entry_id, case_id, number, channel, received_at, description) in cases {
                if let Some(&i) = index.get(&entry_id) {
                    entries[i].cases.push($crate::storage::EntryCase {
                        case_id, number, channel: channel.parse().map_err(anyhow::Error::new)?, received_at, description,
                    });
                }
            }
            for (entry_id, id, case_id, duration_ms) in recordings {
                if let Some(&i) = index.get(&entry_id) {
                    entries[i].recordings.push($crate::storage::EntryRecording { id, case_id, duration_ms });
                }
            }
            for (entry_id, at, actor, outcome, note) in attempts {
                if let Some(&i) = index.get(&entry_id) {
                    entries[i].attempt_log.push($crate::storage::CallbackAttemptRecord {
                        at, actor, outcome: outcome.parse().map_err(anyhow::Error::new)?, note,
                    });
                }
            }
            Ok(entries)
        }


        /// Numbers and inserts a case with its first events, inside the caller's transaction.
        /// Counts a hit against a per-address limit inside the caller's transaction; false
        /// (and nothing counted) when the address is over it.
        async fn rate_hit_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            scope: &str,
            key: &str,
            limits: &[(chrono::Duration, u32)],
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<bool, sqlx::Error> {
            let Some(longest) = limits.iter().map(|(w, _)| *w).max() else {
                return Ok(true);
            };
            sqlx::query("delete from rate_hits where scope = $1 and key = $2 and at < $3")
                .bind(scope)
                .bind(key)
                .bind(now - longest)
                .execute(&mut **tx)
                .await?;
            for (window, most) in limits {
                let (count,): (i64,) = sqlx::query_as(
                    "select count(*) from rate_hits where scope = $1 and key = $2 and at > $3",
                )
                .bind(scope)
                .bind(key)
                .bind(now - *window)
                .fetch_one(&mut **tx)
                .await?;
                if count >= i64::from(*most) {
                    return Ok(false);
                }
            }
            sqlx::query("insert into rate_hits (scope, key, at) values ($1, $2, $3)")
                .bind(scope)
                .bind(key)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            Ok(true)
        }

        /// A whole batch of website messages with a few multi-row statements: the senders'
        /// limits counted in memory from one read, folds found with one read, the day's
        /// counter advanced once, then cases, search grams, timeline events (the chain
        /// hashed in memory), website records, confirmations and limit hits each in one
        /// insert. None when the batch is not of the common shape (several days, several
        /// kinds of limit): the caller writes it one message at a time.
        async fn submit_website_batch(
            tx: &mut sqlx::Transaction<'_, $db>,
            batch: &[($crate::storage::WebsiteSubmission, chrono::DateTime<chrono::Utc>)],
            prefix: &str,
            tz: chrono_tz::Tz,
            memory: Option<&$crate::storage::sender_limits::SenderLimits>,
        ) -> $crate::storage::StoreResult<Option<Vec<$crate::storage::StoreResult<$crate::storage::WebsiteOutcome>>>> {
            use std::collections::HashMap;
            use $crate::storage::WebsiteOutcome;
            use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
            let Some((_, first_now)) = batch.first() else {
                return Ok(Some(Vec::new()));
            };
            let day = first_now.with_timezone(&tz).date_naive();
            let uncommon = |(s, now): &($crate::storage::WebsiteSubmission, chrono::DateTime<chrono::Utc>)| {
                now.with_timezone(&tz).date_naive() != day || s.message.case.consultation.is_some()
            };
            if batch.iter().any(uncommon) {
                return Ok(None);
            }
            let rate = batch.iter().find_map(|(s, _)| s.rate.as_ref());
            if let Some(r) = rate {
                let same = |o: &Option<$crate::storage::RateCheck>| {
                    o.as_ref().is_some_and(|o| o.scope == r.scope && o.limits == r.limits)
                };
                if !batch.iter().all(|(s, _)| same(&s.rate)) {
                    return Ok(None);
                }
            }
            // 1. The senders' limits: each address's hits per window, where the engine keeps
            //    them (in memory, or rows of `rate_hits` with the old ones dropped first),
            //    then the batch's own messages counted on top, in order.
            let mut limited = vec![false; batch.len()];
            let mut hits: Vec<(&str, chrono::DateTime<chrono::Utc>)> = Vec::new();
            if let Some(r) = rate {
                let latest = batch.iter().map(|(_, n)| *n).max().unwrap_or(*first_now);
                let mut keys: Vec<&str> = batch.iter().filter_map(|(s, _)| s.rate.as_ref().map(|r| r.key.as_str())).collect();
                keys.sort_unstable();
                keys.dedup();
                let mut counts: HashMap<String, Vec<i64>> = HashMap::new();
                match memory {
                    Some(memory) => {
                        let windows: Vec<chrono::Duration> = r.limits.iter().map(|(w, _)| *w).collect();
                        for key in &keys {
                            counts.insert((*key).to_owned(), memory.counts(&r.scope, key, &windows, latest));
                        }
                    }
                    None => {
                        let earliest = batch.iter().map(|(_, n)| *n).min().unwrap_or(*first_now);
                        let mut rows = Vec::new();
                        for run in keys.chunks($crate::storage::BATCH_RUN) {
                            let mut delete = sqlx::QueryBuilder::<$db>::new("delete from rate_hits where scope = ");
                            delete.push_bind(&r.scope).push(" and at < ").push_bind(earliest - r.longest()).push(" and key in (");
                            let mut list = delete.separated(", ");
                            for k in run {
                                list.push_bind(*k);
                            }
                            delete.push(")");
                            delete.build().execute(&mut **tx).await?;
                            let mut count = sqlx::QueryBuilder::<$db>::new("select key");
                            for (window, _) in &r.limits {
                                count.push(", sum(case when at > ").push_bind(latest - *window).push(" then 1 else 0 end)");
                            }
                            count.push(" from rate_hits where scope = ").push_bind(&r.scope).push(" and key in (");
                            let mut list = count.separated(", ");
                            for k in run {
                                list.push_bind(*k);
                            }
                            count.push(") group by key");
                            rows.extend(count.build().fetch_all(&mut **tx).await?);
                        }
                        for row in rows {
                            use sqlx::Row;
                            let key: String = row.try_get(0)?;
                            let per_window = (0..r.limits.len())
                                .map(|i| row.try_get::<Option<i64>, _>(i + 1).map(|n| n.unwrap_or(0)))
                                .collect::<Result<Vec<i64>, _>>()?;
                            counts.insert(key, per_window);
                        }
                    }
                }
                for (i, (s, now)) in batch.iter().enumerate() {
                    let Some(check) = &s.rate else { continue };
                    let c = counts.entry(check.key.clone()).or_insert_with(|| vec![0; r.limits.len()]);
                    if r.limits.iter().zip(c.iter()).any(|((_, most), n)| *n >= i64::from(*most)) {
                        limited[i] = true;
                        continue;
                    }
                    c.iter_mut().for_each(|n| *n += 1);
                    hits.push((check.key.as_str(), *now));
                }
            }
            // 2. Folds: a recent website message with the same key, or an earlier one of
            //    this batch. A key is the phone and the text, so the stored messages it could
            //    fold into are found through the cases' phone index (the key itself has no
            //    index: one randomly keyed entry fewer per message).
            let mut phones: Vec<&str> = batch
                .iter()
                .zip(&limited)
                .filter(|(_, l)| !**l)
                .filter_map(|((s, _), _)| s.message.case.citizen.phone.as_ref().map(|p| p.e164()))
                .collect();
            phones.sort_unstable();
            phones.dedup();
            let mut earlier: HashMap<String, (chrono::DateTime<chrono::Utc>, i64)> = HashMap::new();
            if !phones.is_empty() {
                let since = batch.iter().map(|(s, _)| s.fold_since).min().unwrap_or(*first_now);
                let mut rows: Vec<(String, chrono::DateTime<chrono::Utc>, i64)> = Vec::new();
                for run in phones.chunks($crate::storage::BATCH_RUN) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "select w.fold_key, w.created_at, w.case_id from cases c \
                         join website_messages w on w.case_id = c.id where w.created_at >= ",
                    );
                    q.push_bind(since).push(" and c.phone_e164 in (");
                    let mut list = q.separated(", ");
                    for phone in run {
                        list.push_bind(*phone);
                    }
                    q.push(")");
                    rows.extend(q.build_query_as::<(String, chrono::DateTime<chrono::Utc>, i64)>().fetch_all(&mut **tx).await?);
                }
                for (key, at, case_id) in rows {
                    let newer = earlier.get(&key).is_none_or(|(seen, _)| at > *seen);
                    if newer {
                        earlier.insert(key, (at, case_id));
                    }
                }
            }
            // 3. What each message becomes: limited, folded into a stored case, folded into
            //    an earlier message of the batch, or a new case.
            enum Plan {
                Limited,
                FoldStored(i64),
                FoldBatch(usize),
                New(usize),
            }
            let mut plans = Vec::with_capacity(batch.len());
            let mut first_of_key: HashMap<&str, usize> = HashMap::new();
            let mut creating: Vec<usize> = Vec::new();
            for (i, (s, _)) in batch.iter().enumerate() {
                let key = s.message.fold_key.as_str();
                plans.push(if limited[i] {
                    Plan::Limited
                } else if let Some((_, case_id)) = earlier.get(key).filter(|(at, _)| *at >= s.fold_since) {
                    Plan::FoldStored(*case_id)
                } else if let Some(&j) = first_of_key.get(key) {
                    Plan::FoldBatch(j)
                } else {
                    first_of_key.insert(key, creating.len());
                    creating.push(i);
                    Plan::New(creating.len() - 1)
                });
            }
            // 4. Numbers: the day's counter advanced once for the batch (the row stays
            //    locked until commit, as for one registration).
            let mut cases: Vec<$crate::domain::Case> = Vec::with_capacity(creating.len());
            if !creating.is_empty() {
                let n = creating.len() as i64;
                let (last,): (i64,) = sqlx::query_as(
                    "insert into case_counters (day, last_seq, created_at) values ($1, $2, $3) \
                     on conflict (day) do update set last_seq = case_counters.last_seq + excluded.last_seq \
                     returning last_seq",
                )
                .bind(day.format("%Y-%m-%d").to_string())
                .bind(n)
                .bind(first_now)
                .fetch_one(&mut **tx)
                .await?;
                let first_seq = last - n + 1;
                let numbers: Vec<$crate::domain::CaseNumber> = (0..n)
                    .map(|k| {
                        u32::try_from(first_seq + k)
                            .map(|seq| $crate::domain::CaseNumber::new(prefix, day, seq))
                            .map_err(|e| anyhow::anyhow!("day counter overflow: {e}"))
                    })
                    .collect::<Result<_, _>>()?;
                let pairs: Vec<(usize, &$crate::domain::CaseNumber)> = creating.iter().copied().zip(&numbers).collect();
                let mut rows: Vec<CaseRow> = Vec::with_capacity(pairs.len());
                for run in pairs.chunks($crate::storage::BATCH_RUN) {
                let mut insert = sqlx::QueryBuilder::<$db>::new(format!(
                    "insert into cases ({}) ",
                    $crate::storage::rows::CASE_INSERT_COLUMNS
                ));
                insert.push_values(run, |mut b, &(i, number)| {
                    let (s, now) = &batch[i];
                    let new = &s.message.case;
                    let phone = new.citizen.phone.as_ref();
                    b.push_bind(number.as_str().to_owned())
                        .push_bind(new.channel.as_str())
                        .push_bind(new.received_at)
                        .push_bind(new.citizen.name.clone())
                        .push_bind(phone.map(|p| p.e164().to_owned()))
                        .push_bind(phone.map(|p| p.original().to_owned()))
                        .push_bind(new.citizen.id_card_masked.clone())
                        .push_bind(new.citizen.id_card_digest.clone())
                        .push_bind(new.matter.clone())
                        .push_bind(new.description.clone())
                        .push_bind($crate::domain::Cause::Unclassified.as_str())
                        .push_bind(new.tier.as_str())
                        .push_bind($crate::domain::Status::New.as_str())
                        .push_bind(None::<String>)
                        .push_bind(new.deadline)
                        .push_bind(new.deadline_provisional)
                        .push_bind(new.off_hours)
                        .push_bind(false)
                        .push_bind(new.urgent)
                        .push_bind(new.callback.map(|c| c.due_at))
                        .push_bind(new.callback.map(|c| c.kind.as_str()))
                        .push_bind(*now)
                        .push_bind(*now)
                        .push_bind(1_i64);
                });
                insert.push(format!(" returning {CASE_COLUMNS}"));
                rows.extend(insert.build_query_as::<CaseRow>().fetch_all(&mut **tx).await?);
                }
                let mut by_number: HashMap<String, $crate::domain::Case> = HashMap::new();
                for row in rows {
                    let case = $crate::domain::Case::try_from(row)?;
                    by_number.insert(case.number.as_str().to_owned(), case);
                }
                for number in &numbers {
                    let case = by_number
                        .remove(number.as_str())
                        .ok_or_else(|| anyhow::anyhow!("case {number} missing after the batch insert"))?;
                    cases.push(case);
                }
                // 5. No search grams here: the cases wait in the search backlog for the
                //    indexer, which writes them in bulk.
                for run in cases.chunks($crate::storage::BATCH_RUN) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new("insert into search_backlog (case_id) ");
                    insert.push_values(run, |mut b, case| {
                        b.push_bind(case.id);
                    });
                    insert.build().execute(&mut **tx).await?;
                }
                // 6. The register events, chained in memory and written in one insert; the
                //    ids must come back in order, or the chain would not follow them.
                let mut prev = chain_prev(tx, "case_events").await?;
                let mut events = Vec::with_capacity(cases.len());
                for (case, &i) in cases.iter().zip(&creating) {
                    let (s, now) = &batch[i];
                    let after = $crate::storage::rows::registered_state(case).to_string();
                    let actor = s.message.case.registered_by.clone();
                    let hash = $crate::domain::audit::event_hash(&prev, &case.id.to_string(), *now, &actor, "register", "{}", &after, None);
                    events.push((case.id, *now, actor, after, prev.clone(), hash.clone()));
                    prev = hash;
                }
                let mut ids: Vec<(i64, i64)> = Vec::with_capacity(events.len());
                for run in events.chunks($crate::storage::BATCH_RUN) {
                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "insert into case_events (case_id, at, actor, action, before_state, after_state, note, created_at, prev_hash, hash) ",
                );
                insert.push_values(run, |mut b, (case_id, at, actor, after, prev, hash)| {
                    b.push_bind(*case_id)
                        .push_bind(*at)
                        .push_bind(actor.as_str())
                        .push_bind("register")
                        .push_bind("{}")
                        .push_bind(after.as_str())
                        .push_bind(None::<String>)
                        .push_bind(*at)
                        .push_bind(prev.as_str())
                        .push_bind(hash.as_str());
                });
                insert.push(" returning id, case_id");
                ids.extend(insert.build_query_as::<(i64, i64)>().fetch_all(&mut **tx).await?);
                }
                let in_order = ids.len() == events.len()
                    && ids.windows(2).all(|w| w[0].0 < w[1].0)
                    && ids.iter().zip(&events).all(|((_, case_id), e)| *case_id == e.0);
                if !in_order {
                    return Ok(None);
                }
                if let Some((last_id, _)) = ids.last() {
                    chain_advance(tx, "case_events", *last_id, &prev).await?;
                }
                // 7. Website records and confirmations.
                let records: Vec<(&$crate::domain::Case, usize)> = cases.iter().zip(creating.iter().copied()).collect();
                for run in records.chunks($crate::storage::BATCH_RUN) {
                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "insert into website_messages (case_id, tracking_digest, email, fold_key, created_at) ",
                );
                insert.push_values(run, |mut b, &(case, i)| {
                    let (s, now) = &batch[i];
                    b.push_bind(case.id)
                        .push_bind(s.tracking_digest.as_str())
                        .push_bind(s.message.email.as_deref())
                        .push_bind(s.message.fold_key.as_str())
                        .push_bind(*now);
                });
                insert.build().execute(&mut **tx).await?;
                }
                let mails: Vec<(i64, &str, &str, String, chrono::DateTime<chrono::Utc>)> = cases
                    .iter()
                    .zip(&creating)
                    .filter_map(|(case, &i)| {
                        let (s, now) = &batch[i];
                        s.confirmation.as_ref().map(|mail| {
                            let mut payload = mail.payload.clone();
                            if let Some(fields) = payload.as_object_mut() {
                                fields.insert("case_number".into(), case.number.as_str().into());
                            }
                            (case.id, mail.topic.as_str(), mail.recipient.as_str(), payload.to_string(), *now)
                        })
                    })
                    .collect();
                for run in mails.chunks($crate::storage::BATCH_RUN) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "insert into outbox (topic, case_id, recipient, payload, status, attempts, next_attempt_at, created_at) ",
                    );
                    insert.push_values(run, |mut b, (case_id, topic, recipient, payload, now)| {
                        b.push_bind(*topic)
                            .push_bind(*case_id)
                            .push_bind(*recipient)
                            .push_bind(payload.as_str())
                            .push_bind("pending")
                            .push_bind(0_i64)
                            .push_bind(*now)
                            .push_bind(*now);
                    });
                    insert.build().execute(&mut **tx).await?;
                }
            }
            // 8. The limit hits of every message let through, where they are rows (limits
            //    kept in memory are counted by the caller once the batch has committed).
            if let (Some(r), None) = (rate, memory) {
                for run in hits.chunks($crate::storage::BATCH_RUN) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new("insert into rate_hits (scope, key, at) ");
                    insert.push_values(run, |mut b, (key, at)| {
                        b.push_bind(r.scope.as_str()).push_bind(*key).push_bind(*at);
                    });
                    insert.build().execute(&mut **tx).await?;
                }
            }
            // 9. The answers, in order.
            let mut stored: HashMap<i64, $crate::domain::Case> = HashMap::new();
            for plan in &plans {
                if let Plan::FoldStored(id) = plan {
                    if !stored.contains_key(id) {
                        let sql = format!("select {CASE_COLUMNS} from cases where id = $1");
                        let row: CaseRow = sqlx::query_as(&sql).bind(*id).fetch_one(&mut **tx).await?;
                        stored.insert(*id, $crate::domain::Case::try_from(row)?);
                    }
                }
            }
            Ok(Some(
                plans
                    .iter()
                    .map(|plan| {
                        Ok(match plan {
                            Plan::Limited => WebsiteOutcome::Limited,
                            Plan::FoldStored(id) => WebsiteOutcome::Folded(Box::new(stored[id].clone())),
                            Plan::FoldBatch(k) => WebsiteOutcome::Folded(Box::new(cases[*k].clone())),
                            Plan::New(k) => WebsiteOutcome::Created(Box::new(cases[*k].clone())),
                        })
                    })
                    .collect(),
            ))
        }

        /// One website message inside the caller's transaction: the sender's limit, then
        /// the fold into a recent identical message, else a new case with its website
        /// record and confirmation.
        async fn submit_website_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            submission: &$crate::storage::WebsiteSubmission,
            prefix: &str,
            tz: chrono_tz::Tz,
            now: chrono::DateTime<chrono::Utc>,
            memory: Option<&$crate::storage::sender_limits::SenderLimits>,
        ) -> $crate::storage::StoreResult<$crate::storage::WebsiteOutcome> {
            use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
            let message = &submission.message;
            if let Some(rate) = &submission.rate {
                // In memory, the caller counts the hit once the message is stored.
                let allowed = match memory {
                    Some(memory) => memory.allows(&rate.scope, &rate.key, &rate.limits, now),
                    None => rate_hit_in(tx, &rate.scope, &rate.key, &rate.limits, now).await?,
                };
                if !allowed {
                    return Ok($crate::storage::WebsiteOutcome::Limited);
                }
            }
            // Found through the phone index, as in the batch path.
            let sql = format!(
                "select {CASE_COLUMNS} from cases where id = (select w.case_id from website_messages w \
                 join cases c on c.id = w.case_id where c.phone_e164 = $3 and w.fold_key = $1 \
                 and w.created_at >= $2 order by w.created_at desc limit 1)"
            );
            let earlier: Option<CaseRow> = sqlx::query_as(&sql)
                .bind(&message.fold_key)
                .bind(submission.fold_since)
                .bind(message.case.citizen.phone.as_ref().map(|p| p.e164()))
                .fetch_optional(&mut **tx)
                .await?;
            if let Some(row) = earlier {
                return Ok($crate::storage::WebsiteOutcome::Folded(Box::new(
                    $crate::domain::Case::try_from(row)?,
                )));
            }
            let case = insert_case(tx, &message.case, prefix, tz, now).await?;
            sqlx::query(
                "insert into website_messages (case_id, tracking_digest, email, fold_key, created_at) \
                 values ($1, $2, $3, $4, $5)",
            )
            .bind(case.id)
            .bind(&submission.tracking_digest)
            .bind(message.email.as_deref())
            .bind(&message.fold_key)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            if let Some(mail) = &submission.confirmation {
                // The case number is known only now: stamped into the payload.
                let mut payload = mail.payload.clone();
                if let Some(fields) = payload.as_object_mut() {
                    fields.insert("case_number".into(), case.number.as_str().into());
                }
                insert_outbox(tx, Some(case.id), &mail.topic, &mail.recipient, &payload, now).await?;
            }
            Ok($crate::storage::WebsiteOutcome::Created(Box::new(case)))
        }

        async fn insert_case(
            tx: &mut sqlx::Transaction<'_, $db>,
            new: &$crate::domain::NewCase,
            prefix: &str,
            tz: chrono_tz::Tz,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::storage::StoreResult<$crate::domain::Case> {
            use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
            let day = now.with_timezone(&tz).date_naive();
            // The day's counter row is locked by this upsert until commit: numbers are
            // unique across instances, and a rolled-back registration leaves no gap.
            let (seq,): (i64,) = sqlx::query_as(
                "insert into case_counters (day, last_seq, created_at) values ($1, 1, $2) \
                 on conflict (day) do update set last_seq = case_counters.last_seq + 1 \
                 returning last_seq",
            )
            .bind(day.format("%Y-%m-%d").to_string())
            .bind(now)
            .fetch_one(&mut **tx)
            .await?;
            let seq = u32::try_from(seq).map_err(|e| anyhow::anyhow!("day counter overflow: {e}"))?;
            let number = $crate::domain::CaseNumber::new(prefix, day, seq);
            let phone = new.citizen.phone.as_ref();
            let status = if new.consultation.is_some() {
                $crate::domain::Status::Closed
            } else {
                $crate::domain::Status::New
            };
            let sql = format!(
                "insert into cases ({}) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18, $19, $20, $21, $22, $22, 1) returning {CASE_COLUMNS}",
                $crate::storage::rows::CASE_INSERT_COLUMNS
            );
            let row: CaseRow = sqlx::query_as(&sql)
                .bind(number.as_str())
                .bind(new.channel.as_str())
                .bind(new.received_at)
                .bind(new.citizen.name.as_deref())
                .bind(phone.map(|p| p.e164()))
                .bind(phone.map(|p| p.original()))
                .bind(new.citizen.id_card_masked.as_deref())
                .bind(new.citizen.id_card_digest.as_deref())
                .bind(&new.matter)
                .bind(&new.description)
                .bind($crate::domain::Cause::Unclassified.as_str())
                .bind(new.tier.as_str())
                .bind(status.as_str())
                .bind(new.consultation.as_ref().map(|_| new.registered_by.as_str()))
                .bind(new.deadline)
                .bind(new.deadline_provisional)
                .bind(new.off_hours)
                .bind(new.consultation.is_some())
                .bind(new.urgent)
                .bind(new.callback.map(|c| c.due_at))
                .bind(new.callback.map(|c| c.kind.as_str()))
                .bind(now)
                .fetch_one(&mut **tx)
                .await?;
            // Its search grams are written later, in bulk, by the indexer.
            let case = $crate::domain::Case::try_from(row)?;
            sqlx::query("insert into search_backlog (case_id) values ($1)")
                .bind(case.id)
                .execute(&mut **tx)
                .await?;
            let after = $crate::storage::rows::registered_state(&case);
            let empty = serde_json::json!({});
            insert_event(tx, case.id, now, &new.registered_by, "register", &empty, &after, None).await?;
            if let Some(answer) = &new.consultation {
                let before = serde_json::json!({"status": $crate::domain::Status::New});
                let closed = serde_json::json!({"status": case.status, "consultation": true});
                insert_event(tx, case.id, now, &new.registered_by, "answer_and_close", &before, &closed, Some(answer))
                    .await?;
            }
            Ok(case)
        }

        /// Queues a notification inside the caller's transaction: it is sent only if the
        /// change that causes it commits.
        async fn insert_outbox(
            tx: &mut sqlx::Transaction<'_, $db>,
            case_id: Option<i64>,
            topic: &str,
            recipient: &str,
            payload: &serde_json::Value,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), sqlx::Error> {
            sqlx::query(
                "insert into outbox (topic, case_id, recipient, payload, status, attempts, next_attempt_at, created_at) \
                 values ($1, $2, $3, $4, 'pending', 0, $5, $5)",
            )
            .bind(topic)
            .bind(case_id)
            .bind(recipient)
            .bind(payload.to_string())
            .bind(now)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Appends one timeline event inside the caller's transaction.
        #[allow(clippy::too_many_arguments)]
        async fn insert_event(
            tx: &mut sqlx::Transaction<'_, $db>,
            case_id: i64,
            at: chrono::DateTime<chrono::Utc>,
            actor: &str,
            action: &str,
            before: &serde_json::Value,
            after: &serde_json::Value,
            note: Option<&str>,
        ) -> Result<i64, sqlx::Error> {
            let (before, after) = (before.to_string(), after.to_string());
            let prev = chain_prev(tx, "case_events").await?;
            let hash = $crate::domain::audit::event_hash(&prev, &case_id.to_string(), at, actor, action, &before, &after, note);
            let (id,): (i64,) = sqlx::query_as(
                "insert into case_events (case_id, at, actor, action, before_state, after_state, note, created_at, prev_hash, hash) \
                 values ($1, $2, $3, $4, $5, $6, $7, $2, $8, $9) returning id",
            )
            .bind(case_id)
            .bind(at)
            .bind(actor)
            .bind(action)
            .bind(before)
            .bind(after)
            .bind(note)
            .bind(&prev)
            .bind(&hash)
            .fetch_one(&mut **tx)
            .await?;
            chain_advance(tx, "case_events", id, &hash).await?;
            Ok(id)
        }

        /// The hash the next event of `chain` links to; the head row stays locked until the
        /// transaction ends, so appends to one chain never interleave.
        async fn chain_prev(tx: &mut sqlx::Transaction<'_, $db>, chain: &str) -> Result<String, sqlx::Error> {
            let (prev,): (String,) =
                sqlx::query_as("update chain_heads set last_id = last_id where name = $1 returning last_hash")
                    .bind(chain)
                    .fetch_one(&mut **tx)
                    .await?;
            Ok(prev)
        }

        async fn chain_advance(
            tx: &mut sqlx::Transaction<'_, $db>,
            chain: &str,
            id: i64,
            hash: &str,
        ) -> Result<(), sqlx::Error> {
            sqlx::query("update chain_heads set last_id = $1, last_hash = $2 where name = $3")
                .bind(id)
                .bind(hash)
                .bind(chain)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }
    };
}

pub(crate) use impl_shared_queries;

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
