//! Callback-list benchmark: generating the list for 10,000 off-hours arrivals from 7,000
//! numbers (the target: under a second), on SQLite and on PostgreSQL, beside a baseline
//! measured in the same run on the same data: one plain read of those 10,000 case rows.
//! Also: reading the generated day's list (what the morning shift's page loads).
//!
//!     cargo bench --bench callbacks
//!     BENCH_BACKENDS=sqlite cargo bench --bench callbacks
//!
//! Each measurement is the median of 5 rounds; the generated entries are deleted between
//! rounds so that each round generates the whole list again.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use youmen::calendar_source::CalendarHandle;
use youmen::callbacks::CallbackService;
use youmen::config::Settings;
use youmen::domain::{Callback, CallbackKind, Channel, Citizen, NewCase, PhoneNumber, Tier};
use youmen::storage::Store;

const ARRIVALS: usize = 10_000;
const NUMBERS: usize = 7_000;
const ROUNDS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A night before Monday 30 November 2026: arrivals from Friday 17:00 to Monday 08:00.
fn arrivals() -> Vec<(NewCase, DateTime<Utc>)> {
    let start = at("2026-11-27T17:00:00+08:00");
    let due = at("2026-11-30T08:30:00+08:00");
    let span = (at("2026-11-30T08:00:00+08:00") - start).num_seconds();
    (0..ARRIVALS)
        .map(|i| {
            // 7,000 numbers: the first 3,000 call twice.
            let n = if i < NUMBERS { i } else { i - NUMBERS };
            let phone = PhoneNumber::from_stored(format!("+86138{:08}", n), format!("138{:08}", n));
            let received = start + chrono::Duration::seconds(span * i as i64 / ARRIVALS as i64);
            let channel = match i % 3 {
                0 => Channel::ComplaintHotline,
                1 => Channel::BusinessHotline,
                _ => Channel::Website,
            };
            let case = NewCase {
                channel,
                received_at: received,
                citizen: Citizen {
                    name: None,
                    phone: Some(phone),
                    id_card_masked: None,
                    id_card_digest: None,
                },
                matter: "other".into(),
                description: "夜间来电留言，请回电".into(),
                tier: Tier::Simple,
                deadline: at("2026-12-01T17:00:00+08:00"),
                deadline_provisional: false,
                off_hours: true,
                urgent: i % 50 == 0,
                callback: Some(Callback {
                    due_at: due,
                    kind: if i % 7 == 0 {
                        CallbackKind::MissedCall
                    } else {
                        CallbackKind::Message
                    },
                }),
                consultation: None,
                registered_by: "bench".into(),
                registered_by_id: None,
                failed_at: Default::default(),
            };
            (case, received)
        })
        .collect()
}

async fn measure(backend: &str, url: &str) -> (Duration, Duration, Duration, usize) {
    let mut settings = Settings::load(None).expect("settings");
    settings.database.url = url.to_owned();
    let store: Arc<dyn Store> = youmen::storage::connect(url, 8).await.expect("connect");
    store.migrate().await.expect("migrate");
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
    let calendar = CalendarHandle::new(youmen::calendar_source::load(&settings).expect("calendar"));
    let service = CallbackService::new(
        store.clone(),
        calendar,
        settings.callbacks.clone(),
        false,
        &[],
        youmen::callbacks::CaseTerms {
            rules: std::sync::Arc::new(
                settings.intake_rules(&youmen::secrets::Secrets::load(&settings).expect("secrets")),
            ),
            prefix: "YM".into(),
        },
    );
    let opening = tz
        .with_ymd_and_hms(2026, 11, 30, 8, 30, 0)
        .unwrap()
        .with_timezone(&Utc);
    let date = opening.with_timezone(&tz).date_naive();

    let mut baseline = Vec::new();
    let mut generation = Vec::new();
    let mut reading = Vec::new();
    let mut entries = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let pending = store.callback_pending(opening).await.expect("read");
        baseline.push(t.elapsed());
        assert_eq!(pending.len(), ARRIVALS);

        let t = Instant::now();
        entries = service
            .generate_at(opening, Utc::now())
            .await
            .expect("generate")
            .expect("a new run");
        generation.push(t.elapsed());

        let t = Instant::now();
        let list = service.day(date, Utc::now()).await.expect("list");
        reading.push(t.elapsed());
        assert_eq!(list.progress.total as usize, NUMBERS);

        reset(backend, url).await;
    }
    (
        median(baseline),
        median(generation),
        median(reading),
        entries,
    )
}

/// Removes the generated list so that the next round generates it again.
async fn reset(backend: &str, url: &str) {
    let statements = [
        "delete from outbox",
        "delete from callback_entry_cases",
        "delete from callback_entries",
        "delete from callback_runs",
    ];
    if backend == "sqlite" {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        for s in statements {
            sqlx::query(s).execute(&pool).await.unwrap();
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        for s in statements {
            sqlx::query(s).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
}

#[tokio::main]
async fn main() {
    let backends = support::backends();
    println!("| backend | read {ARRIVALS} pending rows (baseline) | generate the list | ratio | entries | read the day's list |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for backend in &backends {
        let db = support::BenchDatabase::create(backend, "bench").await;
        let url = db.url.clone();
        let (baseline, generation, reading, entries) = measure(backend, &url).await;
        println!(
            "| {backend} | {:.0} ms | {:.0} ms | {:.2}× | {entries} | {:.0} ms |",
            baseline.as_secs_f64() * 1000.0,
            generation.as_secs_f64() * 1000.0,
            generation.as_secs_f64() / baseline.as_secs_f64(),
            reading.as_secs_f64() * 1000.0,
        );
        db.drop().await;
    }
}
