//! The hotlines: calls logged by operators, and voicemail from a real Asterisk-style spool
//! of real WAV files, taken in by the real binary and checked over the HTTP API.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use youmen::domain::Role;

use crate::helpers::{json, Backend, TestApp};

/// A tone (or silence at amplitude 0) as a 16-bit PCM WAV, the way Asterisk's `wav` writes.
pub fn wav(seconds: f64, amplitude: f64) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for i in 0..(seconds * 8000.0) as u32 {
        let t = f64::from(i) / 8000.0;
        // Two tones and a wobble: speech-like enough for loudness.
        let v = amplitude
            * (0.6 * (2.0 * std::f64::consts::PI * 300.0 * t).sin()
                + 0.4 * (2.0 * std::f64::consts::PI * 1100.0 * t).sin())
            * (0.6 + 0.4 * (2.0 * std::f64::consts::PI * 3.0 * t).sin());
        w.write_sample((v * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}

pub fn metadata(callerid: &str, origtime: i64, msg_id: Option<&str>) -> String {
    let id = msg_id.map(|m| format!("msg_id={m}\n")).unwrap_or_default();
    format!(
        ";\n; Message Information file\n;\n[message]\norigmailbox=3105883\ncontext=default\nexten=3105883\n\
         rdnis=unknown\npriority=1\ncallerchan=PJSIP/trunk-0000001a\ncallerid={callerid}\n\
         origdate=Fri May  8 02:15:00 PM UTC 2026\norigtime={origtime}\ncategory=\n{id}flag=\nduration=12\n"
    )
}

pub struct Spool {
    pub root: PathBuf,
}

impl Spool {
    pub fn new(dir: &Path) -> Self {
        let root = dir.join("spool");
        std::fs::create_dir_all(&root).unwrap();
        Spool { root }
    }

    fn folder(&self, mailbox: &str, folder: &str) -> PathBuf {
        let p = self.root.join(mailbox).join(folder);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Writes the audio first and the .txt last, as Asterisk does.
    pub fn message(
        &self,
        mailbox: &str,
        folder: &str,
        n: u32,
        txt: &[u8],
        audio: &[(&str, &[u8])],
    ) -> PathBuf {
        let dir = self.folder(mailbox, folder);
        for (ext, bytes) in audio {
            std::fs::write(dir.join(format!("msg{n:04}.{ext}")), bytes).unwrap();
        }
        std::fs::write(dir.join(format!("msg{n:04}.txt")), txt).unwrap();
        dir.join(format!("msg{n:04}"))
    }
}

// 2026-05-08 22:15 +08:00, a Friday night before the make-up Saturday 2026-05-09.
const FRIDAY_NIGHT: i64 = 1778249700;

/// Fills a spool with the good, the bad and the odd. Returns the truncated file's path.
fn realistic_spool(spool: &Spool) -> PathBuf {
    let voice = wav(6.0, 0.5);
    let t = |s: &str, at: i64, id: &str| metadata(s, at, Some(id)).into_bytes();
    spool.message(
        "default/3105883",
        "INBOX",
        0,
        &t(
            "\"张三\" <13800138000>",
            FRIDAY_NIGHT,
            "1778249700-00000001",
        ),
        &[("wav", &voice), ("WAV", b"gsm bytes")],
    );
    // The same caller again that night: one case, two recordings.
    spool.message(
        "default/3105883",
        "INBOX",
        1,
        &t("13800138000", FRIDAY_NIGHT + 600, "1778250300-00000002"),
        &[("wav", &voice)],
    );
    spool.message(
        "default/3105883",
        "Urgent",
        0,
        &t(
            "\"李四\" <0415-2123456>",
            FRIDAY_NIGHT + 60,
            "1778249760-00000003",
        ),
        &[("wav", &voice)],
    );
    // Silence: a hang-up, still a callback entry.
    spool.message(
        "default/3105883",
        "INBOX",
        2,
        &t("13912345678", FRIDAY_NIGHT + 120, "1778249820-00000004"),
        &[("wav", &wav(4.0, 0.0))],
    );
    // No caller ID, and no msg_id (an old Asterisk): identified by content.
    spool.message(
        "default/3105883",
        "INBOX",
        3,
        metadata("Unknown", FRIDAY_NIGHT + 180, None).as_bytes(),
        &[("wav", &wav(3.0, 0.4))],
    );
    // A caller name in GBK.
    let wang = metadata(
        "\"王老师\" <13700137000>",
        FRIDAY_NIGHT + 240,
        Some("1778249940-00000005"),
    );
    let (gbk, _, _) = encoding_rs::GBK.encode(&wang);
    spool.message(
        "default/6912333",
        "INBOX",
        0,
        &gbk,
        &[("wav", &wav(5.0, 0.3))],
    );
    // Broken ones.
    let truncated = spool.message(
        "default/3105883",
        "INBOX",
        4,
        &t("13600136000", FRIDAY_NIGHT, "1778249700-00000006"),
        &[("wav", &voice[..voice.len() / 3])],
    );
    spool.message(
        "default/3105883",
        "INBOX",
        5,
        &t("13600136001", FRIDAY_NIGHT, "1778249700-00000007"),
        &[("wav", b"")],
    );
    let mut in_progress = voice.clone();
    in_progress[4..8].copy_from_slice(&[0; 4]);
    in_progress[40..44].copy_from_slice(&[0; 4]);
    spool.message(
        "default/3105883",
        "INBOX",
        6,
        &t("13600136002", FRIDAY_NIGHT, "1778249700-00000008"),
        &[("wav", &in_progress)],
    );
    spool.message(
        "default/3105883",
        "INBOX",
        7,
        &t("13600136003", FRIDAY_NIGHT, "1778249700-00000009"),
        &[("WAV", b"RIFF....WAVEfmt gsm"), ("gsm", b"raw gsm")],
    );
    spool.message(
        "default/3105883",
        "INBOX",
        8,
        b"\xff\xfe garbage \x00\x01",
        &[("wav", &voice)],
    );
    spool.message(
        "default/3105883",
        "INBOX",
        9,
        b"[message]\ncallerid=13600136004\n",
        &[("wav", &voice)],
    );
    // Audio with no .txt, long untouched: an orphan. A fresh one is still recording.
    let dir = spool.folder("default/3105883", "INBOX");
    std::fs::write(dir.join("msg0010.wav"), &voice).unwrap();
    let old = std::fs::File::options()
        .write(true)
        .open(dir.join("msg0010.wav"))
        .unwrap();
    old.set_modified(SystemTime::now() - Duration::from_secs(3 * 3600))
        .unwrap();
    std::fs::write(dir.join("msg0011.wav"), &voice).unwrap();
    // Greetings and other mailboxes are not ours.
    std::fs::write(spool.root.join("default/3105883/unavail.wav"), &voice).unwrap();
    spool.message(
        "default/9999",
        "INBOX",
        0,
        &t("1002", FRIDAY_NIGHT, "1778249700-00000010"),
        &[("wav", &voice)],
    );
    truncated
}

/// The CLI as its own process. Awaited, not waited on: the test's server shares this
/// test's runtime, and must keep serving (and finish what it holds) while the CLI runs.
async fn run_ingest(dir: &Path, database_url: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_youmen"))
        .args(["ingest", "voicemail"])
        .args(args)
        .current_dir(dir)
        .env("YOUMEN__DATABASE__URL", database_url)
        .env("YOUMEN__HOTLINE__AUDIO_DIR", dir.join("audio"))
        .output()
        .await
        .unwrap()
}

fn text(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

async fn cases(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (status, page) = app.get_json(&format!("/api/v1/cases?{query}"), token).await;
    assert_eq!(status, 200, "{page}");
    page["cases"].as_array().unwrap().clone()
}

async fn detail(app: &TestApp, token: &str, number: &str) -> Value {
    app.get_json(&format!("/api/v1/cases/{number}"), token)
        .await
        .1
}

async fn a_night_of_voicemail_becomes_cases_once_and_the_bad_files_wait_in_quarantine(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("早班", Role::Callback).await;
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::new(dir.path());
    let truncated = realistic_spool(&spool);
    let spool_arg = spool.root.display().to_string();

    let first = text(&run_ingest(dir.path(), &app.database_url, &["--spool", &spool_arg]).await);
    assert!(first.contains("13 messages seen: 5 ingested (1 added to an existing case), 1 missed calls without a message, 0 already ingested, 6 quarantined, 1 in unmapped mailboxes, 1 orphaned audio files"), "{first}");
    let again = text(&run_ingest(dir.path(), &app.database_url, &["--spool", &spool_arg]).await);
    assert!(
        again.contains("6 already ingested, 6 quarantined"),
        "{again}"
    );

    let all = cases(&app, &token, "sort=received").await;
    assert_eq!(
        all.len(),
        4,
        "six messages: one attached, one a missed call (no case)"
    );
    let by_phone = |p: &str| {
        all.iter()
            .find(|c| c["citizen"]["phone"] == p)
            .cloned()
            .unwrap()
    };

    let zhang = by_phone("+8613800138000");
    assert_eq!(zhang["channel"], "complaint_hotline");
    assert_eq!(zhang["citizen"]["name"], "张三");
    assert_eq!(zhang["off_hours"], true);
    assert_eq!(zhang["received_at"], "2026-05-08T22:15:00+08:00");
    assert_eq!(
        zhang["callback"],
        json!({"due_at": "2026-05-09T08:30:00+08:00", "kind": "message"})
    );
    let zhang = detail(&app, &token, zhang["number"].as_str().unwrap()).await;
    assert_eq!(zhang["recordings"].as_array().unwrap().len(), 2);
    assert_eq!(zhang["recordings"][0]["duration_ms"], 6000);
    let actions: Vec<&str> = zhang["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["register", "attach_recording"]);

    assert_eq!(by_phone("+864152123456")["urgent"], true);
    // The silent one is a missed call: on the next opening's list, not a case.
    assert!(all
        .iter()
        .all(|c| c["citizen"]["phone"] != "+8613912345678"));
    let (status, list) = app
        .get_json("/api/v1/callbacks?date=2026-05-09", &token)
        .await;
    assert_eq!(status, 200, "{list}");
    let missed = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["phone"] == "+8613912345678")
        .unwrap();
    assert_eq!(missed["kind"], "missed_call");
    assert_eq!(missed["calls"].as_array().unwrap().len(), 1);
    assert_eq!(by_phone("+8613700137000")["citizen"]["name"], "王老师");
    assert_eq!(by_phone("+8613700137000")["channel"], "business_hotline");
    let anonymous = all
        .iter()
        .find(|c| c["citizen"]["phone"].is_null())
        .unwrap();
    assert_eq!(anonymous["citizen"]["name"], Value::Null);

    let (status, quarantine) = app.get_json("/api/v1/hotline/quarantine", &token).await;
    assert_eq!(status, 200);
    let reasons: Vec<String> = quarantine
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["reason"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "truncated",
        "empty (0 bytes)",
        "still in progress",
        "GSM 6.10 (wav49)",
        "no [message] section",
        "no origtime",
        "orphan",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "no quarantine reason with `{expected}` in {reasons:?}"
        );
    }
    assert!(
        quarantine
            .as_array()
            .unwrap()
            .iter()
            .all(|q| Path::new(q["path"].as_str().unwrap()).exists()),
        "the spool is never touched"
    );
    let listed = text(&run_ingest(dir.path(), &app.database_url, &["--quarantine"]).await);
    assert!(
        listed.contains("msg0004.wav") && listed.contains("truncated"),
        "{listed}"
    );

    // The PBX administrator fixes the truncated recording: the next pass takes it in.
    std::fs::write(truncated.with_extension("wav"), wav(2.0, 0.5)).unwrap();
    let fixed = text(&run_ingest(dir.path(), &app.database_url, &["--spool", &spool_arg]).await);
    assert!(fixed.contains("1 ingested"), "{fixed}");
    let (_, quarantine) = app.get_json("/api/v1/hotline/quarantine", &token).await;
    assert!(quarantine
        .as_array()
        .unwrap()
        .iter()
        .all(|q| !q["path"].as_str().unwrap().contains("msg0004")));
}

/// A recording is played in ranges from anywhere (a player resumes at `bytes=1-`, seeks, or
/// asks for the end); each person's listening is one play on the timeline, whatever ranges
/// it asked for, and a burst of parallel requests writes one.
async fn a_recording_plays_with_ranges_and_each_listener_is_on_the_timeline_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::new(dir.path());
    let voice = wav(2.0, 0.5);
    spool.message(
        "default/3105883",
        "INBOX",
        0,
        metadata("13800138000", FRIDAY_NIGHT, Some("1-1")).as_bytes(),
        &[("wav", &voice)],
    );
    // The served app and the CLI share the database and the audio folder.
    let audio_dir = dir.path().join("audio");
    let app = TestApp::spawn_with(backend, |s| s.hotline.audio_dir = audio_dir).await;
    let token = app.token("早班", Role::Callback).await;
    text(
        &run_ingest(
            dir.path(),
            &app.database_url,
            &["--spool", &spool.root.display().to_string()],
        )
        .await,
    );
    let case = &cases(&app, &token, "").await[0];
    let shown = detail(&app, &token, case["number"].as_str().unwrap()).await;
    let url = shown["recordings"][0]["url"].as_str().unwrap().to_owned();

    let plays = || async {
        let shown = detail(&app, &token, case["number"].as_str().unwrap()).await;
        let listeners: Vec<String> = shown["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "play_recording")
            .map(|e| e["actor"].as_str().unwrap().to_owned())
            .collect();
        listeners
    };
    // Resumed from the second byte: that is a play too.
    let resumed = app
        .get(&url)
        .bearer_auth(&token)
        .header("range", "bytes=1-")
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 206);
    assert_eq!(resumed.bytes().await.unwrap().as_ref(), &voice[1..]);
    assert_eq!(plays().await, ["早班"]);

    let whole = app.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-type"], "audio/wav");
    assert_eq!(whole.bytes().await.unwrap().as_ref(), voice.as_slice());
    let part = app
        .get(&url)
        .bearer_auth(&token)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 100-199/{}", voice.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &voice[100..200]);
    assert_eq!(plays().await, ["早班"], "seeking is the same play");

    // Another listener asks only for the end, in a burst of parallel requests: one play.
    let other = app.token("值班领导", Role::DutyLeader).await;
    let burst = (0..6).map(|_| {
        app.get(&url)
            .bearer_auth(&other)
            .header("range", "bytes=-100")
            .send()
    });
    for r in futures_util::future::join_all(burst).await {
        let r = r.unwrap();
        assert_eq!(r.status(), 206);
        assert_eq!(
            r.bytes().await.unwrap().as_ref(),
            &voice[voice.len() - 100..]
        );
    }
    assert_eq!(plays().await, ["早班", "值班领导"]);
    let (status, _) = json(app.get(&url).send().await.unwrap()).await;
    assert_eq!(status, 401);
    let (status, r) = app.get_json("/api/v1/recordings/999", &token).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

#[tokio::test]
async fn operators_log_calls_answered_or_for_follow_up() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let operator = app.token("接线员小刘", Role::Hotline).await;
    let counter = app.token("王芳", Role::Counter).await;
    let call = |outcome: &str| {
        json!({"hotline": "complaint", "caller_number": "13912345678", "caller_name": "赵大爷",
               "matter": "pensions", "summary": "咨询养老金领取资格认证的办理方式", "outcome": outcome,
               "answer": "已告知可在手机上人脸识别认证"})
    };
    let (status, answered) = app
        .post_json("/api/v1/hotline/calls", &operator, &call("answered"))
        .await;
    assert_eq!(status, 201, "{answered}");
    assert_eq!(
        (
            answered["status"].as_str(),
            answered["consultation"].as_bool()
        ),
        (Some("closed"), Some(true))
    );
    assert_eq!(answered["owner"], "接线员小刘");
    let shown = detail(&app, &operator, answered["number"].as_str().unwrap()).await;
    assert_eq!(shown["timeline"][1]["action"], "answer_and_close");
    assert_eq!(shown["timeline"][1]["note"], "已告知可在手机上人脸识别认证");

    let mut follow = call("follow_up");
    follow["hotline"] = json!("business");
    let (status, opened) = app
        .post_json("/api/v1/hotline/calls", &operator, &follow)
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        (opened["status"].as_str(), opened["channel"].as_str()),
        (Some("new"), Some("business_hotline"))
    );

    let (status, _) = app
        .post_json("/api/v1/hotline/calls", &counter, &call("answered"))
        .await;
    assert_eq!(status, 403);
    for (field, value, bad) in [
        ("hotline", "fax", "hotline"),
        ("outcome", "maybe", "outcome"),
        ("caller_number", "12345678901", "caller_number"),
        ("summary", "", "summary"),
    ] {
        let mut body = call("answered");
        body[field] = json!(value);
        let (status, r) = app
            .post_json("/api/v1/hotline/calls", &operator, &body)
            .await;
        assert_eq!(
            (status, r["error"]["field"].as_str()),
            (422, Some(bad)),
            "{r}"
        );
    }
}

async fn two_instances_ingesting_one_spool_take_each_message_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let audio_dir = dir.path().join("audio");
    let app = TestApp::spawn_with(backend, |s| s.hotline.audio_dir = audio_dir.clone()).await;
    let token = app.token("早班", Role::Callback).await;
    let spool = Spool::new(dir.path());
    for n in 0..12u32 {
        let txt = metadata(
            &format!("1380013{:04}", n),
            FRIDAY_NIGHT + i64::from(n) * 60,
            Some(&format!("1778249700-{n:08x}")),
        );
        spool.message(
            "default/3105883",
            "INBOX",
            n,
            txt.as_bytes(),
            &[("wav", &wav(1.0, 0.4))],
        );
    }
    let mut settings = youmen::config::Settings::load(None).unwrap();
    settings.database.url = app.database_url.clone();
    settings.hotline.audio_dir = audio_dir;
    settings.secrets.key = "test-only key, at least thirty-two bytes long".into();
    let (a, b) = (
        youmen::app::ingestor(&settings).await.unwrap(),
        youmen::app::ingestor(&settings).await.unwrap(),
    );
    let noop = |_: usize, _: usize| {};
    let (ra, rb) = tokio::join!(
        a.ingest_spool(&spool.root, &noop),
        b.ingest_spool(&spool.root, &noop)
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.ingested + rb.ingested, 12, "{ra} / {rb}");
    assert_eq!(ra.already + rb.already, 12);
    assert_eq!(cases(&app, &token, "limit=100").await.len(), 12);
}

