//! Moving from SQLite to PostgreSQL: `youmen export` from a SQLite database in use, `youmen
//! import` into a new PostgreSQL database through the real binary, and the same cases,
//! timelines, recordings, tokens and audit chains served by an instance on PostgreSQL.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};
use youmen::domain::Role;

use crate::helpers::{fresh_postgres_database, walk_in, Backend, Database, TestApp};
use crate::hotline::wav;

fn youmen(args: &[&str], database_url: &str, audio: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_youmen"))
        .args(args)
        .env("YOUMEN__DATABASE__URL", database_url)
        .env("YOUMEN__HOTLINE__AUDIO_DIR", audio)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

async fn everything(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, page) = app
        .get_json("/api/v1/cases?limit=100&sort=received", token)
        .await;
    assert_eq!(status, 200, "{page}");
    let mut out = Vec::new();
    for case in page["cases"].as_array().unwrap() {
        let number = case["number"].as_str().unwrap();
        let (status, detail) = app
            .get_json(&format!("/api/v1/cases/{number}"), token)
            .await;
        assert_eq!(status, 200);
        out.push(detail);
    }
    out
}

#[tokio::test]
async fn a_sqlite_database_moves_to_postgresql_with_everything() {
    if Backend::postgres().await.is_none() {
        return;
    }
    let old = TestApp::spawn(Backend::Sqlite).await;
    let leader = old.token("赵局长", Role::DutyLeader).await;
    let pbx = old.token("freepbx", Role::Pbx).await;
    old.user(
        "wangfang",
        "王芳",
        vec![Role::Counter],
        Some("wangfang@example.org"),
    )
    .await;
    // A walk-in taken through to closure, a voicemail with its recording, a website message.
    let (_, walk) = old.post_json("/api/v1/cases", &leader, &walk_in()).await;
    let walk = walk["number"].as_str().unwrap().to_owned();
    for body in [
        json!({"action": "accept"}),
        json!({"action": "classify", "cause": "citizen_side"}),
        json!({"action": "add_note", "text": "已电话联系本人"}),
        json!({"action": "resolve", "outcome": "已办结"}),
        json!({"action": "close"}),
    ] {
        let (status, r) = old
            .post_json(&format!("/api/v1/cases/{walk}/actions"), &leader, &body)
            .await;
        assert_eq!(status, 200, "{r}");
    }
    let call = ("business", "13912345678", "2026-11-27T21:00:00+08:00");
    crate::hotline::push_voicemail(&old, &pbx, call, wav(2.0, 0.4), "vm-1").await;
    let r = old
        .post("/api/v1/website/messages")
        .json(
            &json!({"name": "李阿姨", "phone": "13900139000", "matter": "wages",
                      "description": "工资被拖欠三个月", "consent": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (status, _) = old
        .get_json("/api/v1/callbacks?date=2026-11-30", &leader)
        .await;
    assert_eq!(status, 200);
    let before = everything(&old, &leader).await;
    assert_eq!(before.len(), 3);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("youmen-export.jsonl");
    let audio = old.state().hotline.ingestor.audio().path_of("00");
    let audio = audio.parent().unwrap().parent().unwrap();
    let out = youmen(
        &["export", "--to", file.to_str().unwrap()],
        &old.database_url,
        audio,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("cases"), "{}", stdout(&out));
    let exported = std::fs::read_to_string(&file).unwrap();
    assert!(
        !exported.contains("case_grams") && !exported.contains("case_search"),
        "the search index is rebuilt, not carried"
    );

    let (url, name) = fresh_postgres_database().await;
    let _database = Database(name);
    let out = youmen(&["import", "--from", file.to_str().unwrap()], &url, audio);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("case_events: ") && text.contains("the chain is intact"),
        "{text}"
    );
    assert!(text.contains("every recording's audio is in"), "{text}");
    // Only into an empty database.
    let again = youmen(&["import", "--from", file.to_str().unwrap()], &url, audio);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    // The same service on PostgreSQL: the old token works, the same cases and timelines.
    let audio_dir = audio.to_path_buf();
    let new = TestApp::spawn_with(Backend::Postgres, |s| {
        s.database.url = url.clone();
        s.hotline.audio_dir = audio_dir;
    })
    .await;
    let after = everything(&new, &leader).await;
    assert_eq!(
        after, before,
        "every case and timeline carried over as it was"
    );
    let voicemail = after
        .iter()
        .find(|c| c["channel"] == "business_hotline")
        .unwrap();
    let url = voicemail["recordings"][0]["url"].as_str().unwrap();
    let r = new.get(url).bearer_auth(&leader).send().await.unwrap();
    assert_eq!(
        r.status(),
        200,
        "the recording plays from the same audio folder"
    );
    let (_, found) = new.get_json("/api/v1/cases?q=拖欠", &leader).await;
    assert_eq!(
        found["cases"].as_array().unwrap().len(),
        1,
        "search rebuilt: {found}"
    );
    // New work continues the numbering and the chains.
    let (status, next) = new.post_json("/api/v1/cases", &leader, &walk_in()).await;
    assert_eq!(status, 201, "{next}");
    let seqs: Vec<u32> = after
        .iter()
        .chain(std::iter::once(&next))
        .map(crate::helpers::seq_of)
        .collect();
    assert_eq!(*seqs.last().unwrap() as usize, seqs.len(), "{seqs:?}");
    let verify = youmen(&["audit", "verify"], &new.database_url, audio);
    assert!(verify.status.success(), "{}", stdout(&verify));
    // Staff accounts came along: the clerk signs in on the new instance (a session cookie
    // and a redirect; a wrong password would get the form back).
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client
        .get(format!("{}/staff/login", new.address))
        .send()
        .await
        .unwrap();
    let cookie = form.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = form.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let token = &page[start..start + page[start..].find('"').unwrap()];
    let r = client
        .post(format!("{}/staff/login", new.address))
        .header("cookie", cookie)
        .form(&[
            ("csrf", token),
            ("username", "wangfang"),
            ("password", crate::helpers::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert!(r
        .headers()
        .get("set-cookie")
        .is_some_and(|c| c.to_str().unwrap().starts_with("youmen_session=")));
}
