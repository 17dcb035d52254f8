//! Registering: every channel's admitted submission goes through [`IntakeStore::register`],
//! a batch at a time (group commit: one durable commit for the batch, each item with its own
//! result). In the transaction that stores it, a submission is numbered (per local day,
//! gap-free), folded into the same website message received moments before, refused over its
//! sender's limit, or attached to its caller's open voicemail case; its first events and the
//! notifications it owes are written with it. A batch of website messages alone takes the
//! multi-row fast path (`intake_batch.rs`); anything else goes one item at a time, each in a
//! savepoint of the batch's transaction.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::StoreResult;
use crate::domain::{Admission, Case};

/// What became of one submission.
#[derive(Debug, Clone)]
pub enum Registered {
    /// A new case (and, for a voicemail, its recording). `notified`: every notification it
    /// owes was queued (a confirmation over its recipient's daily share is not).
    Created {
        case: Box<Case>,
        recording_id: Option<i64>,
        notified: bool,
    },
    /// The same website message was received moments before: its case, unchanged.
    Folded(Box<Case>),
    /// A voicemail joined its caller's open case of the same stretch.
    Attached {
        case: Box<Case>,
        recording_id: Option<i64>,
    },
    /// A call that left no message: it waits as a missed call (not a case) on the callback
    /// list.
    Missed { call_id: i64 },
    /// This voicemail was taken in before (through another door, or by another instance).
    Already,
    /// Over the sender's limit: nothing stored.
    Limited,
}

impl Registered {
    /// The case it went to, if any.
    pub fn into_case(self) -> Option<Case> {
        match self {
            Registered::Created { case, .. }
            | Registered::Attached { case, .. }
            | Registered::Folded(case) => Some(*case),
            Registered::Missed { .. } | Registered::Already | Registered::Limited => None,
        }
    }
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
///
/// [`STATEMENT_CACHE`]: super::STATEMENT_CACHE
pub const BATCH_RUN: usize = 32;

#[async_trait::async_trait]
pub trait IntakeStore: Send + Sync {
    /// Registers a batch of admitted submissions in one transaction, each with its own
    /// result, in order. `Err` on the outside means the whole batch failed and nothing was
    /// stored. Durable when this returns.
    async fn register(
        &self,
        batch: &[(Admission, DateTime<Utc>)],
        prefix: &str,
        tz: Tz,
    ) -> StoreResult<Vec<StoreResult<Registered>>>;

    async fn website_record(&self, case_id: i64) -> StoreResult<Option<WebsiteRecord>>;

