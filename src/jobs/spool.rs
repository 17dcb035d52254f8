//! `voicemail_spool`: watching the PBX's voicemail spool while the service runs. Filesystem
//! notifications trigger a pass (`Ingestor::ingest_spool`) soon after a message completes,
//! and a periodic full rescan every `hotline.rescan_seconds` is the safety net (a missed
//! notification, a spool on a network mount, a restart). Off when no spool is configured.

use std::path::PathBuf;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tracing::Instrument;

use super::{Context, Stop};
use crate::channels::hotline::ingest::Ingestor;

/// Lets a burst of file events (audio renamed, then the .txt) settle into one pass.
const SETTLE: Duration = Duration::from_millis(300);

pub fn spawn(ctx: &Context, stop: &Stop) -> Option<tokio::task::JoinHandle<()>> {
    let hotline = &ctx.settings.hotline;
    if hotline.spool_dir.as_os_str().is_empty() {
        return None;
    }
    tracing::info!(spool = %hotline.spool_dir.display(), "watching the voicemail spool");
    Some(watch(
        ctx.ingestor.clone(),
        hotline.spool_dir.clone(),
        Duration::from_secs(hotline.rescan_seconds.max(1)),
        stop.clone(),
    ))
}

/// Watches until `stop`; a pass in progress finishes first (each message is its own
/// transaction, so a pass cut short by a crash is simply resumed by the next).
fn watch(
    ingestor: Ingestor,
    spool: PathBuf,
    rescan: Duration,
    stop: Stop,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok() {
                let _ = tx.try_send(());
            }
        });
        let _watcher = match watcher {
            Ok(mut w) => match w.watch(&spool, RecursiveMode::Recursive) {
                Ok(()) => Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, spool = %spool.display(), "cannot watch the voicemail spool; rescanning periodically only");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "no filesystem notifications; rescanning periodically only");
                None
            }
        };
        let mut tick = tokio::time::interval(rescan);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
                Some(()) = rx.recv() => {
                    tokio::time::sleep(SETTLE).await;
                    while rx.try_recv().is_ok() {}
                }
            }
            let pass = ingestor
                .ingest_spool(&spool, &|_, _| {})
                .instrument(tracing::info_span!("job", job = "voicemail_spool"))
                .await;
            crate::telemetry::metrics::job_round("voicemail_spool", pass.is_ok());
            match pass {
                Ok(s) if s.ingested + s.quarantined + s.orphans > 0 => {
                    tracing::info!(summary = %s, "voicemail spool pass")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = format!("{e:#}"), "voicemail spool pass failed"),
            }
        }
    })
}
