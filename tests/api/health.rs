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

/// Every answer, JSON, pages, errors and audio alike, says not to cache it and not to sniff
/// it; `/readyz` names no folder or host to the public.
#[tokio::test]
async fn every_answer_is_uncached_and_unsniffed_and_readyz_names_no_path() {
    let spool = tempfile::tempdir().unwrap();
    let spool_dir = spool.path().join("voicemail");
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.hotline.spool_dir = spool_dir.clone();
        s.mail.smtp_host = "127.0.0.1".into();
        s.mail.smtp_port = crate::smtp::free_port();
    })
    .await;
    let token = app.token("王芳", youmen::domain::Role::Counter).await;
    for (path, bearer) in [
        ("/healthz", false),
        ("/readyz", false),
        ("/api/v1/cases", true),
        ("/api/v1/cases", false),
        ("/no/such/page", false),
        ("/message", false),
        ("/api/openapi.json", false),
    ] {
        let mut request = app.get(path);
        if bearer {
            request = request.bearer_auth(&token);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
    }
    let r = app.get("/readyz").send().await.unwrap();
    let text = r.text().await.unwrap();
    assert!(
        text.contains("voicemail_spool") && text.contains("smtp"),
        "{text}"
    );
    for secret in [
        spool.path().display().to_string(),
        app.data_dir().display().to_string(),
        "127.0.0.1".to_owned(),
    ] {
        assert!(!text.contains(&secret), "/readyz shows {secret}: {text}");
    }
}

/// A client that sends its headers slowly is cut off; a request whose body dribbles in past
/// the request deadline gets 408; and beyond the concurrency limit requests wait their turn.
#[tokio::test]
async fn slow_clients_are_cut_off_and_requests_wait_beyond_the_limit() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.server.header_read_timeout_seconds = 1;
        s.server.request_timeout_seconds = 1;
        s.server.max_concurrent_requests = 1;
    })
    .await;
    let host = app.address.trim_start_matches("http://").to_owned();

    // Headers never finished: the connection is closed within the deadline.
    let mut slow = tokio::net::TcpStream::connect(&host).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        slow.read_to_end(&mut buf),
    )
    .await;
    assert!(read.is_ok(), "the server kept the slow connection open");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));

    // A body that dribbles: 408 once the request deadline passes. Meanwhile it holds the one
    // slot, so a probe sent after it waits for it.
    let mut dribble = tokio::net::TcpStream::connect(&host).await.unwrap();
    dribble
        .write_all(
            b"POST /api/v1/website/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let probe = tokio::spawn({
        let url = format!("{}/healthz", app.address);
        async move {
            let r = reqwest::get(url).await.unwrap();
            (r.status().as_u16(), std::time::Instant::now())
        }
    });
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), dribble.read(&mut answer))
        .await
        .expect("an answer within the deadline")
        .unwrap();
    let dribbled_at = std::time::Instant::now();
    let head = String::from_utf8_lossy(&answer[..n]);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    let (status, probed_at) = probe.await.unwrap();
    assert_eq!(status, 200);
    assert!(
        probed_at + std::time::Duration::from_millis(50) >= dribbled_at,
        "the probe waited for the slot"
    );
}
