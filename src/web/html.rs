//! What every server-rendered page shares: the language of the page and the response
//! headers (a strict CSP, no referrer, no caching of pages that may hold personal data).

use askama::Template;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::error::{ApiError, Lang};

/// The page language: `?lang=` (or the form's `lang` field), else `Accept-Language`.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub en: bool,
}

impl Tr {
    pub fn pick(explicit: Option<&str>, headers: &HeaderMap) -> Self {
        let en = match explicit.map(str::trim) {
            Some("en") => true,
            Some("zh") => false,
            _ => Lang::from_headers(headers) == Lang::En,
        };
        Self { en }
    }

    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        if self.en {
            en
        } else {
            zh
        }
    }

    pub fn html_lang(&self) -> &'static str {
        self.t("zh-CN", "en")
    }

    pub fn code(&self) -> &'static str {
        self.t("zh", "en")
    }

    /// The query that keeps the language on links.
    pub fn query(&self) -> &'static str {
        self.t("", "?lang=en")
    }

    pub fn time(&self, t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
        let local = t.with_timezone(&tz);
        match self.en {
            true => local.format("%-d %B %Y %H:%M").to_string(),
            false => local.format("%Y年%-m月%-d日 %H:%M").to_string(),
        }
    }
}

/// A page with the headers every public page carries.
pub fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                // Tracking links carry the code: never pass the address on.
                (header::REFERRER_POLICY, "no-referrer"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html,
        )
            .into_response(),
        Err(e) => ApiError::internal(anyhow::Error::new(e).context("rendering a page")).into_response(),
    }
}

/// A file to download (an export), never cached.
pub fn download(content_type: &str, filename: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}

/// The answer to an export format youmen does not write.
pub fn unknown_format(other: &str) -> ApiError {
    ApiError::invalid(
        "format",
        "unknown_format",
        super::error::Text::new(
            format!("导出格式无效（{other}），可选：csv, xlsx"),
            format!("Unknown format `{other}`; use csv or xlsx"),
        ),
    )
}

/// An instant as staff read it: `2026年11月30日 08:30`, local time.
pub fn when(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    super::views::local(t, tz)
        .format("%Y年%-m月%-d日 %H:%M")
        .to_string()
}

/// A matter category as a form's option.
pub struct MatterOption {
    pub code: String,
    pub label: String,
}

/// The configured matters as a form's options, in the reader's language.
pub fn matter_options(rules: &crate::domain::IntakeRules, t: Tr) -> Vec<MatterOption> {
    rules
        .matters
        .iter()
        .map(|m| MatterOption {
            code: m.code.clone(),
            label: t.t(&m.zh, &m.en).to_owned(),
        })
        .collect()
}
