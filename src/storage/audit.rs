//! The audit trail: events that belong to no single case (a sign-in, an export), chained
//! like the timelines, and the walk that verifies a chain.

use chrono::{DateTime, Utc};

use super::StoreResult;

/// What walking an audit chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub checked: u64,
    /// Events from before the chain existed (not chained).
    pub legacy: u64,
    pub broken: Option<crate::domain::audit::Break>,
}

/// Which part of the trail to read.
#[derive(Debug, Clone, Default)]
pub struct TrailQuery {
    /// The acting person's display name, exactly.
    pub actor: Option<String>,
    /// Only these actions (empty: all).
    pub actions: Vec<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: u32,
}

/// One audited event: from the audit chain, or an access on a case's timeline (a play, a
/// print), with the case number as its subject.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TrailRow {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub note: Option<String>,
}

#[async_trait::async_trait]
pub trait AuditStore: Send + Sync {
    /// The audit trail, newest first: the audit chain's events and the accesses recorded on
    /// case timelines (plays and prints).
    async fn audit_trail(&self, q: &TrailQuery) -> StoreResult<Vec<TrailRow>>;

    /// Writes an event that belongs to no single case (an export, a generation by hand).
    async fn audit(
        &self,
        actor: crate::domain::By<'_>,
        action: &str,
        subject: &str,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Walks one audit chain (`case_events` or `audit_events`) and reports the first break.
    async fn verify_chain(&self, chain: &str) -> StoreResult<ChainReport>;
}

/// Implements [`AuditStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_audit_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::AuditStore for $store {
            async fn audit_trail(
                &self,
                q: &$crate::storage::TrailQuery,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::TrailRow>> {
                let accesses: Vec<&str> = [
                    $crate::domain::EventKind::PlayRecording,
                    $crate::domain::EventKind::PrintReferral,
                    $crate::domain::EventKind::PrintReceipt,
                    $crate::domain::EventKind::PrintRefusal,
                ]
                .iter()
                .map(|k| k.as_str())
                .collect();
                let mut b = sqlx::QueryBuilder::<$db>::new("select at, actor, action, subject, note from (");
                for (i, part) in ["audit", "case"].into_iter().enumerate() {
                    if i > 0 {
                        b.push(" union all ");
                    }
                    match part {
                        "audit" => b.push("select a.at as at, a.actor as actor, a.action as action, a.subject as subject, a.note as note from audit_events a where 1 = 1"),
                        _ => {
                            b.push("select e.at as at, e.actor as actor, e.action as action, c.number as subject, e.note as note \
                                    from case_events e join cases c on c.id = e.case_id where e.action in (");
                            let mut list = b.separated(", ");
                            for a in &accesses {
                                list.push_bind(*a);
                            }
                            b.push(")")
                        }
                    };
                    let col = if part == "audit" { "a" } else { "e" };
                    if let Some(actor) = &q.actor {
                        b.push(format!(" and {col}.actor = ")).push_bind(actor.clone());
                    }
                    if !q.actions.is_empty() {
                        b.push(format!(" and {col}.action in ("));
                        let mut list = b.separated(", ");
                        for a in &q.actions {
                            list.push_bind(a.clone());
                        }
                        b.push(")");
                    }
                    if let Some(from) = q.from {
                        b.push(format!(" and {col}.at >= ")).push_bind(from);
                    }
                    if let Some(to) = q.to {
                        b.push(format!(" and {col}.at < ")).push_bind(to);
                    }
                }
                b.push(") trail order by at desc limit ").push_bind(i64::from(q.limit));
                Ok(b.build_query_as().fetch_all(self.reader()).await?)
            }

            async fn audit(
                &self,
                actor: $crate::domain::By<'_>,
                action: &str,
                subject: &str,
                note: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<()> {
                let mut tx = self.writer().begin().await?;
                let prev = chain_prev(&mut tx, "audit_events").await?;
                let hash = $crate::domain::audit::event_hash(&prev, subject, now, actor.name, action, "", "", note, actor.id);
                let (id,): (i64,) = sqlx::query_as(
                    "insert into audit_events (at, actor, action, subject, note, prev_hash, hash, actor_id) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8) returning id",
                )
                .bind(now)
                .bind(actor.name)
                .bind(action)
                .bind(subject)
                .bind(note)
                .bind(&prev)
                .bind(&hash)
                .bind(actor.id)
                .fetch_one(&mut *tx)
                .await?;
                chain_advance(&mut tx, "audit_events", id, &hash).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn verify_chain(
                &self,
                chain: &str,
            ) -> $crate::storage::StoreResult<$crate::storage::ChainReport> {
                let sql = match chain {
                    "case_events" => "select id, cast(case_id as text), at, actor, action, before_state, after_state, note, actor_id, prev_hash, hash \
                                      from case_events where id > $1 order by id limit 1000",
                    "audit_events" => "select id, subject, at, actor, action, '', '', note, actor_id, prev_hash, hash \
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
                    let rows: Vec<(i64, String, chrono::DateTime<chrono::Utc>, String, String, String, String, Option<String>, Option<String>, Option<String>, Option<String>)> =
                        sqlx::query_as(sql).bind(after).fetch_all(self.reader()).await?;
                    let Some(last) = rows.last().map(|r| r.0) else { break };
                    for (id, subject, at, actor, action, before, after_state, note, actor_id, prev_hash, hash) in rows {
                        if id > head_id {
                            break;
                        }
                        let e = $crate::domain::audit::ChainedEvent { id, subject, at, actor, action, before, after: after_state, note, actor_id, prev_hash, hash };
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
        }
    };
}

pub(crate) use impl_audit_store;
