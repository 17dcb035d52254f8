//! The tamper-evident audit trail: edit an event or delete one directly in the database,
//! as someone abusing the window's powers might, and `youmen audit verify` names it.

use serde_json::json;
use youmen::domain::audit::Break;
use youmen::domain::Role;

use crate::helpers::{walk_in, Backend, TestApp, PASSWORD};
use crate::staff::{csrf, entry_id, push, Browser};

fn verify_cli(app: &TestApp) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_youmen"))
        .args(["audit", "verify"])
        .env("YOUMEN__DATABASE__URL", &app.database_url)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

async fn lift_the_append_only_guard(app: &TestApp, backend: Backend) {
    let statements: &[&str] = match backend {
        Backend::Sqlite => &[
            "drop trigger case_events_no_update",
            "drop trigger case_events_no_delete",
        ],
        Backend::Postgres => &["drop trigger case_events_no_change on case_events"],
    };
    for s in statements {
        app.raw_execute(s).await.unwrap();
    }
}

async fn an_edited_or_deleted_event_is_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("王芳", Role::Admin).await;
    let mut numbers = Vec::new();
    for _ in 0..3 {
        let (_, case) = app.post_json("/api/v1/cases", &token, &walk_in()).await;
        numbers.push(case["number"].as_str().unwrap().to_owned());
    }
    for n in &numbers {
        app.post_json(
            &format!("/api/v1/cases/{n}/actions"),
            &token,
            &json!({"action": "accept"}),
        )
        .await;
        app.post_json(
            &format!("/api/v1/cases/{n}/actions"),
            &token,
            &json!({"action": "add_note", "text": "已联系科室"}),
        )
        .await;
    }
    app.get("/api/v1/callbacks/export?date=2026-11-30")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let store = app.store();
    let report = store.verify_chain("case_events").await.unwrap();
    assert_eq!((report.checked, report.broken.clone()), (9, None));
    assert_eq!(
        store.verify_chain("audit_events").await.unwrap().broken,
        None
    );
    let (ok, out) = verify_cli(&app);
    assert!(ok, "{out}");
    assert!(
        out.contains("case timelines: 9 events verified, the chain is intact"),
        "{out}"
    );

    // Someone rewrites what was said on event 5.
    lift_the_append_only_guard(&app, backend).await;
    app.raw_execute("update case_events set note = '没有联系' where id = 5")
        .await
        .unwrap();
    let report = store.verify_chain("case_events").await.unwrap();
    assert_eq!(report.broken, Some(Break::Edited { id: 5 }));
    assert_eq!(report.checked, 4);
    let (ok, out) = verify_cli(&app);
    assert!(!ok, "verify exits non-zero");
    assert!(out.contains("event 5 was edited"), "{out}");

    // Put it back, then delete event 7 instead.
    app.raw_execute("update case_events set note = '已联系科室' where id = 5")
        .await
        .unwrap();
    assert_eq!(
        store.verify_chain("case_events").await.unwrap().broken,
        None
    );
    app.raw_execute("delete from case_events where id = 7")
        .await
        .unwrap();
    assert_eq!(
        store.verify_chain("case_events").await.unwrap().broken,
        Some(Break::Link { id: 8 })
    );
    // And the last one: the head gives it away.
    app.raw_execute("delete from case_events where id >= 7")
        .await
        .unwrap();
    assert_eq!(
        store.verify_chain("case_events").await.unwrap().broken,
        Some(Break::Truncated { after_id: 6 })
    );
}

