//! The one intake path. Every channel's adapter hands a [`Submission`] here: it is admitted
//! by the domain's one rule (its deadline, whether it came off hours, when a call back is
//! due) and registered through one group-committing writer, numbered, folded or attached, with
//! its first events and the notifications it owes, in the transaction that stores it. The
//! answer comes after the commit: what is acknowledged is durable. When the submission queued
//! a notification, the outbox is woken then.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::calendar_source::CalendarHandle;
use crate::domain::calendar::CalendarError;
use crate::domain::{Admission, Submission};
use crate::storage::group_commit::{each_or_all, writer_stopped};
use crate::storage::{Batcher, Registered, Store, StoreError, StoreResult};

#[derive(Clone)]
pub struct Intake {
    /// Submissions arriving together are committed together (one fsync for the batch).
    writer: Batcher<(Admission, DateTime<Utc>), StoreResult<Registered>>,
    calendar: CalendarHandle,
    outbox_wake: Arc<Notify>,
    /// Woken when an arrival in working hours is owed a call back: the day's list takes it
    /// at once.
    callbacks_wake: Option<Arc<Notify>>,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The working calendar cannot give the submission its terms.
    #[error("the working calendar cannot count from this arrival: {0}")]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Intake {
    /// Starts the writer. Case numbers take `prefix`; their day is the local day of
    /// registration.
    pub fn spawn(
        store: Arc<dyn Store>,
        calendar: CalendarHandle,
        prefix: Arc<str>,
        outbox_wake: Arc<Notify>,
    ) -> Self {
        let tz = calendar.current().timezone();
        let writer = Batcher::spawn(move |items: Vec<(Admission, DateTime<Utc>)>| {
            let (store, prefix) = (store.clone(), prefix.clone());
            async move {
                let result = store.register(&items, &prefix, tz).await;
                each_or_all(items.len(), result, "registration")
            }
        });
        Self {
            writer,
            calendar,
            outbox_wake,
            callbacks_wake: None,
        }
    }

    /// Wakes `notify` whenever an arrival in working hours is owed a call back.
    pub fn wake_callbacks(mut self, notify: Arc<Notify>) -> Self {
        self.callbacks_wake = Some(notify);
        self
    }

    /// Admits and registers one submission; returns once it is committed (or failed).
    pub async fn submit(
        &self,
        submission: Submission,
        now: DateTime<Utc>,
    ) -> Result<Registered, IntakeError> {
        let admission = submission.admit(&self.calendar.current())?;
        let notifies = !admission.notify.is_empty();
        let daytime_callback = admission.case.callback.is_some() && !admission.case.off_hours;
        let registered = self
            .writer
            .submit((admission, now))
            .await
            .unwrap_or_else(|| Err(writer_stopped()))?;
        if notifies && matches!(registered, Registered::Created { .. }) {
            self.outbox_wake.notify_one();
        }
        if let (true, Some(wake)) = (daytime_callback, &self.callbacks_wake) {
            wake.notify_one();
        }
        Ok(registered)
    }
}
