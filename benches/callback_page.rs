//! The morning shift's page: `GET /staff/callbacks?date=…` with 500 entries on the morning
//! list and 50 arrivals of the working day in their own section, signed in as a person is,
//! on SQLite and on PostgreSQL (the target: p95 under 100 ms for the HTML). Baseline, same
//! run, same server, requests alternating: the same list as JSON (`GET /api/v1/callbacks`),
//! which reads the same rows without rendering a page.
//!
//!     cargo bench --bench callback_page
//!     BENCH_BACKENDS=sqlite BENCH_REQUESTS=200 cargo bench --bench callback_page

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use youmen::app::Application;
use youmen::config::Settings;
use youmen::domain::{Callback, CallbackKind, Channel, Citizen, NewCase, PhoneNumber, Role, Tier};

/// People on the morning list; the first `TWICE` of them left two messages.
const ENTRIES: usize = 500;
const TWICE: usize = 100;
/// Arrivals during Monday's working hours (all lines busy).
const DAYTIME: usize = 50;
const PASSWORD: &str = "bench password 1234";

fn requests() -> usize {
    support::env_number("BENCH_REQUESTS", 100)
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn arrival(i: usize, n: usize, received: DateTime<Utc>, off_hours: bool) -> NewCase {
    let due = match off_hours {
        true => at("2026-11-30T08:30:00+08:00"),
        false => received,
    };
    NewCase {
        channel: match i % 3 {
            0 => Channel::ComplaintHotline,
            1 => Channel::BusinessHotline,
            _ => Channel::Website,
        },
        received_at: received,
        citizen: Citizen {
            name: Some("陈女士".into()),
            phone: Some(PhoneNumber::from_stored(
                format!("+86139{n:08}"),
                format!("139{n:08}"),
            )),
            id_card_masked: None,
            id_card_digest: None,
        },
        matter: "other".into(),
        description: "电话留言（录音11秒），请收听录音后回电".into(),
        tier: Tier::Simple,
        deadline: at("2026-12-01T17:00:00+08:00"),
        deadline_provisional: false,
        off_hours,
        urgent: i % 40 == 0,
        callback: Some(Callback {
            due_at: due,
            kind: CallbackKind::Message,
        }),
        consultation: None,
        registered_by: "bench".into(),
        registered_by_id: None,
        failed_at: Default::default(),
    }
}

/// Friday night's and the weekend's arrivals, and Monday morning's while the lines were busy.
fn arrivals() -> Vec<(NewCase, DateTime<Utc>)> {
    let start = at("2026-11-27T17:00:00+08:00");
    let span = (at("2026-11-30T08:00:00+08:00") - start).num_seconds();
    let night = ENTRIES + TWICE;
    let mut all: Vec<(NewCase, DateTime<Utc>)> = (0..night)
        .map(|i| {
            let n = if i < ENTRIES { i } else { i - ENTRIES };
            let received = start + chrono::Duration::seconds(span * i as i64 / night as i64);
            (arrival(i, n, received, true), received)
        })
        .collect();
    let morning = at("2026-11-30T09:00:00+08:00");
    all.extend((0..DAYTIME).map(|i| {
        let received = morning + chrono::Duration::minutes(2 * i as i64);
        (arrival(i, ENTRIES + i, received, false), received)
    }));
    all
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

struct Figures {
    html: (Duration, Duration),
    json: (Duration, Duration),
    html_kb: usize,
    listed: (usize, usize),
}

async fn measure(url: &str) -> Figures {
    let mut settings = Settings::load(None).expect("settings");
    settings.server.port = 0;
    settings.database.url = url.to_owned();
    settings.log.level = "warn".into();
    settings.secrets.key = "bench-only key, at least thirty-two bytes long".into();
    let app = Application::build(settings).await.expect("app");
    let state = app.state().clone();
    let store = state.store.clone();
    let tz = chrono_tz::Asia::Shanghai;
    for chunk in arrivals().chunks(256) {
        let chunk: Vec<_> = chunk
            .iter()
            .map(|(case, at)| (youmen::domain::Admission::from(case.clone()), *at))
            .collect();
        for r in store.register(&chunk, "YM", tz).await.expect("batch") {
            r.expect("registered");
        }
    }
    let opening = tz
        .with_ymd_and_hms(2026, 11, 30, 8, 30, 0)
        .unwrap()
        .to_utc();
    state
        .callbacks
        .generate_at(opening, Utc::now())
        .await
        .expect("generate")
        .expect("a new run");
    state
        .callbacks
        .generate_daytime(at("2026-11-30T11:00:00+08:00"))
        .await
        .expect("daytime");
    let hash = youmen::auth::hash_password(PASSWORD.into()).await.unwrap();
    support::add_user(store.as_ref(), "li", "李早班", Role::Callback, &hash).await;
    let token = youmen::auth::generate_token();
    store
        .insert_token(
            "bench",
            Role::Callback,
            &youmen::auth::hash_token(&token),
            None,
            Utc::now(),
        )
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until(std::future::pending()));

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let session = support::sign_in(&client, &base, "li", PASSWORD, "/staff/callbacks").await;
    let page = || {
        client
            .get(format!("{base}/staff/callbacks?date=2026-11-30"))
            .header(reqwest::header::COOKIE, &session)
    };
    let api = || {
        client
            .get(format!("{base}/api/v1/callbacks?date=2026-11-30"))
            .bearer_auth(&token)
    };
    let first = page().send().await.unwrap();
    assert_eq!(first.status(), 200);
    let html = first.text().await.unwrap();
    let listed = (
        html.matches("<section class=\"entry").count(),
        html.matches("daytime").count(),
    );
    let (_, day): (u16, serde_json::Value) = {
        let r = api().send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    };
    let entries = day["entries"].as_array().unwrap().len();
    let daytime = day["daytime"].as_array().unwrap().len();
    assert_eq!((entries, daytime), (ENTRIES, DAYTIME), "the lists");
    assert_eq!(listed.0, ENTRIES + DAYTIME, "every entry on the page");

    // Warm-up, then alternating requests.
    for _ in 0..5 {
        page().send().await.unwrap().bytes().await.unwrap();
        api().send().await.unwrap().bytes().await.unwrap();
    }
    let (mut h, mut j) = (Vec::new(), Vec::new());
    for _ in 0..requests() {
        let t = Instant::now();
        let r = page().send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        h.push(t.elapsed());
        let t = Instant::now();
        let r = api().send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        j.push(t.elapsed());
    }
    Figures {
        html: (percentile(&mut h, 0.5), percentile(&mut h, 0.95)),
        json: (percentile(&mut j, 0.5), percentile(&mut j, 0.95)),
        html_kb: html.len() / 1024,
        listed: (entries, daytime),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let backends = support::backends();
    println!(
        "| engine | entries + day's arrivals | JSON p50 / p95 ms (baseline) | page p50 / p95 ms | p95 ratio | page size |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for backend in &backends {
        let db = support::BenchDatabase::create(backend, "page_bench").await;
        let url = db.url.clone();
        let f = measure(&url).await;
        println!(
            "| {backend} | {} + {} | {} / {} | {} / {} | {:.2}× | {} kB |",
            f.listed.0,
            f.listed.1,
            ms(f.json.0),
            ms(f.json.1),
            ms(f.html.0),
            ms(f.html.1),
            f.html.1.as_secs_f64() / f.json.1.as_secs_f64(),
            f.html_kb,
        );
        db.drop().await;
    }
}
