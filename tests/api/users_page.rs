//! Accounts in the pages, on both backends: an administrator adds a person (a temporary
//! password, shown once), who must choose their own at the first sign-in; roles changed,
//! an account disabled and enabled, a password reset, sign-in delays lifted; the calendar's
//! years shown; bad input named; an administrator cannot lock themselves out; every change on
//! the audit trail; nobody else may.

use youmen::domain::Role;

use crate::helpers::{Backend, TestApp, PASSWORD};
use crate::staff::{csrf, Browser};

fn by_id(page: &str, id: &str) -> String {
    let start = page.find(&format!("id=\"{id}\">")).expect(id) + id.len() + 6;
    page[start..start + page[start..].find('<').unwrap()].to_owned()
}

async fn an_administrator_manages_accounts_in_the_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("root", "系统管理员", vec![Role::Admin], None)
        .await;
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    let mut clerk = Browser::new(&app);
    clerk.sign_in("wang", PASSWORD).await;
    assert_eq!(clerk.get("/staff/users").await.0, 403);

    let mut admin = Browser::new(&app);
    admin.sign_in("root", PASSWORD).await;
    let (status, page, _) = admin.get("/staff/users").await;
    assert_eq!(status, 200);
    assert!(page.contains("王芳") && page.contains("calendar-years"));
    assert!(page.contains("<td>2026</td><td>官方"), "2026 is official");
    let token = csrf(&page);

    // Bad input: each field named, nothing created.
    let (status, page, _) = admin
        .post(
            "/staff/users",
            &[
                ("csrf", &token),
                ("username", "li si"),
                ("display_name", ""),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("username-error")
            && page.contains("display_name-error")
            && page.contains("请至少选择一个岗位")
    );
    let (status, page, _) = admin
        .post(
            "/staff/users",
            &[
                ("csrf", &token),
                ("username", "wang"),
                ("display_name", "王芳二"),
                ("role_counter", "on"),
            ],
        )
        .await;
    assert_eq!(status, 409);
    assert!(page.contains("该用户名已被使用"));

    // 李早班 added: a temporary password, shown once.
    let (status, page, _) = admin
        .post(
            "/staff/users",
            &[
                ("csrf", &token),
                ("username", "li"),
                ("display_name", "李早班"),
                ("role_callback", "on"),
                ("email", "li@hrss.example"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let temporary = by_id(&page, "temporary-password");
    assert_eq!(temporary.len(), 14, "{temporary}");

    // The first sign-in asks for a password of their own before anything else.
    let mut li = Browser::new(&app);
    let (status, _, location) = li.sign_in("li", &temporary).await;
    assert_eq!(status, 303);
    let (status, _, location) = li.get(location.as_deref().unwrap_or("/staff")).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/staff/password"))
    );
    let (_, form, _) = li.get("/staff/password").await;
    let li_csrf = csrf(&form);
    for (password, again) in [
        ("新密码一二三四五六七八", "不一样的密码一二三四五六"),
        ("short", "short"),
    ] {
        let (status, _, _) = li
            .post(
                "/staff/password",
                &[("csrf", &li_csrf), ("password", password), ("again", again)],
            )
            .await;
        assert_eq!(status, 422);
    }
    let mine = "早班的新密码2026十二月";
    let (status, _, _) = li
        .post(
            "/staff/password",
            &[("csrf", &li_csrf), ("password", mine), ("again", mine)],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(li.get("/staff/callbacks").await.0, 200, "now at work");

    // Roles changed; disabled (their session ends) and enabled again.
    let (status, _, _) = admin
        .post(
            "/staff/users/li",
            &[
                ("csrf", &token),
                ("display_name", "李早班"),
                ("role_callback", "on"),
                ("role_hotline", "on"),
                ("email", "li@hrss.example"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let record = app.store().user_by_username("li").await.unwrap().unwrap();
    assert_eq!(record.roles, vec![Role::Hotline, Role::Callback]);
    assert_eq!(
        admin
            .post("/staff/users/li/disable", &[("csrf", &token)])
            .await
            .0,
        200
    );
    assert_eq!(li.get("/staff/callbacks").await.0, 303, "signed out");
    assert_eq!(
        admin
            .post("/staff/users/li/enable", &[("csrf", &token)])
            .await
            .0,
        200
    );

    // Wrong passwords build delays; the administrator lifts them.
    let mut guesser = Browser::new(&app);
    guesser.sign_in("li", "wrong password 1").await;
    assert!(
        app.store()
            .user_by_username("li")
            .await
            .unwrap()
            .unwrap()
            .failed_logins
            > 0
    );
    let (_, page, _) = admin.get("/staff/users").await;
    assert!(page.contains("解除登录限制"));
    assert_eq!(
        admin
            .post("/staff/users/li/unlock", &[("csrf", &token)])
            .await
            .0,
        200
    );
    assert_eq!(
        app.store()
            .user_by_username("li")
            .await
            .unwrap()
            .unwrap()
            .failed_logins,
        0
    );

    // A reset gives a new temporary password.
    let (status, page, _) = admin
        .post("/staff/users/li/reset", &[("csrf", &token)])
        .await;
    assert_eq!(status, 200);
    let again = by_id(&page, "temporary-password");
    let mut li = Browser::new(&app);
    li.sign_in("li", &again).await;
    assert_eq!(
        li.get("/staff/callbacks").await.2.as_deref(),
        Some("/staff/password")
    );
    // Nor the API through that session, until then.
    let r = app
        .client
        .get(format!("{}/api/v1/cases", app.address))
        .header(
            reqwest::header::COOKIE,
            format!("youmen_session={}", li.cookie.clone().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Names are unique: owners and alerts go by them.
    let (status, page, _) = admin
        .post(
            "/staff/users",
            &[
                ("csrf", &token),
                ("username", "wang2"),
                ("display_name", "王芳"),
                ("role_counter", "on"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("该姓名已被其他账号使用"));

    // An administrator cannot lock themselves out.
    assert_eq!(
        admin
            .post("/staff/users/root/disable", &[("csrf", &token)])
            .await
            .0,
        409
    );
    let (status, _, _) = admin
        .post(
            "/staff/users/root",
            &[
                ("csrf", &token),
                ("display_name", "系统管理员"),
                ("role_counter", "on"),
            ],
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(
        admin
            .post("/staff/users/nobody/unlock", &[("csrf", &token)])
            .await
            .0,
        404
    );
    assert_eq!(
        clerk
            .post("/staff/users/li/reset", &[("csrf", &token)])
            .await
            .0,
        403
    );

    // All on the audit trail.
    for action in [
        "create_user",
        "update_user",
        "disable_user",
        "enable_user",
        "unlock_user",
        "reset_password",
        "choose_password",
    ] {
        let sql = format!("select count(*) from audit_events where action = '{action}'");
        assert!(app.raw_count(&sql).await >= 1, "{action}");
    }
}

crate::on_both_backends!(an_administrator_manages_accounts_in_the_page);
