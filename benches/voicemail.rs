//! Voicemail ingest benchmark: 1,000 messages (8 kHz 16-bit PCM, 5 to 60 s) from an
//! Asterisk-style spool on SQLite, against `sha256sum` over the same audio files in the
//! same run (the I/O floor: every byte read once).
//!
//!     cargo bench --bench voicemail
//!     BENCH_MESSAGES=200 cargo bench --bench voicemail

use std::path::{Path, PathBuf};
use std::time::Instant;

use youmen::config::Settings;

fn messages() -> usize {
    std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

/// Speech-like noise: a few tones under a slow envelope plus a little noise.
fn write_wav(path: &Path, seconds: u32, seed: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let mut noise = seed.wrapping_mul(2654435761);
    for i in 0..seconds * 8000 {
        noise = noise.wrapping_mul(1664525).wrapping_add(1013904223);
        let t = i as f32 / 8000.0;
        let envelope = 0.5 + 0.5 * (t * 2.7).sin();
        let v = envelope * (6000.0 * (t * 1884.0).sin() + 3000.0 * (t * 5277.0).sin())
            + ((noise >> 16) as f32 - 32768.0) * 0.02;
        w.write_sample(v as i16).unwrap();
    }
    w.finalize().unwrap();
}

fn build_spool(root: &Path, n: usize) -> Vec<PathBuf> {
    let mut audio = Vec::with_capacity(n);
    for i in 0..n {
        let mailbox = if i % 3 == 0 { "6912333" } else { "3105883" };
        let dir = root.join("default").join(mailbox).join("INBOX");
        std::fs::create_dir_all(&dir).unwrap();
        let base = dir.join(format!("msg{:04}", i / 2));
        let base = if base.with_extension("txt").exists() {
            dir.join(format!("msg{:04}", 5000 + i))
        } else {
            base
        };
        let seconds = 5 + (i as u32 * 37) % 56;
        write_wav(&base.with_extension("wav"), seconds, i as u32);
        let origtime = 1778249700 + i as i64 * 30;
        let txt = format!(
            "[message]\norigmailbox={mailbox}\ncontext=default\ncallerid=\"来电{i}\" <138{:08}>\norigtime={origtime}\n\
             msg_id={origtime}-{i:08x}\nflag=\nduration={seconds}\n",
            i * 7919 % 100_000_000
        );
        std::fs::write(base.with_extension("txt"), txt).unwrap();
        audio.push(base.with_extension("wav"));
    }
    audio
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("voicemail benchmark: run with `cargo bench --bench voicemail`");
        return;
    }
    let n = messages();
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let audio = build_spool(&spool, n);
    let bytes: u64 = audio
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();

    let start = Instant::now();
    let status = std::process::Command::new("sha256sum")
        .args(&audio)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("sha256sum runs");
    assert!(status.success());
    let floor = start.elapsed();

    let mut settings = Settings::load(None).unwrap();
    settings.database.url = format!("sqlite://{}", dir.path().join("youmen.db").display());
    settings.hotline.audio_dir = dir.path().join("audio");
    settings.secrets.dir = dir.path().join("secrets");
    let ingestor = youmen::app::ingestor(&settings).await.unwrap();
    let start = Instant::now();
    let summary = ingestor.ingest_spool(&spool, &|_, _| {}).await.unwrap();
    let took = start.elapsed();
    assert_eq!(summary.ingested, n, "{summary}");

    let start = Instant::now();
    let again = ingestor.ingest_spool(&spool, &|_, _| {}).await.unwrap();
    let rescan = start.elapsed();
    assert_eq!(again.already, n);

    println!(
        "voicemail benchmark: {n} messages, {:.0} MB of 8 kHz 16-bit PCM, SQLite",
        bytes as f64 / 1e6
    );
    println!();
    println!("| measurement | seconds | files per s | ratio to sha256sum |");
    println!("|---|---|---|---|");
    println!(
        "| sha256sum over the audio (floor) | {:.2} | {:.0} | 1.00 |",
        floor.as_secs_f64(),
        n as f64 / floor.as_secs_f64()
    );
    println!(
        "| youmen ingest (probe, store, case) | {:.2} | {:.0} | {:.2} |",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        took.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "| rescan, all already ingested | {:.2} | {:.0} | {:.2} |",
        rescan.as_secs_f64(),
        n as f64 / rescan.as_secs_f64(),
        rescan.as_secs_f64() / floor.as_secs_f64()
    );
}
