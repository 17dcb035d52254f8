//! The SQL both backends share. SQLite and PostgreSQL accept the same `$n` placeholders,
//! `RETURNING` and `ON CONFLICT`; timestamps are UTC `DateTime`s on both (text in SQLite in
//! one fixed format, so it orders correctly; `timestamptz` in PostgreSQL). The macro stamps
//! the same queries out for each backend's pool type, so a query is written once.

/// Implements the case and token queries of [`super::Store`] for `$store`, whose
/// `writer()` and `reader()` return `&sqlx::Pool<$db>`. `$migrate` is its migrator.
macro_rules! impl_shared_queries {
    ($store:ty, $db:ty, $migrator:expr, $name:literal) => {
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
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                let day = now.with_timezone(&tz).date_naive();
                let mut tx = self.writer().begin().await?;
                // The day's counter row is locked by this upsert until commit: numbers are
                // unique across instances, and a rolled-back registration leaves no gap.
                let (seq,): (i64,) = sqlx::query_as(
                    "insert into case_counters (day, last_seq, created_at) values ($1, 1, $2) \
                     on conflict (day) do update set last_seq = case_counters.last_seq + 1 \
                     returning last_seq",
                )
                .bind(day.format("%Y-%m-%d").to_string())
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let seq = u32::try_from(seq).map_err(|e| anyhow::anyhow!("day counter overflow: {e}"))?;
                let number = $crate::domain::CaseNumber::new(prefix, day, seq);
                let phone = new.citizen.phone.as_ref();
                let sql = format!(
                    "insert into cases (number, channel, received_at, citizen_name, phone_e164, \
                     phone_original, id_card_masked, id_card_digest, matter, description, cause, \
                     tier, status, owner, deadline, deadline_provisional, off_hours, created_at, \
                     updated_at, version) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
                     $12, $13, null, $14, $15, $16, $17, $17, 1) returning {CASE_COLUMNS}"
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
                    .bind($crate::domain::Status::New.as_str())
                    .bind(new.deadline)
                    .bind(new.deadline_provisional)
                    .bind(new.off_hours)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                let case = $crate::domain::Case::try_from(row)?;
                let after = serde_json::json!({
                    "status": case.status, "channel": case.channel, "tier": case.tier,
                    "deadline": case.deadline, "off_hours": case.off_hours,
                });
                insert_event(&mut tx, case.id, now, &new.registered_by, "register", &serde_json::json!({}), &after, None)
                    .await?;
                tx.commit().await?;
                Ok(case)
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
            ) -> $crate::storage::StoreResult<$crate::domain::Case> {
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
                insert_event(&mut tx, case.id, now, actor, t.kind.code(), &t.before, &t.after, t.note.as_deref())
                    .await?;
                tx.commit().await?;
                Ok(updated)
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
        ) -> Result<(), sqlx::Error> {
            sqlx::query(
                "insert into case_events (case_id, at, actor, action, before_state, after_state, note, created_at) \
                 values ($1, $2, $3, $4, $5, $6, $7, $2)",
            )
            .bind(case_id)
            .bind(at)
            .bind(actor)
            .bind(action)
            .bind(before.to_string())
            .bind(after.to_string())
            .bind(note)
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
