//! HTTP at the edge: one router per area, merged here, with the shared middleware.

mod action_request;
mod calendar;
mod callbacks;
mod cases;
mod evaluation;
pub mod health;
pub mod metrics;
pub mod openapi;
mod outbox;
mod ratings;
mod reports;
pub(crate) mod roster;
pub mod serve;
pub mod staff;
mod statistics;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef, MatchedPath, Request};
use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::{middleware, Router};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::calendar_source::CalendarHandle;
use crate::channels::website::routes::PublicSite;
use crate::domain::IntakeRules;
use crate::storage::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub calendar: CalendarHandle,
    pub rules: Arc<IntakeRules>,
    /// The channels as their routes see them.
    pub counter: crate::channels::counter::Counter,
    pub hotline: crate::channels::hotline::Hotline,
    /// Every change and view of a case.
    pub cases: crate::cases::CaseDesk,
    /// The one intake path, which every channel registers through.
    pub intake: crate::intake::Intake,
    /// The public website channel.
    pub site: Arc<PublicSite>,
    /// Ratings given by the public or taken by staff.
    pub ratings: crate::ratings::Ratings,
    /// The next-morning callback list.
    pub callbacks: crate::callbacks::CallbackService,
    /// Tokens and sessions: what authenticates a request.
    pub auth: crate::web::Auth,
    /// Alerts and the follow-up of ratings.
    pub oversight: crate::config::OversightSettings,
    /// What /readyz checks beyond the database and the calendar.
    pub readiness: Arc<health::Targets>,
    /// The bureau's departments and counters.
    pub directory: crate::directory::Directory,
    /// The weights of the evaluation.
    pub evaluation: crate::config::EvaluationSettings,
}

impl FromRef<AppState> for crate::channels::counter::Counter {
    fn from_ref(state: &AppState) -> Self {
        state.counter.clone()
    }
}

impl FromRef<AppState> for crate::channels::hotline::Hotline {
    fn from_ref(state: &AppState) -> Self {
        state.hotline.clone()
    }
}

impl FromRef<AppState> for Arc<PublicSite> {
    fn from_ref(state: &AppState) -> Self {
        state.site.clone()
    }
}

impl FromRef<AppState> for crate::web::Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(
    state: AppState,
    server: &crate::config::ServerSettings,
    max_recording_bytes: u64,
) -> Router {
    let body_limit = server.body_limit_bytes;
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
        true => crate::channels::website::routes::router(&state.site.settings),
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
        .merge(crate::channels::counter::router())
        .merge(crate::channels::hotline::routes::router())
        .merge(health::router())
        .merge(calendar::router())
        .merge(metrics::router())
        .merge(openapi::router())
        .layer(DefaultBodyLimit::max(body_limit))
        // After the general limit: recordings are larger than any JSON body.
        .merge(crate::channels::hotline::routes::push_router(
            max_recording_bytes,
        ))
        .fallback(crate::web::error::no_route)
        .method_not_allowed_fallback(crate::web::error::wrong_method)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(trace)
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(middleware::from_fn(metrics::track))
                .layer(middleware::from_fn(crate::web::error::render_errors))
                // Every answer, JSON and audio included: never cached unless it says so (the
                // static assets), never sniffed as another type.
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(server.request_timeout_seconds.max(1)),
                ))
                .layer(GlobalConcurrencyLimitLayer::new(
                    server.max_concurrent_requests.max(1),
                ))
                .layer(CatchPanicLayer::custom(crate::web::error::panic_response)),
        )
        .with_state(state)
}
