//! The callback loop, closed: a weekend of voicemail in the Asterisk spool, worked on
//! Monday's list by two clerks at once over HTTP, on both backends. Each call back is the next
//! step of its cases; missed calls are counted, never cases; a working-hours voicemail is on
//! its own day's list; a late callback is told to the duty leader once.

use serde_json::{json, Value};
use youmen::domain::Role;

use crate::callbacks::{daytime_listed, generate, list};
use crate::helpers::{Backend, TestApp};
use crate::hotline::{metadata, wav, Spool};

fn at(local: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(local)
        .unwrap()
        .timestamp()
}

/// The spool of the weekend of 2026-11-28/29, in Asterisk's shapes (FORMATS.md §1).
fn weekend(spool: &Spool) {
    let voice = wav(5.0, 0.5);
    let silence = wav(3.0, 0.0);
    let mut n = 0;
    let mut message = |mailbox: &str, callerid: &str, when: &str, audio: &[u8]| {
        let txt = metadata(callerid, at(when), Some(&format!("{}-{n:08x}", at(when))));
        spool.message(mailbox, "INBOX", n, txt.as_bytes(), &[("wav", audio)]);
        n += 1;
    };
    // 陈女士 leaves a complaint on Saturday night and asks about her pension on Sunday on the
    // business line: two cases, one person to call.
    message(
        "default/3105883",
        "\"陈女士\" <13800000001>",
        "2026-11-28T20:00:00+08:00",
        &voice,
    );
    message(
        "default/6912333",
        "13800000001",
        "2026-11-29T09:30:00+08:00",
        &voice,
    );
    // 刘先生's matter will need work.
    message(
        "default/3105883",
        "<13800000002>",
        "2026-11-28T21:00:00+08:00",
        &voice,
    );
    // A silent hang-up, and one with no number at all: missed calls, not cases.
    message(
        "default/3105883",
        "13800000003",
        "2026-11-29T22:00:00+08:00",
        &silence,
    );
    message(
        "default/6912333",
        "\"Unknown\" <Unknown>",
        "2026-11-29T23:00:00+08:00",
        &silence,
    );
}

fn entry_of<'v>(day: &'v Value, phone: &str) -> &'v Value {
    day["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["phone"] == phone)
        .unwrap_or_else(|| panic!("no entry for {phone} in {day}"))
}

