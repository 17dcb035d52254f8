//! The website channel as visitors and the bureau's website use it: the HTML form posted
//! without JavaScript, tracking, the JSON API, spam defence, and the confirmation e-mail
//! received by a real SMTP server.

use std::time::Duration;

use serde_json::{json, Value};
use youmen::config::Settings;
use youmen::domain::Role;

use crate::helpers::{Backend, TestApp};
use crate::smtp::{free_port, SmtpServer};

const SUBMITTED: &str =
    "社保卡补办，窗口说系统故障让我改天再来，已经跑了三趟 <script>alert('x')</script>";

/// Limits high enough for a test to submit freely; no minimum fill time.
fn relaxed(s: &mut Settings) {
    s.website.min_fill_seconds = 0;
    s.website.per_ip_per_hour = 1000;
    s.website.per_ip_per_day = 1000;
    s.website.track_per_ip_per_hour = 1000;
}

fn with_mail(s: &mut Settings, port: u16) {
    relaxed(s);
    s.mail.smtp_host = "127.0.0.1".into();
    s.mail.smtp_port = port;
    s.mail.tls = "none".into();
    s.mail.retry_base_seconds = 1;
    s.mail.poll_seconds = 1;
    s.website.public_base_url = "https://youmen.example.gov.cn".into();
}

/// The value of a hidden input in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("the field is on the page") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// The text of the element with this id (each sits on its own line), tags stripped.
fn by_id(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("#{id} on the page"));
    let start = start + html[start..].find('>').unwrap() + 1;
    let end = html[start..].find('\n').map_or(html.len(), |e| start + e);
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.trim().to_owned()
}

async fn get_page(app: &TestApp, path: &str) -> (u16, String) {
    let r = app.get(path).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Fills in and posts the form the way a browser would (urlencoded, with its token).
async fn post_form(app: &TestApp, fields: &[(&str, &str)]) -> (u16, String) {
    let (_, form) = get_page(app, "/message").await;
    let token = hidden(&form, "form_token");
    let mut body: Vec<(&str, &str)> = vec![("form_token", &token), ("lang", "zh")];
    body.extend_from_slice(fields);
    let r = app.post("/message").form(&body).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn good_form() -> Vec<(&'static str, &'static str)> {
    vec![
        ("name", "王大爷"),
        ("phone", "138 0013 8000"),
        ("email", ""),
        ("matter", "social_insurance_card"),
        ("description", SUBMITTED),
        ("consent", "yes"),
    ]
}

fn api_message(phone: &str, text: &str) -> Value {
    json!({"name": "李阿姨", "phone": phone, "matter": "pensions", "description": text, "consent": true})
}

async fn staff_cases(app: &TestApp) -> Vec<Value> {
    let token = app.token("counter-1", Role::Counter).await;
    let (status, body) = app.get_json("/api/v1/cases?channel=website", &token).await;
    assert_eq!(status, 200, "{body}");
    body["cases"].as_array().unwrap().clone()
}

async fn a_visitor_fixes_a_mistake_then_sends_a_message(backend: Backend) {
    let app = TestApp::spawn_with(backend, relaxed).await;
    let (status, page) = get_page(&app, "/message").await;
    assert_eq!(status, 200);
    assert!(page.contains("<html lang=\"zh-CN\">"));
    assert!(page.contains("<label class=\"label\" for=\"phone\">电话号码</label>"));

    // No consent and a bad phone: both explained, everything typed kept.
    let mut fields = good_form();
    fields[1] = ("phone", "12345");
    fields.retain(|(k, _)| *k != "consent");
    let (status, page) = post_form(&app, &fields).await;
    assert_eq!(status, 422);
    assert!(page.starts_with("<!doctype html>"));
    assert!(page.contains("<title>错误："));
    assert!(page.contains("<a href=\"#phone\">电话号码无效"));
    assert!(page.contains("<a href=\"#consent\">请勾选同意"));
    assert!(page.contains("value=\"王大爷\""));
    assert!(page.contains("value=\"12345\""));
    assert!(page.contains("value=\"social_insurance_card\" checked"));
    // Typed text comes back escaped, never as markup.
    assert!(page.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;"));
    assert!(!page.contains("<script>alert"));
    assert!(staff_cases(&app).await.is_empty(), "nothing stored yet");

    let (status, page) = post_form(&app, &good_form()).await;
    assert_eq!(status, 200, "{page}");
    let number = by_id(&page, "case-number");
    let code = by_id(&page, "tracking-code");
    assert!(number.starts_with("YM-"), "{number}");
    assert_eq!(code.len(), 11);
    assert!(page.contains("与您联系"));

    let cases = staff_cases(&app).await;
    assert_eq!(cases.len(), 1);
    let case = &cases[0];
    assert_eq!(case["number"], number);
    assert_eq!(case["channel"], "website");
    assert_eq!(case["description"], SUBMITTED, "stored exactly as written");
    assert_eq!(case["citizen"]["phone"], "+8613800138000");
    assert_eq!(case["callback"]["kind"], "message");
    assert_eq!(case["matter"], "social_insurance_card");
}

async fn bots_are_refused_quietly(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        relaxed(s);
        s.website.min_fill_seconds = 3;
    })
    .await;
    // Posted the instant the form was served.
    let (status, page) = post_form(&app, &good_form()).await;
    assert_eq!(status, 200);
    assert!(page.contains("请核对您填写的内容，然后再次提交"));
    assert!(
        page.contains("value=\"王大爷\""),
        "a hurried person keeps their text"
    );
    // A forged token and a filled honeypot.
    let mut fields = good_form();
    fields.push(("form_token", "1.deadbeef"));
    let r = app.post("/message").form(&fields).send().await.unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let (_, form) = get_page(&app, "/message").await;
    let token = hidden(&form, "form_token");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let mut fields = good_form();
    fields.push(("form_token", &token));
    fields.push(("homepage", "http://cheap-pills.example"));
    let r = app.post("/message").form(&fields).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(staff_cases(&app).await.is_empty(), "no bot made a case");
    // The same token without the honeypot, after the fill time: a person gets through.
    let mut fields = good_form();
    fields.push(("form_token", &token));
    let r = app.post("/message").form(&fields).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("id=\"case-number\""));
    assert_eq!(staff_cases(&app).await.len(), 1);
    // Once: the same token again, with another message, is refused quietly.
    let mut fields = good_form();
    fields[4] = ("description", "另一条留言，用同一张表单再发一次");
    fields.push(("form_token", &token));
    let r = app.post("/message").form(&fields).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("这张表单已经提交过了"), "{page}");
    assert_ne!(hidden(&page, "form_token"), token, "with a fresh token");
    assert_eq!(staff_cases(&app).await.len(), 1);
}

