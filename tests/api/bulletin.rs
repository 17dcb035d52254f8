//! The conduct bulletin (行风建设通报): a month of cases across three counters and two
//! departments, on real dates of the 2026 calendar, gives a bulletin whose numbers are
//! checked against the cases one by one; the XLSX is read back; events (summons, arrivals,
//! accountability) count in the period they happened; a bad period is named. Both backends.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde_json::{json, Value};
use youmen::domain::Role;

use crate::helpers::{walk_in, Backend, TestApp, PASSWORD};
use crate::staff::Browser;

const COUNTERS: [(&str, &str); 3] = [
    ("pension-benefits", "pensions"),
    ("pension-enrolment", "pensions"),
    ("employment-services", "employment"),
];

async fn a_month_of_cases_makes_its_bulletin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let clerk = app.token("王芳", Role::Counter).await;
    let leader = app.token("赵局长", Role::DutyLeader).await;
    // Every working day of November 2026 (weekdays; November has no holiday), one case a
    // day, a counter in turn; every third a staff-side cause.
    let mut counter_cases: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    let mut department_cases: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    let mut n = 0;
    let mut staff_side_number = None;
    for day in 1..=30 {
        let date = NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        if matches!(date.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) {
            continue;
        }
        let (counter, department) = COUNTERS[n % 3];
        let staff_side = n % 3 == 0;
        let mut body = walk_in();
        body["received_at"] = json!(format!("{date}T10:00:00+08:00"));
        body["failed_counter"] = json!(counter);
        let (status, case) = app.post_json("/api/v1/cases", &clerk, &body).await;
        assert_eq!(status, 201, "{case}");
        let number = case["number"].as_str().unwrap().to_owned();
        if staff_side {
            let (status, r) = app
                .post_json(
                    &format!("/api/v1/cases/{number}/actions"),
                    &clerk,
                    &json!({"action": "classify", "cause": "staff_side"}),
                )
                .await;
            assert_eq!(status, 200, "{r}");
            staff_side_number.get_or_insert(number.clone());
        }
        let c = counter_cases.entry(counter).or_default();
        c.0 += 1;
        c.1 += i64::from(staff_side);
        let d = department_cases.entry(department).or_default();
        d.0 += 1;
        d.1 += i64::from(staff_side);
        n += 1;
    }
    // Outside the month: not counted.
    for at in ["2026-10-30T10:00:00+08:00", "2026-12-01T10:00:00+08:00"] {
        let mut body = walk_in();
        body["received_at"] = json!(at);
        assert_eq!(app.post_json("/api/v1/cases", &clerk, &body).await.0, 201);
    }

    let (status, b) = app
        .get_json("/api/v1/reports?period=2026-11", &leader)
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["title"], "2026年11月");
    assert_eq!(b["statistics"]["total"], n as i64, "{b}");
    let places = |key: &str| -> BTreeMap<String, (i64, i64)> {
        b["counts"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|p: &Value| {
                (
                    p["code"].as_str().unwrap().to_owned(),
                    (
                        p["cases"].as_i64().unwrap(),
                        p["staff_side"].as_i64().unwrap(),
                    ),
                )
            })
            .collect()
    };
    let expect = |m: &BTreeMap<&str, (i64, i64)>| -> BTreeMap<String, (i64, i64)> {
        m.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    };
    assert_eq!(places("by_counter"), expect(&counter_cases));
    assert_eq!(places("by_department"), expect(&department_cases));
    assert_eq!(b["counts"]["place_unknown"], 0);

    // Events count in the month they happen: this month's summons, arrival and accountability.
    let number = staff_side_number.unwrap();
    let path = format!("/api/v1/cases/{number}/actions");
    for step in [
        json!({"action": "accept"}),
        json!({"action": "summon", "department": "pensions", "text": "当场说明"}),
        json!({"action": "record_arrival", "who": "养老保险科负责人"}),
        json!({"action": "resolve", "outcome": "当场补办"}),
        json!({"action": "record_accountability", "accountability_outcome": "admonishment_talk",
               "talk_at": "12月5日", "talk_by": "赵局长", "talked_to": "孙某", "clerk": "孙某",
               "department_head": "李科长", "leader_in_charge": "钱副局长", "reason": "r", "outcome": "o"}),
    ] {
        let (status, r) = app.post_json(&path, &leader, &step).await;
        assert_eq!(status, 200, "{step}: {r}");
    }
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m")
        .to_string();
    let (_, now) = app
        .get_json(&format!("/api/v1/reports?period={today}"), &leader)
        .await;
    assert_eq!(now["counts"]["summons"], 1, "{now}");
    assert_eq!(now["counts"]["arrival_minutes"], json!([0]));
    assert_eq!(now["average_minutes_to_arrive"], 0);
    assert_eq!(
        now["counts"]["accountability"],
        json!([{"outcome": "admonishment_talk", "count": 1}])
    );
    assert!(!now.to_string().contains("孙某"), "counts, never names");
    let (_, november) = app
        .get_json("/api/v1/reports?period=2026-11", &leader)
        .await;
    assert_eq!(november["counts"]["summons"], 0);

    // The XLSX, read back.
    let r = app
        .get("/api/v1/reports?period=2026-11&format=xlsx")
        .bearer_auth(&leader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(r.bytes().await.unwrap().to_vec()))
            .unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    let cell = |r: u32, c: u32| {
        sheet
            .get_value((r, c))
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    assert_eq!(cell(2, 0), "受理总量");
    assert_eq!(cell(2, 2), n.to_string());
    let row = (2..80)
        .find(|r| cell(*r, 1) == "养老保险待遇窗口")
        .expect("the counter's row");
    assert_eq!(
        cell(row, 2),
        counter_cases["pension-benefits"].0.to_string()
    );

    // A bad period, a period to come, a format: each named.
    for (query, field) in [
        ("period=2026-13", "period"),
        ("period=2027-01", "period"),
        ("period=2026-11&format=pdf", "format"),
    ] {
        let (status, r) = app
            .get_json(&format!("/api/v1/reports?{query}"), &leader)
            .await;
        assert_eq!(
            (status, r["error"]["field"].as_str()),
            (422, Some(field)),
            "{query}: {r}"
        );
    }
    // The leaders' page, printable; a clerk's API call is refused.
    app.user("zhao", "赵局", vec![Role::DutyLeader], None).await;
    let mut zhao = Browser::new(&app);
    zhao.sign_in("zhao", PASSWORD).await;
    let (status, page, _) = zhao.get("/staff/reports?period=2026-11").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("2026年11月“办不成事”反映窗口行风建设通报")
            && page.contains("养老保险待遇窗口")
    );
    assert_eq!(
        app.get_json("/api/v1/reports?period=2026-11", &clerk)
            .await
            .0,
        403
    );
}

