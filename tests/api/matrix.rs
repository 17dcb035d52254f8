//! The authorization matrix, every role × every action, written out here by hand and
//! checked against both the domain's rule and the API: a role the table denies gets 403,
//! a role it allows never does.

use serde_json::{json, Value};
use youmen::domain::action::permitted;
use youmen::domain::{ActionKind, Role};

use crate::helpers::{walk_in, Backend, TestApp};

const ROLES: [Role; 6] = [
    Role::Counter,
    Role::Hotline,
    Role::Callback,
    Role::DutyLeader,
    Role::Admin,
    Role::Pbx,
];

/// Which of counter, hotline, callback, duty_leader, admin, pbx may do each action.
fn expected(kind: ActionKind) -> [bool; 6] {
    use ActionKind::*;
    match kind {
        Register | Read | Accept | Classify | Escalate | AddNote | PublishNote | Summon
        | OneTimeNotice | Meeting | RequestApproval | Correct | Refer | RecordHandOff | Resolve
        | Refuse | Close => [true, true, true, true, true, false],
        LogCall => [false, true, false, true, true, false],
        WorkCallbacks => [false, true, true, true, true, false],
        SetTier
        | Reopen
        | ApproveMissingMaterials
        | Oversee
        | RecordDecision
        | DeclineApproval
        | Reassign
        | RecordAccountability => [false, false, false, true, true, false],
        PushVoicemail => [false, false, false, false, true, true],
        PushCallEvents => [false, false, false, false, false, true],
        Administer => [false, false, false, false, true, false],
    }
}

#[test]
fn the_domain_matrix_is_the_table() {
    for kind in ActionKind::ALL {
        let row = expected(kind);
        for (i, role) in ROLES.iter().enumerate() {
            assert_eq!(permitted(*role, kind), row[i], "{role} × {}", kind.code());
        }
    }
}

fn action_body(kind: ActionKind) -> Option<Value> {
    use ActionKind::*;
    Some(match kind {
        Accept => json!({"action": "accept"}),
        Classify => json!({"action": "classify", "cause": "staff_side"}),
        SetTier => json!({"action": "set_tier", "tier": "complex"}),
        Escalate => json!({"action": "escalate", "reason": "r"}),
        AddNote => json!({"action": "add_note", "text": "t"}),
        PublishNote => json!({"action": "publish_note", "text": "t"}),
        Summon => json!({"action": "summon", "who": "w", "text": "t"}),
        OneTimeNotice => json!({"action": "one_time_notice", "text": "t"}),
        ApproveMissingMaterials => json!({"action": "approve_missing_materials", "text": "t"}),
        Meeting => json!({"action": "meeting", "who": "w", "outcome": "o"}),
        RecordDecision => json!({"action": "record_decision", "text": "t"}),
        RequestApproval => json!({"action": "request_approval", "text": "t"}),
        DeclineApproval => json!({"action": "decline_approval", "reason": "r"}),
        Refer => json!({"action": "refer", "department": "pensions", "text": "t"}),
        RecordHandOff => json!({"action": "record_hand_off", "outcome": "o"}),
        Reassign => json!({"action": "reassign", "to": "admin-user", "reason": "r"}),
        RecordAccountability => {
            json!({"action": "record_accountability", "accountability_outcome": "criticism_education", "clerk": "c",
            "department_head": "d", "leader_in_charge": "l", "reason": "r", "outcome": "o"})
        }
        Resolve => json!({"action": "resolve", "outcome": "o"}),
        Refuse => json!({"action": "refuse", "reason": "r"}),
        Close => json!({"action": "close"}),
        Reopen => json!({"action": "reopen", "reason": "r"}),
        _ => return None,
    })
}

async fn status_of(app: &TestApp, token: &str, kind: ActionKind, number: &str) -> u16 {
    use ActionKind::*;
    if let Some(body) = action_body(kind) {
        return app
            .post_json(&format!("/api/v1/cases/{number}/actions"), token, &body)
            .await
            .0;
    }
    match kind {
        Register => app.post_json("/api/v1/cases", token, &walk_in()).await.0,
        LogCall => {
            let body = json!({"hotline": "complaint", "caller_number": "13800138000",
                              "matter": "other", "summary": "s", "outcome": "answered"});
            app.post_json("/api/v1/hotline/calls", token, &body).await.0
        }
        PushVoicemail => {
            // An empty form: anyone allowed gets 422, anyone not allowed 403.
            let form = reqwest::multipart::Form::new().text("hotline", "complaint");
            app.post("/api/v1/hotline/voicemails")
                .bearer_auth(token)
                .multipart(form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
        // The token is the path: a role that may not push is told the route is not there
        // (404, counted here as the refusal); one that may gets 422 for the empty event.
        PushCallEvents => {
            let status = app
                .post_json(&format!("/api/v1/cti/{token}"), "", &json!({"callId": "m"}))
                .await
                .0;
            match status {
                404 => 403,
                other => other,
            }
        }
        Read => app.get_json("/api/v1/cases", token).await.0,
        // A bad number: anyone allowed gets 422, anyone not allowed 403; nothing changes.
        Correct => {
            let body = json!({"phone": "12", "reason": "r"});
            app.post_json(&format!("/api/v1/cases/{number}/correction"), token, &body)
                .await
                .0
        }
        Oversee => app.get_json("/api/v1/outbox", token).await.0,
        WorkCallbacks => {
            app.get_json("/api/v1/callbacks?date=2026-11-30", token)
                .await
                .0
        }
        _ => unreachable!("{}", kind.code()),
    }
}

async fn every_role_times_every_action_over_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin", Role::Admin).await;
    let (_, case) = app.post_json("/api/v1/cases", &admin, &walk_in()).await;
    let number = case["number"].as_str().unwrap().to_owned();
    for (i, role) in ROLES.iter().enumerate() {
        let token = app.token(&format!("{role}-user"), *role).await;
        // Administration is in the pages only (tried for every role in `staff.rs`).
        for kind in ActionKind::ALL
            .into_iter()
            .filter(|k| *k != ActionKind::Administer)
        {
            let status = status_of(&app, &token, kind, &number).await;
            match expected(kind)[i] {
                true => assert_ne!(status, 403, "{role} may {}", kind.code()),
                false => assert_eq!(status, 403, "{role} may not {}", kind.code()),
            }
        }
    }
}

crate::on_both_backends!(every_role_times_every_action_over_the_api);
