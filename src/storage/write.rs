//! What every write shares, inside the caller's transaction: cases numbered and inserted,
//! timeline events linked into the hash chain, notifications queued in the outbox. The
//! one-by-one and the batch paths of registration, and every change of a case, go through
//! these same helpers, so they cannot drift apart. Expanded once per engine by
//! `impl_store!`.

use chrono::{DateTime, Utc};

use crate::domain::{By, Case, EventKind};

/// A timeline event to append.
pub(crate) struct NewEvent<'a> {
    pub case_id: i64,
    pub at: DateTime<Utc>,
    pub actor: By<'a>,
    pub action: EventKind,
    /// JSON objects of the fields the action changed.
    pub before: String,
    pub after: String,
    pub note: Option<&'a str>,
}

/// A notification's payload for a case just numbered: the number is known only now.
pub(crate) fn with_case_number(payload: &serde_json::Value, case: &Case) -> serde_json::Value {
    let mut payload = payload.clone();
    if let Some(fields) = payload.as_object_mut() {
        fields.insert("case_number".into(), case.number.as_str().into());
    }
    payload
}

/// The transaction helpers for an engine's pool type `$db`.
macro_rules! impl_write_helpers {
    ($db:ty) => {
        /// The next `n` case numbers of `day`, advancing the day's counter once. The counter
        /// row stays locked by this upsert until commit: numbers are unique across instances,
        /// and a rolled-back registration leaves no gap.
        async fn next_numbers(
            tx: &mut sqlx::Transaction<'_, $db>,
            prefix: &str,
            day: chrono::NaiveDate,
            n: usize,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::storage::StoreResult<Vec<$crate::domain::CaseNumber>> {
            let n = n as i64;
            let (last,): (i64,) = sqlx::query_as(
                "insert into case_counters (day, last_seq, created_at) values ($1, $2, $3) \
                 on conflict (day) do update set last_seq = case_counters.last_seq + excluded.last_seq \
                 returning last_seq",
            )
            .bind(day.format("%Y-%m-%d").to_string())
            .bind(n)
            .bind(now)
            .fetch_one(&mut **tx)
            .await?;
            (last - n + 1..=last)
                .map(|seq| {
                    u32::try_from(seq)
                        .map(|seq| $crate::domain::CaseNumber::new(prefix, day, seq))
                        .map_err(|e| anyhow::anyhow!("day counter overflow: {e}").into())
                })
                .collect()
        }

        /// Inserts new cases under their numbers (registered at each item's instant) in
        /// multi-row statements, and puts each in the search backlog (the indexer writes
        /// their bigrams later, in bulk). Returns them in the order given.
        async fn insert_cases(
            tx: &mut sqlx::Transaction<'_, $db>,
            items: &[(&$crate::domain::NewCase, &$crate::domain::CaseNumber, chrono::DateTime<chrono::Utc>)],
        ) -> $crate::storage::StoreResult<Vec<$crate::domain::Case>> {
            use std::collections::HashMap;
            use $crate::storage::rows::{CaseRow, CASE_COLUMNS, CASE_INSERT_COLUMNS};
            let mut rows: Vec<CaseRow> = Vec::with_capacity(items.len());
            for run in items.chunks($crate::storage::BATCH_RUN) {
                let mut insert = sqlx::QueryBuilder::<$db>::new(format!("insert into cases ({CASE_INSERT_COLUMNS}) "));
                insert.push_values(run, |mut b, &(new, number, now)| {
                    let phone = new.citizen.phone.as_ref();
                    b.push_bind(number.as_str())
                        .push_bind(new.channel.as_str())
                        .push_bind(new.received_at)
                        .push_bind(new.citizen.name.as_deref())
                        .push_bind(phone.map(|p| p.e164()))
                        .push_bind(phone.map(|p| p.original()))
                        .push_bind(new.citizen.id_card_masked.as_deref())
                        .push_bind(new.citizen.id_card_digest.as_deref())
                        .push_bind(new.matter.as_str())
                        .push_bind(new.description.as_str())
                        .push_bind($crate::domain::Cause::Unclassified.as_str())
                        .push_bind(new.tier.as_str())
                        .push_bind(new.status().as_str())
                        .push_bind(new.owner())
                        .push_bind(new.deadline)
                        .push_bind(new.deadline_provisional)
                        .push_bind(new.off_hours)
                        .push_bind(new.consultation.is_some())
                        .push_bind(new.urgent)
                        .push_bind(new.callback.map(|c| c.due_at))
                        .push_bind(new.callback.map(|c| c.kind.as_str()))
                        .push_bind(now)
                        .push_bind(now)
                        .push_bind(1_i64)
                        // Digests are made keyed (`IdCardNumber::digest`).
                        .push_bind(true)
                        .push_bind(new.failed_at.counter.as_deref())
                        .push_bind(new.failed_at.department.as_deref())
                        .push_bind(new.failed_at.clerk.as_deref());
                });
                insert.push(format!(" returning {CASE_COLUMNS}"));
                rows.extend(insert.build_query_as::<CaseRow>().fetch_all(&mut **tx).await?);
            }
            let mut by_number: HashMap<String, $crate::domain::Case> = HashMap::with_capacity(rows.len());
            for row in rows {
                let case = $crate::domain::Case::try_from(row)?;
                by_number.insert(case.number.as_str().to_owned(), case);
            }
            let cases = items
                .iter()
                .map(|(_, number, _)| {
                    by_number
                        .remove(number.as_str())
                        .ok_or_else(|| anyhow::anyhow!("case {number} missing after its insert").into())
                })
                .collect::<$crate::storage::StoreResult<Vec<_>>>()?;
            for run in cases.chunks($crate::storage::BATCH_RUN) {
                let mut insert = sqlx::QueryBuilder::<$db>::new("insert into search_backlog (case_id) ");
                insert.push_values(run, |mut b, case| {
                    b.push_bind(case.id);
                });
                insert.build().execute(&mut **tx).await?;
            }
            Ok(cases)
        }

        /// Numbers and inserts one case with its first events (registered; answered and
        /// closed, for a consultation), inside the caller's transaction.
        async fn insert_case(
            tx: &mut sqlx::Transaction<'_, $db>,
            new: &$crate::domain::NewCase,
            prefix: &str,
            tz: chrono_tz::Tz,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::storage::StoreResult<$crate::domain::Case> {
            let day = now.with_timezone(&tz).date_naive();
            let numbers = next_numbers(tx, prefix, day, 1, now).await?;
            let case = insert_cases(tx, &[(new, &numbers[0], now)]).await?.remove(0);
            let after = $crate::storage::rows::registered_state(&case);
            let empty = serde_json::json!({});
            insert_event(tx, case.id, now, new.registered_by(), $crate::domain::EventKind::Register, &empty, &after, None).await?;
            if let Some(answer) = &new.consultation {
                let before = serde_json::json!({"status": $crate::domain::Status::New});
                let closed = serde_json::json!({"status": case.status, "consultation": true});
                insert_event(tx, case.id, now, new.registered_by(), $crate::domain::EventKind::AnswerAndClose, &before, &closed, Some(answer))
                    .await?;
            }
            Ok(case)
        }

        /// Drops the website confirmations of `rows` whose recipient has had `cap` of them in
        /// the day before `now` (counting those earlier in `rows`), so that the form cannot be
        /// used to flood someone's mailbox. One query, inside the registration's transaction.
        async fn cap_confirmations<'r>(
            tx: &mut sqlx::Transaction<'_, $db>,
            rows: Vec<(Option<i64>, $crate::domain::Topic, &'r str, String, chrono::DateTime<chrono::Utc>)>,
            cap: u32,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<Vec<(Option<i64>, $crate::domain::Topic, &'r str, String, chrono::DateTime<chrono::Utc>)>, sqlx::Error> {
            use std::collections::HashMap;
            let topic = $crate::domain::Topic::WebsiteConfirmation;
            let mut recipients: Vec<&str> = rows.iter().filter(|r| r.1 == topic).map(|r| r.2).collect();
            if recipients.is_empty() || cap == u32::MAX {
                return Ok(rows);
            }
            recipients.sort_unstable();
            recipients.dedup();
            let mut q = sqlx::QueryBuilder::<$db>::new("select lower(recipient), count(*) from outbox where topic = ");
            q.push_bind(topic.as_str())
                .push(" and created_at > ")
                .push_bind(now - chrono::Duration::days(1))
                .push(" and lower(recipient) in (");
            let mut list = q.separated(", ");
            for r in &recipients {
                list.push_bind(r.to_lowercase());
            }
            q.push(") group by lower(recipient)");
            let sent: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut **tx).await?;
            let mut counts: HashMap<String, i64> = sent.into_iter().collect();
            Ok(rows
                .into_iter()
                .filter(|r| {
                    if r.1 != topic {
                        return true;
                    }
                    let n = counts.entry(r.2.to_lowercase()).or_insert(0);
                    *n += 1;
                    *n <= i64::from(cap)
                })
                .collect())
        }

        /// Queues notifications inside the caller's transaction, in multi-row statements:
        /// each is sent only if the change that causes it commits.
        async fn insert_outbox_rows(
            tx: &mut sqlx::Transaction<'_, $db>,
            rows: &[(Option<i64>, $crate::domain::Topic, &str, String, chrono::DateTime<chrono::Utc>)],
        ) -> Result<(), sqlx::Error> {
            for run in rows.chunks($crate::storage::BATCH_RUN) {
                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "insert into outbox (topic, case_id, recipient, payload, status, attempts, next_attempt_at, created_at) ",
                );
                insert.push_values(run, |mut b, (case_id, topic, recipient, payload, now)| {
                    b.push_bind(topic.as_str())
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
            Ok(())
        }

        /// Queues one notification inside the caller's transaction.
        async fn insert_outbox(
            tx: &mut sqlx::Transaction<'_, $db>,
            case_id: Option<i64>,
            topic: $crate::domain::Topic,
            recipient: &str,
            payload: &serde_json::Value,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), sqlx::Error> {
            insert_outbox_rows(tx, &[(case_id, topic, recipient, payload.to_string(), now)]).await
        }

        /// Appends events to the timelines inside the caller's transaction, linked into the
        /// hash chain in the order given (hashed in memory, written in multi-row statements).
        /// None when the database handed the ids back out of that order (the chain would not
        /// follow them): the caller must not keep this transaction.
        async fn insert_events(
            tx: &mut sqlx::Transaction<'_, $db>,
            events: &[$crate::storage::write::NewEvent<'_>],
        ) -> Result<Option<Vec<i64>>, sqlx::Error> {
            let mut prev = chain_prev(tx, "case_events").await?;
            let mut links = Vec::with_capacity(events.len());
            for e in events {
                let hash = $crate::domain::audit::event_hash(
                    &prev, &e.case_id.to_string(), e.at, e.actor.name, e.action.as_str(), &e.before, &e.after, e.note, e.actor.id,
                );
                links.push((prev, hash.clone()));
                prev = hash;
            }
            let mut ids: Vec<(i64, i64)> = Vec::with_capacity(events.len());
            for (run, run_links) in events.chunks($crate::storage::BATCH_RUN).zip(links.chunks($crate::storage::BATCH_RUN)) {
                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "insert into case_events (case_id, at, actor, action, before_state, after_state, note, created_at, prev_hash, hash, actor_id) ",
                );
                insert.push_values(run.iter().zip(run_links), |mut b, (e, (prev, hash))| {
                    b.push_bind(e.case_id)
                        .push_bind(e.at)
                        .push_bind(e.actor.name)
                        .push_bind(e.action.as_str())
                        .push_bind(e.before.as_str())
                        .push_bind(e.after.as_str())
                        .push_bind(e.note)
                        .push_bind(e.at)
                        .push_bind(prev.as_str())
                        .push_bind(hash.as_str())
                        .push_bind(e.actor.id);
                });
                insert.push(" returning id, case_id");
                ids.extend(insert.build_query_as::<(i64, i64)>().fetch_all(&mut **tx).await?);
            }
            let in_order = ids.len() == events.len()
                && ids.windows(2).all(|w| w[0].0 < w[1].0)
                && ids.iter().zip(events).all(|((_, case_id), e)| *case_id == e.case_id);
            if !in_order {
                return Ok(None);
            }
            if let Some((last_id, _)) = ids.last() {
                chain_advance(tx, "case_events", *last_id, &prev).await?;
            }
            // The case keeps when its handling first finished, for on-time counts.
            for e in events.iter().filter(|e| $crate::domain::EventKind::FINISHING.contains(&e.action)) {
                sqlx::query("update cases set finished_at = $1 where id = $2 and (finished_at is null or finished_at > $1)")
                    .bind(e.at)
                    .bind(e.case_id)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(Some(ids.into_iter().map(|(id, _)| id).collect()))
        }

        /// Appends one event to a case's timeline inside the caller's transaction.
        #[allow(clippy::too_many_arguments)]
        async fn insert_event(
            tx: &mut sqlx::Transaction<'_, $db>,
            case_id: i64,
            at: chrono::DateTime<chrono::Utc>,
            actor: $crate::domain::By<'_>,
            action: $crate::domain::EventKind,
            before: &serde_json::Value,
            after: &serde_json::Value,
            note: Option<&str>,
        ) -> Result<i64, sqlx::Error> {
            let event = $crate::storage::write::NewEvent {
                case_id,
                at,
                actor,
                action,
                before: before.to_string(),
                after: after.to_string(),
                note,
            };
            insert_events(tx, &[event])
                .await?
                .and_then(|ids| ids.first().copied())
                .ok_or_else(|| sqlx::Error::Protocol("no id came back for the event".into()))
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

pub(crate) use impl_write_helpers;
