//! The Asterisk Manager Interface listener against a protocol-level test server. Asterisk
//! cannot be installed on these machines, so this server speaks AMI's documented text
//! protocol itself (FORMATS.md §7: a banner line, `Key: Value` packets ended by a blank
//! line, `Action: Login` answered by `Response: Success` or `Error`): it refuses the first
//! log-in, accepts the second and sends an answered call, drops the connection, and sends
//! a call abandoned in the queue on the third. youmen must retry, reconnect, log in again
//! and record both calls, the abandoned one as a missed call.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{Backend, TestApp};

/// Reads one client packet.
async fn packet(reader: &mut BufReader<TcpStream>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap() == 0 {
            return out;
        }
        let line = line.trim_end();
        if line.is_empty() {
            if out.is_empty() {
                continue;
            }
            return out;
        }
        let (k, v) = line.split_once(':').unwrap();
        out.push((k.trim().to_owned(), v.trim().to_owned()));
    }
}

fn value<'a>(p: &'a [(String, String)], key: &str) -> &'a str {
    p.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// Accepts one connection and answers its log-in; true if it was accepted.
async fn log_in(listener: &TcpListener, accept: bool) -> BufReader<TcpStream> {
    let (stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("youmen connects (again) within 10 s")
        .unwrap();
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(b"Asterisk Call Manager/7.0.3\r\n")
        .await
        .unwrap();
    let login = packet(&mut reader).await;
    assert_eq!(value(&login, "Action"), "Login", "{login:?}");
    assert_eq!(value(&login, "Username"), "youmen");
    let id = value(&login, "ActionID").to_owned();
    let answer = match accept && value(&login, "Secret") == "s3cret" {
        true => format!(
            "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"
        ),
        false => {
            format!("Response: Error\r\nActionID: {id}\r\nMessage: Authentication failed\r\n\r\n")
        }
    };
    reader.get_mut().write_all(answer.as_bytes()).await.unwrap();
    reader
}

async fn send(reader: &mut BufReader<TcpStream>, events: &[&[(&str, &str)]]) {
    for event in events {
        let mut text = String::new();
        for (k, v) in *event {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        reader.get_mut().write_all(text.as_bytes()).await.unwrap();
    }
}

async fn the_ami_listener_follows_calls_and_reconnects(backend: Backend) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = TestApp::spawn_with(backend, |s| {
        s.hotline.ami.host = "127.0.0.1".into();
        s.hotline.ami.port = port;
        s.hotline.ami.username = "youmen".into();
        s.hotline.ami.secret = "s3cret".into();
        s.hotline.ami.reconnect_max_seconds = 1;
    })
    .await;

    // The first log-in is refused: youmen waits and tries again.
    let refused = log_in(&listener, false).await;
    drop(refused);
    let mut second = log_in(&listener, true).await;
    let caller = [("Uniqueid", "1764.10"), ("Linkedid", "1764.10")];
    send(
        &mut second,
        &[
            &[
                ("Event", "Newchannel"),
                ("Channel", "PJSIP/trunk-0000000a"),
                ("CallerIDNum", "13800138000"),
                ("CallerIDName", "<unknown>"),
                ("Exten", "3105883"),
                ("Context", "from-trunk"),
                caller[0],
                caller[1],
            ],
            &[
                ("Event", "DialEnd"),
                ("DialStatus", "ANSWER"),
                ("DestChannel", "PJSIP/801-0000000b"),
                ("DestCallerIDNum", "801"),
                ("Linkedid", "1764.10"),
            ],
            &[("Event", "Hangup"), ("Cause", "16"), caller[0], caller[1]],
        ],
    )
    .await;
    // Give youmen the events, then drop the connection.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(second);

    let mut third = log_in(&listener, true).await;
    let caller = [("Uniqueid", "1764.20"), ("Linkedid", "1764.20")];
    send(
        &mut third,
        &[
            &[
                ("Event", "Newchannel"),
                ("CallerIDNum", "13900139000"),
                ("Exten", "6912333"),
                caller[0],
                caller[1],
            ],
            &[
                ("Event", "QueueCallerAbandon"),
                ("Queue", "business"),
                caller[0],
                caller[1],
            ],
            &[("Event", "Hangup"), ("Cause", "16"), caller[0], caller[1]],
        ],
    )
    .await;

    let mut seen = (0, 0, 0);
    for _ in 0..100 {
        seen = (
            app.raw_count("select count(*) from calls where ended_at is not null")
                .await,
            app.raw_count("select count(*) from calls where answered_by = '801'")
                .await,
            app.raw_count(
                "select count(*) from missed_calls where source = 'cti' and phone_e164 = '+8613900139000'",
            )
            .await,
        );
        if seen == (2, 1, 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        seen,
        (2, 1, 1),
        "both calls ended, one answered at 801, one missed call"
    );
    drop(third);
}

crate::on_both_backends!(the_ami_listener_follows_calls_and_reconnects);
