//! The administrators' page of accounts (`/staff/users`): add a user, change their name,
//! roles and e-mail, disable and enable, give a temporary password (the user chooses their
//! own at the next sign-in, `/staff/password`), lift sign-in delays; and which calendar years
//! are official. Every change is on the audit trail; `youmen user …` keeps working.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use crate::domain::{ActionKind, Role};
use crate::http::AppState;
use crate::storage::{NewUser, StoreError, UserRecord};
use crate::web::error::ApiError;
use crate::web::html::{page, Tr};
use crate::web::session::StaffUser;

use super::account_form::{temporary_password, AccountForm, PERSON_ROLES};

pub struct YearLine {
    pub year: i32,
    pub official: bool,
}

#[derive(Template)]
#[template(path = "staff/users.html", config = "src/templates/askama.toml")]
struct UsersPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    users: Vec<(UserRecord, Option<String>)>,
    /// Each username's extension (分机), where one is set.
    extensions: std::collections::HashMap<String, String>,
    roles: &'static [Role],
    /// Just given: whose temporary password, and the password, shown this once.
    issued: Option<(String, String)>,
    error: Option<String>,
    errors: Vec<(&'static str, String)>,
    form: AccountForm,
    years: Vec<YearLine>,
    /// Years within the horizon with no official calendar (as /readyz says).
    missing: Vec<i32>,
}