#[tokio::test]
async fn serve_watches_the_spool_and_takes_in_a_new_message_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::new(dir.path());
    let root = spool.root.clone();
    let audio = dir.path().join("audio");
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.hotline.spool_dir = root;
        s.hotline.audio_dir = audio;
        s.hotline.rescan_seconds = 3600; // only the notification can find it in time
    })
    .await;
    let token = app.token("早班", Role::Callback).await;
    // The message arrives while the service runs (its first pass found an empty spool,
    // or is just starting: either way, it must be taken in without a rescan).
    spool.message(
        "default/3105883",
        "INBOX",
        0,
        metadata("13800138000", FRIDAY_NIGHT, Some("9-9")).as_bytes(),
        &[("wav", &wav(1.0, 0.5))],
    );
    let mut found = Vec::new();
    for _ in 0..100 {
        found = cases(&app, &token, "").await;
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        found.len(),
        1,
        "the watcher did not ingest the new message within 10 s"
    );
}

/// The multipart form a PBX pushes a voicemail with.
pub fn voicemail_form(
    audio: Vec<u8>,
    (hotline, caller, at): (&str, &str, &str),
    external_id: &str,
) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .part(
            "audio",
            reqwest::multipart::Part::bytes(audio)
                .file_name("vm.wav")
                .mime_str("audio/wav")
                .unwrap(),
        )
        .text("hotline", hotline.to_owned())
        .text("caller", caller.to_owned())
        .text("received_at", at.to_owned())
        .text("external_id", external_id.to_owned())
}

