//! Probes and the API description.

use crate::helpers::{json, Backend, TestApp};

#[tokio::test]
async fn healthz_and_readyz_report_a_working_service() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, body) = json(app.get("/healthz").send().await.unwrap()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = json(app.get("/readyz").send().await.unwrap()).await;
    assert_eq!(status, 200);
    let checks = body["checks"].as_array().unwrap();
    assert_eq!(checks[0]["name"], "database");
    assert_eq!(checks[0]["ok"], true);
    assert_eq!(checks[1]["name"], "calendar");
}

#[tokio::test]
async fn readyz_reports_a_calendar_gap_without_leaving_service() {
    // Only 2025 is official in this instance's folder and build: point the folder at an
    // empty one and pretend the built-in years end before today's horizon.
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.calendar.dir = std::env::temp_dir().join("youmen-no-calendar-here");
    })
    .await;
    let (status, body) = json(app.get("/readyz").send().await.unwrap()).await;
    assert_eq!(status, 200);
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let horizon = today + chrono::Days::new(30);
    use chrono::Datelike;
    let calendar_ok = horizon.year() <= 2026;
    assert_eq!(body["checks"][1]["ok"], calendar_ok, "{body}");
    assert_eq!(
        body["status"],
        if calendar_ok { "ready" } else { "degraded" }
    );
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_describes_the_case_routes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, doc) = json(app.get("/api/openapi.json").send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/cases",
        "/api/v1/cases/{number}",
        "/api/v1/cases/{number}/actions",
        "/readyz",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

#[tokio::test]
async fn metrics_count_requests_and_report_the_queue_without_personal_data() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.token("counter", youmen::domain::Role::Counter).await;
    let mut body = crate::helpers::walk_in();
    body["phone"] = serde_json::json!("13912345678");
    let (status, _) = app.post_json("/api/v1/cases", &token, &body).await;
    assert_eq!(status, 201);
    // A method a client makes up is counted, but adds no label of its own.
    let invented = reqwest::Method::from_bytes(b"FROBNICATE").unwrap();
    let r = reqwest::Client::new()
        .request(invented, format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    let r = app.get("/metrics").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("youmen_http_requests_total")
                && l.contains("route=\"/api/v1/cases\"")
                && l.contains("status=\"201\"")),
        "{text}"
    );
    assert!(text.contains("youmen_http_request_duration_seconds_bucket"));
    assert!(
        !text.contains("FROBNICATE") && text.contains("method=\"OTHER\""),
        "{text}"
    );
    assert!(
        text.contains("youmen_open_cases{status=\"new\",tier=\"simple\"} 1"),
        "{text}"
    );
    assert!(text.contains("youmen_overdue_cases 0"));
    assert!(text.contains("youmen_outbox_pending 0"));
    assert!(
        !text.contains("13912345678") && !text.contains("张三"),
        "no personal data in metrics"
    );
}

#[tokio::test]
async fn readyz_names_an_unreachable_mail_server_and_an_unreadable_spool() {
    let port = crate::smtp::free_port();
    let app = TestApp::spawn_with(Backend::Sqlite, move |s| {
        s.mail.smtp_host = "127.0.0.1".into();
        s.mail.smtp_port = port;
        s.hotline.spool_dir = "/nonexistent/voicemail".into();
    })
    .await;
    let (status, body) = json(app.get("/readyz").send().await.unwrap()).await;
    assert_eq!(status, 200, "degraded, still serving: {body}");
    assert_eq!(body["status"], "degraded");
    let check = |name: &str| {
        body["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {body}"))
            .clone()
    };
    assert_eq!(check("audio_folder")["ok"], true);
    assert_eq!(check("voicemail_spool")["ok"], false);
    assert_eq!(check("smtp")["ok"], false);
    assert!(check("smtp")["detail"]
        .as_str()
        .unwrap()
        .contains("mail waits in the outbox"));
}