async fn the_same_message_twice_folds_into_one_case(backend: Backend) {
    let app = TestApp::spawn_with(backend, relaxed).await;
    let post = |body: Value| {
        let app = &app;
        async move {
            let r = app
                .post("/api/v1/website/messages")
                .json(&body)
                .send()
                .await
                .unwrap();
            crate::helpers::json(r).await
        }
    };
    let (status, first) = post(api_message("13900139000", "养老金 认证办不了")).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["duplicate"], false);
    assert_eq!(first["tracking_code"].as_str().unwrap().len(), 11);
    assert!(first["expected_response"]["zh"]
        .as_str()
        .unwrap()
        .contains("与您联系"));
    // A resubmission with different spacing folds; another text or phone does not.
    let (status, again) = post(api_message("139 0013 9000", "养老金  认证办不了 ")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["case_number"], first["case_number"]);
    assert!(again["tracking_code"].is_null());
    let (status, other) = post(api_message("13900139000", "工资被拖欠")).await;
    assert_eq!(status, 201);
    assert_ne!(other["case_number"], first["case_number"]);
    assert_eq!(staff_cases(&app).await.len(), 2);

    // The form folds the same way, and says so.
    let (_, page) = post_form(&app, &good_form()).await;
    let number = by_id(&page, "case-number");
    let (_, page) = post_form(&app, &good_form()).await;
    assert!(page.contains("您已提交过这条留言"));
    assert_eq!(by_id(&page, "case-number"), number);
    assert!(!page.contains("tracking-code"));
}

