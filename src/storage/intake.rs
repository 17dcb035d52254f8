//! Registering: staff registrations (numbered per local day, gap-free, each batch of
//! concurrent requests in one transaction) and website messages (the sender's limit, the
//! fold into a recent identical message, the website record and the confirmation, all in the
//! transaction that registers the case), with the tracking codes citizens follow them by.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::StoreResult;
use crate::domain::Notification;
use crate::domain::{Case, NewCase};

/// A website message to store with its case, unless the same message came recently.
#[derive(Debug, Clone)]
pub struct WebsiteSubmission {
    pub message: crate::domain::website::ValidMessage,
    pub tracking_digest: String,
    /// Fold into a website case with the same key registered since this instant.
    pub fold_since: DateTime<Utc>,
    /// The confirmation to mail, written to the outbox in the same transaction.
    pub confirmation: Option<Notification>,
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

/// The most rows of one multi-row statement in a website batch: a batch of up to this many
/// messages (32 clients at once make batches of about 16) writes each table with one
/// statement, one round trip. Every length up to it is a statement shape of its own, prepared
/// once per connection, so the statement cache holds them all ([`STATEMENT_CACHE`]).
pub const BATCH_RUN: usize = 32;

#[async_trait::async_trait]
pub trait IntakeStore: Send + Sync {
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
}

/// Implements [`IntakeStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_intake_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::IntakeStore for $store {
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
                    let batch_lock: Option<&str> = BATCH_LOCK;
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
                insert_outbox(tx, Some(case.id), mail.topic, &mail.recipient, &payload, now).await?;
            }
            Ok($crate::storage::WebsiteOutcome::Created(Box::new(case)))
        }
    };
}

pub(crate) use impl_intake_store;
