//! `transcripts`: transcribes the recordings waiting for it (`Transcriber::run_due`), woken
//! when a recording is stored and every few seconds besides (a retry falling due). Off while
//! `[hotline.transcription]` names no server.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{periodic, Context, Schedule, Stop};

/// How often the worker looks for due transcriptions when nobody wakes it.
const POLL: Duration = Duration::from_secs(3);

pub fn spawn(ctx: &Context, stop: &Stop) -> anyhow::Result<Option<JoinHandle<()>>> {
    let settings = &ctx.settings.hotline.transcription;
    if !settings.enabled() {
        return Ok(None);
    }
    let worker = Arc::new(ctx.ingestor.transcriber(settings)?);
    let schedule = Schedule {
        every: POLL,
        wait_first: false,
        wake: Some(worker.wake()),
    };
    let job_stop = stop.clone();
    Ok(Some(periodic(
        "transcripts",
        schedule,
        stop.clone(),
        move || {
            let (worker, stop) = (worker.clone(), job_stop.clone());
            async move { worker.run_due(&stop).await.map(|_| ()) }
        },
    )))
}
