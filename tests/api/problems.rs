//! Common problems into reforms (共性问题 → 制度创新): a leader opens a problem, cases are
//! linked to it (a case action, on the timeline) from the API and the case page, the reform
//! is recorded, and the problem page shows whether cases stopped after it. On both backends.

use serde_json::json;
use youmen::domain::Role;

use crate::helpers::{walk_in, Backend, TestApp, PASSWORD};
use crate::staff::{csrf, Browser};

async fn a_problem_gathers_cases_and_becomes_a_reform(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("zhao", "赵局长", vec![Role::DutyLeader], None)
        .await;
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    let clerk = app.token("王芳", Role::Counter).await;
    let mut leader = Browser::new(&app);
    leader.sign_in("zhao", PASSWORD).await;
    let token = csrf(&leader.get("/staff/problems").await.1);
    // Bad input is named; then the problem is opened.
    let (status, page, _) = leader
        .post(
            "/staff/problems",
            &[("csrf", &token), ("title", ""), ("fault", "")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("请填写问题名称") && page.contains("请写明卡在哪项政策"));
    let (status, _, location) = leader
        .post(
            "/staff/problems",
            &[
                ("csrf", &token),
                ("title", "灵活就业人员社保补贴跨区认定"),
                ("fault", "补贴办法要求户籍地认定，系统不支持异地"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();

    // Three cases, two before the reform and one after.
    let mut numbers = Vec::new();
    for at in [
        "2026-10-10T10:00:00+08:00",
        "2026-10-20T10:00:00+08:00",
        "2026-11-05T10:00:00+08:00",
    ] {
        let mut body = walk_in();
        body["received_at"] = json!(at);
        let (status, case) = app.post_json("/api/v1/cases", &clerk, &body).await;
        assert_eq!(status, 201, "{case}");
        numbers.push(case["number"].as_str().unwrap().to_owned());
    }
    let link = |n: &str| format!("/api/v1/cases/{n}/problem");
    for n in &numbers[..2] {
        let (status, r) = app
            .post_json(&link(n), &clerk, &json!({"problem_id": id}))
            .await;
        assert_eq!((status, &r), (200, &json!({"linked": true})));
    }
    // Twice is once; an unknown problem is named.
    let (_, r) = app
        .post_json(&link(&numbers[0]), &clerk, &json!({"problem_id": id}))
        .await;
    assert_eq!(r, json!({"linked": false}));
    let (status, r) = app
        .post_json(&link(&numbers[0]), &clerk, &json!({"problem_id": 999}))
        .await;
    assert_eq!(
        (status, r["error"]["field"].as_str()),
        (422, Some("problem_id")),
        "{r}"
    );
    // The third from its page, by the clerk.
    let mut wang = Browser::new(&app);
    wang.sign_in("wang", PASSWORD).await;
    let case_page = wang.get(&format!("/staff/cases/{}", numbers[2])).await.1;
    assert!(
        case_page.contains("关联到共性问题"),
        "the case page offers it"
    );
    let (status, _, _) = wang
        .post(
            &format!("/staff/cases/{}/problem", numbers[2]),
            &[("csrf", &csrf(&case_page)), ("problem_id", &id.to_string())],
        )
        .await;
    assert_eq!(status, 303);
    let (_, case) = app
        .get_json(&format!("/api/v1/cases/{}", numbers[2]), &clerk)
        .await;
    assert!(
        case.to_string().contains("link_problem"),
        "on the timeline: {case}"
    );
    // A clerk reads the register but cannot open or move a problem.
    assert_eq!(wang.get(&format!("/staff/problems/{id}")).await.0, 200);
    let wang_token = csrf(&wang.get("/staff/problems").await.1);
    assert_eq!(
        wang.post(
            "/staff/problems",
            &[("csrf", &wang_token), ("title", "t"), ("fault", "f")]
        )
        .await
        .0,
        403
    );

    // The reform, adopted: its document, date and summary are required.
    let (status, page, _) = leader
        .post(
            &format!("/staff/problems/{id}"),
            &[
                ("csrf", &token),
                ("title", "灵活就业人员社保补贴跨区认定"),
                ("fault", "补贴办法要求户籍地认定"),
                ("status", "reform_adopted"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("请填写文件编号"));
    let (status, _, _) = leader
        .post(
            &format!("/staff/problems/{id}"),
            &[
                ("csrf", &token),
                ("title", "灵活就业人员社保补贴跨区认定"),
                ("fault", "补贴办法要求户籍地认定"),
                ("status", "reform_adopted"),
                ("reform_document", "丹人社发〔2026〕12号"),
                ("reform_date", "2026-11-01"),
                ("reform_summary", "改为居住地认定，系统开通异地办理"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let page = leader.get(&format!("/staff/problems/{id}")).await.1;
    assert!(page.contains("丹人社发〔2026〕12号") && page.contains("已形成制度创新成果"));
    assert!(page.contains("成果出台前 2 件，出台后 1 件"), "{page}");
    assert!(
        page.contains("2026-10") && page.contains("2026-11"),
        "by month"
    );
    // An adopted problem takes no more cases.
    let (status, _) = app
        .post_json(&link(&numbers[0]), &clerk, &json!({"problem_id": id}))
        .await;
    assert_eq!(status, 422);
}

crate::on_both_backends!(a_problem_gathers_cases_and_becomes_a_reform);
