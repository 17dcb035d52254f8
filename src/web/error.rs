//! One error type for HTTP. Clients get a stable code and a plain message in their
//! language; internal causes are logged with their whole chain and never sent.
//!
//! Handlers return [`ApiError`]; its response carries the error as an extension, and the
//! [`render_errors`] middleware writes the body in the language the client asked for, with
//! the request id on server errors.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::cases::CaseError;
use crate::domain::FieldError;
use crate::domain::Refusal;
use crate::intake::IntakeError;
use crate::storage::StoreError;

/// The language of messages, from `Accept-Language`; Chinese unless English is preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        let Some(value) = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
        else {
            return Lang::Zh;
        };
        let mut best: Option<(f32, &str)> = None;
        for part in value.split(',') {
            let mut bits = part.trim().split(';');
            let tag = bits.next().unwrap_or("").trim();
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if !tag.is_empty() && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, tag));
            }
        }
        match best {
            Some((_, tag)) if tag.to_ascii_lowercase().starts_with("en") => Lang::En,
            _ => Lang::Zh,
        }
    }
}

/// A message in both languages.
#[derive(Debug, Clone)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

#[derive(Debug, Clone)]
struct Detail {
    field: String,
    code: String,
    message: Text,
}

/// What the client is told. Cloned into the response extensions for rendering.
#[derive(Debug, Clone)]
pub struct ClientError {
    status: StatusCode,
    code: &'static str,
    message: Text,
    field: Option<String>,
    details: Vec<Detail>,
}

#[derive(Debug)]
pub struct ApiError {
    /// Boxed: handlers return `Result<_, ApiError>` everywhere and the Ok path stays small.
    client: Box<ClientError>,
    /// The internal cause, logged and never sent.
    source: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: Text) -> Self {
        let client = ClientError {
            status,
            code,
            message,
            field: None,
            details: Vec::new(),
        };
        Self {
            client: Box::new(client),
            source: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.client.field = Some(field.into());
        self
    }

    /// Each field's problem in one language (the field the error names, or each detail).
    pub fn field_messages(&self, english: bool) -> Vec<(String, String)> {
        let lang = if english { Lang::En } else { Lang::Zh };
        let mut out: Vec<(String, String)> = self
            .client
            .details
            .iter()
            .map(|d| (d.field.clone(), d.message.get(lang).to_owned()))
            .collect();
        if out.is_empty() {
            if let Some(field) = &self.client.field {
                out.push((field.clone(), self.client.message.get(lang).to_owned()));
            }
        }
        out
    }

    /// The message for people, in one language.
    pub fn message(&self, english: bool) -> String {
        let lang = if english { Lang::En } else { Lang::Zh };
        let mut text = self.client.message.get(lang).to_owned();
        for d in &self.client.details {
            text.push_str("; ");
            text.push_str(d.message.get(lang));
        }
        text
    }

    pub fn status(&self) -> StatusCode {
        self.client.status
    }

    pub fn not_found(what_zh: &str, what_en: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            Text::new(format!("找不到{what_zh}"), format!("No such {what_en}")),
        )
    }

    pub fn invalid(field: &str, code: &'static str, message: Text) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_field(field)
    }

    /// Every problem of a form at once; the first one is the headline.
    pub fn fields(errors: Vec<FieldError>) -> Self {
        let details: Vec<Detail> = errors
            .into_iter()
            .map(|e| Detail {
                field: e.field.to_owned(),
                code: e.code.to_owned(),
                message: Text::new(e.zh, e.en),
            })
            .collect();
        let first = details.first().cloned();
        let mut err = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            first
                .as_ref()
                .map(|d| d.message.clone())
                .unwrap_or_else(|| Text::new("输入有误", "Invalid input")),
        );
        err.client.field = first.map(|d| d.field);
        err.client.details = details;
        err
    }

    pub fn internal(source: anyhow::Error) -> Self {
        Self {
            client: Box::new(ClientError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "internal_error",
                message: Text::new(
                    "服务器内部错误，请稍后再试；如仍有问题，请把请求编号告诉管理员",
                    "Internal server error; please try again later, or give the request id to an administrator",
                ),
                field: None,
                details: Vec::new(),
            }),
            source: Some(source),
        }
    }

    pub fn unavailable(source: anyhow::Error) -> Self {
        let mut err = Self::internal(source);
        err.client.status = StatusCode::SERVICE_UNAVAILABLE;
        err.client.code = "unavailable";
        err.client.message = Text::new(
            "服务暂时不可用，请稍后再试",
            "The service is temporarily unavailable; please try again shortly",
        );
        err
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        let conflict = |code, zh: String, en: String| {
            ApiError::new(StatusCode::CONFLICT, code, Text::new(zh, en))
        };
        match r {
            Refusal::Forbidden(kind) => super::extract::forbidden(kind),
            Refusal::WrongStatus { action, status } => conflict(
                "not_allowed_in_status",
                format!(
                    "案件当前状态为“{}”，不能执行此操作（{}）",
                    status.label_zh(),
                    action.code()
                ),
                format!(
                    "Cannot {} a case that is {}",
                    action.code(),
                    status.label_en().to_lowercase()
                ),
            ),
            Refusal::HighestTier => conflict(
                "highest_tier",
                "案件已在最高层级（疑难事项，5个工作日），不能再升级".into(),
                r.to_string(),
            ),
            Refusal::NoSummons => conflict(
                "no_summons",
                "此案件尚未召见任何人，无法登记到场".into(),
                r.to_string(),
            ),
            Refusal::DepartmentMissing => conflict(
                "department_missing",
                "认定为窗口人员原因前，须先登记在哪个科室没办成（在案件页“更正”中填写）".into(),
                r.to_string(),
            ),
            Refusal::AccountabilityMissing => conflict(
                "accountability_missing",
                "窗口人员原因的案件，须先由值班领导登记问责记录才能销号".into(),
                r.to_string(),
            ),
            Refusal::CauseNotClassified => conflict(
                "cause_not_classified",
                "请先认定原因类别，再办结".into(),
                r.to_string(),
            ),
            Refusal::Unchanged => conflict(
                "unchanged",
                "案件已经是这个值，无需修改".into(),
                r.to_string(),
            ),
            Refusal::NoPendingRequest => conflict(
                "no_pending_request",
                "此案件没有待批准的请求（可能已批准或已不予批准）".into(),
                r.to_string(),
            ),
            Refusal::Calendar(e) => ApiError::internal(anyhow::Error::new(e)),
        }
    }
}