/// Every event and claim names who is behind it, not only the name shown: an action with a
/// token stores the token's id, one through the pages the signed-in user's; a claim and an
/// attempt on the callback list likewise. The id is in the event's hash: changing it is found.
async fn every_event_and_claim_stores_who_is_behind_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("王芳", Role::Admin).await;
    let pbx = app.token("pbx", Role::Pbx).await;
    let token_id = app
        .raw_count("select id from api_tokens where name = '王芳'")
        .await;
    // A person who shares the token's name: the id tells them apart.
    app.user("wang", "王芳", vec![Role::Counter, Role::Callback], None)
        .await;
    let user_id = app
        .raw_count("select id from users where username = 'wang'")
        .await;
    let by_token = format!("token:{token_id}");
    let by_user = format!("user:{user_id}");
    let count = |sql: String| {
        let app = &app;
        async move { app.raw_count(&sql).await }
    };

    // With the token: registered and accepted.
    let (status, case) = app.post_json("/api/v1/cases", &token, &walk_in()).await;
    assert_eq!(status, 201, "{case}");
    let number = case["number"].as_str().unwrap().to_owned();
    let (status, _) = app
        .post_json(
            &format!("/api/v1/cases/{number}/actions"),
            &token,
            &json!({"action": "accept"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        count(format!(
            "select count(*) from case_events where actor_id = '{by_token}' \
             and action in ('register', 'accept')"
        ))
        .await,
        2
    );

    // Through the pages, signed in: a note on the same case, a claim and an attempt.
    let mut b = Browser::new(&app);
    b.sign_in("wang", PASSWORD).await;
    let (_, page, _) = b.get(&format!("/staff/cases/{number}")).await;
    let (status, _, _) = b
        .post(
            &format!("/staff/cases/{number}/act"),
            &[
                ("csrf", &csrf(&page)),
                ("action", "add_note"),
                ("text", "已联系科室"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let note_event = count(format!(
        "select id from case_events where actor_id = '{by_user}' and action = 'add_note'"
    ))
    .await;
    let voicemail = push(&app, &pbx, "13800000001", "2026-11-26T20:00:00+08:00", "").await;
    app.post_json(
        "/api/v1/callbacks/generate",
        &token,
        &json!({"date": "2026-11-27"}),
    )
    .await;
    let (_, page, _) = b.get("/staff/callbacks?date=2026-11-27").await;
    let entry = entry_id(&page);
    let (status, _, _) = b
        .post(
            &format!("/staff/callbacks/{entry}/claim"),
            &[("csrf", &csrf(&page)), ("date", "2026-11-27")],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        count(format!(
            "select count(*) from callback_entries where id = {entry} \
             and claimed_by = '王芳' and claimed_by_id = '{by_user}'"
        ))
        .await,
        1
    );
    let (status, _, _) = b
        .post(
            &format!("/staff/callbacks/{entry}/attempt"),
            &[
                ("csrf", &csrf(&page)),
                ("date", "2026-11-27"),
                ("outcome", "reached_continues"),
                ("matter", "pensions"),
                ("summary", "养老金认证，约周一来窗口"),
                ("note", "已约周一来窗口"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        count(format!(
            "select count(*) from callback_entries where id = {entry} and claimed_by_id is null"
        ))
        .await,
        1,
        "the attempt releases the claim, its id with it"
    );
    assert_eq!(
        count(format!(
            "select count(*) from callback_attempts where entry_id = {entry} and actor_id = '{by_user}'"
        ))
        .await,
        1
    );
    assert_eq!(
        count(format!(
            "select count(*) from case_events e join cases c on c.id = e.case_id \
             where c.number = '{voicemail}' and e.action = 'callback_attempt' \
             and e.actor_id = '{by_user}'"
        ))
        .await,
        1
    );
    // The system's own work names no one: the voicemail's registration.
    assert_eq!(
        count(format!(
            "select count(*) from case_events e join cases c on c.id = e.case_id \
             where c.number = '{voicemail}' and e.action = 'register' and e.actor_id is null"
        ))
        .await,
        1
    );
    // The audit trail too: the sign-in, and the generation by hand.
    assert_eq!(
        count(format!(
            "select count(*) from audit_events where action = 'sign_in' and actor_id = '{by_user}'"
        ))
        .await,
        1
    );
    assert_eq!(
        count(format!(
            "select count(*) from audit_events where action = 'generate_callbacks' \
             and actor_id = '{by_token}'"
        ))
        .await,
        1
    );

    let store = app.store();
    let report = store.verify_chain("case_events").await.unwrap();
    assert_eq!(report.broken, None);
    assert!(report.checked >= 5, "{report:?}");
    assert_eq!(
        store.verify_chain("audit_events").await.unwrap().broken,
        None
    );

    // The note is made to look like the token's: same name, another id. Found.
    lift_the_append_only_guard(&app, backend).await;
    app.raw_execute(&format!(
        "update case_events set actor_id = '{by_token}' where id = {note_event}"
    ))
    .await
    .unwrap();
    assert_eq!(
        store.verify_chain("case_events").await.unwrap().broken,
        Some(Break::Edited { id: note_event })
    );
    // Nor may the id be dropped.
    app.raw_execute(&format!(
        "update case_events set actor_id = null where id = {note_event}"
    ))
    .await
    .unwrap();
    assert_eq!(
        store.verify_chain("case_events").await.unwrap().broken,
        Some(Break::Edited { id: note_event })
    );
    app.raw_execute(&format!(
        "update case_events set actor_id = '{by_user}' where id = {note_event}"
    ))
    .await
    .unwrap();
    assert_eq!(
        store.verify_chain("case_events").await.unwrap().broken,
        None
    );
    app.raw_execute(&format!(
        "update audit_events set actor_id = '{by_token}' where actor_id = '{by_user}'"
    ))
    .await
    .unwrap();
    assert!(matches!(
        store.verify_chain("audit_events").await.unwrap().broken,
        Some(Break::Edited { .. })
    ));
}

crate::on_both_backends!(
    an_edited_or_deleted_event_is_found,
    every_event_and_claim_stores_who_is_behind_it
);