/// A voicemail as a PBX pushes it (`POST /api/v1/hotline/voicemails`): the case number.
pub async fn push_voicemail(
    app: &TestApp,
    pbx: &str,
    call: (&str, &str, &str),
    audio: Vec<u8>,
    external_id: &str,
) -> String {
    let r = app
        .post("/api/v1/hotline/voicemails")
        .bearer_auth(pbx)
        .multipart(voicemail_form(audio, call, external_id))
        .send()
        .await
        .unwrap();
    let (status, body) = json(r).await;
    assert_eq!(status, 201, "{body}");
    body["case_number"].as_str().unwrap().to_owned()
}

fn push_form(audio: Vec<u8>, external_id: &str) -> reqwest::multipart::Form {
    let call = (
        "business",
        "\"周女士\" <13500135000>",
        "2026-10-01T09:00:00+08:00",
    );
    voicemail_form(audio, call, external_id)
}

async fn a_pbx_pushes_a_recording_once_even_when_it_posts_twice(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let audio_dir = dir.path().join("audio");
    let app = TestApp::spawn_with(backend, |s| s.hotline.audio_dir = audio_dir.clone()).await;
    let pbx = app.token("freepbx-1", Role::Pbx).await;
    let staff = app.token("早班", Role::Callback).await;

    let post = |form| {
        app.post("/api/v1/hotline/voicemails")
            .bearer_auth(&pbx)
            .multipart(form)
            .send()
    };
    let (status, first) = json(post(push_form(wav(3.0, 0.5), "vm-42")).await.unwrap()).await;
    assert_eq!(status, 201, "{first}");
    let number = first["case_number"].as_str().unwrap().to_owned();
    let (status, again) = json(post(push_form(wav(3.0, 0.5), "vm-42")).await.unwrap()).await;
    assert_eq!(
        (
            status,
            again["status"].as_str(),
            again["case_number"].as_str()
        ),
        (200, Some("already_ingested"), Some(number.as_str()))
    );

    let case = detail(&app, &staff, &number).await;
    assert_eq!(case["channel"], "business_hotline");
    assert_eq!(case["citizen"]["name"], "周女士");
    // National Day: the callback waits for the first working day after the holiday.
    assert_eq!(case["callback"]["due_at"], "2026-10-08T08:30:00+08:00");
    assert_eq!(case["recordings"][0]["source"], "push");

    // A broken recording is refused with its reason and kept, not lost.
    let broken = wav(3.0, 0.5)[..500].to_vec();
    let (status, r) = json(post(push_form(broken, "vm-43")).await.unwrap()).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (422, Some("unusable_audio")),
        "{r}"
    );
    let (_, quarantine) = app.get_json("/api/v1/hotline/quarantine", &staff).await;
    let kept = quarantine
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["source"] == "push")
        .unwrap();
    assert!(kept["reason"].as_str().unwrap().contains("truncated"));
    assert!(Path::new(kept["path"].as_str().unwrap()).is_file());

    let form = reqwest::multipart::Form::new().text("hotline", "business");
    let (status, r) = json(post(form).await.unwrap()).await;
    assert_eq!((status, r["error"]["field"].as_str()), (422, Some("audio")));
    let no_id = push_form(wav(1.0, 0.5), "");
    let (status, r) = json(post(no_id).await.unwrap()).await;
    assert_eq!(
        (status, r["error"]["field"].as_str()),
        (422, Some("external_id"))
    );
    let (status, _) = json(
        app.post("/api/v1/hotline/voicemails")
            .bearer_auth(&staff)
            .multipart(push_form(wav(1.0, 0.5), "x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403, "staff are not a PBX");
    let (status, _) = app.get_json("/api/v1/cases", &pbx).await;
    assert_eq!(status, 403, "a PBX reads no cases");
}

#[tokio::test]
async fn a_recording_over_the_size_cap_is_quarantined_unread() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::new(dir.path());
    spool.message(
        "default/3105883",
        "INBOX",
        0,
        metadata("13800138000", FRIDAY_NIGHT, Some("7-7")).as_bytes(),
        &[("wav", &wav(2.0, 0.5))],
    );
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_youmen"))
        .args(["ingest", "voicemail", "--spool"])
        .arg(&spool.root)
        .current_dir(dir.path())
        .env("YOUMEN__DATABASE__URL", &app.database_url)
        .env("YOUMEN__HOTLINE__AUDIO_DIR", dir.path().join("audio"))
        .env("YOUMEN__HOTLINE__MAX_RECORDING_BYTES", "10000")
        .output()
        .await
        .unwrap();
    assert!(text(&out).contains("0 ingested"));
    let listed = text(&run_ingest(dir.path(), &app.database_url, &["--quarantine"]).await);
    assert!(listed.contains("over the limit of 10000 bytes"), "{listed}");
}

/// A spool file that is a symbolic link (to a file the PBX never wrote) or not a regular file
/// is quarantined with the reason, and what it points at is neither read nor touched.
#[tokio::test]
async fn symbolic_links_and_fifos_in_the_spool_are_quarantined_unread() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::new(dir.path());
    let elsewhere = dir.path().join("not-the-pbx.txt");
    std::fs::write(&elsewhere, b"secrets youmen must not take in").unwrap();
    // The recording is a link.
    let base = spool.message(
        "default/3105883",
        "INBOX",
        0,
        metadata("13800138000", FRIDAY_NIGHT, Some("8-1")).as_bytes(),
        &[],
    );
    std::os::unix::fs::symlink(&elsewhere, base.with_extension("wav")).unwrap();
    // The metadata is a link.
    let other = spool.message(
        "default/3105883",
        "INBOX",
        1,
        b"",
        &[("wav", &wav(2.0, 0.5))],
    );
    std::fs::remove_file(other.with_extension("txt")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, other.with_extension("txt")).unwrap();
    // The recording is a FIFO: opening it must not hang the pass.
    let fifo = spool.message(
        "default/3105883",
        "INBOX",
        2,
        metadata("13900139000", FRIDAY_NIGHT, Some("8-3")).as_bytes(),
        &[],
    );
    let made = std::process::Command::new("mkfifo")
        .arg(fifo.with_extension("wav"))
        .status()
        .unwrap();
    assert!(made.success());
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        run_ingest(
            dir.path(),
            &app.database_url,
            &["--spool", &spool.root.display().to_string()],
        ),
    )
    .await
    .expect("the pass does not hang on a FIFO");
    assert!(text(&out).contains("0 ingested"), "{}", text(&out));
    let listed = text(&run_ingest(dir.path(), &app.database_url, &["--quarantine"]).await);
    assert_eq!(listed.matches("symbolic link").count(), 2, "{listed}");
    // The FIFO is not taken for audio at all: its message waits without one.
    assert!(listed.contains("msg0002.txt"), "{listed}");
    assert_eq!(
        std::fs::read(&elsewhere).unwrap(),
        b"secrets youmen must not take in"
    );
}

