//! Correcting what was registered, over the API and the page, on both backends: bad input
//! changes nothing; a corrected phone number moves the callback to the new number.

use serde_json::json;
use youmen::domain::Role;

use crate::callbacks::{generate, list, Night};
use crate::helpers::{Backend, TestApp, PASSWORD};
use crate::staff::{csrf, Browser};

async fn a_mistyped_phone_number_is_corrected_and_the_callback_follows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin", Role::Admin).await;
    let clerk = app.token("王芳", Role::Counter).await;
    let shift = app.token("早班 李", Role::Callback).await;
    let pbx = app.token("pbx", Role::Pbx).await;
    let mut night = Night::new(&app).await;
    // Thursday night: a voicemail from a number one digit off; Friday's list calls it.
    let number = night
        .voicemail(
            "complaint",
            "13900000001",
            "2026-11-26T20:00:00+08:00",
            false,
            0.5,
        )
        .await;
    generate(&app, &admin, "2026-11-27").await;
    let friday = list(&app, &shift, "2026-11-27").await;
    assert_eq!(friday["entries"][0]["phone"], "+8613900000001");
    let path = format!("/api/v1/cases/{number}/correction");

    // Bad input: each field named, nothing changed.
    for (body, field) in [
        (json!({"phone": "13900000002"}), "reason"),
        (json!({"phone": "12", "reason": "r"}), "phone"),
        (
            json!({"id_card": "110105194912310021", "reason": "r"}),
            "id_card",
        ),
        (json!({"matter": "astrology", "reason": "r"}), "matter"),
        (
            json!({"phone": "139 0000 0001", "reason": "r"}),
            "correction",
        ),
    ] {
        let (status, err) = app.post_json(&path, &clerk, &body).await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (422, Some(field)),
            "{body}: {err}"
        );
    }
    assert_eq!(
        app.post_json(&path, &pbx, &json!({"phone": "13900000002", "reason": "r"}))
            .await
            .0,
        403
    );
    let (_, case) = app
        .get_json(&format!("/api/v1/cases/{number}"), &clerk)
        .await;
    assert_eq!(case["citizen"]["phone"], "+8613900000001", "{case}");

    // Corrected: before and after on the timeline, the reason with them.
    let (status, done) = app
        .post_json(
            &path,
            &clerk,
            &json!({"phone": "139-0000-0002", "citizen_name": "陈女士", "reason": "来电人到窗口核实，号码记错一位"}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["case"]["citizen"]["phone"], "+8613900000002");
    assert_eq!(done["event"]["action"], "correct");
    // The timeline keeps no more of a person than it must: masked, as staff read numbers.
    assert_eq!(done["event"]["before"]["phone"], "139 **** 0001");
    assert_eq!(done["event"]["after"]["phone"], "139 **** 0002");
    let note = done["event"]["note"].as_str().unwrap();
    assert!(
        note.contains("号码记错一位") && note.contains("139 **** 0001 → 139 **** 0002"),
        "{note}"
    );

    // The old number's entry is finished (its number was wrong); the next list calls the
    // new number.
    let friday = list(&app, &shift, "2026-11-27").await;
    assert_eq!(friday["entries"][0]["status"], "unreachable", "{friday}");
    generate(&app, &admin, "2026-11-30").await;
    let monday = list(&app, &shift, "2026-11-30").await;
    let entry = monday["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["phone"] == "+8613900000002")
        .unwrap_or_else(|| panic!("the new number on Monday's list: {monday}"));
    assert_eq!(entry["cases"][0]["number"], number);
}

async fn a_number_found_wrong_on_the_call_is_corrected_and_called_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin", Role::Admin).await;
    let clerk = app.token("王芳", Role::Counter).await;
    let shift = app.token("早班 李", Role::Callback).await;
    let mut night = Night::new(&app).await;
    let number = night
        .voicemail(
            "complaint",
            "13900000001",
            "2026-11-26T20:00:00+08:00",
            false,
            0.5,
        )
        .await;
    generate(&app, &admin, "2026-11-27").await;
    let friday = list(&app, &shift, "2026-11-27").await;
    let id = friday["entries"][0]["id"].as_i64().unwrap();
    let (status, body) = app
        .post_json(
            &format!("/api/v1/callbacks/{id}/attempts"),
            &shift,
            &json!({"outcome": "wrong_number", "note": "对方说不认识来电人"}),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("unreachable")),
        "{body}"
    );
    let (status, done) = app
        .post_json(
            &format!("/api/v1/cases/{number}/correction"),
            &clerk,
            &json!({"phone": "13900000002", "reason": "来电人再次来电，核对了号码"}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    generate(&app, &admin, "2026-11-30").await;
    let monday = list(&app, &shift, "2026-11-30").await;
    assert!(
        monday["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["phone"] == "+8613900000002" && e["cases"][0]["number"] == number),
        "called again on the right number: {monday}"
    );
}

async fn a_clerk_corrects_a_name_in_the_page_and_a_refused_correction_keeps_what_was_typed(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    let token = app.token("王芳", Role::Counter).await;
    let (_, case) = app
        .post_json("/api/v1/cases", &token, &crate::helpers::walk_in())
        .await;
    let number = case["number"].as_str().unwrap().to_owned();
    let mut b = Browser::new(&app);
    b.sign_in("wang", PASSWORD).await;
    let (_, page, _) = b.get(&format!("/staff/cases/{number}")).await;
    assert!(page.contains("更正登记信息"));
    let token_field = csrf(&page);
    let path = format!("/staff/cases/{number}/correct");
    // A form filled from an older state of the case is refused, and nothing changes.
    let (status, stale, _) = b
        .post(
            &path,
            &[
                ("csrf", &token_field),
                ("citizen_name", "张大妈"),
                ("reason", "姓名登记错误"),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(status, 409);
    assert!(stale.contains("案件刚被他人修改过"));
    let (status, again, _) = b
        .post(
            &path,
            &[
                ("csrf", &token_field),
                ("citizen_name", "张大妈"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        again.contains("correct-reason-error") && again.contains("value=\"张大妈\""),
        "the error by its field, what was typed kept"
    );
    let (status, _, location) = b
        .post(
            &path,
            &[
                ("csrf", &token_field),
                ("citizen_name", "张大妈"),
                ("reason", "姓名登记错误"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = b.get(location.as_deref().unwrap()).await;
    assert!(page.contains("姓名：张* → 张**") && page.contains("更正登记信息"));
}

crate::on_both_backends!(
    a_mistyped_phone_number_is_corrected_and_the_callback_follows,
    a_number_found_wrong_on_the_call_is_corrected_and_called_again,
    a_clerk_corrects_a_name_in_the_page_and_a_refused_correction_keeps_what_was_typed,
);
