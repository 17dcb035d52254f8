//! Group commit for registrations: concurrent requests wait together and are committed in
//! one transaction, so one fsync (and one hold of the day's counter row) serves the whole
//! batch. Every request is still answered only after its case is durable, with its own
//! result. Batches form naturally: while one commits, the next requests queue up.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::{mpsc, oneshot};

use super::{Store, StoreError, StoreResult};
use crate::domain::{Case, NewCase};

/// The most registrations one transaction takes.
const MAX_BATCH: usize = 256;

struct Job {
    new: NewCase,
    now: DateTime<Utc>,
    reply: oneshot::Sender<StoreResult<Case>>,
}

#[derive(Clone)]
pub struct GroupCommitter {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommitter {
    /// Starts the committing task; it ends when every handle is dropped.
    pub fn spawn(store: Arc<dyn Store>, prefix: Arc<str>, tz: Tz) -> Self {
        let (jobs, mut queue) = mpsc::channel::<Job>(MAX_BATCH * 4);
        tokio::spawn(async move {
            while let Some(first) = queue.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                commit(&*store, &prefix, tz, batch).await;
            }
        });
        Self { jobs }
    }

    /// Registers one case; returns once it is committed (or failed).
    pub async fn register(&self, new: NewCase, now: DateTime<Utc>) -> StoreResult<Case> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Other(anyhow::anyhow!("the registration writer has stopped"));
        self.jobs
            .send(Job { new, now, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn commit(store: &dyn Store, prefix: &str, tz: Tz, batch: Vec<Job>) {
    let items: Vec<(NewCase, DateTime<Utc>)> =
        batch.iter().map(|j| (j.new.clone(), j.now)).collect();
    match store.register_cases(&items, prefix, tz).await {
        Ok(results) => {
            for (job, result) in batch.into_iter().zip(results) {
                let _ = job.reply.send(result);
            }
        }
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                size = batch.len(),
                "a registration batch failed"
            );
            for job in batch {
                let _ = job.reply.send(Err(e.replicate()));
            }
        }
    }
}
