//! What every background job shares: the loop, its span and metrics, stopping, and the
//! retry schedule. Jobs claim their work with a lease on the row or a unique row written in
//! the work's own transaction (see `docs/ARCHITECTURE.md`), so several instances never do
//! one piece of work twice and a crashed instance's work is picked up when its lease runs
//! out. On shutdown a job finishes the piece in hand, takes no new one, and the instance
//! hands back the leases it still holds.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
pub use tokio_util::sync::CancellationToken as Stop;
use tracing::Instrument;

/// The longest wait between two attempts.
const MAX_BACKOFF_SECONDS: u64 = 3600;

/// `base × 2^(attempt-1)` seconds, at most an hour.
pub fn backoff(base_seconds: u64, attempt: i64) -> chrono::Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let seconds = base_seconds
        .saturating_mul(1u64 << exponent)
        .min(MAX_BACKOFF_SECONDS);
    chrono::Duration::seconds(seconds as i64)
}

/// When a job's rounds run.
#[derive(Clone)]
pub struct Schedule {
    pub every: Duration,
    /// Wait one interval before the first round (jobs that should not race a starting
    /// instance's own requests), or start at once.
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
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    tokio::spawn(async move {
        if schedule.wait_first && !pause(&schedule, &stop, false).await {
            return;
        }
        loop {
            let run = ROUNDS.fetch_add(1, Ordering::Relaxed) + 1;
            let span = tracing::info_span!("job", job = name, run);
            let result = round().instrument(span.clone()).await;
            crate::http::metrics::job_round(name, result.is_ok());
            if let Err(e) = result {
                span.in_scope(|| tracing::error!(error = format!("{e:#}"), "job round failed"));
            }
            if !pause(&schedule, &stop, true).await {
                tracing::debug!(job = name, "job stopped");
                return;
            }
        }
    })
}

/// Waits for the next round; false when the job is to stop.
async fn pause(schedule: &Schedule, stop: &Stop, wakeable: bool) -> bool {
    if stop.is_cancelled() {
        return false;
    }
    let woken = async {
        match (&schedule.wake, wakeable) {
            (Some(n), true) => n.notified().await,
            _ => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(schedule.every) => true,
        _ = woken => true,
    }
}

/// The search indexer's pause between two chunks.
const SEARCH_INDEX_PAUSE: Duration = Duration::from_millis(10);

/// Keeps the search index up with intake. New cases are stored without their bigrams (one
/// write per case instead of ~40 scattered over the index, inside the intake transaction);
/// a search matches that short backlog by its text. This job writes the backlog's bigrams
/// in bulk, sorted, a chunk per transaction, every half second and until it is empty.
pub fn spawn_search_indexer(
    store: Arc<dyn crate::storage::Store>,
    stop: Stop,
) -> tokio::task::JoinHandle<()> {
    let schedule = Schedule {
        every: Duration::from_millis(500),
        wait_first: false,
        wake: None,
    };
    let round_stop = stop.clone();
    periodic("search_index", schedule, stop, move || {
        let (store, stop) = (store.clone(), round_stop.clone());
        async move {
            while !stop.is_cancelled() {
                let chunk = crate::storage::SEARCH_INDEX_CHUNK;
                if store.index_search_backlog(chunk).await? < chunk as usize {
                    break;
                }
                // Intake first: a chunk takes CPU (and on PostgreSQL row locks) from the
                // registrations of the moment.
                tokio::time::sleep(SEARCH_INDEX_PAUSE).await;
            }
            Ok(())
        }
    })
}

/// This process's name on the leases it takes: released on shutdown by name.
pub fn instance_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        let nonce: u32 = rand::random();
        format!("{host}/{}/{nonce:08x}", std::process::id())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(10, 1).num_seconds(), 10);
        assert_eq!(backoff(10, 2).num_seconds(), 20);
        assert_eq!(backoff(10, 4).num_seconds(), 80);
        assert_eq!(backoff(10, 30).num_seconds(), 3600);
        assert_eq!(backoff(0, 5).num_seconds(), 0);
    }

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
