//! Personal data kept no longer than allowed (PIPL): a finished case's recordings are deleted
//! `recordings_days` after it closed (or was resolved or refused and never closed), and its
//! personal fields anonymized `anonymize_after_years` after; the case rows stay, so the
//! statistics still count them. After `recordings_days` too: quarantine entries not seen
//! since (with the bytes youmen kept of a pushed recording it could not use), and the caller
//! numbers and provider addresses of announced recordings fetched or given up on.
//! Every purge is an event on the case's (hash-chained) timeline and every run that did
//! something an audit event; `plan` lists what a run would do without doing it.
//!
//! Across instances: each recording and case is marked by a conditional update in its own
//! transaction, so of two instances purging at once only one writes the event. A recording's
//! file is deleted before it is marked (deleting twice is harmless), so a crash between the
//! two leaves a row the next round marks, never a file nobody deletes.

use std::sync::Arc;

use chrono::{DateTime, Months, Utc};
use serde::Serialize;

use crate::config::RetentionSettings;
use crate::recordings::AudioStore;
use crate::storage::{RetentionItem, Store};
use crate::work::Stop;

/// Rows looked at per query.
const BATCH: u32 = 200;

/// The actor on the timeline for the scheduled job.
pub const JOB_ACTOR: &str = "system:retention";

#[derive(Clone)]
pub struct Retention {
    store: Arc<dyn Store>,
    audio: AudioStore,
    settings: RetentionSettings,
}

/// What a run would do.
#[derive(Debug, Serialize)]
pub struct Plan {
    /// Cases closed before this lose their recordings (None: recordings are kept).
    pub recordings_closed_before: Option<DateTime<Utc>>,
    /// Cases closed before this are anonymized (None: never).
    pub anonymize_closed_before: Option<DateTime<Utc>>,
    pub recordings: Vec<RetentionItem>,
    pub cases: Vec<RetentionItem>,
    /// Quarantine entries to delete: (id, path).
    pub quarantine: Vec<(i64, String)>,
    /// Announced recordings whose caller and address are to be cleared.
    pub downloads: u64,
}

/// What a run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Done {
    pub recordings_purged: usize,
    pub bytes_freed: i64,
    pub cases_anonymized: usize,
    pub quarantine_purged: usize,
    pub downloads_scrubbed: u64,
    /// Recordings or quarantined files that could not be deleted (left for the next run,
    /// logged).
    pub failures: usize,
}

impl std::fmt::Display for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} recordings purged ({} bytes), {} cases anonymized, {} quarantine entries deleted, {} announced recordings cleared",
            self.recordings_purged,
            self.bytes_freed,
            self.cases_anonymized,
            self.quarantine_purged,
            self.downloads_scrubbed
        )?;
        if self.failures > 0 {
            write!(f, ", {} files could not be deleted", self.failures)?;
        }
        Ok(())
    }
}

impl Retention {
    pub fn new(store: Arc<dyn Store>, audio: AudioStore, settings: RetentionSettings) -> Self {
        Self {
            store,
            audio,
            settings,
        }
    }

    /// The scheduled job, unless the configuration keeps everything.
    pub fn from_settings(
        store: Arc<dyn Store>,
        audio: AudioStore,
        settings: &RetentionSettings,
    ) -> Option<Self> {
        let keeps_all = settings.recordings_days == 0 && settings.anonymize_after_years == 0;
        (!keeps_all).then(|| Self::new(store, audio, settings.clone()))
    }

    fn cutoffs(&self, now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let days = self.settings.recordings_days;
        let years = self.settings.anonymize_after_years;
        (
            (days > 0).then(|| now - chrono::Duration::days(i64::from(days))),
            (years > 0)
                .then(|| now.checked_sub_months(Months::new(years.saturating_mul(12))))
                .flatten(),
        )
    }

    /// What a run at `now` would purge and anonymize (at most `limit` of each).
    pub async fn plan(&self, now: DateTime<Utc>, limit: u32) -> anyhow::Result<Plan> {
        let (recordings_before, anonymize_before) = self.cutoffs(now);
        let recordings = match recordings_before {
            Some(before) => self.store.recordings_to_purge(before, limit).await?,
            None => Vec::new(),
        };
        let cases = match anonymize_before {
            Some(before) => self.store.cases_to_anonymize(before, limit).await?,
            None => Vec::new(),
        };
        let (quarantine, downloads) = match recordings_before {
            Some(before) => (
                self.store.quarantine_to_purge(before, limit).await?,
                self.store.downloads_to_scrub(before).await?,
            ),
            None => (Vec::new(), 0),
        };
        Ok(Plan {
            recordings_closed_before: recordings_before,
            anonymize_closed_before: anonymize_before,
            recordings,
            cases,
            quarantine,
            downloads,
        })
    }

