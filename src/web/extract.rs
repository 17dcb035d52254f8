//! Extractors: JSON bodies and query strings whose rejections speak our error shape, and
//! the authenticated staff member behind a bearer token.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRef, FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use super::error::{ApiError, Text};
use super::Auth;
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

/// A body that could not be read at all: too large (413), or another reason axum gives.
pub fn unreadable_body(status: StatusCode, reason: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            Text::new("提交的内容太大", "The request body is too large"),
        );
    }
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        Text::new(format!("无法读取请求内容：{reason}"), reason),
    )
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
        other => unreadable_body(other.status(), other.body_text()),
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

/// `Path<T>` with errors a person understands: a malformed path parameter (a recording id
/// that is not a number, say) is 400, naming the parameter.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => {
                // A lone parameter parsed as a plain value is not named in the rejection.
                let lone = match RawPathParams::from_request_parts(parts, state).await {
                    Ok(params) if params.iter().count() == 1 => {
                        params.iter().next().map(|(key, _)| key.to_owned())
                    }
                    _ => None,
                };
                Err(path_rejection(rejection, lone))
            }
        }
    }
}

fn path_rejection(rejection: PathRejection, lone: Option<String>) -> ApiError {
    let detail = rejection.body_text();
    if rejection.status().is_server_error() {
        // A route whose pattern does not fit its extractor: our bug, not the client's.
        return ApiError::internal(anyhow::anyhow!("path extraction failed: {detail}"));
    }
    let field = match &rejection {
        PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
            ErrorKind::ParseErrorAtKey { key, .. } | ErrorKind::InvalidUtf8InPathParam { key } => {
                Some(key.clone())
            }
            _ => lone,
        },
        _ => lone,
    };
    // The code the framework's own rejection had: clients may already test for it.
    let (zh, en) = match &field {
        Some(field) => (
            format!("地址中的参数 {field} 有误：{detail}"),
            format!("Invalid path parameter `{field}`: {detail}"),
        ),
        None => (
            format!("地址中的参数有误：{detail}"),
            format!("Invalid path parameter: {detail}"),
        ),
    };
    let err = ApiError::new(StatusCode::BAD_REQUEST, "bad_request", Text::new(zh, en));
    match field {
        Some(field) => err.with_field(field),
        None => err,
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

impl<S> FromRequestParts<S> for Staff
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_ref(state);
        let unauthenticated = |code, zh: &str, en: &str| {
            ApiError::new(StatusCode::UNAUTHORIZED, code, Text::new(zh, en))
        };
        let Some(header) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return session_staff(parts, &auth).await;
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
        let now = crate::clock::now();
        let record = auth
            .store
            .token_by_hash(&auth::hash_token(token), now)
            .await?
            .ok_or_else(|| {
                unauthenticated(
                    "invalid_token",
                    "访问令牌无效、已过期或已被吊销",
                    "The access token is invalid, expired or revoked",
                )
            })?;
        if auth.token_uses.due(record.id, now) {
            auth.store.touch_token(record.id, now).await?;
        }
        Ok(Staff(
            Actor {
                name: record.name,
                roles: vec![record.role],
                id: Some(format!("token:{}", record.id)),
            },
            record.id,
        ))
    }
}

/// A signed-in staff member's browser calling the API (the recordings the pages play, for
/// instance). Reading needs the session; changing anything also needs the session's CSRF
/// token in `X-CSRF-Token`.
async fn session_staff(parts: &Parts, auth: &Auth) -> Result<Staff, ApiError> {
    let session = super::session::session_of(auth, &parts.headers)
        .await?
        .ok_or_else(super::session::unauthenticated)?;
    if session.user.must_change_password {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "password_change_required",
            Text::new(
                "请先在 /staff/password 设置自己的密码",
                "Choose your own password at /staff/password first",
            ),
        ));
    }
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
            id: Some(format!("user:{}", session.user.id)),
        },
        -session.user.id,
    ))
}
