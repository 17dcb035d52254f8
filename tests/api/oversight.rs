//! Oversight: the duty roster (set, imported from CSV, its gaps) and the deadline scanner,
//! which reminds the owner and the day's duty leader before a deadline and alarms them when it
//! passes, once each.

use serde_json::json;
use youmen::domain::Role;
use youmen::domain::Topic;
use youmen::oversight::{DeadlineScanner, ScanResult};

const DEADLINE_TOPIC: &str = Topic::DeadlineAlert.as_str();

use crate::helpers::{walk_in, Backend, TestApp};

async fn the_roster_is_set_imported_and_its_gaps_shown(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user(
        "zhao",
        "赵局长",
        vec![Role::DutyLeader],
        Some("zhao@hrss.example"),
    )
    .await;
    app.user(
        "qian",
        "钱主任",
        vec![Role::DutyLeader],
        Some("qian@hrss.example"),
    )
    .await;
    app.user(
        "wang",
        "王芳",
        vec![Role::Counter],
        Some("wang@hrss.example"),
    )
    .await;
    let admin = app.token("admin", Role::Admin).await;
    let counter = app.token("王芳", Role::Counter).await;
    let put = |date: &str, token: &str, username: &str| {
        app.client
            .put(format!("{}/api/v1/roster/{date}", app.address))
            .bearer_auth(token)
            .json(&json!({"username": username}))
            .send()
    };
    assert_eq!(
        put("2026-12-01", &admin, "zhao").await.unwrap().status(),
        204
    );
    assert_eq!(
        put("2026-12-01", &counter, "zhao").await.unwrap().status(),
        403
    );
    assert_eq!(
        put("2026-12-02", &admin, "wang").await.unwrap().status(),
        422,
        "a clerk is not a duty leader"
    );

    let csv = "date,username\n2026-12-02,qian\n2026-12-03, zhao\n";
    let r = app
        .post("/api/v1/roster/import")
        .bearer_auth(&admin)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bad = "2026-12-04,qian\n2026-13-01,zhao\n2026-12-05,nobody\n";
    let r = app
        .post("/api/v1/roster/import")
        .bearer_auth(&admin)
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let (_, body) = crate::helpers::json(r).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("line 2") && message.contains("line 3") && message.contains("nobody"),
        "{message}"
    );
    for empty in ["", "date,username\n"] {
        let r = app
            .post("/api/v1/roster/import")
            .bearer_auth(&admin)
            .body(empty)
            .send()
            .await
            .unwrap();
        let (status, body) = crate::helpers::json(r).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("empty_roster"))
        );
    }

    let (status, roster) = app
        .get_json("/api/v1/roster?from=2026-12-01&to=2026-12-10", &counter)
        .await;
    assert_eq!(status, 200);
    let dates: Vec<&str> = roster["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        ["2026-12-01", "2026-12-02", "2026-12-03"],
        "nothing of the refused file was imported"
    );
    assert_eq!(roster["entries"][1]["name"], "钱主任");
    // The gaps are working days only, from today: weekends never appear.
    for gap in roster["gaps"].as_array().unwrap() {
        let day = chrono::NaiveDate::parse_from_str(gap.as_str().unwrap(), "%Y-%m-%d").unwrap();
        assert!(!["2026-12-01", "2026-12-02", "2026-12-03"].contains(&gap.as_str().unwrap()));
        assert!(app.state().calendar.current().is_working_day(day), "{day}");
    }
}

