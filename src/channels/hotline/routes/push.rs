//! HTTP push for PBXs that post their recordings: `POST /api/v1/hotline/voicemails`,
//! multipart, idempotent by the PBX's own message id.

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::super::Hotline;
use super::calls::hotline_channel;
use crate::channels::hotline::asterisk_message::{decode_text, parse_callerid};
use crate::channels::hotline::ingest::{Arrival, TakenIn};
use crate::clock::now;
use crate::domain::citizen::plain_text;
use crate::domain::ActionKind;
use crate::web::error::{ApiError, Text};
use crate::web::extract::Staff;
use crate::web::time::parse_instant;
use crate::web::views::ErrorBody;

/// The multipart form, for the API description.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PushVoicemailForm {
    /// The recording: a PCM WAV file.
    #[schema(format = Binary, content_media_type = "audio/wav")]
    audio: String,
    /// `complaint` or `business`.
    hotline: String,
    /// Caller ID as the PBX has it: `"Name" <number>`, a number, or empty.
    caller: Option<String>,
    /// RFC 3339.
    received_at: String,
    /// The PBX's id of the message; posting the same id again changes nothing.
    external_id: String,
    /// `true` if the caller marked it urgent.
    urgent: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PushVoicemailResult {
    /// `ingested`; `missed_call` for a silent recording (a callback entry, no case); or
    /// `already_ingested` for a repeated external_id.
    pub status: &'static str,
    pub case_number: Option<String>,
    pub recording_id: Option<i64>,
    /// The recording was added to the caller's open case of the same night.
    pub attached: bool,
}

fn field_error(field: &str, zh: &str, en: &str) -> ApiError {
    ApiError::invalid(field, "invalid_input", Text::new(zh, en))
}

/// A PBX posts one voicemail.
#[utoipa::path(
    post, path = "/api/v1/hotline/voicemails", tag = "hotline",
    request_body(content = PushVoicemailForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = PushVoicemailResult),
        (status = 200, description = "This external_id was already ingested", body = PushVoicemailResult),
        (status = 400, description = "Not a multipart/form-data body, or a malformed one", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "A field is missing, or the audio is unusable (it is kept in quarantine)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn push_voicemail(
    State(hotline): State<Hotline>,
    staff: Staff,
    mut form: Multipart,
) -> Result<(StatusCode, Json<PushVoicemailResult>), ApiError> {
    staff.require(ActionKind::PushVoicemail)?;
    let mut audio = None;
    let mut fields = std::collections::HashMap::new();
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_owned();
        let bytes = field.bytes().await.map_err(multipart_error)?;
        if name == "audio" {
            audio = Some(bytes.to_vec());
        } else {
            fields.insert(name, decode_text(&bytes).trim().to_owned());
        }
    }
    let audio = audio.filter(|a| !a.is_empty()).ok_or_else(|| {
        field_error(
            "audio",
            "缺少录音文件（audio）",
            "The audio file (audio) is missing",
        )
    })?;
    let channel = hotline_channel(fields.get("hotline").map(String::as_str).unwrap_or(""))?;
    let tz = hotline.calendar.current().timezone();
    let received_at = match fields.get("received_at").filter(|s| !s.is_empty()) {
        Some(raw) => parse_instant("received_at", raw, tz)?,
        None => {
            return Err(field_error(
                "received_at",
                "缺少来电时间（received_at）",
                "received_at is required",
            ))
        }
    };
    let external_id = fields
        .get("external_id")
        .and_then(|s| plain_text(s, 200).ok())
        .ok_or_else(|| {
            field_error(
                "external_id",
                "缺少留言编号（external_id，最多200字）",
                "external_id is required (at most 200 characters)",
            )
        })?;
    let text_field = |name: &str| -> Result<String, ApiError> {
        let raw = fields.get(name).map(String::as_str).unwrap_or("");
        if raw.is_empty() {
            return Ok(String::new());
        }
        plain_text(raw, 200).map_err(|_| {
            field_error(
                name,
                "内容过长或含有无法显示的字符",
                "too long, or has invisible characters",
            )
        })
    };
    let mut caller = parse_callerid(&text_field("caller")?);
    let name = text_field("caller_name")?;
    if !name.is_empty() {
        caller.name = Some(name);
    }
    // Scoped by the PBX's token: two exchanges may number their messages alike.
    let identity = format!("push:token-{}:{external_id}", staff.1);
    let arrival = Arrival {
        identity: identity.clone(),
        source: "push",
        source_path: format!("push from {}", staff.0.name),
        channel,
        received_at,
        caller,
        urgent: fields
            .get("urgent")
            .is_some_and(|u| u == "true" || u == "1"),
        quarantine_key: None,
    };
    let ingestor = &hotline.ingestor;
    let taken = ingestor
        .take_in(arrival, Some(audio.clone()))
        .await
        .map_err(ApiError::internal)?;
    match taken {
        TakenIn::Ingested {
            case,
            attached,
            recording_id,
        } => Ok((
            StatusCode::CREATED,
            Json(PushVoicemailResult {
                status: "ingested",
                case_number: Some(case.number.to_string()),
                recording_id,
                attached,
            }),
        )),
        TakenIn::MissedCall { .. } => Ok((
            StatusCode::CREATED,
            Json(PushVoicemailResult {
                status: "missed_call",
                case_number: None,
                recording_id: None,
                attached: false,
            }),
        )),
        TakenIn::Already { number } => Ok((
            StatusCode::OK,
            Json(PushVoicemailResult {
                status: "already_ingested",
                case_number: number.map(|n| n.to_string()),
                recording_id: None,
                attached: false,
            }),
        )),
        TakenIn::Rejected(reason) => {
            let store = ingestor.audio().clone();
            let kept = tokio::task::spawn_blocking(move || store.keep_rejected(&audio))
                .await
                .map_err(|e| ApiError::internal(e.into()))?
                .map_err(ApiError::internal)?;
            hotline
                .store
                .quarantine(
                    &identity,
                    "push",
                    &kept.display().to_string(),
                    &reason,
                    now(),
                )
                .await?;
            Err(ApiError::invalid(
                "audio",
                "unusable_audio",
                Text::new(
                    format!("录音无法使用，已隔离保存：{reason}"),
                    format!("The recording cannot be used and was kept in quarantine: {reason}"),
                ),
            ))
        }
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    let status = e.status();
    let text = e.body_text();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            status,
            "payload_too_large",
            Text::new("录音文件太大", "The recording is too large"),
        );
    }
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "malformed_multipart",
        Text::new(
            format!("表单格式不对：{text}"),
            format!("Malformed multipart form: {text}"),
        ),
    )
}
