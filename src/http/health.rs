//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`, `degraded` (serving, with a warning) or `unavailable`.
    status: &'static str,
    checks: Vec<Check>,
}

/// The folders and servers an instance depends on besides its database.
#[derive(Debug, Clone)]
pub struct Targets {
    pub audio_dir: std::path::PathBuf,
    pub spool_dir: Option<std::path::PathBuf>,
    pub smtp: Option<(String, u16)>,
}

async fn audio_writable(dir: &std::path::Path) -> Result<(), String> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| e.to_string())?;
    let probe = dir.join(format!(".ready-{}", uuid::Uuid::new_v4().simple()));
    tokio::fs::write(&probe, b"")
        .await
        .map_err(|e| e.to_string())?;
    let _ = tokio::fs::remove_file(&probe).await;
    Ok(())
}

/// How far ahead the calendar must be official for the window's deadlines to be exact.
pub(crate) const CALENDAR_HORIZON_DAYS: u64 = 30;

/// Ready to serve: the database answers; and whether the calendar is official for today and
/// the next 30 days, the audio folder is writable, the spool readable and the SMTP server
/// reachable (when configured). Only the database takes the instance out of service; the rest
/// is reported as degraded with the reason (deadlines are then provisional, mail waits). The
/// answer is public: it names no folder, host or port (the log does).
#[utoipa::path(
    get, path = "/readyz", tag = "health",
    responses((status = 200, description = "Serving (maybe with warnings)", body = Readiness),
              (status = 503, description = "The database is unreachable", body = Readiness))
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let mut checks = Vec::new();
    let db_ok = match state.store.ping().await {
        Ok(()) => {
            checks.push(Check {
                name: "database",
                ok: true,
                detail: state.store.backend().to_owned(),
            });
            true
        }
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "readiness: database unreachable");
            checks.push(Check {
                name: "database",
                ok: false,
                detail: "unreachable".into(),
            });
            false
        }
    };
    let calendar = state.calendar.current();
    let today = calendar.local_date(chrono::Utc::now());
    let missing = calendar.provisional_years(today, CALENDAR_HORIZON_DAYS);
    let calendar_ok = missing.is_empty();
    checks.push(Check {
        name: "calendar",
        ok: calendar_ok,
        detail: if calendar_ok {
            format!("official through {}", today + chrono::Days::new(CALENDAR_HORIZON_DAYS))
        } else {
            format!(
                "no official calendar file for {:?}: deadlines and openings in those years are provisional (statutory holidays only, no make-up days); add config/calendar/<year>.toml",
                missing
            )
        },
    });
    let targets = &state.readiness;
    let audio = audio_writable(&targets.audio_dir).await;
    checks.push(Check {
        name: "audio_folder",
        ok: audio.is_ok(),
        // Public: what is wrong, not where (the folder's path and the error go to the log).
        detail: match &audio {
            Ok(()) => "writable".into(),
            Err(e) => {
                tracing::warn!(dir = %targets.audio_dir.display(), error = %e, "readiness: the audio folder is not writable");
                "not writable: recordings cannot be stored (see the log)".into()
            }
        },
    });
    let mut others_ok = audio.is_ok();
    if let Some(spool) = &targets.spool_dir {
        let readable = tokio::fs::read_dir(spool).await;
        others_ok &= readable.is_ok();
        checks.push(Check {
            name: "voicemail_spool",
            ok: readable.is_ok(),
            detail: match &readable {
                Ok(_) => "readable".into(),
                Err(e) => {
                    tracing::warn!(dir = %spool.display(), error = %e, "readiness: the voicemail spool cannot be read");
                    "cannot be read: voicemail waits in the spool (see the log)".into()
                }
            },
        });
    }
    if let Some((host, port)) = &targets.smtp {
        let reach = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            tokio::net::TcpStream::connect((host.as_str(), *port)),
        )
        .await;
        let ok = matches!(reach, Ok(Ok(_)));
        others_ok &= ok;
        checks.push(Check {
            name: "smtp",
            ok,
            detail: match ok {
                true => "answers".into(),
                false => {
                    tracing::warn!(host, port, "readiness: the SMTP server does not answer");
                    "does not answer: mail waits in the outbox (see the log)".into()
                }
            },
        });
    }
    let (code, status) = match (db_ok, calendar_ok && others_ok) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        (true, false) => (StatusCode::OK, "degraded"),
        (true, true) => (StatusCode::OK, "ready"),
    };
    (code, Json(Readiness { status, checks }))
}