fn case_numbers(entry: &Value) -> Vec<String> {
    entry["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["number"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_weekend_of_calls_is_worked_by_two_clerks_to_its_end(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let audio_dir = dir.path().join("audio");
    let app = TestApp::spawn_with(backend, |s| s.hotline.audio_dir = audio_dir.clone()).await;
    let admin = app.token("admin", Role::Admin).await;
    let li = app.token("李", Role::Callback).await;
    let zhou = app.token("周", Role::Callback).await;
    let leader = app.token("赵局长", Role::DutyLeader).await;

    let spool = Spool::new(dir.path());
    weekend(&spool);
    let mut settings = youmen::config::Settings::load(None).unwrap();
    settings.database.url = app.database_url.clone();
    settings.hotline.audio_dir = audio_dir;
    settings.secrets.key = "test-only key, at least thirty-two bytes long".into();
    let ingestor = youmen::app::ingestor(&settings).await.unwrap();
    let report = ingestor
        .ingest_spool(&spool.root, &|_: usize, _: usize| {})
        .await
        .unwrap();
    assert_eq!(
        (report.ingested, report.missed),
        (3, 2),
        "three voicemails, two missed calls: {report}"
    );
    assert_eq!(
        app.raw_count("select count(*) from cases").await,
        3,
        "a missed call is no case"
    );

    generate(&app, &admin, "2026-11-30").await;
    let monday = list(&app, &li, "2026-11-30").await;
    assert_eq!(monday["entries"].as_array().unwrap().len(), 3, "{monday}");
    let chen = entry_of(&monday, "+8613800000001");
    let liu = entry_of(&monday, "+8613800000002");
    let silent = entry_of(&monday, "+8613800000003");
    assert_eq!(case_numbers(chen).len(), 2, "{chen}");
    assert_eq!(silent["kind"], "missed_call");
    assert!(case_numbers(silent).is_empty(), "{silent}");
    assert_eq!(silent["calls"].as_array().unwrap().len(), 1);
    let (chen_id, liu_id, silent_id) = (
        chen["id"].as_i64().unwrap(),
        liu["id"].as_i64().unwrap(),
        silent["id"].as_i64().unwrap(),
    );
    let chen_cases = case_numbers(chen);
    let liu_case = case_numbers(liu).remove(0);

    // Nobody called back by the end of "first thing" (10:30): the duty leader hears of each
    // caller once, however many instances scan.
    app.user(
        "zhao",
        "赵局长",
        vec![Role::DutyLeader],
        Some("zhao@hrss.example"),
    )
    .await;
    let monday_late = chrono::DateTime::parse_from_rfc3339("2026-11-30T10:45:00+08:00")
        .unwrap()
        .to_utc();
    app.store()
        .set_duty(
            chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            "zhao",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let scanner = |app: &TestApp| {
        youmen::oversight::DeadlineScanner::new(
            app.store(),
            app.state().calendar.clone(),
            settings.oversight.clone(),
            true,
        )
    };
    let (one, two) = (scanner(&app), scanner(&app));
    let (a, b) = tokio::join!(one.scan(monday_late), two.scan(monday_late));
    assert_eq!(a.unwrap().late_callbacks + b.unwrap().late_callbacks, 3);
    assert_eq!(
        scanner(&app)
            .scan(monday_late)
            .await
            .unwrap()
            .late_callbacks,
        0
    );
    assert_eq!(
        app.raw_count("select count(*) from outbox where topic = 'callback_late'")
            .await,
        3,
        "one alarm per late entry"
    );

    // Two clerks at once: 李 takes 陈女士, 周 takes 刘先生.
    let claim = |id: i64, who: &str| {
        let (app, path, who) = (
            &app,
            format!("/api/v1/callbacks/{id}/claim"),
            who.to_owned(),
        );
        async move { app.post_json(&path, &who, &json!({})).await }
    };
    let attempt = |id: i64, who: &str, body: Value| {
        let (app, path, who) = (
            &app,
            format!("/api/v1/callbacks/{id}/attempts"),
            who.to_owned(),
        );
        async move { app.post_json(&path, &who, &body).await }
    };
    let (a, b) = tokio::join!(claim(chen_id, &li), claim(liu_id, &zhou));
    assert_eq!((a.0, b.0), (200, 200), "{} / {}", a.1, b.1);
    let (status, body) = attempt(
        liu_id,
        &li,
        json!({"outcome": "reached_resolved", "answer": "x"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("周"),
        "names who holds it: {body}"
    );
    let (status, body) = attempt(chen_id, &li, json!({"outcome": "reached_resolved"})).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("answer")),
        "{body}"
    );
    let answer = "养老金已于11月25日发放，到账需3个工作日；投诉事项已向社保科核实并当面解释";
    let summary = "失业保险金申领被告知缺材料，但窗口未一次性告知所需材料，要求说明";
    let (a, b) = tokio::join!(
        attempt(
            chen_id,
            &li,
            json!({"outcome": "reached_resolved", "answer": answer, "note": "8:40 拨通"})
        ),
        attempt(
            liu_id,
            &zhou,
            json!({"outcome": "reached_continues", "matter": "employment", "summary": summary})
        ),
    );
    assert_eq!((a.0, b.0), (200, 200), "{} / {}", a.1, b.1);
    assert_eq!(
        (a.1["status"].as_str(), b.1["status"].as_str()),
        (Some("resolved"), Some("reached"))
    );

    // 陈女士's two messages are closed as consultations answered on the call back.
    for number in &chen_cases {
        let (_, case) = app
            .get_json(&format!("/api/v1/cases/{number}"), &leader)
            .await;
        assert_eq!(case["status"], "closed", "{case}");
        assert_eq!(case["consultation"], true);
        let answered: Vec<&Value> = case["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "answered_by_callback")
            .collect();
        assert_eq!(answered.len(), 1, "{case}");
        assert!(answered[0]["note"].as_str().unwrap().contains(answer));
    }
    // 刘先生's case takes what he wants, stays in the queue owned by 周, due from today.
    let (_, case) = app
        .get_json(&format!("/api/v1/cases/{liu_case}"), &leader)
        .await;
    assert_eq!(case["matter"], "employment");
    assert_eq!(case["description"], summary);
    assert_eq!(case["owner"], "周");
    assert_eq!(case["status"], "in_progress");
    let deadline = chrono::DateTime::parse_from_rfc3339(case["deadline"].as_str().unwrap())
        .unwrap()
        .to_utc();
    assert!(deadline > chrono::Utc::now(), "due from today: {case}");

    // The silent caller: three tries an hour apart (the clock driven by the test), then
    // unreachable, and still no case.
    let (status, body) = attempt(silent_id, &zhou, json!({"outcome": "no_answer"})).await;
    assert_eq!(status, 200, "{body}");
    let zhou_actor = youmen::domain::Actor {
        name: "周".into(),
        roles: vec![Role::Callback],
        id: None,
    };
    let no_answer = || youmen::callbacks::AttemptInput {
        outcome: youmen::domain::Outcome::NoAnswer,
        note: None,
        details: Default::default(),
        override_reason: None,
    };
    let callbacks = &app.state().callbacks;
    let now = chrono::Utc::now();
    let early = callbacks
        .attempt(
            silent_id,
            &zhou_actor,
            no_answer(),
            now + chrono::Duration::minutes(30),
        )
        .await;
    assert!(early.is_err(), "half an hour later is too soon");
    let second = callbacks
        .attempt(
            silent_id,
            &zhou_actor,
            no_answer(),
            now + chrono::Duration::minutes(61),
        )
        .await
        .unwrap();
    assert_eq!(second.status, youmen::domain::EntryStatus::Open);
    let third = callbacks
        .attempt(
            silent_id,
            &zhou_actor,
            no_answer(),
            now + chrono::Duration::minutes(122),
        )
        .await
        .unwrap();
    assert_eq!(third.status, youmen::domain::EntryStatus::Unreachable);
    assert_eq!(app.raw_count("select count(*) from cases").await, 3);

    // The statistics of the weekend count both answers and every missed call.
    let (status, stats) = app
        .get_json("/api/v1/statistics?from=2026-11-28&to=2026-11-29", &leader)
        .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["consultations"], 2);
    assert_eq!(stats["answered_by_callback"], 2);
    assert_eq!(
        stats["missed_calls"],
        json!({"total": 2, "anonymous": 1, "answered": 0, "continued": 0, "unreachable": 1, "left_message": 0, "waiting": 0})
    );
    let day = list(&app, &li, "2026-11-30").await;
    assert_eq!(
        (
            &day["progress"]["resolved"],
            &day["progress"]["reached"],
            &day["progress"]["unreachable"]
        ),
        (&json!(1), &json!(1), &json!(1)),
        "{}",
        day["progress"]
    );
}

async fn a_voicemail_left_while_every_line_was_busy_is_on_that_days_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let li = app.token("李", Role::Callback).await;
    let mut night = crate::callbacks::Night::new(&app).await;
    // Friday 2026-11-27 10:15, in working hours, and a silent one at 10:20.
    let number = night
        .voicemail(
            "business",
            "13900000009",
            "2026-11-27T10:15:00+08:00",
            false,
            0.5,
        )
        .await;
    night
        .voicemail(
            "business",
            "13900000010",
            "2026-11-27T10:20:00+08:00",
            false,
            0.0,
        )
        .await;
    let friday = daytime_listed(&app, &li, "2026-11-27", 2).await;
    let daytime = friday["daytime"].as_array().unwrap();
    let vm = daytime
        .iter()
        .find(|e| e["phone"] == "+8613900000009")
        .expect("the voicemail is on Friday's list");
    assert_eq!(vm["cases"][0]["number"], number);
    // "First thing" counts from arrival: two working hours, the lunch break not counted.
    assert_eq!(vm["deadline_at"], "2026-11-27T13:15:00+08:00");
    let missed = daytime
        .iter()
        .find(|e| e["phone"] == "+8613900000010")
        .expect("the missed call is on Friday's list");
    assert_eq!(missed["kind"], "missed_call");
    assert!(friday["entries"].as_array().unwrap().is_empty());
}

crate::on_both_backends!(
    a_weekend_of_calls_is_worked_by_two_clerks_to_its_end,
    a_voicemail_left_while_every_line_was_busy_is_on_that_days_list,
);
