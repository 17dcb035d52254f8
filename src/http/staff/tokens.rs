//! The administrators' page of API tokens (`/staff/admin/tokens`): who holds one, with which
//! role, until when, when it was last used; issuing one (its secret shown once, on the page
//! that answers the form) and revoking one. Each issue and revocation is on the audit trail.
//! The same as `youmen token create|list|revoke`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::domain::{ActionKind, Role};
use crate::http::AppState;
use crate::storage::TokenRecord;
use crate::web::error::ApiError;
use crate::web::html::{page, when, Tr};
use crate::web::session::StaffUser;

pub struct TokenLine {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created: String,
    pub expires: Option<String>,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
    /// Past its expiry (and not revoked).
    pub expired: bool,
}

#[derive(Template)]
#[template(path = "staff/tokens.html", config = "src/templates/askama.toml")]
struct TokensPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    tokens: Vec<TokenLine>,
    roles: &'static [Role],
    /// Just issued: its number and secret, shown this once.
    issued: Option<(i64, String)>,
    error: Option<String>,
    form: NewToken,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct NewToken {
    csrf: String,
    pub name: String,
    pub role: String,
    /// Days until it stops working; empty: until revoked.
    pub days: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RevokeForm {
    csrf: String,
}

fn line(t: &TokenRecord, tz: chrono_tz::Tz, now: chrono::DateTime<chrono::Utc>) -> TokenLine {
    TokenLine {
        id: t.id,
        name: t.name.clone(),
        role: t.role,
        created: when(t.created_at, tz),
        expires: t.expires_at.map(|at| when(at, tz)),
        last_used: t.last_used_at.map(|at| when(at, tz)),
        revoked: t.revoked_at.map(|at| when(at, tz)),
        expired: t.revoked_at.is_none() && t.expires_at.is_some_and(|at| at <= now),
    }
}

async fn render(
    state: &AppState,
    user: &StaffUser,
    status: StatusCode,
    issued: Option<(i64, String)>,
    error: Option<String>,
    form: NewToken,
) -> Result<Response, ApiError> {
    let tz = state.calendar.current().timezone();
    let now = crate::clock::now();
    let tokens = state
        .store
        .list_tokens()
        .await?
        .iter()
        .map(|t| line(t, tz, now))
        .collect();
    Ok(page(
        status,
        &TokensPage {
            t: user.tr(),
            user,
            nav: "admin",
            back: "/staff/admin/tokens".into(),
            tokens,
            roles: Role::ALL,
            issued,
            error,
            form,
        },
    ))
}

pub async fn show(State(state): State<AppState>, user: StaffUser) -> Response {
    if let Err(r) = user.require(ActionKind::Administer) {
        return r;
    }
    render(
        &state,
        &user,
        StatusCode::OK,
        None,
        None,
        NewToken::default(),
    )
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

pub async fn create(
    State(state): State<AppState>,
    user: StaffUser,
    Form(form): Form<NewToken>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::Administer))
    {
        return r;
    }
    let t = user.tr();
    let result = async {
        let Ok(role) = form.role.parse::<Role>() else {
            return Ok(Err(t.t("请选择角色", "Choose a role").to_owned()));
        };
        let days = match form.days.trim() {
            "" => None,
            d => match d.parse::<u32>() {
                Ok(d) if (1..=crate::auth::MAX_TOKEN_DAYS).contains(&d) => Some(d),
                _ => return Ok(Err(t
                    .t(
                        "有效天数须为 1 到 3650 之间的整数，或留空表示直到吊销",
                        "Days must be a whole number from 1 to 3650, or empty for until revoked",
                    )
                    .to_owned())),
            },
        };
        if form.name.trim().is_empty() || form.name.trim().chars().count() > 100 {
            return Ok(Err(t
                .t(
                    "请填写令牌的使用者（100 字以内），例如“区政务服务网”",
                    "Enter who uses the token (at most 100 characters), e.g. “District service portal”",
                )
                .to_owned()));
        }
        let now = crate::clock::now();
        let (secret, record) =
            crate::auth::issue_token(state.store.as_ref(), &form.name, role, days, now)
                .await
                .map_err(ApiError::internal)?;
        state
            .store
            .audit(
                user.actor().by(),
                "create_token",
                &format!("token #{}", record.id),
                Some(&format!("{} ({})", record.name, role.as_str())),
                now,
            )
            .await?;
        Ok::<_, ApiError>(Ok((record.id, secret)))
    };
    let outcome = match result.await {
        Ok(outcome) => outcome,
        Err(e) => return e.into_response(),
    };
    let rendered = match outcome {
        Ok(issued) => {
            render(
                &state,
                &user,
                StatusCode::OK,
                Some(issued),
                None,
                NewToken::default(),
            )
            .await
        }
        Err(message) => {
            render(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(message),
                form,
            )
            .await
        }
    };
    rendered.unwrap_or_else(IntoResponse::into_response)
}

pub async fn revoke(
    State(state): State<AppState>,
    user: StaffUser,
    Path(id): Path<i64>,
    Form(form): Form<RevokeForm>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::Administer))
    {
        return r;
    }
    let result = async {
        let now = crate::clock::now();
        let revoked = state.store.revoke_token(id, now).await?;
        match revoked {
            None => Err(ApiError::not_found("该令牌", "token")),
            Some(false) => Ok(()),
            Some(true) => Ok(state
                .store
                .audit(
                    user.actor().by(),
                    "revoke_token",
                    &format!("token #{id}"),
                    None,
                    now,
                )
                .await?),
        }
    };
    match result.await {
        Ok(()) => Redirect::to("/staff/admin/tokens").into_response(),
        Err(e) => e.into_response(),
    }
}
