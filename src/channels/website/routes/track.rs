//! Tracking (`/track`): a visitor follows their case by its number and tracking code (or
//! the phone number given), sees the replies staff published and nothing else, and rates
//! the case once it is finished.

use std::sync::Arc;

use std::net::SocketAddr;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::guard::{PublicSite, TRACK_SCOPE};
use crate::domain::Status;
use crate::web::error::ApiError;
use crate::web::html::{page, Tr};

use super::pages::{refused, unreadable_form, ErrorLink};

pub struct StatusView {
    pub case_number: String,
    pub matter: String,
    pub status: String,
    pub received: String,
    pub deadline: String,
    pub replies: Vec<(String, String)>,
    /// The rating given, in words.
    pub rating: Option<String>,
    /// Finished and not rated: the rating form is shown (it posts the secret back).
    pub can_rate: bool,
    pub secret: String,
    pub levels: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "site/track.html", config = "src/templates/askama.toml")]
struct TrackPage {
    t: Tr,
    has_errors: bool,
    switch_path: &'static str,
    errors: Vec<ErrorLink>,
    field_errors: Vec<(&'static str, String)>,
    case: String,
    secret: String,
    status: Option<StatusView>,
}

impl TrackPage {
    fn field_error(&self, field: &str) -> Option<&str> {
        self.field_errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

// ---- tracking -----------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TrackFields {
    case: String,
    /// A tracking code or a phone number.
    secret: String,
    /// The tracking link in the e-mail says `code`.
    code: String,
    lang: String,
}

pub(super) async fn track_page(
    State(site): State<Arc<PublicSite>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<TrackFields>,
) -> Response {
    let t = Tr::pick(Some(&q.lang), &headers);
    let secret = if q.code.is_empty() { q.secret } else { q.code };
    if q.case.is_empty() && secret.is_empty() {
        return page(StatusCode::OK, &track_form_page(t, "", "", Vec::new()));
    }
    track(&site, peer, &headers, t, q.case, secret).await
}

pub(super) async fn track_form(
    State(site): State<Arc<PublicSite>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<TrackFields>, FormRejection>,
) -> Response {
    let fields = match form {
        Ok(Form(fields)) => fields,
        Err(rejection) => return unreadable_form(Tr::pick(None, &headers), rejection),
    };
    let t = Tr::pick(Some(&fields.lang), &headers);
    let secret = if fields.code.is_empty() {
        fields.secret
    } else {
        fields.code
    };
    track(&site, peer, &headers, t, fields.case, secret).await
}

fn track_form_page(
    t: Tr,
    case: &str,
    secret: &str,
    errors: Vec<(&'static str, String)>,
) -> TrackPage {
    TrackPage {
        t,
        has_errors: !errors.is_empty(),
        switch_path: "/track",
        errors: errors
            .iter()
            .map(|(f, m)| ErrorLink {
                anchor: (*f).to_owned(),
                message: m.clone(),
            })
            .collect(),
        field_errors: errors,
        case: case.to_owned(),
        secret: secret.to_owned(),
        status: None,
    }
}

async fn track(
    site: &PublicSite,
    peer: SocketAddr,
    headers: &HeaderMap,
    t: Tr,
    case: String,
    secret: String,
) -> Response {
    let mut errors = Vec::new();
    if case.trim().is_empty() {
        errors.push((
            "case",
            t.t("请填写案件编号", "Enter the case number").to_owned(),
        ));
    }
    if secret.trim().is_empty() {
        errors.push((
            "secret",
            t.t(
                "请填写查询码或电话号码",
                "Enter the tracking code or the phone number",
            )
            .to_owned(),
        ));
    }
    if !errors.is_empty() {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &track_form_page(t, &case, &secret, errors),
        );
    }
    let ip = site.client_ip(peer, headers);
    match site.allow(TRACK_SCOPE, ip, &site.track_limits()).await {
        Ok(true) => {}
        Ok(false) => {
            let mut response = refused(
                t,
                StatusCode::TOO_MANY_REQUESTS,
                t.t("查询次数太多", "Too many look-ups"),
                t.t(
                    "从您这里查询的次数太多了，请一小时后再试。",
                    "Too many look-ups from your connection. Please try again in an hour.",
                ),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
            return response;
        }
        Err(e) => return e.into_response(),
    }
    let now = crate::clock::now();
    let found = match site.desk.track(&case, &secret, now).await {
        Ok(found) => found,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(s) = found else {
        // The same words whether the case does not exist or the code is wrong.
        let message = t
            .t(
                "没有找到与您填写的案件编号和查询码（或电话号码）相符的留言，请核对后再试",
                "No message matches that case number and tracking code (or phone number). Please check them and try again",
            )
            .to_owned();
        return page(
            StatusCode::NOT_FOUND,
            &track_form_page(t, &case, &secret, vec![("case", message)]),
        );
    };
    let tz = site.desk.timezone();
    let matter = site
        .desk
        .rules()
        .matter(&s.matter)
        .map_or(s.matter.clone(), |m| t.t(&m.zh, &m.en).to_owned());
    let view = StatusView {
        case_number: s.case_number.to_string(),
        matter,
        status: public_status(s.status, t).to_owned(),
        received: t.time(s.received_at, tz),
        deadline: t.time(s.deadline, tz),
        replies: s
            .replies
            .into_iter()
            .map(|(at, text)| (t.time(at, tz), text))
            .collect(),
        rating: s.rating.map(|r| t.t(r.label_zh(), r.label_en()).to_owned()),
        can_rate: s.can_rate,
        secret: secret.clone(),
        levels: crate::domain::Rating::ALL
            .iter()
            .map(|r| (r.as_str(), t.t(r.label_zh(), r.label_en())))
            .collect(),
    };
    let mut page_data = track_form_page(t, "", "", Vec::new());
    page_data.status = Some(view);
    page(StatusCode::OK, &page_data)
}

/// The status in the citizen's words.
fn public_status(status: Status, t: Tr) -> &'static str {
    match status {
        Status::New => t.t("已收到，等待受理", "Received, waiting to be taken up"),
        Status::InProgress => t.t("正在办理", "Being handled"),
        Status::Resolved => t.t("已办结", "Done"),
        Status::Closed => t.t("已办结", "Done"),
        Status::Refused => t.t(
            "已答复：依法不能办理",
            "Answered: cannot be done under the law",
        ),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RateFields {
    case: String,
    secret: String,
    level: String,
    comment: String,
    lang: String,
}

/// The citizen rates a finished case from the tracking page (with the same proof as tracking).
pub(super) async fn rate(
    State(site): State<Arc<PublicSite>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<RateFields>, FormRejection>,
) -> Response {
    let fields = match form {
        Ok(Form(fields)) => fields,
        Err(rejection) => return unreadable_form(Tr::pick(None, &headers), rejection),
    };
    let t = Tr::pick(Some(&fields.lang), &headers);
    let ip = site.client_ip(peer, &headers);
    match site.allow(TRACK_SCOPE, ip, &site.track_limits()).await {
        Ok(true) => {}
        Ok(false) => {
            return refused(
                t,
                StatusCode::TOO_MANY_REQUESTS,
                t.t("操作次数太多", "Too many attempts"),
                t.t("请一小时后再试。", "Please try again in an hour."),
            )
        }
        Err(e) => return e.into_response(),
    }
    let now = crate::clock::now();
    let case = match site.desk.case_if_matches(&fields.case, &fields.secret).await {
        Ok(Some(case)) => case,
        Ok(None) => {
            return page(
                StatusCode::NOT_FOUND,
                &track_form_page(t, &fields.case, "", vec![("case", t.t("没有找到与您填写的案件编号和查询码（或电话号码）相符的留言，请核对后再试", "No message matches that case number and tracking code (or phone number). Please check them and try again").to_owned())]),
            )
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Ok(level) = fields.level.parse::<crate::domain::Rating>() else {
        return track(&site, peer, &headers, t, fields.case, fields.secret).await;
    };
    let comment = Some(fields.comment.trim().to_owned())
        .filter(|c| !c.is_empty())
        .and_then(|c| crate::domain::citizen::plain_text(&c, 500).ok());
    let result = site.desk.rate(&case, level, comment, now).await;
    match result {
        Ok(()) | Err(crate::ratings::RatingError::AlreadyRated) => {
            track(&site, peer, &headers, t, fields.case, fields.secret).await
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}
