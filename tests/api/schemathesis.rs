//! The served OpenAPI description against the service itself, by schemathesis: every
//! operation, with an administrator's token (every operation is open to that role), with
//! generated valid and invalid requests. No response may be a server error, and every
//! response must be documented: its status, content type, headers and body schema.
//!
//! The run is short by default (a fixed seed, a few examples per operation); the long run
//! is the same test with more examples: `YOUMEN_SCHEMATHESIS_EXAMPLES=1000` (docs/SCHEMATHESIS.md).

use std::path::PathBuf;
use std::time::Duration;

use youmen::config::Settings;
use youmen::domain::Role;

use crate::helpers::{in_ci, Backend, TestApp};

/// Examples per operation in each generating phase, unless the environment asks for more.
const SHORT_RUN_EXAMPLES: u32 = 25;
/// Any seed will do; a fixed one makes a failure reproducible. A long run may pick another
/// with `YOUMEN_SCHEMATHESIS_SEED`.
const SEED: &str = "20261128";

/// The schemathesis command: `SCHEMATHESIS` (a path to its `st` or `schemathesis`), else
/// `schemathesis` on the PATH; the reason when it cannot be run.
fn schemathesis() -> Result<PathBuf, String> {
    let program = std::env::var_os("SCHEMATHESIS")
        .map_or_else(|| PathBuf::from("schemathesis"), PathBuf::from);
    match std::process::Command::new(&program)
        .arg("--version")
        .output()
    {
        Ok(out) if out.status.success() => Ok(program),
        Ok(out) => Err(format!(
            "`{} --version` failed: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => Err(format!(
            "cannot run `{}` ({e}); install it (pip install schemathesis, see .ci/run) and set SCHEMATHESIS=/path/to/st",
            program.display()
        )),
    }
}

/// Limits that would otherwise answer most of the generated website messages with 429 (a
/// documented answer, but one that would keep the fuzzing away from the validation and
/// storage behind it); recording callbacks configured, so that their signature check runs.
fn fuzzable(s: &mut Settings) {
    s.website.per_ip_per_hour = 1_000_000;
    s.website.per_ip_per_day = 1_000_000;
    s.website.track_per_ip_per_hour = 1_000_000;
    s.website.track_failures_per_case_per_hour = 1_000_000;
    s.hotline.twilio.auth_token = "schemathesis-twilio-secret".into();
}

async fn every_operation_answers_as_documented_without_server_errors(backend: Backend) {
    let program = match schemathesis() {
        Ok(program) => program,
        Err(reason) => {
            assert!(!in_ci(), "schemathesis is required in CI: {reason}");
            eprintln!("skipping the schemathesis run: {reason}");
            return;
        }
    };
    let examples = std::env::var("YOUMEN_SCHEMATHESIS_EXAMPLES")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(SHORT_RUN_EXAMPLES);
    let seed = std::env::var("YOUMEN_SCHEMATHESIS_SEED").unwrap_or_else(|_| SEED.to_owned());
    let app = TestApp::spawn_with(backend, fuzzable).await;
    let token = app.token("schemathesis", Role::Admin).await;
    // A duty leader to put on the roster, so that setting a date can succeed.
    app.user("zhao", "赵局长", vec![Role::DutyLeader], None)
        .await;
    // Its own working folder: nothing it writes lands in the repository.
    let workdir = tempfile::tempdir().expect("temp dir");
    let run = tokio::process::Command::new(&program)
        .current_dir(workdir.path())
        .arg("run")
        .arg(format!("{}/api/openapi.json", app.address))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // Every check but positive_data_acceptance, which expects a request that fits the
        // schema to be accepted: ours are checked further than a schema can say (a phone
        // number that must exist, an ID card's checksum, a matter from the configured list,
        // a date that must be a working day), and the 422 that says so is the right answer.
        .args(["--checks", "all"])
        .args(["--exclude-checks", "positive_data_acceptance"])
        .args(["--max-examples", &examples.to_string()])
        .args(["--seed", &seed])
        .args(["--generation-database", "none"])
        .args(["--workers", "1"])
        .arg("--no-color")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60 * 60), run)
        .await
        .expect("schemathesis finishes within an hour")
        .expect("schemathesis runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found problems ({backend:?}, {examples} examples per operation, seed {seed}):\n{report}"
    );
    let summary: Vec<&str> = report.lines().rev().take(12).collect();
    eprintln!(
        "schemathesis ({backend:?}, {examples} examples per operation): {}",
        summary.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
}

crate::on_both_backends!(every_operation_answers_as_documented_without_server_errors);
