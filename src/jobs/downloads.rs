//! `recording_downloads`: fetches the recordings that Twilio-style callbacks announced
//! (`Downloader::run_due`), woken when a callback queues one and every two seconds besides.
//! Off when no provider credentials are configured.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{periodic, Context, Schedule, Stop};

/// How often the worker looks for due jobs when nobody wakes it.
const POLL: Duration = Duration::from_secs(2);

pub fn spawn(ctx: &Context, stop: &Stop) -> anyhow::Result<Option<JoinHandle<()>>> {
    if ctx.settings.hotline.twilio.auth_token.is_empty() {
        return Ok(None);
    }
    let worker = Arc::new(ctx.ingestor.downloader()?);
    let schedule = Schedule {
        every: POLL,
        wait_first: false,
        wake: Some(worker.wake()),
    };
    let job_stop = stop.clone();
    Ok(Some(periodic(
        "recording_downloads",
        schedule,
        stop.clone(),
        move || {
            let (worker, stop) = (worker.clone(), job_stop.clone());
            async move { worker.run_due(&stop).await.map(|_| ()) }
        },
    )))
}
