//! The staff pages over HTTP as a browser uses them: sign-in, sessions, CSRF, lock-out, the
//! role matrix, and the morning shift working the callback list.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::Client;
use serde_json::json;
use youmen::domain::Role;

use crate::helpers::{json, Backend, TestApp, PASSWORD};
use crate::hotline::wav;

/// A browser that does not follow redirects, so that each step can be seen. It keeps the
/// session cookie and the sign-in form's cookie, and may claim to be behind a proxy that
/// names its address (`X-Forwarded-For`).
pub(crate) struct Browser {
    client: Client,
    base: String,
    pub(crate) cookie: Option<String>,
    sign_in_cookie: Option<String>,
    forwarded_for: Option<String>,
}

impl Browser {
    pub(crate) fn new(app: &TestApp) -> Browser {
        Browser {
            client: Client::builder().redirect(Policy::none()).build().unwrap(),
            base: app.address.clone(),
            cookie: None,
            sign_in_cookie: None,
            forwarded_for: None,
        }
    }

    fn cookies(&self) -> Option<String> {
        let jar: Vec<String> = [
            self.cookie.as_ref().map(|c| format!("youmen_session={c}")),
            self.sign_in_cookie
                .as_ref()
                .map(|c| format!("youmen_sign_in={c}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!jar.is_empty()).then(|| jar.join("; "))
    }

    fn keep_cookies(&mut self, r: &reqwest::Response) {
        for set in r.headers().get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            assert!(
                set.contains("HttpOnly")
                    && set.contains("SameSite=Strict")
                    && set.contains("Secure"),
                "{set}"
            );
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let value = (!value.is_empty()).then(|| value.to_owned());
            match name {
                "youmen_session" => self.cookie = value,
                "youmen_sign_in" => self.sign_in_cookie = value,
                other => panic!("an unexpected cookie {other}"),
            }
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> (u16, String, Option<String>) {
        let mut r = self.client.get(format!("{}{path}", self.base));
        if let Some(c) = self.cookies() {
            r = r.header(COOKIE, c);
        }
        if let Some(ip) = &self.forwarded_for {
            r = r.header("x-forwarded-for", ip);
        }
        let r = r.send().await.unwrap();
        self.keep_cookies(&r);
        let location = r
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        (r.status().as_u16(), r.text().await.unwrap(), location)
    }

    /// A streamed answer (server-sent events), open, to read chunk by chunk.
    pub(crate) async fn open_stream(&mut self, path: &str) -> reqwest::Response {
        let mut r = self.client.get(format!("{}{path}", self.base));
        if let Some(c) = self.cookies() {
            r = r.header(COOKIE, c);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r
    }

    /// The first chunk of a streamed answer (server-sent events), within five seconds.
    pub(crate) async fn get_stream(&mut self, path: &str) -> Option<String> {
        let mut r = self.client.get(format!("{}{path}", self.base));
        if let Some(c) = self.cookies() {
            r = r.header(COOKIE, c);
        }
        let mut r = r.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), r.chunk())
            .await
            .ok()?
            .ok()??;
        Some(String::from_utf8_lossy(&chunk).into_owned())
    }

    pub(crate) async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, String, Option<String>) {
        let mut r = self.client.post(format!("{}{path}", self.base)).form(form);
        if let Some(c) = self.cookies() {
            r = r.header(COOKIE, c);
        }
        if let Some(ip) = &self.forwarded_for {
            r = r.header("x-forwarded-for", ip);
        }
        let r = r.send().await.unwrap();
        self.keep_cookies(&r);
        let location = r
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        (r.status().as_u16(), r.text().await.unwrap(), location)
    }

    /// Signs in as a person does: the form first (its CSRF token and cookie), then the post.
    pub(crate) async fn sign_in(
        &mut self,
        username: &str,
        password: &str,
    ) -> (u16, String, Option<String>) {
        let token = self.sign_in_form().await;
        self.post_sign_in(&token, username, password).await
    }

    /// The sign-in form's CSRF token (its cookie kept).
    async fn sign_in_form(&mut self) -> String {
        let (_, form, _) = self.get("/staff/login").await;
        csrf(&form)
    }

    async fn post_sign_in(
        &mut self,
        token: &str,
        username: &str,
        password: &str,
    ) -> (u16, String, Option<String>) {
        self.post(
            "/staff/login",
            &[
                ("csrf", token),
                ("username", username),
                ("password", password),
                ("next", "/staff/callbacks"),
            ],
        )
        .await
    }
}

/// The error a page shows.
fn error_of(page: &str) -> String {
    let start = page
        .find("id=\"login-error\">")
        .expect("an error on the page");
    page[start..start + page[start..].find("</p>").unwrap()].to_owned()
}

pub(crate) fn csrf(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a CSRF field") + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

async fn signing_in_out_and_locking_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("li", "李早班", vec![Role::Callback], None).await;
    let mut b = Browser::new(&app);
    let (status, _, location) = b.get("/staff/callbacks?date=2026-11-30").await;
    assert_eq!(status, 303);
    assert_eq!(
        location.as_deref(),
        Some("/staff/login?next=%2Fstaff%2Fcallbacks%3Fdate%3D2026-11-30")
    );
    let (status, page, _) = b.get("/staff/login").await;
    assert_eq!(status, 200);
    assert!(page.contains("工作人员登录"));

    let (status, page, _) = b.sign_in("li", "not the password").await;
    assert_eq!(status, 401);
    assert!(page.contains("用户名或密码不对"));
    let (status, unknown, _) = b.sign_in("nobody", PASSWORD).await;
    assert_eq!(status, 401, "an unknown user gets the same answer");
    assert_eq!(error_of(&unknown), error_of(&page));
    assert!(b.cookie.is_none());
    // A sign-in form posted from elsewhere carries no sign-in cookie.
    let mut forged = Browser::new(&app);
    let (status, _, _) = forged
        .post(
            "/staff/login",
            &[
                ("csrf", "forged"),
                ("username", "li"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, 403);
    assert!(forged.cookie.is_none());

    let (status, _, location) = b.sign_in("li", PASSWORD).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/staff/callbacks"))
    );
    let (status, page, _) = b.get("/staff/callbacks?date=2026-11-30").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("李早班"));

    // Sign-out needs the form's CSRF token, then the session is gone.
    let token = csrf(&page);
    let (status, _, _) = b.post("/staff/logout", &[("csrf", "forged")]).await;
    assert_eq!(status, 403);
    let (status, _, _) = b.post("/staff/logout", &[("csrf", &token)]).await;
    assert_eq!(status, 303);
    assert!(b.cookie.is_none());

    // A new password (by an administrator) ends the sessions the old one opened.
    assert_eq!(b.sign_in("li", PASSWORD).await.0, 303);
    assert_eq!(b.get("/staff/callbacks").await.0, 200);
    let hash = youmen::auth::hash_password(PASSWORD.into()).await.unwrap();
    assert!(app
        .store()
        .set_password("li", &hash, false, chrono::Utc::now())
        .await
        .unwrap());
    assert_eq!(
        b.get("/staff/callbacks").await.0,
        303,
        "the old session ended"
    );
    assert_eq!(b.sign_in("li", PASSWORD).await.0, 303);
    // Disabling ends the session at once.
    app.store()
        .set_disabled("li", true, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(b.get("/staff/callbacks").await.0, 303);
}

async fn idle_sessions_expire(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("zhou", "周", vec![Role::Callback], None).await;
    let mut b = Browser::new(&app);
    b.sign_in("zhou", PASSWORD).await;
    assert_eq!(b.get("/staff/callbacks").await.0, 200);
    // Forty minutes without a request (the idle limit is 30).
    let old = (chrono::Utc::now() - chrono::Duration::minutes(40)).to_rfc3339();
    app.raw_execute(&format!("update sessions set last_seen_at = '{old}'"))
        .await
        .unwrap();
    let (status, _, location) = b.get("/staff/callbacks").await;
    assert_eq!(status, 303);
    assert!(location.unwrap().starts_with("/staff/login"));
}

async fn roles_and_forged_forms_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("wang", "王柜台", vec![Role::Counter], None).await;
    app.user("li", "李早班", vec![Role::Callback], None).await;
    let mut counter = Browser::new(&app);
    counter.sign_in("wang", PASSWORD).await;
    let (status, page, _) = counter.get("/staff/callbacks").await;
    assert_eq!(
        status, 403,
        "a counter clerk does not work the callback list"
    );
    assert!(page.contains("无权"));

    let admin = app.token("admin", Role::Admin).await;
    let pbx = app.token("pbx", Role::Pbx).await;
    push(
        &app,
        &pbx,
        "13800000001",
        "2026-11-26T20:00:00+08:00",
        "夜里留言",
    )
    .await;
    app.post_json(
        "/api/v1/callbacks/generate",
        &admin,
        &json!({"date": "2026-11-27"}),
    )
    .await;
    let mut li = Browser::new(&app);
    li.sign_in("li", PASSWORD).await;
    let (_, page, _) = li.get("/staff/callbacks?date=2026-11-27").await;
    let id = entry_id(&page);
    // A form posted from another site carries no valid token.
    let (status, _, _) = li
        .post(
            &format!("/staff/callbacks/{id}/claim"),
            &[("csrf", "from-evil-site"), ("date", "2026-11-27")],
        )
        .await;
    assert_eq!(status, 403);
    // The API through the session: reading is allowed, changing needs X-CSRF-Token.
    let cookie = format!("youmen_session={}", li.cookie.clone().unwrap());
    let r = app
        .client
        .get(format!("{}/api/v1/callbacks?date=2026-11-27", app.address))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .post(format!("{}/api/v1/callbacks/{id}/claim", app.address))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

pub(crate) async fn push(app: &TestApp, pbx: &str, caller: &str, at: &str, _what: &str) -> String {
    let form = reqwest::multipart::Form::new()
        .part(
            "audio",
            reqwest::multipart::Part::bytes(wav(3.0, 0.5))
                .file_name("vm.wav")
                .mime_str("audio/wav")
                .unwrap(),
        )
        .text("hotline", "complaint")
        .text("caller", caller.to_owned())
        .text("received_at", at.to_owned())
        .text("external_id", format!("{caller}-{at}"));
    let (status, body) = json(
        app.post("/api/v1/hotline/voicemails")
            .bearer_auth(pbx)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["case_number"].as_str().unwrap().to_owned()
}

pub(crate) fn entry_id(page: &str) -> String {
    let marker = "id=\"entry-";
    let start = page.find(marker).expect("an entry") + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

async fn the_morning_shift_works_the_list_in_the_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("li", "李早班", vec![Role::Callback], None).await;
    let admin = app.token("admin", Role::Admin).await;
    let pbx = app.token("pbx", Role::Pbx).await;
    let number = push(&app, &pbx, "13800000001", "2026-11-26T20:00:00+08:00", "").await;
    // The same caller came to the counter before.
    let counter = app.token("counter", Role::Counter).await;
    let mut body = crate::helpers::walk_in();
    body["phone"] = json!("13800000001");
    let (_, earlier) = app.post_json("/api/v1/cases", &counter, &body).await;
    let earlier = earlier["number"].as_str().unwrap().to_owned();
    app.post_json(
        "/api/v1/callbacks/generate",
        &admin,
        &json!({"date": "2026-11-27"}),
    )
    .await;

    let mut li = Browser::new(&app);
    li.sign_in("li", PASSWORD).await;
    let (status, page, _) = li.get("/staff/callbacks?date=2026-11-27").await;
    assert_eq!(status, 200);
    assert!(page.contains("href=\"tel:+8613800000001\""));
    assert!(page.contains(&number));
    assert!(
        page.contains("此来电人以前的案件") && page.contains(&earlier),
        "the caller's earlier cases"
    );
    let id = entry_id(&page);
    let src_marker = "<audio controls preload=\"none\" src=\"";
    let start = page.find(src_marker).expect("a player") + src_marker.len();
    let src = &page[start..start + page[start..].find('"').unwrap()];
    // The player's source plays for the signed-in user (with Range), and is audited.
    let cookie = format!("youmen_session={}", li.cookie.clone().unwrap());
    let r = app
        .client
        .get(format!("{}{src}", app.address))
        .header(COOKIE, &cookie)
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-type"], "audio/wav");

    let token = csrf(&page);
    let (status, _, location) = li
        .post(
            &format!("/staff/callbacks/{id}/claim"),
            &[("csrf", &token), ("date", "2026-11-27")],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        location.unwrap(),
        format!("/staff/callbacks?date=2026-11-27#entry-{id}")
    );
    let (_, page, _) = li.get("/staff/callbacks?date=2026-11-27").await;
    assert!(
        page.contains(&format!("action=\"/staff/callbacks/{id}/attempt\"")),
        "the claimer gets the form"
    );
    // "It continues" without the caller's matter: the form comes back with the error next to
    // the field and everything typed kept.
    let (status, page, _) = li
        .post(
            &format!("/staff/callbacks/{id}/attempt"),
            &[
                ("csrf", &token),
                ("date", "2026-11-27"),
                ("outcome", "reached_continues"),
                ("summary", "养老金资格认证办不了"),
                ("note", "已约周一来窗口"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        page.contains(&format!("id=\"matter-error-{id}\"")),
        "{page}"
    );
    assert!(page.contains("请选择来电人反映的事项类别"));
    assert!(
        page.contains(">养老金资格认证办不了</textarea>")
            && page.contains("value=\"已约周一来窗口\"")
    );
    let (status, _, _) = li
        .post(
            &format!("/staff/callbacks/{id}/attempt"),
            &[
                ("csrf", &token),
                ("date", "2026-11-27"),
                ("outcome", "reached_continues"),
                ("matter", "pensions"),
                ("summary", "养老金资格认证办不了"),
                ("note", "已约周一来窗口"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = li.get("/staff/callbacks?date=2026-11-27").await;
    assert!(page.contains("已联系，继续办理") && page.contains("已约周一来窗口"));
    let (_, case) = app
        .get_json(&format!("/api/v1/cases/{number}"), &admin)
        .await;
    let timeline = case["timeline"].as_array().unwrap();
    assert!(timeline
        .iter()
        .any(|e| e["action"] == "callback_attempt" && e["actor"] == "李早班"));
    assert!(timeline
        .iter()
        .any(|e| e["action"] == "play_recording" && e["actor"] == "李早班"));
}

async fn a_one_time_notice_prints_as_a_checklist(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    let mut b = Browser::new(&app);
    b.sign_in("wang", PASSWORD).await;
    let token = app.token("counter", Role::Counter).await;
    let (_, case) = app
        .post_json("/api/v1/cases", &token, &crate::helpers::walk_in())
        .await;
    let number = case["number"].as_str().unwrap();
    let (_, page, _) = b.get(&format!("/staff/cases/{number}")).await;
    assert!(!page.contains("打印一次性告知书"));
    let (status, _, _) = b
        .post(
            &format!("/staff/cases/{number}/act"),
            &[
                ("csrf", &csrf(&page)),
                ("action", "one_time_notice"),
                ("text", "身份证原件\n社保卡\n\n到2号窗口办理认证"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = b.get(&format!("/staff/cases/{number}")).await;
    assert!(page.contains("打印一次性告知书"));
    let (status, notice, _) = b.get(&format!("/staff/cases/{number}/notice")).await;
    assert_eq!(status, 200);
    assert_eq!(notice.matches("<li>").count(), 3, "{notice}");
    assert!(
        notice.contains("一次性告知书")
            && notice.contains("到2号窗口办理认证")
            && notice.contains("王芳")
    );
    // A refused action says why, in the page.
    let (status, page, _) = b
        .post(
            &format!("/staff/cases/{number}/act"),
            &[("csrf", &csrf(&page)), ("action", "close")],
        )
        .await;
    assert_eq!(status, 409);
    assert!(page.contains("不能执行此操作"), "{page}");
}

async fn a_walk_in_answered_on_the_spot_is_a_closed_consultation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    let mut b = Browser::new(&app);
    b.sign_in("wang", PASSWORD).await;
    let (_, page, _) = b.get("/staff/register").await;
    assert!(page.contains("当场解答"));
    let form = |answer: &'static str| {
        vec![
            ("name", "刘大爷"),
            ("phone", "13800138000"),
            ("matter", "pensions"),
            ("description", "问养老金认证在哪里办"),
            ("outcome", "answered"),
            ("answer", answer),
        ]
    };
    // No answer: the form again, what was typed kept, the field named; nothing registered.
    let mut fields = form("  ");
    let token = csrf(&page);
    fields.push(("csrf", &token));
    let (status, again, _) = b.post("/staff/register", &fields).await;
    assert_eq!(status, 422);
    assert!(again.contains("answer-error") && again.contains("问养老金认证在哪里办"));
    assert_eq!(app.raw_count("select count(*) from cases").await, 0);
    let mut fields = form("可在手机“辽事通”上认证，已现场演示");
    fields.push(("csrf", &token));
    let (status, _, location) = b.post("/staff/register", &fields).await;
    assert_eq!(status, 303);
    let (_, case_page, _) = b.get(location.as_deref().unwrap()).await;
    assert!(case_page.contains("当即答复并办结") && case_page.contains("已现场演示"));
    let admin = app.token("admin", Role::Admin).await;
    let (_, cases) = app.get_json("/api/v1/cases?status=closed", &admin).await;
    let case = &cases["cases"][0];
    assert_eq!(
        (
            case["channel"].as_str(),
            case["consultation"].as_bool(),
            case["owner"].as_str()
        ),
        (Some("counter"), Some(true), Some("王芳"))
    );
}

async fn a_referral_names_its_department_and_how_the_hand_off_ended(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    let token = app.token("王芳", Role::Counter).await;
    let (_, case) = app
        .post_json("/api/v1/cases", &token, &crate::helpers::walk_in())
        .await;
    let number = case["number"].as_str().unwrap();
    let (status, err) = app
        .post_json(
            &format!("/api/v1/cases/{number}/actions"),
            &token,
            &json!({"action": "refer", "department": "astrology", "text": "x"}),
        )
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("department")),
        "{err}"
    );
    let mut b = Browser::new(&app);
    b.sign_in("wang", PASSWORD).await;
    let (_, page, _) = b.get(&format!("/staff/cases/{number}")).await;
    assert!(page.contains("<option value=\"pensions\">养老保险科</option>"));
    let act = format!("/staff/cases/{number}/act");
    let (status, _, _) = b
        .post(
            &act,
            &[
                ("csrf", &csrf(&page)),
                ("action", "refer"),
                ("department", "pensions"),
                ("text", "请核实2019年以前的缴费记录，三个工作日内答复"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (status, _, _) = b
        .post(
            &act,
            &[
                ("csrf", &csrf(&page)),
                ("action", "record_hand_off"),
                ("outcome", "养老保险科已补录缴费记录，可以办理"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, form, _) = b.get(&format!("/staff/cases/{number}/referral")).await;
    assert!(
        form.contains("<td id=\"referred-to\">养老保险科</td>")
            && form.contains("请核实2019年以前的缴费记录")
            && form.contains("养老保险科已补录缴费记录"),
        "{form}"
    );
}

async fn a_refused_action_says_why_next_to_its_form_and_keeps_what_was_typed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("zhao", "赵局长", vec![Role::DutyLeader], None)
        .await;
    app.user("gone", "离职者", vec![Role::Counter], None).await;
    app.store()
        .set_disabled("gone", true, chrono::Utc::now())
        .await
        .unwrap();
    let token = app.token("王芳", Role::Counter).await;
    let (_, case) = app
        .post_json("/api/v1/cases", &token, &crate::helpers::walk_in())
        .await;
    let number = case["number"].as_str().unwrap();
    let mut b = Browser::new(&app);
    b.sign_in("zhao", PASSWORD).await;
    let (_, page, _) = b.get(&format!("/staff/cases/{number}")).await;
    assert!(
        !page.contains("value=\"gone\""),
        "a disabled account is not offered"
    );
    let (status, page, _) = b
        .post(
            &format!("/staff/cases/{number}/act"),
            &[
                ("csrf", &csrf(&page)),
                ("action", "reassign"),
                ("to", "gone"),
                ("reason", "王芳休假一周"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("id=\"reassign-error\"") && page.contains("没有名为 `gone` 的在用账号"),
        "the reason by its form"
    );
    assert!(
        page.contains(">王芳休假一周</textarea>"),
        "what was typed is kept"
    );
    let (_, case) = app
        .get_json(&format!("/api/v1/cases/{number}"), &token)
        .await;
    assert!(case["owner"].is_null(), "nothing changed");
}

async fn two_first_receipts_at_once_issue_one_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    app.user("zhou", "周敏", vec![Role::Counter], None).await;
    let token = app.token("王芳", Role::Counter).await;
    let (_, case) = app
        .post_json("/api/v1/cases", &token, &crate::helpers::walk_in())
        .await;
    let number = case["number"].as_str().unwrap();
    let (mut a, mut b) = (Browser::new(&app), Browser::new(&app));
    a.sign_in("wang", PASSWORD).await;
    b.sign_in("zhou", PASSWORD).await;
    let path = format!("/staff/cases/{number}");
    let (ca, cb) = (csrf(&a.get(&path).await.1), csrf(&b.get(&path).await.1));
    let receipt = format!("{path}/receipt");
    let (fa, fb) = ([("csrf", ca.as_str())], [("csrf", cb.as_str())]);
    let (ra, rb) = tokio::join!(a.post(&receipt, &fa), b.post(&receipt, &fb));
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 409],
        "one code issued, the other print told"
    );
}

async fn a_refused_case_prints_its_refusal_notice(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    let mut b = Browser::new(&app);
    b.sign_in("wang", PASSWORD).await;
    let token = app.token("王芳", Role::Counter).await;
    let (_, case) = app
        .post_json("/api/v1/cases", &token, &crate::helpers::walk_in())
        .await;
    let number = case["number"].as_str().unwrap();
    let refusal = format!("/staff/cases/{number}/refusal");
    assert_eq!(b.get(&refusal).await.0, 404, "not refused yet");
    let (_, page, _) = b.get(&format!("/staff/cases/{number}")).await;
    assert!(!page.contains("打印否定备案告知书"));
    let reason = "依据《社会保险法》第十六条，累计缴费不足十五年的，不能按月领取基本养老金";
    let (status, _) = app
        .post_json(
            &format!("/api/v1/cases/{number}/actions"),
            &token,
            &json!({"action": "refuse", "reason": reason}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, page, _) = b.get(&format!("/staff/cases/{number}")).await;
    assert!(page.contains("打印否定备案告知书"));
    let (status, notice, _) = b.get(&refusal).await;
    assert_eq!(status, 200);
    assert!(
        notice.contains("否定备案告知书")
            && notice.contains(reason)
            && notice.contains(number)
            && notice.contains("行政复议")
            && notice.contains("/assets/print/refusal.css"),
        "{notice}"
    );
    let (_, case) = app
        .get_json(&format!("/api/v1/cases/{number}"), &token)
        .await;
    assert!(
        case["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "print_refusal" && e["actor"] == "王芳"),
        "the print is on the timeline"
    );
    assert_eq!(b.get("/staff/cases/YM-20990101-0001/refusal").await.0, 404);
}

async fn the_duty_leader_sees_the_day_and_keeps_the_roster(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("zhao", "赵局长", vec![Role::DutyLeader], None)
        .await;
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    let clerk = app.token("王芳", Role::Counter).await;
    // An old case, long overdue, and an escalated one.
    let mut old = crate::helpers::walk_in();
    old["received_at"] = json!("2026-11-02T10:00:00+08:00");
    let (_, overdue) = app.post_json("/api/v1/cases", &clerk, &old).await;
    let (_, escalated) = app
        .post_json("/api/v1/cases", &clerk, &crate::helpers::walk_in())
        .await;
    let path = format!(
        "/api/v1/cases/{}/actions",
        escalated["number"].as_str().unwrap()
    );
    app.post_json(
        &path,
        &clerk,
        &json!({"action": "escalate", "reason": "需中心党委研究"}),
    )
    .await;

    // A clerk asks for acceptance with a material missing.
    let (_, asking) = app
        .post_json("/api/v1/cases", &clerk, &crate::helpers::walk_in())
        .await;
    let asking = asking["number"].as_str().unwrap().to_owned();
    let asking_path = format!("/api/v1/cases/{asking}/actions");
    let (status, _) = app
        .post_json(
            &asking_path,
            &clerk,
            &json!({"action": "request_approval", "text": "缺户口本复印件，申请容缺受理"}),
        )
        .await;
    assert_eq!(status, 200);

    let mut clerk_browser = Browser::new(&app);
    clerk_browser.sign_in("wang", PASSWORD).await;
    assert_eq!(clerk_browser.get("/staff/leader").await.0, 403);

    let mut b = Browser::new(&app);
    b.sign_in("zhao", PASSWORD).await;
    let (status, page, _) = b.get("/staff/leader").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(overdue["number"].as_str().unwrap()),
        "the overdue case"
    );
    assert!(
        page.contains(escalated["number"].as_str().unwrap()),
        "the escalated case"
    );
    assert!(
        page.contains("id=\"roster-gaps\""),
        "days without a duty leader are flagged"
    );
    assert!(
        page.contains("缺户口本复印件，申请容缺受理") && page.contains(&asking),
        "the request awaits approval"
    );
    let leader = app.token("赵局长", Role::DutyLeader).await;
    let (status, _) = app
        .post_json(
            &asking_path,
            &leader,
            &json!({"action": "approve_missing_materials", "text": "户口本复印件"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, page, _) = b.get("/staff/leader").await;
    assert!(
        !page.contains("缺户口本复印件，申请容缺受理"),
        "approved: no longer waiting"
    );
    let token = csrf(&page);
    let today = app
        .state()
        .calendar
        .current()
        .local_date(chrono::Utc::now())
        .to_string();
    let (status, _, _) = b
        .post(
            "/staff/leader/roster",
            &[("csrf", &token), ("date", &today), ("username", "zhao")],
        )
        .await;
    assert_eq!(status, 303);
    let (status, page, _) = b
        .post(
            "/staff/leader/roster",
            &[("csrf", &token), ("csv", "2026-12-01,wang")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("duty_leader"),
        "a clerk cannot be put on duty"
    );
    let (_, page, _) = b.get("/staff/leader").await;
    assert!(page.contains("<strong id=\"on-duty\">赵局长</strong>"));
    let (status, page, _) = b
        .get("/staff/statistics?from=2026-11-01&to=2026-11-30")
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<svg") && page.contains("线下窗口"),
        "charts drawn on the server"
    );
    assert_eq!(clerk_browser.get("/staff/statistics").await.0, 403);
}

/// One visibility rule for every view: a counter clerk reads no accountability record on
/// the case page, in the printed referral form or through the API; the duty leader reads it
/// everywhere.
async fn a_clerk_reads_no_accountability_record_in_any_view(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    app.user("zhao", "赵局长", vec![Role::DutyLeader], None)
        .await;
    let clerk = app.token("王芳", Role::Counter).await;
    let leader = app.token("赵局长", Role::DutyLeader).await;
    let (_, case) = app
        .post_json("/api/v1/cases", &clerk, &crate::helpers::walk_in())
        .await;
    let number = case["number"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/cases/{number}/actions");
    for (token, body) in [
        (&clerk, json!({"action": "accept"})),
        (&clerk, json!({"action": "classify", "cause": "staff_side"})),
        (
            &clerk,
            json!({"action": "resolve", "outcome": "科长到窗口当场办结"}),
        ),
        (
            &leader,
            json!({"action": "record_accountability", "accountability_outcome": "admonishment_talk",
            "talk_at": "2026-12-07 15:00", "talk_by": "钱副局长", "talked_to": "养老科 孙某", "clerk": "养老科 孙某",
            "department_head": "养老科 李科长", "leader_in_charge": "钱副局长",
            "reason": "以系统故障为由拒绝受理", "outcome": "通报批评，扣减当月绩效"}),
        ),
    ] {
        assert_eq!(app.post_json(&path, token, &body).await.0, 200, "{body}");
    }
    // Neither the decision nor the talk (约谈) shows to a clerk.
    let (_, detail) = app
        .get_json(&format!("/api/v1/cases/{number}"), &clerk)
        .await;
    assert!(
        !detail.to_string().contains("admonishment_talk"),
        "{detail}"
    );
    for secret in ["通报批评", "约谈"] {
        let mut b = Browser::new(&app);
        b.sign_in("wang", PASSWORD).await;
        for view in [
            format!("/staff/cases/{number}"),
            format!("/staff/cases/{number}/referral"),
        ] {
            let (status, page, _) = b.get(&view).await;
            assert_eq!(status, 200, "{view}");
            assert!(!page.contains(secret), "{view} shows the clerk the record");
            assert!(page.contains("仅值班领导和管理员可见"), "{view}");
        }
        let (_, detail) = app
            .get_json(&format!("/api/v1/cases/{number}"), &clerk)
            .await;
        assert!(
            !detail.to_string().contains(secret),
            "the API shows the clerk the record"
        );

        let mut l = Browser::new(&app);
        l.sign_in("zhao", PASSWORD).await;
        for view in [
            format!("/staff/cases/{number}"),
            format!("/staff/cases/{number}/referral"),
        ] {
            let (status, page, _) = l.get(&view).await;
            assert_eq!(status, 200, "{view}");
            assert!(
                page.contains(secret),
                "{view} hides the record from the leader"
            );
        }
        let (_, detail) = app
            .get_json(&format!("/api/v1/cases/{number}"), &leader)
            .await;
        assert!(detail.to_string().contains(secret));
    }
}

/// Guessing a clerk's password is slow and limited, and locks nobody out: parallel guesses
/// get one try between them, wrong passwords delay the account's next attempt, an address
/// that tries too often is turned away before any hashing, and every refusal reads the same.
async fn guessing_a_password_is_slowed_and_limited_without_locking_anyone_out(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.website.trust_forwarded_for = true;
        s.staff.sign_in_per_address = 12;
    })
    .await;
    app.user("li", "李早班", vec![Role::Callback], None).await;
    let failures = |app: &TestApp| {
        let store = app.store();
        async move {
            store
                .user_by_username("li")
                .await
                .unwrap()
                .unwrap()
                .failed_logins
        }
    };
    // Ten guesses at once, from ten places: one is checked, the others are refused unchecked
    // (401, or 429 when every core is busy hashing).
    let mut guessers = Vec::new();
    for i in 0..10 {
        let mut b = Browser::new(&app);
        b.forwarded_for = Some(format!("198.51.100.{}", i + 10));
        let token = b.sign_in_form().await;
        guessers.push((b, token));
    }
    let guesses = guessers.iter_mut().map(|(b, token)| {
        let token = token.clone();
        async move { b.post_sign_in(&token, "li", "a wrong guess at it").await.0 }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert_eq!(
        failures(&app).await,
        1,
        "one guess was checked, nine refused unchecked"
    );

    // Wrong passwords in a row: after the third, each next attempt waits; even the right
    // password is refused, in the same words, until the wait is over.
    let mut clerk = Browser::new(&app);
    clerk.forwarded_for = Some("203.0.113.5".into());
    app.raw_execute("update users set locked_until = null")
        .await
        .unwrap();
    assert_eq!(clerk.sign_in("li", "still not it at all").await.0, 401);
    app.raw_execute("update users set locked_until = null")
        .await
        .unwrap();
    assert_eq!(clerk.sign_in("li", "still not it at all").await.0, 401);
    assert_eq!(failures(&app).await, 3);
    let (status, refused, _) = clerk.sign_in("li", PASSWORD).await;
    assert_eq!(status, 401, "not due yet");
    let (_, wrong, _) = clerk.sign_in("nobody-at-all", PASSWORD).await;
    assert_eq!(
        error_of(&refused),
        error_of(&wrong),
        "the same words as an unknown user"
    );
    // The wait over (a second, here moved by hand), the clerk is in: nobody was locked out.
    let past = (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
    app.raw_execute(&format!("update users set locked_until = '{past}'"))
        .await
        .unwrap();
    assert_eq!(clerk.sign_in("li", PASSWORD).await.0, 303);
    assert_eq!(failures(&app).await, 0, "a sign-in clears the count");

    // One address trying too often is turned away with 429 before any password is checked,
    // whatever the account; another address is not.
    let mut flood = Browser::new(&app);
    flood.forwarded_for = Some("2001:db8:77:1::1".into());
    let mut seen = Vec::new();
    for i in 0..13 {
        // Another address of the same /64 each time: one client.
        flood.forwarded_for = Some(format!("2001:db8:77:1::{:x}", i + 1));
        seen.push(
            flood
                .sign_in(&format!("user{i}"), "guess guess guess")
                .await
                .0,
        );
    }
    assert_eq!(seen.iter().filter(|s| **s == 429).count(), 1, "{seen:?}");
    let (status, page, _) = flood.sign_in("li", PASSWORD).await;
    assert_eq!(status, 429, "even the right password, from there");
    assert!(page.contains("15"), "{page}");
    let mut elsewhere = Browser::new(&app);
    elsewhere.forwarded_for = Some("2001:db8:77:2::1".into());
    assert_eq!(elsewhere.sign_in("li", PASSWORD).await.0, 303);
}

/// Search words and the numbers a clerk types reach the server in bodies (with the CSRF
/// token), never in an address a proxy or a browser's history would keep.
async fn phone_and_id_numbers_never_ride_in_a_staff_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    let clerk = app.token("王芳", Role::Counter).await;
    let mut body = crate::helpers::walk_in();
    body["id_card"] = json!("11010519491231002X");
    let (_, case) = app.post_json("/api/v1/cases", &clerk, &body).await;
    let number = case["number"].as_str().unwrap().to_owned();
    let (_, other) = app
        .post_json(
            "/api/v1/cases",
            &clerk,
            &json!({"channel": "counter", "citizen_name": "李四", "phone": "13912345678",
                    "matter": "wages", "description": "工资拖欠两个月"}),
        )
        .await;
    let other = other["number"].as_str().unwrap().to_owned();
    let mut b = Browser::new(&app);
    b.sign_in("wang", PASSWORD).await;

    // Words in the address are not searched for, nor written back into the page.
    let (status, page, _) = b.get("/staff/queue?q=13800138000").await;
    assert_eq!(status, 200);
    assert!(!page.contains("13800138000"));
    assert!(page.contains(&number) && page.contains(&other));
    let token = csrf(&page);
    // Posted with the page's token, they are; a forged post is refused.
    let (status, _, _) = b
        .post("/staff/queue", &[("csrf", "forged"), ("q", "13800138000")])
        .await;
    assert_eq!(status, 403);
    let (status, page, _) = b
        .post("/staff/queue", &[("csrf", &token), ("q", "138 0013 8000")])
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&number) && !page.contains(&other));
    // The refresh posts the same search again, and gets the rows alone.
    assert!(page.contains("id=\"queue-refresh\""));
    let (status, rows, _) = b
        .post(
            "/staff/queue",
            &[("csrf", &token), ("q", "138 0013 8000"), ("partial", "1")],
        )
        .await;
    assert_eq!(status, 200);
    assert!(rows.contains(&number) && !rows.contains("<html"));

    // The repeat-visitor check as the clerk types: posted, with the token.
    let (status, _, _) = b
        .get("/staff/register/repeat?phone=13800138000&id_card=")
        .await;
    assert_eq!(status, 405);
    let (status, _, _) = b
        .post(
            "/staff/register/repeat",
            &[
                ("csrf", "forged"),
                ("phone", ""),
                ("id_card", "11010519491231002X"),
            ],
        )
        .await;
    assert_eq!(status, 403);
    let (status, banner, _) = b
        .post(
            "/staff/register/repeat",
            &[
                ("csrf", &token),
                ("phone", ""),
                ("id_card", "11010519491231002X"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert!(banner.contains(&number), "{banner}");
}

/// An administrator issues a token in the page (seen once), sees when it was last used, and
/// revokes it; it stops working at once. Every other role is refused the page and its forms,
/// a forged form is refused, and bad input is explained.
async fn an_administrator_issues_sees_and_revokes_api_tokens_in_the_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("root", "系统管理员", vec![Role::Admin], None)
        .await;
    let mut admin = Browser::new(&app);
    admin.sign_in("root", PASSWORD).await;
    let (status, page, _) = admin.get("/staff/admin/tokens").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("还没有令牌"));
    let token = csrf(&page);

    for (form, says) in [
        (
            vec![("name", "区政务服务网"), ("role", ""), ("days", "")],
            "请选择角色",
        ),
        (
            vec![
                ("name", "区政务服务网"),
                ("role", "counter"),
                ("days", "abc"),
            ],
            "有效天数",
        ),
        (
            vec![("name", "区政务服务网"), ("role", "counter"), ("days", "0")],
            "有效天数",
        ),
        (
            vec![("name", "  "), ("role", "counter"), ("days", "")],
            "使用者",
        ),
    ] {
        let mut fields = form.clone();
        fields.push(("csrf", &token));
        let (status, page, _) = admin.post("/staff/admin/tokens", &fields).await;
        assert_eq!(status, 422, "{form:?}");
        assert!(page.contains(says), "{form:?}: {page}");
    }
    let (status, _, _) = admin
        .post(
            "/staff/admin/tokens",
            &[
                ("csrf", "forged"),
                ("name", "x"),
                ("role", "admin"),
                ("days", ""),
            ],
        )
        .await;
    assert_eq!(status, 403);

    let (status, page, _) = admin
        .post(
            "/staff/admin/tokens",
            &[
                ("csrf", &token),
                ("name", "区政务服务网"),
                ("role", "counter"),
                ("days", "30"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let start = page.find("id=\"issued-secret\">").unwrap() + "id=\"issued-secret\">".len();
    let secret = page[start..start + page[start..].find('<').unwrap()].to_owned();
    assert!(secret.starts_with("ym_"));
    assert!(page.contains("从未使用"));
    // Shown once: the list does not show it again.
    let (_, page, _) = admin.get("/staff/admin/tokens").await;
    assert!(!page.contains(&secret) && page.contains("区政务服务网"));

    let (status, _) = app.get_json("/api/v1/cases", &secret).await;
    assert_eq!(status, 200);
    let (_, page, _) = admin.get("/staff/admin/tokens").await;
    assert!(!page.contains("从未使用"), "its last use is shown");
    let id = app.store().list_tokens().await.unwrap()[0].id;
    let revoke = format!("/staff/admin/tokens/{id}/revoke");

    // Every other role: no page, no form.
    for (i, role) in [
        Role::Counter,
        Role::Hotline,
        Role::Callback,
        Role::DutyLeader,
    ]
    .into_iter()
    .enumerate()
    {
        let username = format!("user{i}");
        app.user(&username, &format!("员工{i}"), vec![role], None)
            .await;
        let mut b = Browser::new(&app);
        b.sign_in(&username, PASSWORD).await;
        let (status, _, _) = b.get("/staff/admin/tokens").await;
        assert_eq!(status, 403, "{role} sees the tokens");
        let (_, queue, _) = b.get("/staff/queue").await;
        assert!(
            !queue.contains("/staff/admin/tokens"),
            "{role} is offered the page"
        );
        let theirs = csrf(&queue);
        let (status, _, _) = b
            .post(
                "/staff/admin/tokens",
                &[
                    ("csrf", &theirs),
                    ("name", "x"),
                    ("role", "admin"),
                    ("days", ""),
                ],
            )
            .await;
        assert_eq!(status, 403, "{role} issues a token");
        let (status, _, _) = b.post(&revoke, &[("csrf", &theirs)]).await;
        assert_eq!(status, 403, "{role} revokes a token");
    }
    let mut nobody = Browser::new(&app);
    let (status, _, location) = nobody.get("/staff/admin/tokens").await;
    assert_eq!(status, 303);
    assert!(location.unwrap().starts_with("/staff/login"));

    let (status, _, _) = admin.post(&revoke, &[("csrf", "forged")]).await;
    assert_eq!(status, 403);
    let (status, _, _) = admin
        .post("/staff/admin/tokens/999999/revoke", &[("csrf", &token)])
        .await;
    assert_eq!(status, 404);
    let (status, _, location) = admin.post(&revoke, &[("csrf", &token)]).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/staff/admin/tokens"))
    );
    let (status, body) = app.get_json("/api/v1/cases", &secret).await;
    assert_eq!(status, 401, "{body}");
    let (_, page, _) = admin.get("/staff/admin/tokens").await;
    assert!(page.contains("已吊销"));
    assert!(app
        .store()
        .verify_chain("audit_events")
        .await
        .unwrap()
        .broken
        .is_none());
}

/// A token past its expiry is refused like a revoked one; its last use is recorded.
async fn an_expired_token_stops_working_and_a_used_one_records_when(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let store = app.store();
    let now = chrono::Utc::now();
    let (live, record) =
        youmen::auth::issue_token(store.as_ref(), "区政务服务网", Role::Counter, Some(1), now)
            .await
            .unwrap();
    assert!(record.expires_at.unwrap() > now + chrono::Duration::hours(23));
    let expired = youmen::auth::generate_token();
    store
        .insert_token(
            "旧系统",
            Role::Counter,
            &youmen::auth::hash_token(&expired),
            Some(now - chrono::Duration::minutes(1)),
            now - chrono::Duration::days(30),
        )
        .await
        .unwrap();
    let (status, body) = app.get_json("/api/v1/cases", &expired).await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("过期"),
        "{body}"
    );
    assert_eq!(app.get_json("/api/v1/cases", &live).await.0, 200);
    let tokens = store.list_tokens().await.unwrap();
    let used = |name: &str| tokens.iter().find(|t| t.name == name).unwrap().last_used_at;
    assert!(used("区政务服务网").is_some_and(|at| at >= now - chrono::Duration::seconds(5)));
    assert!(used("旧系统").is_none(), "a refused token was not used");
    assert!(
        youmen::auth::issue_token(store.as_ref(), "x", Role::Counter, Some(0), now)
            .await
            .is_err()
    );
}

crate::on_both_backends!(
    two_first_receipts_at_once_issue_one_code,
    a_refused_action_says_why_next_to_its_form_and_keeps_what_was_typed,
    a_referral_names_its_department_and_how_the_hand_off_ended,
    a_refused_case_prints_its_refusal_notice,
    a_walk_in_answered_on_the_spot_is_a_closed_consultation,
    an_expired_token_stops_working_and_a_used_one_records_when,
    an_administrator_issues_sees_and_revokes_api_tokens_in_the_page,
    phone_and_id_numbers_never_ride_in_a_staff_address,
    guessing_a_password_is_slowed_and_limited_without_locking_anyone_out,
    a_clerk_reads_no_accountability_record_in_any_view,
    the_duty_leader_sees_the_day_and_keeps_the_roster,
    a_one_time_notice_prints_as_a_checklist,
    signing_in_out_and_locking_out,
    idle_sessions_expire,
    roles_and_forged_forms_are_refused,
    the_morning_shift_works_the_list_in_the_page,
);
