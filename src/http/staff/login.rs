//! Signing in and out, and the language a user chose.

use askama::Template;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Duration;
use serde::Deserialize;

use crate::auth;
use crate::http::AppState;
use crate::web::client::client_ip;
use crate::web::html::{page, Tr};
use crate::web::session::{session_cookie, session_of, session_secret, StaffUser};

#[derive(Template)]
#[template(path = "staff/login.html", config = "src/templates/askama.toml")]
struct LoginPage {
    t: Tr,
    next: String,
    username: String,
    error: Option<String>,
    /// The form's CSRF token, also set as a cookie of this page (double submit): a sign-in
    /// form posted from another site carries no matching cookie.
    csrf: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginQuery {
    next: String,
    lang: Option<String>,
}

/// The cookie that carries the sign-in form's CSRF token.
const SIGN_IN_COOKIE: &str = "youmen_sign_in";

/// Sign-in attempts of one address are counted over this window.
const ADDRESS_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// An attempt in flight holds its account's next one off this long.
const IN_FLIGHT: chrono::Duration = chrono::Duration::seconds(5);

/// Only a path inside the staff area is a place to return to.
fn safe_next(next: &str) -> String {
    match next.starts_with("/staff") && !next.starts_with("//") && !next.contains('\\') {
        true => next.to_owned(),
        false => "/staff".to_owned(),
    }
}

/// The sign-in page with a fresh CSRF token in the form and its cookie.
fn login_page(
    state: &AppState,
    status: StatusCode,
    t: Tr,
    next: &str,
    username: String,
    error: Option<String>,
) -> Response {
    let csrf = auth::random_secret();
    let mut response = page(
        status,
        &LoginPage {
            t,
            next: safe_next(next),
            username,
            error,
            csrf: csrf.clone(),
        },
    );
    let cookie = cookie::Cookie::build((SIGN_IN_COOKIE, csrf))
        .path("/staff/login")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(state.auth.staff.secure_cookies)
        .build();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The sign-in form's token from its cookie.
fn sign_in_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SIGN_IN_COOKIE)
        .map(|c| c.value().to_owned())
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    if let Ok(Some(_)) = session_of(&state.auth, &headers).await {
        return Redirect::to(&safe_next(&q.next)).into_response();
    }
    let t = Tr::pick(q.lang.as_deref(), &headers);
    login_page(&state, StatusCode::OK, t, &q.next, String::new(), None)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    password: String,
    next: String,
    lang: String,
    csrf: String,
}

/// A hash to verify against when the password is not to be checked (an unknown user, an
/// account whose next attempt is not due), so that every refusal costs the same time.
async fn dummy_hash() -> String {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async {
            auth::hash_password("no such user, no such password".into())
                .await
                .unwrap_or_default()
        })
        .await
        .clone()
}

