//! Real headless Chromium against a real youmen (playwright-core driving Debian's Chromium,
//! axe-core for accessibility): a visitor on the public pages (`tests/browser/website.mjs`),
//! and one journey per person at the window, each a working day's slice through the pages
//! alone: the counter clerk, the operator, the duty leader, the morning shift and the
//! administrator (`tests/browser/{counter,operator,leader,morning,admin}.mjs`).

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

/// The browser's folder, or why the browser tests cannot run here (a failure in CI).
fn browser_dir(who: &str) -> Option<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if let Some(reason) = missing(&dir) {
        assert!(!in_ci(), "the browser test is required in CI: {reason}");
        eprintln!("skipping the {who}'s browser test: {reason}");
        return None;
    }
    Some(dir)
}

/// A youmen on SQLite with the window's people as accounts.
async fn window_staff() -> TestApp {
    use youmen::domain::Role;
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
    app
}

#[tokio::test]
async fn a_counter_clerk_registers_answers_corrects_and_prints_in_chromium() {
    let Some(dir) = browser_dir("counter clerk") else {
        return;
    };
    let app = window_staff().await;
    journey(
        &dir,
        "counter.mjs",
        &app,
        &[],
        "all counter browser checks passed",
    )
    .await;
}

#[tokio::test]
async fn an_operator_sees_the_ringing_caller_and_logs_the_call_in_chromium() {
    let Some(dir) = browser_dir("operator") else {
        return;
    };
    let app = window_staff().await;
    use youmen::domain::Role;
    let pbx = app.token("pbx", Role::Pbx).await;
    let counter = app.token("counter", Role::Counter).await;
    // The caller came to the counter before.
    let mut earlier = crate::helpers::walk_in();
    earlier["phone"] = serde_json::json!("13800138000");
    let (status, case) = app.post_json("/api/v1/cases", &counter, &earlier).await;
    assert_eq!(status, 201, "{case}");
    let number = case["number"].as_str().unwrap().to_owned();
    journey(
        &dir,
        "operator.mjs",
        &app,
        &[("PBX_TOKEN", pbx.as_str()), ("EARLIER", number.as_str())],
        "all operator browser checks passed",
    )
    .await;
    // The case logged from the ringing call keeps the call's times.
    assert_eq!(
        app.raw_count(
            "select count(*) from calls where call_key like '%:pop-1' and case_id is not null \
             and answered_at is not null and ended_at is not null"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn the_morning_shift_works_the_callback_list_in_chromium() {
    use youmen::domain::Role;
    let Some(dir) = browser_dir("morning shift") else {
        return;
    };
    let app = window_staff().await;
    // Thursday night: 陈女士 leaves a message; 孙先生 leaves one on each line.
    let pbx = app.token("pbx", Role::Pbx).await;
    for (n, hotline, caller, at) in [
        (
            1,
            "complaint",
            "\"陈女士\" <13700137000>",
            "2026-11-26T20:00:00+08:00",
        ),
        (2, "complaint", "13900139000", "2026-11-26T21:00:00+08:00"),
        (3, "business", "13900139000", "2026-11-26T21:10:00+08:00"),
    ] {
        let seconds = if n == 1 { 3.0 } else { 2.0 };
        let audio = crate::hotline::wav(seconds, 0.5);
        let id = format!("vm-browser-{n}");
        crate::hotline::push_voicemail(&app, &pbx, (hotline, caller, at), audio, &id).await;
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
    journey(
        &dir,
        "morning.mjs",
        &app,
        &[("DATE", "2026-11-27")],
        "all morning-shift browser checks passed",
    )
    .await;
}

#[tokio::test]
async fn an_administrator_adds_a_colleague_sees_the_calendar_and_revokes_a_token_in_chromium() {
    let Some(dir) = browser_dir("administrator") else {
        return;
    };
    let app = window_staff().await;
    journey(
        &dir,
        "admin.mjs",
        &app,
        &[],
        "all administrator browser checks passed",
    )
    .await;
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
async fn a_duty_leader_decides_reassigns_records_accountability_closes_and_reads_the_trail_in_chromium(
) {
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
    crate::hotline::push_voicemail(
        &app,
        &pbx,
        ("complaint", "13700137001", "2026-11-26T20:00:00+08:00"),
        crate::hotline::wav(2.0, 0.5),
        "vm-leader-1",
    )
    .await;
    let played = app
        .get("/api/v1/recordings/1")
        .bearer_auth(&clerk)
        .send()
        .await
        .unwrap();
    assert_eq!(played.status(), 200);
    // A walk-in whose description is full of markup, to be found by two words.
    let mut walk_in = crate::helpers::walk_in();
    walk_in["description"] = serde_json::json!(
        "<script>window.__xss=1</script>\"><img src=x onerror=\"window.__xss=2\"> 养老金认证三次没办成"
    );
    let (_, case) = app.post_json("/api/v1/cases", &clerk, &walk_in).await;
    let walk_in = case["number"].as_str().unwrap().to_owned();
    journey(
        &dir,
        "leader.mjs",
        &app,
        &[
            ("REQUESTED", &numbers[0]),
            ("STAFF_SIDE", &numbers[1]),
            ("WALK_IN", &walk_in),
        ],
        "all leader browser checks passed",
    )
    .await;
}
