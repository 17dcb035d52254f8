//! Search by any two or more characters, on both engines, through the character-bigram
//! index youmen builds (FTS5 trigrams and pg_trgm would miss 养老 and 工资).

use serde_json::json;
use youmen::domain::Role;

use crate::helpers::{new_case, walk_in, Backend, TestApp};

async fn found_descriptions(app: &TestApp, token: &str, q: &str) -> Vec<String> {
    let path = format!("/api/v1/cases?q={}&sort=received", urlencode(q));
    let (status, body) = app.get_json(&path, token).await;
    assert_eq!(status, 200, "{body}");
    body["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["description"].as_str().unwrap().to_owned())
        .collect()
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

async fn two_characters_find_chinese_words_anywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("柜台", Role::Counter).await;
    for (name, text) in [
        ("张三", "养老金资格认证在社保窗口办不了"),
        ("李四", "单位拖欠工资三个月"),
        ("王五", "失业保险金申领被退回"),
        ("赵老", "办理养老保险关系转移"),
    ] {
        let mut body = walk_in();
        body["citizen_name"] = json!(name);
        body["description"] = json!(text);
        let (status, r) = app.post_json("/api/v1/cases", &token, &body).await;
        assert_eq!(status, 201, "{r}");
    }
    assert_eq!(found_descriptions(&app, &token, "养老").await.len(), 2);
    assert_eq!(
        found_descriptions(&app, &token, "工资").await,
        ["单位拖欠工资三个月"]
    );
    assert_eq!(
        found_descriptions(&app, &token, "养老金").await,
        ["养老金资格认证在社保窗口办不了"]
    );
    // Both pairs of 金资 and 资格 exist in one case, but "金格" as such nowhere.
    assert!(found_descriptions(&app, &token, "金格").await.is_empty());
    assert_eq!(
        found_descriptions(&app, &token, "赵老").await,
        ["办理养老保险关系转移"]
    );
    assert_eq!(
        found_descriptions(&app, &token, "0013 8000").await.len(),
        4,
        "the phone as typed"
    );
    // A whole number is a look-up, whatever its format.
    for typed in ["13800138000", "+86 138-0013-8000"] {
        assert_eq!(
            found_descriptions(&app, &token, typed).await.len(),
            4,
            "{typed}"
        );
    }

    // Cases not indexed yet (the last moments' intake, or a database upgraded in place) are
    // found by their text, and the indexer job catches up by itself.
    app.raw_execute(&format!("delete from {}", app.search_table()))
        .await
        .unwrap();
    app.raw_execute(
        "insert into search_backlog (case_id) select id from cases where true on conflict do nothing",
    )
    .await
    .unwrap();
    assert_eq!(found_descriptions(&app, &token, "工资").await.len(), 1);
    assert_eq!(found_descriptions(&app, &token, "养老").await.len(), 2);
    assert!(found_descriptions(&app, &token, "金格").await.is_empty());
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while app.raw_count("select count(*) from search_backlog").await > 0 {
        assert!(
            std::time::Instant::now() < until,
            "the backlog was not indexed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.raw_count(&format!(
            "select count(*) from {} where gram = '工资'",
            app.search_grams()
        ))
        .await,
        1
    );
    assert_eq!(found_descriptions(&app, &token, "工资").await.len(), 1);
    assert_eq!(found_descriptions(&app, &token, "养老").await.len(), 2);
}

/// A case is found from the moment it is acknowledged, while the search indexer takes the
/// backlog at the same time: each search runs right after its case is registered, racing the
/// job (which, in this test, indexes continuously).
async fn a_new_case_is_found_while_the_indexer_runs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("柜台", Role::Counter).await;
    let stems = "甲乙丙丁戊己庚辛壬癸";
    let store = app.store();
    let indexer = tokio::spawn(async move {
        loop {
            store.index_search_backlog(1).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    });
    for (i, a) in stems.chars().enumerate() {
        for b in stems.chars().skip(i + 1).take(4) {
            let mut body = walk_in();
            body["description"] = json!(format!("档案{a}{b}不见了"));
            let (status, r) = app.post_json("/api/v1/cases", &token, &body).await;
            assert_eq!(status, 201, "{r}");
            let found = found_descriptions(&app, &token, &format!("{a}{b}")).await;
            assert!(
                found.contains(&format!("档案{a}{b}不见了")),
                "{a}{b}: {found:?}"
            );
        }
    }
    indexer.abort();
}

crate::on_both_backends!(
    two_characters_find_chinese_words_anywhere,
    a_new_case_is_found_while_the_indexer_runs
);