async fn a_fixed_metadata_file_is_taken_in_and_its_quarantine_entry_settled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("早班", Role::Callback).await;
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::new(dir.path());
    let base = spool.message(
        "default/3105883",
        "INBOX",
        0,
        b"\xff\xfe not metadata",
        &[("wav", &wav(2.0, 0.5))],
    );
    let spool_arg = spool.root.display().to_string();
    assert!(
        text(&run_ingest(dir.path(), &app.database_url, &["--spool", &spool_arg]).await)
            .contains("1 quarantined")
    );
    let again = text(&run_ingest(dir.path(), &app.database_url, &["--spool", &spool_arg]).await);
    assert!(again.contains("1 quarantined"), "{again}");
    let (_, q) = app.get_json("/api/v1/hotline/quarantine", &token).await;
    assert_eq!(q.as_array().unwrap().len(), 1, "one entry, seen twice: {q}");
    assert_eq!(q[0]["attempts"], 2);

    std::fs::write(
        base.with_extension("txt"),
        metadata("13800138000", FRIDAY_NIGHT, Some("5-5")),
    )
    .unwrap();
    assert!(
        text(&run_ingest(dir.path(), &app.database_url, &["--spool", &spool_arg]).await)
            .contains("1 ingested")
    );
    let (_, q) = app.get_json("/api/v1/hotline/quarantine", &token).await;
    assert!(q.as_array().unwrap().is_empty(), "{q}");
    let (_, all) = app
        .get_json("/api/v1/hotline/quarantine?all=true", &token)
        .await;
    assert!(all[0]["resolved_at"].is_string());
}

