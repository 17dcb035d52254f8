//! The queue at scale: with N cases loaded (default 1,000,000: the channel mix, Chinese
//! descriptions, repeat callers, most cases long closed and the recent ones open), how fast
//! staff get the open queue's first page, a look-up by case number or phone number, and a
//! Chinese substring search, through the store as the HTTP handlers call it, on SQLite and on
//! PostgreSQL. Beside each, a baseline on the same database in the same run: a primary-key
//! read of one case (the floor of any look-up) and, for searches, a plain `LIKE '%…%'` scan
//! for the same first page (what a database without a usable CJK index does).
//!
//!     cargo bench --bench queue                                   # 1,000,000 cases, both backends
//!     BENCH_CASES=200000 BENCH_BACKENDS=sqlite cargo bench --bench queue
//!
//! Each query runs 40 times (after one warm-up); p50 and p95 are reported.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use youmen::domain::{CaseNumber, Channel, Citizen, NewCase, PhoneNumber, Status, Tier};
use youmen::storage::{CaseQuery, Sort, Store, TextQuery};

const RUNS: usize = 40;

/// Share of cases from the pool of repeat callers, and the pool's size per million cases.
const REPEAT_SHARE: f64 = 0.4;
const REPEAT_POOL_PER_MILLION: usize = 20_000;
/// The most recent share of cases still open (the rest closed).
const OPEN_SHARE: f64 = 0.02;

const PHRASES: [&str; 16] = [
    "养老金资格认证",
    "社保卡补办",
    "失业保险金申领",
    "工伤认定",
    "劳动合同纠纷",
    "拖欠工资",
    "职业培训补贴",
    "档案转移",
    "退休审批",
    "医保关系转移",
    "灵活就业登记",
    "创业担保贷款",
    "养老保险关系转续",
    "技能等级证书",
    "人才引进落户",
    "就业困难人员认定",
];
const PLACES: [&str; 6] = [
    "在社保大厅",
    "在就业服务窗口",
    "在档案科",
    "在经办窗口",
    "在乡镇人社所",
    "在网上办事大厅",
];
const OUTCOMES: [&str; 6] = [
    "没办成",
    "被退回",
    "说材料不全",
    "让我改天再来",
    "说系统故障",
    "不给受理也不说原因",
];
const SURNAMES: [char; 8] = ['张', '王', '李', '赵', '刘', '陈', '杨', '黄'];
const GIVEN: [char; 10] = ['伟', '芳', '娜', '敏', '静', '强', '磊', '军', '洋', '勇'];

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Mainland mobile prefixes in use (carriers' ranges), for numbers that parse as real ones.
const MOBILE_PREFIXES: [&str; 24] = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "166", "177", "180", "186", "187", "188", "199",
];

fn mobile(rng: &mut impl Rng) -> String {
    format!(
        "{}{:08}",
        MOBILE_PREFIXES[rng.gen_range(0..MOBILE_PREFIXES.len())],
        rng.gen_range(0..100_000_000u32)
    )
}

struct Generator {
    rng: rand::rngs::StdRng,
    regulars: Vec<String>,
}

impl Generator {
    fn new(n: usize) -> Self {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let pool = (n * REPEAT_POOL_PER_MILLION / 1_000_000).max(10);
        let regulars = (0..pool).map(|_| mobile(&mut rng)).collect();
        Self { rng, regulars }
    }

