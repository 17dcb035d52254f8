//! `POST /api/v1/hotline/recording-callback`: Twilio-style recording status callbacks,
//! authenticated by their `X-Twilio-Signature`, answered at once; the recording is fetched
//! by the durable download job.

use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;

use super::super::Hotline;
use crate::channels::hotline::downloads;
use crate::channels::hotline::twilio::verify;
use crate::clock::now;
use crate::domain::{Channel, PhoneNumber};
use crate::storage::NewDownload;
use crate::web::error::{ApiError, Text};
use crate::web::views::ErrorBody;

const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The hotline a call was made to, by the `To` number; the first configured line when the
/// number is not one of ours (logged: the call is kept, not dropped).
fn hotline_of(hotline: &Hotline, to: Option<&str>) -> Channel {
    let dialing = &hotline.rules.dialing;
    let to = to.and_then(|t| PhoneNumber::parse(t, dialing).ok().flatten());
    let lines = hotline.ingestor.lines();
    let found = to.as_ref().and_then(|to| {
        lines.iter().find(|(_, line)| {
            PhoneNumber::parse(&line.number, dialing)
                .ok()
                .flatten()
                .is_some_and(|n| n.e164() == to.e164())
        })
    });
    match found.or(lines.first()) {
        Some((channel, _)) => *channel,
        None => Channel::ComplaintHotline,
    }
}

/// The callback's form, for the API description (the handler keeps every parameter as sent,
/// since the signature covers them all).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct RecordingCallbackForm {
    /// Required (422 without it).
    recording_sid: Option<String>,
    /// Where the recording is fetched from (`.wav` is appended).
    recording_url: Option<String>,
    /// `completed` (the default), `absent`, `failed`; anything else is ignored.
    recording_status: Option<String>,
    recording_duration: Option<String>,
    /// When the recording started (RFC 2822); the callback's arrival otherwise.
    recording_start_time: Option<String>,
    call_sid: Option<String>,
    /// The caller.
    from: Option<String>,
    /// The hotline called.
    to: Option<String>,
}

/// A recording callback from the telephony provider.
#[utoipa::path(
    post, path = "/api/v1/hotline/recording-callback", tag = "hotline",
    request_body(content = RecordingCallbackForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Accepted (an empty TwiML answer); the recording is fetched by a background job", body = String, content_type = "text/xml"),
        (status = 403, description = "Missing or wrong X-Twilio-Signature", body = ErrorBody),
        (status = 422, description = "No RecordingSid, or control characters in a parameter", body = ErrorBody),
        (status = 404, description = "Callbacks are not configured here (hotline.twilio.auth_token)", body = ErrorBody),
    )
)]
pub async fn recording_callback(
    State(hotline): State<Hotline>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Form(params): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let settings = hotline.ingestor.twilio();
    // Not configured: the route is as good as absent (like the website API when disabled).
    // Not a 5xx: nothing is wrong with the service, and a provider must not retry.
    if settings.auth_token.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_configured",
            Text::new(
                "未配置录音回调（hotline.twilio.auth_token）",
                "Recording callbacks are not configured (hotline.twilio.auth_token)",
            ),
        ));
    }
    let base = if settings.public_base_url.is_empty() {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    } else {
        settings.public_base_url.trim_end_matches('/').to_owned()
    };
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{base}{path}");
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !verify(&settings.auth_token, &url, &params, signature) {
        tracing::warn!(
            route = "/api/v1/hotline/recording-callback",
            "recording callback with a bad signature"
        );
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "bad_signature",
            Text::new("回调签名无效", "The X-Twilio-Signature does not match"),
        ));
    }
    if params
        .iter()
        .any(|(k, v)| k.chars().chain(v.chars()).any(|c| c.is_control()))
    {
        return Err(ApiError::invalid(
            "form",
            "invalid_characters",
            Text::new(
                "回调参数中含有控制字符",
                "A callback parameter contains control characters",
            ),
        ));
    }
    let Some(recording_sid) = param(&params, "RecordingSid") else {
        return Err(ApiError::invalid(
            "RecordingSid",
            "required",
            Text::new("缺少 RecordingSid", "RecordingSid is required"),
        ));
    };
    let download = NewDownload {
        recording_sid: recording_sid.to_owned(),
        call_sid: param(&params, "CallSid").map(str::to_owned),
        url: param(&params, "RecordingUrl").unwrap_or("").to_owned(),
        channel: hotline_of(&hotline, param(&params, "To")),
        caller: param(&params, "From").map(str::to_owned),
        // When the recording started, if the provider says (RFC 2822); the callback itself
        // may come minutes later, across the end of working hours.
        received_at: param(&params, "RecordingStartTime")
            .and_then(|t| chrono::DateTime::parse_from_rfc2822(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .filter(|t| *t <= now())
            .unwrap_or_else(now),
    };
    let status = param(&params, "RecordingStatus").unwrap_or("completed");
    // The account's credentials go only to the provider's own media hosts: a recording
    // elsewhere is not fetched, and the call is taken as one without its recording.
    let fetchable = settings.media_url_allowed(&download.url);
    if status == "completed" && !download.url.is_empty() && !fetchable {
        tracing::warn!(
            recording = %download.recording_sid,
            "recording callback names a media host outside hotline.twilio.media_hosts (or not https): the call is registered without its recording"
        );
    }
    if status == "completed" && fetchable {
        hotline.ingestor.announce_download(&download, now()).await?;
    } else if matches!(status, "absent" | "failed" | "completed") {
        // No recording (too short, silent, failed): still a caller to call back.
        hotline
            .ingestor
            .take_in(downloads::arrival(&download), None)
            .await
            .map_err(ApiError::internal)?;
    }
    // Anything else (in-progress): the completed callback follows.
    Ok(([(header::CONTENT_TYPE, "text/xml")], EMPTY_TWIML).into_response())
}
