//! `GET /api/v1/calendar/open`, which the PBX's dialplan asks through `CURL()`: the official
//! calendar's make-up working days, holidays and lunch break; text for a dialplan; bad input
//! named. Public, on both backends.

use serde_json::Value;

use crate::helpers::{Backend, TestApp};

async fn get(app: &TestApp, query: &str) -> (u16, String, String) {
    let r = app
        .get(&format!("/api/v1/calendar/open?{query}"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, r.text().await.unwrap())
}

async fn the_pbx_asks_whether_the_window_is_open(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let json = |body: &str| serde_json::from_str::<Value>(body).unwrap();
    // Saturday 2026-02-14: a make-up working day.
    let (status, _, body) = get(&app, "at=2026-02-14T10:00:00%2B08:00").await;
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(
        (v["open"].as_bool(), v["official"].as_bool()),
        (Some(true), Some(true))
    );
    // National Day: closed until the 8th.
    let v = json(&get(&app, "at=2026-10-01T10:00:00%2B08:00").await.2);
    assert_eq!(v["open"], false);
    assert_eq!(v["next_opening"], "2026-10-08T08:30:00+08:00");
    // The lunch break of a working day.
    let v = json(&get(&app, "at=2026-12-07T12:30:00%2B08:00").await.2);
    assert_eq!(v["open"], false);
    assert_eq!(v["next_opening"], "2026-12-07T13:00:00+08:00");
    // For a dialplan: one word.
    let (status, kind, body) = get(&app, "at=2026-12-07T09:00:00%2B08:00&format=text").await;
    assert_eq!((status, body.as_str()), (200, "open"));
    assert!(kind.starts_with("text/plain"), "{kind}");
    assert_eq!(
        get(&app, "at=2026-12-05T09:00:00%2B08:00&format=text")
            .await
            .2,
        "closed"
    );
    // A year with no official calendar yet says so.
    let v = json(&get(&app, "at=2027-03-01T10:00:00%2B08:00").await.2);
    assert_eq!(v["official"], false);
    // Bad input is named.
    for (query, field) in [("at=yesterday", "at"), ("format=xml", "format")] {
        let (status, _, body) = get(&app, query).await;
        assert_eq!(status, 422, "{query}");
        assert_eq!(json(&body)["error"]["field"], field, "{body}");
    }
    // Now, by default.
    assert_eq!(get(&app, "").await.0, 200);
}

crate::on_both_backends!(the_pbx_asks_whether_the_window_is_open);
