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

/// How far ahead the calendar must be official for the window's deadlines to be exact.
const CALENDAR_HORIZON_DAYS: u64 = 30;

/// Ready to serve: the database answers, and whether the calendar is official for today and
/// the next 30 days. A calendar gap is reported but does not take the instance out of
/// service: deadlines are still computed, marked provisional.
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
    let (code, status) = match (db_ok, calendar_ok) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        (true, false) => (StatusCode::OK, "degraded"),
        (true, true) => (StatusCode::OK, "ready"),
    };
    (code, Json(Readiness { status, checks }))
}
