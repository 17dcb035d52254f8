//! `GET /metrics` in the Prometheus text format: requests by route and status with their
//! latency, and at each scrape the state of the queue, the callback list, the outbox and the
//! quarantine. Labels are routes, a fixed set of methods and codes only: no personal data,
//! and nothing a client can make up.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;
use crate::web::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

/// Counts every request by its matched route and status, and times it.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("youmen_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("youmen_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A method as a label: one of a fixed set, so a client inventing methods cannot add series
/// (each a little memory, never freed) without end.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

async fn scrape(State(state): State<AppState>) -> Result<Response, ApiError> {
    let handle = crate::telemetry::metrics::handle();
    let now = crate::clock::now();
    let g = state.store.gauges(now).await?;
    for (status, tier, n) in &g.open {
        metrics::gauge!("youmen_open_cases", "status" => status.clone(), "tier" => tier.clone())
            .set(*n as f64);
    }
    metrics::gauge!("youmen_overdue_cases").set(g.overdue as f64);
    for (channel, n) in &g.by_channel {
        metrics::gauge!("youmen_cases_registered", "channel" => channel.clone()).set(*n as f64);
    }
    metrics::gauge!("youmen_callback_backlog").set(g.callback_backlog as f64);
    metrics::gauge!("youmen_outbox_pending").set(g.outbox_pending as f64);
    metrics::gauge!("youmen_outbox_dead").set(g.outbox_dead as f64);
    metrics::gauge!("youmen_outbox_oldest_pending_seconds").set(
        g.outbox_oldest
            .map_or(0.0, |t| (now - t).num_seconds().max(0) as f64),
    );
    metrics::gauge!("youmen_quarantine_open").set(g.quarantine_open as f64);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_a_client_invents_is_counted_as_other() {
        assert_eq!(method_label(&Method::POST), "POST");
        for invented in ["FROB", "GETX", "BREW"] {
            assert_eq!(
                method_label(&Method::from_bytes(invented.as_bytes()).unwrap()),
                "OTHER"
            );
        }
    }
}
