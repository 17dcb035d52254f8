//! The deployment files hold what the security review asked of them. Docker and a recent
//! nginx cannot run on these machines, so the files are read and checked here (the systemd
//! unit is verified by `systemd-analyze` in `cli.rs`).

use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The lines that are not comments, trimmed.
fn directives(text: &str, comment: char) -> Vec<String> {
    text.lines()
        .map(|l| l.split(comment).next().unwrap_or("").trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn nginx_logs_no_query_strings_hides_its_version_and_sends_everyone_to_https() {
    let conf = read("deploy/nginx.conf");
    let lines = directives(&conf, '#');
    assert!(lines.contains(&"server_tokens off;".to_owned()));
    // The log format: the path alone ($uri), never the query.
    let format: String = conf
        .split("log_format youmen")
        .nth(1)
        .expect("a log_format named youmen")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(format.contains("$uri"));
    for leaks in [
        "$request ",
        "$request\"",
        "$request_uri",
        "$args",
        "$query_string",
        "$arg_",
    ] {
        assert!(!format.contains(leaks), "the log format carries {leaks}");
    }
    // Every server logs with it.
    let servers = conf.matches("server {").count();
    assert_eq!(servers, 2);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("access_log ") && l.ends_with(" youmen;"))
            .count(),
        servers,
        "each server logs in the youmen format"
    );
    assert!(!lines
        .iter()
        .any(|l| l.starts_with("access_log ") && !l.ends_with(" youmen;")));
    // Port 80 only redirects; 443 sends HSTS on every answer.
    let plain = conf
        .split("listen 80;")
        .nth(1)
        .unwrap()
        .split('}')
        .next()
        .unwrap();
    assert!(plain.contains("return 301 https://$host$uri;"), "{plain}");
    assert!(!plain.contains("proxy_pass"));
    assert!(lines
        .iter()
        .any(|l| l.starts_with("add_header Strict-Transport-Security")
            && l.contains("max-age=31536000")
            && l.ends_with("always;")));
    assert!(lines.contains(&"ssl_protocols TLSv1.2 TLSv1.3;".to_owned()));
}

#[test]
fn the_image_checks_its_health_and_builds_from_sources_only() {
    let dockerfile = read("deploy/Dockerfile");
    let health = directives(&dockerfile, '#')
        .join(" ")
        .split("HEALTHCHECK")
        .nth(1)
        .expect("a HEALTHCHECK")
        .to_owned();
    assert!(
        health.contains("\"health\"") && health.contains("/healthz"),
        "{health}"
    );
    assert!(!health.contains("--help"));
    assert!(dockerfile.contains("USER youmen"));
    let ignore = directives(&read("deploy/Dockerfile.dockerignore"), '#');
    for must in [
        ".git",
        "target",
        "data",
        "**/secrets",
        "**/*.db",
        "tests/browser/node_modules",
    ] {
        assert!(
            ignore.iter().any(|l| l == must),
            "the build context leaves out {must}"
        );
    }
}

