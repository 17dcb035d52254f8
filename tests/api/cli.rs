//! The `youmen` binary, run as an operator runs it.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{json, walk_in};

fn youmen(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_youmen"));
    cmd.args(args).current_dir(dir).env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("youmen runs")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn next_opening_follows_the_official_calendar() {
    let dir = tempfile::tempdir().unwrap();
    for (at, expected) in [
        ("2026-02-13T19:30:00+08:00", "2026-02-14T08:30:00+08:00"),
        ("2026-09-30T20:00:00+08:00", "2026-10-08T08:30:00+08:00"),
        ("2026-05-08T22:15:00+08:00", "2026-05-09T08:30:00+08:00"),
        ("2026-01-03T10:00:00+08:00", "2026-01-04T08:30:00+08:00"),
    ] {
        let out = youmen(dir.path(), &["calendar", "next-opening", at], &[]);
        assert_eq!(stdout(&out).trim(), expected, "after {at}");
    }
    let out = youmen(
        dir.path(),
        &["calendar", "next-opening", "2026-12-31T18:00:00+08:00"],
        &[],
    );
    assert!(stdout(&out).contains("provisional"));
    let out = youmen(
        dir.path(),
        &["calendar", "next-opening", "next tuesday"],
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
}

#[test]
fn calendar_show_lists_holidays_and_makeup_days() {
    let dir = tempfile::tempdir().unwrap();
    let text = stdout(&youmen(dir.path(), &["calendar", "show", "2026-10"], &[]));
    assert!(text.contains("2026-10-01 周四 放假 holiday 国庆节"));
    assert!(text.contains("2026-10-10 周六 调休上班"));
    assert!(text.contains("working days: 18"));
}

#[test]
fn a_new_years_calendar_file_is_used_without_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let calendar = dir.path().join("config/calendar");
    std::fs::create_dir_all(&calendar).unwrap();
    std::fs::write(
        calendar.join("2027.toml"),
        "year = 2027\nnotice_title = \"test notice\"\n[[holidays]]\nname = \"元旦\"\nstart = 2027-01-01\nend = 2027-01-01\n\
         [[makeup_workdays]]\ndate = 2027-01-02\n",
    )
    .unwrap();
    let out = youmen(
        dir.path(),
        &["calendar", "next-opening", "2026-12-31T18:00:00+08:00"],
        &[],
    );
    assert_eq!(stdout(&out).trim(), "2027-01-02T08:30:00+08:00");
    let check = stdout(&youmen(dir.path(), &["calendar", "check"], &[]));
    assert!(check.contains("2025, 2026, 2027"), "{check}");
}

#[test]
fn the_environment_wins_over_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.toml"),
        "[calendar]\nworking_periods = [\"08:00-11:30\", \"14:00-17:30\"]\n",
    )
    .unwrap();
    let file_only = stdout(&youmen(
        dir.path(),
        &["--config", "site.toml", "calendar", "check"],
        &[],
    ));
    assert!(
        file_only.contains("08:00-11:30, 14:00-17:30"),
        "{file_only}"
    );
    let env = [(
        "YOUMEN__CALENDAR__WORKING_PERIODS",
        "09:00-12:00,13:30-17:00",
    )];
    let both = stdout(&youmen(
        dir.path(),
        &["--config", "site.toml", "calendar", "check"],
        &env,
    ));
    assert!(both.contains("09:00-12:00, 13:30-17:00"), "{both}");
    let missing = youmen(
        dir.path(),
        &["--config", "nope.toml", "calendar", "check"],
        &[],
    );
    assert!(!missing.status.success());
}

