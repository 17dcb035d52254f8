//! Website messages: what the senders' limits and the folds of a batch are decided from (each
//! sender's hits, the stored messages each message could fold into), read before the domain
//! plans the batch (`domain::website::plan_batch`), and a whole batch written in a few
//! multi-row statements (the fast path of `IntakeStore::register`): the day's counter advanced
//! once and each table written by one statement, through the same helpers as one
//! registration (`write.rs`). The one-by-one path (`intake.rs`) reads and plans its message
//! with the same helpers and the same plan. Expanded once per engine by `impl_store!`.

/// The batch writer for an engine's pool type `$db`.
macro_rules! impl_website_batch {
    ($db:ty) => {
        /// A whole batch of website messages (and nothing else). None when the batch is not
        /// of the common shape (several local days, a consultation, several kinds of limit),
        /// or the database handed back the events' ids out of order: the caller rolls back
        /// and writes it one message at a time.
        async fn register_website_batch(
            tx: &mut sqlx::Transaction<'_, $db>,
            batch: &[($crate::domain::Admission, chrono::DateTime<chrono::Utc>)],
            prefix: &str,
            tz: chrono_tz::Tz,
            memory: Option<&$crate::storage::sender_limits::SenderLimits>,
        ) -> $crate::storage::StoreResult<Option<Vec<$crate::storage::StoreResult<$crate::storage::Registered>>>> {
            use std::collections::HashMap;
            use $crate::domain::website::{plan_batch, Plan, Planned};
            use $crate::domain::{Evidence, WebsiteForm};
            use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
            use $crate::storage::Registered;
            type Ts = chrono::DateTime<chrono::Utc>;
            let forms: Vec<&WebsiteForm> = batch
                .iter()
                .filter_map(|(a, _)| match &a.evidence {
                    Evidence::Website(form) => Some(form),
                    _ => None,
                })
                .collect();
            let Some((_, first_now)) = batch.first() else {
                return Ok(Some(Vec::new()));
            };
            let day = first_now.with_timezone(&tz).date_naive();
            let common = forms.len() == batch.len()
                && batch.iter().all(|(a, now)| now.with_timezone(&tz).date_naive() == day && a.case.consultation.is_none());
            if !common {
                return Ok(None);
            }
            let rate = forms.iter().find_map(|f| f.limit.as_ref());
            if let Some(r) = rate {
                let same = |f: &&WebsiteForm| f.limit.as_ref().is_some_and(|o| o.scope == r.scope && o.limits == r.limits);
                if !forms.iter().all(same) {
                    return Ok(None);
                }
            }
            // 1. The senders' hits per window, where the engine keeps them; 2. the stored
            //    messages each could fold into.
            let mut counts: HashMap<String, Vec<i64>> = HashMap::new();
            if let Some(r) = rate {
                let mut keys: Vec<&str> = forms.iter().filter_map(|f| f.limit.as_ref().map(|r| r.key.as_str())).collect();
                keys.sort_unstable();
                keys.dedup();
                let earliest = batch.iter().map(|(_, n)| *n).min().unwrap_or(*first_now);
                let latest = batch.iter().map(|(_, n)| *n).max().unwrap_or(*first_now);
                counts = sender_counts(tx, r, &keys, earliest, latest, memory).await?;
            }
            let mut phones: Vec<&str> = batch
                .iter()
                .filter_map(|(a, _)| a.case.citizen.phone.as_ref().map(|p| p.e164()))
                .collect();
            phones.sort_unstable();
            phones.dedup();
            let since = forms.iter().map(|f| f.fold_since).min().unwrap_or(*first_now);
            let earlier = fold_candidates(tx, &phones, since).await?;
            // 3. What each message becomes, decided by the domain.
            let planned: Vec<Planned<'_>> = forms
                .iter()
                .map(|f| Planned {
                    fold_key: &f.fold_key,
                    fold_since: f.fold_since,
                    sender: f.limit.as_ref().map(|r| r.key.as_str()),
                })
                .collect();
            let limits = rate.map(|r| r.limits.as_slice()).unwrap_or(&[]);
            let plan = plan_batch(&planned, limits, counts, &earlier);
            // 4. The new cases: numbered with one advance of the day's counter (its row stays
            //    locked until commit, as for one registration), inserted, put in the search
            //    backlog; their register events chained in memory and written in one insert.
            let mut cases: Vec<$crate::domain::Case> = Vec::new();
            // New cases whose confirmation was over its recipient's daily share.
            let mut unnotified: std::collections::HashSet<i64> = std::collections::HashSet::new();
            if !plan.creating.is_empty() {
                let numbers = next_numbers(tx, prefix, day, plan.creating.len(), *first_now).await?;
                let items: Vec<_> = plan
                    .creating
                    .iter()
                    .zip(&numbers)
                    .map(|(&i, number)| (&batch[i].0.case, number, batch[i].1))
                    .collect();
                cases = insert_cases(tx, &items).await?;
                let afters: Vec<String> = cases.iter().map(|c| $crate::storage::rows::registered_state(c).to_string()).collect();
                let events: Vec<$crate::storage::write::NewEvent<'_>> = cases
                    .iter()
                    .zip(&plan.creating)
                    .zip(&afters)
                    .map(|((case, &i), after)| $crate::storage::write::NewEvent {
                        case_id: case.id,
                        at: batch[i].1,
                        actor: batch[i].0.case.registered_by(),
                        action: $crate::domain::EventKind::Register,
                        before: "{}".to_owned(),
                        after: after.clone(),
                        note: None,
                    })
                    .collect();
                if insert_events(tx, &events).await?.is_none() {
                    return Ok(None);
                }
                // 5. Website records, and the notifications each new case owes.
                for run in cases.iter().zip(&plan.creating).collect::<Vec<_>>().chunks($crate::storage::BATCH_RUN) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "insert into website_messages (case_id, tracking_digest, email, fold_key, created_at) ",
                    );
                    insert.push_values(run, |mut b, (case, &i)| {
                        let form = forms[i];
                        b.push_bind(case.id)
                            .push_bind(form.tracking_digest.as_str())
                            .push_bind(form.email.as_deref())
                            .push_bind(form.fold_key.as_str())
                            .push_bind(batch[i].1);
                    });
                    insert.build().execute(&mut **tx).await?;
                }
                let mails: Vec<_> = cases
                    .iter()
                    .zip(&plan.creating)
                    .flat_map(|(case, &i)| {
                        let (admission, now) = &batch[i];
                        admission.notify.iter().map(move |n| {
                            (Some(case.id), n.topic, n.recipient.as_str(), $crate::storage::write::with_case_number(&n.payload, case).to_string(), *now)
                        })
                    })
                    .collect();
                let owed: Vec<Option<i64>> = mails.iter().map(|m| m.0).collect();
                // Every message of a batch shares its instance's settings: the first says.
                let cap = forms.first().map_or(u32::MAX, |f| f.confirmations_per_day);
                let latest = batch.iter().map(|(_, at)| *at).max().unwrap_or(*first_now);
                let mails = cap_confirmations(tx, mails, cap, latest).await?;
                for missing in owed.iter().filter(|id| !mails.iter().any(|m| m.0 == **id)) {
                    unnotified.insert(missing.unwrap_or_default());
                }
                insert_outbox_rows(tx, &mails).await?;
            }
            // 6. The limit hits of every message let through, where they are rows (limits
            //    kept in memory are counted by the caller once the batch has committed).
            if let (Some(r), None) = (rate, memory) {
                let hits: Vec<(&str, Ts)> = plan
                    .counted
                    .iter()
                    .filter_map(|&i| forms[i].limit.as_ref().map(|l| (l.key.as_str(), batch[i].1)))
                    .collect();
                insert_hits(tx, &r.scope, &hits).await?;
            }
            // 7. The answers, in order.
            let mut stored: HashMap<i64, $crate::domain::Case> = HashMap::new();
            for plan in &plan.plans {
                if let Plan::FoldStored(id) = plan {
                    if !stored.contains_key(id) {
                        let sql = format!("select {CASE_COLUMNS} from cases where id = $1");
                        let row: CaseRow = sqlx::query_as(&sql).bind(*id).fetch_one(&mut **tx).await?;
                        stored.insert(*id, $crate::domain::Case::try_from(row)?);
                    }
                }
            }
            Ok(Some(
                plan.plans
                    .iter()
                    .map(|plan| {
                        Ok(match plan {
                            Plan::Limited => Registered::Limited,
                            Plan::FoldStored(id) => Registered::Folded(Box::new(stored[id].clone())),
                            Plan::FoldBatch(k) => Registered::Folded(Box::new(cases[*k].clone())),
                            Plan::New(k) => Registered::Created {
                                case: Box::new(cases[*k].clone()),
                                recording_id: None,
                                notified: !unnotified.contains(&cases[*k].id),
                            },
                        })
                    })
                    .collect(),
            ))
        }

        /// Each sender's hits per window of `rate`'s limits (`keys`: their keyed digests), where
        /// the engine keeps them: in memory, or rows of `rate_hits` (the ones older than the
        /// longest window dropped first).
        async fn sender_counts(
            tx: &mut sqlx::Transaction<'_, $db>,
            rate: &$crate::domain::RateCheck,
            keys: &[&str],
            earliest: chrono::DateTime<chrono::Utc>,
            latest: chrono::DateTime<chrono::Utc>,
            memory: Option<&$crate::storage::sender_limits::SenderLimits>,
        ) -> Result<std::collections::HashMap<String, Vec<i64>>, sqlx::Error> {
            let mut counts = std::collections::HashMap::new();
            if let Some(memory) = memory {
                let windows: Vec<chrono::Duration> = rate.limits.iter().map(|(w, _)| *w).collect();
                for key in keys {
                    counts.insert((*key).to_owned(), memory.counts(&rate.scope, key, &windows, latest));
                }
                return Ok(counts);
            }
            let mut rows = Vec::new();
            for run in keys.chunks($crate::storage::BATCH_RUN) {
                let mut delete = sqlx::QueryBuilder::<$db>::new("delete from rate_hits where scope = ");
                delete.push_bind(&rate.scope).push(" and at < ").push_bind(earliest - rate.longest()).push(" and key in (");
                let mut list = delete.separated(", ");
                for k in run {
                    list.push_bind(*k);
                }
                delete.push(")");
                delete.build().execute(&mut **tx).await?;
                let mut count = sqlx::QueryBuilder::<$db>::new("select key");
                for (window, _) in &rate.limits {
                    count.push(", sum(case when at > ").push_bind(latest - *window).push(" then 1 else 0 end)");
                }
                count.push(" from rate_hits where scope = ").push_bind(&rate.scope).push(" and key in (");
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
                let per_window = (0..rate.limits.len())
                    .map(|i| row.try_get::<Option<i64>, _>(i + 1).map(|n| n.unwrap_or(0)))
                    .collect::<Result<Vec<i64>, _>>()?;
                counts.insert(key, per_window);
            }
            Ok(counts)
        }

        /// The stored website messages of these phones since `since`, the latest of each fold
        /// key (key → when it was registered, its case). A key is the phone and the text, so
        /// they are found through the cases' phone index (the key itself has no index: one
        /// randomly keyed entry fewer per message).
        async fn fold_candidates(
            tx: &mut sqlx::Transaction<'_, $db>,
            phones: &[&str],
            since: chrono::DateTime<chrono::Utc>,
        ) -> Result<std::collections::HashMap<String, (chrono::DateTime<chrono::Utc>, i64)>, sqlx::Error> {
            let mut earlier: std::collections::HashMap<String, (chrono::DateTime<chrono::Utc>, i64)> = std::collections::HashMap::new();
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
                let rows = q.build_query_as::<(String, chrono::DateTime<chrono::Utc>, i64)>().fetch_all(&mut **tx).await?;
                for (key, at, case_id) in rows {
                    if earlier.get(&key).is_none_or(|(seen, _)| at > *seen) {
                        earlier.insert(key, (at, case_id));
                    }
                }
            }
            Ok(earlier)
        }

        /// The limit hits of messages let through, where they are rows.
        async fn insert_hits(
            tx: &mut sqlx::Transaction<'_, $db>,
            scope: &str,
            hits: &[(&str, chrono::DateTime<chrono::Utc>)],
        ) -> Result<(), sqlx::Error> {
            for run in hits.chunks($crate::storage::BATCH_RUN) {
                let mut insert = sqlx::QueryBuilder::<$db>::new("insert into rate_hits (scope, key, at) ");
                insert.push_values(run, |mut b, (key, at)| {
                    b.push_bind(scope).push_bind(*key).push_bind(*at);
                });
                insert.build().execute(&mut **tx).await?;
            }
            Ok(())
        }
    };
}

pub(crate) use impl_website_batch;
