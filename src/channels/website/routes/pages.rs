//! The public pages: the message form, its confirmation and the privacy notice (tracking is
//! in `track.rs`).
//! Server-rendered with askama (escaped by default); they work with JavaScript off and follow
//! the GOV.UK Design System's patterns for forms and error summaries, in Chinese.

use std::sync::Arc;

use std::net::SocketAddr;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::guard::{PublicSite, TokenCheck};
use super::{log_receipt, submit_error};
use crate::channels::website::SubmitError;
use crate::channels::website::WebsiteDesk;
use crate::domain::website::MessageForm;
use crate::domain::FieldError;
use crate::web::html::{page, Tr};

// ---- language and rendering ---------------------------------------------------------

pub(super) async fn css() -> Response {
    static_asset(
        "text/css; charset=utf-8",
        include_str!("../assets/site.css"),
    )
}

pub(super) async fn js() -> Response {
    static_asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/site.js"),
    )
}

fn static_asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

pub struct ErrorLink {
    pub anchor: String,
    pub message: String,
}

pub struct MatterOption {
    pub code: String,
    pub label: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MessageFields {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub matter: String,
    pub description: String,
    pub consent: String,
    pub homepage: String,
    pub form_token: String,
    pub lang: String,
    /// The counter tried before, if the visitor says.
    pub counter: String,
}

pub struct FormValues {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub matter: String,
    pub description: String,
    pub consent: bool,
    pub counter: String,
}

impl From<&MessageFields> for FormValues {
    fn from(f: &MessageFields) -> Self {
        Self {
            name: f.name.clone(),
            phone: f.phone.clone(),
            email: f.email.clone(),
            counter: f.counter.clone(),
            matter: f.matter.clone(),
            description: f.description.clone(),
            consent: consent(&f.consent),
        }
    }
}

fn consent(raw: &str) -> bool {
    matches!(raw.trim(), "yes" | "on" | "true" | "1")
}

#[derive(Template)]
#[template(path = "site/message.html", config = "src/templates/askama.toml")]
struct MessagePage {
    t: Tr,
    has_errors: bool,
    switch_path: &'static str,
    notice: Option<String>,
    errors: Vec<ErrorLink>,
    field_errors: Vec<(&'static str, String)>,
    form: FormValues,
    form_token: String,
    matters: Vec<MatterOption>,
    max_chars: usize,
    /// The counters offered for "where did you try before": (code, name).
    counters: Vec<(String, String)>,
}

impl MessagePage {
    fn field_error(&self, field: &str) -> Option<&str> {
        self.field_errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Template)]
#[template(path = "site/confirmation.html", config = "src/templates/askama.toml")]
struct ConfirmationPage {
    t: Tr,
    has_errors: bool,
    switch_path: &'static str,
    duplicate: bool,
    case_number: String,
    tracking_code: Option<String>,
    promise: String,
    mailed: bool,
    received: String,
}

#[derive(Template)]
#[template(path = "site/privacy.html", config = "src/templates/askama.toml")]
struct PrivacyPage {
    t: Tr,
    has_errors: bool,
    switch_path: &'static str,
    contact: String,
}

#[derive(Template)]
#[template(path = "site/refused.html", config = "src/templates/askama.toml")]
struct RefusedPage {
    t: Tr,
    has_errors: bool,
    switch_path: &'static str,
    heading: String,
    message: String,
}

fn matters(desk: &WebsiteDesk, t: Tr) -> Vec<MatterOption> {
    desk.rules()
        .matters
        .iter()
        .map(|m| MatterOption {
            code: m.code.clone(),
            label: t.t(&m.zh, &m.en).to_owned(),
        })
        .collect()
}

/// The first element a field's error links to (the first radio of a group).
fn anchor(field: &str) -> String {
    match field {
        "matter" => "matter-1".into(),
        other => other.into(),
    }
}

async fn message_page(
    site: &PublicSite,
    t: Tr,
    form: FormValues,
    errors: &[FieldError],
    notice: Option<String>,
) -> MessagePage {
    let message = |e: &FieldError| t.t(&e.zh, &e.en).to_owned();
    MessagePage {
        t,
        has_errors: !errors.is_empty(),
        switch_path: "/message",
        notice,
        errors: errors
            .iter()
            .map(|e| ErrorLink {
                anchor: anchor(e.field),
                message: message(e),
            })
            .collect(),
        field_errors: errors.iter().map(|e| (e.field, message(e))).collect(),
        form,
        form_token: site.form_token(crate::clock::now()),
        matters: matters(&site.desk, t),
        max_chars: site.desk.rules().description_max_chars,
        counters: site.desk.counters().await,
    }
}

// ---- the message form ---------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

pub(super) async fn show_form(
    State(site): State<Arc<PublicSite>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let t = Tr::pick(q.lang.as_deref(), &headers);
    let empty = FormValues::from(&MessageFields::default());
    page(
        StatusCode::OK,
        &message_page(&site, t, empty, &[], None).await,
    )
}

pub(super) async fn privacy(
    State(site): State<Arc<PublicSite>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let t = Tr::pick(q.lang.as_deref(), &headers);
    page(
        StatusCode::OK,
        &PrivacyPage {
            t,
            has_errors: false,
            switch_path: "/message/privacy",
            contact: site.settings.privacy_contact.clone(),
        },
    )
}

pub(super) fn refused(t: Tr, status: StatusCode, heading: &str, message: &str) -> Response {
    page(
        status,
        &RefusedPage {
            t,
            has_errors: false,
            switch_path: "/message",
            heading: heading.to_owned(),
            message: message.to_owned(),
        },
    )
}

/// A form body that could not be read: too large, or not a form at all.
pub(super) fn unreadable_form(t: Tr, rejection: FormRejection) -> Response {
    let too_large = rejection.status() == StatusCode::PAYLOAD_TOO_LARGE;
    let (status, heading, message) = match too_large {
        true => (
            StatusCode::PAYLOAD_TOO_LARGE,
            t.t("内容太长", "Too much text"),
            t.t(
                "您提交的内容太长，无法接收。请缩短后再提交，或拨打热线。",
                "What you sent is too long to accept. Please shorten it, or call us.",
            ),
        ),
        false => (
            StatusCode::BAD_REQUEST,
            t.t("无法读取表单", "The form could not be read"),
            t.t(
                "表单内容无法读取，请返回留言页面重新填写。",
                "The form could not be read. Please go back to the message page and fill it in again.",
            ),
        ),
    };
    refused(t, status, heading, message)
}

pub(super) async fn submit_form(
    State(site): State<Arc<PublicSite>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<MessageFields>, FormRejection>,
) -> Response {
    let fields = match form {
        Ok(Form(fields)) => fields,
        Err(rejection) => return unreadable_form(Tr::pick(None, &headers), rejection),
    };
    let t = Tr::pick(Some(&fields.lang), &headers);
    let now = crate::clock::now();
    // A bot: refused quietly, with the form shown again as if to check it. A person who
    // was merely quick submits once more and gets through.
    let token = site.tokens().check(&fields.form_token, now);
    if !fields.homepage.is_empty() || matches!(token, TokenCheck::TooFast | TokenCheck::Invalid) {
        tracing::info!(honeypot = !fields.homepage.is_empty(), token = ?token, "website form refused quietly");
        let notice = t
            .t(
                "请核对您填写的内容，然后再次提交。",
                "Please check your details and send the form again.",
            )
            .to_owned();
        return page(
            StatusCode::OK,
            &message_page(&site, t, FormValues::from(&fields), &[], Some(notice)).await,
        );
    }
    if token == TokenCheck::Expired {
        let notice = t
            .t(
                "页面打开的时间太长了，您填写的内容都还在，请再提交一次。",
                "The page was open for a long time. Your details are still here: please send the form again.",
            )
            .to_owned();
        return page(
            StatusCode::OK,
            &message_page(&site, t, FormValues::from(&fields), &[], Some(notice)).await,
        );
    }
    let form = MessageForm {
        name: fields.name.clone(),
        phone: fields.phone.clone(),
        email: fields.email.clone(),
        matter: fields.matter.clone(),
        description: fields.description.clone(),
        consent: consent(&fields.consent),
        counter: fields.counter.clone(),
    };
    let message = match site.desk.validate(&form, now).await {
        Ok(message) => message,
        Err(errors) => {
            return page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &message_page(&site, t, FormValues::from(&fields), &errors, None).await,
            )
        }
    };
    // One message per form served: a token sent again (a replay, or a second click) is
    // refused quietly, with the form and a fresh token.
    match site.spend(&fields.form_token, now).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!("website form token sent again; refused quietly");
            let notice = t
                .t(
                    "这张表单已经提交过了。如果刚才没有看到案件编号，请核对内容后再提交一次；同样的留言不会重复登记。",
                    "This form was already sent. If you did not see a case number, check your details and send it again; the same message is never registered twice.",
                )
                .to_owned();
            return page(
                StatusCode::OK,
                &message_page(&site, t, FormValues::from(&fields), &[], Some(notice)).await,
            );
        }
        Err(e) => return e.into_response(),
    }
    let ip = site.client_ip(peer, &headers);
    match site
        .desk
        .store(message, now, Some(site.submit_rate(ip)))
        .await
    {
        Ok(receipt) => {
            log_receipt(&receipt);
            let tz = site.desk.timezone();
            page(
                StatusCode::OK,
                &ConfirmationPage {
                    t,
                    has_errors: false,
                    switch_path: "/message",
                    duplicate: receipt.duplicate,
                    case_number: receipt.case_number.to_string(),
                    tracking_code: receipt.tracking_code.clone(),
                    promise: receipt.promise.text(t.en),
                    mailed: receipt.confirmation_queued,
                    received: t.time(receipt.received_at, tz),
                },
            )
        }
        Err(SubmitError::Limited) => {
            tracing::warn!("website submissions from one address over the limit");
            let notice = t
                .t(
                    "从您这里提交的留言太多了，请过一段时间再提交。您填写的内容都还在。急事请拨打投诉热线 3105883。",
                    "Too many messages have been sent from your connection. Please try again later; your details are still here. For anything urgent, call 3105883.",
                )
                .to_owned();
            let mut response = page(
                StatusCode::TOO_MANY_REQUESTS,
                &message_page(&site, t, FormValues::from(&fields), &[], Some(notice)).await,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
            response
        }
        Err(e) => submit_error(e).into_response(),
    }
}
