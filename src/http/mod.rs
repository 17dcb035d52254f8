//! HTTP at the edge: one router per area, merged here, with the shared middleware.

mod callbacks;
mod cases;
pub mod error;
mod extract;
pub mod health;
pub(crate) mod hotline;
pub mod html;
pub mod metrics;
pub mod openapi;
mod outbox;
mod ratings;
pub(crate) mod roster;
pub mod staff;
mod statistics;
mod twilio_callback;
pub mod views;
mod voicemail_push;
pub mod website;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderName;
use axum::{middleware, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::calendar_source::CalendarHandle;
use crate::channels::hotline::ingest::Ingestor;
use crate::domain::IntakeRules;
use crate::storage::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub calendar: CalendarHandle,
    pub rules: Arc<IntakeRules>,
    pub ingestor: Ingestor,
    /// Every change and view of a case.
    pub cases: crate::cases::CaseDesk,
    /// The one intake path, which every channel registers through.
    pub intake: crate::intake::Intake,
    /// The public website channel.
    pub site: Arc<website::PublicSite>,
    /// The next-morning callback list.
    pub callbacks: crate::callbacks::CallbackService,
    /// Sessions and sign-in for the staff pages.
    pub staff: crate::config::StaffSettings,
    /// Alerts and the follow-up of ratings.
    pub oversight: crate::config::OversightSettings,
    /// What /readyz checks beyond the database and the calendar.
    pub readiness: Arc<health::Targets>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(state: AppState, body_limit: usize, max_recording_bytes: u64) -> Router {
    crate::telemetry::metrics::handle();
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            // The matched route, never the raw URI: a query string may hold a phone number.
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(MatchedPath::as_str)
                .unwrap_or("unmatched");
            let id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info_span!("request", method = %req.method(), route, request_id = id)
        })
        .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO))
        .on_request(());
    let public = match state.site.settings.enabled {
        true => website::router(&state.site.settings),
        false => Router::new(),
    };
    Router::new()
        .merge(public)
        .merge(cases::router())
        .merge(outbox::router())
        .merge(callbacks::router())
        .merge(roster::router())
        .merge(ratings::router())
        .merge(statistics::router())
        .merge(staff::router())
        .merge(hotline::router())
        .merge(twilio_callback::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(openapi::router())
        .layer(DefaultBodyLimit::max(body_limit))
        // After the general limit: recordings are larger than any JSON body.
        .merge(voicemail_push::router(max_recording_bytes))
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(trace)
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(middleware::from_fn(metrics::track))
                .layer(middleware::from_fn(error::render_errors))
                .layer(CatchPanicLayer::custom(error::panic_response)),
        )
        .with_state(state)
}