async fn deadlines_remind_then_alarm_the_owner_and_the_duty_leader_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user(
        "wang",
        "王芳",
        vec![Role::Counter],
        Some("wang@hrss.example"),
    )
    .await;
    app.user(
        "zhao",
        "赵局长",
        vec![Role::DutyLeader],
        Some("zhao@hrss.example"),
    )
    .await;
    let clerk = app.token("王芳", Role::Counter).await;
    let (_, case) = app.post_json("/api/v1/cases", &clerk, &walk_in()).await;
    let number = case["number"].as_str().unwrap().to_owned();
    app.post_json(
        &format!("/api/v1/cases/{number}/actions"),
        &clerk,
        &json!({"action": "accept"}),
    )
    .await;
    let deadline = chrono::DateTime::parse_from_rfc3339(case["deadline"].as_str().unwrap())
        .unwrap()
        .to_utc();
    let state = app.state();
    let tz = state.calendar.current().timezone();
    let before = deadline - chrono::Duration::minutes(60);
    let after = deadline + chrono::Duration::minutes(1);
    for day in [before, after] {
        app.store()
            .set_duty(
                day.with_timezone(&tz).date_naive(),
                "zhao",
                chrono::Utc::now(),
            )
            .await
            .unwrap();
    }
    let mut settings = youmen::config::Settings::load(None).unwrap();
    settings.oversight.remind_before_minutes = 120;
    let scanner = DeadlineScanner::new(
        app.store(),
        state.calendar.clone(),
        settings.oversight.clone(),
        true,
    );

    let early = scanner
        .scan(deadline - chrono::Duration::minutes(180))
        .await
        .unwrap();
    assert_eq!(early, ScanResult::default(), "nothing three hours before");
    let first = scanner.scan(before).await.unwrap();
    assert_eq!(
        (first.due_soon, first.overdue, first.notifications),
        (1, 0, 2)
    );
    assert_eq!(
        scanner.scan(before).await.unwrap(),
        ScanResult::default(),
        "once"
    );
    let late = scanner.scan(after).await.unwrap();
    assert_eq!((late.due_soon, late.overdue, late.notifications), (0, 1, 2));
    // Two scanners at once (two instances): the alarm is raised once.
    let again = DeadlineScanner::new(
        app.store(),
        state.calendar.clone(),
        settings.oversight.clone(),
        true,
    );
    let (a, b) = tokio::join!(again.scan(after), scanner.scan(after));
    assert_eq!(a.unwrap().notifications + b.unwrap().notifications, 0);

    let outbox = app.store().outbox_list(Some("pending"), 10).await.unwrap();
    let mut to: Vec<&str> = outbox
        .iter()
        .filter(|o| o.topic == DEADLINE_TOPIC)
        .map(|o| o.recipient.as_str())
        .collect();
    to.sort();
    assert_eq!(
        to,
        [
            "wang@hrss.example",
            "wang@hrss.example",
            "zhao@hrss.example",
            "zhao@hrss.example"
        ]
    );
}

