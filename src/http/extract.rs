//! Extractors: JSON bodies and query strings whose rejections speak our error shape, and
//! the authenticated staff member behind a bearer token.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use super::error::{ApiError, Text};
use super::AppState;
use crate::auth;
use crate::domain::{ActionKind, Actor};

/// `Json<T>` with errors a person understands.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let detail = rejection.body_text();
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            Text::new(
                "请求须为 JSON，并带有 Content-Type: application/json",
                "Send JSON with Content-Type: application/json",
            ),
        ),
        JsonRejection::JsonSyntaxError(_) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            Text::new(
                format!("请求内容不是有效的 JSON：{detail}"),
                format!("The body is not valid JSON: {detail}"),
            ),
        ),
        JsonRejection::JsonDataError(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_json_fields",
            Text::new(
                format!("请求字段缺失或类型不对：{detail}"),
                format!("A field is missing or of the wrong type: {detail}"),
            ),
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            Text::new("提交的内容太大", "The request body is too large"),
        ),
        other => ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            Text::new(
                format!("无法读取请求内容：{}", other.body_text()),
                other.body_text(),
            ),
        ),
    }
}

/// `Query<T>` with errors a person understands.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => {
                let detail = match &rejection {
                    QueryRejection::FailedToDeserializeQueryString(e) => e.body_text(),
                    other => other.body_text(),
                };
                Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_query",
                    Text::new(
                        format!("查询参数有误：{detail}"),
                        format!("Invalid query parameters: {detail}"),
                    ),
                ))
            }
        }
    }
}

/// The staff member (or machine) making the request, authenticated by
/// `Authorization: Bearer <token>`, and the id of that token.
pub struct Staff(pub Actor, pub i64);

impl Staff {
    /// 403 unless one of the actor's roles may do `kind`.
    pub fn require(&self, kind: ActionKind) -> Result<(), ApiError> {
        if self.0.may(kind) {
            Ok(())
        } else {
            Err(forbidden(kind))
        }
    }
}

pub fn forbidden(kind: ActionKind) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        Text::new(
            format!("您的岗位无权执行此操作（{}）", kind.code()),
            format!("Your role may not do this ({})", kind.code()),
        ),
    )
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let unauthenticated = |code, zh: &str, en: &str| {
            ApiError::new(StatusCode::UNAUTHORIZED, code, Text::new(zh, en))
        };
        let Some(header) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return session_staff(parts, state).await;
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                unauthenticated(
                    "unauthenticated",
                    "Authorization 头须为 Bearer 令牌",
                    "The Authorization header must be a Bearer token",
                )
            })?;
        let record = state
            .store
            .token_by_hash(&auth::hash_token(token))
            .await?
            .ok_or_else(|| {
                unauthenticated(
                    "invalid_token",
                    "访问令牌无效或已被吊销",
                    "The access token is invalid or revoked",
                )
            })?;
        Ok(Staff(
            Actor {
                name: record.name,
                roles: vec![record.role],
            },
            record.id,
        ))
    }
}

/// A signed-in staff member's browser calling the API (the recordings the pages play, for
/// instance). Reading needs the session; changing anything also needs the session's CSRF
/// token in `X-CSRF-Token`.
async fn session_staff(parts: &Parts, state: &AppState) -> Result<Staff, ApiError> {
    let session = super::staff::session_of(state, &parts.headers)
        .await?
        .ok_or_else(super::staff::unauthenticated)?;
    let safe = matches!(
        parts.method,
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    let csrf_ok = parts
        .headers
        .get("x-csrf-token")
        .is_some_and(|v| crate::auth::same_secret(v.as_bytes(), session.csrf_token.as_bytes()));
    if !safe && !csrf_ok {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            Text::new("缺少或错误的 X-CSRF-Token", "Missing or wrong X-CSRF-Token"),
        ));
    }
    Ok(Staff(
        Actor {
            name: session.user.display_name,
            roles: session.user.roles,
        },
        -session.user.id,
    ))
}
