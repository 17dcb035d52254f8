//! The process's metrics: one Prometheus recorder, installed once and shared by every router
//! and job in the process (`GET /metrics` renders it, see `http::metrics`). Labels are
//! routes, codes and job names only: no personal data.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets(&[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
            .expect("static buckets")
            .install_recorder()
            .expect("the only metrics recorder")
    })
}

/// A job's round: counted, and its failures too.
pub fn job_round(job: &'static str, ok: bool) {
    ::metrics::counter!("youmen_job_runs_total", "job" => job).increment(1);
    if !ok {
        ::metrics::counter!("youmen_job_failures_total", "job" => job).increment(1);
    }
}
