//! The next-morning callback list: arrivals at real moments around the 2026 calendar, pushed
//! as real WAV voicemails and website messages, generated, worked and exported over HTTP, on
//! both backends; the list mailed to a real SMTP server; the CLI through the real binary.

use std::time::Duration;

use mail_parser::MimeHeaders;
use serde_json::{json, Value};
use youmen::domain::Role;

use crate::helpers::{json, Backend, TestApp};
use crate::hotline::wav;
use crate::smtp::SmtpServer;

pub(crate) struct Night<'a> {
    app: &'a TestApp,
    pbx: String,
    seq: u32,
}

impl<'a> Night<'a> {
    pub(crate) async fn new(app: &'a TestApp) -> Night<'a> {
        Night {
            pbx: app.token("freepbx", Role::Pbx).await,
            app,
            seq: 0,
        }
    }

    /// A voicemail as the PBX pushes it; `amplitude` 0 is a silent hang-up (a missed call,
    /// which is no case: its number is empty).
    pub(crate) async fn voicemail(
        &mut self,
        hotline: &str,
        caller: &str,
        at: &str,
        urgent: bool,
        amplitude: f64,
    ) -> String {
        self.seq += 1;
        let form = crate::hotline::voicemail_form(
            wav(4.0, amplitude),
            (hotline, caller, at),
            &format!("vm-{}", self.seq),
        )
        .text("urgent", urgent.to_string());
        let (status, body) = json(
            self.app
                .post("/api/v1/hotline/voicemails")
                .bearer_auth(&self.pbx)
                .multipart(form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        match amplitude == 0.0 {
            true => {
                assert_eq!(body["status"], "missed_call", "{body}");
                String::new()
            }
            false => body["case_number"].as_str().unwrap().to_owned(),
        }
    }
}

/// The day's list once the arrivals of its working day are listed (the intake wakes the job
/// that lists them; it answers within moments).
pub(crate) async fn daytime_listed(app: &TestApp, token: &str, date: &str, n: usize) -> Value {
    for _ in 0..100 {
        let day = list(app, token, date).await;
        if day["daytime"].as_array().unwrap().len() >= n {
            return day;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the day's arrivals were not listed within 10 s");
}

pub(crate) async fn list(app: &TestApp, token: &str, date: &str) -> Value {
    let (status, body) = app
        .get_json(&format!("/api/v1/callbacks?date={date}"), token)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

pub(crate) async fn generate(app: &TestApp, admin: &str, date: &str) -> u64 {
    let (status, body) = app
        .post_json("/api/v1/callbacks/generate", admin, &json!({"date": date}))
        .await;
    assert_eq!(status, 200, "{body}");
    body["created"].as_u64().unwrap()
}

fn phones(list: &Value) -> Vec<String> {
    list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["phone"].as_str().unwrap().to_owned())
        .collect()
}

/// The day's own entries, without those carried over from earlier lists.
fn fresh_phones(list: &Value) -> Vec<String> {
    list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["carried_over"] == false)
        .map(|e| e["phone"].as_str().unwrap().to_owned())
        .collect()
}

fn numbers(entry: &Value) -> Vec<String> {
    entry["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["number"].as_str().unwrap().to_owned())
        .collect()
}

async fn each_arrival_lands_on_the_list_of_the_right_working_day(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin", Role::Admin).await;
    let shift = app.token("早班 李", Role::Callback).await;
    let mut night = Night::new(&app).await;
    // Friday night → Monday.
    night
        .voicemail(
            "complaint",
            "13800000001",
            "2026-11-27T19:00:00+08:00",
            false,
            0.5,
        )
        .await;
    // The lunch break → the afternoon opening of the same day.
    night
        .voicemail(
            "complaint",
            "13800000002",
            "2026-11-27T12:30:00+08:00",
            false,
            0.5,
        )
        .await;
    // Wednesday before the National Day holiday → Thursday 8 October.
    night
        .voicemail(
            "business",
            "13800000003",
            "2026-09-30T20:00:00+08:00",
            false,
            0.5,
        )
        .await;
    // Friday 13 February → Saturday 14 February, a make-up working day.
    night
        .voicemail(
            "business",
            "13800000004",
            "2026-02-13T19:30:00+08:00",
            false,
            0.5,
        )
        .await;
    // Saturday 3 January → Sunday 4 January, a make-up working day.
    night
        .voicemail(
            "complaint",
            "13800000005",
            "2026-01-03T10:00:00+08:00",
            false,
            0.5,
        )
        .await;

    // Generated in the order the days come, as the job does; what was not reached carries
    // over to the next list, so each list's own entries are compared.
    let days = [
        ("2026-01-04", "+8613800000005"),
        ("2026-02-14", "+8613800000004"),
        ("2026-10-08", "+8613800000003"),
        ("2026-11-27", "+8613800000002"),
        ("2026-11-30", "+8613800000001"),
    ];
    for (i, (date, phone)) in days.iter().enumerate() {
        let before = list(&app, &shift, date).await;
        assert_eq!(before["generated"], false);
        assert_eq!(fresh_phones(&before), [*phone], "the preview of {date}");
        assert_eq!(
            phones(&before).len(),
            i + 1,
            "with the {i} earlier ones not reached"
        );
        assert_eq!(generate(&app, &admin, date).await, 1, "{date}");
        let after = list(&app, &shift, date).await;
        assert_eq!(after["generated"], true);
        assert_eq!(fresh_phones(&after), [*phone], "the list of {date}");
        assert_eq!(after["progress"]["total"], i + 1);
        assert_eq!(after["progress"]["untried"], i + 1);
        let entry = after["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["phone"] == *phone)
            .unwrap();
        assert_eq!(entry["recordings"].as_array().unwrap().len(), 1);
        assert_eq!(entry["recordings"][0]["duration_seconds"], 4.0);
    }
    // The lunch-break message is due at 13:00, and "first thing" is two working hours.
    let lunch = list(&app, &shift, "2026-11-27").await;
    let lunch = lunch["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["carried_over"] == false)
        .unwrap()
        .clone();
    assert_eq!(lunch["due_at"], "2026-11-27T13:00:00+08:00");
    assert_eq!(lunch["deadline_at"], "2026-11-27T15:00:00+08:00");
    // Generating again changes nothing; a day off has no list.
    assert_eq!(generate(&app, &admin, "2026-11-30").await, 0);
    let (status, body) = app
        .post_json(
            "/api/v1/callbacks/generate",
            &admin,
            &json!({"date": "2026-11-29"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("不是工作日"));
}

async fn a_spring_festival_week_is_one_list_one_entry_per_person_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin", Role::Admin).await;
    let shift = app.token("早班", Role::Callback).await;
    let mut n = Night::new(&app).await;
    // The holiday runs 15–23 February 2026; the window opens again on Tuesday the 24th.
    let a1 = n
        .voicemail(
            "complaint",
            "13900000001",
            "2026-02-15T10:00:00+08:00",
            false,
            0.5,
        )
        .await;
    let a2 = n
        .voicemail(
            "business",
            "13900000001",
            "2026-02-18T22:00:00+08:00",
            false,
            0.5,
        )
        .await;
    let a3 = n
        .voicemail(
            "complaint",
            "\"王先生\" <13900000001>",
            "2026-02-21T09:00:00+08:00",
            false,
            0.5,
        )
        .await;
    n.voicemail(
        "business",
        "13900000002",
        "2026-02-16T08:00:00+08:00",
        false,
        0.5,
    )
    .await;
    n.voicemail(
        "complaint",
        "13900000003",
        "2026-02-22T23:00:00+08:00",
        true,
        0.5,
    )
    .await;
    // A silent hang-up: a missed call, called last.
    n.voicemail(
        "complaint",
        "13900000004",
        "2026-02-15T09:00:00+08:00",
        false,
        0.0,
    )
    .await;
    // No caller ID: listed apart, still counted.
    n.voicemail("business", "", "2026-02-19T11:00:00+08:00", false, 0.5)
        .await;
    // In working hours (Friday morning, every line busy): on that Friday's list at once, in
    // the section of the day's arrivals; not reached, it carries over.
    n.voicemail(
        "complaint",
        "13900000009",
        "2026-02-13T10:00:00+08:00",
        false,
        0.5,
    )
    .await;
    let friday = daytime_listed(&app, &shift, "2026-02-13", 1).await;
    assert_eq!(friday["daytime"][0]["phone"], "+8613900000009");
    assert_eq!(friday["daytime"][0]["due_at"], "2026-02-13T10:00:00+08:00");
    assert_eq!(
        friday["daytime"][0]["deadline_at"], "2026-02-13T12:00:00+08:00",
        "two working hours from the arrival"
    );

    assert_eq!(generate(&app, &admin, "2026-02-24").await, 5);
    let day = list(&app, &shift, "2026-02-24").await;
    let carried: Vec<&Value> = day["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["carried_over"] == true)
        .collect();
    assert_eq!(carried.len(), 1);
    assert_eq!(carried[0]["phone"], "+8613900000009");
    assert_eq!(carried[0]["original_due_at"], "2026-02-13T10:00:00+08:00");
    assert_eq!(
        carried[0]["lists"], 3,
        "Friday the 13th's list, Saturday the 14th's (a make-up working day), then this one"
    );
    assert!(day["daytime"].as_array().unwrap().is_empty());
    assert_eq!(
        fresh_phones(&day),
        [
            "+8613900000003",
            "+8613900000001",
            "+8613900000002",
            "+8613900000004"
        ],
        "urgent first, then oldest first, the missed call last"
    );
    let by_phone = |p: &str| {
        day["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["phone"] == p)
            .unwrap()
            .clone()
    };
    let wang = &by_phone("+8613900000001");
    let mut expected = vec![a1, a2, a3];
    expected.sort();
    expected.dedup();
    let mut got = numbers(wang);
    got.sort();
    assert_eq!(got, expected, "three voicemails, one person, one call");
    assert_eq!(wang["recordings"].as_array().unwrap().len(), 3);
    let missed = by_phone("+8613900000004");
    assert_eq!(missed["kind"], "missed_call");
    assert!(
        missed["cases"].as_array().unwrap().is_empty(),
        "a missed call is no case"
    );
    assert_eq!(missed["calls"].as_array().unwrap().len(), 1);
    assert_eq!(day["unknown_numbers"].as_array().unwrap().len(), 1);
    assert!(day["unknown_numbers"][0]["phone"].is_null());
    assert_eq!(day["progress"]["total"], 6, "five new, one carried over");
    assert_eq!(generate(&app, &admin, "2026-02-13").await, 0);
}

async fn the_morning_shift_claims_calls_and_carries_over(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin", Role::Admin).await;
    let li = app.token("李", Role::Callback).await;
    let zhou = app.token("周", Role::Callback).await;
    let counter = app.token("柜台", Role::Counter).await;
    let mut n = Night::new(&app).await;
    let case_a = n
        .voicemail(
            "complaint",
            "13700000001",
            "2026-11-26T20:00:00+08:00",
            false,
            0.5,
        )
        .await;
    n.voicemail(
        "complaint",
        "13700000002",
        "2026-11-26T21:00:00+08:00",
        false,
        0.5,
    )
    .await;
    generate(&app, &admin, "2026-11-27").await;
    let day = list(&app, &li, "2026-11-27").await;
    let first = day["entries"][0]["id"].as_i64().unwrap();
    let second = day["entries"][1]["id"].as_i64().unwrap();
    assert_eq!(
        app.get_json("/api/v1/callbacks?date=2026-11-27", &counter)
            .await
            .0,
        403
    );

    // Li claims the first; Zhou cannot take it or record on it while Li holds it.
    let (status, claimed) = app
        .post_json(&format!("/api/v1/callbacks/{first}/claim"), &li, &json!({}))
        .await;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["claimed_by"], "李");
    let (status, body) = app
        .post_json(
            &format!("/api/v1/callbacks/{first}/claim"),
            &zhou,
            &json!({}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("李"));
    let attempt_with = |id: i64, who: &str, body: Value| {
        let app = &app;
        let (path, who) = (format!("/api/v1/callbacks/{id}/attempts"), who.to_owned());
        async move { app.post_json(&path, &who, &body).await }
    };
    let attempt = |id: i64, who: &str, outcome: &str| {
        attempt_with(id, who, json!({"outcome": outcome, "note": "早上8:40拨打"}))
    };
    assert_eq!(attempt(first, &zhou, "no_answer").await.0, 409);
    let (status, after) = attempt(first, &li, "no_answer").await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["status"], "open");
    assert_eq!(after["attempts"], 1);
    assert!(
        after["claimed_by"].is_null(),
        "an attempt releases the claim"
    );
    assert!(after["next_attempt_at"].is_string());
    let (status, body) = attempt(first, &li, "callback_later").await;
    assert_eq!(status, 422, "{body}");
    // Another try at once is refused, saying from when; a duty leader may override it, with
    // a reason, and nobody else.
    let (status, body) = attempt(first, &li, "busy").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("too_soon")),
        "{body}"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("以后才能再拨"));
    let override_body = json!({"outcome": "busy", "override_reason": "来电人要求尽快回电"});
    assert_eq!(attempt_with(first, &li, override_body.clone()).await.0, 403);

    // The second person is reached: the case continues, with what they want, owned by Zhou.
    let (status, body) = attempt(second, &zhou, "reached_continues").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("matter")),
        "{body}"
    );
    let (status, body) = attempt_with(
        second,
        &zhou,
        json!({"outcome": "reached_continues", "matter": "pensions"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("summary")),
        "{body}"
    );
    let (status, body) = attempt_with(
        second,
        &zhou,
        json!({"outcome": "reached_continues", "matter": "astrology", "summary": "x"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("matter")),
        "{body}"
    );
    let (status, reached) = attempt_with(
        second,
        &zhou,
        json!({"outcome": "reached_continues", "matter": "pensions", "summary": "养老金资格认证在手机上做不了，要求上门认证"}),
    )
    .await;
    assert_eq!(status, 200, "{reached}");
    assert_eq!(reached["status"], "reached");
    let second_case = reached["cases"][0]["number"].as_str().unwrap().to_owned();
    let (_, case) = app
        .get_json(&format!("/api/v1/cases/{second_case}"), &admin)
        .await;
    assert_eq!(case["status"], "in_progress");
    assert_eq!(case["matter"], "pensions");
    assert_eq!(case["owner"], "周");
    assert_eq!(
        case["description"],
        "养老金资格认证在手机上做不了，要求上门认证"
    );
    let day = list(&app, &li, "2026-11-27").await;
    assert_eq!(day["progress"]["to_retry"], 1);
    assert_eq!(day["progress"]["reached"], 1);

    // Not reached on Friday: carried over to Monday's list.
    generate(&app, &admin, "2026-11-30").await;
    let monday = list(&app, &li, "2026-11-30").await;
    // Monday's list shows the entries still open, carried over, and those finished on
    // Monday or later: the second person's, reached "now" (the attempts are recorded at the
    // real time), once the clock is past Monday.
    let entries = monday["entries"].as_array().unwrap();
    let open: Vec<&Value> = entries.iter().filter(|e| e["status"] == "open").collect();
    assert_eq!(open.len(), 1, "{entries:?}");
    assert_eq!(open[0]["id"], first);
    assert_eq!(open[0]["carried_over"], true);
    assert_eq!(open[0]["original_due_at"], "2026-11-27T08:30:00+08:00");
    assert_eq!(open[0]["lists"], 2);
    assert!(
        entries
            .iter()
            .all(|e| e["id"] == first || (e["id"] == second && e["status"] == "reached")),
        "{entries:?}"
    );
    // A duty leader overrides the wait, with a reason; then one more failure an hour later
    // (the clock driven by the test, through the service): unreachable, for the leader.
    let leader = app.token("值班领导", Role::DutyLeader).await;
    let (status, body) = attempt_with(first, &leader, override_body).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["attempt_log"][1]["note"]
        .as_str()
        .unwrap()
        .contains("来电人要求尽快回电"));
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let li_actor = youmen::domain::Actor {
        name: "李".into(),
        roles: vec![Role::Callback],
        id: None,
    };
    let input = youmen::callbacks::AttemptInput {
        outcome: youmen::domain::Outcome::NoAnswer,
        note: None,
        details: Default::default(),
        override_reason: None,
    };
    let last = app
        .state()
        .callbacks
        .attempt(first, &li_actor, input, later)
        .await
        .unwrap();
    assert_eq!(last.status, youmen::domain::EntryStatus::Unreachable);
    assert_eq!(last.attempt_log.len(), 3);
    let (status, _) = attempt(first, &li, "no_answer").await;
    assert_eq!(status, 409, "a finished entry takes no more attempts");
    let (_, case) = app
        .get_json(&format!("/api/v1/cases/{case_a}"), &admin)
        .await;
    let actions: Vec<&str> = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "callback_attempt").count(),
        3,
        "{actions:?}"
    );
    assert_eq!(
        case["status"], "new",
        "a voicemail whose caller was unreachable stays for the leader"
    );
}

async fn exports_open_in_excel_and_are_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin", Role::Admin).await;
    let shift = app.token("早班 王", Role::Callback).await;
    let mut n = Night::new(&app).await;
    let number = n
        .voicemail(
            "complaint",
            "13600000001",
            "2026-11-26T20:00:00+08:00",
            true,
            0.5,
        )
        .await;
    generate(&app, &admin, "2026-11-27").await;

    let r = app
        .get("/api/v1/callbacks/export?date=2026-11-27&format=csv")
        .bearer_auth(&shift)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = r.bytes().await.unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "a BOM for Excel");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    assert!(text.starts_with("序号,电话,紧急"));
    // Numbers as staff dial them (139 0415 1234), not E.164.
    assert!(text.contains("136 0000 0001") && text.contains(&number) && text.contains("紧急"));

    let r = app
        .get("/api/v1/callbacks/export?date=2026-11-27&format=xlsx")
        .bearer_auth(&shift)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap().to_vec();
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("2026-11-27").unwrap();
    let cell = |r: u32, c: u32| {
        sheet
            .get_value((r, c))
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    assert_eq!(cell(1, 1), "电话");
    assert_eq!(cell(2, 1), "136 0000 0001");
    assert_eq!(cell(2, 6), number);
    assert!(
        cell(0, 6).contains("早班 王"),
        "the file says who produced it"
    );

    let r = app
        .get("/api/v1/callbacks/print?date=2026-11-27")
        .bearer_auth(&shift)
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(
        page.contains("/assets/print/callbacks-print.css")
            && page.contains("136 0000 0001")
            && page.contains("打印人：早班 王")
    );
    let audited = app
        .raw_execute("update audit_events set note = note where action = 'export_callbacks' and actor = '早班 王'")
        .await
        .unwrap();
    assert_eq!(audited, 3, "every export is on the audit trail");
    let (status, _) = app
        .get_json(
            "/api/v1/callbacks/export?date=2026-11-27&format=pdf",
            &shift,
        )
        .await;
    assert_eq!(status, 422);
}

async fn the_list_is_mailed_at_opening_and_generation_runs_once(backend: Backend) {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let app = TestApp::spawn_with(backend, |s| {
        s.mail.smtp_host = "127.0.0.1".into();
        s.mail.smtp_port = smtp.port;
        s.mail.poll_seconds = 1;
        s.callbacks.morning_shift_email = "zaoban@hrss.example.gov.cn".into();
    })
    .await;
    let mut n = Night::new(&app).await;
    n.voicemail(
        "complaint",
        "13500000001",
        "2026-11-26T20:00:00+08:00",
        false,
        0.5,
    )
    .await;
    n.voicemail(
        "business",
        "13500000002",
        "2026-11-26T21:00:00+08:00",
        false,
        0.0,
    )
    .await;
    // The job's step at 08:31 on Friday, from two callers at once: one generation.
    let service = app.state().callbacks.clone();
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-27T08:31:00+08:00")
        .unwrap()
        .to_utc();
    let (a, b) = tokio::join!(service.generate_due(at), service.generate_due(at));
    let created: Vec<Option<usize>> = vec![a.unwrap(), b.unwrap()];
    assert!(
        created.contains(&Some(2)) && created.contains(&None),
        "{created:?}"
    );
    // Before 08:30 nothing is due yet.
    let early = chrono::DateTime::parse_from_rfc3339("2026-11-30T08:00:00+08:00")
        .unwrap()
        .to_utc();
    assert_eq!(service.generate_due(early).await.unwrap(), None);

    let mails = smtp.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mails.len(), 1, "one list, one mail");
    let message = mail_parser::MessageParser::default()
        .parse(&mails[0])
        .unwrap();
    assert!(message
        .subject()
        .unwrap()
        .contains("2026年11月27日回访清单（2 人）"));
    assert!(message
        .body_text(0)
        .unwrap()
        .contains("未留言的未接来电 1 人"));
    let attachment = message.attachments().next().expect("the list attached");
    assert_eq!(
        attachment.attachment_name(),
        Some("callbacks-2026-11-27.csv")
    );
    let csv = String::from_utf8_lossy(attachment.contents()).into_owned();
    assert!(csv.contains("135 0000 0001") && csv.contains("135 0000 0002"));
}

crate::on_both_backends!(
    each_arrival_lands_on_the_list_of_the_right_working_day,
    a_spring_festival_week_is_one_list_one_entry_per_person_in_order,
    the_morning_shift_claims_calls_and_carries_over,
    exports_open_in_excel_and_are_audited,
    the_list_is_mailed_at_opening_and_generation_runs_once,
);

#[test]
fn the_cli_prints_a_day_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("y.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let app = TestApp::spawn_with(Backend::Sqlite, |s| s.database.url = db.clone()).await;
        let mut n = Night::new(&app).await;
        n.voicemail(
            "complaint",
            "13400000001",
            "2026-10-01T10:00:00+08:00",
            false,
            0.5,
        )
        .await;
        n.voicemail(
            "business",
            "13400000001",
            "2026-10-05T10:00:00+08:00",
            false,
            0.5,
        )
        .await;
    });
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_youmen"))
            .args(args)
            .env("YOUMEN__DATABASE__URL", &db)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let out = run(&["callbacks", "generate", "--date", "2026-10-08"]);
    assert!(out.contains("2026-10-08: 1 new entries"), "{out}");
    let out = run(&["callbacks", "--date", "2026-10-08", "--format", "json"]);
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["phone"], "+8613400000001");
    assert_eq!(entries[0]["case_numbers"].as_array().unwrap().len(), 2);
    assert_eq!(
        entries[0]["channels"],
        json!(["complaint_hotline", "business_hotline"])
    );
    assert_eq!(entries[0]["recording_seconds"], json!([4.0, 4.0]));
    assert_eq!(entries[0]["due_at"], "2026-10-08T08:30:00+08:00");
    let table = run(&["callbacks", "--date", "2026-10-08"]);
    assert!(
        table.contains("+8613400000001") && table.contains("录音8秒"),
        "{table}"
    );
}
