//! `callback_generation`: the next-morning callback list of each opening, generated once
//! across instances (`CallbackService::generate_due`), and the arrivals of the working day
//! listed at once (`generate_daytime`: woken by the intake when one comes). The first round
//! comes an interval after start: an opening missed while the service was down is generated
//! within `callbacks.check_seconds` of starting.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::{periodic, Context, Schedule, Stop};

pub fn spawn(ctx: &Context, stop: &Stop) -> JoinHandle<()> {
    let schedule = Schedule {
        every: Duration::from_secs(ctx.settings.callbacks.check_seconds.max(1)),
        wait_first: true,
        wake: Some(ctx.callbacks.daytime_wake()),
    };
    let service = ctx.callbacks.clone();
    periodic("callback_generation", schedule, stop.clone(), move || {
        let service = service.clone();
        async move {
            let now = crate::clock::now();
            service.generate_due(now).await?;
            service.generate_daytime(now).await?;
            Ok(())
        }
    })
}