impl From<CaseError> for ApiError {
    fn from(e: CaseError) -> Self {
        match e {
            CaseError::InvalidNumber(raw) => ApiError::invalid(
                "number",
                "invalid_case_number",
                Text::new(
                    format!("案件编号格式不对（应类似 YM-20261128-0007）：{raw}"),
                    format!("`{raw}` is not a case number (it looks like YM-20261128-0007)"),
                ),
            ),
            CaseError::NotFound => ApiError::not_found("该案件", "case"),
            CaseError::Invalid(errors) => ApiError::fields(errors),
            CaseError::UnknownUser(name) => ApiError::invalid(
                "to",
                "unknown_user",
                Text::new(
                    format!("没有名为 `{name}` 的在用账号，无法改派"),
                    format!("`{name}` is not an enabled user: the case cannot be given to them"),
                ),
            ),
            CaseError::Refused(r) => r.into(),
            CaseError::Store(e) => e.into(),
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Calendar(e) => ApiError::fields(vec![FieldError::new(
                "received_at",
                "calendar",
                format!("无法计算办结时限：{e}"),
                e.to_string(),
            )]),
            IntakeError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(source) => ApiError::unavailable(anyhow::Error::new(source)),
            StoreError::Conflict => ApiError::new(
                StatusCode::CONFLICT,
                "edit_conflict",
                Text::new(
                    "该案件刚被他人修改，请刷新后再试",
                    "The case was just changed by someone else; reload and try again",
                ),
            ),
            StoreError::Duplicate => ApiError::new(
                StatusCode::CONFLICT,
                "duplicate",
                Text::new("该记录已存在", "That record already exists"),
            ),
            StoreError::Other(source) => ApiError::internal(source),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(source) = &self.source {
            // `{:#}` prints the whole context chain on one line.
            tracing::error!(
                error = format!("{source:#}"),
                status = self.client.status.as_u16(),
                "request failed"
            );
        }
        let mut response = render(&self.client, Lang::Zh, None);
        response.extensions_mut().insert(*self.client);
        response
    }
}

#[derive(Serialize)]
struct DetailBody<'a> {
    field: &'a str,
    code: &'a str,
    message: &'a str,
}

