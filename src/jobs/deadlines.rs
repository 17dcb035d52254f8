//! `deadline_scan`: reminders before a case's deadline and an alarm when it passes, to the
//! owner and the day's duty leader, once each across instances (`DeadlineScanner::scan`).
//! The first scan comes an interval after start, so a restart does not race the instance's
//! own requests.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;

use super::{periodic, Context, Schedule, Stop};
use crate::oversight::DeadlineScanner;

pub fn spawn(ctx: &Context, stop: &Stop) -> JoinHandle<()> {
    let settings = &ctx.settings.oversight;
    let schedule = Schedule {
        every: Duration::from_secs(settings.scan_seconds.max(5)),
        wait_first: true,
        wake: None,
    };
    let scanner = Arc::new(
        DeadlineScanner::new(
            ctx.store.clone(),
            ctx.calendar.clone(),
            settings.clone(),
            ctx.settings.mail.enabled(),
        )
        .with_webhooks(&ctx.settings.webhooks),
    );
    let wake_outbox = ctx.outbox_wake.clone();
    periodic("deadline_scan", schedule, stop.clone(), move || {
        let (scanner, wake_outbox) = (scanner.clone(), wake_outbox.clone());
        async move {
            if scanner.scan(Utc::now()).await?.notifications > 0 {
                wake_outbox.notify_one();
            }
            Ok(())
        }
    })
}
