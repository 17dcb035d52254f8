//! The tamper-evident audit trail: edit an event or delete one directly in the database,
//! as someone abusing the window's powers might, and `youmen audit verify` names it.

use serde_json::json;
use youmen::domain::audit::Break;
use youmen::domain::Role;

use crate::helpers::{walk_in, Backend, TestApp};

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

crate::on_both_backends!(an_edited_or_deleted_event_is_found);
