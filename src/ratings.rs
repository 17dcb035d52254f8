//! Ratings (好差评): recording a case's rating, and the follow-up a bad one opens for the
//! duty leader (verified within one working day, rectified within fifteen, by default).

use chrono::{DateTime, Utc};

use crate::domain::{Case, Rating, Status, WorkingCalendar};
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

/// Records `level` for `case`. A bad rating gets its follow-up deadlines from the calendar.
#[allow(clippy::too_many_arguments)]
pub async fn rate(
    store: &dyn Store,
    calendar: &WorkingCalendar,
    settings: &crate::config::OversightSettings,
    case: &Case,
    level: Rating,
    comment: Option<String>,
    source: &'static str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), RatingError> {
    if !matches!(
        case.status,
        Status::Resolved | Status::Closed | Status::Refused
    ) {
        return Err(RatingError::NotFinished);
    }
    let (verify_due, rectify_due) = match level.is_bad() {
        true => (
            Some(
                calendar
                    .add_working_days(now, settings.rating_verify_days)?
                    .at,
            ),
            Some(
                calendar
                    .add_working_days(now, settings.rating_rectify_days)?
                    .at,
            ),
        ),
        false => (None, None),
    };
    store
        .rate_case(
            &NewRating {
                case_id: case.id,
                level,
                comment,
                source,
                recorded_by: by.to_owned(),
                verify_due,
                rectify_due,
            },
            now,
        )
        .await?;
    tracing::info!(case = %case.number, level = %level, source, "case rated");
    Ok(())
}
