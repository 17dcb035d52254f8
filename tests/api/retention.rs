//! Retention (PIPL): recordings of closed cases deleted after N days, personal fields
//! anonymized after M years, statistics kept, every purge on the timeline, a dry run that
//! changes nothing, and two runs at once doing each piece of work once; on both backends.

use std::process::Command;

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use youmen::config::RetentionSettings;
use youmen::domain::Role;
use youmen::retention::Retention;
use youmen::work::Stop;

use crate::helpers::{walk_in, Backend, TestApp};
use crate::hotline::wav;

async fn voicemail(app: &TestApp, pbx: &str, caller: &str, audio: Vec<u8>, id: &str) -> String {
    let call = ("complaint", caller, "2026-11-20T20:00:00+08:00");
    crate::hotline::push_voicemail(app, pbx, call, audio, id).await
}

async fn close(app: &TestApp, token: &str, number: &str) {
    let path = format!("/api/v1/cases/{number}/actions");
    for body in [
        json!({"action": "accept"}),
        json!({"action": "classify", "cause": "citizen_side"}),
        json!({"action": "resolve", "outcome": "已向来电人解释政策"}),
        json!({"action": "close"}),
    ] {
        let (status, r) = app.post_json(&path, token, &body).await;
        assert_eq!(status, 200, "{body}: {r}");
    }
}

