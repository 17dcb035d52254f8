//! The audit page, on both backends: a duty leader reads who signed in and who printed what,
//! filtered; the chains verify; the CSV export; reading it is itself on the trail; a clerk
//! may not read it, and a bad filter is named.

use youmen::domain::Role;

use crate::helpers::{walk_in, Backend, TestApp, PASSWORD};
use crate::staff::Browser;

async fn a_duty_leader_reads_who_signed_in_and_printed_what(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("wang", "王芳", vec![Role::Counter], None).await;
    app.user("zhao", "赵局长", vec![Role::DutyLeader], None)
        .await;
    let token = app.token("王芳", Role::Counter).await;
    let (_, case) = app.post_json("/api/v1/cases", &token, &walk_in()).await;
    let number = case["number"].as_str().unwrap().to_owned();
    let mut clerk = Browser::new(&app);
    clerk.sign_in("wang", PASSWORD).await;
    let (status, _, _) = clerk.get(&format!("/staff/cases/{number}/referral")).await;
    assert_eq!(status, 200);
    assert_eq!(clerk.get("/staff/audit").await.0, 403, "not for a clerk");

    let mut leader = Browser::new(&app);
    leader.sign_in("zhao", PASSWORD).await;
    let (status, page, _) = leader.get("/staff/audit?kind=sign_in").await;
    assert_eq!(status, 200);
    assert!(page.contains("王芳") && page.contains("登录"), "{page}");
    assert!(!page.contains("<td>打印转办单</td>"), "filtered by kind");
    let (_, page, _) = leader
        .get("/staff/audit?person=%E7%8E%8B%E8%8A%B3&kind=print")
        .await;
    assert!(
        page.contains("打印转办单") && page.contains(&number),
        "{page}"
    );
    assert!(
        !page.contains("<td>登录</td>"),
        "filtered by person and kind"
    );
    let (_, page, _) = leader.get("/staff/audit?verify=1").await;
    assert!(
        page.contains("id=\"verified\"") && !page.contains("已被篡改"),
        "{page}"
    );
    assert!(page.contains("完整"));
    for bad in ["/staff/audit?from=yesterday", "/staff/audit?kind=gossip"] {
        assert_eq!(leader.get(bad).await.0, 422, "{bad}");
    }
    let (status, csv, _) = leader.get("/staff/audit/export?kind=print").await;
    assert_eq!(status, 200);
    assert!(
        csv.starts_with('\u{feff}')
            && csv.contains("时间,人员,操作,对象,说明")
            && csv.contains(&number)
    );
    // Reading and exporting were recorded.
    let (_, page, _) = leader
        .get("/staff/audit?person=%E8%B5%B5%E5%B1%80%E9%95%BF")
        .await;
    assert!(
        page.contains("查阅审计记录") && page.contains("导出审计记录"),
        "{page}"
    );
}

crate::on_both_backends!(a_duty_leader_reads_who_signed_in_and_printed_what);
