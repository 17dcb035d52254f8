//! The case queue, driven over HTTP the way staff clients use it. Every test here runs on
//! SQLite and on PostgreSQL.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use youmen::domain::Role;

use crate::helpers::{json, new_case, walk_in, Backend, TestApp};

async fn register(app: &TestApp, token: &str, body: &Value) -> Value {
    let (status, case) = app.post_json("/api/v1/cases", token, body).await;
    assert_eq!(status, 201, "{case}");
    case
}

async fn act(app: &TestApp, token: &str, number: &str, body: Value) -> (u16, Value) {
    app.post_json(&format!("/api/v1/cases/{number}/actions"), token, &body)
        .await
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let (status, page) = app.get_json(&format!("/api/v1/cases?{query}"), token).await;
    assert_eq!(status, 200, "{page}");
    page
}

fn numbers(page: &Value) -> Vec<String> {
    page["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["number"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_registered_case_is_numbered_and_shown_with_its_timeline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("王芳", Role::Counter).await;
    let response = app
        .post("/api/v1/cases")
        .bearer_auth(&token)
        .json(&walk_in())
        .send()
        .await
        .unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (status, case) = json(response).await;
    assert_eq!(status, 201);
    let number = case["number"].as_str().unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y%m%d")
        .to_string();
    assert_eq!(number, format!("YM-{today}-0001"));
    assert_eq!(location, format!("/api/v1/cases/{number}"));
    assert_eq!(case["citizen"]["phone"], "+8613800138000");
    assert_eq!(case["citizen"]["phone_original"], "138 0013 8000");
    assert_eq!(case["status"], "new");
    assert_eq!(case["tier"], "simple");
    assert!(case["received_at"].as_str().unwrap().ends_with("+08:00"));

    let (status, shown) = app.get_json(&location, &token).await;
    assert_eq!(status, 200);
    assert_eq!(shown["number"], number);
    let timeline = shown["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0]["action"], "register");
    assert_eq!(timeline[0]["actor"], "王芳");
}

async fn concurrent_registrations_get_gap_free_unique_numbers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("hotline-1", Role::Hotline).await;
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let (client, url, token) = (
                app.client.clone(),
                format!("{}/api/v1/cases", app.address),
                token.clone(),
            );
            let mut body = walk_in();
            body["description"] = json!(format!("第{i}位来电群众反映工资拖欠"));
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut sequences = BTreeSet::new();
    for task in tasks {
        let (status, case) = json(task.await.unwrap()).await;
        assert_eq!(status, 201, "{case}");
        let number = case["number"].as_str().unwrap();
        sequences.insert(number.rsplit('-').next().unwrap().parse::<u32>().unwrap());
    }
    assert_eq!(sequences, (1..=24).collect::<BTreeSet<_>>());
}

async fn an_evening_entry_is_off_hours_and_due_at_the_close_of_the_next_working_day(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("hotline-1", Role::Hotline).await;
    let mut body = walk_in();
    body["channel"] = json!("complaint_hotline");
    body["received_at"] = json!("2026-11-27T19:30:00+08:00"); // a Friday evening
    let case = register(&app, &token, &body).await;
    assert_eq!(case["off_hours"], true);
    assert_eq!(case["deadline"], "2026-11-30T17:00:00+08:00");
    assert_eq!(case["deadline_provisional"], false);

    // Received on the Friday before a make-up Sunday: due at that Sunday's close.
    body["received_at"] = json!("2026-09-18T15:00:00+08:00");
    let case = register(&app, &token, &body).await;
    assert_eq!(case["off_hours"], false);
    assert_eq!(case["deadline"], "2026-09-20T17:00:00+08:00");
}

async fn a_case_goes_from_registration_to_closure_with_every_step_on_its_timeline(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let counter = app.token("李娜", Role::Counter).await;
    let leader = app.token("赵局长", Role::DutyLeader).await;
    // Registered without saying where it failed.
    let mut body = walk_in();
    body.as_object_mut().unwrap().remove("failed_counter");
    let number = register(&app, &counter, &body).await["number"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, r) = act(&app, &counter, &number, json!({"action": "accept"})).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["case"]["owner"], "李娜");
    assert_eq!(r["case"]["status"], "in_progress");
    assert_eq!(r["event"]["before"]["status"], "new");

    // A staff-side failure is counted against its place: first say where it was.
    let (status, r) = act(
        &app,
        &counter,
        &number,
        json!({"action": "classify", "cause": "staff_side"}),
    )
    .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("department_missing")),
        "{r}"
    );
    for (body, field) in [
        (
            json!({"failed_counter": "nowhere", "reason": "r"}),
            "failed_counter",
        ),
        (
            json!({"failed_department": "nowhere", "reason": "r"}),
            "failed_department",
        ),
    ] {
        let (status, r) = app
            .post_json(
                &format!("/api/v1/cases/{number}/correction"),
                &counter,
                &body,
            )
            .await;
        assert_eq!(
            (status, r["error"]["field"].as_str()),
            (422, Some(field)),
            "{r}"
        );
    }
    let (status, r) = app
        .post_json(
            &format!("/api/v1/cases/{number}/correction"),
            &counter,
            &json!({"failed_counter": "pension-benefits", "failed_clerk": "王五", "reason": "当事人说明是在养老待遇窗口"}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        r["case"]["failed_department"], "pensions",
        "the counter brings its department: {r}"
    );
    let (status, r) = act(
        &app,
        &counter,
        &number,
        json!({"action": "classify", "cause": "staff_side"}),
    )
    .await;
    assert_eq!(
        (status, r["case"]["cause"].as_str()),
        (200, Some("staff_side"))
    );

    let (status, r) = act(
        &app,
        &counter,
        &number,
        json!({"action": "escalate", "reason": "需中心党委研究"}),
    )
    .await;
    assert_eq!((status, r["case"]["tier"].as_str()), (200, Some("complex")));
    assert_eq!(r["event"]["note"], "需中心党委研究");

    let (status, _) = act(
        &app,
        &counter,
        &number,
        json!({"action": "add_note", "text": "已约部门负责人到窗口"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, r) = act(
        &app,
        &counter,
        &number,
        json!({"action": "resolve", "outcome": "当场办结"}),
    )
    .await;
    assert_eq!(
        (status, r["case"]["status"].as_str()),
        (200, Some("resolved"))
    );
    // A staff-side cause: closure waits for the duty leader's accountability record.
    let (status, r) = act(&app, &counter, &number, json!({"action": "close"})).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("accountability_missing"))
    );
    let (status, _) = act(
        &app,
        &leader,
        &number,
        json!({"action": "record_accountability", "accountability_outcome": "criticism_education", "clerk": "孙某", "department_head": "李科长",
               "leader_in_charge": "钱副局长", "reason": "推诿", "outcome": "通报批评"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, r) = act(&app, &counter, &number, json!({"action": "close"})).await;
    assert_eq!(
        (status, r["case"]["status"].as_str()),
        (200, Some("closed"))
    );

    // Reopening a closed case is the duty leader's call.
    let (status, r) = act(
        &app,
        &counter,
        &number,
        json!({"action": "reopen", "reason": "群众再次反映"}),
    )
    .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, r) = act(
        &app,
        &leader,
        &number,
        json!({"action": "reopen", "reason": "群众再次反映"}),
    )
    .await;
    assert_eq!(
        (status, r["case"]["status"].as_str()),
        (200, Some("in_progress"))
    );

    let (_, shown) = app
        .get_json(&format!("/api/v1/cases/{number}"), &counter)
        .await;
    let actions: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "register",
            "accept",
            "correct",
            "classify",
            "escalate",
            "add_note",
            "resolve",
            "record_accountability",
            "close",
            "reopen"
        ]
    );
    assert_eq!(shown["owner"], "李娜", "the first asker stays the owner");
}

