//! Calls from the PBX, on SQLite and on PostgreSQL:
//!
//! 1. **The screen pop.** 20 operators are signed in, each with `/staff/calls` open (its
//!    event stream). A `newCall` naming nobody rings at all of them; the figure is the time
//!    from posting it to each operator's stream carrying the caller's number (target: p95
//!    under 300 ms). Baseline, same run: the time for the `newCall` itself to be answered
//!    (applied and committed).
//! 2. **Ingest.** 32 clients push whole calls (newCall, answer, hangup) as fast as they can
//!    (target: at least 1,000 events a second, each committed before it is answered).
//!    Baseline, same run, same concurrency: `GET /api/v1/calendar/open`, a public request
//!    that touches no database, i.e. what the HTTP stack alone allows.
//!
//!     cargo bench --bench calls
//!     BENCH_BACKENDS=sqlite BENCH_CALLS=1000 cargo bench --bench calls

mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use youmen::app::Application;
use youmen::config::Settings;
use youmen::domain::Role;

const OPERATORS: usize = 20;
const CLIENTS: usize = 32;
const PASSWORD: &str = "bench password 1234";

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The number as the banner shows it: `139 0000 0001`.
fn shown(n: usize) -> (String, String) {
    let raw = format!("139{n:08}");
    let display = format!("{} {} {}", &raw[..3], &raw[3..7], &raw[7..]);
    (raw, display)
}

struct Figures {
    pop: (Duration, Duration),
    ack: (Duration, Duration),
    events_per_second: f64,
    baseline_per_second: f64,
}

async fn post(client: &reqwest::Client, url: &str, body: serde_json::Value) {
    let r = client.post(url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn measure(url: &str, calls: usize, pops: usize) -> Figures {
    let mut settings = Settings::load(None).expect("settings");
    settings.server.port = 0;
    settings.database.url = url.to_owned();
    settings.log.level = "warn".into();
    settings.secrets.key = "bench-only key, at least thirty-two bytes long".into();
    settings.hotline.cti.events_per_second = 1_000_000;
    settings.hotline.cti.burst = 1_000_000;
    let app = Application::build(settings).await.expect("app");
    let store = app.state().store.clone();
    let hash = youmen::auth::hash_password(PASSWORD.into()).await.unwrap();
    for i in 0..OPERATORS {
        let (username, name) = (format!("op{i}"), format!("话务员{i}"));
        support::add_user(store.as_ref(), &username, &name, Role::Hotline, &hash).await;
    }
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
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let cti = format!("{base}/api/v1/cti/{token}");

    // 1. The screen pop: every operator's stream, read as it arrives.
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant, String)>();
    for i in 0..OPERATORS {
        let session =
            support::sign_in(&client, &base, &format!("op{i}"), PASSWORD, "/staff/calls").await;
        let r = client
            .get(format!("{base}/staff/calls/stream"))
            .header(reqwest::header::COOKIE, session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let tx = seen_tx.clone();
        tokio::spawn(async move {
            let mut chunks = r.bytes_stream();
            while let Some(Ok(chunk)) = chunks.next().await {
                let at = Instant::now();
                let _ = tx.send((i, at, String::from_utf8_lossy(&chunk).into_owned()));
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    while seen.try_recv().is_ok() {}
    let (mut pop, mut ack) = (Vec::new(), Vec::new());
    for n in 0..pops {
        let (raw, display) = shown(n);
        let id = format!("pop-{n}");
        let started = Instant::now();
        post(
            &client,
            &cti,
            serde_json::json!({"event": "newCall", "callId": id, "from": raw, "to": "3105883"}),
        )
        .await;
        ack.push(started.elapsed());
        let mut waiting: std::collections::HashSet<usize> = (0..OPERATORS).collect();
        while !waiting.is_empty() {
            let (op, at, text) = tokio::time::timeout(Duration::from_secs(5), seen.recv())
                .await
                .expect("every operator sees the call within 5 s")
                .unwrap();
            if text.contains(&display) && waiting.remove(&op) {
                pop.push(at - started);
            }
        }
        post(
            &client,
            &cti,
            serde_json::json!({"event": "hangup", "callId": id, "cause": "cancel"}),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        while seen.try_recv().is_ok() {}
    }

    // 2. Ingest: whole calls from 32 clients at once; then the baseline.
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, cti, next) = (client.clone(), cti.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= calls {
                    return;
                }
                let (raw, _) = shown(100_000 + n);
                let id = format!("load-{n}");
                post(&client, &cti, serde_json::json!({"event": "newCall", "callId": id, "from": raw, "to": "6912333", "user": ["op1"]})).await;
                post(&client, &cti, serde_json::json!({"event": "answer", "callId": id, "user": "op1"})).await;
                post(&client, &cti, serde_json::json!({"event": "hangup", "callId": id, "cause": "normalClearing"})).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let events_per_second = (calls * 3) as f64 / started.elapsed().as_secs_f64();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, base, next) = (client.clone(), base.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < calls * 3 {
                let r = client
                    .get(format!("{base}/api/v1/calendar/open"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let baseline_per_second = (calls * 3) as f64 / started.elapsed().as_secs_f64();
    let stored = store
        .live_calls(chrono::Utc::now() - chrono::Duration::hours(1))
        .await
        .unwrap()
        .len();
    assert_eq!(stored, 0, "every call ended");
    Figures {
        pop: (percentile(&mut pop, 0.5), percentile(&mut pop, 0.95)),
        ack: (percentile(&mut ack, 0.5), percentile(&mut ack, 0.95)),
        events_per_second,
        baseline_per_second,
    }
}

#[tokio::main]
async fn main() {
    let backends = support::backends();
    let calls = support::env_number("BENCH_CALLS", 2000);
    let pops = support::env_number("BENCH_POPS", 40);
    println!(
        "{} cores; {OPERATORS} operators on the screen pop, {pops} calls; {CLIENTS} clients pushing {calls} calls ({} events)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        calls * 3
    );
    for backend in &backends {
        let db = support::BenchDatabase::create(backend, "calls").await;
        let f = measure(&db.url, calls, pops).await;
        println!(
            "{backend}: newCall to banner p50 {} p95 {} (target p95 < 300 ms; the newCall's own answer p50 {} p95 {})",
            ms(f.pop.0),
            ms(f.pop.1),
            ms(f.ack.0),
            ms(f.ack.1)
        );
        println!(
            "{backend}: {:.0} CTI events/s committed (target >= 1000); baseline {:.0} requests/s of calendar/open; ratio {:.2}",
            f.events_per_second,
            f.baseline_per_second,
            f.events_per_second / f.baseline_per_second
        );
        db.drop().await;
    }
}