#[test]
fn help_explains_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let help = stdout(&youmen(dir.path(), &["--help"], &[]));
    for command in ["serve", "migrate", "token", "calendar"] {
        assert!(help.contains(command), "{command} missing from --help");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The README's first command, end to end: a fresh folder, `youmen serve` with the default
/// configuration, a token from the CLI, a case over HTTP, then a clean stop on SIGTERM.
#[tokio::test]
async fn serve_starts_on_a_fresh_folder_with_sqlite_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = stdout(&youmen(dir.path(), &["migrate"], &[]));
    assert!(migrate.contains("sqlite"));
    assert!(
        dir.path().join("data/youmen.db").is_file(),
        "the database file and its folder are created"
    );
    let token = stdout(&youmen(
        dir.path(),
        &["token", "create", "--name", "王芳", "--role", "counter"],
        &[],
    ));
    let token = token.trim().to_owned();
    assert!(token.starts_with("ym_"));
    let bad_role = youmen(
        dir.path(),
        &["token", "create", "--name", "x", "--role", "boss"],
        &[],
    );
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("duty_leader"));

    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_youmen"))
        .arg("serve")
        .current_dir(dir.path())
        .env("YOUMEN__SERVER__PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "youmen serve did not come up");
    // What a container's HEALTHCHECK runs.
    let health = youmen(
        dir.path(),
        &["health", "--url", &format!("{base}/healthz")],
        &[],
    );
    assert!(health.status.success(), "{health:?}");
    let (status, case) = json(
        client
            .post(format!("{base}/api/v1/cases"))
            .bearer_auth(&token)
            .json(&walk_in())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{case}");
    assert_eq!(case["citizen"]["name"], json!("张三"));

    // Tokens are listed (with their last use) and revoked from the command line too.
    let made = youmen(
        dir.path(),
        &[
            "token",
            "create",
            "--name",
            "区政务服务网",
            "--role",
            "counter",
            "--expires-days",
            "30",
        ],
        &[],
    );
    assert!(
        String::from_utf8_lossy(&made.stderr).contains("until 20"),
        "an expiry date"
    );
    let bad_days = youmen(
        dir.path(),
        &[
            "token",
            "create",
            "--name",
            "x",
            "--role",
            "counter",
            "--expires-days",
            "0",
        ],
        &[],
    );
    assert!(!bad_days.status.success());
    assert!(String::from_utf8_lossy(&bad_days.stderr).contains("1 to 3650 days"));
    let list = stdout(&youmen(dir.path(), &["token", "list"], &[]));
    // Columns: id, role, created, expires, last used, revoked, name.
    let fields = |name: &str| -> Vec<String> {
        list.lines()
            .find(|l| l.ends_with(name))
            .unwrap_or_else(|| panic!("{name} in {list}"))
            .split("  ")
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let used = fields("王芳");
    assert_eq!(
        (used[3].as_str(), used[5].as_str()),
        ("never", "-"),
        "{list}"
    );
    assert!(
        used[4].starts_with("20"),
        "the used token shows when: {list}"
    );
    let unused = fields("区政务服务网");
    assert!(
        unused[3].starts_with("20") && unused[4] == "never",
        "{list}"
    );
    let id = used[0].clone();
    let revoked = stdout(&youmen(dir.path(), &["token", "revoke", &id], &[]));
    assert!(revoked.contains("revoked"));
    let missing = youmen(dir.path(), &["token", "revoke", "99999"], &[]);
    assert!(!missing.status.success());
    let r = client
        .get(format!("{base}/api/v1/cases"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a revoked token stops working at once");

    let pid = server.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut exited = None;
    for _ in 0..200 {
        if let Some(status) = server.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = exited.unwrap_or_else(|| {
        let _ = server.kill();
        panic!("youmen did not stop within 10 s of SIGTERM")
    });
    assert!(status.success(), "exit status {status}");
}

/// Runs `youmen` with `input` on stdin (a password, as a script would pipe it).
fn youmen_with_stdin(dir: &Path, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_youmen"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("youmen runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn staff_accounts_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let add = [
        "user",
        "add",
        "--username",
        "wangfang",
        "--role",
        "counter",
        "--role",
        "callback",
        "--name",
        "王芳",
    ];
    let out = youmen_with_stdin(dir.path(), &add, "a-long-enough-password\n");
    assert!(stdout(&out).contains("user wangfang (王芳) added with role(s) counter, callback"));
    let again = youmen_with_stdin(dir.path(), &add, "a-long-enough-password\n");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("that username is taken"));
    let short = youmen_with_stdin(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "li",
            "--role",
            "callback",
            "--name",
            "李",
        ],
        "short\n",
    );
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    let machine = youmen_with_stdin(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "pbx",
            "--role",
            "pbx",
            "--name",
            "PBX",
        ],
        "a-long-enough-password\n",
    );
    assert!(String::from_utf8_lossy(&machine.stderr).contains("youmen token create"));
    let out = youmen_with_stdin(
        dir.path(),
        &["user", "passwd", "--username", "wangfang"],
        "another-long-password\n",
    );
    assert!(stdout(&out).contains("password of wangfang changed"));
    let out = youmen(
        dir.path(),
        &["user", "disable", "--username", "wangfang"],
        &[],
    );
    assert!(stdout(&out).contains("disabled"));
    let out = youmen(
        dir.path(),
        &["user", "disable", "--username", "nobody"],
        &[],
    );
    assert!(!out.status.success());
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let available = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            !crate::helpers::in_ci(),
            "systemd-analyze is required in CI"
        );
        eprintln!("skipping: systemd-analyze is not installed");
        return;
    }
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/youmen.service"
    ))
    .unwrap()
    .replace("/usr/local/bin/youmen", env!("CARGO_BIN_EXE_youmen"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("youmen.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
}

/// The issue allows this check only where a compose client exists (the image cannot be built
/// on these machines): skipped with the reason otherwise, in CI too.
#[test]
fn the_compose_file_passes_docker_compose_config() {
    let compose = [vec!["docker", "compose"], vec!["docker-compose"]]
        .into_iter()
        .find(|cmd| {
            Command::new(cmd[0])
                .args(&cmd[1..])
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(cmd) = compose else {
        eprintln!("skipping: no docker compose client here");
        return;
    };
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .args([
            "-f",
            concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/docker-compose.yml"),
            "config",
            "--quiet",
        ])
        .env("POSTGRES_PASSWORD", "example")
        .env("SECRET_KEY", "an example key of at least 32 bytes long")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
