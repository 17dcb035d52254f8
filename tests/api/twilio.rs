//! Twilio-style recording callbacks: signed requests, and recordings fetched by the durable
//! job from a real local media server that fails before it serves.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::Value;
use youmen::channels::hotline::twilio::signature;
use youmen::domain::Role;

use crate::helpers::{Backend, TestApp};

const TOKEN: &str = "12345";

fn wav(seconds: f64) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for i in 0..(seconds * 8000.0) as u32 {
        w.write_sample((12000.0 * (f64::from(i) * 0.2).sin()) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}

/// A media server that answers 503 `failures` times, then serves the WAV.
async fn media_server(failures: usize) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let audio = Arc::new(wav(2.0));
    let app = axum::Router::new()
        .route(
            "/Recordings/{file}",
            axum::routing::get(
                |State((hits, audio, failures)): State<(Arc<AtomicUsize>, Arc<Vec<u8>>, usize)>,
                 Path(_file): Path<String>| async move {
                    let n = hits.fetch_add(1, Ordering::SeqCst);
                    if n < failures {
                        StatusCode::SERVICE_UNAVAILABLE.into_response()
                    } else {
                        ([("content-type", "audio/wav")], audio.as_ref().clone()).into_response()
                    }
                },
            ),
        )
        .with_state((hits.clone(), audio, failures));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, hits)
}

async fn twilio_app(max_attempts: u32) -> TestApp {
    twilio_app_on(Backend::Sqlite, max_attempts).await
}

async fn twilio_app_on(backend: Backend, max_attempts: u32) -> TestApp {
    TestApp::spawn_with(backend, |s| {
        s.hotline.twilio.auth_token = TOKEN.into();
        s.hotline.twilio.retry_base_seconds = 0;
        s.hotline.twilio.max_attempts = max_attempts;
        // The local media server stands in for the provider's.
        s.hotline.twilio.media_hosts = vec!["127.0.0.1".into()];
        s.hotline.twilio.allow_http_media = true;
    })
    .await
}

