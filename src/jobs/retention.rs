//! `retention`: every `retention.check_minutes` (the first an interval after start), the
//! recordings and personal data whose time is up are deleted or anonymized
//! (`Retention::run`). Off when no retention period is configured.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;

use super::{periodic, Context, Schedule, Stop};
use crate::retention::{Retention, JOB_ACTOR};

pub fn spawn(ctx: &Context, stop: &Stop) -> Option<JoinHandle<()>> {
    let retention = Retention::from_settings(
        ctx.store.clone(),
        ctx.ingestor.audio().clone(),
        &ctx.settings.retention,
    )?;
    let schedule = Schedule {
        every: Duration::from_secs(ctx.settings.retention.check_minutes.max(1) * 60),
        wait_first: true,
        wake: None,
    };
    let retention = Arc::new(retention);
    let job_stop = stop.clone();
    Some(periodic("retention", schedule, stop.clone(), move || {
        let (retention, stop) = (retention.clone(), job_stop.clone());
        async move {
            retention.run(Utc::now(), JOB_ACTOR.into(), &stop).await?;
            Ok(())
        }
    }))
}
