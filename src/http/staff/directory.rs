//! The administrators' page of the bureau's directory (`/staff/directory`): departments and
//! counters, each with its head and how to reach them; add one, change one, retire one (it
//! stays on the cases that name it), delete one no case names. Every change is on the audit
//! trail.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::domain::directory::{valid_code, DirectoryEntry, EntryKind};
use crate::domain::ActionKind;
use crate::http::AppState;
use crate::storage::directory::Removed;
use crate::web::error::ApiError;
use crate::web::html::{page, Tr};
use crate::web::session::StaffUser;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct EntryForm {
    csrf: String,
    kind: String,
    code: String,
    name: String,
    head: String,
    contact: String,
    department: String,
    /// `on` when retired.
    retired: String,
    /// `add` from the add form: an existing code is refused, not replaced.
    mode: String,
}

#[derive(Template)]
#[template(path = "staff/directory.html", config = "src/templates/askama.toml")]
struct DirectoryPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    entries: Vec<DirectoryEntry>,
    departments: Vec<DirectoryEntry>,
    form: EntryForm,
    errors: Vec<(&'static str, String)>,
}

impl DirectoryPage<'_> {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    fn department_name(&self, code: &Option<String>) -> String {
        let Some(code) = code else {
            return String::new();
        };
        self.departments
            .iter()
            .find(|d| &d.code == code)
            .map_or_else(|| code.clone(), |d| d.name.clone())
    }
}

async fn render(
    state: &AppState,
    user: &StaffUser,
    status: StatusCode,
    form: EntryForm,
    errors: Vec<(&'static str, String)>,
) -> Result<Response, ApiError> {
    let entries = state.directory.entries().await?.to_vec();
    let departments = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Department)
        .cloned()
        .collect();
    Ok(page(
        status,
        &DirectoryPage {
            t: user.tr(),
            user,
            nav: "directory",
            back: "/staff/directory".into(),
            entries,
            departments,
            form,
            errors,
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
        EntryForm {
            kind: "counter".into(),
            ..EntryForm::default()
        },
        Vec::new(),
    )
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// What is wrong with a typed entry, field by field.
fn problems(
    form: &EntryForm,
    t: Tr,
    departments: &[DirectoryEntry],
) -> Result<DirectoryEntry, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let kind = EntryKind::parse(form.kind.trim());
    if kind.is_none() {
        errors.push((
            "kind",
            t.t("请选择科室或窗口", "Choose a department or a counter")
                .to_owned(),
        ));
    }
    let code = form.code.trim();
    if !valid_code(code) {
        errors.push((
            "code",
            t.t(
                "代码请用小写字母、数字、_ 和 -（不超过40个），如 pension-benefits",
                "A code is lowercase letters, digits, _ and - (at most 40), like pension-benefits",
            )
            .to_owned(),
        ));
    }
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        errors.push((
            "name",
            t.t(
                "请填写名称（不超过60字）",
                "Give a name (at most 60 characters)",
            )
            .to_owned(),
        ));
    }
    let contact = form.contact.trim();
    if !contact.is_empty() && !contact.contains('@') && !contact.starts_with("webhook:") {
        errors.push((
            "contact",
            t.t(
                "联系方式请填电子邮箱，或 webhook:名称（企业微信、钉钉机器人）",
                "Contact is an e-mail address, or webhook:<name> (a WeCom or DingTalk robot)",
            )
            .to_owned(),
        ));
    }
    let department = form.department.trim();
    if kind == Some(EntryKind::Counter)
        && !department.is_empty()
        && !departments.iter().any(|d| d.code == department)
    {
        errors.push((
            "department",
            t.t("所属科室不在名录中", "No such department").to_owned(),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let some = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    Ok(DirectoryEntry {
        kind: kind.expect("checked"),
        code: code.to_owned(),
        name: name.to_owned(),
        head: some(form.head.trim()),
        contact: some(contact),
        department: match kind {
            Some(EntryKind::Counter) => some(department),
            _ => None,
        },
        retired: form.retired == "on",
    })
}

/// Adds an entry, or changes the one of that kind and code.
pub async fn save(
    State(state): State<AppState>,
    user: StaffUser,
    Form(form): Form<EntryForm>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::Administer))
    {
        return r;
    }
    let t = user.tr();
    let result = async {
        let all = state.directory.entries().await?;
        let departments: Vec<DirectoryEntry> = all
            .iter()
            .filter(|e| e.kind == EntryKind::Department)
            .cloned()
            .collect();
        let entry = match problems(&form, t, &departments) {
            Ok(e)
                if form.mode == "add"
                    && all.iter().any(|x| x.kind == e.kind && x.code == e.code) =>
            {
                let message = t
                    .t(
                        "该代码已在名录中：请在表格中修改它",
                        "That code is in the directory already: edit it in the table",
                    )
                    .to_owned();
                return render(
                    &state,
                    &user,
                    StatusCode::CONFLICT,
                    form,
                    vec![("code", message)],
                )
                .await;
            }
            Ok(e) => e,
            Err(errors) => {
                return render(
                    &state,
                    &user,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    form,
                    errors,
                )
                .await
            }
        };
        let new = state
            .store
            .save_directory_entry(&entry, crate::clock::now())
            .await?;
        state.directory.changed();
        let note = format!(
            "name={} head={} contact={} department={}{}",
            entry.name,
            entry.head.as_deref().unwrap_or(""),
            entry.contact.as_deref().unwrap_or(""),
            entry.department.as_deref().unwrap_or(""),
            if entry.retired { " retired" } else { "" }
        );
        state
            .store
            .audit(
                user.actor().by(),
                if new {
                    "directory_add"
                } else {
                    "directory_change"
                },
                &format!("{}:{}", entry.kind.as_str(), entry.code),
                Some(&note),
                crate::clock::now(),
            )
            .await?;
        Ok::<_, ApiError>(Redirect::to("/staff/directory").into_response())
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeleteForm {
    csrf: String,
}

/// Deletes an entry no case names; one in use is to be retired instead.
pub async fn delete(
    State(state): State<AppState>,
    user: StaffUser,
    Path((kind, code)): Path<(String, String)>,
    Form(form): Form<DeleteForm>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::Administer))
    {
        return r;
    }
    let t = user.tr();
    let result = async {
        let Some(kind) = EntryKind::parse(&kind) else {
            return Err(ApiError::not_found("该名录条目", "directory entry"));
        };
        match state.store.delete_directory_entry(kind, &code).await? {
            Removed::NotFound => Err(ApiError::not_found("该名录条目", "directory entry")),
            Removed::InUse => {
                let message = t
                    .t(
                        "已有案件（或窗口）用到此条目，不能删除，只能停用",
                        "Cases (or counters) name this entry: retire it instead of deleting it",
                    )
                    .to_owned();
                render(
                    &state,
                    &user,
                    StatusCode::CONFLICT,
                    EntryForm::default(),
                    vec![("delete", message)],
                )
                .await
            }
            Removed::Deleted => {
                state.directory.changed();
                state
                    .store
                    .audit(
                        user.actor().by(),
                        "directory_delete",
                        &format!("{}:{code}", kind.as_str()),
                        None,
                        crate::clock::now(),
                    )
                    .await?;
                Ok(Redirect::to("/staff/directory").into_response())
            }
        }
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
