//! The in-product help (帮助): the user guide (`docs/guide/*.md`) and the glossary, rendered
//! from the same Markdown the repository shows, with the screenshots the browser journeys take.
//! `/staff/help` opens the page for the person's role; links between pages stay inside the
//! help, and links to documents for engineers become plain text.

use askama::Template;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

use crate::domain::Role;
use crate::web::error::ApiError;
use crate::web::html::{page, Tr};
use crate::web::session::StaffUser;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/help.rs"));
}

#[derive(Template)]
#[template(path = "staff/help.html", config = "src/templates/askama.toml")]
struct HelpPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    title: String,
    body: String,
    pages: Vec<(&'static str, &'static str, bool)>,
}

/// The guide's pages in the order of its table of contents, with their titles.
const CONTENTS: [(&str, &str); 8] = [
    ("index", "目录"),
    ("counter", "窗口工作人员"),
    ("hotline", "热线话务员"),
    ("callback", "早班回访"),
    ("leader", "值班领导"),
    ("admin", "系统管理员"),
    ("public", "群众留言与查询"),
    ("glossary", "术语表"),
];

/// The page for a person's roles: the one they work most in.
fn page_for(user: &StaffUser) -> &'static str {
    [
        (Role::DutyLeader, "leader"),
        (Role::Counter, "counter"),
        (Role::Hotline, "hotline"),
        (Role::Callback, "callback"),
        (Role::Admin, "admin"),
    ]
    .into_iter()
    .find(|(role, _)| user.has(*role))
    .map_or("index", |(_, page)| page)
}

/// `/staff/help`: the guide page for the person's role.
pub async fn home(user: StaffUser) -> Response {
    Redirect::to(&format!("/staff/help/{}", page_for(&user))).into_response()
}

/// Where a link in the guide leads inside the help, or None for a document outside it.
fn help_link(dest: &str) -> Option<String> {
    if dest.starts_with("https://") || dest.starts_with("http://") || dest.starts_with('#') {
        return Some(dest.to_owned());
    }
    if dest.starts_with('/') && !dest.starts_with("//") {
        // A page of the service itself (`/staff/queue`).
        return Some(dest.to_owned());
    }
    let dest = dest.strip_prefix("./").unwrap_or(dest);
    let (file, anchor) = match dest.split_once('#') {
        Some((f, a)) => (f, format!("#{a}")),
        None => (dest, String::new()),
    };
    if let Some(image) = file.strip_prefix("../screenshots/") {
        return Some(format!("/staff/help/screenshots/{image}"));
    }
    let name = match file {
        "../GLOSSARY.md" => "glossary",
        "README.md" | "./README.md" => "index",
        f if !f.contains('/') => f.strip_suffix(".md")?,
        _ => return None,
    };
    CONTENTS
        .iter()
        .any(|(n, _)| *n == name)
        .then(|| format!("/staff/help/{name}{anchor}"))
}

/// The page's Markdown as HTML, its links kept inside the help, and its first heading.
fn render(markdown: &str) -> (String, String) {
    let mut title = String::new();
    let mut in_title = false;
    let mut dropped = Vec::new();
    let mut images = Vec::new();
    let events =
        Parser::new_ext(markdown, Options::ENABLE_TABLES).filter_map(|event| match event {
            Event::Start(Tag::Heading { level, .. }) if title.is_empty() => {
                in_title = level == pulldown_cmark::HeadingLevel::H1;
                Some(event)
            }
            Event::Text(ref text) if in_title => {
                title.push_str(text);
                Some(event)
            }
            Event::End(TagEnd::Heading(_)) => {
                in_title = false;
                Some(event)
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => match help_link(&dest_url) {
                Some(dest) => {
                    dropped.push(false);
                    Some(Event::Start(Tag::Link {
                        link_type,
                        dest_url: CowStr::from(dest),
                        title,
                        id,
                    }))
                }
                None => {
                    dropped.push(true);
                    None
                }
            },
            Event::End(TagEnd::Link) => match dropped.pop() {
                Some(true) => None,
                _ => Some(event),
            },
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                match help_link(&dest_url).filter(|d| d.starts_with("/staff/help/screenshots/")) {
                    Some(dest) => {
                        images.push(false);
                        Some(Event::Start(Tag::Image {
                            link_type,
                            dest_url: CowStr::from(dest),
                            title,
                            id,
                        }))
                    }
                    // An image the help does not have: its description stays, as text.
                    None => {
                        images.push(true);
                        None
                    }
                }
            }
            Event::End(TagEnd::Image) => match images.pop() {
                Some(true) => None,
                _ => Some(event),
            },
            // The guide is Markdown only: any raw HTML in it is shown as the text it is.
            Event::Html(html) | Event::InlineHtml(html) => Some(Event::Text(html)),
            other => Some(other),
        });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    (title, html)
}

