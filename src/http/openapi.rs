//! The OpenAPI 3.1 description, generated from the handlers and types.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{calendar, callbacks, cases, health, outbox, ratings, roster, statistics, AppState};
use crate::channels::hotline::routes::{calls, cti, push, recordings, twilio};
use crate::web::views;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "youmen (有门) intake API",
        description = "One case queue for the can't-get-it-done window (办不成事反映窗口): counter, hotlines and website. Errors are `{\"error\":{\"code\",\"message\",\"field\"}}`, messages in Chinese unless Accept-Language prefers English."
    ),
    paths(
        cases::register_case, cases::list_cases, cases::show_case, cases::act_on_case, cases::correct_case,
        super::staff::problems::link_api,
        calls::log_call, recordings::list_quarantine, recordings::play_recording,
        push::push_voicemail, twilio::recording_callback, cti::push_event, cti::active_calls,
        crate::channels::website::routes::api::api_submit,
        outbox::list_outbox,
        roster::show, roster::set, roster::import,
        ratings::record, ratings::follow_ups, ratings::follow_up,
        statistics::api, statistics::export, super::reports::api, super::evaluation::api,
        callbacks::day_list, callbacks::generate, callbacks::claim, callbacks::attempt,
        callbacks::export, callbacks::print,
        health::healthz, health::readyz,
        calendar::open,
    ),
    components(schemas(views::ErrorBody, views::ErrorDetail, views::ErrorField)),
    modifiers(&BearerAuth, &SharedResponses),
    tags((name = "cases", description = "The shared case queue"), (name = "hotline", description = "The two hotlines"), (name = "website", description = "Messages from the bureau's website"), (name = "callbacks", description = "The next-morning callback list"), (name = "oversight", description = "What leaders and administrators see"), (name = "health", description = "Probes"), (name = "calendar", description = "The official working calendar"))
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

/// The error responses that come from the shared extractors and middleware rather than from
/// a handler's own logic, added to every operation that declares what causes them, so that
/// each handler's annotation lists only its own outcomes (and none of these is forgotten).
struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                add_shared_responses(operation);
            }
        }
    }
}

fn add_shared_responses(operation: &mut Operation) {
    let bearer = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let body_types: Vec<String> = operation
        .request_body
        .iter()
        .flat_map(|b| b.content.keys().cloned())
        .collect();
    let has_body = |media: &str| body_types.iter().any(|t| t == media);
    let has_parameter = |place: ParameterIn| {
        operation
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == place)
    };
    let (has_path, has_query) = (
        has_parameter(ParameterIn::Path),
        has_parameter(ParameterIn::Query),
    );
    let mut shared: Vec<(&str, &str)> = Vec::new();
    if bearer {
        shared.push((
            "401",
            "No `Authorization: Bearer` token (nor a signed-in session), or a revoked one",
        ));
        shared.push((
            "403",
            "The token's role may not do this (a `pbx` token may only post voicemail), or a session's request lacks its X-CSRF-Token",
        ));
    }
    if has_body("application/json") {
        shared.push(("400", "The body is not valid JSON"));
        shared.push(("415", "The body is not sent as `application/json`"));
        shared.push((
            "422",
            "A field is missing, of the wrong type, unknown, or invalid",
        ));
    }
    if has_body("application/x-www-form-urlencoded") {
        shared.push((
            "415",
            "The body is not sent as `application/x-www-form-urlencoded`",
        ));
    }
    if !body_types.is_empty() {
        shared.push((
            "413",
            "The body is larger than the limit (`server.body_limit_bytes`; `hotline.max_recording_bytes` for recordings)",
        ));
    }
    if has_path {
        shared.push((
            "400",
            "A path parameter is malformed (an id that is not a number, text that is not UTF-8)",
        ));
    }
    if has_query {
        shared.push((
            "422",
            "A query parameter is malformed or has an unknown value",
        ));
    }
    // Every operation but the liveness probe reads the database.
    if operation.operation_id.as_deref() != Some("healthz") {
        shared.push((
            "503",
            "The database is unreachable for now; try again shortly",
        ));
    }
    for (status, description) in shared {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description).into());
    }
}

/// A response with the usual error body.
fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/openapi.json",
        get(|| async { Json(ApiDoc::openapi()) }),
    )
}
