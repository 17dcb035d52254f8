//! `outbox`: delivers queued notifications (mail, webhooks) whenever a change queues one and
//! every `mail.poll_seconds` besides (`Notifier::run_due`). Off when neither mail nor a
//! webhook is configured: the rows wait in the outbox.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{periodic, Context, Schedule, Stop};
use crate::callbacks::mail::CallbackListMail;
use crate::domain::Topic;
use crate::notify::{Notifier, Renderers};

pub fn spawn(ctx: &Context, stop: &Stop) -> anyhow::Result<Option<JoinHandle<()>>> {
    let settings = ctx.settings;
    if !settings.mail.enabled() && settings.webhooks.is_empty() {
        return Ok(None);
    }
    let renderers = Renderers::default()
        .with(
            Topic::CallbackList,
            Arc::new(CallbackListMail(ctx.callbacks.clone())),
        )
        .with(
            Topic::Bulletin,
            Arc::new(crate::notify::render::bulletin::BulletinMail {
                store: ctx.store.clone(),
                calendar: ctx.calendar.clone(),
                rules: ctx.rules.clone(),
            }),
        );
    let worker = Arc::new(Notifier::new(
        ctx.store.clone(),
        settings.mail.clone(),
        settings.webhooks.clone(),
        renderers,
    )?);
    let schedule = Schedule {
        every: Duration::from_secs(settings.mail.poll_seconds.max(1)),
        wait_first: false,
        wake: Some(ctx.outbox_wake.clone()),
    };
    let job_stop = stop.clone();
    Ok(Some(periodic(
        "outbox",
        schedule,
        stop.clone(),
        move || {
            let (worker, stop) = (worker.clone(), job_stop.clone());
            async move { worker.run_due(&stop).await.map(|_| ()) }
        },
    )))
}