fn params(sid: &str, media: &str, status: &str) -> Vec<(String, String)> {
    [
        ("RecordingSid", sid.to_owned()),
        ("RecordingUrl", format!("{media}/Recordings/{sid}")),
        ("RecordingStatus", status.to_owned()),
        ("RecordingDuration", "7".to_owned()),
        ("CallSid", format!("CA-{sid}")),
        ("From", "+8613800138000".to_owned()),
        ("To", "+864156912333".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

async fn callback(app: &TestApp, params: &[(String, String)], sign_with: &str) -> u16 {
    let url = format!("{}/api/v1/hotline/recording-callback", app.address);
    let sig = signature(sign_with, &url, params);
    app.client
        .post(&url)
        .header("x-twilio-signature", sig)
        .form(params)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn wait_for_cases(app: &TestApp, token: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let (_, page) = app.get_json("/api/v1/cases?sort=received", token).await;
        let cases = page["cases"].as_array().unwrap().clone();
        if cases.len() >= n {
            return cases;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} cases after 10 s");
}

/// Waits until `n` missed calls (calls without a recording: callback entries, not cases)
/// are taken in.
async fn wait_for_missed_calls(app: &TestApp, n: i64) {
    for _ in 0..100 {
        if app.raw_count("select count(*) from missed_calls").await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} missed calls after 10 s");
}

async fn a_signed_callback_fetches_the_recording_through_a_media_outage(backend: Backend) {
    let (media, hits) = media_server(2).await;
    let app = twilio_app_on(backend, 8).await;
    let staff = app.token("早班", Role::Callback).await;
    assert_eq!(
        callback(&app, &params("RE1", &media, "completed"), TOKEN).await,
        200
    );
    let cases = wait_for_cases(&app, &staff, 1).await;
    let number = cases[0]["number"].as_str().unwrap();
    let (_, case) = app
        .get_json(&format!("/api/v1/cases/{number}"), &staff)
        .await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3,
        "two failures, then the download"
    );
    assert_eq!(
        case["channel"], "business_hotline",
        "the To number picks the hotline"
    );
    assert_eq!(case["citizen"]["phone"], "+8613800138000");
    assert_eq!(case["recordings"][0]["source"], "twilio");
    assert_eq!(case["recordings"][0]["duration_ms"], 2000);

    // The provider retries its callback: the job is not queued again, nothing new.
    assert_eq!(
        callback(&app, &params("RE1", &media, "completed"), TOKEN).await,
        200
    );
    let (_, page) = app.get_json("/api/v1/cases", &staff).await;
    assert_eq!(page["cases"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_bad_or_missing_signature_is_refused() {
    let (media, hits) = media_server(0).await;
    let app = twilio_app(8).await;
    assert_eq!(
        callback(&app, &params("RE1", &media, "completed"), "wrong-token").await,
        403
    );
    let url = format!("{}/api/v1/hotline/recording-callback", app.address);
    let unsigned = app
        .client
        .post(&url)
        .form(&params("RE1", &media, "completed"))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn without_an_auth_token_the_callback_route_is_not_there() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let r = app
        .post("/api/v1/hotline/recording-callback")
        .form(&[("RecordingSid", "RE1")])
        .send()
        .await
        .unwrap();
    let (status, body) = crate::helpers::json(r).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_configured"))
    );
}

#[tokio::test]
async fn an_absent_recording_is_a_missed_call_to_return() {
    let (media, _) = media_server(0).await;
    let app = twilio_app(8).await;
    let staff = app.token("早班", Role::Callback).await;
    assert_eq!(
        callback(&app, &params("RE2", &media, "absent"), TOKEN).await,
        200
    );
    wait_for_missed_calls(&app, 1).await;
    let (_, cases) = app.get_json("/api/v1/cases", &staff).await;
    assert!(
        cases["cases"].as_array().unwrap().is_empty(),
        "a missed call is no case"
    );
}

#[tokio::test]
async fn when_the_media_never_comes_the_call_is_kept_as_a_missed_call() {
    let (media, hits) = media_server(usize::MAX).await;
    let app = twilio_app(3).await;
    assert_eq!(
        callback(&app, &params("RE3", &media, "completed"), TOKEN).await,
        200
    );
    wait_for_missed_calls(&app, 1).await;
    assert_eq!(hits.load(Ordering::SeqCst), 3, "exactly max_attempts tries");
}

#[tokio::test]
async fn the_time_of_the_call_comes_from_the_recording_start_not_the_callback() {
    let (media, _) = media_server(0).await;
    let app = twilio_app(8).await;
    let staff = app.token("早班", Role::Callback).await;
    let mut absent = params("RE4", &media, "absent");
    // The call was at 22:15 Beijing time on a Friday before a make-up Saturday.
    absent.push((
        "RecordingStartTime".into(),
        "Fri, 08 May 2026 14:15:00 +0000".into(),
    ));
    assert_eq!(callback(&app, &absent, TOKEN).await, 200);
    wait_for_missed_calls(&app, 1).await;
    let (status, list) = app
        .get_json("/api/v1/callbacks?date=2026-05-09", &staff)
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["entries"][0]["first_arrival_at"],
        "2026-05-08T22:15:00+08:00"
    );
    assert_eq!(list["entries"][0]["due_at"], "2026-05-09T08:30:00+08:00");
}

/// A signed callback naming a host outside `media_hosts`, or plain http where that is not
/// allowed, is not fetched (the account's credentials go nowhere else); the caller is still
/// called back.
#[tokio::test]
async fn a_recording_elsewhere_than_the_providers_media_hosts_is_not_fetched() {
    let (media, hits) = media_server(0).await;
    let app = twilio_app(8).await;
    let elsewhere = media.replace("127.0.0.1", "localhost");
    assert_eq!(
        callback(&app, &params("RE5", &elsewhere, "completed"), TOKEN).await,
        200
    );
    wait_for_missed_calls(&app, 1).await;

    let strict = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.hotline.twilio.auth_token = TOKEN.into();
        s.hotline.twilio.media_hosts = vec!["127.0.0.1".into()];
    })
    .await;
    assert_eq!(
        callback(&strict, &params("RE6", &media, "completed"), TOKEN).await,
        200
    );
    wait_for_missed_calls(&strict, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing was fetched");
}

crate::on_both_backends!(a_signed_callback_fetches_the_recording_through_a_media_outage);
