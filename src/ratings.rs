//! Ratings (好差评): recording a case's rating, and the follow-up a bad one opens for the
//! duty leader (verified within one working day, rectified within fifteen, by default).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::calendar_source::CalendarHandle;
use crate::config::OversightSettings;
use crate::domain::{Case, Rating, Status};
use crate::storage::{NewRating, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RatingError {
    #[error("only a finished case can be rated")]
    NotFinished,
    #[error("this case has already been rated")]
    AlreadyRated,
    #[error(transparent)]
    Calendar(#[from] crate::domain::calendar::CalendarError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for RatingError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate => RatingError::AlreadyRated,
            other => RatingError::Store(other),
        }
    }
}

/// Records ratings: the citizen's own (tracking page), or one taken by phone or at the
/// counter by staff.
#[derive(Clone)]
pub struct Ratings {
    store: Arc<dyn Store>,
    calendar: CalendarHandle,
    settings: OversightSettings,
}

impl Ratings {
    pub fn new(
        store: Arc<dyn Store>,
        calendar: CalendarHandle,
        settings: OversightSettings,
    ) -> Self {
        Self {
            store,
            calendar,
            settings,
        }
    }

    /// Records `level` for `case`, by `by` (`source`: `citizen` or `staff`). A bad rating
    /// gets its follow-up deadlines from the calendar.
    pub async fn rate(
        &self,
        case: &Case,
        level: Rating,
        comment: Option<String>,
        source: &'static str,
        by: crate::domain::By<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), RatingError> {
        if !matches!(
            case.status,
            Status::Resolved | Status::Closed | Status::Refused
        ) {
            return Err(RatingError::NotFinished);
        }
        let calendar = self.calendar.current();
        let (verify_due, rectify_due) = match level.is_bad() {
            true => (
                Some(
                    calendar
                        .add_working_days(now, self.settings.rating_verify_days)?
                        .at,
                ),
                Some(
                    calendar
                        .add_working_days(now, self.settings.rating_rectify_days)?
                        .at,
                ),
            ),
            false => (None, None),
        };
        self.store
            .rate_case(
                &NewRating {
                    case_id: case.id,
                    level,
                    comment,
                    source,
                    recorded_by: by.name.to_owned(),
                    recorded_by_id: by.id.map(str::to_owned),
                    verify_due,
                    rectify_due,
                },
                now,
            )
            .await?;
        tracing::info!(case = %case.number, level = %level, source, "case rated");
        Ok(())
    }
}