    /// Purges and anonymizes everything due at `now`, in batches, stopping early if `stop`
    /// is cancelled between two items.
    pub async fn run(
        &self,
        now: DateTime<Utc>,
        actor: crate::domain::By<'_>,
        stop: &Stop,
    ) -> anyhow::Result<Done> {
        let (recordings_before, anonymize_before) = self.cutoffs(now);
        let mut done = Done::default();
        if let Some(before) = recordings_before {
            'batches: loop {
                let batch = self.store.recordings_to_purge(before, BATCH).await?;
                let mut progressed = false;
                for item in &batch {
                    if stop.is_cancelled() {
                        break 'batches;
                    }
                    match self.purge_recording(item, actor, now).await {
                        Ok(true) => {
                            progressed = true;
                            done.recordings_purged += 1;
                            done.bytes_freed += item.bytes.unwrap_or(0);
                        }
                        Ok(false) => progressed = true,
                        Err(e) => {
                            done.failures += 1;
                            tracing::warn!(case = %item.case_number, recording = item.id, error = format!("{e:#}"), "recording not purged; retried next run");
                        }
                    }
                }
                if !progressed || (batch.len() as u32) < BATCH {
                    break;
                }
            }
            self.purge_quarantine(before, stop, &mut done).await?;
            done.downloads_scrubbed = self.store.scrub_downloads(before).await?;
        }
        if let Some(before) = anonymize_before {
            'cases: loop {
                let batch = self.store.cases_to_anonymize(before, BATCH).await?;
                for item in &batch {
                    if stop.is_cancelled() {
                        break 'cases;
                    }
                    if self.store.anonymize_case(item.id, actor, now).await? {
                        done.cases_anonymized += 1;
                    }
                }
                if (batch.len() as u32) < BATCH {
                    break;
                }
            }
        }
        let changed = done.recordings_purged + done.cases_anonymized + done.quarantine_purged;
        if changed > 0 || done.downloads_scrubbed > 0 {
            tracing::info!(summary = %done, "retention run");
            self.store
                .audit(
                    actor,
                    "retention",
                    "retention",
                    Some(&done.to_string()),
                    now,
                )
                .await?;
        }
        Ok(done)
    }

    /// Quarantine entries not seen since `before`: the bytes youmen kept (in the audio folder's
    /// `quarantine/`) deleted, then the entry. A file elsewhere (the PBX's spool) is not
    /// youmen's to delete: once the PBX purges it, rescans stop seeing it and its entry goes.
    async fn purge_quarantine(
        &self,
        before: DateTime<Utc>,
        stop: &Stop,
        done: &mut Done,
    ) -> anyhow::Result<()> {
        loop {
            let batch = self.store.quarantine_to_purge(before, BATCH).await?;
            let mut progressed = false;
            for (id, path) in &batch {
                if stop.is_cancelled() {
                    return Ok(());
                }
                if let Some(kept) = self.audio.kept_rejected(std::path::Path::new(path)) {
                    let removed =
                        tokio::task::spawn_blocking(move || match std::fs::remove_file(&kept) {
                            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                            _ => Ok(()),
                        })
                        .await?;
                    if let Err(e) = removed {
                        done.failures += 1;
                        tracing::warn!(quarantine = id, error = %e, "quarantined file not deleted; retried next run");
                        continue;
                    }
                }
                if self.store.delete_quarantine(*id).await? {
                    done.quarantine_purged += 1;
                }
                progressed = true;
            }
            if !progressed || (batch.len() as u32) < BATCH {
                return Ok(());
            }
        }
    }

    /// Deletes the file (unless another live recording shares it), then marks the row.
    async fn purge_recording(
        &self,
        item: &RetentionItem,
        actor: crate::domain::By<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let sha256 = item.sha256.clone().unwrap_or_default();
        if !self.store.audio_in_use(&sha256, item.id).await? {
            let path = self.audio.path_of(&sha256);
            tokio::task::spawn_blocking(move || match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            })
            .await??;
        }
        Ok(self
            .store
            .mark_recording_purged(item.id, actor, now)
            .await?)
    }
}
