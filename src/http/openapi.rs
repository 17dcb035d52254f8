//! The OpenAPI 3.1 description, generated from the handlers and types.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    callbacks, cases, health, hotline, outbox, ratings, roster, statistics, twilio_callback, views,
    voicemail_push, website, AppState,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "youmen (有门) intake API",
        description = "One case queue for the can't-get-it-done window (办不成事反映窗口): counter, hotlines and website. Errors are `{\"error\":{\"code\",\"message\",\"field\"}}`, messages in Chinese unless Accept-Language prefers English."
    ),
    paths(
        cases::register_case, cases::list_cases, cases::show_case, cases::act_on_case,
        hotline::log_call, hotline::list_quarantine, hotline::play_recording,
        voicemail_push::push_voicemail, twilio_callback::recording_callback,
        website::api::api_submit,
        outbox::list_outbox,
        roster::show, roster::set, roster::import,
        ratings::record, ratings::follow_ups, ratings::follow_up,
        statistics::api, statistics::export,
        callbacks::day_list, callbacks::generate, callbacks::claim, callbacks::attempt,
        callbacks::export, callbacks::print,
        health::healthz, health::readyz,
    ),
    components(schemas(views::ErrorBody, views::ErrorDetail, views::ErrorField)),
    modifiers(&BearerAuth),
    tags((name = "cases", description = "The shared case queue"), (name = "hotline", description = "The two hotlines"), (name = "website", description = "Messages from the bureau's website"), (name = "callbacks", description = "The next-morning callback list"), (name = "oversight", description = "What leaders and administrators see"), (name = "health", description = "Probes"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from `youmen token create`"))
                    .build(),
            ),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/openapi.json",
        get(|| async { Json(ApiDoc::openapi()) }),
    )
}