/// Upgrading PostgreSQL to one array of bigrams per case (migration 0019) carries the index
/// over from its rows: the cases indexed before are found through the index at once, with
/// nothing queued to index again.
#[tokio::test]
async fn postgres_upgrade_carries_the_search_index_over() {
    if Backend::postgres().await.is_none() {
        return;
    }
    let (url, name) = crate::helpers::fresh_postgres_database().await;
    let _database = crate::helpers::Database(name);
    // The schema as it was: every migration before 0019, from copies of their files.
    let before = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir("migrations/postgres").unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if file.as_str() < "20261202000019" {
            std::fs::copy(&path, before.path().join(&file)).unwrap();
        }
    }
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(before.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let store = youmen::storage::connect(&url, 2).await.unwrap();
    let texts = ["工资拖欠三个月", "养老金认证", "失业金没到账"];
    for (i, text) in texts.into_iter().enumerate() {
        // Cases as that schema held them (today's code writes columns it did not have yet).
        let (id,): (i64,) = sqlx::query_as(
            "insert into cases (number, channel, received_at, matter, description, cause, tier, \
             status, deadline, deadline_provisional, off_hours, consultation, urgent, created_at, \
             updated_at, version) values ($1, 'website', now(), 'other', $2, 'unclassified', \
             'simple', 'new', now(), false, false, false, false, now(), now(), 1) returning id",
        )
        .bind(format!("YM-20261202-{:04}", i + 1))
        .bind(text)
        .fetch_one(&pool)
        .await
        .unwrap();
        // Indexed the old way: a row per bigram, the backlog row gone.
        for gram in
            youmen::domain::search::grams(&youmen::domain::search::indexed_text(None, None, text))
        {
            sqlx::query("insert into case_grams (gram, case_id) values ($1, $2)")
                .bind(gram)
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        }
    }
    sqlx::query("delete from search_backlog")
        .execute(&pool)
        .await
        .unwrap();
    let (rows,): (i64,) = sqlx::query_as("select count(*) from case_grams")
        .fetch_one(&pool)
        .await
        .unwrap();

    store.migrate().await.unwrap();
    let (arrays, grams, waiting): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from case_search), \
                (select count(*) from case_search, unnest(grams)), \
                (select count(*) from search_backlog)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((arrays, grams, waiting), (3, rows, 0));
    for (words, found) in [
        ("工资", 1),
        ("金", 2),
        ("金认证", 1),
        ("没到", 1),
        ("火箭", 0),
    ] {
        let query = youmen::storage::CaseQuery {
            text: Some(youmen::storage::TextQuery {
                words: words.to_owned(),
                ..Default::default()
            }),
            limit: 50,
            ..Default::default()
        };
        let page = store.list_cases(&query).await.unwrap();
        assert_eq!(page.cases.len(), found, "{words}");
    }
    pool.close().await;
}

/// On SQLite the search index is a file of its own, `youmen.search.db`. A lost one (deleted,
/// or left out of a restored backup) is rebuilt from the cases when youmen next opens the
/// database.
#[tokio::test]
async fn sqlite_rebuilds_a_lost_search_index_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("youmen.db");
    let url = format!("sqlite://{}", db.display());
    let now = chrono::Utc::now();
    {
        let store = youmen::storage::connect(&url, 2).await.unwrap();
        store.migrate().await.unwrap();
        for text in ["工资拖欠三个月", "养老金认证", "失业金没到账"] {
            crate::helpers::register_typed(store.as_ref(), &[(new_case(text, now), now)])
                .await
                .remove(0)
                .unwrap();
        }
        while store.index_search_backlog(100).await.unwrap() > 0 {}
    }
    let search = youmen::storage::search_file(&db);
    assert_eq!(search, dir.path().join("youmen.search.db"));
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", search.display());
        let _ = std::fs::remove_file(file);
    }
    let store = youmen::storage::connect(&url, 2).await.unwrap();
    store.migrate().await.unwrap();
    // The service's indexer job does this in the background.
    while store.index_search_backlog(100).await.unwrap() > 0 {}
    let pool = crate::helpers::sqlite_raw_pool(&url).await.unwrap();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&pool).await.unwrap();
            n
        }
    };
    assert_eq!(count("select count(*) from search_backlog").await, 0);
    assert_eq!(
        count("select count(distinct case_id) from case_grams").await,
        3
    );
    assert_eq!(
        count("select count(*) from case_grams where gram = '工资'").await,
        1
    );
}

/// The reason the SQLite search index has a file of its own: its writer (the indexer) and
/// intake never wait for each other. Here the search file's write lock is held the whole
/// time; a registration still commits at once.
#[tokio::test]
async fn sqlite_intake_does_not_wait_for_the_search_index_writer() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("youmen.db");
    let url = format!("sqlite://{}", db.display());
    let store = youmen::storage::connect(&url, 2).await.unwrap();
    store.migrate().await.unwrap();
    let search = youmen::storage::search_file(&db);
    let mut holder = sqlx::SqliteConnection::connect(&format!("sqlite://{}", search.display()))
        .await
        .unwrap();
    sqlx::query("begin immediate")
        .execute(&mut holder)
        .await
        .unwrap();
    sqlx::query("insert into case_grams (gram, case_id) values ('占用', 0)")
        .execute(&mut holder)
        .await
        .unwrap();
    let registered = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        crate::helpers::register_typed(
            store.as_ref(),
            &[(new_case("工资拖欠", chrono::Utc::now()), chrono::Utc::now())],
        ),
    )
    .await
    .expect("intake waited for the search index's write lock");
    assert!(registered.iter().all(Result::is_ok), "{registered:?}");
    sqlx::query("rollback").execute(&mut holder).await.unwrap();
}
