//! What every background job shares: the retry schedule. Jobs claim their work with a
//! lease on the row (see `docs/ARCHITECTURE.md`), so several instances never do one piece of
//! work twice and a crashed instance's work is picked up when its lease runs out.

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
