//! Intake benchmark: website messages through the whole HTTP path (`POST
//! /api/v1/website/messages`: validation, rate limit, numbering, event, website record and
//! confirmation in the outbox) at 32 concurrent clients, on SQLite and on PostgreSQL, each
//! beside the raw single-row insert rate of the same database measured in the same run (a
//! tight autocommit insert loop for SQLite, pgbench for PostgreSQL). On PostgreSQL a second
//! baseline: pgbench writing the rows of one website message per transaction, on the same
//! database. `BENCH_PATH=cases` measures staff registrations (`POST /api/v1/cases`) instead.
//!
//!     cargo bench --bench intake                      # both backends, 10 s per phase
//!     BENCH_SECONDS=20 BENCH_BACKENDS=sqlite cargo bench --bench intake
//!     BENCH_DROP_INDEXES=cases_tally cargo bench --bench intake   # what an index costs
//!
//! Results are printed as a Markdown table for docs/BENCHMARKS.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use youmen::app::Application;
use youmen::config::Settings;
use youmen::domain::Role;

const CLIENTS: usize = 32;

/// Open-loop requests, numbered across phases so that no caller sends twice (a message
/// sent again would fold: 200, not 201).
static OPEN_LOOP_CALLERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The uncounted warm-up before the measured phases.
const WARM_UP: Duration = Duration::from_secs(2);

struct Run {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// When each answer over the target (20 ms) was sent, from the phase's start, with its
    /// latency, in sending order: a few stalls and a broad tail look different here.
    slow: Vec<(Duration, Duration)>,
}

/// The latency target of the steady phase.
const TARGET: Duration = Duration::from_millis(20);

impl Run {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(i).copied().unwrap_or_default()
    }

    /// The answers over the target, grouped into stalls (sent within 100 ms of each other),
    /// the longest three named.
    fn describe_slow(&self, what: &str) -> String {
        let mut stalls: Vec<(Duration, Duration, usize, Duration)> = Vec::new();
        for &(sent, latency) in &self.slow {
            match stalls.last_mut() {
                Some((_, last, n, worst)) if sent <= *last + Duration::from_millis(100) => {
                    *last = sent;
                    *n += 1;
                    *worst = (*worst).max(latency);
                }
                _ => stalls.push((sent, sent, 1, latency)),
            }
        }
        let count = stalls.len();
        stalls.sort_by_key(|s| std::cmp::Reverse(s.3));
        let worst: Vec<String> = stalls
            .iter()
            .take(3)
            .map(|(from, to, n, worst)| {
                format!(
                    "{:.0} ms at {:.2}–{:.2} s ({n} answers)",
                    worst.as_secs_f64() * 1e3,
                    from.as_secs_f64(),
                    to.as_secs_f64()
                )
            })
            .collect();
        format!(
            "{what}: {} of {} answers over {} ms, in {count} stalls; the longest: {}",
            self.slow.len(),
            self.requests,
            TARGET.as_millis(),
            if worst.is_empty() {
                "none".into()
            } else {
                worst.join(", ")
            }
        )
    }
}