    /// Case `i` of `n`: received over the last three years, oldest first.
    fn case(&mut self, i: usize, n: usize) -> (NewCase, DateTime<Utc>) {
        let rng = &mut self.rng;
        let span = chrono::Duration::days(3 * 365).num_seconds();
        let received =
            at("2023-11-28T09:00:00+08:00") + chrono::Duration::seconds(span * i as i64 / n as i64);
        let mut description = format!(
            "{}{}{}，已经跑了{}趟",
            PHRASES[rng.gen_range(0..PHRASES.len())],
            PLACES[rng.gen_range(0..PLACES.len())],
            OUTCOMES[rng.gen_range(0..OUTCOMES.len())],
            rng.gen_range(2..6)
        );
        if i == n / 3 {
            description.push_str("，苔藓状皮疹的工伤");
        }
        let name: String = [
            SURNAMES[rng.gen_range(0..8)],
            GIVEN[rng.gen_range(0..10)],
            GIVEN[rng.gen_range(0..10)],
        ]
        .iter()
        .collect();
        // The channel mix of the window: counter 35%, complaint line 25%, business line 20%,
        // website 20%.
        let channel = match rng.gen_range(0..100) {
            0..35 => Channel::Counter,
            35..60 => Channel::ComplaintHotline,
            60..80 => Channel::BusinessHotline,
            _ => Channel::Website,
        };
        let phone = if rng.gen_bool(REPEAT_SHARE) {
            self.regulars[rng.gen_range(0..self.regulars.len())].clone()
        } else {
            mobile(rng)
        };
        let tier = [Tier::Simple, Tier::Complex, Tier::Difficult][rng.gen_range(0..3)];
        let days = match tier {
            Tier::Simple => 1,
            Tier::Complex => 3,
            _ => 5,
        };
        (
            NewCase {
                channel,
                received_at: received,
                citizen: Citizen {
                    name: Some(name),
                    phone: Some(PhoneNumber::from_stored(format!("+86{phone}"), phone)),
                    id_card_masked: None,
                    id_card_digest: None,
                },
                matter: "other".into(),
                description,
                tier,
                deadline: received + chrono::Duration::days(days),
                deadline_provisional: false,
                off_hours: rng.gen_bool(0.3),
                urgent: rng.gen_bool(0.02),
                callback: None,
                consultation: None,
                registered_by: "bench".into(),
                registered_by_id: None,
                failed_at: Default::default(),
            },
            received,
        )
    }
}

struct Timing {
    p50: Duration,
    p95: Duration,
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Runs `f` once to warm up, then `RUNS` times: p50 and p95, and what the last run found.
async fn measure<F, Fut>(mut f: F) -> (Timing, usize)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    f(RUNS).await;
    let mut times = Vec::with_capacity(RUNS);
    let mut found = 0;
    for i in 0..RUNS {
        let t = Instant::now();
        found = f(i).await;
        times.push(t.elapsed());
    }
    times.sort();
    let pick = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    (
        Timing {
            p50: pick(0.5),
            p95: pick(0.95),
        },
        found,
    )
}

/// What the search box makes of `q`, as `GET /api/v1/cases?q=` does.
fn search_box(q: &str) -> TextQuery {
    TextQuery {
        number: q.parse::<CaseNumber>().ok(),
        phone_e164: PhoneNumber::parse(q, &Default::default())
            .ok()
            .flatten()
            .map(|p| p.e164().to_owned()),
        words: q.to_owned(),
    }
}

fn queue_query(text: Option<TextQuery>) -> CaseQuery {
    CaseQuery {
        statuses: if text.is_none() {
            vec![Status::New, Status::InProgress]
        } else {
            Vec::new()
        },
        text,
        sort: Sort::Deadline,
        limit: 50,
        ..CaseQuery::default()
    }
}

