//! Every background job, in one list ([`spawn_all`]), one file per job. A job file says when
//! its work runs; the work itself is a method of the service it belongs to.
//!
//! Jobs claim their work with a lease on the row or a unique row written in the work's own
//! transaction (see `docs/ARCHITECTURE.md`), so several instances never do one piece of work
//! twice and a crashed instance's work is picked up when its lease runs out. On shutdown a
//! job finishes the piece in hand, takes no new one, and the instance hands back the leases
//! it still holds.

mod ami;
pub mod bulletins;
mod calendar;
mod callback_lists;
mod deadlines;
mod downloads;
mod outbox;
mod retention;
mod search_index;
mod spool;
mod transcripts;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::calendar_source::CalendarHandle;
use crate::callbacks::CallbackService;
use crate::channels::hotline::ingest::Ingestor;
use crate::config::Settings;
use crate::storage::Store;
pub use crate::work::Stop;

/// What the jobs work with.
pub struct Context<'a> {
    pub settings: &'a Settings,
    pub store: Arc<dyn Store>,
    pub calendar: CalendarHandle,
    pub ingestor: &'a Ingestor,
    pub calls: &'a crate::channels::hotline::cti::CallDesk,
    pub callbacks: &'a CallbackService,
    /// Wakes the outbox worker when a job queued notifications.
    pub outbox_wake: Arc<Notify>,
    pub rules: Arc<crate::domain::IntakeRules>,
}

/// Starts every background job the configuration asks for. This is the one list: a job not
/// started here does not run.
pub fn spawn_all(ctx: &Context, stop: &Stop) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let mut jobs = vec![calendar::spawn(
        ctx.calendar.clone(),
        ctx.settings.clone(),
        stop.clone(),
    )];
    if let Some(job) = downloads::spawn(ctx, stop)? {
        jobs.push(job);
    }
    if let Some(job) = spool::spawn(ctx, stop) {
        jobs.push(job);
    }
    if let Some(job) = outbox::spawn(ctx, stop)? {
        jobs.push(job);
    }
    jobs.push(callback_lists::spawn(ctx, stop));
    jobs.push(search_index::spawn(ctx.store.clone(), stop.clone()));
    jobs.push(deadlines::spawn(ctx, stop));
    if let Some(job) = retention::spawn(ctx, stop) {
        jobs.push(job);
    }
    jobs.extend(ami::spawn(ctx, stop));
    jobs.extend(bulletins::spawn(ctx, stop));
    if let Some(job) = transcripts::spawn(ctx, stop)? {
        jobs.push(job);
    }
    Ok(jobs)
}

/// When a job's rounds run.
#[derive(Clone)]
pub struct Schedule {
    pub every: Duration,
    /// Wait one interval (or a wake) before the first round (jobs that should not race a
    /// starting instance's own requests), or start at once.
    pub wait_first: bool,
    /// Woken early when new work is queued (the outbox, downloads).
    pub wake: Option<Arc<Notify>>,
}

/// Numbers job rounds across the process, for the `run` field of their spans.
static ROUNDS: AtomicU64 = AtomicU64::new(0);

/// Runs `round` on `schedule` until `stop` is cancelled. Each round runs to its end in its
/// own span (`job`, `run`) and is counted in the metrics; a stop is noticed between rounds
/// (and, inside a round, between pieces of work by jobs that check `stop`).
pub fn periodic<F, Fut>(
    name: &'static str,
    schedule: Schedule,
    stop: Stop,
    mut round: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    tokio::spawn(async move {
        if schedule.wait_first && !pause(&schedule, &stop).await {
            return;
        }
        loop {
            let run = ROUNDS.fetch_add(1, Ordering::Relaxed) + 1;
            let span = tracing::info_span!("job", job = name, run);
            let result = round().instrument(span.clone()).await;
            crate::telemetry::metrics::job_round(name, result.is_ok());
            if let Err(e) = result {
                span.in_scope(|| tracing::error!(error = format!("{e:#}"), "job round failed"));
            }
            if !pause(&schedule, &stop).await {
                tracing::debug!(job = name, "job stopped");
                return;
            }
        }
    })
}

/// Waits for the next round; false when the job is to stop.
async fn pause(schedule: &Schedule, stop: &Stop) -> bool {
    if stop.is_cancelled() {
        return false;
    }
    let woken = async {
        match &schedule.wake {
            Some(n) => n.notified().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(schedule.every) => true,
        _ = woken => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stopped_job_finishes_its_round_and_runs_no_other() {
        let rounds = Arc::new(AtomicU64::new(0));
        let stop = Stop::new();
        let counted = rounds.clone();
        let job = periodic(
            "test",
            Schedule {
                every: Duration::from_millis(5),
                wait_first: false,
                wake: None,
            },
            stop.clone(),
            move || {
                let counted = counted.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    counted.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            },
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(2), job)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            rounds.load(Ordering::SeqCst),
            1,
            "the round in hand finished, no new one began"
        );
    }
}
