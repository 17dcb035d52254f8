//! Transcripts are asynchronous: voicemail ingest with transcription on stays within the
//! machine's noise of ingest with it off, and the worker's own throughput against the test
//! recognizer (`tests/transcribe/server.py`: PocketSphinx behind the OpenAI-style API).
//!
//! 1. **Ingest.** 8 clients push `BENCH_MESSAGES` (60) recordings (espeak-ng speech, 8 kHz,
//!    about 8 s each) through `POST /api/v1/hotline/voicemails` on SQLite, alternating rounds
//!    with transcription off (the baseline) and on (the worker sending to the recognizer
//!    meanwhile); messages per second, and the ratio on/off.
//! 2. **The worker.** From the last "on" round, the time until every transcript is stored:
//!    recordings and seconds of audio per second, with `concurrency = 2`.
//!
//! Needs espeak-ng and the recognizer's Python (`YOUMEN_POCKETSPHINX_PYTHON`, default
//! `~/.cache/youmen-pocketsphinx/bin/python`).
//!
//!     cargo bench --bench transcripts
//!     BENCH_MESSAGES=100 BENCH_ROUNDS=2 cargo bench --bench transcripts

#[path = "../tests/transcribe/support.rs"]
mod speech;
mod support;

use std::time::{Duration, Instant};

use speech::{python, speech};
use tokio::io::AsyncBufReadExt;
use youmen::app::Application;
use youmen::config::Settings;
use youmen::domain::Role;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A running app on a fresh SQLite file, with a pbx token.
async fn app(
    url: &str,
    recognizer: Option<u16>,
) -> (String, String, std::sync::Arc<dyn youmen::storage::Store>) {
    let mut settings = Settings::load(None).expect("settings");
    settings.server.port = 0;
    settings.database.url = url.to_owned();
    settings.log.level = "warn".into();
    settings.secrets.key = "bench-only key, at least thirty-two bytes long".into();
    settings.hotline.audio_dir =
        std::env::temp_dir().join(format!("youmen-bench-audio-{}", std::process::id()));
    if let Some(port) = recognizer {
        settings.hotline.transcription.url =
            format!("http://127.0.0.1:{port}/v1/audio/transcriptions");
        settings.hotline.transcription.model = "pocketsphinx-en-us".into();
    }
    let app = Application::build(settings).await.expect("app");
    let store = app.state().store.clone();
    let token = youmen::auth::generate_token();
    store
        .insert_token(
            "pbx",
            Role::Pbx,
            &youmen::auth::hash_token(&token),
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until(std::future::pending()));
    (base, token, store)
}

/// Pushes `n` recordings from 8 clients; messages per second.
async fn push_all(base: &str, token: &str, audio: &[u8], n: usize, round: usize) -> f64 {
    let client = reqwest::Client::new();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, next, base, token, audio) = (
            client.clone(),
            next.clone(),
            base.to_owned(),
            token.to_owned(),
            audio.to_vec(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let form = reqwest::multipart::Form::new()
                    .part(
                        "audio",
                        reqwest::multipart::Part::bytes(audio.clone())
                            .file_name("vm.wav")
                            .mime_str("audio/wav")
                            .unwrap(),
                    )
                    .text("hotline", "complaint")
                    .text("caller", format!("135{:08}", round * 100_000 + i))
                    .text("received_at", "2026-11-26T20:00:00+08:00")
                    .text("external_id", format!("bench-{round}-{i}"));
                let r = client
                    .post(format!("{base}/api/v1/hotline/voicemails"))
                    .bearer_auth(&token)
                    .multipart(form)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let n = env("BENCH_MESSAGES", 60);
    let rounds = env("BENCH_ROUNDS", 3);
    let audio = speech("Hello. I am calling about my pension payment. It did not arrive this month. Please call me back.");
    let seconds = (audio.len() - 44) as f64 / 16000.0;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = tokio::process::Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/transcribe/server.py"
        ))
        .arg(port.to_string())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the recognizer");
    let mut lines = tokio::io::BufReader::new(server.stdout.take().unwrap()).lines();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ready"));
    println!(
        "{} cores; {n} recordings of {seconds:.1} s per round, 8 clients, {rounds} rounds each way, SQLite",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let (mut off, mut on) = (Vec::new(), Vec::new());
    let mut last = None;
    for round in 0..rounds {
        for transcribing in [false, true] {
            let db = support::BenchDatabase::create("sqlite", "transcripts").await;
            let (base, token, store) = app(&db.url, transcribing.then_some(port)).await;
            let started = Instant::now();
            let rate = push_all(&base, &token, &audio, n, round).await;
            match transcribing {
                false => off.push(rate),
                true => {
                    on.push(rate);
                    last = Some((store, started, db));
                }
            }
        }
        // The last "on" round's worker, measured below; the others are left to finish.
        if round + 1 < rounds {
            if let Some((store, _, db)) = last.take() {
                wait_done(&store, n).await;
                db.drop().await;
            }
        }
    }
    let (store, since, db) = last.unwrap();
    // The worker starts with the round's first recording: its throughput is from then until
    // the last transcript is stored (the push itself is far faster).
    let done_at = wait_done(&store, n).await;
    let elapsed = done_at.duration_since(since).as_secs_f64();
    db.drop().await;
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{r:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "ingest, transcription off (baseline): {} messages/s",
        fmt(&off)
    );
    println!(
        "ingest, transcription on:             {} messages/s",
        fmt(&on)
    );
    println!("ratio on/off (means): {:.2}", mean(&on) / mean(&off));
    println!(
        "the worker (concurrency 2), last round: all {n} transcripts stored {elapsed:.1} s after the first push: {:.2} recordings/s, {:.1} s of audio per second",
        n as f64 / elapsed,
        n as f64 * seconds / elapsed
    );
}

/// Waits until no transcription is pending; the moment it saw that.
async fn wait_done(store: &std::sync::Arc<dyn youmen::storage::Store>, n: usize) -> Instant {
    loop {
        let counts = store.transcription_counts().await.unwrap();
        let pending = counts
            .iter()
            .find(|(s, _)| s == "pending")
            .map_or(0, |(_, c)| *c);
        let done = counts
            .iter()
            .find(|(s, _)| s == "done")
            .map_or(0, |(_, c)| *c);
        if pending == 0 && done as usize >= n {
            return Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