impl UsersPage<'_> {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    fn has(&self, roles: &[Role], role: &Role) -> bool {
        roles.contains(role)
    }

    fn extension(&self, username: &str) -> &str {
        self.extensions.get(username).map_or("", String::as_str)
    }
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    user: &StaffUser,
    status: StatusCode,
    issued: Option<(String, String)>,
    error: Option<String>,
    errors: Vec<(&'static str, String)>,
    form: AccountForm,
) -> Result<Response, ApiError> {
    let users = state.store.list_users().await?;
    let extensions = state.store.extensions().await?.into_iter().collect();
    let calendar = state.calendar.current();
    let today = calendar.local_date(crate::clock::now());
    let this_year = chrono::Datelike::year(&today);
    let official: Vec<i32> = calendar.official_years().collect();
    let mut all: Vec<i32> = official.clone();
    all.extend([this_year, this_year + 1]);
    all.sort_unstable();
    all.dedup();
    Ok(page(
        status,
        &UsersPage {
            t: user.tr(),
            user,
            nav: "users",
            back: "/staff/users".into(),
            users,
            extensions,
            roles: &PERSON_ROLES,
            issued,
            error,
            errors,
            form,
            years: all
                .into_iter()
                .map(|year| YearLine {
                    year,
                    official: official.contains(&year),
                })
                .collect(),
            missing: calendar.provisional_years(today, crate::http::health::CALENDAR_HORIZON_DAYS),
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
        Vec::new(),
        AccountForm::default(),
    )
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// The display names of every account but `username`.
async fn other_names(state: &AppState, username: &str) -> Result<Vec<String>, ApiError> {
    Ok(state
        .store
        .list_users()
        .await?
        .into_iter()
        .filter(|(u, _)| u.username != username)
        .map(|(u, _)| u.display_name)
        .collect())
}

async fn audited(
    state: &AppState,
    user: &StaffUser,
    action: &str,
    subject: &str,
    note: Option<&str>,
) -> Result<(), ApiError> {
    Ok(state
        .store
        .audit(
            user.actor().by(),
            action,
            subject,
            note,
            crate::clock::now(),
        )
        .await?)
}

pub async fn create(
    State(state): State<AppState>,
    user: StaffUser,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (csrf, form) = AccountForm::from_pairs(&pairs);
    if let Err(r) = user
        .check_csrf(&csrf)
        .and(user.require(ActionKind::Administer))
    {
        return r;
    }
    let t = user.tr();
    let result = async {
        let others = other_names(&state, &form.username).await?;
        let errors = form.problems(t, true, &others);
        if !errors.is_empty() {
            return render(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                errors,
                form,
            )
            .await;
        }
        let password = temporary_password();
        let hash = crate::auth::hash_password(password.clone())
            .await
            .map_err(ApiError::internal)?;
        let now = crate::clock::now();
        let created = state
            .store
            .create_user(
                &NewUser {
                    username: form.username.clone(),
                    display_name: form.display_name.clone(),
                    password_hash: hash.clone(),
                    roles: form.roles.clone(),
                },
                now,
            )
            .await;
        match created {
            Err(StoreError::Duplicate) => {
                let errors = vec![(
                    "username",
                    t.t("该用户名已被使用", "That username is taken").to_owned(),
                )];
                return render(
                    &state,
                    &user,
                    StatusCode::CONFLICT,
                    None,
                    None,
                    errors,
                    form,
                )
                .await;
            }
            other => other?,
        };
        // The first password is temporary too: the person chooses their own.
        state
            .store
            .set_password(&form.username, &hash, true, now)
            .await?;
        if !form.email.is_empty() {
            state
                .store
                .set_user_email(&form.username, Some(&form.email), now)
                .await?;
        }
        if !form.extension.is_empty() {
            state
                .store
                .set_extension(&form.username, Some(&form.extension))
                .await?;
        }
        let roles: Vec<&str> = form.roles.iter().map(|r| r.as_str()).collect();
        audited(
            &state,
            &user,
            "create_user",
            &form.username,
            Some(&roles.join(",")),
        )
        .await?;
        render(
            &state,
            &user,
            StatusCode::OK,
            Some((form.username.clone(), password)),
            None,
            Vec::new(),
            AccountForm::default(),
        )
        .await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn update(
    State(state): State<AppState>,
    user: StaffUser,
    Path(username): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (csrf, mut form) = AccountForm::from_pairs(&pairs);
    if let Err(r) = user
        .check_csrf(&csrf)
        .and(user.require(ActionKind::Administer))
    {
        return r;
    }
    form.username = username.clone();
    let t = user.tr();
    let result = async {
        let others = other_names(&state, &username).await?;
        let errors = form.problems(t, false, &others);
        if !errors.is_empty() {
            let message = errors
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("；");
            return render(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(format!("{username}：{message}")),
                Vec::new(),
                AccountForm::default(),
            )
            .await;
        }
        if username == user.session.user.username && !form.roles.contains(&Role::Admin) {
            let message = t.t(
                "不能取消自己的管理员岗位",
                "You cannot take away your own administrator role",
            );
            return render(
                &state,
                &user,
                StatusCode::CONFLICT,
                None,
                Some(message.to_owned()),
                Vec::new(),
                AccountForm::default(),
            )
            .await;
        }
        let email = Some(form.email.as_str()).filter(|e| !e.is_empty());
        if !state
            .store
            .update_user(
                &username,
                &form.display_name,
                &form.roles,
                email,
                crate::clock::now(),
            )
            .await?
        {
            return Err(ApiError::not_found("该账号", "account"));
        }
        let extension = Some(form.extension.as_str()).filter(|e| !e.is_empty());
        state.store.set_extension(&username, extension).await?;
        let roles: Vec<&str> = form.roles.iter().map(|r| r.as_str()).collect();
        audited(
            &state,
            &user,
            "update_user",
            &username,
            Some(&format!(
                "{} {} {}",
                form.display_name,
                roles.join(","),
                form.extension
            )),
        )
        .await?;
        Ok(Redirect::to("/staff/users").into_response())
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `disable`, `enable`, `reset` (a temporary password) or `unlock`.
pub async fn change(
    State(state): State<AppState>,
    user: StaffUser,
    Path((username, what)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (csrf, _) = AccountForm::from_pairs(&pairs);
    if let Err(r) = user
        .check_csrf(&csrf)
        .and(user.require(ActionKind::Administer))
    {
        return r;
    }
    let t = user.tr();
    let result = async {
        let now = crate::clock::now();
        if username == user.session.user.username && what == "disable" {
            let message = t.t("不能停用自己的账号", "You cannot disable your own account");
            return render(
                &state,
                &user,
                StatusCode::CONFLICT,
                None,
                Some(message.to_owned()),
                Vec::new(),
                AccountForm::default(),
            )
            .await;
        }
        let (found, issued) = match what.as_str() {
            "disable" | "enable" => (
                state
                    .store
                    .set_disabled(&username, what == "disable", now)
                    .await?,
                None,
            ),
            "unlock" => (state.store.unlock_user(&username, now).await?, None),
            "reset" => {
                let password = temporary_password();
                let hash = crate::auth::hash_password(password.clone())
                    .await
                    .map_err(ApiError::internal)?;
                (
                    state
                        .store
                        .set_password(&username, &hash, true, now)
                        .await?,
                    Some((username.clone(), password)),
                )
            }
            _ => return Err(ApiError::not_found("该操作", "action")),
        };
        if !found {
            return Err(ApiError::not_found("该账号", "account"));
        }
        let action = match what.as_str() {
            "reset" => "reset_password",
            "unlock" => "unlock_user",
            "enable" => "enable_user",
            _ => "disable_user",
        };
        audited(&state, &user, action, &username, None).await?;
        render(
            &state,
            &user,
            StatusCode::OK,
            issued,
            None,
            Vec::new(),
            AccountForm::default(),
        )
        .await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Template)]
#[template(path = "staff/password.html", config = "src/templates/askama.toml")]
struct PasswordPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    error: Option<String>,
}

fn password_page(user: &StaffUser, status: StatusCode, error: Option<String>) -> Response {
    page(
        status,
        &PasswordPage {
            t: user.tr(),
            user,
            nav: "",
            back: "/staff/password".into(),
            error,
        },
    )
}

/// Only after a temporary password: choosing a new one otherwise asks for the current one,
/// which `youmen user passwd` and an administrator's reset cover.
pub async fn password_form(user: StaffUser) -> Response {
    if !user.session.user.must_change_password {
        return Redirect::to("/staff").into_response();
    }
    password_page(&user, StatusCode::OK, None)
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ChooseForm {
    csrf: String,
    password: String,
    again: String,
}

/// The signed-in user chooses their own password (after a temporary one, or any time).
pub async fn choose_password(
    State(state): State<AppState>,
    user: StaffUser,
    Form(form): Form<ChooseForm>,
) -> Response {
    if let Err(r) = user.check_csrf(&form.csrf) {
        return r;
    }
    if !user.session.user.must_change_password {
        return Redirect::to("/staff").into_response();
    }
    let t = user.tr();
    if form.password != form.again {
        let e = t.t("两次输入的密码不一致", "The two passwords differ");
        return password_page(&user, StatusCode::UNPROCESSABLE_ENTITY, Some(e.to_owned()));
    }
    if form.password.chars().count() < crate::auth::MIN_PASSWORD_CHARS {
        let e = t.t(
            "密码至少需要12个字符",
            "A password has at least 12 characters",
        );
        return password_page(&user, StatusCode::UNPROCESSABLE_ENTITY, Some(e.to_owned()));
    }
    let result = async {
        let hash = crate::auth::hash_password(form.password)
            .await
            .map_err(ApiError::internal)?;
        let me = &user.session.user;
        state
            .store
            .choose_password(me.id, &hash, user.csrf(), crate::clock::now())
            .await?;
        audited(&state, &user, "choose_password", &me.username, None).await?;
        Ok::<_, ApiError>(Redirect::to("/staff").into_response())
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
