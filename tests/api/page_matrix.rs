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