async fn limits_per_address_answer_429_and_keep_the_text(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        relaxed(s);
        s.website.per_ip_per_hour = 2;
        s.website.track_per_ip_per_hour = 2;
    })
    .await;
    for text in ["一", "二"] {
        let r = app
            .post("/api/v1/website/messages")
            .json(&api_message("13900139000", text))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let r = app
        .post("/api/v1/website/messages")
        .json(&api_message("13900139000", "三"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let (_, body) = crate::helpers::json(r).await;
    assert_eq!(body["error"]["code"], "rate_limited");
    let (status, page) = post_form(&app, &good_form()).await;
    assert_eq!(status, 429);
    assert!(page.contains("提交的留言太多了"));
    assert!(page.contains("value=\"王大爷\""));
    assert_eq!(staff_cases(&app).await.len(), 2);
    // Tracking look-ups have their own limit.
    for _ in 0..2 {
        let (status, _) = track(&app, "YM-20260101-0001", "AAAAA-AAAAA", None).await;
        assert_eq!(status, 404);
    }
    let (status, page) = track(&app, "YM-20260101-0001", "AAAAA-AAAAA", None).await;
    assert_eq!(status, 429);
    assert!(page.contains("查询的次数太多了"));
}

/// Posts the tracking form, from `from` (an address the proxy vouches for) if given.
async fn track(app: &TestApp, case: &str, code: &str, from: Option<&str>) -> (u16, String) {
    let mut request = app.post("/track").form(&[("case", case), ("code", code)]);
    if let Some(ip) = from {
        request = request.header("x-forwarded-for", ip);
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A visitor's code keeps working until a clerk, having checked who is asking, confirms a new
/// receipt; then the old one stops and the timeline says so.
async fn a_new_receipt_replaces_a_visitors_code_only_when_the_clerk_confirms(backend: Backend) {
    let app = TestApp::spawn_with(backend, relaxed).await;
    app.user("wang", "王芳", vec![youmen::domain::Role::Counter], None)
        .await;
    let (_, page) = post_form(&app, &good_form()).await;
    let number = by_id(&page, "case-number");
    let code = by_id(&page, "tracking-code");
    let mut b = crate::staff::Browser::new(&app);
    b.sign_in("wang", crate::helpers::PASSWORD).await;
    let (_, case_page, _) = b.get(&format!("/staff/cases/{number}")).await;
    assert!(case_page.contains("换发新查询码"), "the page warns first");
    let csrf = crate::staff::csrf(&case_page);
    let receipt = format!("/staff/cases/{number}/receipt");
    let (status, body, _) = b.post(&receipt, &[("csrf", &csrf)]).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        track(&app, &number, &code, None).await.0,
        200,
        "the old code still works"
    );
    let (status, printed, _) = b
        .post(&receipt, &[("csrf", &csrf), ("reissue", "yes")])
        .await;
    assert_eq!(status, 200);
    let new_code = by_id(&printed, "receipt-code");
    assert_ne!(new_code.trim(), code);
    assert_eq!(
        track(&app, &number, &code, None).await.0,
        404,
        "the old code stops"
    );
    assert_eq!(track(&app, &number, new_code.trim(), None).await.0, 200);
    let (_, case_page, _) = b.get(&format!("/staff/cases/{number}")).await;
    assert!(case_page.contains("原查询码作废"));
}

/// Someone who knows a complainant's phone number learns nothing from it, and a case number
/// guessed at from many addresses stops answering before a code could be guessed: wrong
/// codes count against the case, right ones do not.
async fn only_the_tracking_code_proves_a_case_and_wrong_codes_count_per_case(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        relaxed(s);
        s.website.trust_forwarded_for = true;
        s.website.track_failures_per_case_per_hour = 4;
    })
    .await;
    let (_, page) = post_form(&app, &good_form()).await;
    let number = by_id(&page, "case-number");
    let code = by_id(&page, "tracking-code");

    // The phone number given, in any shape, proves nothing.
    for phone in ["13800138000", "138 0013 8000", "+86 138 0013 8000"] {
        let (status, page) = track(&app, &number, phone, Some("203.0.113.1")).await;
        assert_eq!(status, 404, "{phone} tracked the case");
        assert!(!page.contains("id=\"status\""));
    }
    // Right codes, however many, are not failures.
    for _ in 0..5 {
        let (status, page) = track(&app, &number, &code, Some("203.0.113.2")).await;
        assert_eq!(status, 200);
        assert!(page.contains("id=\"status\""));
    }
    // A fourth wrong code (from yet another address) fills the case's hour; then even the
    // right code waits, and is told why.
    let (status, _) = track(&app, &number, "AAAAA-AAAAA", Some("2001:db8::1")).await;
    assert_eq!(status, 404);
    let (status, page) = track(&app, &number, &code, Some("203.0.113.3")).await;
    assert_eq!(status, 429, "{page}");
    assert!(page.contains("暂停查询一小时"));
    // Other cases are untouched, and rating needs the same proof under the same limit.
    let mut fields = good_form();
    fields[4] = ("description", "另一件事：失业金迟迟没有到账");
    let (_, other) = post_form(&app, &fields).await;
    let (status, _) = track(
        &app,
        &by_id(&other, "case-number"),
        &by_id(&other, "tracking-code"),
        Some("203.0.113.3"),
    )
    .await;
    assert_eq!(status, 200);
    let r = app
        .post("/track/rate")
        .form(&[
            ("case", number.as_str()),
            ("code", code.as_str()),
            ("level", "satisfied"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}

async fn tracking_shows_public_replies_and_nothing_else(backend: Backend) {
    let app = TestApp::spawn_with(backend, relaxed).await;
    let (_, page) = post_form(&app, &good_form()).await;
    let number = by_id(&page, "case-number");
    let code = by_id(&page, "tracking-code");
    let staff = app.token("周科长", Role::DutyLeader).await;
    for body in [
        json!({"action": "accept"}),
        json!({"action": "add_note", "text": "内部：经办人张某某未按规定受理"}),
        json!({"action": "publish_note", "text": "已联系社保卡中心，本周五前为您补办 <b>完毕</b>"}),
    ] {
        let (status, r) = app
            .post_json(&format!("/api/v1/cases/{number}/actions"), &staff, &body)
            .await;
        assert_eq!(status, 200, "{r}");
    }

    // A link of the older kind fills the form and looks nothing up until it is sent.
    let (status, page) = get_page(&app, &format!("/track?case={number}&code={code}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("value=\"{code}\"")) && !page.contains("id=\"status\""));
    assert!(page.contains("查询码丢了？") && page.contains("3105883"));
    // By tracking code, typed in lower case.
    let (status, page) = track(&app, &number, &code.to_lowercase(), None).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("正在办理"));
    assert!(page.contains("已联系社保卡中心，本周五前为您补办 &#60;b&#62;完毕&#60;/b&#62;"));
    for private in ["内部", "张某某", "周科长", "王大爷", "13800138000"] {
        assert!(!page.contains(private), "the public page shows {private}");
    }
    // A form served before the field was renamed still works.
    let r = app
        .post("/track")
        .form(&[("case", number.as_str()), ("secret", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("正在办理"));

    // A wrong code and an unknown case get the very same answer.
    let wrong = app
        .post("/track")
        .form(&[("case", number.as_str()), ("secret", "AAAAA-AAAAA")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    let wrong = wrong.text().await.unwrap();
    let unknown = app
        .post("/track")
        .form(&[("case", "YM-20260101-9999"), ("secret", "AAAAA-AAAAA")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let unknown = unknown.text().await.unwrap();
    let message = |p: &str| by_id(p, "case-error");
    assert_eq!(message(&wrong), message(&unknown));
    assert!(message(&wrong).contains("没有找到"));
}

async fn english_by_switch_and_by_browser(backend: Backend) {
    let app = TestApp::spawn_with(backend, relaxed).await;
    let (_, page) = get_page(&app, "/message?lang=en").await;
    assert!(page.contains("<html lang=\"en\">"));
    assert!(page.contains("Leave a message"));
    assert!(page.contains("href=\"/message?lang=zh\""));
    let r = app
        .get("/track")
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Lost your tracking code?"));
    let (_, page) = get_page(&app, "/message/privacy").await;
    assert!(page.contains("个人信息保护说明"));
}

async fn cors_only_for_configured_origins_and_size_limits(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        relaxed(s);
        s.website.cors_origins = vec!["https://www.example.gov.cn".into()];
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/website/messages", app.address),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight("https://www.example.gov.cn").await.unwrap();
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("https://www.example.gov.cn")
    );
    let evil = preflight("https://evil.example").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());

    // A body over the server's limit: a page that says so, not a crash or raw JSON.
    let huge = "长".repeat(40_000);
    let mut fields = good_form();
    fields[4] = ("description", &huge);
    let (status, page) = post_form(&app, &fields).await;
    assert_eq!(status, 413);
    assert!(page.contains("内容太长"));
    // Over the configured length but under the body limit: a field error.
    let long = "长".repeat(2001);
    let mut fields = good_form();
    fields[4] = ("description", &long);
    let (status, page) = post_form(&app, &fields).await;
    assert_eq!(status, 422);
    assert!(page.contains("最多2000个字，现在有2001个字"));
}

fn decoded(raw: &[u8]) -> (String, String, String, String) {
    let message = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a parsable e-mail");
    (
        message.subject().unwrap_or_default().to_owned(),
        message.body_text(0).unwrap_or_default().into_owned(),
        message.body_html(0).unwrap_or_default().into_owned(),
        message
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned(),
    )
}

async fn a_confirmation_email_arrives_at_a_real_smtp_server(backend: Backend) {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let app = TestApp::spawn_with(backend, |s| with_mail(s, smtp.port)).await;
    let mut fields = good_form();
    fields[2] = ("email", "wang.daye@example.com");
    let (status, page) = post_form(&app, &fields).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("确认邮件已发往您填写的邮箱"));
    let number = by_id(&page, "case-number");
    let code = by_id(&page, "tracking-code");
    let mails = smtp.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mails.len(), 1);
    let (subject, text, html, to) = decoded(&mails[0]);
    assert_eq!(to, "wang.daye@example.com");
    assert!(subject.contains(&number), "{subject}");
    assert!(text.contains(&format!("查询码：{code}")), "{text}");
    assert!(text.contains(&format!(
        "https://youmen.example.gov.cn/track#case={number}&code={code}"
    )));
    assert!(text.contains("与您联系"));
    assert!(html.contains(&number) && html.contains("<strong>"));
    // Delivered: the row is settled and no longer carries the code.
    let sent = app.store().outbox_list(Some("sent"), 10).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].sent_at.is_some());
    let leftover = app
        .raw_execute("update outbox set status = status where payload like '%tracking_code%'")
        .await
        .unwrap();
    assert_eq!(leftover, 0, "the tracking code left the outbox once sent");

    // An address the mail system refuses outright: a dead letter, with its reason, for
    // leaders to see (masked), not retried for ever.
    let r = app
        .post("/api/v1/website/messages")
        .json(
            &json!({"name": "李阿姨", "phone": "13900139000", "email": "li.ayi@bad..example",
                      "matter": "pensions", "description": "地址写错了", "consent": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let leader = app.token("值班领导", Role::DutyLeader).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let dead = loop {
        let (status, dead) = app.get_json("/api/v1/outbox?status=dead", &leader).await;
        assert_eq!(status, 200, "{dead}");
        if !dead.as_array().unwrap().is_empty() {
            break dead;
        }
        assert!(std::time::Instant::now() < deadline, "no dead letter");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(dead[0]["recipient"], "l****i@bad..example");
    assert!(dead[0]["last_error"]
        .as_str()
        .unwrap()
        .contains("recipient"));
    assert_eq!(dead[0]["attempts"], 1);
    let counter = app.token("王芳", Role::Counter).await;
    assert_eq!(app.get_json("/api/v1/outbox", &counter).await.0, 403);
    for limit in [0, 1001] {
        let (status, body) = app
            .get_json(&format!("/api/v1/outbox?limit={limit}"), &leader)
            .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (422, Some("limit"))
        );
    }
    assert_eq!(smtp.messages().len(), 1);
}

async fn mail_waits_out_an_smtp_outage_and_arrives_once(backend: Backend) {
    let port = free_port();
    let app = TestApp::spawn_with(backend, |s| with_mail(s, port)).await;
    let r = app
        .post("/api/v1/website/messages")
        .json(
            &json!({"name": "李阿姨", "phone": "13900139000", "email": "li@example.com",
                      "matter": "pensions", "description": "邮件服务器停了", "consent": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        201,
        "the visitor is not held up by the mail server"
    );
    let (_, receipt) = crate::helpers::json(r).await;
    assert_eq!(receipt["confirmation_queued"], true);
    // While SMTP is down the message waits with its reason.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let pending = app.store().outbox_list(Some("pending"), 10).await.unwrap();
        if pending.first().is_some_and(|p| p.last_error.is_some()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed attempt recorded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let Some(smtp) = SmtpServer::start_on(port).await else {
        return;
    };
    let mails = smtp.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(mails.len(), 1);
    assert!(decoded(&mails[0])
        .0
        .contains(receipt["case_number"].as_str().unwrap()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(smtp.messages().len(), 1, "delivered exactly once");
}

/// Every notification waits out receivers that are down for the whole run, then arrives
/// exactly once: confirmation mails to a real SMTP server and escalation notices to a signed
/// JSON webhook, neither listening until every notification has failed at least twice.
async fn smtp_and_webhook_down_for_the_whole_run_then_each_notice_arrives_once(backend: Backend) {
    use axum::body::Bytes;
    use std::sync::{Arc, Mutex};
    let (smtp_port, hook_port) = (free_port(), free_port());
    let app = TestApp::spawn_with(backend, move |s| {
        with_mail(s, smtp_port);
        // Enough attempts that nothing gives up while the receivers are away.
        s.mail.max_attempts = 30;
        s.webhooks = vec![youmen::config::WebhookSettings {
            name: "duty-group".into(),
            url: format!("http://127.0.0.1:{hook_port}/hook"),
            format: "json".into(),
            secret: "s3cret-of-16-bytes".into(),
            allow_http: true,
            topics: vec![youmen::domain::Topic::AwaitingDecision.as_str().into()],
        }];
    })
    .await;
    let mut numbers = Vec::new();
    for i in 0..6 {
        let r = app
            .post("/api/v1/website/messages")
            .json(
                &json!({"name": "李阿姨", "phone": format!("139001390{i:02}"),
                          "email": format!("visitor{i}@example.com"), "matter": "pensions",
                          "description": format!("第{i}条留言，收不到回复"), "consent": true}),
            )
            .send()
            .await
            .unwrap();
        let (status, receipt) = crate::helpers::json(r).await;
        assert_eq!(status, 201, "{receipt}");
        numbers.push(receipt["case_number"].as_str().unwrap().to_owned());
    }
    let clerk = app.token("王芳", Role::Counter).await;
    for number in &numbers[..3] {
        let (status, body) = app
            .post_json(
                &format!("/api/v1/cases/{number}/actions"),
                &clerk,
                &json!({"action": "escalate", "reason": "涉及政策瓶颈"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // Down for the whole run: every notification has failed, twice, with its reason.
    let until = std::time::Instant::now() + Duration::from_secs(30);
    let queued = loop {
        let rows = app.store().outbox_list(None, 100).await.unwrap();
        let all_failed_twice = rows
            .iter()
            .all(|r| r.status == "pending" && r.attempts >= 2 && r.last_error.is_some());
        if rows.len() >= 9 && all_failed_twice {
            break rows;
        }
        assert!(std::time::Instant::now() < until, "{rows:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let hooks = queued
        .iter()
        .filter(|r| r.recipient.starts_with("webhook:"))
        .count();
    let mails = queued.len() - hooks;
    assert_eq!(hooks, 3, "one notice per escalation: {queued:?}");
    assert!(mails >= 6, "a confirmation per message: {queued:?}");

    // Both come up on the ports youmen has been trying.
    let Some(smtp) = SmtpServer::start_on(smtp_port).await else {
        return;
    };
    let posts: Arc<Mutex<Vec<String>>> = Default::default();
    let seen = posts.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: Bytes| {
            let seen = seen.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", hook_port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let until = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let rows = app.store().outbox_list(None, 100).await.unwrap();
        if rows.iter().all(|r| r.status == "sent") {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "not all delivered: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Later attempts would show up here as a second copy.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let received = smtp.messages();
    assert_eq!(received.len(), mails, "each mail delivered exactly once");
    for (i, number) in numbers.iter().enumerate() {
        let to_visitor: Vec<_> = received
            .iter()
            .map(|m| decoded(m))
            .filter(|m| m.3 == format!("visitor{i}@example.com"))
            .collect();
        assert_eq!(to_visitor.len(), 1, "the confirmation of {number}");
        assert!(to_visitor[0].1.contains(number.as_str()));
    }
    let posts = posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 3, "each notice posted exactly once: {posts:?}");
    for number in &numbers[..3] {
        assert_eq!(
            posts.iter().filter(|p| p.contains(number.as_str())).count(),
            1,
            "the escalation of {number}"
        );
    }
}

/// Posts website messages all at once, each from its address; the answers, in order.
async fn post_at_once(app: &TestApp, bodies: &[(String, Value)]) -> Vec<(u16, Value)> {
    futures_util::future::join_all(bodies.iter().map(|(ip, body)| async {
        let r = app
            .post("/api/v1/website/messages")
            .header("x-forwarded-for", ip.as_str())
            .json(body)
            .send()
            .await
            .unwrap();
        crate::helpers::json(r).await
    }))
    .await
}

/// The website cases (a page of up to 100) and their day's sequence numbers, sorted.
async fn website_cases(app: &TestApp, token: &str) -> (Value, Vec<u32>) {
    let (_, page) = app
        .get_json("/api/v1/cases?channel=website&limit=100", token)
        .await;
    let mut seqs: Vec<u32> = page["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(crate::helpers::seq_of)
        .collect();
    seqs.sort_unstable();
    (page, seqs)
}

/// The metrics are the process's, shared by every test app: the tests that count batch
/// fallbacks (one provokes one, one must see none) take turns.
static FALLBACK_METRIC: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How many website batches have been written one by one after an error, so far.
async fn error_fallbacks(app: &TestApp) -> u64 {
    let metrics = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("youmen_batch_fallbacks_total{reason=\"error\"} "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// Messages arriving together are committed together: duplicates fold (into a stored case
/// or into one of the same batch), each address's limit holds inside a batch, every new case
/// is numbered without gaps with its event, website record and confirmation, and the audit
/// chain still verifies.
async fn a_burst_of_messages_is_committed_together_and_each_gets_its_answer(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        relaxed(s);
        s.website.per_ip_per_hour = 3;
        s.website.trust_forwarded_for = true;
        s.mail.smtp_host = "127.0.0.1".into();
        s.mail.smtp_port = crate::smtp::free_port();
        s.mail.retry_base_seconds = 3600;
    })
    .await;
    let _turn = FALLBACK_METRIC.lock().await;
    let fallbacks_before = error_fallbacks(&app).await;
    // Stored before the burst: the burst's copy of it folds into the stored case.
    let first = json!({"name": "李阿姨", "phone": "13900000999", "matter": "pensions",
                       "description": "已经留过言了", "consent": true});
    let r = app
        .post("/api/v1/website/messages")
        .header("x-forwarded-for", "10.9.9.9")
        .json(&first)
        .send()
        .await
        .unwrap();
    let (status, stored) = crate::helpers::json(r).await;
    assert_eq!(status, 201, "{stored}");
    let mut bodies = Vec::new();
    for i in 0..40 {
        // 40 messages from 8 addresses (5 each, 3 allowed per address), 4 of them the same.
        let body = if i % 10 == 0 {
            json!({"name": "王先生", "phone": "13900000888", "matter": "wages",
                   "description": "同一条留言", "consent": true, "email": "wang@example.org"})
        } else {
            json!({"name": "李阿姨", "phone": format!("1390000{i:04}"), "matter": "pensions",
                   "description": format!("第{i}条"), "consent": true, "email": format!("v{i}@example.org")})
        };
        bodies.push((format!("10.0.0.{}", i % 8), body));
    }
    bodies.push(("10.9.9.8".into(), first.clone()));
    let answers = post_at_once(&app, &bodies).await;
    let created = answers
        .iter()
        .filter(|(s, b)| *s == 201 && b["duplicate"] == false)
        .count();
    let folded: Vec<&Value> = answers
        .iter()
        .filter(|(s, b)| *s == 200 && b["duplicate"] == true)
        .map(|(_, b)| b)
        .collect();
    let limited = answers.iter().filter(|(s, _)| *s == 429).count();
    assert_eq!(limited, 16, "5 per address, 3 allowed: {answers:?}");
    assert_eq!(created + folded.len() + limited, 41);
    let again = folded
        .iter()
        .filter(|b| b["case_number"] == stored["case_number"])
        .count();
    assert_eq!(again, 1, "the stored message's copy folds into it");
    let same: std::collections::HashSet<&str> = bodies
        .iter()
        .zip(&answers)
        .filter(|((_, body), (s, _))| body["phone"] == "13900000888" && *s != 429)
        .map(|(_, (_, b))| b["case_number"].as_str().unwrap())
        .collect();
    assert_eq!(same.len(), 1, "one case for the same message: {same:?}");
    // Numbers gap-free, each new case complete, the chain intact.
    let store = app.store();
    let token = app.token("counter", Role::Counter).await;
    let (page, seqs) = website_cases(&app, &token).await;
    assert_eq!(seqs, (1..=(created as u32 + 1)).collect::<Vec<_>>());
    let outbox = store.outbox_list(None, 1000).await.unwrap();
    assert_eq!(
        outbox.len(),
        seqs.len() - 1,
        "a confirmation for each new case with an e-mail"
    );
    for c in page["cases"].as_array().unwrap() {
        let (_, detail) = app
            .get_json(
                &format!("/api/v1/cases/{}", c["number"].as_str().unwrap()),
                &token,
            )
            .await;
        assert_eq!(detail["timeline"][0]["action"], "register");
    }
    let report = store.verify_chain("case_events").await.unwrap();
    assert!(report.broken.is_none(), "{:?}", report.broken);
    // Written by the multi-row path, not by the one-by-one fallback after an error.
    assert_eq!(
        error_fallbacks(&app).await,
        fallbacks_before,
        "a batch of the burst failed and was written one by one"
    );
}

/// A statement of the multi-row path fails (here a trigger refuses one message): the batch
/// is rolled back and written again one message at a time, so the refused message alone gets
/// an error and every other one of the burst is committed, numbered without gaps, with its
/// event, record and confirmation. The senders' limits hold on that path too, and the refused
/// message does not count against its sender.
async fn one_failing_message_does_not_take_its_batch_down(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        relaxed(s);
        s.website.per_ip_per_hour = 2;
        s.website.trust_forwarded_for = true;
        s.mail.smtp_host = "127.0.0.1".into();
        s.mail.smtp_port = crate::smtp::free_port();
        s.mail.retry_base_seconds = 3600;
    })
    .await;
    let trigger = match backend {
        Backend::Sqlite => vec![
            "create trigger refuse_one before insert on website_messages \
             when new.email = 'refused@example.org' \
             begin select raise(abort, 'refused by the test'); end",
        ],
        Backend::Postgres => vec![
            "create function refuse_one() returns trigger language plpgsql as $$ begin \
             if new.email = 'refused@example.org' then raise exception 'refused by the test'; \
             end if; return new; end $$",
            "create trigger refuse_one before insert on website_messages \
             for each row execute function refuse_one()",
        ],
    };
    for sql in trigger {
        app.raw_execute(sql).await.unwrap();
    }
    let _turn = FALLBACK_METRIC.lock().await;
    let fallbacks_before = error_fallbacks(&app).await;
    let bodies: Vec<(String, Value)> = (0..24)
        .map(|i| {
            let email = if i == 11 {
                "refused@example.org".to_owned()
            } else {
                format!("v{i}@example.org")
            };
            let body = json!({"name": "李阿姨", "phone": format!("1390001{i:04}"),
                "matter": "pensions", "description": format!("第{i}条留言"), "consent": true,
                "email": email});
            // Three messages from each of seven addresses (two allowed); the refused one
            // and message 3 from an address of their own, so message 19 is alone on its.
            let address = match i {
                3 | 11 => "10.1.9.9".to_owned(),
                _ => format!("10.1.0.{}", i % 8),
            };
            (address, body)
        })
        .collect();
    let answers = post_at_once(&app, &bodies).await;
    let mut created = 0;
    for (i, (status, body)) in answers.iter().enumerate() {
        match (i, *status) {
            (11, status) => assert!(status >= 500, "the refused message: {status} {body}"),
            (3 | 19, status) => assert_eq!(status, 201, "message {i}: {body}"),
            (_, 201) => created += 1,
            (_, 429) => {}
            (_, status) => panic!("message {i}: {status} {body}"),
        }
    }
    assert_eq!(
        created, 14,
        "two of three from each of seven addresses: {answers:?}"
    );
    let token = app.token("counter", Role::Counter).await;
    let (_, seqs) = website_cases(&app, &token).await;
    assert_eq!(seqs, (1..=16).collect::<Vec<_>>(), "16 cases, no gap");
    let store = app.store();
    assert_eq!(store.outbox_list(None, 1000).await.unwrap().len(), 16);
    // The refused message was not counted: its address has one message stored, so one
    // more is let through, and then no more.
    for (text, status) in [("再来一条", 201), ("又一条", 429)] {
        let more = vec![(
            "10.1.9.9".to_owned(),
            json!({"name": "李阿姨", "phone": "13900019999", "matter": "pensions",
                   "description": text, "consent": true}),
        )];
        let answer = &post_at_once(&app, &more).await[0];
        assert_eq!(answer.0, status, "{text}: {}", answer.1);
    }
    assert!(store
        .verify_chain("case_events")
        .await
        .unwrap()
        .broken
        .is_none());
    assert!(
        error_fallbacks(&app).await > fallbacks_before,
        "the refused message's batch was written one by one"
    );
}

/// A laptop without an SMTP server: `mail.transport = "file"` writes each message youmen
/// sends as an `.eml` file, the same message SMTP would have carried.
async fn without_smtp_the_confirmation_is_written_as_an_eml_file(backend: Backend) {
    let mail_dir = tempfile::tempdir().unwrap();
    let dir = mail_dir.path().to_owned();
    let app = TestApp::spawn_with(backend, |s| {
        relaxed(s);
        s.mail.transport = "file".into();
        s.mail.file_dir = dir.clone();
        s.mail.poll_seconds = 1;
        s.website.public_base_url = "https://youmen.example.gov.cn".into();
    })
    .await;
    let mut fields = good_form();
    fields[2] = ("email", "wang.daye@example.com");
    let (status, page) = post_form(&app, &fields).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("确认邮件已发往您填写的邮箱"));
    let number = by_id(&page, "case-number");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let eml = loop {
        let files: Vec<_> = std::fs::read_dir(mail_dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        if let Some(file) = files.first() {
            assert_eq!(files.len(), 1, "one message, written once");
            break std::fs::read(file).unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no .eml file was written"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let message = mail_parser::MessageParser::default().parse(&eml).unwrap();
    assert!(message.subject().unwrap().contains(&number));
    assert!(message.body_text(0).unwrap().contains("查询码："));
    let sent = app.store().outbox_list(Some("sent"), 10).await.unwrap();
    assert_eq!(sent.len(), 1, "the row is settled as sent");

    // One address gets at most three confirmations a day, however many messages give it
    // (in any case of letters); the messages themselves are all registered.
    for (i, text) in ["第二条留言", "第三条留言", "第四条留言"]
        .into_iter()
        .enumerate()
    {
        let mut fields = good_form();
        fields[2] = ("email", "Wang.Daye@Example.com");
        fields[4] = ("description", text);
        let (status, page) = post_form(&app, &fields).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("id=\"case-number\""));
        assert_eq!(
            page.contains("确认邮件已发往您填写的邮箱"),
            i < 2,
            "message {}",
            i + 2
        );
    }
    let queued = app.store().outbox_list(None, 100).await.unwrap();
    assert_eq!(queued.len(), 3, "three confirmations in all");
}

crate::on_both_backends!(
    a_new_receipt_replaces_a_visitors_code_only_when_the_clerk_confirms,
    without_smtp_the_confirmation_is_written_as_an_eml_file,
    a_burst_of_messages_is_committed_together_and_each_gets_its_answer,
    one_failing_message_does_not_take_its_batch_down,
    a_visitor_fixes_a_mistake_then_sends_a_message,
    bots_are_refused_quietly,
    the_same_message_twice_folds_into_one_case,
    limits_per_address_answer_429_and_keep_the_text,
    tracking_shows_public_replies_and_nothing_else,
    only_the_tracking_code_proves_a_case_and_wrong_codes_count_per_case,
    english_by_switch_and_by_browser,
    cors_only_for_configured_origins_and_size_limits,
    a_confirmation_email_arrives_at_a_real_smtp_server,
    mail_waits_out_an_smtp_outage_and_arrives_once,
    smtp_and_webhook_down_for_the_whole_run_then_each_notice_arrives_once,
);
