//! Several real `youmen serve` processes on one PostgreSQL: the work is shared and done
//! once (case numbers, voicemail, mail, the callback list), `kill -9` of one mid-work loses
//! nothing and the other finishes its work, and SIGTERM ends an instance gracefully.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use youmen::domain::Role;

use crate::helpers::{drop_postgres_database, fresh_postgres_database, Backend};
use crate::hotline::{metadata, wav, Spool};
use crate::smtp::{free_port, SmtpServer};

const MESSAGES: usize = 60;
const VOICEMAILS: usize = 12;
const GRACE_SECONDS: u64 = 5;

struct Instance {
    name: &'static str,
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Instance {
    fn start(name: &'static str, port: u16, env: &[(&str, String)], dir: &Path) -> Instance {
        let log = dir.join(format!(
            "{name}-{}.log",
            Instant::now().elapsed().as_nanos()
        ));
        let child = Command::new(env!("CARGO_BIN_EXE_youmen"))
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("YOUMEN__SERVER__PORT", port.to_string())
            .env("YOUMEN__LOG__FORMAT", "json")
            // Every instance reads the one key file (created by whichever starts first).
            .env("YOUMEN__SECRETS__DIR", dir.join("secrets"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("youmen serve starts");
        Instance {
            name,
            child,
            port,
            log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(self.url("/healthz")).await {
                if r.status().is_success() {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}): {}", self.name, self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready: {}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The instance id it names its leases with (from its JSON start-up line).
    fn instance_id(&self) -> String {
        self.log_text()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find_map(|l| l["fields"]["instance"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("no instance id in the log of {}", self.name))
    }

    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Database {
    pool: sqlx::PgPool,
    name: String,
}

/// Either engine's pool, for counting what survived.
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Pool {
    async fn count(&self, sql: &str) -> i64 {
        let (n,): (i64,) = match self {
            Pool::Sqlite(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
            Pool::Postgres(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
        };
        n
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        drop_postgres_database(self.name.clone());
    }
}

impl Database {
    async fn count(&self, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&self.pool).await.unwrap();
        n
    }

    /// Waits until `sql` counts `want`, for at most `within`; returns the last count.
    async fn wait_count(&self, sql: &str, want: i64, within: Duration) -> i64 {
        let deadline = Instant::now() + within;
        loop {
            let n = self.count(sql).await;
            if n == want || Instant::now() > deadline {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn message(i: usize) -> Value {
    json!({"name": "李阿姨", "phone": format!("1390000{i:04}"), "matter": "pensions",
           "description": format!("第{i}条留言：养老金资格认证办不了"), "consent": true,
           "email": format!("visitor{i}@example.org")})
}

/// Posts a message; the case number if it was acknowledged.
async fn post(client: &reqwest::Client, base: &str, i: usize) -> Option<String> {
    let r = client
        .post(format!("{base}/api/v1/website/messages"))
        .json(&message(i))
        .send()
        .await
        .ok()?;
    if r.status().as_u16() != 201 {
        return None;
    }
    let body: Value = r.json().await.ok()?;
    body["case_number"].as_str().map(str::to_owned)
}

/// Mail received, by recipient.
fn mail_by_recipient(smtp: &SmtpServer) -> HashMap<String, usize> {
    let mut by = HashMap::new();
    for raw in smtp.messages() {
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let to = parsed
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned();
        *by.entry(to).or_insert(0) += 1;
    }
    by
}

#[tokio::test]
async fn two_instances_share_the_work_once_and_survive_a_kill() {
    if Backend::postgres().await.is_none() {
        return;
    }
    let Some(smtp) = SmtpServer::start_slow(300).await else {
        return;
    };
    let (url, name) = fresh_postgres_database().await;
    let db = Database {
        pool: sqlx::PgPool::connect(&url).await.unwrap(),
        name,
    };
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::new(dir.path());
    let env: Vec<(&str, String)> = vec![
        ("YOUMEN__DATABASE__URL", url.clone()),
        (
            "YOUMEN__SERVER__SHUTDOWN_GRACE_SECONDS",
            GRACE_SECONDS.to_string(),
        ),
        (
            "YOUMEN__HOTLINE__SPOOL_DIR",
            spool.root.display().to_string(),
        ),
        (
            "YOUMEN__HOTLINE__AUDIO_DIR",
            dir.path().join("audio").display().to_string(),
        ),
        ("YOUMEN__HOTLINE__RESCAN_SECONDS", "1".into()),
        ("YOUMEN__MAIL__SMTP_HOST", "127.0.0.1".into()),
        ("YOUMEN__MAIL__TLS", "none".into()),
        ("YOUMEN__MAIL__SMTP_PORT", smtp.port.to_string()),
        ("YOUMEN__MAIL__POLL_SECONDS", "1".into()),
        ("YOUMEN__MAIL__LEASE_SECONDS", "3".into()),
        ("YOUMEN__MAIL__RETRY_BASE_SECONDS", "1".into()),
        (
            "YOUMEN__WEBSITE__FORM_SECRET",
            "shared-by-every-instance".into(),
        ),
        ("YOUMEN__WEBSITE__PER_IP_PER_HOUR", "100000".into()),
        ("YOUMEN__WEBSITE__PER_IP_PER_DAY", "100000".into()),
        ("YOUMEN__CALLBACKS__CHECK_SECONDS", "3600".into()),
        (
            "YOUMEN__CALLBACKS__MORNING_SHIFT_EMAIL",
            "morning@example.org".into(),
        ),
        ("YOUMEN__OVERSIGHT__SCAN_SECONDS", "3600".into()),
    ];
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = Instance::start("a", port_a, &env, dir.path());
    let mut b = Instance::start("b", port_b, &env, dir.path());
    a.ready().await;
    b.ready().await;

    // Voicemail left on Friday night 2026-11-27 (21:00 +08:00), arriving while both run.
    let friday_night = 1_795_784_400; // 2026-11-27T13:00:00Z
    for i in 0..VOICEMAILS {
        spool.message(
            "default/3105883",
            "INBOX",
            i as u32,
            metadata(
                &format!("\"\" <1380000{i:04}>"),
                friday_night + i as i64 * 60,
                None,
            )
            .as_bytes(),
            &[("wav", &wav(1.0, 0.4))],
        );
    }

    // Website messages to both at once; instance A is killed -9 halfway.
    let client = reqwest::Client::new();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut posters = Vec::new();
    for _ in 0..8 {
        let (client, acked, count, next) =
            (client.clone(), acked.clone(), count.clone(), next.clone());
        let bases = [a.url(""), b.url("")];
        posters.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= MESSAGES {
                    return;
                }
                if let Some(number) = post(&client, &bases[i % 2], i).await {
                    acked.lock().unwrap().push((i, number));
                    count.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while count.load(Ordering::SeqCst) < MESSAGES / 3 {
        assert!(Instant::now() < deadline, "intake stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed_id = a.instance_id();
    a.kill9();
    let held_at_kill = db
        .count(&format!(
            "select count(*) from outbox where claimed_by = '{killed_id}' and status = 'pending' and claimed_until is not null"
        ))
        .await;
    for p in posters {
        p.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= MESSAGES / 2,
        "B kept accepting: {} acknowledged",
        acked.len()
    );

    // Every acknowledged message is there, complete; numbers are unique and gap-free.
    let numbers: Vec<(String,)> = sqlx::query_as("select number from cases")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let numbers: HashSet<String> = numbers.into_iter().map(|(n,)| n).collect();
    for (i, number) in &acked {
        assert!(
            numbers.contains(number),
            "acknowledged message {i} ({number}) is missing"
        );
    }
    let website = db
        .count("select count(*) from cases where channel = 'website'")
        .await;
    assert_eq!(
        db.count("select count(*) from case_events e join cases c on c.id = e.case_id where c.channel = 'website' and e.action = 'register'").await,
        website
    );
    assert_eq!(
        db.count("select count(*) from outbox where topic = 'website_confirmation'")
            .await,
        website,
        "one confirmation queued per message"
    );

    // B alone finishes the spool; A comes back and both go on.
    let mut a = Instance::start("a", port_a, &env, dir.path());
    a.ready().await;
    let voicemail = "select count(*) from cases where channel = 'complaint_hotline'";
    assert_eq!(
        db.wait_count(voicemail, VOICEMAILS as i64, Duration::from_secs(30))
            .await,
        VOICEMAILS as i64
    );
    assert_eq!(
        db.count("select count(*) from voicemail_ingests").await,
        VOICEMAILS as i64
    );
    let mut by_day: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let all: Vec<(String,)> = sqlx::query_as("select number from cases")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    for (number,) in all {
        let (day, seq) = number.rsplit_once('-').unwrap();
        by_day
            .entry(day.to_owned())
            .or_default()
            .push(seq.parse().unwrap());
    }
    for (day, mut seqs) in by_day {
        seqs.sort_unstable();
        let expected: Vec<u32> = (1..=seqs.len() as u32).collect();
        assert_eq!(seqs, expected, "numbers of {day} are unique and gap-free");
    }

    // The list for Monday 2026-11-30, generated by hand on both at once: one run.
    let admin = youmen::auth::generate_token();
    let store = youmen::storage::connect(&url, 1).await.unwrap();
    store
        .insert_token(
            "admin",
            Role::Admin,
            &youmen::auth::hash_token(&admin),
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let generate = |base: String| {
        let (client, admin) = (client.clone(), admin.clone());
        async move {
            client
                .post(format!("{base}/api/v1/callbacks/generate"))
                .bearer_auth(admin)
                .json(&json!({"date": "2026-11-30"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let (one, two) = tokio::join!(generate(a.url("")), generate(b.url("")));
    assert_eq!((one, two), (200, 200));
    // Generating a day by hand makes a run for each of its openings that has come (the
    // first at least): Monday's afternoon opening (13:00, 05:00 UTC) once the clock is past it.
    let afternoon: chrono::DateTime<chrono::Utc> = "2026-11-30T05:00:00Z".parse().unwrap();
    let runs = if chrono::Utc::now() >= afternoon {
        2
    } else {
        1
    };
    assert_eq!(
        db.count("select count(*) from callback_runs where list_date = '2026-11-30'")
            .await,
        runs,
        "each opening generated once, by one of the two instances"
    );
    assert_eq!(
        db.count("select count(*) from (select opening_at, group_key from callback_entries group by 1, 2 having count(*) > 1) d").await,
        0,
        "no caller twice on a list"
    );
    assert_eq!(
        db.count("select count(*) from callback_entry_cases l join cases c on c.id = l.case_id where c.channel = 'complaint_hotline'").await,
        VOICEMAILS as i64
    );

    // Every notification is delivered; none twice, but for the one A had in hand when it was
    // killed (its lease ran out and B sent it: at-least-once, as SMTP allows no better).
    let unsent = "select count(*) from outbox where status <> 'sent'";
    assert_eq!(
        db.wait_count(unsent, 0, Duration::from_secs(90)).await,
        0,
        "outbox drained"
    );
    let mail = mail_by_recipient(&smtp);
    for (i, number) in &acked {
        let to = format!("visitor{i}@example.org");
        assert!(
            mail.get(&to).copied().unwrap_or(0) >= 1,
            "no mail for {number}"
        );
    }
    let extra: usize = mail.values().map(|n| n - 1).sum();
    eprintln!(
        "{} of {MESSAGES} acknowledged around the kill; A held {held_at_kill} mail when killed; {} mails, {extra} sent twice",
        acked.len(),
        mail.values().sum::<usize>()
    );
    assert!(
        extra <= 1,
        "duplicates beyond the one in flight at the kill: {mail:?}"
    );
    assert_eq!(
        mail.get("morning@example.org").copied(),
        Some(runs as usize),
        "one mail per run"
    );

    // SIGTERM while requests are in flight: those answered are kept, B exits in time and
    // hands back its leases; A sends what is left.
    let a_id = a.instance_id();
    let in_flight: Vec<_> = (MESSAGES..MESSAGES + 6)
        .map(|i| {
            let (client, base) = (client.clone(), b.url(""));
            tokio::spawn(async move { (i, post(&client, &base, i).await) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopping = Instant::now();
    b.terminate();
    let status = loop {
        if let Some(status) = b.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(GRACE_SECONDS + 5),
            "B did not stop within its grace period: {}",
            b.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        status.success(),
        "B exits cleanly: {status}\n{}",
        b.log_text()
    );
    assert!(b.log_text().contains("youmen stopped"), "{}", b.log_text());
    let held = format!(
        "select count(*) from outbox where status = 'pending' and claimed_until is not null and claimed_by <> '{a_id}'"
    );
    assert_eq!(db.count(&held).await, 0, "B left no lease behind");
    for task in in_flight {
        let (i, answered) = task.await.unwrap();
        if let Some(number) = answered {
            assert!(
                db.count(&format!(
                    "select count(*) from cases where number = '{number}'"
                ))
                .await
                    == 1,
                "message {i} was answered during shutdown but is missing"
            );
        }
    }
    assert_eq!(
        db.wait_count(unsent, 0, Duration::from_secs(60)).await,
        0,
        "A sends the rest"
    );
}

/// A stopping instance hands back the leases it holds: another takes the work at once, and
/// the attempt that was not made is not counted.
async fn released_leases_are_taken_at_once_and_not_counted(backend: Backend) {
    let app = crate::helpers::TestApp::spawn(backend).await;
    app.raw_execute(
        "insert into outbox (topic, recipient, payload, status, attempts, next_attempt_at, created_at) \
         values ('deadline_alert', 'leader@example.org', '{}', 'pending', 0, '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
    )
    .await
    .unwrap();
    let store = app.store();
    let now = chrono::Utc::now();
    let lease = now + chrono::Duration::minutes(2);
    let first = store
        .claim_outbox(now, lease, "instance-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.attempts, 1);
    assert!(
        store
            .claim_outbox(now, lease, "instance-2")
            .await
            .unwrap()
            .is_none(),
        "leased"
    );
    assert_eq!(
        store.release_claims("instance-2").await.unwrap(),
        0,
        "not its lease"
    );
    assert_eq!(store.release_claims("instance-1").await.unwrap(), 1);
    let again = store
        .claim_outbox(now, lease, "instance-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (first.id, 1));
}

/// kill -9 during sustained intake, 20 times: every submission answered 201 is there after a
/// restart with its event, website record and outbox row; one that got no answer is either
/// all there or not at all.
async fn acknowledged_intake_survives_kill_9_twenty_times(backend: Backend) {
    const ROUNDS: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let mut pg_name = None;
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("youmen.db").display()),
        Backend::Postgres => {
            let (url, name) = fresh_postgres_database().await;
            pg_name = Some(name);
            url
        }
    };
    let env: Vec<(&str, String)> = vec![
        ("YOUMEN__DATABASE__URL", url.clone()),
        (
            "YOUMEN__HOTLINE__AUDIO_DIR",
            dir.path().join("audio").display().to_string(),
        ),
        // Mail on (to a port nobody listens on): every message queues its confirmation.
        ("YOUMEN__MAIL__SMTP_HOST", "127.0.0.1".into()),
        ("YOUMEN__MAIL__TLS", "none".into()),
        ("YOUMEN__MAIL__SMTP_PORT", free_port().to_string()),
        ("YOUMEN__MAIL__RETRY_BASE_SECONDS", "3600".into()),
        ("YOUMEN__WEBSITE__PER_IP_PER_HOUR", "1000000".into()),
        ("YOUMEN__WEBSITE__PER_IP_PER_DAY", "1000000".into()),
        ("YOUMEN__CALLBACKS__CHECK_SECONDS", "3600".into()),
        ("YOUMEN__OVERSIGHT__SCAN_SECONDS", "3600".into()),
    ];
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let mut acked: Vec<(usize, String)> = Vec::new();
    let mut unanswered: Vec<usize> = Vec::new();
    for round in 0..ROUNDS {
        let mut instance = Instance::start("intake", free_port(), &env, dir.path());
        instance.ready().await;
        let results = Arc::new(Mutex::new(Vec::new()));
        let posters: Vec<_> = (0..8)
            .map(|_| {
                let (client, next, results, base) = (
                    client.clone(),
                    next.clone(),
                    results.clone(),
                    instance.url(""),
                );
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let answer = post(&client, &base, i).await;
                        let stop = answer.is_none();
                        results.lock().unwrap().push((i, answer));
                        if stop {
                            return;
                        }
                    }
                })
            })
            .collect();
        // Under load, after 1 to 20 answers (a different moment each round), the kill.
        let answers = 1 + (round * 7) % 20;
        let deadline = Instant::now() + Duration::from_secs(20);
        while results
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, a)| a.is_some())
            .count()
            < answers
        {
            assert!(
                Instant::now() < deadline,
                "no answers in round {round}: {}",
                instance.log_text()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        instance.kill9();
        for p in posters {
            p.await.unwrap();
        }
        for (i, answer) in results.lock().unwrap().drain(..) {
            match answer {
                Some(number) => acked.push((i, number)),
                None => unanswered.push(i),
            }
        }
    }
    assert!(
        acked.len() >= ROUNDS * 8,
        "too little load to mean anything: {}",
        acked.len()
    );

    // Restart once more (recovery), then look at the database itself.
    let mut instance = Instance::start("intake", free_port(), &env, dir.path());
    instance.ready().await;
    let pool = match backend {
        Backend::Sqlite => Pool::Sqlite(sqlx::SqlitePool::connect(&url).await.unwrap()),
        Backend::Postgres => Pool::Postgres(sqlx::PgPool::connect(&url).await.unwrap()),
    };
    let complete = |phone: String| {
        format!(
            "select count(*) from cases c \
             join website_messages w on w.case_id = c.id \
             where c.phone_e164 = '{phone}' \
             and exists (select 1 from case_events e where e.case_id = c.id and e.action = 'register') \
             and exists (select 1 from outbox o where o.case_id = c.id and o.topic = 'website_confirmation')"
        )
    };
    for (i, number) in &acked {
        let phone = format!("+861390000{i:04}");
        assert_eq!(
            pool.count(&complete(phone)).await,
            1,
            "acknowledged message {i} ({number}) is missing or incomplete"
        );
    }
    for i in &unanswered {
        let phone = format!("+861390000{i:04}");
        let any = pool
            .count(&format!(
                "select count(*) from cases where phone_e164 = '{phone}'"
            ))
            .await;
        let whole = pool.count(&complete(phone)).await;
        assert_eq!(
            any, whole,
            "message {i} got no answer and is there only in part"
        );
    }
    let cases = pool.count("select count(*) from cases").await;
    eprintln!(
        "{backend:?}: {ROUNDS} kills, {} acknowledged, {} unanswered ({} of those committed), {cases} cases",
        acked.len(),
        unanswered.len(),
        cases as usize - acked.len()
    );
    drop(instance);
    if let Some(name) = pg_name {
        drop_postgres_database(name);
    }
}

crate::on_both_backends!(
    released_leases_are_taken_at_once_and_not_counted,
    acknowledged_intake_survives_kill_9_twenty_times
);

/// PostgreSQL restarted under load: while it is down requests fail cleanly with 503 (never a
/// 500, never a hang past the pool's timeout), the service recovers by itself, and nothing
/// acknowledged is lost.
#[tokio::test]
async fn postgresql_restarted_under_load_gives_503_then_recovers() {
    let Some(pg) = crate::helpers::PrivatePostgres::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(&str, String)> = vec![
        ("YOUMEN__DATABASE__URL", pg.url()),
        (
            "YOUMEN__HOTLINE__AUDIO_DIR",
            dir.path().join("audio").display().to_string(),
        ),
        ("YOUMEN__WEBSITE__PER_IP_PER_HOUR", "1000000".into()),
        ("YOUMEN__WEBSITE__PER_IP_PER_DAY", "1000000".into()),
    ];
    let mut instance = Instance::start("pg-restart", free_port(), &env, dir.path());
    instance.ready().await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let base = instance.url("");
    let statuses = Arc::new(Mutex::new(Vec::<(usize, u16, Option<String>)>::new()));
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let next = Arc::new(AtomicUsize::new(0));
    let posters: Vec<_> = (0..4)
        .map(|_| {
            let (client, base, statuses, running, next) = (
                client.clone(),
                base.clone(),
                statuses.clone(),
                running.clone(),
                next.clone(),
            );
            tokio::spawn(async move {
                while running.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let r = client
                        .post(format!("{base}/api/v1/website/messages"))
                        .json(&message(i))
                        .send()
                        .await
                        .expect("youmen answers even with its database down");
                    let status = r.status().as_u16();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    let number = body["case_number"].as_str().map(str::to_owned);
                    statuses.lock().unwrap().push((i, status, number));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    pg.down();
    // Longer than the pool waits for a connection (5 s): requests must give up with 503.
    tokio::time::sleep(Duration::from_secs(8)).await;
    pg.up();
    // Recovery: new submissions succeed again by themselves.
    let deadline = Instant::now() + Duration::from_secs(30);
    let recovered_from = statuses.lock().unwrap().len();
    loop {
        let ok_after = statuses.lock().unwrap()[recovered_from..]
            .iter()
            .filter(|(_, s, _)| *s == 201)
            .count();
        if ok_after >= 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery: {}",
            instance.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    running.store(false, Ordering::SeqCst);
    for p in posters {
        p.await.unwrap();
    }
    let statuses = statuses.lock().unwrap().clone();
    let unavailable = statuses.iter().filter(|(_, s, _)| *s == 503).count();
    let others: Vec<_> = statuses
        .iter()
        .filter(|(_, s, _)| ![201, 503].contains(s))
        .collect();
    assert!(others.is_empty(), "only 201 or 503: {others:?}");
    assert!(unavailable > 0, "the outage was seen: {statuses:?}");
    let pool = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    for (i, _, number) in statuses.iter().filter(|(_, s, _)| *s == 201) {
        let number = number.as_deref().unwrap();
        let (n,): (i64,) = sqlx::query_as("select count(*) from cases where number = $1")
            .bind(number)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 1, "acknowledged message {i} ({number}) was lost");
    }
    eprintln!(
        "{} requests: {} acknowledged, {unavailable} answered 503 while PostgreSQL was down",
        statuses.len(),
        statuses.len() - unavailable
    );
}
