//! `bulletins`: on the first working day of each week and month, queues the past week's and
//! month's conduct bulletin to `oversight.bulletin_recipients`, once whichever instance finds
//! it due. Off while nobody is named to receive it.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::{periodic, Context, Schedule, Stop};

/// How often the job looks whether a bulletin is due.
const EVERY: Duration = Duration::from_secs(600);

pub fn spawn(ctx: &Context, stop: &Stop) -> Option<JoinHandle<()>> {
    let recipients = ctx.settings.oversight.bulletin_recipients.clone();
    if recipients.is_empty() {
        return None;
    }
    let (store, calendar, wake) = (
        ctx.store.clone(),
        ctx.calendar.clone(),
        ctx.outbox_wake.clone(),
    );
    let schedule = Schedule {
        every: EVERY,
        wait_first: false,
        wake: None,
    };
    Some(periodic("bulletins", schedule, stop.clone(), move || {
        let (store, calendar, wake, recipients) = (
            store.clone(),
            calendar.clone(),
            wake.clone(),
            recipients.clone(),
        );
        async move {
            let now = crate::clock::now();
            let queued = queue_due(store.as_ref(), &calendar, &recipients, now).await?;
            if queued > 0 {
                wake.notify_one();
            }
            Ok(())
        }
    }))
}

/// Queues the bulletins due at `now`; how many were queued (0 when already sent).
pub async fn queue_due(
    store: &dyn crate::storage::Store,
    calendar: &crate::calendar_source::CalendarHandle,
    recipients: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<usize> {
    let calendar = calendar.current();
    let today = calendar.local_date(now);
    let mut queued = 0;
    for period in crate::domain::bulletin::due_on(today, |d| calendar.is_working_day(d)) {
        if store.queue_bulletin(&period, recipients, now).await? {
            tracing::info!(
                period,
                recipients = recipients.len(),
                "conduct bulletin queued"
            );
            queued += 1;
        }
    }
    Ok(queued)
}
