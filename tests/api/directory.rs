//! The bureau's directory of departments and counters, and where a matter failed: seeded
//! from the configuration, edited by an administrator in the page (on the audit trail),
//! retired rather than deleted while cases name it; an unknown or retired code is a 422
//! naming its field. On both backends.

use serde_json::json;
use youmen::domain::Role;

use crate::helpers::{walk_in, Backend, TestApp, PASSWORD};
use crate::staff::{csrf, Browser};

async fn an_administrator_keeps_the_directory(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("root", "系统管理员", vec![Role::Admin], None)
        .await;
    let clerk = app.token("窗口", Role::Counter).await;
    let mut admin = Browser::new(&app);
    admin.sign_in("root", PASSWORD).await;
    let page = admin.get("/staff/directory").await.1;
    assert!(
        page.contains("养老保险待遇窗口") && page.contains("养老保险科"),
        "seeded from the configuration"
    );
    let token = csrf(&page);

    // A new counter, with its department, head and contact.
    let (status, _, location) = admin
        .post(
            "/staff/directory",
            &[
                ("csrf", &token),
                ("kind", "counter"),
                ("code", "w12"),
                ("name", "12号综合窗口"),
                ("department", "pensions"),
                ("head", "刘科长"),
                ("contact", "liu@hrss.example.gov.cn"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/staff/directory"))
    );
    // Adding a code that is there already refuses, and changes nothing.
    let (status, page, _) = admin
        .post(
            "/staff/directory",
            &[
                ("csrf", &token),
                ("mode", "add"),
                ("kind", "counter"),
                ("code", "w12"),
                ("name", "别的窗口"),
            ],
        )
        .await;
    assert_eq!(status, 409);
    assert!(page.contains("该代码已在名录中") && page.contains("12号综合窗口"));
    // Bad input is named.
    let (status, page, _) = admin
        .post(
            "/staff/directory",
            &[
                ("csrf", &token),
                ("kind", "counter"),
                ("code", "W 12"),
                ("name", ""),
                ("contact", "liu"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("代码请用小写字母")
            && page.contains("请填写名称")
            && page.contains("联系方式请填电子邮箱")
    );

    // A case failed there.
    let mut body = walk_in();
    body["failed_counter"] = json!("w12");
    body["failed_clerk"] = json!("王五");
    let (status, case) = app.post_json("/api/v1/cases", &clerk, &body).await;
    assert_eq!(status, 201, "{case}");
    assert_eq!(
        (
            case["failed_counter"].as_str(),
            case["failed_department"].as_str(),
            case["failed_clerk"].as_str()
        ),
        (Some("w12"), Some("pensions"), Some("王五"))
    );
    let number = case["number"].as_str().unwrap().to_owned();
    // It cannot be deleted now, only retired; retired, it is offered no more.
    let (status, page, _) = admin
        .post("/staff/directory/counter/w12/delete", &[("csrf", &token)])
        .await;
    assert_eq!(status, 409);
    assert!(page.contains("只能停用"));
    let (status, _, _) = admin
        .post(
            "/staff/directory",
            &[
                ("csrf", &token),
                ("kind", "counter"),
                ("code", "w12"),
                ("name", "12号综合窗口"),
                ("department", "pensions"),
                ("retired", "on"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (status, refused) = app.post_json("/api/v1/cases", &clerk, &body).await;
    assert_eq!(
        (status, refused["error"]["details"][0]["field"].as_str()),
        (422, Some("failed_counter")),
        "{refused}"
    );
    // The old case still names it, by name, on its page.
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    let mut wang = Browser::new(&app);
    wang.sign_in("wang", PASSWORD).await;
    let case_page = wang.get(&format!("/staff/cases/{number}")).await.1;
    assert!(
        case_page.contains("12号综合窗口") && case_page.contains("王五"),
        "{case_page}"
    );
    // Unknown codes are named, on every door.
    let mut unknown = walk_in();
    unknown["failed_department"] = json!("nowhere");
    let (status, r) = app.post_json("/api/v1/cases", &clerk, &unknown).await;
    assert_eq!(status, 422, "{r}");
    assert!(r.to_string().contains("failed_department"), "{r}");
    let operator = app.token("话务", Role::Hotline).await;
    let (status, r) = app
        .post_json(
            "/api/v1/hotline/calls",
            &operator,
            &json!({"hotline": "complaint", "caller_number": "13800138000", "matter": "wages",
                    "summary": "s", "outcome": "answered", "failed_counter": "nowhere"}),
        )
        .await;
    assert_eq!(status, 422, "{r}");
    assert!(r.to_string().contains("failed_counter"), "{r}");
    // The website asks it too, optionally, in plain words; a code that is not offered is
    // named.
    let (status, r) = app
        .post("/api/v1/website/messages")
        .json(
            &json!({"name": "王大爷", "phone": "13900139000", "matter": "pensions",
                      "description": "养老金认证在窗口办不了", "consent": true,
                      "failed_counter": "pension-benefits"}),
        )
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map(|s| (s, ()))
        .unwrap();
    let _ = r;
    assert_eq!(status, 201);
    assert_eq!(
        app.raw_count("select count(*) from cases where channel = 'website' and failed_counter = 'pension-benefits' and failed_department = 'pensions'").await,
        1
    );
    let (status, r) = crate::helpers::json(
        app.post("/api/v1/website/messages")
            .json(
                &json!({"name": "王大爷", "phone": "13900139001", "matter": "pensions",
                          "description": "另一件事", "consent": true, "failed_counter": "w12"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422, "a retired counter is not offered: {r}");
    assert!(r.to_string().contains("failed_counter"), "{r}");
    // An unused entry is deleted.
    let (status, _, _) = admin
        .post(
            "/staff/directory/department/office/delete",
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(status, 303);
    assert!(!admin
        .get("/staff/directory")
        .await
        .1
        .contains("<code>office</code>"));
    // Each change is on the audit trail; the page is the administrators'.
    assert_eq!(
        app.raw_count("select count(*) from audit_events where action like 'directory_%'")
            .await,
        3
    );
    assert_eq!(wang.get("/staff/directory").await.0, 403);
}

/// Summoning a department head picks them from the directory and tells them at once (here
/// through a real local webhook receiver, as a WeCom robot); their arrival is recorded and
/// how fast they came is counted (随叫随到).
async fn a_summoned_head_is_told_at_once_and_their_arrival_counted(backend: Backend) {
    let (base, log) = crate::oversight::receiver().await;
    let hooks = vec![youmen::config::WebhookSettings {
        name: "pensions-head".into(),
        url: format!("{base}/wecom?key=abc"),
        format: "wecom".into(),
        secret: String::new(),
        allow_http: true,
        topics: vec!["summons".into()],
    }];
    let app = TestApp::spawn_with(backend, move |s| {
        s.webhooks = hooks;
        s.mail.poll_seconds = 1;
    })
    .await;
    let head = youmen::domain::directory::DirectoryEntry {
        kind: youmen::domain::directory::EntryKind::Department,
        code: "pensions".into(),
        name: "养老保险科".into(),
        head: Some("李科长".into()),
        contact: Some("webhook:pensions-head".into()),
        department: None,
        retired: false,
    };
    assert!(!app
        .store()
        .save_directory_entry(&head, chrono::Utc::now())
        .await
        .unwrap());
    let clerk = app.token("王芳", Role::Counter).await;
    let leader = app.token("赵局长", Role::DutyLeader).await;
    let (_, case) = app.post_json("/api/v1/cases", &clerk, &walk_in()).await;
    let number = case["number"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/cases/{number}/actions");
    // Nobody summoned yet: no arrival to record.
    let (status, r) = app
        .post_json(
            &path,
            &leader,
            &json!({"action": "record_arrival", "who": "李科长"}),
        )
        .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("no_summons")),
        "{r}"
    );
    let (status, r) = app
        .post_json(
            &path,
            &leader,
            &json!({"action": "summon", "department": "nowhere", "text": "t"}),
        )
        .await;
    assert_eq!(
        (status, r["error"]["field"].as_str()),
        (422, Some("department")),
        "{r}"
    );
    let (status, r) = app
        .post_json(
            &path,
            &leader,
            &json!({"action": "summon", "department": "pensions", "text": "材料齐全仍被退回，请当场说明"}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        r["event"]["note"]
            .as_str()
            .map(|n| n.contains("养老保险科 李科长")),
        Some(true),
        "{r}"
    );
    // Told at once.
    let mut told = None;
    for _ in 0..100 {
        told = log
            .lock()
            .unwrap()
            .iter()
            .find(|(p, ..)| p == "/wecom")
            .map(|(_, _, body, _)| body.clone());
        if told.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let told = told.expect("the head's robot was told within 10 s");
    assert!(
        told.contains(&number) && told.contains("召见") && told.contains("李科长"),
        "{told}"
    );
    // They came: how long after is on the timeline, for the bulletins to count.
    let (status, r) = app
        .post_json(
            &path,
            &leader,
            &json!({"action": "record_arrival", "who": "李科长"}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["event"]["action"], "summon_arrived");
    assert_eq!(r["event"]["after"]["minutes_to_arrive"], 0, "{r}");
    // One arrival per summons.
    let (status, r) = app
        .post_json(
            &path,
            &leader,
            &json!({"action": "record_arrival", "who": "李科长"}),
        )
        .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("no_summons")),
        "{r}"
    );
}

crate::on_both_backends!(
    an_administrator_keeps_the_directory,
    a_summoned_head_is_told_at_once_and_their_arrival_counted
);
