//! The crate's clock: every instant youmen makes is truncated to microseconds, what both
//! databases keep, so an instant read back compares equal to the one written.

use chrono::{DateTime, SubsecRound, Utc};

/// Now, truncated to microseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
