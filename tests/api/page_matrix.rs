//! Every staff page for every staff role, as the domain's role matrix says, on both backends;
//! and every new form refused when posted without the session's CSRF token.

use youmen::domain::action::permitted;
use youmen::domain::{ActionKind, Role};

use crate::helpers::{walk_in, Backend, TestApp, PASSWORD};
use crate::staff::Browser;

async fn every_staff_page_for_every_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("admin", Role::Admin).await;
    let (_, case) = app.post_json("/api/v1/cases", &token, &walk_in()).await;
    let number = case["number"].as_str().unwrap().to_owned();
    let pages: Vec<(String, ActionKind)> = vec![
        ("/staff/queue".into(), ActionKind::Read),
        ("/staff/register".into(), ActionKind::Register),
        ("/staff/calls".into(), ActionKind::LogCall),
        ("/staff/calls/live".into(), ActionKind::LogCall),
        ("/staff/leader".into(), ActionKind::Oversee),
        ("/staff/statistics".into(), ActionKind::Oversee),
        ("/staff/audit".into(), ActionKind::Oversee),
        ("/staff/audit/export".into(), ActionKind::Oversee),
        (
            "/staff/callbacks?date=2026-11-27".into(),
            ActionKind::WorkCallbacks,
        ),
        ("/staff/users".into(), ActionKind::Administer),
        ("/staff/directory".into(), ActionKind::Administer),
        ("/staff/problems".into(), ActionKind::Read),
        ("/staff/help/counter".into(), ActionKind::Read),
        ("/staff/help/glossary".into(), ActionKind::Read),
        ("/staff/help/screenshots/queue.png".into(), ActionKind::Read),
        ("/staff/reports?period=2026-11".into(), ActionKind::Oversee),
        (
            "/staff/evaluation?period=2026-11".into(),
            ActionKind::Oversee,
        ),
        ("/staff/admin/tokens".into(), ActionKind::Administer),
        (format!("/staff/cases/{number}"), ActionKind::Read),
        (format!("/staff/cases/{number}/referral"), ActionKind::Read),
    ];
    let roles = [
        Role::Counter,
        Role::Hotline,
        Role::Callback,
        Role::DutyLeader,
        Role::Admin,
    ];
    for role in roles {
        let username = format!("u-{role}");
        app.user(&username, &format!("{role} 用户"), vec![role], None)
            .await;
        let mut b = Browser::new(&app);
        b.sign_in(&username, PASSWORD).await;
        for (path, kind) in &pages {
            let (status, _, _) = b.get(path).await;
            match permitted(role, *kind) {
                true => assert_eq!(status, 200, "{role} may open {path}"),
                false => assert_eq!(status, 403, "{role} may not open {path}"),
            }
        }
        // A form posted from another site carries no valid token: refused, nothing done.
        for path in [
            format!("/staff/cases/{number}/correct"),
            format!("/staff/cases/{number}/rating"),
            format!("/staff/cases/{number}/rating/follow-up"),
            format!("/staff/cases/{number}/receipt"),
            "/staff/users".into(),
            format!("/staff/users/{username}/reset"),
            "/staff/password".into(),
        ] {
            let (status, _, _) = b
                .post(&path, &[("csrf", "from-evil-site"), ("reason", "x")])
                .await;
            assert_eq!(status, 403, "{role}: a forged post to {path}");
        }
    }
    let (_, case) = app
        .get_json(&format!("/api/v1/cases/{number}"), &token)
        .await;
    assert_eq!(case["version"], 1, "nothing was changed: {case}");
}

crate::on_both_backends!(every_staff_page_for_every_role);

/// 帮助 opens each person's own page of the guide; signed out, the guide asks for a sign-in;
/// nothing but the guide's pages and screenshots is served from it, however the name is bent.
#[tokio::test]
async fn the_help_opens_each_role_on_its_page_and_serves_nothing_else() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut visitor = Browser::new(&app);
    for path in [
        "/staff/help",
        "/staff/help/counter",
        "/staff/help/screenshots/queue.png",
    ] {
        let (status, _, location) = visitor.get(path).await;
        assert_eq!(status, 303, "signed out, {path} asks for a sign-in");
        assert!(
            location.unwrap_or_default().starts_with("/staff/login"),
            "{path}"
        );
    }
    for (role, page, title) in [
        (Role::Counter, "counter", "窗口工作人员"),
        (Role::Hotline, "hotline", "热线话务员"),
        (Role::Callback, "callback", "早班回访"),
        (Role::DutyLeader, "leader", "值班领导"),
        (Role::Admin, "admin", "系统管理员"),
    ] {
        let username = format!("h-{role}");
        app.user(&username, "帮助读者", vec![role], None).await;
        let mut b = Browser::new(&app);
        b.sign_in(&username, PASSWORD).await;
        let (status, _, location) = b.get("/staff/help").await;
        assert_eq!(
            (status, location.as_deref()),
            (303, Some(format!("/staff/help/{page}").as_str())),
            "{role}"
        );
        let (status, html, _) = b.get(&format!("/staff/help/{page}")).await;
        assert_eq!(status, 200, "{role}");
        assert!(
            html.contains(title) && html.contains("aria-current=\"page\">帮助"),
            "{role}: {title}"
        );
        assert!(
            html.contains("/staff/help/screenshots/"),
            "{role}: the page shows its screenshots"
        );
    }
    let mut b = Browser::new(&app);
    b.sign_in("h-counter", PASSWORD).await;
    let (status, png, _) = b.get("/staff/help/screenshots/queue.png").await;
    assert_eq!(status, 200);
    assert!(!png.is_empty());
    for bad in [
        "/staff/help/nonsense",
        "/staff/help/..%2F..%2FCargo.toml",
        "/staff/help/%2e%2e",
        "/staff/help/README",
        "/staff/help/screenshots/..%2F..%2FCargo.toml",
        "/staff/help/screenshots/queue.PNG",
        "/staff/help/screenshots/%00",
    ] {
        let (status, body, _) = b.get(bad).await;
        assert_eq!(status, 404, "{bad}: {body}");
        assert!(
            body.contains("找不到") || body.contains("没有这个地址"),
            "{bad} is explained: {body}"
        );
    }
}

/// The pages' policy (`default-src 'self'`) allows no inline style: a `<style>` block or a
/// `style=` attribute in a page would be dropped by the browser (the prints came out unstyled
/// that way), so none is written; the prints' stylesheets are served.
#[tokio::test]
async fn no_page_relies_on_an_inline_style_and_the_prints_have_their_stylesheets() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/templates");
    for dir in ["staff", "site"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let html = std::fs::read_to_string(&path).unwrap();
            assert!(
                !html.contains("<style") && !html.contains(" style=\""),
                "{} has an inline style the policy blocks",
                path.display()
            );
        }
    }
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = reqwest::Client::new();
    for (file, status) in [
        ("receipt.css", 200),
        ("referral.css", 200),
        ("notice.css", 200),
        ("refusal.css", 200),
        ("callbacks-print.css", 200),
        ("..%2Fstaff.css", 404),
        ("staff.css", 404),
    ] {
        let r = client
            .get(format!("{}/assets/print/{file}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{file}");
    }
}