/// Too many attempts from one place, or every core busy hashing: 429, with the form back.
fn too_many(state: &AppState, t: Tr, form: &LoginForm, message: &str) -> Response {
    let mut response = login_page(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        t,
        &form.next,
        form.username.trim().to_owned(),
        Some(message.to_owned()),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    response
}

/// Signs a staff member in. In this order, so that guessing is slow and cheap to refuse:
/// the form's CSRF cookie; the client address's attempts (429 before any hashing); the
/// account's next attempt reserved atomically (parallel guesses get one try between them);
/// the password; then a wrong one delays the account's next attempt. Every refusal of the
/// credentials says the same, whether or not the account exists.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let t = Tr::pick(Some(&form.lang), &headers);
    let now = crate::clock::now();
    let username = form.username.trim().to_owned();
    let staff = &state.auth.staff;
    let form_ok = sign_in_cookie(&headers).is_some_and(|c| {
        !form.csrf.is_empty() && auth::same_secret(c.as_bytes(), form.csrf.as_bytes())
    });
    if !form_ok {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            t,
            &form.next,
            username,
            Some(
                t.t(
                    "登录表单已过期，请再试一次",
                    "The sign-in form expired: please try again",
                )
                .to_owned(),
            ),
        );
    }
    let ip = client_ip(peer, &headers, state.auth.trust_forwarded_for);
    let address = state.auth.addresses.of(ip);
    let limits = [(ADDRESS_WINDOW, staff.sign_in_per_address.max(1))];
    match state
        .store
        .rate_hit("sign_in", &address, &limits, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("sign-in refused: too many attempts from one address");
            return too_many(
                &state,
                t,
                &form,
                t.t(
                    "此处登录尝试过多，请15分钟后再试",
                    "Too many sign-in attempts from here: try again in 15 minutes",
                ),
            );
        }
        Err(e) => return crate::web::error::ApiError::from(e).into_response(),
    }
    let fail =
        |state: &AppState| {
            login_page(
            state,
            StatusCode::UNAUTHORIZED,
            t,
            &form.next,
            username.clone(),
            Some(t.t(
                "用户名或密码不对，或尝试过于频繁，请稍候再试",
                "Wrong username or password, or too many attempts: wait a moment and try again",
            ).to_owned()),
        )
        };
    let busy = t.t(
        "服务器正忙，请稍后再试",
        "The server is busy: try again in a moment",
    );
    let user = match state.store.user_by_username(&username).await {
        Ok(user) => user.filter(|u| !u.disabled),
        Err(e) => return crate::web::error::ApiError::from(e).into_response(),
    };
    let reserved = match &user {
        Some(user) => match state
            .store
            .reserve_sign_in(user.id, now + IN_FLIGHT, now)
            .await
        {
            Ok(reserved) => reserved,
            Err(e) => return crate::web::error::ApiError::from(e).into_response(),
        },
        None => None,
    };
    let (Some(user), Some(failures)) = (user, reserved) else {
        // Unknown, disabled, or not due yet: the same answer, after the same work.
        if auth::verify_password(form.password.clone(), dummy_hash().await)
            .await
            .is_err()
        {
            return too_many(&state, t, &form, busy);
        }
        tracing::info!("sign-in refused: unknown or disabled user, or an account not due");
        return fail(&state);
    };
    let verified =
        match auth::verify_password(form.password.clone(), user.password_hash.clone()).await {
            Ok(verified) => verified,
            Err(auth::Busy) => {
                // Not checked: the account's next attempt is due again at once.
                let _ = state.store.release_sign_in(user.id, now).await;
                return too_many(&state, t, &form, busy);
            }
        };
    if !verified {
        let delay = auth::sign_in_delay(
            failures + 1,
            staff.sign_in_free_failures,
            chrono::Duration::seconds(staff.sign_in_delay_max_seconds.max(1)),
        );
        if let Err(e) = state.store.sign_in_failed(user.id, now + delay, now).await {
            return crate::web::error::ApiError::from(e).into_response();
        }
        tracing::info!(
            user = user.id,
            failures = failures + 1,
            "sign-in refused: wrong password"
        );
        return fail(&state);
    }
    let secret = auth::random_secret();
    let expires = now + Duration::hours(staff.session_max_hours.max(1));
    let created = async {
        state.store.login_succeeded(user.id, now).await?;
        state
            .store
            .create_session(
                &auth::hash_token(&secret),
                user.id,
                &auth::random_secret(),
                expires,
                now,
            )
            .await?;
        state
            .store
            .audit(
                crate::domain::By {
                    name: &user.display_name,
                    id: Some(&format!("user:{}", user.id)),
                },
                "sign_in",
                &user.username,
                None,
                now,
            )
            .await
    };
    if let Err(e) = created.await {
        return crate::web::error::ApiError::from(e).into_response();
    }
    tracing::info!(user = user.id, "signed in");
    let mut response = Redirect::to(&safe_next(&form.next)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&state.auth, Some(&secret)),
    );
    response
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    csrf: String,
    lang: String,
    back: String,
}

pub async fn logout(
    State(state): State<AppState>,
    user: StaffUser,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(r) = user.check_csrf(&form.csrf) {
        return r;
    }
    if let Some(secret) = session_secret(&headers) {
        if let Err(e) = state.store.delete_session(&auth::hash_token(&secret)).await {
            return crate::web::error::ApiError::from(e).into_response();
        }
    }
    let mut response = Redirect::to("/staff/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state.auth, None));
    response
}

pub async fn set_lang(
    State(state): State<AppState>,
    user: StaffUser,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(r) = user.check_csrf(&form.csrf) {
        return r;
    }
    let lang = if form.lang == "en" { "en" } else { "zh" };
    if let Err(e) = state
        .store
        .set_user_lang(user.session.user.id, lang, crate::clock::now())
        .await
    {
        return crate::web::error::ApiError::from(e).into_response();
    }
    Redirect::to(&safe_next(&form.back)).into_response()
}