#[tokio::main]
async fn main() {
    // `cargo test --benches` runs this too: only measure under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("queue benchmark: run with `cargo bench --bench queue`");
        return;
    }
    let n = support::env_number("BENCH_CASES", 1_000_000);
    let backends = support::backends();
    println!("queue benchmark: {n} cases");
    let mut table = vec![
        "| backend | query | found | p50 | p95 | baseline | baseline p50 | ratio (p50) |"
            .to_owned(),
        "|---|---|---|---|---|---|---|---|".to_owned(),
    ];
    for backend in &backends {
        let db = support::BenchDatabase::create(backend, "queue").await;
        let url = db.url.clone();
        let store: Arc<dyn Store> = youmen::storage::connect(&url, 4).await.unwrap();
        store.migrate().await.unwrap();
        let mut generator = Generator::new(n);
        let t = Instant::now();
        let mut numbers = Vec::new();
        let mut phones = Vec::new();
        let mut batch = Vec::with_capacity(1000);
        for i in 0..n {
            batch.push(generator.case(i, n));
            if batch.len() == 1000 || i + 1 == n {
                let admitted: Vec<_> = batch
                    .iter()
                    .map(|(case, at)| (youmen::domain::Admission::from(case.clone()), *at))
                    .collect();
                for r in store
                    .register(&admitted, "YM", chrono_tz::Asia::Shanghai)
                    .await
                    .unwrap()
                {
                    let case = r.unwrap().into_case().expect("a typed case");
                    if case.id % 997 == 0 {
                        numbers.push(case.number.as_str().to_owned());
                        phones.push(case.citizen.phone.unwrap().original().to_owned());
                    }
                }
                batch.clear();
            }
        }
        let registered = t.elapsed();
        let t = Instant::now();
        let mut indexed = 0;
        loop {
            let k = store
                .index_search_backlog(youmen::storage::SEARCH_INDEX_CHUNK)
                .await
                .unwrap();
            indexed += k;
            if k == 0 {
                break;
            }
        }
        let indexing = t.elapsed();
        // History is closed; the most recent cases are the open queue.
        let pool = support::Pool::connect(&url).await;
        let open_from = (n as f64 * (1.0 - OPEN_SHARE)) as i64;
        pool.execute(&format!(
            "update cases set status = 'closed' where id <= {open_from}"
        ))
        .await;
        pool.execute(&format!(
            "update cases set status = 'in_progress' where id > {open_from} and id % 3 = 0"
        ))
        .await;
        if backend == "postgres" {
            pool.execute("vacuum analyze").await;
        }
        eprintln!(
            "{backend}: {n} cases registered in {:.0} s, {indexed} indexed for search in {:.0} s",
            registered.as_secs_f64(),
            indexing.as_secs_f64()
        );

        let (floor, _) = measure(|i| {
            let pool = &pool;
            async move { pool.by_id(1 + (i as i64 * 7919) % n as i64).await }
        })
        .await;
        let mut row = |query: &str, found: usize, t: &Timing, baseline: &str, b: Duration| {
            table.push(format!(
                "| {backend} | {query} | {found} | {} | {} | {baseline} | {} | {:.1}× |",
                ms(t.p50),
                ms(t.p95),
                ms(b),
                t.p50.as_secs_f64() / b.as_secs_f64()
            ));
        };
        let (t, found) = measure(|_| {
            let store = &store;
            async move {
                store
                    .list_cases(&queue_query(None))
                    .await
                    .unwrap()
                    .cases
                    .len()
            }
        })
        .await;
        row(
            "open queue, first page by deadline",
            found,
            &t,
            "read one case by id",
            floor.p50,
        );
        assert!(
            phones.iter().all(|p| search_box(p).phone_e164.is_some()),
            "every sampled number is a real mobile number"
        );
        for (query, typed) in [
            ("look-up by case number (search box)", &numbers),
            ("look-up by phone (search box)", &phones),
        ] {
            let (t, found) = measure(|i| {
                let (store, q) = (&store, search_box(&typed[i % typed.len()]));
                async move {
                    store
                        .list_cases(&queue_query(Some(q)))
                        .await
                        .unwrap()
                        .cases
                        .len()
                }
            })
            .await;
            row(query, found, &t, "read one case by id", floor.p50);
        }
        for words in ["养老", "工伤认定", "拖欠工资在档案科", "苔藓", "火箭"] {
            let (t, found) = measure(|_| {
                let store = &store;
                async move {
                    store
                        .list_cases(&queue_query(Some(search_box(words))))
                        .await
                        .unwrap()
                        .cases
                        .len()
                }
            })
            .await;
            let like = "select id from cases where lower(description) like $1 \
                        or lower(coalesce(citizen_name, '')) like $1 order by deadline, id limit 50";
            let pattern = format!("%{words}%");
            let (scan, scanned) = measure(|_| {
                let (pool, pattern) = (&pool, pattern.clone());
                async move { pool.ids(like, &pattern).await.len() }
            })
            .await;
            assert_eq!(found, scanned, "both find the same first page for {words}");
            row(&format!("search {words}"), found, &t, "LIKE scan", scan.p50);
        }
        drop(store);
        // The table so far, so a long run shows each engine's results as they come.
        for line in &table {
            eprintln!("{line}");
        }
        // BENCH_KEEP=1 keeps the loaded database, to look at its plans.
        if std::env::var("BENCH_KEEP").is_ok_and(|k| k == "1") {
            eprintln!("kept the database {}", db.keep());
            continue;
        }
        db.drop().await;
    }
    println!();
    for line in table {
        println!("{line}");
    }
}
