//! Signing in and out, and the language a user chose.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Duration;
use serde::Deserialize;

use crate::auth;
use crate::http::AppState;
use crate::web::html::{page, Tr};
use crate::web::session::{session_cookie, session_of, session_secret, StaffUser};

#[derive(Template)]
#[template(path = "staff/login.html", config = "src/templates/askama.toml")]
struct LoginPage {
    t: Tr,
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginQuery {
    next: String,
    lang: Option<String>,
}

/// Only a path inside the staff area is a place to return to.
fn safe_next(next: &str) -> String {
    match next.starts_with("/staff") && !next.starts_with("//") && !next.contains('\\') {
        true => next.to_owned(),
        false => "/staff".to_owned(),
    }
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
    page(
        StatusCode::OK,
        &LoginPage {
            t,
            next: safe_next(&q.next),
            username: String::new(),
            error: None,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    password: String,
    next: String,
    lang: String,
}

/// A hash to verify against when the user does not exist, so that the answer takes as long.
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

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let t = Tr::pick(Some(&form.lang), &headers);
    let now = crate::clock::now();
    let username = form.username.trim().to_owned();
    let fail = |message: &str| {
        page(
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                t,
                next: safe_next(&form.next),
                username: username.clone(),
                error: Some(message.to_owned()),
            },
        )
    };
    let wrong = t.t("用户名或密码不对", "Wrong username or password");
    let user = match state.store.user_by_username(&username).await {
        Ok(user) => user,
        Err(e) => return crate::web::error::ApiError::from(e).into_response(),
    };
    let Some(user) = user.filter(|u| !u.disabled) else {
        let _ = auth::verify_password(form.password, dummy_hash().await).await;
        tracing::info!("sign-in refused: unknown or disabled user");
        return fail(wrong);
    };
    if user.locked_until.is_some_and(|until| until > now) {
        tracing::warn!(user = user.id, "sign-in refused: account locked");
        return fail(t.t(
            "登录失败次数过多，账户已暂时锁定，请稍后再试或联系管理员",
            "Too many failed sign-ins: the account is locked for a while. Try later or ask an administrator",
        ));
    }
    if !auth::verify_password(form.password, user.password_hash.clone()).await {
        let lock_until = now + Duration::minutes(state.auth.staff.lock_minutes.max(1));
        if let Err(e) = state
            .store
            .login_failed(
                user.id,
                state.auth.staff.lock_after_failures.max(1),
                lock_until,
                now,
            )
            .await
        {
            return crate::web::error::ApiError::from(e).into_response();
        }
        tracing::info!(user = user.id, "sign-in refused: wrong password");
        return fail(wrong);
    }
    let secret = auth::random_secret();
    let expires = now + Duration::hours(state.auth.staff.session_max_hours.max(1));
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
            .audit(&user.display_name, "sign_in", &user.username, None, now)
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