fn seconds() -> Duration {
    Duration::from_secs(
        std::env::var("BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10),
    )
}

fn postgres_admin_url() -> String {
    std::env::var("YOUMEN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn database_url(admin: &str, name: &str) -> String {
    format!(
        "{}/{name}",
        admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin)
    )
}

fn website_path() -> bool {
    std::env::var("BENCH_PATH").map_or(true, |p| p != "cases")
}

/// The request body of client `c`'s `i`-th message: a different caller each time (no
/// folding), the Chinese text a citizen writes, an e-mail (a confirmation in the outbox).
fn body(c: usize, i: u64) -> serde_json::Value {
    let n = c as u64 * 1_000_000 + i;
    if website_path() {
        serde_json::json!({
            "name": "张三",
            "phone": format!("139{:08}", n % 100_000_000),
            "email": format!("visitor{n}@example.org"),
            "matter": "pensions",
            "description": "养老金资格认证在社保窗口办不了，材料齐全仍被退回，请尽快联系我",
            "consent": true,
        })
    } else {
        serde_json::json!({
            "channel": "website",
            "citizen_name": "张三",
            "phone": format!("1380013{:04}", n % 10_000),
            "matter": "pensions",
            "description": "养老金资格认证在社保窗口办不了，请尽快联系我",
        })
    }
}

/// The intake run at full speed, at a steady 1,000/s, and, on the same server, the HTTP
/// ceiling without storage.
async fn http_intake(database_url: String) -> (Run, Run, Run, Batches) {
    let mut settings = Settings::load(None).expect("settings");
    settings.server.port = 0;
    settings.database.url = database_url.clone();
    settings.log.level = "warn".into();
    // A key of the run's own, not one generated into the working folder.
    settings.secrets.key = "bench-only key, at least thirty-two bytes long".into();
    // Citizens come from many addresses: the load generator names one per client through
    // the proxy header, so the per-address limits are checked (and written) as in production.
    settings.website.trust_forwarded_for = true;
    settings.website.per_ip_per_hour = 1_000_000;
    settings.website.per_ip_per_day = 1_000_000;
    // Mail on: every message queues its confirmation. The SMTP server accepts connections
    // and never answers (as a slow relay does): the outbox worker holds one mail and waits,
    // so delivery stays out of the measurement of intake.
    let blackhole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    settings.mail.smtp_host = "127.0.0.1".into();
    settings.mail.tls = "none".into();
    settings.mail.smtp_port = blackhole.local_addr().unwrap().port();
    settings.mail.timeout_seconds = 3600;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = blackhole.accept().await {
            held.push(socket);
        }
    });
    let app = Application::build(settings).await.expect("app");
    // BENCH_DROP_INDEXES=a,b: the same run without those indexes, to weigh what they cost
    // the writes (an A/B in one build, alternating runs).
    for index in std::env::var("BENCH_DROP_INDEXES")
        .unwrap_or_default()
        .split(',')
        .filter(|i| !i.is_empty())
    {
        let sql = format!("drop index {index}");
        if database_url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(&database_url).await.unwrap();
            sqlx::query(&sql).execute(&pool).await.unwrap();
        } else {
            let pool = sqlx::SqlitePool::connect(&database_url).await.unwrap();
            sqlx::query(&sql).execute(&pool).await.unwrap();
        }
    }
    let path = if website_path() {
        "/api/v1/website/messages"
    } else {
        "/api/v1/cases"
    };
    let base = format!("http://127.0.0.1:{}{path}", app.port());
    let token = youmen::auth::generate_token();
    app.state()
        .store
        .insert_token(
            "bench",
            Role::Counter,
            &youmen::auth::hash_token(&token),
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    tokio::spawn(app.run_until(std::future::pending()));
    // A warm-up at the steady rate, not counted: a server in its morning rush has been
    // running (connections open, statements prepared, phone-number patterns compiled).
    // Measured cold, the first ~150 ms of requests waited up to 150 ms each, enough on
    // their own to set the p99 of a 10 s phase.
    load(&base, &token, 201, false, Some(1000.0), WARM_UP).await;
    // PostgreSQL plans from its statistics, and a database seconds old has none: the fold
    // look-up's plan, made while the table was empty, stays a sequential scan as the table
    // grows (measured: 440 scans reading 2.5 million rows in one run) until autovacuum, whose
    // round comes once a minute, analyzes it. A database in service has been analyzed; do
    // here what autovacuum would have (it also invalidates the cached plans).
    if database_url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&database_url).await.unwrap();
        sqlx::query("analyze").execute(&pool).await.unwrap();
        pool.close().await;
    }
    // Latency at a steady 1,000 messages per second (the issue's morning rush), each client
    // sending on its own schedule whether or not the previous answer has come; first, so
    // that no search indexing left over from the full-speed phase runs during it.
    let steady = load(&base, &token, 201, false, Some(1000.0), seconds()).await;
    // Then as fast as the clients can go, with the writer's batches of that phase.
    let batches_before = Batches::now();
    let cpu_before = Cpu::now();
    let run = load(&base, &token, 201, false, None, seconds()).await;
    let batches = Batches::now()
        .since(&batches_before)
        .with_cpu(Cpu::now().since(&cpu_before));
    // The ceiling of this machine's HTTP path without storage, in the same run: the same
    // requests, every field checked (phone, e-mail, matter, text), refused for want of
    // consent (422) before anything is written.
    let ceiling = load(&base, &token, 422, true, None, seconds()).await;
    (run, steady, ceiling, batches)
}