async fn a_bad_rating_from_the_tracking_page_is_followed_up(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let clerk = app.token("王芳", Role::Counter).await;
    let leader = app.token("赵局长", Role::DutyLeader).await;
    let (_, case) = app.post_json("/api/v1/cases", &clerk, &walk_in()).await;
    let number = case["number"].as_str().unwrap().to_owned();
    let act = |body: serde_json::Value| {
        let (app, path, token) = (
            &app,
            format!("/api/v1/cases/{number}/actions"),
            clerk.clone(),
        );
        async move { app.post_json(&path, &token, &body).await.0 }
    };
    // The code a printed receipt carries (issued as the receipt print issues it).
    let code = "K7QM3-XPA9D";
    let store = app.store();
    let id = store
        .case_by_number(&number.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    store
        .set_tracking_code(
            id,
            &youmen::domain::website::tracking_digest(code),
            true,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let track = || {
        app.post("/track")
            .form(&[("case", number.as_str()), ("code", code)])
            .send()
    };
    // Not finished yet: no rating form, and no rating.
    let r = track().await.unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("正在办理") || page.contains("等待受理"));
    assert!(!page.contains("您对这次办理满意吗"));
    assert_eq!(
        app.post_json(
            &format!("/api/v1/cases/{number}/rating"),
            &clerk,
            &json!({"level": "satisfied"})
        )
        .await
        .0,
        409
    );
    for body in [
        json!({"action": "accept"}),
        json!({"action": "classify", "cause": "objective"}),
        json!({"action": "resolve", "outcome": "已补办"}),
        json!({"action": "close"}),
    ] {
        assert_eq!(act(body).await, 200);
    }
    let r = track().await.unwrap();
    assert!(
        r.text().await.unwrap().contains("您对这次办理满意吗"),
        "a finished case asks for a rating"
    );
    let r = app
        .post("/track/rate")
        .form(&[
            ("case", number.as_str()),
            ("code", "k7qm3 xpa9d"),
            ("level", "very_dissatisfied"),
            ("comment", "跑了三趟才办成"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("您的评价：<strong>非常不满意</strong>"),
        "{page}"
    );
    // Someone with only the complainant's phone number cannot rate.
    let r = app
        .post("/track/rate")
        .form(&[
            ("case", number.as_str()),
            ("code", "13800138000"),
            ("level", "very_satisfied"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        app.post_json(
            &format!("/api/v1/cases/{number}/rating"),
            &clerk,
            &json!({"level": "satisfied"})
        )
        .await
        .0,
        409,
        "rated once"
    );

    assert_eq!(
        app.get_json("/api/v1/ratings/follow-ups", &clerk).await.0,
        403
    );
    let (status, list) = app.get_json("/api/v1/ratings/follow-ups", &leader).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["case_number"], number);
    assert_eq!(list[0]["source"], "citizen");
    assert!(list[0]["verify_due"]
        .as_str()
        .unwrap()
        .ends_with("17:00:00+08:00"));
    assert!(list[0]["rectify_due"].as_str().unwrap() > list[0]["verify_due"].as_str().unwrap());
    let r = app
        .post(&format!("/api/v1/cases/{number}/rating/follow-up"))
        .bearer_auth(&leader)
        .json(&json!({"outcome": "已约谈经办人，整改到位"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, list) = app.get_json("/api/v1/ratings/follow-ups", &leader).await;
    assert!(list.as_array().unwrap().is_empty());
    let (_, detail) = app
        .get_json(&format!("/api/v1/cases/{number}"), &leader)
        .await;
    let actions: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.ends_with(&["rate", "rating_follow_up"]),
        "{actions:?}"
    );
}

async fn a_staff_side_case_closes_only_after_its_accountability_record(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let clerk = app.token("王芳", Role::Counter).await;
    let leader = app.token("赵局长", Role::DutyLeader).await;
    let (_, case) = app.post_json("/api/v1/cases", &clerk, &walk_in()).await;
    let path = format!("/api/v1/cases/{}/actions", case["number"].as_str().unwrap());
    for body in [
        json!({"action": "accept"}),
        json!({"action": "classify", "cause": "staff_side"}),
        json!({"action": "resolve", "outcome": "科长到窗口当场办结"}),
    ] {
        assert_eq!(app.post_json(&path, &clerk, &body).await.0, 200);
    }
    let (status, body) = app
        .post_json(&path, &clerk, &json!({"action": "close"}))
        .await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "accountability_missing");
    let record = json!({"action": "record_accountability", "accountability_outcome": "criticism_education", "clerk": "养老科 孙某",
        "department_head": "养老科 李科长", "leader_in_charge": "钱副局长",
        "reason": "以系统故障为由拒绝受理", "outcome": "通报批评，扣减当月绩效"});
    assert_eq!(
        app.post_json(&path, &clerk, &record).await.0,
        403,
        "a clerk does not decide accountability"
    );
    assert_eq!(app.post_json(&path, &leader, &record).await.0, 200);
    assert_eq!(
        app.post_json(&path, &clerk, &json!({"action": "close"}))
            .await
            .0,
        200
    );
    // Only leaders read what the record says.
    let number = case["number"].as_str().unwrap();
    let note_as = |token: String| {
        let app = &app;
        async move {
            let (_, detail) = app
                .get_json(&format!("/api/v1/cases/{number}"), &token)
                .await;
            detail["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["action"] == "record_accountability")
                .unwrap()["note"]
                .clone()
        }
    };
    assert!(note_as(leader.clone())
        .await
        .as_str()
        .unwrap()
        .contains("通报批评"));
    assert!(note_as(clerk.clone()).await.is_null());
}

/// A local HTTP receiver standing in for a group robot: it records each post, and answers
/// 503 to the first post on `/flaky`.
pub(crate) async fn receiver() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, Option<String>, String, u16)>>>,
) {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode, Uri};
    type Log = std::sync::Arc<std::sync::Mutex<Vec<(String, Option<String>, String, u16)>>>;
    let log: Log = Default::default();
    let seen = log.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let seen = seen.clone();
        async move {
            let mut seen = seen.lock().unwrap();
            let path = uri.path().to_owned();
            let first = !seen.iter().any(|(p, ..)| *p == path);
            let status = if path == "/flaky" && first { 503 } else { 200 };
            // "<timestamp>|<signature>"
            let signature = headers.get("x-youmen-signature").map(|v| {
                let ts = headers["x-youmen-timestamp"].to_str().unwrap();
                format!("{ts}|{}", v.to_str().unwrap())
            });
            seen.push((
                path,
                signature,
                String::from_utf8_lossy(&body).into_owned(),
                status,
            ));
            StatusCode::from_u16(status).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, log)
}

async fn alarms_reach_a_wecom_robot_and_a_signed_json_hook(backend: Backend) {
    use hmac::{Hmac, Mac};
    let (base, log) = receiver().await;
    let receiver_log = log.clone();
    let hooks = vec![
        youmen::config::WebhookSettings {
            name: "ops".into(),
            url: format!("{base}/flaky"),
            format: "json".into(),
            secret: "s3cret-of-16-bytes".into(),
            allow_http: true,
            topics: vec![DEADLINE_TOPIC.into()],
        },
        youmen::config::WebhookSettings {
            name: "duty-group".into(),
            url: format!("{base}/wecom?key=abc"),
            format: "wecom".into(),
            secret: String::new(),
            allow_http: true,
            topics: vec![
                DEADLINE_TOPIC.into(),
                Topic::AwaitingDecision.as_str().into(),
            ],
        },
    ];
    let configured = hooks.clone();
    let app = TestApp::spawn_with(backend, move |s| {
        s.webhooks = configured;
        // The instance's own scanner stays out of the way: this test scans by hand.
        s.oversight.scan_seconds = 3600;
        s.mail.retry_base_seconds = 1;
        s.mail.poll_seconds = 1;
    })
    .await;
    let clerk = app.token("王芳", Role::Counter).await;
    // Received weeks ago: overdue now.
    let mut old = walk_in();
    old["received_at"] = json!("2026-11-02T10:00:00+08:00");
    let (_, case) = app.post_json("/api/v1/cases", &clerk, &old).await;
    let number = case["number"].as_str().unwrap().to_owned();
    let deadline = chrono::DateTime::parse_from_rfc3339(case["deadline"].as_str().unwrap())
        .unwrap()
        .to_utc();
    let settings = youmen::config::Settings::load(None).unwrap();
    let scanner = DeadlineScanner::new(
        app.store(),
        app.state().calendar.clone(),
        settings.oversight,
        false,
    )
    .with_webhooks(&hooks);
    assert!(deadline < chrono::Utc::now());
    let result = scanner.scan(chrono::Utc::now()).await.unwrap();
    assert_eq!(
        result.notifications, 2,
        "no mail configured: the two hooks only"
    );
    app.wake_outbox();

    let deadline_wait = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let delivered = log
            .lock()
            .unwrap()
            .iter()
            .filter(|(.., status)| *status == 200)
            .count();
        if delivered == 2 {
            break;
        }
        if std::time::Instant::now() > deadline_wait {
            let rows = app.store().outbox_list(None, 10).await.unwrap();
            panic!("{:?} {rows:?}", log.lock().unwrap());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log.iter().filter(|(p, ..)| p == "/flaky").count(),
        2,
        "retried once after the 503, then done"
    );
    assert_eq!(
        log.iter().filter(|(p, ..)| p == "/wecom").count(),
        1,
        "delivered exactly once"
    );
    let (_, signature, body, _) = log
        .iter()
        .find(|(p, .., s)| p == "/flaky" && *s == 200)
        .unwrap();
    let (timestamp, signature) = signature.as_deref().unwrap().split_once('|').unwrap();
    let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap();
    assert!((0..120).contains(&age), "a fresh timestamp: {timestamp}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret-of-16-bytes").unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    assert_eq!(
        signature,
        format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
        "the timestamp and the body are signed together"
    );
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["topic"], DEADLINE_TOPIC);
    let (_, signature, wecom, _) = log.iter().find(|(p, ..)| p == "/wecom").unwrap();
    assert!(signature.is_none());
    let wecom: serde_json::Value = serde_json::from_str(wecom).unwrap();
    assert_eq!(wecom["msgtype"], "text");
    let content = wecom["text"]["content"].as_str().unwrap();
    assert!(
        content.contains("已超期") && content.contains(&number),
        "{content}"
    );

    // An escalation is routed to the duty leader's group at once, with its new owner group.
    let path = format!("/api/v1/cases/{number}/actions");
    let (status, _) = app
        .post_json(
            &path,
            &clerk,
            &json!({"action": "escalate", "reason": "涉及政策瓶颈"}),
        )
        .await;
    assert_eq!(status, 200);
    app.wake_outbox();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let decided = receiver_log.lock().unwrap().iter().any(|(p, _, body, _)| {
            p == "/wecom" && body.contains("升级待决定") && body.contains("服务中心党委")
        });
        if decided {
            break;
        }
        assert!(std::time::Instant::now() < until, "no escalation notice");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn statistics_count_the_period_and_export(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let clerk = app.token("王芳", Role::Hotline).await;
    let leader = app.token("赵局长", Role::DutyLeader).await;
    let mut numbers = Vec::new();
    for _ in 0..3 {
        let (_, c) = app.post_json("/api/v1/cases", &clerk, &walk_in()).await;
        numbers.push(c["number"].as_str().unwrap().to_owned());
    }
    let call = json!({"hotline": "business", "caller_number": "13800138000", "matter": "wages",
                      "summary": "问工资标准", "outcome": "answered", "answer": "已解答"});
    assert_eq!(
        app.post_json("/api/v1/hotline/calls", &clerk, &call)
            .await
            .0,
        201
    );
    let path = format!("/api/v1/cases/{}/actions", numbers[0]);
    for body in [
        json!({"action": "accept"}),
        json!({"action": "classify", "cause": "citizen_side"}),
        json!({"action": "resolve", "outcome": "已办"}),
    ] {
        assert_eq!(app.post_json(&path, &clerk, &body).await.0, 200);
    }
    let today = app
        .state()
        .calendar
        .current()
        .local_date(chrono::Utc::now())
        .to_string();
    let query = format!("from={today}&to={today}");
    assert_eq!(
        app.get_json(&format!("/api/v1/statistics?{query}"), &clerk)
            .await
            .0,
        403
    );
    let (status, stats) = app
        .get_json(&format!("/api/v1/statistics?{query}"), &leader)
        .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["total"], 4);
    assert_eq!(stats["consultations"], 1);
    assert_eq!(
        stats["by_channel"],
        json!([["business_hotline", 1], ["counter", 3]])
    );
    assert_eq!(
        stats["on_time"],
        json!([["simple", 2, 2]]),
        "the consultation and the resolved case, both on time"
    );
    let r = app
        .get(&format!("/api/v1/statistics/export?{query}&format=xlsx"))
        .bearer_auth(&leader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(r.bytes().await.unwrap().to_vec()))
            .unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(sheet.get_value((2, 1)).unwrap().to_string(), "受理案件");
    assert_eq!(sheet.get_value((2, 2)).unwrap().to_string(), "4");
    let r = app
        .get(&format!("/api/v1/statistics/export?{query}"))
        .bearer_auth(&leader)
        .send()
        .await
        .unwrap();
    let csv = r.bytes().await.unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"));
    assert!(String::from_utf8_lossy(&csv).contains("渠道,线下窗口,3"));
}

crate::on_both_backends!(
    statistics_count_the_period_and_export,
    alarms_reach_a_wecom_robot_and_a_signed_json_hook,
    a_staff_side_case_closes_only_after_its_accountability_record,
    a_bad_rating_from_the_tracking_page_is_followed_up,
    the_roster_is_set_imported_and_its_gaps_shown,
    deadlines_remind_then_alarm_the_owner_and_the_duty_leader_once,
);