    /// Issues the tracking code of a case registered elsewhere than the website, such as a
    /// walk-in's receipt; with `replace`, replaces the one it has. False when, without
    /// `replace`, the case has one already (two first receipts at once: one wins).
    async fn set_tracking_code(
        &self,
        case_id: i64,
        digest: &str,
        replace: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// The digest of the tracking code issued by `set_tracking_code`, if any.
    async fn tracking_code(&self, case_id: i64) -> StoreResult<Option<String>>;

    /// Counts one request against `limits` (window, most allowed in it) for `key` in
    /// `scope`, atomically. False, and nothing counted, when a limit is already reached.
    async fn rate_hit(
        &self,
        scope: &str,
        key: &str,
        limits: &[(chrono::Duration, u32)],
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Takes back the hit counted at `at` (a request that turned out to deserve no count:
    /// the right tracking code after a hit reserved the try).
    async fn rate_forgive(&self, scope: &str, key: &str, at: DateTime<Utc>) -> StoreResult<()>;
}

/// The keys a batch locks up front (PostgreSQL): a website message's fold key, a voicemail's
/// identity and its caller on its line. Sorted, so two instances' batches never wait for each
/// other in a cycle; every wait of a batch on another then happens here, before it holds the
/// day's counter or any row.
pub(crate) fn lock_keys(batch: &[(Admission, DateTime<Utc>)]) -> Vec<String> {
    use crate::domain::Evidence;
    let mut keys: Vec<String> = Vec::new();
    for (a, _) in batch {
        match &a.evidence {
            Evidence::Typed => {}
            Evidence::Website(form) => keys.push(form.fold_key.clone()),
            Evidence::Voicemail(v) => {
                keys.push(v.identity.clone());
                if let Some(phone) = &a.case.citizen.phone {
                    keys.push(format!("{}|{}", phone.e164(), a.case.channel.as_str()));
                }
            }
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Implements [`IntakeStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_intake_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::IntakeStore for $store {
            async fn register(
                &self,
                batch: &[($crate::domain::Admission, chrono::DateTime<chrono::Utc>)],
                prefix: &str,
                tz: chrono_tz::Tz,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::StoreResult<$crate::storage::Registered>>> {
                use sqlx::Connection;
                use $crate::domain::Evidence;
                let memory = self.sender_limits();
                let websites_only = batch.iter().all(|(a, _)| matches!(a.evidence, Evidence::Website(_)));
                if websites_only && !batch.is_empty() {
                    // The fast path writes the whole batch with a few multi-row statements,
                    // straight in the transaction (a savepoint around it would copy every page
                    // it touches into SQLite's sub-journal: a sixth of the writer's time). If
                    // any statement fails, the transaction is rolled back and the batch done
                    // again one item at a time, so each gets its own answer.
                    let mut tx = self.writer().begin().await?;
                    lock_batch(&mut tx, batch).await?;
                    match register_website_batch(&mut tx, batch, prefix, tz, memory).await {
                        Ok(Some(results)) => {
                            tx.commit().await?;
                            // Limits kept in memory count the messages let through once they
                            // are stored (in the database, they are rows of the transaction).
                            if let Some(memory) = memory {
                                for ((a, now), result) in batch.iter().zip(&results) {
                                    let through = !matches!(result, Ok($crate::storage::Registered::Limited));
                                    if let (Evidence::Website(form), true) = (&a.evidence, through) {
                                        if let Some(r) = &form.limit {
                                            memory.record(&r.scope, &r.key, *now, r.longest());
                                        }
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
                }
                let mut tx = self.writer().begin().await?;
                lock_batch(&mut tx, batch).await?;
                let mut results = Vec::with_capacity(batch.len());
                // Hits counted in memory as each message is stored, taken back if the
                // transaction does not commit.
                let mut counted = Vec::new();
                for (admission, now) in batch {
                    let mut savepoint = tx.begin().await?;
                    match register_one_in(&mut savepoint, admission, prefix, tz, *now, memory).await {
                        Ok(registered) => {
                            savepoint.commit().await?;
                            let through = !matches!(registered, $crate::storage::Registered::Limited);
                            if let (Some(memory), Evidence::Website(form), true) = (memory, &admission.evidence, through) {
                                if let Some(r) = &form.limit {
                                    memory.record(&r.scope, &r.key, *now, r.longest());
                                    counted.push((r, *now));
                                }
                            }
                            results.push(Ok(registered));
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
                replace: bool,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                let sql = match replace {
                    true => "insert into tracking_codes (case_id, digest, created_at) values ($1, $2, $3) \
                             on conflict (case_id) do update set digest = excluded.digest, created_at = excluded.created_at",
                    false => "insert into tracking_codes (case_id, digest, created_at) values ($1, $2, $3) \
                              on conflict (case_id) do nothing",
                };
                let done = sqlx::query(sql)
                    .bind(case_id)
                    .bind(digest)
                    .bind(now)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
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
                // Counted, then added to, under the key's lock: two instances counting one
                // address at once cannot both let its last request through.
                let mut tx = self.writer().begin().await?;
                let lock_key = format!("{scope}|{key}");
                lock_keys_in(&mut tx, &[lock_key.as_str()]).await?;
                let allowed = rate_hit_in(&mut tx, scope, key, limits, now).await?;
                tx.commit().await?;
                Ok(allowed)
            }

            async fn rate_forgive(
                &self,
                scope: &str,
                key: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<()> {
                if let Some(memory) = self.sender_limits() {
                    memory.forget(scope, key, at);
                    return Ok(());
                }
                sqlx::query("delete from rate_hits where scope = $1 and key = $2 and at = $3")
                    .bind(scope)
                    .bind(key)
                    .bind(at)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }
        }

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

        /// One website message inside the caller's transaction, planned as a batch of one:
        /// refused over its sender's limit, folded into a recent identical message, or a new
        /// case with its website record and confirmation.

        /// Takes the batch's locks (see `lock_keys`) in one statement, where the engine
        /// needs them.
        async fn lock_batch(
            tx: &mut sqlx::Transaction<'_, $db>,
            batch: &[($crate::domain::Admission, chrono::DateTime<chrono::Utc>)],
        ) -> Result<(), sqlx::Error> {
            let keys = $crate::storage::intake::lock_keys(batch);
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            lock_keys_in(tx, &keys).await
        }

        /// Takes a transaction-scoped lock on each of `keys` (sorted) in one statement, where
        /// the engine needs locks (`BATCH_LOCK`; SQLite's one writer needs none).
        async fn lock_keys_in(tx: &mut sqlx::Transaction<'_, $db>, keys: &[&str]) -> Result<(), sqlx::Error> {
            let batch_lock: Option<&str> = BATCH_LOCK;
            let (Some(lock), false) = (batch_lock, keys.is_empty()) else {
                return Ok(());
            };
            // The VALUES rows are scanned (and locked) in key order.
            let mut q = sqlx::QueryBuilder::<$db>::new(format!("select count({lock}) from (values "));
            let mut list = q.separated(", ");
            for key in keys {
                list.push("(").push_bind_unseparated(*key).push_unseparated(")");
            }
            q.push(") as v(k)");
            q.build().execute(&mut **tx).await?;
            Ok(())
        }

        /// One admitted submission inside the caller's transaction, by its evidence.
        async fn register_one_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            admission: &$crate::domain::Admission,
            prefix: &str,
            tz: chrono_tz::Tz,
            now: chrono::DateTime<chrono::Utc>,
            memory: Option<&$crate::storage::sender_limits::SenderLimits>,
        ) -> $crate::storage::StoreResult<$crate::storage::Registered> {
            use $crate::domain::Evidence;
            match &admission.evidence {
                Evidence::Typed => {
                    let case = insert_case(tx, &admission.case, prefix, tz, now).await?;
                    notify_created(tx, &case, &admission.notify, now).await?;
                    Ok($crate::storage::Registered::Created { case: Box::new(case), recording_id: None, notified: true })
                }
                Evidence::Website(form) => register_website_in(tx, admission, form, prefix, tz, now, memory).await,
                Evidence::Voicemail(voicemail) => register_voicemail_in(tx, admission, voicemail, prefix, tz, now).await,
            }
        }

        /// Queues what a new case owes, each payload with its number.
        async fn notify_created(
            tx: &mut sqlx::Transaction<'_, $db>,
            case: &$crate::domain::Case,
            notify: &[$crate::domain::Notification],
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), sqlx::Error> {
            let rows: Vec<_> = notify
                .iter()
                .map(|n| (Some(case.id), n.topic, n.recipient.as_str(), $crate::storage::write::with_case_number(&n.payload, case).to_string(), now))
                .collect();
            insert_outbox_rows(tx, &rows).await
        }

        /// One website message inside the caller's transaction, planned as a batch of one:
        /// refused over its sender's limit, folded into a recent identical message, or a new
        /// case with its website record and confirmation.
        async fn register_website_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            admission: &$crate::domain::Admission,
            form: &$crate::domain::WebsiteForm,
            prefix: &str,
            tz: chrono_tz::Tz,
            now: chrono::DateTime<chrono::Utc>,
            memory: Option<&$crate::storage::sender_limits::SenderLimits>,
        ) -> $crate::storage::StoreResult<$crate::storage::Registered> {
            use $crate::domain::website::{plan_batch, Plan, Planned};
            use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
            // The same reads and the same plan as a whole batch, for one message.
            let counts = match &form.limit {
                Some(rate) => sender_counts(tx, rate, &[rate.key.as_str()], now, now, memory).await?,
                None => Default::default(),
            };
            let phones: Vec<&str> = admission.case.citizen.phone.iter().map(|p| p.e164()).collect();
            let earlier = fold_candidates(tx, &phones, form.fold_since).await?;
            let planned = Planned {
                fold_key: &form.fold_key,
                fold_since: form.fold_since,
                sender: form.limit.as_ref().map(|r| r.key.as_str()),
            };
            let limits = form.limit.as_ref().map(|r| r.limits.as_slice()).unwrap_or(&[]);
            let plan = plan_batch(&[planned], limits, counts, &earlier);
            // In memory, the caller counts the hit once the message is stored.
            if let (Some(rate), None, false) = (&form.limit, memory, plan.counted.is_empty()) {
                insert_hits(tx, &rate.scope, &[(rate.key.as_str(), now)]).await?;
            }
            match plan.plans[0] {
                Plan::Limited => return Ok($crate::storage::Registered::Limited),
                Plan::FoldStored(id) => {
                    let sql = format!("select {CASE_COLUMNS} from cases where id = $1");
                    let row: CaseRow = sqlx::query_as(&sql).bind(id).fetch_one(&mut **tx).await?;
                    return Ok($crate::storage::Registered::Folded(Box::new($crate::domain::Case::try_from(row)?)));
                }
                Plan::FoldBatch(_) | Plan::New(_) => {}
            }
            let case = insert_case(tx, &admission.case, prefix, tz, now).await?;
            sqlx::query(
                "insert into website_messages (case_id, tracking_digest, email, fold_key, created_at) \
                 values ($1, $2, $3, $4, $5)",
            )
            .bind(case.id)
            .bind(&form.tracking_digest)
            .bind(form.email.as_deref())
            .bind(&form.fold_key)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            let rows: Vec<_> = admission
                .notify
                .iter()
                .map(|n| (Some(case.id), n.topic, n.recipient.as_str(), $crate::storage::write::with_case_number(&n.payload, &case).to_string(), now))
                .collect();
            let owed = rows.len();
            let rows = cap_confirmations(tx, rows, form.confirmations_per_day, now).await?;
            let notified = rows.len() == owed;
            insert_outbox_rows(tx, &rows).await?;
            Ok($crate::storage::Registered::Created { case: Box::new(case), recording_id: None, notified })
        }
    };
}

pub(crate) use impl_intake_store;