/// Posts message `i` of client `c`; true if answered with `expect`.
async fn send(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    (c, i): (usize, u64),
    expect: u16,
    without_consent: bool,
) -> bool {
    let mut body = body(c, i);
    if without_consent {
        body["consent"] = false.into();
    }
    client
        .post(base)
        .bearer_auth(token)
        .header(
            "x-forwarded-for",
            format!("10.{}.{}.{}", c, (i / 250) % 250, i % 250),
        )
        .json(&body)
        .send()
        .await
        .is_ok_and(|r| r.status().as_u16() == expect)
}

/// Posts for `seconds()`; counts the requests answered with `expect`. Without a `rate`,
/// `CLIENTS` clients each send again as soon as they have their answer (closed loop). With
/// a `rate` (per second), requests go out on a fixed schedule whether or not earlier ones
/// have been answered (open loop), and each latency counts from the scheduled moment, so a
/// stall shows in full (no coordinated omission).
async fn load(
    base: &str,
    token: &str,
    expect: u16,
    without_consent: bool,
    rate: Option<f64>,
    length: Duration,
) -> Run {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS * 4)
        .build()
        .unwrap();
    let deadline = Instant::now() + length;
    let start = Instant::now();
    let base = Arc::new(base.to_owned());
    let token = Arc::new(token.to_owned());
    let tasks: Vec<tokio::task::JoinHandle<(Vec<(Duration, Duration)>, usize)>> = match rate {
        Some(rate) => {
            // Each phase its own callers: a message sent again would fold (200).
            let mut tasks = Vec::new();
            let mut k = 0u64;
            loop {
                let due = start + Duration::from_secs_f64(k as f64 / rate);
                if due >= deadline {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let (client, base, token) = (client.clone(), base.clone(), token.clone());
                let n = OPEN_LOOP_CALLERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let who = ((n % CLIENTS as u64) as usize, 500_000 + n / CLIENTS as u64);
                tasks.push(tokio::spawn(async move {
                    if send(&client, &base, &token, who, expect, without_consent).await {
                        (vec![(due - start, due.elapsed())], 0)
                    } else {
                        (Vec::new(), 1)
                    }
                }));
                k += 1;
            }
            tasks
        }
        None => (0..CLIENTS)
            .map(|c| {
                let (client, base, token) = (client.clone(), base.clone(), token.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut errors = 0;
                    let mut i = 0u64;
                    while Instant::now() < deadline {
                        i += 1;
                        let t = Instant::now();
                        if send(&client, &base, &token, (c, i), expect, without_consent).await {
                            latencies.push((t - start, t.elapsed()));
                        } else {
                            errors += 1;
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect(),
    };
    let mut answers = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        answers.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    answers.sort();
    let slow = answers
        .iter()
        .copied()
        .filter(|(_, l)| *l > TARGET)
        .collect();
    let mut latencies: Vec<Duration> = answers.into_iter().map(|(_, l)| l).collect();
    latencies.sort();
    Run {
        requests: latencies.len(),
        errors,
        elapsed,
        latencies,
        slow,
    }
}

/// One autocommit single-row insert after another on one connection, with the same
/// durability settings youmen uses (WAL, synchronous=FULL).
async fn sqlite_raw_inserts(path: &std::path::Path) -> f64 {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    use sqlx::ConnectOptions;
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await
        .unwrap();
    sqlx::query("create table t (id integer primary key, a text not null, b text not null)")
        .execute(&mut conn)
        .await
        .unwrap();
    let deadline = Instant::now() + seconds();
    let start = Instant::now();
    let mut n = 0u64;
    while Instant::now() < deadline {
        sqlx::query("insert into t (a, b) values ($1, $2)")
            .bind("13800138000")
            .bind("养老金资格认证在社保窗口办不了")
            .execute(&mut conn)
            .await
            .unwrap();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// pgbench, 32 clients, one single-row insert per transaction.
fn pgbench_inserts(url: &str) -> Option<f64> {
    let script = std::env::temp_dir().join("youmen-pgbench-insert.sql");
    std::fs::write(
        &script,
        "insert into bench_t (a, b) values ('13800138000', '养老金资格认证在社保窗口办不了');\n",
    )
    .ok()?;
    pgbench(url, &script)
}

/// Runs a pgbench script with 32 clients for the phase's length: its transactions per second.
fn pgbench(url: &str, script: &std::path::Path) -> Option<f64> {
    let out = std::process::Command::new("pgbench")
        .args([
            "-n",
            "-c",
            &CLIENTS.to_string(),
            "-j",
            "2",
            "-T",
            &seconds().as_secs().to_string(),
            "-f",
        ])
        .arg(script)
        .arg(url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        eprintln!(
            "pgbench {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| {
            l.trim_start_matches("tps = ")
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
}

/// pgbench, 32 clients, each transaction writing what youmen writes for one website message
/// (on the youmen database itself, after its phases): the sender's limit rows dropped,
/// counted and added to, the fold look-up by phone, the day's counter, the case, its search
/// backlog row, its chained register event, its website record and its confirmation. One
/// message per transaction, as a plain client of PostgreSQL would write it; youmen's group
/// commit writes ~16 per transaction. Its cases are numbered on a day of their own (2099).
fn pgbench_same_rows(url: &str) -> Option<f64> {
    let script = std::env::temp_dir().join("youmen-pgbench-same-rows.sql");
    std::fs::write(&script, SAME_ROWS).ok()?;
    pgbench(url, &script)
}

const SAME_ROWS: &str = r#"\set n random(1, 1000000000)
begin;
delete from rate_hits where scope = 'website' and at < now() - interval '1 day' and key in ('10.' || :n);
select key, sum(case when at > now() - interval '1 hour' then 1 else 0 end), sum(case when at > now() - interval '1 day' then 1 else 0 end) from rate_hits where scope = 'website' and key in ('10.' || :n) group by key;
select w.fold_key, w.created_at, w.case_id from cases c join website_messages w on w.case_id = c.id where w.created_at >= now() - interval '1 day' and c.phone_e164 in ('+86139' || lpad((:n % 100000000)::text, 8, '0'));
insert into case_counters (day, last_seq, created_at) values ('2099-01-01', 1, now()) on conflict (day) do update set last_seq = case_counters.last_seq + excluded.last_seq returning last_seq \gset
insert into cases (number, channel, received_at, citizen_name, phone_e164, phone_original, id_card_masked, id_card_digest, matter, description, cause, tier, status, owner, deadline, deadline_provisional, off_hours, consultation, urgent, callback_due_at, callback_kind, created_at, updated_at, version) values ('YM-20990101-' || :last_seq, 'website', now(), '张三', '+86139' || lpad((:n % 100000000)::text, 8, '0'), '139' || lpad((:n % 100000000)::text, 8, '0'), null, null, 'pensions', '养老金资格认证在社保窗口办不了，材料齐全仍被退回，请尽快联系我', 'unclassified', 'standard', 'new', null, now() + interval '3 days', false, false, false, false, null, null, now(), now(), 1) returning id \gset
insert into search_backlog (case_id) values (:id);
update chain_heads set last_id = last_id where name = 'case_events' returning last_id as head \gset
insert into case_events (case_id, at, actor, action, before_state, after_state, note, created_at, prev_hash, hash) select :id, now(), 'website', 'register', '{}', '{"status":"new","channel":"website","tier":"standard"}', null, now(), last_hash, encode(sha256(convert_to(last_hash || :id, 'UTF8')), 'hex') from chain_heads where name = 'case_events' returning id as event \gset
update chain_heads set last_id = :event, last_hash = (select hash from case_events where id = :event) where name = 'case_events';
insert into website_messages (case_id, tracking_digest, email, fold_key, created_at) values (:id, md5('t' || :n), 'visitor' || :n || '@example.org', md5('k' || :n), now());
insert into outbox (topic, case_id, recipient, payload, status, attempts, next_attempt_at, created_at) values ('website_confirmation', :id, 'visitor' || :n || '@example.org', '{"case_number":"YM-20990101"}', 'pending', 0, now(), now());
insert into rate_hits (scope, key, at) values ('website', '10.' || :n, now());
commit;
"#;

fn report(backend: &str, run: &Run, baseline_name: &str, baseline: Option<f64>) {
    let ratio = baseline
        .map(|b| format!("{:.2}", run.rate() / b))
        .unwrap_or_else(|| "n/a".into());
    println!(
        "| {backend} | {:.0} | {:.1} | {:.1} | {} | {baseline_name} | {} | {ratio} |",
        run.rate(),
        run.percentile(0.50).as_secs_f64() * 1000.0,
        run.percentile(0.99).as_secs_f64() * 1000.0,
        run.errors,
        baseline
            .map(|b| format!("{b:.0}"))
            .unwrap_or_else(|| "unavailable".into()),
    );
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful: only run
    // the measurement when asked to bench.
    if !std::env::args().any(|a| a == "--bench") {
        println!("intake benchmark: run with `cargo bench --bench intake`");
        return;
    }
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!(
        "intake benchmark: {CLIENTS} clients, {} s per phase, {} cores",
        seconds().as_secs(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!();
    let what = if website_path() {
        "POST /api/v1/website/messages"
    } else {
        "POST /api/v1/cases"
    };
    println!(
        "| backend | {what} per s | p50 ms | p99 ms | errors | baseline | baseline per s | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut notes = Vec::new();
    if backends.contains("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let run = http_intake(format!(
            "sqlite://{}",
            dir.path().join("youmen.db").display()
        ))
        .await;
        let raw = sqlite_raw_inserts(&dir.path().join("raw.db")).await;
        report("SQLite", &run.0, "single-row insert loop", Some(raw));
        notes.push(run.3.describe("SQLite"));
        notes.push(run.1.describe_slow("SQLite, steady"));
        phase("SQLite", STEADY, &run.1);
        phase("SQLite", CEILING, &run.2);
    }
    if backends.contains("postgres") {
        let admin = sqlx::PgPool::connect(&postgres_admin_url())
            .await
            .expect("PostgreSQL reachable");
        let name = format!("youmen_bench_{}", std::process::id());
        sqlx::query(&format!("create database {name}"))
            .execute(&admin)
            .await
            .unwrap();
        let url = database_url(&postgres_admin_url(), &name);
        let run = http_intake(url.clone()).await;
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query("create table bench_t (id bigint generated always as identity primary key, a text not null, b text not null)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let tps = pgbench_inserts(&url);
        report("PostgreSQL", &run.0, "pgbench single-row insert", tps);
        let same = pgbench_same_rows(&url);
        report(
            "PostgreSQL",
            &run.0,
            "pgbench writing the same rows, a message per transaction",
            same,
        );
        notes.push(run.3.describe("PostgreSQL"));
        notes.push(run.1.describe_slow("PostgreSQL, steady"));
        phase("PostgreSQL", STEADY, &run.1);
        phase("PostgreSQL", CEILING, &run.2);
        let _ = sqlx::query(&format!("drop database {name} with (force)"))
            .execute(&admin)
            .await;
    }
    println!();
    for note in notes {
        println!("{note}");
    }
    println!(
        "peak RSS of the whole benchmark process (server and load generator): {} MB",
        peak_rss_mb()
    );
}

/// A phase without a baseline of its own: the steady run (what a visitor waits at 1,000
/// messages per second) or the HTTP ceiling (the same requests refused by validation).
fn phase(backend: &str, label: &str, run: &Run) {
    println!(
        "| {backend}: {label} | {:.0} | {:.1} | {:.1} | {} | | | |",
        run.rate(),
        run.percentile(0.5).as_secs_f64() * 1000.0,
        run.percentile(0.99).as_secs_f64() * 1000.0,
        run.errors
    );
}

const STEADY: &str = "steady 1,000/s offered";
const CEILING: &str = "HTTP ceiling (same requests, 422 before storage)";

/// The group-commit writer's batches so far (the process's `youmen_batch_size` and
/// `youmen_batch_seconds` histograms): how many messages a transaction took, and how long
/// the writer spent on it. Their ratio is the writer's time per message, which bounds the
/// rate of a single-writer engine.
struct Batches {
    count: f64,
    messages: f64,
    seconds: f64,
    cpu: Option<Cpu>,
}

/// CPU time spent (user and system, in seconds) by this process (youmen and the load
/// generator) and by every PostgreSQL process of the machine, from /proc: where the two
/// cores go per message.
#[derive(Clone, Copy)]
struct Cpu {
    own: f64,
    postgres: f64,
}

impl Cpu {
    fn now() -> Self {
        // utime and stime, fields 14 and 15 of /proc/PID/stat, in clock ticks (100 a second
        // on Linux); the command name (field 2) is in parentheses and may hold spaces.
        fn seconds(stat: &str) -> f64 {
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let fields: Vec<&str> = after.split_whitespace().collect();
            let tick = |i: usize| {
                fields
                    .get(i)
                    .and_then(|f| f.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            (tick(11) + tick(12)) / 100.0
        }
        let own = std::fs::read_to_string("/proc/self/stat").map_or(0.0, |s| seconds(&s));
        let mut postgres = 0.0;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let path = entry.path();
            let is_postgres =
                std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.trim() == "postgres");
            if is_postgres {
                postgres += std::fs::read_to_string(path.join("stat")).map_or(0.0, |s| seconds(&s));
            }
        }
        Self { own, postgres }
    }

    fn since(&self, before: &Self) -> Self {
        Self {
            own: self.own - before.own,
            postgres: self.postgres - before.postgres,
        }
    }
}

impl Batches {
    fn now() -> Self {
        let text = youmen::telemetry::metrics::handle().render();
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        Self {
            count: value("youmen_batch_size_count"),
            messages: value("youmen_batch_size_sum"),
            seconds: value("youmen_batch_seconds_sum"),
            cpu: None,
        }
    }

    fn since(&self, before: &Self) -> Self {
        Self {
            count: self.count - before.count,
            messages: self.messages - before.messages,
            seconds: self.seconds - before.seconds,
            cpu: None,
        }
    }

    fn with_cpu(self, cpu: Cpu) -> Self {
        Self {
            cpu: Some(cpu),
            ..self
        }
    }

    fn describe(&self, backend: &str) -> String {
        if self.count == 0.0 || self.messages == 0.0 {
            return format!("{backend}, full speed: no batches recorded");
        }
        format!(
                "{backend}, full speed: {:.0} batches of {:.1} messages, {:.2} ms each: {:.0} µs of the writer per message",
                self.count,
                self.messages / self.count,
                self.seconds * 1000.0 / self.count,
                self.seconds * 1e6 / self.messages,
        ) + &self.cpu.map_or(String::new(), |cpu| {
            // Messages committed in the phase (batches hold the ones answered 201).
            let per = |s: f64| s * 1e6 / self.messages;
            let postgres = match backend {
                "PostgreSQL" => format!(", PostgreSQL {:.0} µs", per(cpu.postgres)),
                _ => String::new(),
            };
            format!(
                "; CPU per message: youmen and the load generator {:.0} µs{postgres}",
                per(cpu.own),
            )
        })
    }
}

/// The process's peak resident set (VmHWM), in MB.
fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
