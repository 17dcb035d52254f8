//! The SQL both backends share. SQLite and PostgreSQL accept the same `$n` placeholders,
//! `RETURNING` and `ON CONFLICT`; timestamps are UTC `DateTime`s on both (text in SQLite in
//! one fixed format, so it orders correctly; `timestamptz` in PostgreSQL). The macro stamps
//! the same queries out for each backend's pool type, so a query is written once.

/// Implements the case and token queries of [`super::Store`] for `$store`, whose
/// `writer()` and `reader()` return `&sqlx::Pool<$db>`. `$migrate` is its migrator.
macro_rules! impl_shared_queries {
    ($store:ty, $db:ty, $migrator:expr, $name:literal, $attach_lock:expr) => {
        #[async_trait::async_trait]
        impl $crate::storage::Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn migrate(&self) -> $crate::storage::StoreResult<()> {
                $migrator.run(self.writer()).await.map_err(|e| {
                    $crate::storage::StoreError::Other(anyhow::Error::new(e).context("applying migrations"))
                })
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
            ) -> $crate::storage::StoreResult<($crate::domain::Case, $crate::domain::Event)> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                let mut tx = self.writer().begin().await?;
                let sql = format!(
                    "update cases set status = $1, owner = $2, cause = $3, tier = $4, deadline = $5, \
                     deadline_provisional = $6, updated_at = $7, version = version + 1 \
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
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else {
                    return Err($crate::storage::StoreError::Conflict);
                };
                let updated = $crate::domain::Case::try_from(row)?;
                let event_id =
                    insert_event(&mut tx, case.id, now, actor, t.kind.code(), &t.before, &t.after, t.note.as_deref())
                        .await?;
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
                macro_rules! any_of {
                    ($column:literal, $values:expr) => {
                        if !$values.is_empty() {
                            b.push(concat!(" and ", $column, " in ("));
                            let mut list = b.separated(", ");
                            for v in $values.iter() {
                                list.push_bind(v.as_str());
                            }
                            list.push_unseparated(")");
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
                        b.push(" and status in ('new', 'in_progress') and deadline < ").push_bind(now);
                    }
                    Some(false) => {
                        b.push(" and (status not in ('new', 'in_progress') or deadline >= ").push_bind(now).push(")");
                    }
                    None => {}
                }
                if let Some(from) = q.received_from {
                    b.push(" and received_at >= ").push_bind(from);
                }
                if let Some(to) = q.received_to {
                    b.push(" and received_at < ").push_bind(to);
                }
                if let Some(text) = &q.text {
                    let pattern = format!("%{}%", $crate::storage::shared::escape_like(&text.words.to_lowercase()));
                    b.push(" and (lower(description) like ").push_bind(pattern.clone()).push(" escape '\\'");
                    b.push(" or lower(coalesce(citizen_name, '')) like ").push_bind(pattern).push(" escape '\\'");
                    if let Some(number) = &text.number {
                        b.push(" or number = ").push_bind(number.as_str().to_owned());
                    }
                    if let Some(phone) = &text.phone_e164 {
                        b.push(" or phone_e164 = ").push_bind(phone.clone());
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
            ) -> $crate::storage::StoreResult<Option<$crate::storage::DownloadJob>> {
                // The due conditions are repeated outside the subquery: when two instances
                // pick the same row, the second's update re-checks them after the first
                // commits and matches nothing.
                let row: Option<(i64, String, Option<String>, String, String, Option<String>, chrono::DateTime<chrono::Utc>, i64)> =
                    sqlx::query_as(
                        "update recording_downloads set claimed_until = $2, attempts = attempts + 1 \
                         where id = (select id from recording_downloads where status = 'pending' \
                             and next_attempt_at <= $1 and (claimed_until is null or claimed_until < $1) \
                             order by next_attempt_at, id limit 1) \
                         and status = 'pending' and (claimed_until is null or claimed_until < $1) \
                         returning id, recording_sid, call_sid, url, channel, caller, received_at, attempts",
                    )
                    .bind(now)
                    .bind(lease_until)
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

            async fn submit_website_message(
                &self,
                submission: &$crate::storage::WebsiteSubmission,
                prefix: &str,
                tz: chrono_tz::Tz,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<$crate::storage::WebsiteOutcome> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                let message = &submission.message;
                let mut tx = self.writer().begin().await?;
                // Two identical submissions at once: the second waits here and folds.
                let fold_lock: Option<&str> = $attach_lock;
                if let Some(lock) = fold_lock {
                    sqlx::query(lock).bind(&message.fold_key).execute(&mut *tx).await?;
                }
                let sql = format!(
                    "select {CASE_COLUMNS} from cases where id = (select case_id from website_messages \
                     where fold_key = $1 and created_at >= $2 order by created_at desc limit 1)"
                );
                let earlier: Option<CaseRow> = sqlx::query_as(&sql)
                    .bind(&message.fold_key)
                    .bind(submission.fold_since)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(row) = earlier {
                    tx.rollback().await?;
                    return Ok($crate::storage::WebsiteOutcome::Folded(Box::new(
                        $crate::domain::Case::try_from(row)?,
                    )));
                }
                let case = insert_case(&mut tx, &message.case, prefix, tz, now).await?;
                sqlx::query(
                    "insert into website_messages (case_id, tracking_digest, email, fold_key, created_at) \
                     values ($1, $2, $3, $4, $5)",
                )
                .bind(case.id)
                .bind(&submission.tracking_digest)
                .bind(message.email.as_deref())
                .bind(&message.fold_key)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if let Some(mail) = &submission.confirmation {
                    // The case number is known only now: stamped into the payload.
                    let mut payload = mail.payload.clone();
                    if let Some(fields) = payload.as_object_mut() {
                        fields.insert("case_number".into(), case.number.as_str().into());
                    }
                    sqlx::query(
                        "insert into outbox (topic, case_id, recipient, payload, status, attempts, \
                         next_attempt_at, created_at) values ($1, $2, $3, $4, 'pending', 0, $5, $5)",
                    )
                    .bind(&mail.topic)
                    .bind(case.id)
                    .bind(&mail.recipient)
                    .bind(payload.to_string())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok($crate::storage::WebsiteOutcome::Created(Box::new(case)))
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

            async fn rate_hit(
                &self,
                scope: &str,
                key: &str,
                limits: &[(chrono::Duration, u32)],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                let Some(longest) = limits.iter().map(|(w, _)| *w).max() else {
                    return Ok(true);
                };
                let mut tx = self.writer().begin().await?;
                sqlx::query("delete from rate_hits where scope = $1 and key = $2 and at < $3")
                    .bind(scope)
                    .bind(key)
                    .bind(now - longest)
                    .execute(&mut *tx)
                    .await?;
                for (window, most) in limits {
                    let (count,): (i64,) = sqlx::query_as(
                        "select count(*) from rate_hits where scope = $1 and key = $2 and at > $3",
                    )
                    .bind(scope)
                    .bind(key)
                    .bind(now - *window)
                    .fetch_one(&mut *tx)
                    .await?;
                    if count >= i64::from(*most) {
                        tx.commit().await?;
                        return Ok(false);
                    }
                }
                sqlx::query("insert into rate_hits (scope, key, at) values ($1, $2, $3)")
                    .bind(scope)
                    .bind(key)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn claim_outbox(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Option<$crate::storage::OutboxItem>> {
                // As for downloads: the due conditions are checked again outside the
                // subquery, so of two instances picking one row only one gets it.
                let row: Option<(i64, String, Option<i64>, String, String, i64)> = sqlx::query_as(
                    "update outbox set claimed_until = $2, attempts = attempts + 1 \
                     where id = (select id from outbox where status = 'pending' \
                         and next_attempt_at <= $1 and (claimed_until is null or claimed_until < $1) \
                         order by next_attempt_at, id limit 1) \
                     and status = 'pending' and (claimed_until is null or claimed_until < $1) \
                     returning id, topic, case_id, recipient, payload, attempts",
                )
                .bind(now)
                .bind(lease_until)
                .fetch_optional(self.writer())
                .await?;
                let Some((id, topic, case_id, recipient, payload, attempts)) = row else {
                    return Ok(None);
                };
                let payload = serde_json::from_str(&payload).map_err(anyhow::Error::new)?;
                Ok(Some($crate::storage::OutboxItem { id, topic, case_id, recipient, payload, attempts }))
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
        }

        /// Numbers and inserts a case with its first events, inside the caller's transaction.
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
                "insert into cases (number, channel, received_at, citizen_name, phone_e164, \
                 phone_original, id_card_masked, id_card_digest, matter, description, cause, \
                 tier, status, owner, deadline, deadline_provisional, off_hours, consultation, \
                 urgent, callback_due_at, callback_kind, created_at, updated_at, version) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18, $19, $20, $21, $22, $22, 1) returning {CASE_COLUMNS}"
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
            let case = $crate::domain::Case::try_from(row)?;
            let after = serde_json::json!({
                "status": $crate::domain::Status::New, "channel": case.channel, "tier": case.tier,
                "deadline": case.deadline, "off_hours": case.off_hours, "urgent": case.urgent,
            });
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
            let (id,): (i64,) = sqlx::query_as(
                "insert into case_events (case_id, at, actor, action, before_state, after_state, note, created_at) \
                 values ($1, $2, $3, $4, $5, $6, $7, $2) returning id",
            )
            .bind(case_id)
            .bind(at)
            .bind(actor)
            .bind(action)
            .bind(before.to_string())
            .bind(after.to_string())
            .bind(note)
            .fetch_one(&mut **tx)
            .await?;
            Ok(id)
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
