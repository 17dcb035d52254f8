//! The duty leader's decisions over the API, on both backends: a request declined (once), a
//! case given to someone else (an enabled user only), a decision recorded taking a case off
//! "awaiting decision", accountability recorded and the staff-side case closed.

use serde_json::{json, Value};
use youmen::domain::Role;

use crate::helpers::{walk_in, Backend, TestApp};

async fn act(app: &TestApp, token: &str, number: &str, body: Value) -> (u16, Value) {
    app.post_json(&format!("/api/v1/cases/{number}/actions"), token, &body)
        .await
}

async fn a_duty_leader_declines_reassigns_decides_and_closes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    app.user("zhou", "周敏", vec![Role::Counter], None).await;
    app.user("gone", "离职者", vec![Role::Counter], None).await;
    app.store()
        .set_disabled("gone", true, chrono::Utc::now())
        .await
        .unwrap();
    let clerk = app.token("王芳", Role::Counter).await;
    let leader = app.token("赵局长", Role::DutyLeader).await;
    let (_, case) = app.post_json("/api/v1/cases", &clerk, &walk_in()).await;
    let number = case["number"].as_str().unwrap().to_owned();
    assert_eq!(
        act(&app, &clerk, &number, json!({"action": "accept"}))
            .await
            .0,
        200
    );

    // A request declined, with a reason; not twice, and never by a clerk.
    let (status, body) = act(
        &app,
        &leader,
        &number,
        json!({"action": "decline_approval", "reason": "x"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("no_pending_request")),
        "nothing to decline yet: {body}"
    );
    let request = json!({"action": "request_approval", "text": "缺少户口本复印件，申请容缺受理"});
    assert_eq!(act(&app, &clerk, &number, request).await.0, 200);
    assert_eq!(app.store().awaiting_approval().await.unwrap().len(), 1);
    let decline = json!({"action": "decline_approval", "reason": "户口本是要件，不能容缺"});
    assert_eq!(act(&app, &clerk, &number, decline.clone()).await.0, 403);
    let (status, body) = act(
        &app,
        &leader,
        &number,
        json!({"action": "decline_approval", "reason": "  "}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("reason")),
        "{body}"
    );
    let (status, body) = act(&app, &leader, &number, decline.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["event"]["action"], "decline_approval");
    assert!(app.store().awaiting_approval().await.unwrap().is_empty());
    let (status, body) = act(&app, &leader, &number, decline).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("no_pending_request")),
        "{body}"
    );

    // Given to 周敏; not to a disabled or unknown account, and nothing changes then.
    for to in ["gone", "nobody"] {
        let (status, body) = act(
            &app,
            &leader,
            &number,
            json!({"action": "reassign", "to": to, "reason": "王芳休假"}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (422, Some("to")),
            "{body}"
        );
        assert!(body["error"]["message"].as_str().unwrap().contains(to));
    }
    let (status, body) = act(
        &app,
        &leader,
        &number,
        json!({"action": "reassign", "to": "zhou"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("reason")),
        "{body}"
    );
    let (_, unchanged) = app
        .get_json(&format!("/api/v1/cases/{number}"), &leader)
        .await;
    assert_eq!(unchanged["owner"], "王芳");
    let (status, body) = act(
        &app,
        &leader,
        &number,
        json!({"action": "reassign", "to": "zhou", "reason": "王芳休假"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["case"]["owner"], "周敏");
    assert!(body["event"]["note"].as_str().unwrap().contains("王芳休假"));
    let (status, body) = act(
        &app,
        &leader,
        &number,
        json!({"action": "reassign", "to": "zhou", "reason": "again"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("unchanged"))
    );

    // Escalated: awaiting the tier body's decision until it is recorded.
    let escalate = json!({"action": "escalate", "reason": "涉及两个科室"});
    assert_eq!(act(&app, &leader, &number, escalate.clone()).await.0, 200);
    let waiting = app.store().awaiting_decision(100).await.unwrap();
    assert_eq!(waiting.len(), 1);
    let decision = json!({"action": "record_decision", "text": "中心党委会：由养老保险科牵头办理"});
    assert_eq!(act(&app, &leader, &number, decision).await.0, 200);
    assert!(app.store().awaiting_decision(100).await.unwrap().is_empty());
    assert_eq!(act(&app, &leader, &number, escalate).await.0, 200);
    assert_eq!(
        app.store().awaiting_decision(100).await.unwrap().len(),
        1,
        "escalated again: a new decision is awaited"
    );

    // Staff-side: closed only once accountability is recorded.
    for body in [
        json!({"action": "classify", "cause": "staff_side"}),
        json!({"action": "resolve", "outcome": "已补办"}),
    ] {
        assert_eq!(act(&app, &leader, &number, body).await.0, 200);
    }
    let (status, body) = act(&app, &leader, &number, json!({"action": "close"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("accountability_missing"))
    );
    let accountability = json!({"action": "record_accountability", "accountability_outcome": "criticism_education", "clerk": "王芳",
        "department_head": "养老保险科 李科长", "leader_in_charge": "张副局长",
        "reason": "未一次性告知所需材料", "outcome": "约谈提醒"});
    assert_eq!(act(&app, &leader, &number, accountability).await.0, 200);
    let (status, body) = act(&app, &leader, &number, json!({"action": "close"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["case"]["status"], "closed");
}

crate::on_both_backends!(a_duty_leader_declines_reassigns_decides_and_closes);
