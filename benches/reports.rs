//! Reports at scale: with N cases (default 1,000,000) over the three years to today, with their
//! timelines, ratings, callbacks and calls (`benches/reports/*.sql`: the mix is described
//! there), how long a duty leader waits for the statistics page (the default period, the
//! last month, a whole year), the monthly bulletin and the yearly ranking, each page fetched
//! over HTTP from youmen serving in-process, signed in, on SQLite and on PostgreSQL.
//!
//! **Baseline, same run and database:** counting the period's cases
//! (`select count(*) … where received_at …`), the floor of any exact answer about them.
//!
//!     cargo bench --bench reports                                  # 1,000,000 cases, both engines
//!     BENCH_CASES=200000 BENCH_BACKENDS=sqlite cargo bench --bench reports
//!
//! Each page is fetched 10 times after one warm-up; p50 and p95 are reported.

mod support;

use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, Utc};
use youmen::app::Application;
use youmen::config::Settings;
use youmen::domain::Role;

const RUNS: usize = 10;
const PASSWORD: &str = "bench password 1234";
const THREE_YEARS: i64 = 3 * 365 * 86_400;

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Writes `n` cases ending now with the engine's generator.
async fn load(url: &str, backend: &str, n: usize) {
    let script = match backend {
        "sqlite" => include_str!("reports/sqlite.sql"),
        _ => include_str!("reports/postgres.sql"),
    };
    let start = Utc::now().timestamp() - THREE_YEARS;
    let script = script
        .replace("{n}", &n.to_string())
        .replace("{start}", &start.to_string());
    match backend {
        "sqlite" => {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::raw_sql(&script).execute(&mut c).await.unwrap();
        }
        _ => {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(&script).execute(&mut c).await.unwrap();
            sqlx::raw_sql("vacuum analyze")
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
}

/// The baseline: the period's cases counted (p50 of the runs).
async fn count(pool: &support::Pool, from: NaiveDate, to: NaiveDate) -> Duration {
    let local = |d: NaiveDate| youmen::bulletin::day_start(chrono_tz::Asia::Shanghai, d);
    let (from, to) = (local(from), local(to.succ_opt().unwrap()));
    let sql = "select count(*) from cases where received_at >= $1 and received_at < $2";
    let mut times = Vec::new();
    for i in 0..=RUNS {
        let t = Instant::now();
        assert!(
            pool.count_between(sql, from, to).await > 0,
            "the period has cases"
        );
        if i > 0 {
            times.push(t.elapsed());
        }
    }
    percentile(times, 0.5)
}

async fn fetch(client: &reqwest::Client, url: &str, session: &str) -> (Duration, Duration) {
    let mut times = Vec::new();
    for i in 0..=RUNS {
        let t = Instant::now();
        let r = client
            .get(url)
            .header(reqwest::header::COOKIE, session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{url}");
        let body = r.text().await.unwrap();
        assert!(body.len() > 1000, "{url} has a page");
        if i > 0 {
            times.push(t.elapsed());
        }
    }
    (percentile(times.clone(), 0.5), percentile(times, 0.95))
}

#[tokio::main]
async fn main() {
    // `cargo test --benches` runs this too: only measure under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("reports benchmark: run with `cargo bench --bench reports`");
        return;
    }
    let n = support::env_number("BENCH_CASES", 1_000_000);
    let backends = support::backends();
    println!("reports benchmark: {n} cases");
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let month_start = today.with_day(1).unwrap();
    let last_month_end = month_start.pred_opt().unwrap();
    let last_month_start = last_month_end.with_day(1).unwrap();
    let year_ago = today - chrono::Duration::days(364);
    let last_year = today.year() - 1;
    let last_month = format!(
        "{}-{:02}",
        last_month_start.year(),
        last_month_start.month()
    );
    let pages: Vec<(String, String, NaiveDate, NaiveDate)> = vec![
        (
            "statistics, default period (this month to date)".into(),
            "/staff/statistics".into(),
            month_start,
            today,
        ),
        (
            format!("statistics, last month ({last_month})"),
            format!("/staff/statistics?from={last_month_start}&to={last_month_end}"),
            last_month_start,
            last_month_end,
        ),
        (
            "statistics, a whole year (the last 365 days)".into(),
            format!("/staff/statistics?from={year_ago}&to={today}"),
            year_ago,
            today,
        ),
        (
            format!("monthly bulletin ({last_month})"),
            format!("/staff/reports?period={last_month}"),
            last_month_start,
            last_month_end,
        ),
        (
            format!("yearly ranking ({last_year})"),
            format!("/staff/evaluation?period={last_year}"),
            NaiveDate::from_ymd_opt(last_year, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(last_year, 12, 31).unwrap(),
        ),
    ];
    let mut table = vec![
        "| backend | page | p50 | p95 | baseline: count the period's cases, p50 | ratio (p50) |"
            .to_owned(),
        "|---|---|---|---|---|---|".to_owned(),
    ];
    for backend in &backends {
        let db = support::BenchDatabase::create(backend, "reports").await;
        let mut settings = Settings::load(None).expect("settings");
        settings.server.port = 0;
        settings.database.url = db.url.clone();
        settings.log.level = "warn".into();
        settings.secrets.key = "bench-only key, at least thirty-two bytes long".into();
        let app = Application::build(settings).await.expect("app");
        let store = app.state().store.clone();
        let t = Instant::now();
        load(&db.url, backend, n).await;
        eprintln!(
            "{backend}: {n} cases written in {:.0} s",
            t.elapsed().as_secs_f64()
        );
        let hash = youmen::auth::hash_password(PASSWORD.into()).await.unwrap();
        support::add_user(
            store.as_ref(),
            "leader",
            "值班领导",
            Role::DutyLeader,
            &hash,
        )
        .await;
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until(std::future::pending()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let session =
            support::sign_in(&client, &base, "leader", PASSWORD, "/staff/statistics").await;
        let pool = support::Pool::connect(&db.url).await;
        // The pages have something to count: every kind of row the generator writes is read.
        let json = |path: String| {
            let (client, session) = (&client, &session);
            async move {
                let r = client
                    .get(path)
                    .header(reqwest::header::COOKIE, session)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.json::<serde_json::Value>().await.unwrap()
            }
        };
        let year = json(format!(
            "{base}/api/v1/statistics?from={year_ago}&to={today}"
        ))
        .await;
        let month = json(format!("{base}/api/v1/reports?period={last_month}")).await;
        for (what, v) in [
            ("ratings", &year["ratings"]),
            ("on-time figures", &year["on_time"]),
            ("calls by line", &year["calls"]["by_line"]),
            ("calls by operator", &year["calls"]["by_operator"]),
            ("staff-side matters", &year["staff_side_by_matter"]),
            ("counters", &month["counts"]["by_counter"]),
            ("ratings by counter", &month["counts"]["ratings_by_counter"]),
            ("accountability", &month["counts"]["accountability"]),
        ] {
            assert!(v.as_array().is_some_and(|a| !a.is_empty()), "{what}: {v}");
        }
        assert!(
            year["callbacks_total"].as_i64() > Some(0)
                && month["counts"]["summons"].as_i64() > Some(0)
        );
        for (name, path, from, to) in &pages {
            let (p50, p95) = fetch(&client, &format!("{base}{path}"), &session).await;
            let floor = count(&pool, *from, *to).await;
            table.push(format!(
                "| {backend} | {name} | {} | {} | {} | {:.1}× |",
                ms(p50),
                ms(p95),
                ms(floor),
                p50.as_secs_f64() / floor.as_secs_f64()
            ));
            eprintln!("{}", table.last().unwrap());
        }
        drop(pool);
        db.drop().await;
    }
    println!();
    for line in table {
        println!("{line}");
    }
}
