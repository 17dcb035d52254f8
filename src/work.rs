//! What every piece of background work shares, whoever schedules it: the stop signal, the
//! retry schedule, and this instance's name on the leases it takes.

pub use tokio_util::sync::CancellationToken as Stop;

/// The longest wait between two attempts.
const MAX_BACKOFF_SECONDS: u64 = 3600;

/// `base × 2^(attempt-1)` seconds, at most an hour.
pub fn backoff(base_seconds: u64, attempt: i64) -> chrono::Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let seconds = base_seconds
        .saturating_mul(1u64 << exponent)
        .min(MAX_BACKOFF_SECONDS);
    chrono::Duration::seconds(seconds as i64)
}

/// This process's name on the leases it takes: released on shutdown by name.
pub fn instance_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        let nonce: u32 = rand::random();
        format!("{host}/{}/{nonce:08x}", std::process::id())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(10, 1).num_seconds(), 10);
        assert_eq!(backoff(10, 2).num_seconds(), 20);
        assert_eq!(backoff(10, 4).num_seconds(), 80);
        assert_eq!(backoff(10, 30).num_seconds(), 3600);
        assert_eq!(backoff(0, 5).num_seconds(), 0);
    }
}
