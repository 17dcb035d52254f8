//! Ratings in the pages, on both backends: a clerk records the rating a citizen gave by
//! phone; a bad one alarms the duty leader once per deadline (verify, rectify) until the
//! leader records its follow-up in the case page.

use serde_json::json;
use youmen::domain::Role;
use youmen::oversight::DeadlineScanner;

use crate::helpers::{walk_in, Backend, TestApp, PASSWORD};
use crate::staff::{csrf, Browser};

async fn a_bad_rating_by_phone_alarms_the_leader_until_followed_up_in_the_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    app.user(
        "zhao",
        "赵局长",
        vec![Role::DutyLeader],
        Some("zhao@hrss.example"),
    )
    .await;
    let token = app.token("王芳", Role::Counter).await;
    let (_, case) = app.post_json("/api/v1/cases", &token, &walk_in()).await;
    let number = case["number"].as_str().unwrap().to_owned();
    let page_path = format!("/staff/cases/{number}");
    let mut clerk = Browser::new(&app);
    clerk.sign_in("wang", PASSWORD).await;
    let (_, page, _) = clerk.get(&page_path).await;
    assert!(
        page.contains("办结后可评价"),
        "no rating before the case is finished"
    );
    for body in [
        json!({"action": "accept"}),
        json!({"action": "classify", "cause": "objective"}),
        json!({"action": "resolve", "outcome": "已补办"}),
    ] {
        let path = format!("/api/v1/cases/{number}/actions");
        assert_eq!(app.post_json(&path, &token, &body).await.0, 200);
    }

    // The clerk records what the citizen said on the phone.
    let (_, page, _) = clerk.get(&page_path).await;
    assert!(page.contains("登记群众在电话或窗口给出的评价"));
    let rating = format!("{page_path}/rating");
    let (status, again, _) = clerk
        .post(&rating, &[("csrf", &csrf(&page)), ("level", "grumpy")])
        .await;
    assert_eq!(status, 422);
    assert!(again.contains("评价等级无效"));
    let (status, _, _) = clerk
        .post(
            &rating,
            &[
                ("csrf", &csrf(&page)),
                ("level", "very_dissatisfied"),
                ("comment", "来回跑了三趟"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = clerk.get(&page_path).await;
    assert!(page.contains("非常不满意") && page.contains("差评待核实整改"));
    assert!(
        !page.contains("登记整改情况"),
        "the follow-up is the leader's"
    );
    let (status, _, _) = clerk
        .post(
            &format!("{page_path}/rating/follow-up"),
            &[("csrf", &csrf(&page)), ("outcome", "x")],
        )
        .await;
    assert_eq!(status, 403);

    // Its deadlines alarm the leader on duty, once each.
    let store = app.store();
    let id = store
        .case_by_number(&number.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let r = store.rating_of(id).await.unwrap().unwrap();
    let (verify, rectify) = (r.verify_due.unwrap(), r.rectify_due.unwrap());
    let state = app.state();
    let tz = state.calendar.current().timezone();
    for at in [verify, rectify] {
        store
            .set_duty(
                at.with_timezone(&tz).date_naive(),
                "zhao",
                chrono::Utc::now(),
            )
            .await
            .unwrap();
    }
    let settings = youmen::config::Settings::load(None).unwrap();
    let scanner = DeadlineScanner::new(
        app.store(),
        state.calendar.clone(),
        settings.oversight.clone(),
        true,
    );
    let after_verify = verify + chrono::Duration::minutes(1);
    let first = scanner.scan(after_verify).await.unwrap();
    assert!(first.rating_alarms >= 1, "{first:?}");
    let again = scanner.scan(after_verify).await.unwrap();
    assert_eq!(again.rating_alarms, 0, "once");
    let late = scanner
        .scan(rectify + chrono::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(late.rating_alarms, 1, "the rectify deadline: {late:?}");
    for kind in ["rating_verify_overdue", "rating_rectify_overdue"] {
        let sql = format!("select count(*) from case_alerts where kind = '{kind}'");
        assert_eq!(app.raw_count(&sql).await, 1, "{kind}");
    }
    assert!(
        app.raw_count("select count(*) from outbox where topic = 'deadline_alert'")
            .await
            >= 2,
        "told to the leader"
    );

    // The leader records the follow-up in the page; the alarms stop.
    let mut leader = Browser::new(&app);
    leader.sign_in("zhao", PASSWORD).await;
    let (_, page, _) = leader.get(&page_path).await;
    assert!(page.contains("登记整改情况"));
    let follow_up = format!("{page_path}/rating/follow-up");
    let (status, _, _) = leader
        .post(&follow_up, &[("csrf", &csrf(&page)), ("outcome", " ")])
        .await;
    assert_eq!(status, 422);
    let (status, _, _) = leader
        .post(
            &follow_up,
            &[
                ("csrf", &csrf(&page)),
                ("outcome", "已核实：窗口未一次性告知；已约谈经办人并整改"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = leader.get(&page_path).await;
    assert!(page.contains("已约谈经办人并整改"));
    assert!(store.open_bad_ratings().await.unwrap().is_empty());
    let later = scanner
        .scan(rectify + chrono::Duration::days(2))
        .await
        .unwrap();
    assert_eq!(later.rating_alarms, 0);
}

crate::on_both_backends!(a_bad_rating_by_phone_alarms_the_leader_until_followed_up_in_the_page);
