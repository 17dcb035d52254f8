//! Search benchmark: the queue's search box over many cases, through youmen's bigram index,
//! beside the same search as a plain `LIKE` scan (what the index replaces) in the same run on
//! the same database.
//!
//!     cargo bench --bench search                         # 200,000 cases, SQLite and PostgreSQL
//!     BENCH_CASES=1000000 BENCH_BACKENDS=sqlite cargo bench --bench search
//!
//! Each query is run 15 times; the median is reported.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use youmen::domain::{Channel, Citizen, NewCase, PhoneNumber, Tier};
use youmen::storage::{CaseQuery, Sort, Store, TextQuery};

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

fn postgres_admin_url() -> String {
    std::env::var("YOUMEN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn case(rng: &mut impl Rng, i: usize) -> (NewCase, DateTime<Utc>) {
    let received = at("2026-01-05T09:00:00+08:00") + chrono::Duration::minutes(i as i64 / 2);
    let mut description = format!(
        "{}{}{}，已经跑了{}趟",
        PHRASES[rng.gen_range(0..PHRASES.len())],
        PLACES[rng.gen_range(0..PLACES.len())],
        OUTCOMES[rng.gen_range(0..OUTCOMES.len())],
        rng.gen_range(2..6)
    );
    if i == 4242 {
        description.push_str("，苔藓状皮疹的工伤");
    }
    let name: String = [
        SURNAMES[rng.gen_range(0..8)],
        GIVEN[rng.gen_range(0..10)],
        GIVEN[rng.gen_range(0..10)],
    ]
    .iter()
    .collect();
    let phone = format!("139{:08}", rng.gen_range(0..100_000_000u32));
    (
        NewCase {
            channel: [
                Channel::Counter,
                Channel::ComplaintHotline,
                Channel::Website,
            ][i % 3],
            received_at: received,
            citizen: Citizen {
                name: Some(name),
                phone: Some(PhoneNumber::from_stored(format!("+86{phone}"), phone)),
                id_card_masked: None,
                id_card_digest: None,
            },
            matter: "other".into(),
            description,
            tier: Tier::Simple,
            deadline: received + chrono::Duration::days(1),
            deadline_provisional: false,
            off_hours: false,
            urgent: false,
            callback: None,
            consultation: None,
            registered_by: "bench".into(),
        },
        received,
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn indexed(store: &Arc<dyn Store>, words: &str) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..15 {
        let q = CaseQuery {
            text: Some(TextQuery {
                number: None,
                phone_e164: None,
                words: words.into(),
            }),
            sort: Sort::Deadline,
            limit: 50,
            ..CaseQuery::default()
        };
        let t = Instant::now();
        found = store.list_cases(&q).await.unwrap().cases.len();
        times.push(t.elapsed());
    }
    (median(times), found)
}

/// The same search without the index: the first page of `LIKE` matches by deadline.
async fn like_scan(url: &str, words: &str) -> (Duration, usize) {
    let sql = "select id from cases where lower(description) like $1 or lower(coalesce(citizen_name, '')) like $1 \
               order by deadline, id limit 51";
    let pattern = format!("%{words}%");
    let mut times = Vec::new();
    let mut found = 0;
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        for _ in 0..15 {
            let t = Instant::now();
            found = sqlx::query(sql)
                .bind(&pattern)
                .fetch_all(&pool)
                .await
                .unwrap()
                .len()
                .min(50);
            times.push(t.elapsed());
        }
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        for _ in 0..15 {
            let t = Instant::now();
            found = sqlx::query(sql)
                .bind(&pattern)
                .fetch_all(&pool)
                .await
                .unwrap()
                .len()
                .min(50);
            times.push(t.elapsed());
        }
    }
    (median(times), found)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!("{n} cases");
    println!(
        "| backend | search | found (first page) | bigram index | LIKE scan (baseline) | ratio |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for backend in backends.split(',') {
        let dir = tempfile::tempdir().unwrap();
        let (url, pg) = match backend {
            "sqlite" => (
                format!("sqlite://{}", dir.path().join("bench.db").display()),
                None,
            ),
            _ => {
                let name = format!("youmen_search_{}", std::process::id());
                let admin = sqlx::PgPool::connect(&postgres_admin_url()).await.unwrap();
                sqlx::query(&format!("create database {name}"))
                    .execute(&admin)
                    .await
                    .unwrap();
                let base = postgres_admin_url();
                let base = base
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_owned())
                    .unwrap_or(base);
                (format!("{base}/{name}"), Some((admin, name)))
            }
        };
        let store: Arc<dyn Store> = youmen::storage::connect(&url, 4).await.unwrap();
        store.migrate().await.unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let t = Instant::now();
        let all: Vec<_> = (0..n).map(|i| case(&mut rng, i)).collect();
        for chunk in all.chunks(1000) {
            for r in store
                .register_cases(chunk, "YM", chrono_tz::Asia::Shanghai)
                .await
                .unwrap()
            {
                r.unwrap();
            }
        }
        eprintln!(
            "{backend}: {n} cases registered in {:.0} s",
            t.elapsed().as_secs_f64()
        );
        if url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query("analyze").execute(&pool).await.unwrap();
        }
        for words in ["养老", "工伤认定", "拖欠工资在档案科", "苔藓", "火箭"] {
            let (ti, fi) = indexed(&store, words).await;
            let (tl, fl) = like_scan(&url, words).await;
            assert_eq!(fi, fl, "both find the same first page for {words}");
            println!(
                "| {backend} | {words} | {fi} | {:.1} ms | {:.1} ms | {:.2}× |",
                ti.as_secs_f64() * 1000.0,
                tl.as_secs_f64() * 1000.0,
                ti.as_secs_f64() / tl.as_secs_f64()
            );
        }
        if let Some((admin, name)) = pg {
            sqlx::query(&format!("drop database if exists {name} with (force)"))
                .execute(&admin)
                .await
                .unwrap();
        }
    }
}