/// On the first working day of December the past month's bulletin goes out once, through
/// the outbox, to a real SMTP server, with the bulletin attached.
async fn the_bulletin_is_mailed_on_the_first_working_day(backend: Backend) {
    let Some(smtp) = crate::smtp::SmtpServer::start().await else {
        return;
    };
    let to = vec!["juzhang@hrss.example.gov.cn".to_owned()];
    let recipients = to.clone();
    let app = TestApp::spawn_with(backend, move |s| {
        s.mail.smtp_host = "127.0.0.1".into();
        s.mail.smtp_port = smtp.port;
        s.mail.poll_seconds = 1;
        s.oversight.bulletin_recipients = recipients;
    })
    .await;
    let clerk = app.token("王芳", Role::Counter).await;
    let mut body = walk_in();
    body["received_at"] = json!("2026-11-10T10:00:00+08:00");
    assert_eq!(app.post_json("/api/v1/cases", &clerk, &body).await.0, 201);
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let state = app.state();
    // Tuesday 1 December, the month's first working day: once, whoever asks twice.
    let queue =
        |now| youmen::jobs::bulletins::queue_due(state.store.as_ref(), &state.calendar, &to, now);
    assert_eq!(
        queue(at("2026-11-30T09:00:00+08:00")).await.unwrap(),
        3,
        "Monday: October (never sent before) and the two weeks before"
    );
    assert_eq!(
        queue(at("2026-12-01T09:00:00+08:00")).await.unwrap(),
        1,
        "the month's"
    );
    assert_eq!(queue(at("2026-12-01T10:00:00+08:00")).await.unwrap(), 0);
    app.wake_outbox();
    let mails = smtp.wait_for(4, std::time::Duration::from_secs(20)).await;
    let month = mails
        .iter()
        .map(|m| mail_parser::MessageParser::default().parse(m).unwrap())
        .find(|m| m.subject().unwrap().contains("2026年11月"))
        .expect("the month's bulletin");
    assert!(month.subject().unwrap().contains("行风建设通报"));
    assert!(
        month.body_text(0).unwrap().contains("受理 1 件"),
        "{:?}",
        month.body_text(0)
    );
    use mail_parser::MimeHeaders;
    let xlsx = month
        .attachments()
        .find(|a| a.attachment_name().is_some_and(|n| n.ends_with(".xlsx")))
        .expect("the bulletin attached");
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.contents().to_vec())).unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(sheet.get_value((2, 2)).unwrap().to_string(), "1");
}