async fn case(app: &TestApp, token: &str, number: &str) -> Value {
    let (status, body) = app
        .get_json(&format!("/api/v1/cases/{number}"), token)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn play(app: &TestApp, token: &str, case: &Value) -> u16 {
    let url = case["recordings"][0]["url"].as_str().unwrap();
    app.get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn sha256(app: &TestApp, case: &Value) -> String {
    let id = case["recordings"][0]["id"].as_i64().unwrap();
    app.store().recording(id).await.unwrap().unwrap().sha256
}

fn actions(case: &Value) -> Vec<String> {
    case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

fn retention(app: &TestApp) -> Retention {
    Retention::new(
        app.store(),
        app.state().hotline.ingestor.audio().clone(),
        RetentionSettings {
            recordings_days: 180,
            anonymize_after_years: 3,
            check_minutes: 60,
        },
    )
}

async fn closed_cases_lose_recordings_then_personal_data_and_statistics_stay(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pbx = app.token("freepbx", Role::Pbx).await;
    let leader = app.token("赵局长", Role::DutyLeader).await;
    // A: its own audio. C and D: the same audio (one file); C is closed, D stays open.
    let a = voicemail(&app, &pbx, "13912345678", wav(3.0, 0.5), "vm-a").await;
    let c = voicemail(&app, &pbx, "13700001111", wav(2.0, 0.3), "vm-c").await;
    let d = voicemail(&app, &pbx, "13700002222", wav(2.0, 0.3), "vm-d").await;
    let (status, walk) = app.post_json("/api/v1/cases", &leader, &walk_in()).await;
    assert_eq!(status, 201, "{walk}");
    let e = walk["number"].as_str().unwrap().to_owned();
    for number in [&a, &c, &e] {
        close(&app, &leader, number).await;
    }
    let audio = app.state().hotline.ingestor.audio().clone();
    let sha_a = sha256(&app, &case(&app, &leader, &a).await).await;
    let sha_c = sha256(&app, &case(&app, &leader, &c).await).await;
    assert!(audio.path_of(&sha_a).is_file() && audio.path_of(&sha_c).is_file());

    let retention = retention(&app);
    let now = Utc::now();
    // Today nothing is due; in 200 days the two closed cases' recordings are.
    let plan = retention.plan(now, 100).await.unwrap();
    assert!(plan.recordings.is_empty() && plan.cases.is_empty());
    let later = now + Duration::days(200);
    let plan = retention.plan(later, 100).await.unwrap();
    let mut due: Vec<&str> = plan
        .recordings
        .iter()
        .map(|r| r.case_number.as_str())
        .collect();
    due.sort();
    let mut expected = vec![a.as_str(), c.as_str()];
    expected.sort();
    assert_eq!(due, expected, "only closed cases' recordings are due");
    assert!(plan.cases.is_empty(), "anonymization comes years later");
    // The dry run changed nothing.
    assert_eq!(
        play(&app, &leader, &case(&app, &leader, &a).await).await,
        200
    );

    // Two instances purging at once: each recording once.
    let (other, stop) = (retention.clone(), Stop::new());
    let (one, two) = tokio::join!(
        retention.run(later, "system:retention".into(), &stop),
        other.run(later, "system:retention".into(), &stop)
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!(
        one.recordings_purged + two.recordings_purged,
        2,
        "{one:?} {two:?}"
    );
    assert!(!audio.path_of(&sha_a).exists(), "A's audio is deleted");
    assert!(
        audio.path_of(&sha_c).is_file(),
        "C's audio is D's too: it stays"
    );
    let case_a = case(&app, &leader, &a).await;
    assert_eq!(play(&app, &leader, &case_a).await, 410);
    assert!(case_a["recordings"][0]["purged_at"].is_string());
    assert_eq!(
        actions(&case_a)
            .iter()
            .filter(|a| *a == "purge_recording")
            .count(),
        1,
        "one purge event on the timeline"
    );
    assert_eq!(
        play(&app, &leader, &case(&app, &leader, &d).await).await,
        200
    );
    let again = retention
        .run(later, "system:retention".into(), &Stop::new())
        .await
        .unwrap();
    assert_eq!(again.recordings_purged, 0);

    // Three years on, the closed cases are anonymized; the open one keeps everything.
    let (_, found) = app.get_json("/api/v1/cases?q=张三", &leader).await;
    assert_eq!(found["cases"].as_array().unwrap().len(), 1, "{found}");
    let indexed_anonymized = &format!(
        "select count(*) from {} where case_id in (select id from cases where status = 'closed')",
        app.search_grams()
    );
    while app.store().index_search_backlog(100).await.unwrap() > 0 {}
    assert!(app.raw_count(indexed_anonymized).await > 0);
    let years = now + Duration::days(3 * 366 + 1);
    let done = retention
        .run(years, "system:retention".into(), &Stop::new())
        .await
        .unwrap();
    assert_eq!(done.cases_anonymized, 3, "{done:?}");
    let walk = case(&app, &leader, &e).await;
    assert_eq!(
        walk["matter"], "pensions",
        "what the statistics count stays"
    );
    assert_eq!(
        walk["citizen"],
        json!({"name": null, "phone": null, "phone_original": null, "id_card_masked": null}),
        "{walk}"
    );
    assert_eq!(walk["description"], "");
    assert!(actions(&walk).contains(&"anonymize".to_owned()));
    assert_eq!(walk["status"], "closed");
    let open = case(&app, &leader, &d).await;
    assert_eq!(
        open["citizen"]["phone"], "+8613700002222",
        "an open case keeps its data"
    );
    // Search no longer finds them by name or number; the open case still is.
    let (_, found) = app.get_json("/api/v1/cases?q=张三", &leader).await;
    assert_eq!(found["cases"].as_array().unwrap().len(), 0, "{found}");
    let (_, found) = app.get_json("/api/v1/cases?q=13700002222", &leader).await;
    assert_eq!(found["cases"].as_array().unwrap().len(), 1, "{found}");
    // Nor does the search index keep their bigrams, once the indexer has been round.
    while app.store().index_search_backlog(100).await.unwrap() > 0 {}
    assert_eq!(app.raw_count(indexed_anonymized).await, 0);
    // The statistics still count every case.
    let today = app.state().calendar.current().local_date(now).to_string();
    let (status, stats) = app
        .get_json(
            &format!("/api/v1/statistics?from=2026-11-01&to={today}"),
            &leader,
        )
        .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["total"], 4, "{stats}");
    // Every purge is on the chained trail, which still verifies.
    for chain in ["case_events", "audit_events"] {
        let report = app.store().verify_chain(chain).await.unwrap();
        assert!(report.broken.is_none(), "{chain}: {:?}", report.broken);
    }
}

/// What retention once missed: a case resolved (or refused) and never closed, the bytes of a
/// pushed recording youmen could not use, quarantine entries, and the callers and provider
/// addresses of announced recordings. A file in the PBX's spool is not youmen's to delete.
async fn finished_but_unclosed_cases_quarantine_and_announced_callers_are_purged_too(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let pbx = app.token("freepbx", Role::Pbx).await;
    let leader = app.token("赵局长", Role::DutyLeader).await;
    let resolved = voicemail(&app, &pbx, "13912345678", wav(3.0, 0.5), "vm-r").await;
    let path = format!("/api/v1/cases/{resolved}/actions");
    for body in [
        json!({"action": "accept"}),
        json!({"action": "classify", "cause": "citizen_side"}),
        json!({"action": "resolve", "outcome": "已回电解释"}),
    ] {
        assert_eq!(app.post_json(&path, &leader, &body).await.0, 200);
    }
    // A pushed recording that is not audio: kept in quarantine, bytes and all.
    let r = app
        .post("/api/v1/hotline/voicemails")
        .bearer_auth(&pbx)
        .multipart(crate::hotline::voicemail_form(
            b"not a wav file at all, but a caller's voice all the same".to_vec(),
            ("complaint", "13800001111", "2026-11-20T20:00:00+08:00"),
            "vm-bad",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let store = app.store();
    let kept = store.quarantine_list(true).await.unwrap()[0].path.clone();
    assert!(std::path::Path::new(&kept).is_file());
    // An entry for a file in the PBX's spool (not youmen's).
    let spool = tempfile::tempdir().unwrap();
    let spool_file = spool.path().join("msg0001.txt");
    std::fs::write(&spool_file, b"[message]\ncallerid=13800002222\n").unwrap();
    store
        .quarantine(
            "spool:msg0001",
            "asterisk",
            &spool_file.display().to_string(),
            "no audio beside it",
            Utc::now(),
        )
        .await
        .unwrap();
    // Recordings a provider announced: one fetched, one given up on, one still pending.
    for (sid, status) in [("RE1", "done"), ("RE2", "dead"), ("RE3", "pending")] {
        let download = youmen::storage::NewDownload {
            recording_sid: sid.into(),
            call_sid: Some(format!("CA{sid}")),
            url: format!("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{sid}"),
            channel: youmen::domain::Channel::ComplaintHotline,
            caller: Some("+8613800003333".into()),
            received_at: Utc::now(),
        };
        assert!(store.enqueue_download(&download, Utc::now()).await.unwrap());
        app.raw_execute(&format!(
            "update recording_downloads set status = '{status}' where recording_sid = '{sid}'"
        ))
        .await
        .unwrap();
    }

    let retention = retention(&app);
    let later = Utc::now() + Duration::days(200);
    let plan = retention.plan(later, 100).await.unwrap();
    assert_eq!(
        plan.recordings.len(),
        1,
        "the resolved case's recording is due"
    );
    assert_eq!(plan.recordings[0].case_number, resolved);
    assert_eq!(plan.quarantine.len(), 2);
    assert_eq!(plan.downloads, 2, "the pending one is still needed");
    let done = retention
        .run(later, "system:retention".into(), &Stop::new())
        .await
        .unwrap();
    assert_eq!(
        (
            done.recordings_purged,
            done.quarantine_purged,
            done.downloads_scrubbed
        ),
        (1, 2, 2),
        "{done:?}"
    );
    assert!(
        !std::path::Path::new(&kept).exists(),
        "youmen's copy is deleted"
    );
    assert!(spool_file.is_file(), "the PBX's file is the PBX's to purge");
    assert!(store.quarantine_list(true).await.unwrap().is_empty());
    let kept_callers = app
        .raw_count("select count(*) from recording_downloads where caller is not null or url <> ''")
        .await;
    assert_eq!(
        kept_callers, 1,
        "only the pending download keeps its caller"
    );

    let years = Utc::now() + Duration::days(3 * 366 + 1);
    let done = retention
        .run(years, "system:retention".into(), &Stop::new())
        .await
        .unwrap();
    assert_eq!(done.cases_anonymized, 1, "{done:?}");
    let shown = case(&app, &leader, &resolved).await;
    assert_eq!(shown["status"], "resolved");
    assert!(shown["citizen"]["phone"].is_null(), "{shown}");
    for chain in ["case_events", "audit_events"] {
        let report = app.store().verify_chain(chain).await.unwrap();
        assert!(report.broken.is_none(), "{chain}: {:?}", report.broken);
    }
}

crate::on_both_backends!(
    closed_cases_lose_recordings_then_personal_data_and_statistics_stay,
    finished_but_unclosed_cases_quarantine_and_announced_callers_are_purged_too,
);

/// The administrator's dry run through the real binary: what goes by a date, nothing changed.
#[tokio::test]
async fn the_dry_run_lists_what_a_date_will_purge_and_changes_nothing() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let pbx = app.token("freepbx", Role::Pbx).await;
    let leader = app.token("赵局长", Role::DutyLeader).await;
    let number = voicemail(&app, &pbx, "13912345678", wav(1.0, 0.5), "vm-1").await;
    close(&app, &leader, &number).await;
    let audio_dir = app.state().hotline.ingestor.audio().path_of("x");
    let audio_dir = audio_dir.parent().unwrap().parent().unwrap();
    let as_of = (Utc::now() + Duration::days(200))
        .format("%Y-%m-%d")
        .to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_youmen"))
        .args(["retention", "--dry-run", "--as-of", &as_of])
        .env("YOUMEN__DATABASE__URL", &app.database_url)
        .env("YOUMEN__HOTLINE__AUDIO_DIR", audio_dir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        out.contains(&number) && out.contains("would be deleted: 1"),
        "{out}"
    );
    assert!(out.contains("Nothing was changed"), "{out}");
    assert!(!out.contains("13912345678"), "no phone numbers: {out}");
    let detail = case(&app, &leader, &number).await;
    assert_eq!(play(&app, &leader, &detail).await, 200);
    assert!(!actions(&detail).contains(&"purge_recording".to_owned()));
}
