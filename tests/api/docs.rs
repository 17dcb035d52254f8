//! The documents against the product: every link inside them resolves, and every command and
//! request they show runs.
//!
//! A fenced block whose info string is `sh` is run: the blocks of one document in order, in one
//! `bash` with `set -euo pipefail`, in a fresh folder, with `youmen` on the `PATH` and
//! `youmen serve` listening where the document says `localhost:8080` (a free port here). A
//! block marked `sh covered-by=<test>` (the two first commands, which start the service or the
//! whole suite) is run by the named test instead, which must exist.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown documents: the README and everything under `docs/`.
fn documents() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let mut out = vec![root().join("README.md"), root().join("deploy/README.md")];
    walk(&root().join("docs"), &mut out);
    out.sort();
    out
}

/// The `(info string, code)` of each fenced block.
fn fenced(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for event in Parser::new(text) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                current = Some((info.to_string(), String::new()));
            }
            Event::Text(t) => {
                if let Some((_, code)) = current.as_mut() {
                    code.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => out.extend(current.take()),
            _ => {}
        }
    }
    out
}

#[test]
fn every_link_inside_the_documents_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for event in Parser::new(&text) {
            let dest = match event {
                Event::Start(Tag::Link { dest_url, .. })
                | Event::Start(Tag::Image { dest_url, .. }) => dest_url.to_string(),
                _ => continue,
            };
            if dest.contains("://") || dest.starts_with("mailto:") || dest.starts_with('#') {
                continue;
            }
            let file = dest.split('#').next().unwrap();
            if file.starts_with('/') {
                // A path on the running service (`/staff/queue`), not a file.
                continue;
            }
            checked += 1;
            if !doc.parent().unwrap().join(file).exists() {
                broken.push(format!(
                    "{}: {dest}",
                    doc.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    assert!(checked > 20, "the documents link to each other ({checked})");
    assert!(
        broken.is_empty(),
        "links that lead nowhere:\n{}",
        broken.join("\n")
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test functions of the suite, by name, for `covered-by=`.
fn test_names() -> String {
    let mut all = String::new();
    for dir in ["tests/api", "src"] {
        let mut stack = vec![root().join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    all.push_str(&std::fs::read_to_string(path).unwrap());
                }
            }
        }
    }
    all
}

/// Runs the `sh` blocks of `doc` against a fresh `youmen serve`.
fn run_blocks(doc: &Path) -> usize {
    let text = std::fs::read_to_string(doc).unwrap();
    let names = test_names();
    let mut script = String::from("set -euo pipefail\n");
    let mut blocks = 0;
    for (info, code) in fenced(&text) {
        let mut words = info.split_whitespace();
        if words.next() != Some("sh") {
            continue;
        }
        if let Some(test) = words.find_map(|w| w.strip_prefix("covered-by=")) {
            assert!(
                names.contains(&format!("fn {test}(")),
                "{}: the test {test} that runs a block does not exist",
                doc.display()
            );
            continue;
        }
        blocks += 1;
        script.push_str(&code);
        script.push('\n');
    }
    if blocks == 0 {
        return 0;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let script = script
        .replace("localhost:8080", &format!("127.0.0.1:{port}"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_youmen"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut server = Command::new(&bin)
        .arg("serve")
        .current_dir(dir.path())
        .env("YOUMEN__SERVER__PORT", port.to_string())
        .env("YOUMEN__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = up.then(|| {
        Command::new("timeout")
            .args(["300", "bash", "-c", &script])
            .current_dir(dir.path())
            .env("PATH", &path)
            .output()
            .unwrap()
    });
    let _ = server.kill();
    let _ = server.wait();
    assert!(up, "youmen serve did not come up for {}", doc.display());
    let output = output.unwrap();
    assert!(
        output.status.success(),
        "the commands of {} failed ({}):\n--- script\n{script}\n--- stdout\n{}\n--- stderr\n{}",
        doc.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    blocks
}

#[test]
fn every_command_in_the_readme_the_api_guide_and_the_user_guide_runs() {
    let mut docs = vec![root().join("README.md"), root().join("docs/API.md")];
    let guide = root().join("docs/guide");
    if guide.is_dir() {
        for entry in std::fs::read_dir(guide).unwrap() {
            docs.push(entry.unwrap().path());
        }
    }
    docs.sort();
    let mut ran = 0;
    for doc in docs.iter().filter(|d| d.is_file()) {
        ran += run_blocks(doc);
    }
    assert!(
        ran >= 5,
        "the documents show commands that run ({ran} blocks)"
    );
}

/// Every screenshot the documents show is taken by a browser journey (`shot(page, "name")`),
/// so `YOUMEN_SCREENSHOTS=docs/screenshots` brings them all up to date, and none is left
/// behind unreferenced.
#[test]
fn every_screenshot_is_taken_by_a_browser_journey_and_shown() {
    let mut journeys = String::new();
    for entry in std::fs::read_dir(root().join("tests/browser")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "mjs") {
            journeys.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    let mut shown = std::collections::BTreeSet::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for event in Parser::new(&text) {
            if let Event::Start(Tag::Image { dest_url, .. }) = event {
                if let Some(name) = dest_url
                    .rsplit('/')
                    .next()
                    .and_then(|f| f.strip_suffix(".png"))
                {
                    shown.insert(name.to_owned());
                }
            }
        }
    }
    let untaken: Vec<_> = shown
        .iter()
        .filter(|name| !journeys.contains(&format!("\"{name}\");")))
        .collect();
    assert!(
        untaken.is_empty(),
        "screenshots no journey takes: {untaken:?}"
    );
    let unshown: Vec<_> = std::fs::read_dir(root().join("docs/screenshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| !shown.contains(f.trim_end_matches(".png")))
        .collect();
    assert!(
        unshown.is_empty(),
        "screenshots no document shows: {unshown:?}"
    );
}
