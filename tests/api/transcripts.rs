//! Voicemail transcripts from a real recognizer on premises: `tests/transcribe/server.py`
//! serves the OpenAI-style transcription API over PocketSphinx (PyPI `pocketsphinx`, its
//! bundled US English model), and the speech is synthesized by espeak-ng, then cut to 8 kHz
//! telephone audio. PocketSphinx hears it poorly, so these tests check that whatever it
//! heard reaches the case page, the callback list, the morning mail and search, not that it
//! heard right. Also: a recognizer down and then back (each recording sent once, two
//! instances on PostgreSQL), and a misbehaving one (every failure a recorded reason).

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;
use youmen::domain::Role;
use youmen::storage::transcripts::TranscriptRecord;

use crate::helpers::{in_ci, Backend, TestApp};

#[path = "../transcribe/support.rs"]
mod support;
use crate::smtp::{free_port, SmtpServer};
use crate::staff::Browser;
use support::{python, speech};

/// What is missing to run these tests, if anything.
fn missing() -> Option<String> {
    if !python().exists() {
        return Some(format!(
            "no PocketSphinx Python at {} (python3 -m venv …; pip install pocketsphinx)",
            python().display()
        ));
    }
    if std::process::Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_err()
    {
        return Some("no espeak-ng (apt-get install espeak-ng)".into());
    }
    None
}

/// Skips with the reason, or fails in CI.
fn can_run(test: &str) -> bool {
    match missing() {
        Some(reason) => {
            assert!(
                !in_ci(),
                "the transcript tests are required in CI: {reason}"
            );
            eprintln!("skipping {test}: {reason}");
            false
        }
        None => true,
    }
}

pub struct Recognizer {
    port: u16,
    _child: tokio::process::Child,
}

