//! The public pages in real headless Chromium: `tests/browser/website.mjs` (playwright-core
//! driving Debian's Chromium, axe-core for accessibility) against a real youmen.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::helpers::{in_ci, Backend, TestApp};

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What is missing to run the browser test, if anything.
fn missing(dir: &Path) -> Option<String> {
    if !chromium().exists() {
        return Some(format!(
            "no Chromium at {} (apt-get install chromium)",
            chromium().display()
        ));
    }
    if !dir.join("node_modules/playwright-core").is_dir()
        || !dir.join("node_modules/axe-core").is_dir()
    {
        return Some("tests/browser has no node_modules (npm ci --prefix tests/browser)".into());
    }
    None
}

#[tokio::test]
async fn a_visitor_in_chromium_sends_and_tracks_a_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if let Some(reason) = missing(&dir) {
        assert!(!in_ci(), "the browser test is required in CI: {reason}");
        eprintln!("skipping the browser test: {reason}");
        return;
    }
    // The real defaults, minimum fill time included: the script waits like a person.
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut command = tokio::process::Command::new("node");
    if let Some(shots) = std::env::var_os("YOUMEN_SCREENSHOTS") {
        command.env("SCREENSHOTS", shots);
    }
    let output = command
        .arg(dir.join("website.mjs"))
        .arg(&app.address)
        .env("CHROMIUM", chromium())
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains("all browser checks passed"),
        "the browser checks failed:\n{stdout}\n{stderr}"
    );
}

#[tokio::test]
async fn staff_work_their_main_paths_in_chromium() {
    use youmen::domain::Role;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if let Some(reason) = missing(&dir) {
        assert!(!in_ci(), "the browser test is required in CI: {reason}");
        eprintln!("skipping the staff browser test: {reason}");
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (username, name, role) in [
        ("wang", "王芳", Role::Counter),
        ("zhou", "周敏", Role::Hotline),
        ("zhao", "赵局长", Role::DutyLeader),
        ("li", "李早班", Role::Callback),
        ("root", "系统管理员", Role::Admin),
    ] {
        app.user(username, name, vec![role], None).await;
    }
    // A voicemail from Thursday night, on Friday's list.
    let pbx = app.token("pbx", Role::Pbx).await;
    let form = reqwest::multipart::Form::new()
        .part(
            "audio",
            reqwest::multipart::Part::bytes(crate::hotline::wav(3.0, 0.5))
                .file_name("vm.wav")
                .mime_str("audio/wav")
                .unwrap(),
        )
        .text("hotline", "complaint")
        .text("caller", "\"陈女士\" <13700137000>")
        .text("received_at", "2026-11-26T20:00:00+08:00")
        .text("external_id", "vm-browser-1");
    let r = app
        .post("/api/v1/hotline/voicemails")
        .bearer_auth(&pbx)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // 孙先生 left a message on each line that night: two cases, one call to make.
    for (n, hotline, at) in [
        (2, "complaint", "2026-11-26T21:00:00+08:00"),
        (3, "business", "2026-11-26T21:10:00+08:00"),
    ] {
        let form = crate::hotline::voicemail_form(
            crate::hotline::wav(2.0, 0.5),
            (hotline, "13900139000", at),
            &format!("vm-browser-{n}"),
        );
        let r = app
            .post("/api/v1/hotline/voicemails")
            .bearer_auth(&pbx)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let admin = app.token("admin", Role::Admin).await;
    let (status, _) = app
        .post_json(
            "/api/v1/callbacks/generate",
            &admin,
            &serde_json::json!({"date": "2026-11-27"}),
        )
        .await;
    assert_eq!(status, 200);

    let mut command = tokio::process::Command::new("node");
    command
        .arg(dir.join("staff.mjs"))
        .arg(&app.address)
        .env("CHROMIUM", chromium())
        .env("PASSWORD", crate::helpers::PASSWORD)
        .env("DATE", "2026-11-27")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(shots) = std::env::var_os("YOUMEN_SCREENSHOTS") {
        command.env("SCREENSHOTS", shots);
    }
    let output = command.output().await.expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains("all staff browser checks passed"),
        "the staff browser checks failed:\n{stdout}\n{stderr}"
    );
}

/// Runs a journey script against `app`; its checks print as they pass, and `passed` is its
/// last line.
async fn journey(dir: &Path, script: &str, app: &TestApp, env: &[(&str, &str)], passed: &str) {
    let mut command = tokio::process::Command::new("node");
    command
        .arg(dir.join(script))
        .arg(&app.address)
        .env("CHROMIUM", chromium())
        .env("PASSWORD", crate::helpers::PASSWORD)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(shots) = std::env::var_os("YOUMEN_SCREENSHOTS") {
        command.env("SCREENSHOTS", shots);
    }
    let output = command.output().await.expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains(passed),
        "{script} failed:\n{stdout}\n{stderr}"
    );
}

#[tokio::test]
async fn a_duty_leader_declines_a_request_reassigns_a_case_records_accountability_and_closes_it() {
    use serde_json::json;
    use youmen::domain::Role;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if let Some(reason) = missing(&dir) {
        assert!(!in_ci(), "the browser test is required in CI: {reason}");
        eprintln!("skipping the leader's browser test: {reason}");
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (username, name, role) in [
        ("wang", "王芳", Role::Counter),
        ("zhou", "周敏", Role::Counter),
        ("zhao", "赵局长", Role::DutyLeader),
    ] {
        app.user(username, name, vec![role], None).await;
    }
    let clerk = app.token("王芳", Role::Counter).await;
    let mut numbers = Vec::new();
    for steps in [
        vec![
            json!({"action": "accept"}),
            json!({"action": "request_approval", "text": "缺少户口本复印件，申请容缺受理"}),
        ],
        vec![
            json!({"action": "accept"}),
            json!({"action": "classify", "cause": "staff_side"}),
            json!({"action": "resolve", "outcome": "已当场补办"}),
        ],
    ] {
        let (_, case) = app
            .post_json("/api/v1/cases", &clerk, &crate::helpers::walk_in())
            .await;
        let number = case["number"].as_str().unwrap().to_owned();
        for step in steps {
            let (status, body) = app
                .post_json(&format!("/api/v1/cases/{number}/actions"), &clerk, &step)
                .await;
            assert_eq!(status, 200, "{body}");
        }
        numbers.push(number);
    }
    // 王芳 listens to a voicemail: the leader will read that on the audit page.
    let pbx = app.token("pbx", Role::Pbx).await;
    let form = crate::hotline::voicemail_form(
        crate::hotline::wav(2.0, 0.5),
        ("complaint", "13700137001", "2026-11-26T20:00:00+08:00"),
        "vm-leader-1",
    );
    let r = app
        .post("/api/v1/hotline/voicemails")
        .bearer_auth(&pbx)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let played = app
        .get("/api/v1/recordings/1")
        .bearer_auth(&clerk)
        .send()
        .await
        .unwrap();
    assert_eq!(played.status(), 200);
    journey(
        &dir,
        "leader.mjs",
        &app,
        &[("REQUESTED", &numbers[0]), ("STAFF_SIDE", &numbers[1])],
        "all leader browser checks passed",
    )
    .await;
}
