//! A real SMTP server for the tests: aiosmtpd (Debian's `python3-aiosmtpd`) writing every
//! message it receives into a Maildir, which the test reads back.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::in_ci;

pub struct SmtpServer {
    pub port: u16,
    child: Child,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

/// A port nobody listens on (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The Python that has aiosmtpd: Debian's, else the one on the PATH.
fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

impl SmtpServer {
    /// Starts aiosmtpd on `port`. Without it: a failure in CI, a skip (None) elsewhere.
    pub async fn start_on(port: u16) -> Option<SmtpServer> {
        Self::launch(port, 0).await
    }

    /// An SMTP server that takes `delay_ms` to accept each message (mail in flight long
    /// enough to kill its sender mid-delivery).
    pub async fn start_slow(delay_ms: u64) -> Option<SmtpServer> {
        Self::launch(free_port(), delay_ms).await
    }

    async fn launch(port: u16, delay_ms: u64) -> Option<SmtpServer> {
        let Some(python) = python() else {
            let reason = "aiosmtpd is not installed (apt-get install python3-aiosmtpd)";
            assert!(!in_ci(), "an SMTP server is required in CI: {reason}");
            eprintln!("skipping mail test: {reason}");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let maildir = dir.path().join("maildir");
        let script = format!(
            "import asyncio, time\n\
             from aiosmtpd.controller import Controller\n\
             from aiosmtpd.handlers import Mailbox\n\
             class Slow(Mailbox):\n\
             \x20   async def handle_DATA(self, server, session, envelope):\n\
             \x20       await asyncio.sleep({delay})\n\
             \x20       return await super().handle_DATA(server, session, envelope)\n\
             c = Controller(Slow({maildir:?}), hostname='127.0.0.1', port={port})\n\
             c.start()\n\
             while True: time.sleep(3600)\n",
            delay = delay_ms as f64 / 1000.0,
            maildir = maildir.display().to_string(),
        );
        let child = Command::new(python)
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let server = SmtpServer {
            port,
            child,
            maildir,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not start on {port}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(server)
    }

    pub async fn start() -> Option<SmtpServer> {
        Self::start_on(free_port()).await
    }

    /// Every message received so far, raw.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .filter_map(|f| std::fs::read(f).ok())
            .collect()
    }

    /// Waits until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.messages();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
