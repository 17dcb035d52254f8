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
    let output = tokio::process::Command::new("node")
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
