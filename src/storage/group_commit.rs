//! Group commit: concurrent requests wait together and are committed in one transaction, so
//! one fsync (and one hold of the day's counter row) serves the whole batch. Every request is
//! still answered only after its work is durable, with its own result. Batches form
//! naturally: while one commits, the next requests queue up.
//!
//! The committing tasks run on a thread of their own (`youmen-writer`, a current-thread
//! runtime), not among the request handlers: a batch is a dozen statements in a row, each
//! an await, and on the shared workers each of those wake-ups may queue behind the handlers
//! of the requests waiting for it. On its own thread the operating system wakes the writer
//! when the database answers. (Measured together with the session's other writer changes,
//! not alone: docs/BENCHMARKS.md.)
//!
//! One writer uses it: the intake path (`intake::Intake`), for every channel.

use std::future::Future;
use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot};

use super::{StoreError, StoreResult};

/// The most items one transaction takes.
const MAX_BATCH: usize = 256;

/// Queues items for one committing task, which takes whatever has queued (up to
/// `MAX_BATCH`) and answers each with its own result.
pub struct Batcher<I, O> {
    jobs: mpsc::Sender<(I, oneshot::Sender<O>)>,
}

impl<I, O> Clone for Batcher<I, O> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
        }
    }
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Starts the committing task; it ends when every handle is dropped. `commit` returns
    /// one result per item, in order.
    pub fn spawn<F, Fut>(commit: F) -> Self
    where
        F: Fn(Vec<I>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<O>> + Send,
    {
        let (jobs, mut queue) = mpsc::channel::<(I, oneshot::Sender<O>)>(MAX_BATCH * 4);
        writer_runtime().spawn(async move {
            while let Some(first) = queue.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                metrics::histogram!("youmen_batch_size").record(batch.len() as f64);
                let started = std::time::Instant::now();
                let (items, replies): (Vec<I>, Vec<oneshot::Sender<O>>) = batch.into_iter().unzip();
                let results = commit(items).await;
                metrics::histogram!("youmen_batch_seconds").record(started.elapsed().as_secs_f64());
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
        });
        Self { jobs }
    }

    /// Submits one item; returns its result once the batch is committed, or None if the
    /// committing task has stopped.
    pub async fn submit(&self, item: I) -> Option<O> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send((item, reply)).await.ok()?;
        answer.await.ok()
    }
}

/// The writer thread's runtime, started on first use and kept for the life of the process:
/// database connections it opens stay registered with it, so it must outlive every pool
/// that may hand them out (one thread serves every batcher of the process; they spend
/// their time waiting for the database).
fn writer_runtime() -> &'static tokio::runtime::Handle {
    static HANDLE: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let (handle, started) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("youmen-writer".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the writer thread's runtime");
                let _ = handle.send(runtime.handle().clone());
                runtime.block_on(std::future::pending::<()>());
            })
            .expect("starting the writer thread");
        started.recv().expect("the writer thread started")
    })
}

/// Whole-batch failures are every item's failure.
pub fn each_or_all<T>(
    size: usize,
    result: StoreResult<Vec<StoreResult<T>>>,
    what: &str,
) -> Vec<StoreResult<T>> {
    match result {
        Ok(results) => results,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), size, "a {what} batch failed");
            (0..size).map(|_| Err(e.replicate())).collect()
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Other(anyhow::anyhow!("the writer has stopped"))
}

/// The error for a batcher whose task has stopped.
pub fn writer_stopped() -> StoreError {
    stopped()
}