impl Recognizer {
    async fn start_on(port: u16) -> Recognizer {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/transcribe/server.py");
        let mut child = tokio::process::Command::new(python())
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the recognizer starts");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the recognizer loads its model within a minute")
            .unwrap();
        assert_eq!(ready.as_deref(), Some("ready"));
        Recognizer {
            port,
            _child: child,
        }
    }

    fn url(port: u16) -> String {
        format!("http://127.0.0.1:{port}/v1/audio/transcriptions")
    }

    async fn mode(&self, mode: &str) {
        let r = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/mode", self.port))
            .json(&json!({"mode": mode}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// Transcripts it answered, requests it received.
    async fn counts(&self) -> (u64, u64) {
        let v: Value = reqwest::get(format!("http://127.0.0.1:{}/requests", self.port))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            v["answered"].as_u64().unwrap(),
            v["received"].as_u64().unwrap(),
        )
    }
}

async fn push(
    app: &TestApp,
    pbx: &str,
    caller: &str,
    at: &str,
    audio: Vec<u8>,
    id: &str,
) -> String {
    crate::hotline::push_voicemail(app, pbx, ("complaint", caller, at), audio, id).await
}

async fn case_id(app: &TestApp, number: &str) -> i64 {
    app.raw_count(&format!("select id from cases where number = '{number}'"))
        .await
}

/// The case's transcripts once none is pending (within `within`).
async fn settled(app: &TestApp, number: &str, within: Duration) -> Vec<TranscriptRecord> {
    let id = case_id(app, number).await;
    let deadline = std::time::Instant::now() + within;
    loop {
        let t = app.store().transcripts_of_case(id).await.unwrap();
        if !t.is_empty() && t.iter().all(|t| t.status != "pending") {
            return t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still pending after {within:?}: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn a_voicemail_is_read_before_it_is_called_back(backend: Backend) {
    if !can_run("the transcript journey") {
        return;
    }
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let port = free_port();
    let recognizer = Recognizer::start_on(port).await;
    let app = TestApp::spawn_with(backend, |s| {
        s.hotline.transcription.url = Recognizer::url(port);
        s.hotline.transcription.model = "pocketsphinx-en-us".into();
        s.hotline.transcription.language = "en".into();
        s.mail.smtp_host = "127.0.0.1".into();
        s.mail.smtp_port = smtp.port;
        s.mail.poll_seconds = 1;
        s.callbacks.morning_shift_email = "zaoban@hrss.example.gov.cn".into();
    })
    .await;
    let pbx = app.token("pbx", Role::Pbx).await;
    let leader = app.token("值班领导", Role::DutyLeader).await;
    let number = push(
        &app,
        &pbx,
        "13500000001",
        "2026-11-26T20:00:00+08:00",
        speech("Hello. I am calling about my pension payment. It did not arrive this month. Please call me back."),
        "vm-speech-1",
    )
    .await;
    // A breath is not sent.
    let short = push(
        &app,
        &pbx,
        "13500000002",
        "2026-11-26T20:10:00+08:00",
        speech("Hi"),
        "vm-speech-2",
    )
    .await;
    let heard = settled(&app, &number, Duration::from_secs(60)).await;
    assert_eq!(heard[0].status, "done", "{heard:?}");
    assert_eq!(heard[0].model.as_deref(), Some("pocketsphinx-en-us"));
    assert_eq!(heard[0].language.as_deref(), Some("en"));
    let text = heard[0].text.clone().unwrap();
    assert!(!text.is_empty(), "PocketSphinx heard some words");
    let skipped = settled(&app, &short, Duration::from_secs(5)).await;
    assert_eq!(skipped[0].status, "skipped");
    assert_eq!(
        recognizer.counts().await,
        (1, 1),
        "only the message was sent"
    );

    // The case page shows it under the player, marked as machine-transcribed; the
    // description is the transcript until a person writes one.
    app.user("li", "李早班", vec![Role::Callback], None).await;
    let mut li = Browser::new(&app);
    li.sign_in("li", crate::helpers::PASSWORD).await;
    let page = li.get(&format!("/staff/cases/{number}")).await.1;
    assert!(page.contains("机器转写") && page.contains(&text), "{page}");
    let (_, case) = app
        .get_json(&format!("/api/v1/cases/{number}"), &leader)
        .await;
    let description = case["description"].as_str().unwrap();
    assert!(
        description.starts_with("电话留言（机器转写") && description.contains(&text),
        "{description}"
    );

    // Search finds the case by a word the recognizer heard.
    let word = text
        .split_whitespace()
        .max_by_key(|w| w.len())
        .unwrap()
        .to_owned();
    let mut found = Value::Null;
    for _ in 0..50 {
        found = app
            .get_json(&format!("/api/v1/cases?q={word}"), &leader)
            .await
            .1;
        if found.to_string().contains(&number) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(found.to_string().contains(&number), "{word}: {found}");

    // A person's own summary replaces the machine's; search still finds what was said.
    let (status, body) = app
        .post_json(
            &format!("/api/v1/cases/{number}/correction"),
            &leader,
            &json!({"description": "陈女士询问本月养老金未到账", "reason": "听录音后整理"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut again = Value::Null;
    for _ in 0..50 {
        again = app
            .get_json(&format!("/api/v1/cases?q={word}"), &leader)
            .await
            .1;
        if again.to_string().contains(&number) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(again.to_string().contains(&number), "{word}: {again}");
    let (_, case) = app
        .get_json(&format!("/api/v1/cases/{number}"), &leader)
        .await;
    assert_eq!(case["description"], "陈女士询问本月养老金未到账");

    // The callback list shows the first line beside the recording, and the morning mail
    // carries it in the list it attaches.
    let admin = app.token("admin", Role::Admin).await;
    crate::callbacks::generate(&app, &admin, "2026-11-27").await;
    let day = crate::callbacks::list(&app, &leader, "2026-11-27").await;
    let entry = day["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["phone"] == "+8613500000001")
        .unwrap();
    let first = text.lines().next().unwrap();
    assert_eq!(entry["recordings"][0]["transcript"], first, "{entry}");
    let list_page = li.get("/staff/callbacks?date=2026-11-27").await.1;
    assert!(list_page.contains(first), "the list page shows it");
    let mails = smtp.wait_for(1, Duration::from_secs(20)).await;
    let message = mail_parser::MessageParser::default()
        .parse(&mails[0])
        .unwrap();
    let attachment = message.attachments().next().expect("the list attached");
    let csv = String::from_utf8_lossy(attachment.contents()).into_owned();
    assert!(csv.contains("机器转写") && csv.contains(first), "{csv}");

    // Retention purges the recording: its transcript goes with it, from the page and from
    // search.
    let recording = entry["recordings"][0]["id"].as_i64().unwrap();
    assert!(app
        .store()
        .mark_recording_purged(recording, "retention".into(), chrono::Utc::now())
        .await
        .unwrap());
    let gone = app
        .store()
        .transcripts_of_case(case_id(&app, &number).await)
        .await
        .unwrap();
    assert_eq!(gone[0].text, None, "{gone:?}");
    assert!(!li
        .get(&format!("/staff/cases/{number}"))
        .await
        .1
        .contains(&text));
    let mut still = Value::Null;
    for _ in 0..50 {
        still = app
            .get_json(&format!("/api/v1/cases?q={word}"), &leader)
            .await
            .1;
        if !still.to_string().contains(&number) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!still.to_string().contains(&number), "{word}: {still}");
}

/// Messages taken in while the recognizer is down get their transcripts once it is back,
/// each sent once though two instances share the work.
async fn transcripts_come_once_the_recognizer_is_back(backend: Backend) {
    if !can_run("the recognizer down and back") {
        return;
    }
    let port = free_port();
    let adjust = |s: &mut youmen::config::Settings| {
        s.hotline.transcription.url = Recognizer::url(port);
        s.hotline.transcription.retry_base_seconds = 1;
        s.hotline.transcription.max_attempts = 20;
    };
    let first = TestApp::spawn_with(backend, adjust).await;
    // With PostgreSQL, a second instance on the same database and audio folder.
    let second = match backend {
        Backend::Postgres => {
            let (url, audio) = (first.database_url.clone(), first.data_dir().join("audio"));
            Some(
                TestApp::spawn_with(backend, move |s| {
                    adjust(s);
                    s.database.url = url;
                    s.hotline.audio_dir = audio;
                })
                .await,
            )
        }
        Backend::Sqlite => None,
    };
    let pbx = first.token("pbx", Role::Pbx).await;
    let mut numbers = Vec::new();
    for n in 0..3 {
        numbers.push(
            push(
                &first,
                &pbx,
                &format!("1350000001{n}"),
                "2026-11-26T21:00:00+08:00",
                speech("Please call me back about my unemployment benefit."),
                &format!("vm-down-{n}"),
            )
            .await,
        );
    }
    // Down: each waits, with the reason.
    let id = case_id(&first, &numbers[0]).await;
    let mut waiting = Vec::new();
    for _ in 0..50 {
        waiting = first.store().transcripts_of_case(id).await.unwrap();
        if waiting[0].last_error.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(waiting[0].status, "pending");
    assert!(
        waiting[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("could not be reached"),
        "{waiting:?}"
    );
    // Back.
    let recognizer = Recognizer::start_on(port).await;
    for number in &numbers {
        let t = settled(&first, number, Duration::from_secs(90)).await;
        assert_eq!(t[0].status, "done", "{t:?}");
    }
    assert_eq!(
        recognizer.counts().await.0,
        3,
        "each recording transcribed once"
    );
    drop(second);
}

/// A recognizer that answers nonsense, errors or nothing in time: each a recorded reason,
/// a retry or a give-up; never a stuck queue, never a case without its recording.
async fn a_misbehaving_recognizer_is_recorded_not_believed(backend: Backend) {
    if !can_run("a misbehaving recognizer") {
        return;
    }
    let port = free_port();
    let recognizer = Recognizer::start_on(port).await;
    let app = TestApp::spawn_with(backend, |s| {
        s.hotline.transcription.url = Recognizer::url(port);
        s.hotline.transcription.retry_base_seconds = 1;
        s.hotline.transcription.max_attempts = 2;
        s.hotline.transcription.timeout_seconds = 2;
    })
    .await;
    let pbx = app.token("pbx", Role::Pbx).await;
    let audio = speech("Call me back please.");
    for (n, (mode, reason)) in [
        ("huge", "characters long"),
        ("binary", "binary"),
        (
            "500",
            "gave up after 2 attempts: the recognizer answered HTTP 500",
        ),
        ("notjson", "not JSON"),
        ("notext", "no \"text\""),
        ("401", "HTTP 401"),
        ("slow", "did not answer in time"),
    ]
    .into_iter()
    .enumerate()
    {
        recognizer.mode(mode).await;
        let number = push(
            &app,
            &pbx,
            &format!("1350000002{n}"),
            "2026-11-26T22:00:00+08:00",
            audio.clone(),
            &format!("vm-bad-{n}"),
        )
        .await;
        let t = settled(&app, &number, Duration::from_secs(60)).await;
        assert_eq!(t[0].status, "failed", "{mode}: {t:?}");
        assert!(
            t[0].last_error.as_deref().unwrap().contains(reason),
            "{mode}: {t:?}"
        );
        assert_eq!(t[0].text, None);
        // The case keeps its recording and its own description.
        assert_eq!(
            app.raw_count(&format!(
                "select count(*) from recordings r join cases c on c.id = r.case_id \
                 where c.number = '{number}' and c.description like '电话留言（录音%'"
            ))
            .await,
            1,
            "{mode}"
        );
    }
}

crate::on_both_backends!(
    a_voicemail_is_read_before_it_is_called_back,
    transcripts_come_once_the_recognizer_is_back,
    a_misbehaving_recognizer_is_recorded_not_believed
);
