//! Staff sign-in sessions: the signed-in staff member behind a page request
//! ([`StaffUser`]), the session cookie, and the CSRF check of every form. Sessions live in the
//! database (the cookie holds a random secret; only its hash is stored); cookies are
//! HttpOnly, SameSite=Strict and Secure.

use axum::extract::{FromRef, FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;

use super::error::{ApiError, Text};
use super::html::Tr;
use super::Auth;
use crate::auth;
use crate::domain::{ActionKind, Actor, Role};
use crate::storage::SessionRecord;

pub const SESSION_COOKIE: &str = "youmen_session";

/// A signed-in staff member, from the session cookie.
pub struct StaffUser {
    pub session: SessionRecord,
}

impl StaffUser {
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.session.user.display_name.clone(),
            roles: self.session.user.roles.clone(),
            id: Some(format!("user:{}", self.session.user.id)),
        }
    }

    pub fn may(&self, kind: ActionKind) -> bool {
        self.actor().may(kind)
    }

    pub fn has(&self, role: Role) -> bool {
        self.session.user.roles.contains(&role)
    }

    pub fn tr(&self) -> Tr {
        Tr {
            en: self.session.user.lang == "en",
        }
    }

    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }

    /// 403 as a page unless the user's roles allow `kind`.
    // The refusal is the page itself: handlers return it as it is.
    #[allow(clippy::result_large_err)]
    pub fn require(&self, kind: ActionKind) -> Result<(), Response> {
        match self.may(kind) {
            true => Ok(()),
            false => Err(forbidden_page(self.tr(), kind)),
        }
    }

    /// Rejects a form whose CSRF token is not this session's.
    #[allow(clippy::result_large_err)]
    pub fn check_csrf(&self, token: &str) -> Result<(), Response> {
        match auth::same_secret(token.as_bytes(), self.session.csrf_token.as_bytes()) {
            true => Ok(()),
            false => Err((
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "表单已过期或来源不明，请刷新页面后重试。The form is stale or came from elsewhere: reload the page and try again.",
            )
                .into_response()),
        }
    }
}

fn forbidden_page(t: Tr, kind: ActionKind) -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!doctype html><html lang=\"{}\"><meta charset=\"utf-8\"><title>403</title><p>{} ({})</p><p><a href=\"/staff\">{}</a></p></html>",
            t.html_lang(),
            t.t("您的岗位无权执行此操作", "Your role may not do this"),
            kind.code(),
            t.t("返回", "Back")
        ),
    )
        .into_response()
}

/// The session secret from the request's cookies.
pub fn session_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

/// The live session behind the request's cookie, if any.
pub async fn session_of(
    auth: &Auth,
    headers: &HeaderMap,
) -> Result<Option<SessionRecord>, ApiError> {
    let Some(secret) = session_secret(headers) else {
        return Ok(None);
    };
    let now = crate::clock::now();
    let idle = Duration::minutes(auth.staff.session_idle_minutes.max(1));
    Ok(auth
        .store
        .session(&auth::hash_token(&secret), now - idle, now)
        .await?)
}

/// The Set-Cookie value for a session secret (or, with `None`, one that removes it).
pub fn session_cookie(auth: &Auth, secret: Option<&str>) -> HeaderValue {
    let mut c = cookie::Cookie::build((SESSION_COOKIE, secret.unwrap_or("").to_owned()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(auth.staff.secure_cookies);
    if secret.is_none() {
        c = c.max_age(cookie::time::Duration::ZERO);
    }
    HeaderValue::from_str(&c.build().to_string()).expect("a cookie is a valid header value")
}

impl<S> FromRequestParts<S> for StaffUser
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match session_of(&Auth::from_ref(state), &parts.headers).await {
            Ok(Some(session)) => {
                // A temporary password: the user chooses their own before anything else.
                let path = parts.uri.path();
                if session.user.must_change_password
                    && !matches!(path, "/staff/password" | "/staff/logout" | "/staff/lang")
                {
                    return Err(Redirect::to("/staff/password").into_response());
                }
                Ok(StaffUser { session })
            }
            Ok(None) => {
                // Back to where they were going after signing in (a page, never a POST).
                let path = OriginalUri::from_request_parts(parts, state)
                    .await
                    .map(|u| u.0.to_string())
                    .unwrap_or_default();
                let next = match parts.method == Method::GET && path.starts_with("/staff") {
                    true => format!("?next={}", urlencode(&path)),
                    false => String::new(),
                };
                Err(Redirect::to(&format!("/staff/login{next}")).into_response())
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A 401 for the API when neither a token nor a session was given.
pub fn unauthenticated() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        Text::new(
            "需要登录：请在 Authorization 头中提供访问令牌（Bearer），或先登录工作台",
            "Authentication required: send Authorization: Bearer <token>, or sign in to the staff pages",
        ),
    )
}
