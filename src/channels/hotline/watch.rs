//! Watching the voicemail spool while the service runs: filesystem notifications trigger a
//! pass soon after a message completes, and a periodic full rescan is the safety net (a
//! missed notification, a spool on a network mount, a restart).

use std::path::PathBuf;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::ingest::Ingestor;

/// Lets a burst of file events (audio renamed, then the .txt) settle into one pass.
const SETTLE: Duration = Duration::from_millis(300);

pub fn spawn(ingestor: Ingestor, spool: PathBuf, rescan: Duration) -> tokio::task::JoinHandle<()> {
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
                _ = tick.tick() => {}
                Some(()) = rx.recv() => {
                    tokio::time::sleep(SETTLE).await;
                    while rx.try_recv().is_ok() {}
                }
            }
            match ingestor.ingest_spool(&spool, &|_, _| {}).await {
                Ok(s) if s.ingested + s.quarantined + s.orphans > 0 => {
                    tracing::info!(summary = %s, "voicemail spool pass")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = format!("{e:#}"), "voicemail spool pass failed"),
            }
        }
    })
}