async fn an_action_from_the_wrong_state_is_a_409_that_says_why(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("李娜", Role::Counter).await;
    let number = register(&app, &token, &walk_in()).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, r) = act(&app, &token, &number, json!({"action": "close"})).await;
    assert_eq!(status, 409);
    assert_eq!(r["error"]["code"], "not_allowed_in_status");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("待受理"),
        "{r}"
    );

    act(&app, &token, &number, json!({"action": "accept"})).await;
    let (status, r) = act(
        &app,
        &token,
        &number,
        json!({"action": "resolve", "outcome": "已办"}),
    )
    .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("cause_not_classified"))
    );

    // A client that pins the version it saw is told when the case moved on.
    let (status, r) = act(
        &app,
        &token,
        &number,
        json!({"action": "add_note", "text": "x", "expected_version": 1}),
    )
    .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("edit_conflict"))
    );
}

async fn the_queue_filters_searches_and_sorts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("王芳", Role::Counter).await;
    let mut old = walk_in();
    old["received_at"] = json!("2026-03-02T10:00:00+08:00");
    old["description"] = json!("工资被拖欠三个月");
    old["phone"] = json!("0415-3105883");
    let old = register(&app, &token, &old).await;
    let mut web = walk_in();
    web["channel"] = json!("website");
    web["citizen_name"] = json!("李四");
    web["phone"] = json!("13912345678");
    web["description"] = json!("社保卡补办进度查询不到");
    let web = register(&app, &token, &web).await;
    let counter = register(&app, &token, &walk_in()).await;

    assert_eq!(
        numbers(&list(&app, &token, "channel=website").await),
        [web["number"].as_str().unwrap()]
    );
    // The same phone number written another way finds the case.
    assert_eq!(
        numbers(&list(&app, &token, "q=3105883").await),
        [old["number"].as_str().unwrap()]
    );
    assert_eq!(
        numbers(&list(&app, &token, "q=%2B86%20139%201234%205678").await),
        [web["number"].as_str().unwrap()]
    );
    // A case number, typed in lower case.
    let lower = counter["number"].as_str().unwrap().to_lowercase();
    assert_eq!(
        numbers(&list(&app, &token, &format!("q={lower}")).await),
        [counter["number"].as_str().unwrap()]
    );
    // Two Chinese characters of the description, or the name.
    assert_eq!(
        numbers(&list(&app, &token, "q=工资").await),
        [old["number"].as_str().unwrap()]
    );
    assert_eq!(
        numbers(&list(&app, &token, "q=李四").await),
        [web["number"].as_str().unwrap()]
    );
    // LIKE wildcards are searched for literally.
    assert!(numbers(&list(&app, &token, "q=%25").await).is_empty());

    // The March case is long past its deadline.
    assert_eq!(
        numbers(&list(&app, &token, "overdue=true").await),
        [old["number"].as_str().unwrap()]
    );
    assert_eq!(
        list(&app, &token, "overdue=false").await["cases"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        numbers(&list(&app, &token, "received_to=2026-04-01").await),
        [old["number"].as_str().unwrap()]
    );
    assert_eq!(
        list(
            &app,
            &token,
            "received_from=2026-04-01&status=new,in_progress"
        )
        .await["cases"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Deadline order puts the overdue case first; arrival order puts it last.
    assert_eq!(
        numbers(&list(&app, &token, "sort=deadline").await)[0],
        old["number"].as_str().unwrap()
    );
    assert_eq!(
        numbers(&list(&app, &token, "sort=received").await)
            .last()
            .unwrap(),
        old["number"].as_str().unwrap()
    );
}

async fn paging_walks_the_whole_queue_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("王芳", Role::Counter).await;
    for day in 1..=7 {
        let mut body = walk_in();
        body["received_at"] = json!(format!("2026-11-{:02}T10:00:00+08:00", 10 + day % 3));
        register(&app, &token, &body).await;
    }
    for sort in ["deadline", "received"] {
        let mut seen = Vec::new();
        let mut query = format!("sort={sort}&limit=3");
        loop {
            let page = list(&app, &token, &query).await;
            seen.extend(numbers(&page));
            match page["next_cursor"].as_str() {
                Some(cursor) => query = format!("sort={sort}&limit=3&cursor={cursor}"),
                None => break,
            }
        }
        let unique: BTreeSet<_> = seen.iter().collect();
        assert_eq!((seen.len(), unique.len()), (7, 7), "{sort}: {seen:?}");
    }
}

async fn timeline_events_cannot_be_edited_or_deleted_even_in_the_database(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("王芳", Role::Counter).await;
    register(&app, &token, &walk_in()).await;
    let update = app
        .raw_execute("update case_events set actor = 'someone else'")
        .await;
    assert!(update.unwrap_err().contains("append-only"));
    let delete = app.raw_execute("delete from case_events").await;
    assert!(delete.unwrap_err().contains("append-only"));
}

async fn a_search_no_database_accepts_is_refused_with_a_422(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("王芳", Role::Counter).await;
    // PostgreSQL refuses NUL in text: it must never get that far.
    let (status, r) = app.get_json("/api/v1/cases?q=a%00b", &token).await;
    assert_eq!(
        (status, r["error"]["field"].as_str()),
        (422, Some("q")),
        "{r}"
    );
    let long = "长".repeat(201);
    let (status, _) = app
        .get_json(&format!("/api/v1/cases?q={long}"), &token)
        .await;
    assert_eq!(status, 422);
}

async fn a_bare_to_date_includes_that_whole_day(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("王芳", Role::Counter).await;
    let mut body = walk_in();
    body["received_at"] = json!("2026-03-02T16:30:00+08:00");
    let case = register(&app, &token, &body).await;
    let page = list(
        &app,
        &token,
        "received_from=2026-03-02&received_to=2026-03-02",
    )
    .await;
    assert_eq!(numbers(&page), [case["number"].as_str().unwrap()]);
    assert!(numbers(&list(&app, &token, "received_to=2026-03-01").await).is_empty());
}

async fn a_group_commit_numbers_its_batch_without_gaps_even_when_one_fails(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let now = chrono::Utc::now();
    let case = |description: &str| new_case(description, now);
    // PostgreSQL refuses a NUL in text: that item fails inside its savepoint, the others
    // commit, and the day's numbers have no hole. (SQLite stores it: all three commit.)
    let batch = [
        (case("一"), now),
        (case("bad\u{0}text"), now),
        (case("三"), now),
    ];
    let results = crate::helpers::register_typed(app.store().as_ref(), &batch).await;
    let sequences: Vec<u32> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|c| {
            c.number
                .as_str()
                .rsplit('-')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(sequences, (1..=sequences.len() as u32).collect::<Vec<_>>());
    assert!(results[0].is_ok() && results[2].is_ok());
    assert_eq!(results[1].is_err(), backend == Backend::Postgres);
}

/// ID-card digests made before they were keyed (a salted SHA-256 whose salt shipped in the
/// defaults) are re-keyed under the instance's secret at start-up, so the repeat visitor is
/// still recognised, and the number is shown masked as numbers now are.
async fn an_id_card_registered_before_digests_were_keyed_is_still_recognised(backend: Backend) {
    use sha2::Digest;
    let old = TestApp::spawn(backend).await;
    let clerk = old.token("王芳", Role::Counter).await;
    let mut body = walk_in();
    body["id_card"] = json!("11010519491231002X");
    let (status, case) = old.post_json("/api/v1/cases", &clerk, &body).await;
    assert_eq!(status, 201, "{case}");
    // As the row was before: the unkeyed digest, the older mask.
    let settings = youmen::config::Settings::load(None).unwrap();
    let unkeyed = hex::encode(sha2::Sha256::digest(
        format!("{}:11010519491231002X", settings.intake.id_card_pepper).as_bytes(),
    ));
    old.raw_execute(&format!(
        "update cases set id_card_digest = '{unkeyed}', id_card_masked = '110105********002X', \
         id_card_keyed = false"
    ))
    .await
    .unwrap();
    let (url, dir) = (old.database_url.clone(), old.data_dir().join("secrets"));
    let upgraded = TestApp::spawn_with(backend, |s| {
        s.database.url = url.clone();
        s.secrets.dir = dir.clone();
    })
    .await;
    let (_, detail) = upgraded
        .get_json(
            &format!("/api/v1/cases/{}", case["number"].as_str().unwrap()),
            &clerk,
        )
        .await;
    assert_eq!(detail["citizen"]["id_card_masked"], "11**************2X");
    let mut settings = youmen::config::Settings::load(None).unwrap();
    settings.secrets.dir = dir;
    let secrets = youmen::secrets::Secrets::load(&settings).unwrap();
    let rules = settings.intake_rules(&secrets);
    let digest = youmen::domain::citizen::IdCardNumber::parse("11010519491231002X")
        .unwrap()
        .digest(&rules.id_card_pepper, &rules.id_card_key);
    assert_ne!(digest, unkeyed);
    let found = upgraded
        .store()
        .cases_of_person(None, Some(&digest), None, 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "the repeat visitor is recognised");
    assert_eq!(found[0].number.as_str(), case["number"].as_str().unwrap());
    assert_eq!(
        upgraded
            .raw_count("select count(*) from cases where id_card_keyed = false")
            .await,
        0
    );
}

crate::on_both_backends!(
    an_id_card_registered_before_digests_were_keyed_is_still_recognised,
    a_group_commit_numbers_its_batch_without_gaps_even_when_one_fails,
    a_search_no_database_accepts_is_refused_with_a_422,
    a_bare_to_date_includes_that_whole_day,
    a_registered_case_is_numbered_and_shown_with_its_timeline,
    concurrent_registrations_get_gap_free_unique_numbers,
    an_evening_entry_is_off_hours_and_due_at_the_close_of_the_next_working_day,
    a_case_goes_from_registration_to_closure_with_every_step_on_its_timeline,
    an_action_from_the_wrong_state_is_a_409_that_says_why,
    the_queue_filters_searches_and_sorts,
    paging_walks_the_whole_queue_once,
    timeline_events_cannot_be_edited_or_deleted_even_in_the_database,
);