#[test]
fn the_health_command_a_healthcheck_runs_fails_when_nothing_answers() {
    let port = crate::smtp::free_port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_youmen"))
        .args([
            "health",
            "--url",
            &format!("http://127.0.0.1:{port}/healthz"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn compose_runs_youmen_read_only_without_capabilities_or_new_privileges() {
    let compose = read("deploy/docker-compose.yml");
    let youmen = compose
        .split("  youmen-1: &youmen")
        .nth(1)
        .expect("the youmen service")
        .split("\n  youmen-2:")
        .next()
        .unwrap();
    let lines = directives(youmen, '#');
    for must in [
        "read_only: true",
        "cap_drop: [ALL]",
        "- no-new-privileges:true",
        "- /tmp",
        "YOUMEN__SECRETS__KEY: ${SECRET_KEY:?set SECRET_KEY}",
    ] {
        assert!(
            lines.iter().any(|l| l == must),
            "youmen's service has `{must}`"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("test:") && l.contains("\"health\"")),
        "a real health check"
    );
    assert!(lines
        .iter()
        .any(|l| l.ends_with(":/var/spool/asterisk/voicemail:ro")));
    assert!(!compose.contains("ID_CARD_PEPPER") && !compose.contains("FORM_SECRET"));
    let nginx = compose.split("\n  nginx:").nth(1).unwrap();
    assert!(nginx.contains("\"80:80\"") && nginx.contains("\"443:443\""));
}

#[test]
fn the_sample_mailboxes_have_no_pin_a_keypad_can_type_and_no_voicemailmain() {
    let voicemail = read("deploy/asterisk/voicemail.conf");
    let mut in_default = false;
    let mut boxes = 0;
    for line in directives(&voicemail, ';') {
        if line.starts_with('[') {
            in_default = line == "[default]";
            continue;
        }
        if !in_default {
            continue;
        }
        let (mailbox, rest) = line.split_once("=>").expect("mailbox => password,name");
        let password = rest.trim().split(',').next().unwrap().trim();
        assert!(
            !password.is_empty() && !password.chars().all(|c| c.is_ascii_digit() || c == '-'),
            "mailbox {} has a PIN a caller could type: {password}",
            mailbox.trim()
        );
        boxes += 1;
    }
    assert_eq!(boxes, 2, "the two hotlines' mailboxes");
    assert!(directives(&voicemail, ';').contains(&"minpassword=6".to_owned()));
    let dialplan = read("deploy/asterisk/extensions.conf");
    assert!(
        !directives(&dialplan, ';')
            .iter()
            .any(|l| l.contains("VoiceMailMain")),
        "no extension opens mailboxes"
    );
    // GotoIfTime takes one time range per call (times,weekdays,mdays,months[,tz]): a second
    // range in the first field's place would be read as the weekdays.
    for line in directives(&dialplan, ';')
        .iter()
        .filter(|l| l.contains("GotoIfTime("))
    {
        let args = line.split("GotoIfTime(").nth(1).unwrap();
        let fields: Vec<&str> = args.split('?').next().unwrap().split(',').collect();
        assert!(
            (4..=5).contains(&fields.len()) && !fields[1].contains(':'),
            "GotoIfTime(times,weekdays,mdays,months[,timezone]): {line}"
        );
    }
    assert!(
        dialplan.contains("/api/v1/calendar/open?format=text"),
        "the dialplan asks youmen's calendar"
    );
    // The three CTI events are posted, each bounded by a one-second timeout, and every
    // Gosub names a context that exists.
    for event in ["event=newCall", "event=answer", "event=hangup"] {
        assert!(dialplan.contains(event), "the dialplan reports {event}");
    }
    let contexts: Vec<String> = directives(&dialplan, ';')
        .iter()
        .filter(|l| l.starts_with('['))
        .map(|l| l.trim_matches(['[', ']']).to_owned())
        .collect();
    for line in directives(&dialplan, ';').iter() {
        for target in line
            .split("Gosub(")
            .skip(1)
            .chain(line.split("hangup_handler_push)=").skip(1))
        {
            let context = target.split(',').next().unwrap();
            assert!(
                contexts.iter().any(|c| c == context),
                "no context [{context}]: {line}"
            );
        }
        // Parentheses balance on every line (a missing one silently ends a dialplan line).
        let depth = line
            .chars()
            .fold(0i32, |d, c| d + (c == '(') as i32 - (c == ')') as i32);
        assert_eq!(depth, 0, "unbalanced: {line}");
    }
    for context in [
        "cti-new",
        "cti-answer",
        "cti-voicemail",
        "cti-hangup",
        "window-open",
    ] {
        let body = dialplan.split(&format!("[{context}]")).nth(1).unwrap();
        let body = body.split("\n[").next().unwrap();
        if body.contains("CURL(") {
            assert!(
                body.contains("CURLOPT(httptimeout)=1"),
                "[{context}] waits at most a second"
            );
        }
    }
}
