//! The bureau's directory as the service uses it: read from the store, kept for a few
//! seconds (every page and registration asks; administrators rarely change it), and
//! forgotten at once when this instance changes it. Another instance's change is seen
//! within [`Directory::KEEP`].

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::domain::directory::{check_failed_at, DirectoryEntry, EntryKind, FailedAt};
use crate::domain::registration::FieldError;
use crate::storage::{Store, StoreResult};

type Snapshot = Arc<Vec<DirectoryEntry>>;

#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
    cache: Arc<RwLock<Option<(Instant, Snapshot)>>>,
}

impl Directory {
    /// How long a read of the directory is believed.
    pub const KEEP: Duration = Duration::from_secs(10);

    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: Arc::default(),
        }
    }

    /// Every entry, retired ones too.
    pub async fn entries(&self) -> StoreResult<Snapshot> {
        if let Some((at, snapshot)) = self.cache.read().expect("directory cache").as_ref() {
            if at.elapsed() < Self::KEEP {
                return Ok(snapshot.clone());
            }
        }
        let snapshot: Snapshot = Arc::new(self.store.directory_entries().await?);
        *self.cache.write().expect("directory cache") = Some((Instant::now(), snapshot.clone()));
        Ok(snapshot)
    }

    /// Forgets the cached read (after a change).
    pub fn changed(&self) {
        *self.cache.write().expect("directory cache") = None;
    }

    /// The entries in use, of one kind.
    pub async fn active(&self, kind: EntryKind) -> StoreResult<Vec<DirectoryEntry>> {
        Ok(self
            .entries()
            .await?
            .iter()
            .filter(|e| e.kind == kind && !e.retired)
            .cloned()
            .collect())
    }

    /// An entry's name (retired ones too: old cases still name them), or its code.
    pub async fn name_of(&self, kind: EntryKind, code: &str) -> String {
        self.entries()
            .await
            .ok()
            .and_then(|all| {
                all.iter()
                    .find(|e| e.kind == kind && e.code == code)
                    .map(|e| e.name.clone())
            })
            .unwrap_or_else(|| code.to_owned())
    }

    /// Where-it-failed as typed, checked against the directory.
    pub async fn check(
        &self,
        counter: &str,
        department: &str,
        clerk: &str,
    ) -> Result<FailedAt, Vec<FieldError>> {
        if [counter, department, clerk]
            .iter()
            .all(|f| f.trim().is_empty())
        {
            return Ok(FailedAt::default());
        }
        let all = self.entries().await.map_err(|e| {
            vec![FieldError::new(
                "failed_counter",
                "unavailable",
                "暂时无法读取窗口名录，请稍后再试",
                format!("The directory cannot be read just now: {e}"),
            )]
        })?;
        check_failed_at(&all, counter, department, clerk)
    }
}

/// Registration's own checks and the directory's, every problem at once: the submission
/// with where it failed, or all the errors.
pub fn combine(
    registered: Result<crate::domain::Submission, Vec<FieldError>>,
    failed: Result<FailedAt, Vec<FieldError>>,
) -> Result<crate::domain::Submission, Vec<FieldError>> {
    match (registered, failed) {
        (Ok(mut submission), Ok(failed_at)) => {
            submission.failed_at = failed_at;
            Ok(submission)
        }
        (Ok(_), Err(errors)) | (Err(errors), Ok(_)) => Err(errors),
        (Err(mut errors), Err(more)) => {
            errors.extend(more);
            Err(errors)
        }
    }
}
