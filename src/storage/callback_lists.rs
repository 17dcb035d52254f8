//! What both ways of making list entries share (the morning's run at each opening, and the
//! arrivals of the working day listed at once): the arrivals waiting for a list, and storing
//! them grouped, each joining its caller's entry still open or making a new one.

/// The list-making helpers for an engine's pool type `$db`.
macro_rules! impl_callback_list_helpers {
    ($db:ty) => {
        /// Arrivals due by `up_to` on no list yet (cases and missed calls with a number), off
        /// hours or in working hours.
        async fn pending_arrivals_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            up_to: chrono::DateTime<chrono::Utc>,
            off_hours: bool,
        ) -> $crate::storage::StoreResult<Vec<$crate::domain::callback::PendingArrival>> {
            use $crate::domain::callback::{Arrived, PendingArrival};
            type Row = (i64, Option<String>, String, Option<String>, bool, chrono::DateTime<chrono::Utc>);
            let cases: Vec<Row> = sqlx::query_as(
                "select c.id, c.phone_e164, c.channel, c.callback_kind, c.urgent, c.received_at from cases c \
                 where c.callback_due_at is not null and c.callback_due_at <= $1 and c.off_hours = $2 \
                 and c.consultation = $3 \
                 and not exists (select 1 from callback_entry_cases x where x.case_id = c.id) \
                 order by c.received_at, c.id",
            )
            .bind(up_to)
            .bind(off_hours)
            .bind(false)
            .fetch_all(&mut **tx)
            .await?;
            let calls: Vec<Row> = sqlx::query_as(
                "select id, phone_e164, channel, 'missed_call', urgent, received_at from missed_calls \
                 where entry_id is null and outcome is null and phone_e164 is not null \
                 and callback_due_at <= $1 and off_hours = $2 order by received_at, id",
            )
            .bind(up_to)
            .bind(off_hours)
            .fetch_all(&mut **tx)
            .await?;
            let arrival = |arrived: Arrived, (_, phone, channel, kind, urgent, received_at): Row| -> anyhow::Result<PendingArrival> {
                Ok(PendingArrival {
                    arrived,
                    phone,
                    channel: channel.parse()?,
                    kind: kind.as_deref().unwrap_or("message").parse()?,
                    urgent,
                    received_at,
                })
            };
            let mut out = Vec::with_capacity(cases.len() + calls.len());
            for row in cases {
                out.push(arrival(Arrived::Case(row.0), row)?);
            }
            for row in calls {
                out.push(arrival(Arrived::Call(row.0), row)?);
            }
            Ok(out)
        }

        /// Stores grouped arrivals: each joins its phone's entry still open from an earlier
        /// list or earlier today, or makes a new one, due at `due_for` its first arrival (the
        /// opening after it, or the arrival itself during the day) on the list of that day,
        /// with the deadline `deadline_for` that due time. Returns how many entries are new.
        async fn list_drafts(
            tx: &mut sqlx::Transaction<'_, $db>,
            drafts: &[$crate::domain::callback::EntryDraft],
            times: &$crate::storage::ListTimes<'_>,
            daytime: bool,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::storage::StoreResult<usize> {
            use std::collections::HashMap;
            // A person still on a list (not reached yet) is not listed twice: the new
            // arrivals join that entry.
            let open: Vec<(i64, String, bool, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
                "select id, phone_e164, urgent, kind, first_arrival_at from callback_entries \
                 where status = 'open' and phone_e164 is not null",
            )
            .fetch_all(&mut **tx)
            .await?;
            let open: HashMap<String, (i64, bool, String, chrono::DateTime<chrono::Utc>)> = open
                .into_iter()
                .map(|(id, phone, urgent, kind, first)| (phone, (id, urgent, kind, first)))
                .collect();
            let mut links: Vec<(i64, i64)> = Vec::new();
            let mut call_links: Vec<(i64, i64)> = Vec::new();
            let mut fresh = Vec::new();
            for d in drafts {
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
                        .execute(&mut **tx)
                        .await?;
                        links.extend(d.case_ids.iter().map(|c| (*c, *id)));
                        call_links.extend(d.call_ids.iter().map(|c| (*c, *id)));
                    }
                    None => fresh.push(d),
                }
            }
            let mut ids: HashMap<String, i64> = HashMap::new();
            for chunk in fresh.chunks(500) {
                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "insert into callback_entries (list_date, opening_at, group_key, phone_e164, urgent, kind, \
                     first_arrival_at, deadline_at, status, attempts, created_at, updated_at, daytime) ",
                );
                insert.push_values(chunk, |mut b, d| {
                    let due = (times.due_for)(d.first_arrival_at);
                    let list_date = due.with_timezone(&times.tz).date_naive().format("%Y-%m-%d").to_string();
                    b.push_bind(list_date)
                        .push_bind(due)
                        .push_bind(&d.key)
                        .push_bind(d.phone.as_deref())
                        .push_bind(d.urgent)
                        .push_bind(d.kind.as_str())
                        .push_bind(d.first_arrival_at)
                        .push_bind((times.deadline_for)(due))
                        .push_bind("open")
                        .push_bind(0i64)
                        .push_bind(now)
                        .push_bind(now)
                        .push_bind(daytime);
                });
                insert.push(" returning id, group_key");
                let created: Vec<(i64, String)> = insert.build_query_as().fetch_all(&mut **tx).await?;
                ids.extend(created.into_iter().map(|(id, key)| (key, id)));
            }
            for d in &fresh {
                let id = ids[&d.key];
                links.extend(d.case_ids.iter().map(|c| (*c, id)));
                call_links.extend(d.call_ids.iter().map(|c| (*c, id)));
            }
            for chunk in links.chunks(1000) {
                let mut insert = sqlx::QueryBuilder::<$db>::new("insert into callback_entry_cases (case_id, entry_id) ");
                insert.push_values(chunk, |mut b, (case_id, entry_id)| {
                    b.push_bind(*case_id).push_bind(*entry_id);
                });
                insert.build().execute(&mut **tx).await?;
            }
            for (call_id, entry_id) in call_links {
                sqlx::query("update missed_calls set entry_id = $1 where id = $2")
                    .bind(entry_id)
                    .bind(call_id)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(fresh.len())
        }
    };
}

pub(crate) use impl_callback_list_helpers;
