//! Bad input gets a clear 4xx in one shape, in Chinese unless English is asked for.

use serde_json::json;
use youmen::domain::Role;

use crate::helpers::{json, walk_in, Backend, TestApp};

async fn app_and_token() -> (TestApp, String) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.token("王芳", Role::Counter).await;
    (app, token)
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once_in_chinese() {
    let (app, token) = app_and_token().await;
    let body = json!({"channel": "fax", "phone": "abc", "matter": "lottery", "description": " ", "id_card": "110105194912310021"});
    let (status, r) = app.post_json("/api/v1/cases", &token, &body).await;
    assert_eq!(status, 422);
    assert_eq!(r["error"]["code"], "invalid_input");
    assert_eq!(r["error"]["field"], "channel");
    let fields: Vec<&str> = r["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["channel", "phone", "id_card", "matter", "description"]
    );
    assert!(r["error"]["message"]
        .as_str()
        .unwrap()
        .contains("受理渠道无效"));
}

#[tokio::test]
async fn english_is_used_when_the_client_prefers_it() {
    let (app, token) = app_and_token().await;
    let mut body = walk_in();
    body["phone"] = json!("12345678901");
    let request = app
        .post("/api/v1/cases")
        .bearer_auth(&token)
        .header("accept-language", "en-GB,en;q=0.9")
        .json(&body);
    let (status, r) = json(request.send().await.unwrap()).await;
    assert_eq!(status, 422);
    assert_eq!(r["error"]["field"], "phone");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("The phone number is not valid"),
        "{r}"
    );
}

#[tokio::test]
async fn malformed_json_missing_content_type_and_oversized_bodies_are_told_apart() {
    let (app, token) = app_and_token().await;
    let send = |body: String, content_type: Option<&str>| {
        let mut r = app.post("/api/v1/cases").bearer_auth(&token).body(body);
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    let (status, r) = json(
        send("{\"channel\":".into(), Some("application/json"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (400, Some("malformed_json"))
    );
    let (status, r) = json(send(walk_in().to_string(), None).await.unwrap()).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let (status, r) = json(
        send("{\"channel\": 5}".into(), Some("application/json"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (422, Some("invalid_json_fields"))
    );
    let mut huge = walk_in();
    huge["description"] = json!("长".repeat(40_000));
    let (status, r) = json(
        send(huge.to_string(), Some("application/json"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    let mut typo = walk_in();
    typo["descripton"] = json!("x");
    let (status, r) = json(
        send(typo.to_string(), Some("application/json"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("descripton"),
        "{r}"
    );
}

#[tokio::test]
async fn a_description_over_the_configured_length_is_refused_with_the_count() {
    let (app, token) = app_and_token().await;
    let mut body = walk_in();
    body["description"] = json!("字".repeat(2001));
    let (status, r) = app.post_json("/api/v1/cases", &token, &body).await;
    assert_eq!(
        (status, r["error"]["field"].as_str()),
        (422, Some("description"))
    );
    assert!(
        r["error"]["message"].as_str().unwrap().contains("2001"),
        "{r}"
    );
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401_and_wrong_roles_403() {
    let (app, token) = app_and_token().await;
    let (status, r) = json(app.get("/api/v1/cases").send().await.unwrap()).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (status, r) = app.get_json("/api/v1/cases", "ym_forged").await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (401, Some("invalid_token"))
    );

    let (_, case) = app.post_json("/api/v1/cases", &token, &walk_in()).await;
    let url = format!("/api/v1/cases/{}/actions", case["number"].as_str().unwrap());
    let (status, r) = app
        .post_json(
            &url,
            &token,
            &json!({"action": "set_tier", "tier": "difficult"}),
        )
        .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
}

#[tokio::test]
async fn unknown_routes_cases_and_bad_parameters_get_the_same_error_shape() {
    let (app, token) = app_and_token().await;
    let (status, r) = json(app.get("/api/v1/nothing-here").send().await.unwrap()).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (404, Some("no_route"))
    );
    let (status, r) = json(
        app.client
            .delete(format!("{}/api/v1/cases", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (status, r) = app.get_json("/api/v1/cases/YM-20261128-9999", &token).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, r) = app.get_json("/api/v1/cases/not-a-number", &token).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (422, Some("invalid_case_number"))
    );
    for (query, field) in [
        ("status=open", "status"),
        ("limit=1000", "limit"),
        ("sort=name", "sort"),
        ("cursor=xyz", "cursor"),
        ("received_from=yesterday", "received_from"),
        ("overdue=maybe", "overdue"),
    ] {
        let (status, r) = app
            .get_json(&format!("/api/v1/cases?{query}"), &token)
            .await;
        assert_eq!(
            (status, r["error"]["field"].as_str()),
            (422, Some(field)),
            "{query}: {r}"
        );
    }
    let (_, case) = app.post_json("/api/v1/cases", &token, &walk_in()).await;
    let url = format!("/api/v1/cases/{}/actions", case["number"].as_str().unwrap());
    for (body, field) in [
        (json!({"action": "fly"}), "action"),
        (json!({"action": "classify"}), "cause"),
        (json!({"action": "classify", "cause": "bad_luck"}), "cause"),
        (json!({"action": "refuse", "reason": "  "}), "reason"),
    ] {
        let (status, r) = app.post_json(&url, &token, &body).await;
        assert_eq!(
            (status, r["error"]["field"].as_str()),
            (422, Some(field)),
            "{body}: {r}"
        );
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let (app, _) = app_and_token().await;
    let response = app.get("/healthz").send().await.unwrap();
    assert!(!response.headers()["x-request-id"].is_empty());
}

#[tokio::test]
async fn a_path_the_framework_rejects_still_gets_the_error_shape() {
    let (app, token) = app_and_token().await;
    let (status, r) = app.get_json("/api/v1/cases/%FF%FE", &token).await;
    assert_eq!(status, 400);
    assert_eq!(r["error"]["code"], "bad_request");
    assert_eq!(r["error"]["field"], "number", "{r}");
}

#[tokio::test]
async fn a_malformed_id_in_the_path_is_named_in_the_answer() {
    let (app, token) = app_and_token().await;
    let r = app
        .get("/api/v1/recordings/null")
        .bearer_auth(&token)
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    let (status, r) = crate::helpers::json(r).await;
    assert_eq!((status, r["error"]["field"].as_str()), (400, Some("id")));
    let message = r["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Invalid path parameter") && message.contains("`id`"),
        "{message}"
    );
}