/// `/staff/help/{page}`: a page of the guide, for every signed-in person.
pub async fn show(user: StaffUser, Path(name): Path<String>) -> Response {
    let Some((_, markdown)) = embedded::PAGES.iter().find(|(n, _)| *n == name) else {
        return ApiError::not_found("该帮助页", "help page").into_response();
    };
    let (title, body) = render(markdown);
    let mine = page_for(&user);
    let pages = CONTENTS
        .iter()
        .filter(|(n, _)| embedded::PAGES.iter().any(|(p, _)| p == n))
        .map(|(n, t)| (*n, *t, *n == mine))
        .collect();
    page(
        StatusCode::OK,
        &HelpPage {
            t: user.tr(),
            user: &user,
            nav: "help",
            back: format!("/staff/help/{name}"),
            title,
            body,
            pages,
        },
    )
}

/// `/staff/help/screenshots/{file}`: a screenshot the guide shows.
pub async fn screenshot(_user: StaffUser, Path(file): Path<String>) -> Response {
    match embedded::IMAGES.iter().find(|(n, _)| *n == file) {
        Some((_, png)) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "private, max-age=3600"),
            ],
            *png,
        )
            .into_response(),
        None => ApiError::not_found("该截图", "screenshot").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_stay_in_the_help_and_others_become_text() {
        assert_eq!(
            help_link("counter.md").as_deref(),
            Some("/staff/help/counter")
        );
        assert_eq!(help_link("README.md").as_deref(), Some("/staff/help/index"));
        assert_eq!(
            help_link("../GLOSSARY.md#cases").as_deref(),
            Some("/staff/help/glossary#cases")
        );
        assert_eq!(
            help_link("../screenshots/queue.png").as_deref(),
            Some("/staff/help/screenshots/queue.png")
        );
        assert_eq!(help_link("/staff/queue").as_deref(), Some("/staff/queue"));
        assert_eq!(help_link("../OPERATIONS.md"), None);
        assert_eq!(help_link("../../deploy/README.md"), None);
        assert_eq!(help_link("nonsense.md"), None);
        assert_eq!(
            help_link("./hotline.md").as_deref(),
            Some("/staff/help/hotline")
        );
        assert_eq!(help_link("javascript://x%0Aalert(1)"), None);
        assert_eq!(help_link("//elsewhere.example/x"), None);
        let (_, html) = render("<script>x()</script>\n\n![屏幕](../OPERATIONS.png) <b>b</b>\n");
        assert!(
            !html.contains("<script>") && !html.contains("<b>") && !html.contains("<img"),
            "{html}"
        );
        assert!(
            html.contains("屏幕"),
            "an image the help lacks keeps its description: {html}"
        );
        let (title, html) =
            render("# 窗口工作人员\n\n见 [运维](../OPERATIONS.md) 和 [回访](callback.md)。\n");
        assert_eq!(title, "窗口工作人员");
        assert!(
            html.contains("见 运维 和 <a href=\"/staff/help/callback\">回访</a>"),
            "{html}"
        );
    }

    #[test]
    fn every_role_has_its_page_and_every_page_is_embedded() {
        for (name, _) in CONTENTS {
            assert!(
                embedded::PAGES.iter().any(|(n, _)| *n == name),
                "{name} is embedded"
            );
        }
    }
}
