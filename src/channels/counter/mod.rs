//! The counter channel: walk-ins at the window on the third floor, registered by counter
//! staff while the citizen waits (`domain::registration` turns the form into a
//! `Submission`; the one intake path registers it). Its routes are in [`routes`].

pub mod routes;

use std::sync::Arc;

use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::Router;

use crate::calendar_source::CalendarHandle;
use crate::domain::IntakeRules;
use crate::intake::Intake;
use crate::storage::Store;
use crate::web::Auth;

/// The counter channel as its routes see it.
#[derive(Clone)]
pub struct Counter {
    pub intake: Intake,
    pub rules: Arc<IntakeRules>,
    pub calendar: CalendarHandle,
    /// For the repeat-visitor banner.
    pub store: Arc<dyn Store>,
    /// The counters and departments a matter may have failed at.
    pub directory: crate::directory::Directory,
}

/// The walk-in form and its repeat-visitor banner.
pub fn router<S>() -> Router<S>
where
    Counter: FromRef<S>,
    Auth: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(
            "/staff/register",
            get(routes::register_page).post(routes::register_submit),
        )
        .route("/staff/register/repeat", post(routes::repeat_banner))
}
