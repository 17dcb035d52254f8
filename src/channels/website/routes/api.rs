//! `POST /api/v1/website/messages`: the same message, fields and rules as the form, as JSON
//! for the bureau's own website.

use std::sync::Arc;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{log_receipt, submit_error, PublicSite};
use crate::channels::website::SubmitError;
use crate::domain::website::MessageForm;
use crate::web::error::{ApiError, Text};
use crate::web::extract::ApiJson;
use crate::web::views::ErrorBody;

// ---- the JSON API -------------------------------------------------------------------

/// A message from the bureau's own website (the same fields and rules as the form).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebsiteMessageRequest {
    #[schema(example = "王大爷")]
    pub name: String,
    #[schema(example = "138 0013 8000")]
    pub phone: String,
    pub email: Option<String>,
    /// A code from the configured matter list.
    #[schema(example = "pensions")]
    pub matter: String,
    #[schema(example = "在社保窗口办理养老金资格认证未办成")]
    pub description: String,
    /// The visitor agreed to the use of their details for this matter.
    pub consent: bool,
    /// A honeypot: a form field people never see. Must be absent or empty.
    pub homepage: Option<String>,
    /// The counter the visitor tried before (a code the bureau publishes), if they say.
    pub failed_counter: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExpectedResponse {
    pub zh: String,
    pub en: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebsiteReceiptView {
    #[schema(example = "YM-20261128-0007")]
    pub case_number: String,
    /// Shown once; absent when the message folded into an earlier case.
    #[schema(example = "K7QM3-XPA9D")]
    pub tracking_code: Option<String>,
    /// The same phone sent the same text recently: this is that case.
    pub duplicate: bool,
    pub expected_response: ExpectedResponse,
    pub received_at: chrono::DateTime<chrono::FixedOffset>,
    /// A confirmation e-mail was queued.
    pub confirmation_queued: bool,
}

/// Leave a website message (官网留言) from the bureau's own website.
#[utoipa::path(
    post, path = "/api/v1/website/messages", tag = "website",
    request_body = WebsiteMessageRequest,
    responses(
        (status = 201, description = "Registered and durable", body = WebsiteReceiptView),
        (status = 200, description = "The same message was already received: its case", body = WebsiteReceiptView),
        (status = 400, description = "Refused as spam", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "Every invalid field", body = ErrorBody),
        (status = 429, description = "Too many messages from this address", body = ErrorBody),
    )
)]
pub async fn api_submit(
    State(site): State<Arc<PublicSite>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<WebsiteMessageRequest>,
) -> Result<Response, ApiError> {
    if body.homepage.as_deref().is_some_and(|h| !h.is_empty()) {
        tracing::info!("website API message refused: honeypot filled");
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "refused",
            Text::new("留言未被接受", "The message was not accepted"),
        ));
    }
    let now = crate::clock::now();
    let form = MessageForm {
        name: body.name,
        phone: body.phone,
        email: body.email.unwrap_or_default(),
        matter: body.matter,
        description: body.description,
        consent: body.consent,
        counter: body.failed_counter.unwrap_or_default(),
    };
    let message = site
        .desk
        .validate(&form, now)
        .await
        .map_err(ApiError::fields)?;
    let ip = site.client_ip(peer, &headers);
    let rate = site.submit_rate(ip);
    let receipt = match site.desk.store(message, now, Some(rate)).await {
        Err(SubmitError::Limited) => {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                Text::new(
                    "从该地址提交的留言太多，请稍后再试",
                    "Too many messages from this address; try again later",
                ),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
            return Ok(response);
        }
        other => other.map_err(submit_error)?,
    };
    log_receipt(&receipt);
    let tz = site.desk.timezone();
    let view = WebsiteReceiptView {
        case_number: receipt.case_number.to_string(),
        tracking_code: receipt.tracking_code,
        duplicate: receipt.duplicate,
        expected_response: ExpectedResponse {
            zh: receipt.promise.zh(),
            en: receipt.promise.en(),
        },
        received_at: crate::web::views::local(receipt.received_at, tz),
        confirmation_queued: receipt.confirmation_queued,
    };
    let status = match receipt.duplicate {
        true => StatusCode::OK,
        false => StatusCode::CREATED,
    };
    Ok((status, Json(view)).into_response())
}
