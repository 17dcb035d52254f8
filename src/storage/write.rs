//! What every write shares, inside the caller's transaction: a case numbered and inserted
//! with its first events, a timeline event linked into the hash chain, and a notification
//! queued in the outbox. Expanded once per engine by `impl_store!`.

/// The transaction helpers for an engine's pool type `$db`.
macro_rules! impl_write_helpers {
    ($db:ty) => {
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
                .bind(new.status().as_str())
                .bind(new.owner())
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
            insert_event(tx, case.id, now, &new.registered_by, $crate::domain::EventKind::Register, &empty, &after, None).await?;
            if let Some(answer) = &new.consultation {
                let before = serde_json::json!({"status": $crate::domain::Status::New});
                let closed = serde_json::json!({"status": case.status, "consultation": true});
                insert_event(tx, case.id, now, &new.registered_by, $crate::domain::EventKind::AnswerAndClose, &before, &closed, Some(answer))
                    .await?;
            }
            Ok(case)
        }

        /// Queues a notification inside the caller's transaction: it is sent only if the
        /// change that causes it commits.
        async fn insert_outbox(
            tx: &mut sqlx::Transaction<'_, $db>,
            case_id: Option<i64>,
            topic: $crate::domain::Topic,
            recipient: &str,
            payload: &serde_json::Value,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), sqlx::Error> {
            sqlx::query(
                "insert into outbox (topic, case_id, recipient, payload, status, attempts, next_attempt_at, created_at) \
                 values ($1, $2, $3, $4, 'pending', 0, $5, $5)",
            )
            .bind(topic.as_str())
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
            action: $crate::domain::EventKind,
            before: &serde_json::Value,
            after: &serde_json::Value,
            note: Option<&str>,
        ) -> Result<i64, sqlx::Error> {
            let (before, after) = (before.to_string(), after.to_string());
            let prev = chain_prev(tx, "case_events").await?;
            let hash = $crate::domain::audit::event_hash(&prev, &case_id.to_string(), at, actor, action.as_str(), &before, &after, note);
            let (id,): (i64,) = sqlx::query_as(
                "insert into case_events (case_id, at, actor, action, before_state, after_state, note, created_at, prev_hash, hash) \
                 values ($1, $2, $3, $4, $5, $6, $7, $2, $8, $9) returning id",
            )
            .bind(case_id)
            .bind(at)
            .bind(actor)
            .bind(action.as_str())
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

pub(crate) use impl_write_helpers;
