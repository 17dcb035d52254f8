//! The website channel's routes: the message form (`/message`), tracking (`/track`), the
//! privacy notice, and `POST /api/v1/website/messages` for the bureau's own website. Each
//! handler takes the site ([`PublicSite`]) from the application's state by `FromRef`.
//!
//! Pages are server-rendered (askama, escaped by default) and work with JavaScript off.
//! Spam defence without foreign services: a honeypot field, a signed form token with a
//! minimum fill time, per-address limits kept in the database (so they hold across
//! instances), body limits, and folding of the same message from the same phone.

pub mod api;
mod guard;
mod pages;
mod track;

use std::sync::Arc;

use axum::extract::FromRef;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::routing::{get, post};
use axum::Router;

pub use guard::PublicSite;

use crate::channels::website::{Receipt, SubmitError};
use crate::config::WebsiteSettings;
use crate::web::error::ApiError;

pub fn router<S>(settings: &WebsiteSettings) -> Router<S>
where
    Arc<PublicSite>: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    // OPTIONS is routed explicitly so that CORS preflights reach the CORS layer.
    let mut api = Router::new().route(
        "/api/v1/website/messages",
        post(api::api_submit).options(|| async { StatusCode::NO_CONTENT }),
    );
    if !settings.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = settings
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
            .collect();
        api = api.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([Method::POST])
                .allow_headers([header::CONTENT_TYPE, header::ACCEPT_LANGUAGE]),
        );
    }
    Router::new()
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/message") }),
        )
        .route("/message", get(pages::show_form).post(pages::submit_form))
        .route("/message/privacy", get(pages::privacy))
        .route("/track", get(track::track_page).post(track::track_form))
        .route("/track/rate", post(track::rate))
        .route("/assets/site.css", get(pages::css))
        .route("/assets/site.js", get(pages::js))
        .merge(api)
}

fn log_receipt(receipt: &Receipt) {
    tracing::info!(
        case = %receipt.case_number,
        duplicate = receipt.duplicate,
        mail = receipt.confirmation_queued,
        "website message received"
    );
}

fn submit_error(e: SubmitError) -> ApiError {
    match e {
        SubmitError::Invalid(errors) => ApiError::fields(errors),
        SubmitError::Store(e) => e.into(),
        SubmitError::Calendar(e) => ApiError::internal(anyhow::Error::new(e)),
        // Callers answer this one themselves (429 with Retry-After); a fallback all the same.
        SubmitError::Limited => ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            crate::web::error::Text::new(
                "从该地址提交的留言太多，请稍后再试",
                "Too many messages from this address; try again later",
            ),
        ),
    }
}
