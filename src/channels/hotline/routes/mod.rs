//! The hotline channel's routes: calls logged by operators (the API and the operators'
//! page), the voicemail quarantine and recordings for staff to play, recordings pushed by a
//! PBX, and Twilio-style recording callbacks. Each handler takes the channel ([`Hotline`])
//! from the application's state by `FromRef`.

pub mod calls;
pub mod cti;
pub mod push;
pub mod recordings;
pub mod twilio;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};
use axum::Router;

use super::Hotline;
use crate::web::Auth;

/// Everything but the pushed recordings, under the general body limit.
pub fn router<S>() -> Router<S>
where
    Hotline: FromRef<S>,
    Auth: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/api/v1/hotline/calls", post(calls::log_call))
        // Any other method is "no such route" too: the path holds a secret.
        .route(
            "/api/v1/cti/{token}",
            post(cti::push_event).fallback(crate::web::error::no_route),
        )
        .route("/api/v1/calls/active", get(cti::active_calls))
        .route("/staff/calls/live", get(cti::live_banners))
        .route("/staff/calls/stream", get(cti::banner_stream))
        .route(
            "/staff/calls",
            get(calls::call_page).post(calls::call_submit),
        )
        .route(
            "/api/v1/hotline/quarantine",
            get(recordings::list_quarantine),
        )
        .route("/api/v1/recordings/{id}", get(recordings::play_recording))
        .route(
            "/api/v1/hotline/recording-callback",
            post(twilio::recording_callback),
        )
}

/// Recordings pushed by a PBX, with a body limit of their own (recordings are larger than
/// any JSON body).
pub fn push_router<S>(max_recording_bytes: u64) -> Router<S>
where
    Hotline: FromRef<S>,
    Auth: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    // Room for the audio and the form fields around it.
    let limit = usize::try_from(max_recording_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    Router::new()
        .route("/api/v1/hotline/voicemails", post(push::push_voicemail))
        .layer(DefaultBodyLimit::max(limit))
}
