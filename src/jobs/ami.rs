//! The call jobs: the Asterisk Manager Interface listener (when `[hotline.ami]` names a
//! host), and, with PostgreSQL, the listener that wakes this instance's screen pops when
//! another instance changes a call.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::{Context, Stop};

pub fn spawn(ctx: &Context, stop: &Stop) -> Vec<JoinHandle<()>> {
    let mut jobs = Vec::new();
    let ami = &ctx.settings.hotline.ami;
    if ami.enabled() {
        jobs.push(tokio::spawn(crate::channels::hotline::ami::listen(
            ami.clone(),
            ctx.calls.clone(),
            ctx.settings.hotline_lines(),
            stop.clone(),
        )));
    }
    let calls = ctx.calls.clone();
    let stop = stop.clone();
    jobs.push(tokio::spawn(async move {
        loop {
            let watched = tokio::select! {
                _ = stop.cancelled() => return,
                r = calls.watch_other_instances() => r,
            };
            match watched {
                // One instance (SQLite): nothing to follow.
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "following other instances' calls failed; retrying")
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }));
    jobs
}