crate::on_both_backends!(
    two_instances_ingesting_one_spool_take_each_message_once,
    a_night_of_voicemail_becomes_cases_once_and_the_bad_files_wait_in_quarantine,
    a_fixed_metadata_file_is_taken_in_and_its_quarantine_entry_settled,
    a_pbx_pushes_a_recording_once_even_when_it_posts_twice,
    a_recording_plays_with_ranges_and_each_listener_is_on_the_timeline_once,
);

/// The audio folder cannot be written (here: a file stands where the folder should be; the
/// tests run as root, for whom permissions do not stop a write): the pass fails with an error
/// naming the folder, nothing is quarantined (the message is not at fault), and once the
/// folder is fixed the next pass takes the message in.
#[tokio::test]
async fn an_unwritable_audio_folder_fails_clearly_and_the_voicemail_waits_in_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("youmen.db").display());
    let spool = Spool::new(dir.path());
    spool.message(
        "default/3105883",
        "INBOX",
        0,
        metadata(
            "\"\" <13812345678>",
            FRIDAY_NIGHT,
            Some("1778249700-00000001"),
        )
        .as_bytes(),
        &[("wav", &wav(2.0, 0.5))],
    );
    let spool_arg = spool.root.display().to_string();
    std::fs::write(dir.path().join("audio"), b"not a folder").unwrap();
    let failed = run_ingest(dir.path(), &database_url, &["--spool", &spool_arg]).await;
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains(&dir.path().join("audio").display().to_string()),
        "{stderr}"
    );
    let listed = text(&run_ingest(dir.path(), &database_url, &["--quarantine", "--all"]).await);
    assert!(!listed.contains("msg0000"), "not quarantined: {listed}");
    assert!(
        spool
            .root
            .join("default/3105883/INBOX/msg0000.wav")
            .is_file(),
        "still in the spool"
    );

    std::fs::remove_file(dir.path().join("audio")).unwrap();
    let fixed = text(&run_ingest(dir.path(), &database_url, &["--spool", &spool_arg]).await);
    assert!(fixed.contains("1 messages seen: 1 ingested"), "{fixed}");
}

