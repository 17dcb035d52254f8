//! A morning on the hotlines, driven through `POST /api/v1/cti/{token}` with the event
//! sequences a PBX sends (FORMATS.md §6): an answered call logged with its times; a call
//! that rings out on the business line and lands on today's callback list; a caller who
//! gives up in the queue twice (one entry); an anonymous caller (counted, not listed); an
//! after-hours call that left a voicemail (listed once). Repeats, out-of-order events, bad
//! tokens and bad input too. On both backends.

use serde_json::{json, Value};
use youmen::domain::Role;

use crate::callbacks::{daytime_listed, generate, list};
use crate::helpers::{json as read, Backend, TestApp};
use crate::hotline::{push_voicemail, wav};

/// Posts one event as JSON; the status and body.
async fn event(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    read(
        app.post(&format!("/api/v1/cti/{token}"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Posts one event form-encoded, as many PBX modules do (`user[]` repeated).
async fn form_event(app: &TestApp, token: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    read(
        app.post(&format!("/api/v1/cti/{token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn ok(app: &TestApp, token: &str, body: Value) {
    let (status, answer) = event(app, token, body.clone()).await;
    assert_eq!((status, &answer), (200, &json!({})), "{body}");
}

fn ev(kind: &str, call: &str, from: &str, to: &str, at: &str) -> Value {
    json!({"event": kind, "callId": call, "from": from, "to": to, "direction": "in", "at": at})
}

async fn a_morning_on_the_hotlines(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pbx = app.token("freepbx", Role::Pbx).await;
    let operator = app.token("话务员", Role::Hotline).await;
    let leader = app.token("值班领导", Role::DutyLeader).await;
    app.user("wang", "王话务", vec![Role::Hotline], None).await;

    // Now: a call to the complaint line, answered at extension wang (no `at`: the PBX's
    // events are timed as they arrive, and the call is live on the operators' screens).
    let a = |kind: &str| {
        let mut e = ev(kind, "call-a", "13800001111", "3105883", "");
        e.as_object_mut().unwrap().remove("at");
        e
    };
    ok(&app, &pbx, a("newCall")).await;
    let mut answer = a("answer");
    answer["user"] = json!("wang");
    ok(&app, &pbx, answer.clone()).await;
    // The operator logs it while talking, from the live call.
    let (_, live) = app.get_json("/api/v1/calls/active", &operator).await;
    let call = live
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["caller"] == "+8613800001111")
        .unwrap_or_else(|| panic!("the call is live: {live}"))
        .clone();
    assert_eq!(call["state"], "answered");
    assert_eq!(call["line"], "complaint_hotline");
    assert_eq!(call["caller_display"], "138 0000 1111");
    let (status, case) = app
        .post_json(
            "/api/v1/hotline/calls",
            &operator,
            &json!({"hotline": "complaint", "caller_number": "13800001111", "matter": "wages",
                    "summary": "工资拖欠", "outcome": "answered", "call_id": call["id"]}),
        )
        .await;
    assert_eq!(status, 201, "{case}");
    ok(&app, &pbx, a("hangup").then_cause("normalClearing")).await;
    // Repeated and late events change nothing.
    ok(&app, &pbx, answer).await;
    ok(&app, &pbx, a("hangup").then_cause("cancel")).await;
    let state = app
        .store()
        .call_by_id(call["id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    let linked = app
        .raw_count(&format!(
            "select id from cases where number = '{}'",
            case["number"].as_str().unwrap()
        ))
        .await;
    assert_eq!(state.case_id, Some(linked), "{state:?}");
    assert!(
        state.answered_user_id.is_some() && !state.call.missed(),
        "{state:?}"
    );
    let (answered, ended) = (
        state.call.answered_at.unwrap(),
        state.call.ended_at.unwrap(),
    );
    assert!(
        state.call.started_at <= answered && answered <= ended,
        "{state:?}"
    );
    assert_eq!(
        state.call.cause.map(|c| c.as_str()),
        Some("normalClearing"),
        "the late hangup changed nothing"
    );

    // 09:10: the business line rings out at two extensions (form-encoded, user[] twice).
    let b = |kind: &'static str, at: &'static str| {
        vec![
            ("event", kind),
            ("callId", "call-b"),
            ("from", "013900002222"),
            ("to", "6912333"),
            ("direction", "in"),
            ("at", at),
        ]
    };
    let mut ring = b("newCall", "2026-11-30T09:10:00+08:00");
    ring.extend([("user[]", "801"), ("user[]", "802")]);
    assert_eq!(form_event(&app, &pbx, &ring).await, (200, json!({})));
    let mut gone = b("hangup", "2026-11-30T09:10:40+08:00");
    gone.push(("cause", "noAnswer"));
    assert_eq!(form_event(&app, &pbx, &gone).await, (200, json!({})));

    // 09:20 and 09:25: a caller gives up in the queue twice.
    for (n, (start, end)) in [
        ("2026-11-30T09:20:00+08:00", "2026-11-30T09:20:30+08:00"),
        ("2026-11-30T09:25:00+08:00", "2026-11-30T09:26:00+08:00"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("call-c{n}");
        let c = |kind: &str, at: &str| ev(kind, &id, "13700003333", "3105883", at);
        let mut ring = c("newCall", start);
        ring["queue"] = json!("complaint");
        ok(&app, &pbx, ring).await;
        ok(&app, &pbx, c("hangup", end).then_cause("cancel")).await;
    }

    // 09:30: an anonymous caller hangs up; 09:40 a hangup arrives before its answer.
    ok(
        &app,
        &pbx,
        ev(
            "newCall",
            "call-d",
            "anonymous",
            "3105883",
            "2026-11-30T09:30:00+08:00",
        ),
    )
    .await;
    ok(
        &app,
        &pbx,
        ev(
            "hangup",
            "call-d",
            "anonymous",
            "3105883",
            "2026-11-30T09:30:20+08:00",
        )
        .then_cause("cancel"),
    )
    .await;
    let f = |kind: &str, at: &str| ev(kind, "call-f", "13600006666", "3105883", at);
    ok(&app, &pbx, f("newCall", "2026-11-30T09:40:00+08:00")).await;
    ok(
        &app,
        &pbx,
        f("hangup", "2026-11-30T09:44:00+08:00").then_cause("normalClearing"),
    )
    .await;
    let mut late = f("answer", "2026-11-30T09:40:05+08:00");
    late["answeringNumber"] = json!("801");
    ok(&app, &pbx, late).await;
    // An answer for a call whose newCall was lost still makes a record.
    ok(&app, &pbx, json!({"event": "answer", "callId": "call-g", "user": ["wang"], "at": "2026-11-30T09:50:00+08:00"})).await;

    // Today's list: the rung-out call and the queue abandoner, once each; no anonymous entry.
    let day = daytime_listed(&app, &leader, "2026-11-30", 2).await;
    let daytime = day["daytime"].as_array().unwrap();
    let phones: Vec<&str> = daytime
        .iter()
        .map(|e| e["phone"].as_str().unwrap())
        .collect();
    assert_eq!(phones.len(), 2, "{day}");
    assert!(
        phones.contains(&"+8613900002222") && phones.contains(&"+8613700003333"),
        "{phones:?}"
    );
    let c = daytime
        .iter()
        .find(|e| e["phone"] == "+8613700003333")
        .unwrap();
    // When that caller rings again, the operators see the entry waiting for them.
    let mut again = ev("newCall", "call-c-again", "13700003333", "3105883", "");
    again.as_object_mut().unwrap().remove("at");
    ok(&app, &pbx, again).await;
    let (status, live) = app.get_json("/api/v1/calls/active", &operator).await;
    assert_eq!(status, 200, "{live}");
    let again = live
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["caller"] == "+8613700003333")
        .unwrap_or_else(|| panic!("{live}"));
    assert_eq!(
        again["open_callbacks"].as_array().unwrap().len(),
        1,
        "{again}"
    );
    ok(
        &app,
        &pbx,
        json!({"event": "hangup", "callId": "call-c-again", "cause": "normalClearing"}),
    )
    .await;
    assert_eq!(c["kind"], "missed_call");
    assert_eq!(c["calls"].as_array().unwrap().len(), 2, "{c}");

    // 19:00: after hours, the PBX says the voicemail took the call, and the message comes.
    let h = |kind: &str, at: &str| ev(kind, "call-h", "13500005555", "3105883", at);
    ok(&app, &pbx, h("newCall", "2026-11-30T19:00:00+08:00")).await;
    let mut vm = h("answer", "2026-11-30T19:00:20+08:00");
    vm["user"] = json!("voicemail");
    ok(&app, &pbx, vm).await;
    ok(
        &app,
        &pbx,
        h("hangup", "2026-11-30T19:01:00+08:00").then_cause("normalClearing"),
    )
    .await;
    // 19:30: another caller's PBX reports only a call that rang out, then the message comes.
    let i = |kind: &str, at: &str| ev(kind, "call-i", "13500007777", "6912333", at);
    ok(&app, &pbx, i("newCall", "2026-11-30T19:30:00+08:00")).await;
    ok(
        &app,
        &pbx,
        i("hangup", "2026-11-30T19:30:30+08:00").then_cause("noAnswer"),
    )
    .await;
    for (caller, hotline, at, id) in [
        (
            "13500005555",
            "complaint",
            "2026-11-30T19:00:20+08:00",
            "vm-h",
        ),
        (
            "13500007777",
            "business",
            "2026-11-30T19:30:40+08:00",
            "vm-i",
        ),
    ] {
        push_voicemail(&app, &pbx, (hotline, caller, at), wav(4.0, 0.5), id).await;
    }
    let admin = app.token("管理员", Role::Admin).await;
    generate(&app, &admin, "2026-12-01").await;
    let tuesday = list(&app, &leader, "2026-12-01").await;
    for phone in ["+8613500005555", "+8613500007777"] {
        let entries: Vec<&Value> = tuesday["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["phone"] == phone)
            .collect();
        assert_eq!(entries.len(), 1, "{phone} once: {tuesday}");
        assert_eq!(
            entries[0]["cases"].as_array().unwrap().len(),
            1,
            "{}",
            entries[0]
        );
        assert!(
            entries[0]["calls"].as_array().unwrap().is_empty(),
            "{}",
            entries[0]
        );
    }

    // The statistics: answered per hour and operator with handling time; missed per line.
    let (status, stats) = app
        .get_json("/api/v1/statistics?from=2026-11-30&to=2026-11-30", &leader)
        .await;
    assert_eq!(status, 200, "{stats}");
    let calls = &stats["calls"];
    let operator = |name: &str| {
        calls["by_operator"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["operator"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {calls}"))
    };
    // Extension 801 is nobody's in youmen: the PBX's name stands; 4 min less 5 s.
    let ext = operator("801");
    assert_eq!(
        (ext["answered"].as_i64(), ext["handling_seconds"].as_i64()),
        (Some(1), Some(235)),
        "{calls}"
    );
    assert_eq!(operator("王话务")["answered"], 1, "{calls}");
    let line = |code: &str| {
        calls["by_line"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["line"] == code)
            .cloned()
            .unwrap_or_else(|| panic!("{calls}"))
    };
    // Complaint line: c0, c1, d, f, h; nobody answered c0, c1, the anonymous d, and h (the
    // voicemail took it).
    let complaint = line("complaint_hotline");
    assert_eq!(
        (
            complaint["calls"].as_i64(),
            complaint["answered"].as_i64(),
            complaint["missed"].as_i64()
        ),
        (Some(5), Some(1), Some(4)),
        "{complaint}"
    );
    let business = line("business_hotline");
    assert_eq!(
        (business["calls"].as_i64(), business["missed"].as_i64()),
        (Some(2), Some(2)),
        "{business}"
    );
    let nine = calls["answered_by_hour"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hour"] == 9)
        .unwrap();
    assert_eq!(nine["answered"], 2, "{calls}");
    assert_eq!(stats["missed_calls"]["anonymous"], 1, "{stats}");
    // Both after-hours calls ended before their messages came: superseded by them.
    assert_eq!(stats["missed_calls"]["left_message"], 2, "{stats}");
}

trait Cause {
    fn then_cause(self, cause: &str) -> Value;
}

impl Cause for Value {
    fn then_cause(mut self, cause: &str) -> Value {
        self["cause"] = json!(cause);
        self
    }
}

/// A wrong or missing token looks like no route at all; a token of another role too. Bad
/// events are named, never a 5xx; a flood is refused per token.
async fn the_cti_door_keeps_out_what_it_should(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.hotline.cti.burst = 5;
        s.hotline.cti.events_per_second = 1;
    })
    .await;
    let pbx = app.token("freepbx", Role::Pbx).await;
    let clerk = app.token("窗口", Role::Counter).await;
    let admin = app.token("管理员", Role::Admin).await;
    let good = ev(
        "newCall",
        "x1",
        "13800138000",
        "3105883",
        "2026-11-30T09:00:00+08:00",
    );
    for token in ["nope", clerk.as_str(), admin.as_str()] {
        let (status, body) = event(&app, token, good.clone()).await;
        assert_eq!(status, 404, "{token}: {body}");
        assert_eq!(body["error"]["code"], "no_route", "{body}");
    }
    let (status, body) = event(&app, &pbx, json!({"callId": "x"})).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("event")),
        "{body}"
    );
    let (status, body) = event(
        &app,
        &pbx,
        ev("hangup", "x", "1", "2", "2026-11-30T09:00:00+08:00").then_cause("exploded"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("cause")),
        "{body}"
    );
    let (status, body) = read(
        app.post(&format!("/api/v1/cti/{pbx}"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // Another method, or another path under it, is no route either: the path holds a secret.
    let r = app.get(&format!("/api/v1/cti/{pbx}")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // Control characters in names are dropped, not a failed transaction.
    let mut nul = ev(
        "newCall",
        "x3",
        "13800138000",
        "3105883",
        "2026-12-07T09:00:00+08:00",
    );
    nul["user"] = json!(["80\u{0}1", 802]);
    nul["queue"] = json!("com\u{0}plaint");
    assert_eq!(event(&app, &pbx, nul).await.0, 200);
    // A garbage number is no callback number: the call is kept, the missed call counted.
    let (status, _) = event(
        &app,
        &pbx,
        ev(
            "newCall",
            "x2",
            "++--",
            "3105883",
            "2026-11-30T09:00:00+08:00",
        ),
    )
    .await;
    assert_eq!(status, 200);
    // Five events in a burst, one a second after: a flood is refused.
    let mut refused = None;
    for n in 0..10 {
        let (status, body) = event(&app, &pbx, good.clone()).await;
        if status == 429 {
            refused = Some((n, body));
            break;
        }
        assert_eq!(status, 200, "{body}");
    }
    // The live calls are the operators' (and leaders'): a clerk, a machine, nobody: refused.
    for (token, status) in [(clerk.as_str(), 403), (pbx.as_str(), 403), ("", 401)] {
        assert_eq!(
            app.get_json("/api/v1/calls/active", token).await.0,
            status,
            "{token}"
        );
    }
    let (n, body) = refused.expect("a flood is refused");
    assert!(n <= 2, "refused after {n} more");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
}

/// A call that names whom it rings at pops up on their screens only (by login, name or
/// extension); one that names nobody, on every operator's.
async fn a_call_pops_up_where_it_rings(backend: Backend) {
    use crate::staff::Browser;
    let app = TestApp::spawn(backend).await;
    let pbx = app.token("freepbx", Role::Pbx).await;
    app.user("zhou", "周敏", vec![Role::Hotline], None).await;
    app.user("sun", "孙丽", vec![Role::Hotline], None).await;
    assert!(app
        .store()
        .set_extension("zhou", Some("801"))
        .await
        .unwrap());
    let mut zhou = Browser::new(&app);
    zhou.sign_in("zhou", crate::helpers::PASSWORD).await;
    let mut sun = Browser::new(&app);
    sun.sign_in("sun", crate::helpers::PASSWORD).await;

    let mut ring = ev("newCall", "r1", "13800138000", "3105883", "");
    ring.as_object_mut().unwrap().remove("at");
    ring["user"] = json!(["801"]);
    ok(&app, &pbx, ring.clone()).await;
    let (status, zhou_sees, _) = zhou.get("/staff/calls/live").await;
    assert_eq!(status, 200);
    assert!(zhou_sees.contains("138 0013 8000"), "{zhou_sees}");
    assert!(!sun
        .get("/staff/calls/live")
        .await
        .1
        .contains("138 0013 8000"));
    // Named by display name, and by nobody.
    ring["callId"] = json!("r2");
    ring["from"] = json!("13900139000");
    ring["user"] = json!(["孙丽"]);
    ok(&app, &pbx, ring.clone()).await;
    ring["callId"] = json!("r3");
    ring["from"] = json!("13700137000");
    ring.as_object_mut().unwrap().remove("user");
    ok(&app, &pbx, ring).await;
    let sun_sees = sun.get("/staff/calls/live").await.1;
    assert!(sun_sees.contains("139 0013 9000") && sun_sees.contains("137 0013 7000"));
    assert!(!sun_sees.contains("138 0013 8000"), "{sun_sees}");
    // Once zhou answers the call that rang at everyone, it is on zhou's screen only.
    ok(
        &app,
        &pbx,
        json!({"event": "answer", "callId": "r3", "user": "801"}),
    )
    .await;
    assert!(!sun
        .get("/staff/calls/live")
        .await
        .1
        .contains("137 0013 7000"));
    // The stream pushes the same banners.
    let mut first = None;
    let stream = zhou.get_stream("/staff/calls/stream").await;
    if let Some(chunk) = stream {
        first = Some(chunk);
    }
    let first = first.expect("the stream sends the banners at once");
    assert!(first.starts_with("event: calls"), "{first}");
    assert!(
        first.contains("138 0013 8000") && first.contains("137 0013 7000"),
        "{first}"
    );
}

crate::on_both_backends!(
    a_morning_on_the_hotlines,
    the_cti_door_keeps_out_what_it_should,
    a_call_pops_up_where_it_rings
);

/// With PostgreSQL, a call pushed to one instance pops up on an operator's screen served by
/// another within a second (LISTEN/NOTIFY wakes it; without it, the stream rereads every 5 s).
#[tokio::test]
async fn a_call_pushed_to_one_instance_pops_up_on_another() {
    use crate::staff::Browser;
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let first = TestApp::spawn(backend).await;
    let url = first.database_url.clone();
    let second = TestApp::spawn_with(backend, move |s| s.database.url = url).await;
    let pbx = first.token("freepbx", Role::Pbx).await;
    second.user("zhou", "周敏", vec![Role::Hotline], None).await;
    let mut zhou = Browser::new(&second);
    zhou.sign_in("zhou", crate::helpers::PASSWORD).await;
    // The stream's first message (nothing ringing), then the next one.
    let mut stream = zhou.open_stream("/staff/calls/stream").await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), stream.chunk()).await;
    // Let the second instance's listener settle, then ring on the first.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let rang = std::time::Instant::now();
    let mut ring = ev("newCall", "x-1", "13800138000", "3105883", "");
    ring.as_object_mut().unwrap().remove("at");
    ok(&first, &pbx, ring).await;
    let mut seen = String::new();
    while !seen.contains("138 0013 8000") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(4), stream.chunk())
            .await
            .expect("woken before the 5 s reread")
            .unwrap()
            .expect("the stream goes on");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        rang.elapsed() < std::time::Duration::from_secs(1),
        "across instances in {:?}",
        rang.elapsed()
    );
}
