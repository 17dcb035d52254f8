//! A batch of website messages in a few multi-row statements (the fast path of
//! `IntakeStore::submit_website_messages`): the senders' limits counted from one read, folds
//! found with one read, the day's counter advanced once, then each table written by one
//! statement. Expanded once per engine by `impl_store!`.

/// The batch writer for an engine's pool type `$db`.
macro_rules! impl_website_batch {
    ($db:ty) => {
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
                    let hash = $crate::domain::audit::event_hash(&prev, &case.id.to_string(), *now, &actor, $crate::domain::EventKind::Register.as_str(), "{}", &after, None);
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
                        .push_bind($crate::domain::EventKind::Register.as_str())
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
    };
}

pub(crate) use impl_website_batch;