/// `youmen ingest voicemail` killed with SIGKILL in the middle of a large pass, then run
/// again: every message is a case exactly once.
#[tokio::test]
async fn an_ingest_killed_midway_takes_every_message_exactly_once_on_the_next_pass() {
    const MESSAGES: u32 = 300;
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("youmen.db").display());
    let spool = Spool::new(dir.path());
    let voice = wav(2.0, 0.4);
    for n in 0..MESSAGES {
        spool.message(
            "default/3105883",
            "INBOX",
            n,
            metadata(
                &format!("\"\" <1381234{n:04}>"),
                FRIDAY_NIGHT + i64::from(n),
                Some(&format!("1778249700-{n:08}")),
            )
            .as_bytes(),
            &[("wav", &voice)],
        );
    }
    let spool_arg = spool.root.display().to_string();
    let pool = sqlx::SqlitePool::connect(&format!("{database_url}?mode=rwc"))
        .await
        .unwrap();
    let ingested = || async {
        let n: Result<(i64,), _> = sqlx::query_as("select count(*) from voicemail_ingests")
            .fetch_one(&pool)
            .await;
        n.map(|(n,)| n).unwrap_or(0)
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_youmen"))
        .args(["ingest", "voicemail", "--spool", &spool_arg])
        .current_dir(dir.path())
        .env("YOUMEN__DATABASE__URL", &database_url)
        .env("YOUMEN__HOTLINE__AUDIO_DIR", dir.path().join("audio"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while ingested().await < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "the pass did not start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = ingested().await;
    assert!(
        before < i64::from(MESSAGES),
        "killed mid-way: {before} of {MESSAGES} in"
    );

    let out = text(&run_ingest(dir.path(), &database_url, &["--spool", &spool_arg]).await);
    assert!(
        out.contains(&format!(
            "{MESSAGES} messages seen: {} ingested",
            i64::from(MESSAGES) - before
        )),
        "{out}"
    );
    let (cases,): (i64,) = sqlx::query_as("select count(*) from cases")
        .fetch_one(&pool)
        .await
        .unwrap();
    let (recordings,): (i64,) = sqlx::query_as("select count(*) from recordings")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        (cases, recordings),
        (i64::from(MESSAGES), i64::from(MESSAGES))
    );
}