/// The evaluation ranks counters, departments and staff by the configured weights, shown
/// beside the figures; a leader awards the red flag, on the audit trail.
async fn counters_and_staff_are_ranked_and_a_leader_awards(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let clerk = app.token("王芳", Role::Counter).await;
    let leader = app.token("赵局长", Role::DutyLeader).await;
    // Three failures at the benefits counter (one the staff's doing), one at enrolment.
    for (i, counter) in [
        "pension-benefits",
        "pension-benefits",
        "pension-benefits",
        "pension-enrolment",
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = walk_in();
        body["received_at"] = json!(format!("2026-11-{:02}T10:00:00+08:00", 10 + i));
        body["failed_counter"] = json!(counter);
        let (_, case) = app.post_json("/api/v1/cases", &clerk, &body).await;
        let number = case["number"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/cases/{number}/actions");
        assert_eq!(
            app.post_json(&path, &clerk, &json!({"action": "accept"}))
                .await
                .0,
            200
        );
        if i == 0 {
            let step = json!({"action": "classify", "cause": "staff_side"});
            assert_eq!(app.post_json(&path, &clerk, &step).await.0, 200);
        }
    }
    let (status, e) = app
        .get_json("/api/v1/evaluation?period=2026-11", &leader)
        .await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(e["place_weights"], json!([-1.0, -3.0, 1.0, -2.0, 0.5]));
    let counters: Vec<(&str, f64)> = e["counters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["subject"].as_str().unwrap(), r["score"].as_f64().unwrap()))
        .collect();
    // Counters with nothing against them lead (the likeliest red flags), then these two.
    assert_eq!(counters.len(), 6, "{counters:?}");
    assert_eq!(counters[0].1, 0.0);
    assert_eq!(
        counters[4..],
        [("养老保险参保窗口", -1.0), ("养老保险待遇窗口", -6.0)]
    );
    let pensions = e["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["subject"] == "养老保险科")
        .unwrap();
    assert_eq!(pensions["figures"], json!([4, 1, 0, 0, 0]));
    assert_eq!(e["staff"][0]["subject"], "王芳");
    assert_eq!(e["staff"][0]["figures"], json!([4, 0, 0, 0, 0]));
    // The yearly appraisal; bad periods named.
    assert_eq!(
        app.get_json("/api/v1/evaluation?period=2026", &leader)
            .await
            .0,
        200
    );
    for query in ["period=2030", "period=abc", "period=2026-11&format=pdf"] {
        let (status, r) = app
            .get_json(&format!("/api/v1/evaluation?{query}"), &leader)
            .await;
        assert_eq!(status, 422, "{query}: {r}");
    }
    let csv = app
        .get("/api/v1/evaluation?period=2026-11&format=csv")
        .bearer_auth(&leader)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("没办成的案件（权重 -1）") && csv.contains("养老保险参保窗口"),
        "{csv}"
    );
    // A leader awards the red flag from the page.
    app.user("zhao", "赵局", vec![Role::DutyLeader], None).await;
    let mut zhao = Browser::new(&app);
    zhao.sign_in("zhao", PASSWORD).await;
    let page = zhao.get("/staff/evaluation?period=2026-11").await.1;
    assert!(
        page.contains("×-3") && page.contains("养老保险参保窗口"),
        "the weights beside the figures"
    );
    let csrf = crate::staff::csrf(&page);
    let (status, _, _) = zhao
        .post(
            "/staff/evaluation/award",
            &[
                ("csrf", csrf.as_str()),
                ("period", "2026-11"),
                ("award", "red_flag"),
                ("subject", "养老保险参保窗口"),
                ("reason", "本月失败最少，无窗口人员原因"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    // Not a candidate, twice, or a period not over: refused.
    for (award, subject, period, status) in [
        ("red_flag", "王芳", "2026-11", 422),
        ("red_flag", "养老保险参保窗口", "2026-11", 409),
        ("service_star", "王芳", "2026-12", 409),
    ] {
        let (s, _, _) = zhao
            .post(
                "/staff/evaluation/award",
                &[
                    ("csrf", csrf.as_str()),
                    ("period", period),
                    ("award", award),
                    ("subject", subject),
                    ("reason", "r"),
                ],
            )
            .await;
        assert_eq!(s, status, "{award} {subject} {period}");
    }
    let (_, e) = app
        .get_json("/api/v1/evaluation?period=2026-11", &leader)
        .await;
    assert_eq!(e["awards"][0]["subject"], "养老保险参保窗口");
    assert_eq!(e["awards"][0]["awarded_by"], "赵局");
    assert_eq!(
        app.raw_count("select count(*) from audit_events where action = 'award'")
            .await,
        1
    );
    assert_eq!(
        app.get_json("/api/v1/evaluation?period=2026-11", &clerk)
            .await
            .0,
        403
    );
}

crate::on_both_backends!(
    a_month_of_cases_makes_its_bulletin,
    the_bulletin_is_mailed_on_the_first_working_day,
    counters_and_staff_are_ranked_and_a_leader_awards
);