fn render(err: &ClientError, lang: Lang, request_id: Option<&str>) -> Response {
    let body = error_json(err, lang, request_id);
    let mut response = (err.status, axum::Json(body)).into_response();
    if err.status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

fn error_json(err: &ClientError, lang: Lang, request_id: Option<&str>) -> serde_json::Value {
    let mut error = json!({
        "code": err.code,
        "message": err.message.get(lang),
        "field": err.field,
    });
    if !err.details.is_empty() {
        let details: Vec<DetailBody> = err
            .details
            .iter()
            .map(|d| DetailBody {
                field: &d.field,
                code: &d.code,
                message: d.message.get(lang),
            })
            .collect();
        error["details"] = json!(details);
    }
    if let (true, Some(id)) = (err.status.is_server_error(), request_id) {
        error["request_id"] = json!(id);
    }
    json!({ "error": error })
}

/// Re-renders error bodies in the client's language and adds the request id to 5xx.
pub async fn render_errors(request: Request, next: Next) -> Response {
    let lang = Lang::from_headers(request.headers());
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    // Public pages render their own errors, as pages.
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let fallback = (!is_page
        && response.extensions().get::<ClientError>().is_none()
        && (response.status().is_client_error() || response.status().is_server_error()))
    .then(|| generic_error(response.status()));
    match response
        .extensions()
        .get::<ClientError>()
        .or(fallback.as_ref())
    {
        Some(err) => {
            let mut rendered = render(err, lang, request_id.as_deref());
            for (name, value) in response.headers() {
                let body_header = name == header::CONTENT_LENGTH || name == header::CONTENT_TYPE;
                if !body_header && !rendered.headers().contains_key(name) {
                    rendered.headers_mut().insert(name.clone(), value.clone());
                }
            }
            rendered
        }
        None => response,
    }
}

/// The shape for an error response that did not come from an [`ApiError`] (a rejection by
/// a framework extractor, for instance): the status kept, a plain message by status.
fn generic_error(status: StatusCode) -> ClientError {
    let (code, zh, en) = match status.as_u16() {
        400 => ("bad_request", "请求格式不对", "The request is malformed"),
        401 => ("unauthenticated", "需要登录", "Authentication required"),
        403 => ("forbidden", "无权访问", "Forbidden"),
        404 => ("not_found", "找不到该地址或记录", "Not found"),
        405 => (
            "method_not_allowed",
            "该地址不支持这种请求方法",
            "This route does not accept that method",
        ),
        408 => ("timeout", "请求超时", "The request timed out"),
        413 => (
            "payload_too_large",
            "提交的内容太大",
            "The request body is too large",
        ),
        415 => (
            "unsupported_media_type",
            "不支持的内容类型",
            "Unsupported content type",
        ),
        422 => ("invalid_input", "输入有误", "Invalid input"),
        429 => (
            "too_many_requests",
            "请求太频繁，请稍后再试",
            "Too many requests; try again shortly",
        ),
        503 => (
            "unavailable",
            "服务暂时不可用，请稍后再试",
            "The service is temporarily unavailable",
        ),
        s if s >= 500 => (
            "internal_error",
            "服务器内部错误，请稍后再试",
            "Internal server error; please try again later",
        ),
        _ => ("bad_request", "请求有误", "The request was not accepted"),
    };
    ClientError {
        status,
        code,
        message: Text::new(zh, en),
        field: None,
        details: Vec::new(),
    }
}

/// A panic in a handler becomes an ordinary 500, logged.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    ApiError::internal(anyhow::anyhow!("handler panicked: {detail}")).into_response()
}

/// 404 for routes that do not exist, in the usual shape.
pub async fn no_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        Text::new(
            "没有这个地址，请查看接口文档 /api/openapi.json",
            "No such route; see the API description at /api/openapi.json",
        ),
    )
}

pub async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        Text::new(
            "该地址不支持这种请求方法",
            "This route does not accept that method",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(value: &str) -> Lang {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(value).unwrap(),
        );
        Lang::from_headers(&h)
    }

    #[test]
    fn server_errors_carry_the_request_id_and_no_internal_detail() {
        let err = ApiError::internal(anyhow::anyhow!("secret table name"));
        assert!(!format!("{:?}", err.client).contains("secret table name"));
        let body = error_json(&err.client, Lang::En, Some("req-1"));
        assert_eq!(body["error"]["request_id"], "req-1");
        assert_eq!(body["error"]["code"], "internal_error");
        assert!(error_json(&err.client, Lang::En, None)["error"]
            .get("request_id")
            .is_none());
    }

    #[test]
    fn chinese_is_the_default_and_english_must_be_preferred() {
        assert_eq!(Lang::from_headers(&HeaderMap::new()), Lang::Zh);
        assert_eq!(lang("en-US,en;q=0.9"), Lang::En);
        assert_eq!(lang("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(lang("fr;q=0.9,en;q=0.95"), Lang::En);
        assert_eq!(lang("de"), Lang::Zh);
    }
}
