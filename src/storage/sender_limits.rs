//! Per-address limit hits kept in memory, for an engine served by one process (SQLite).
//!
//! On PostgreSQL the hits are rows of `rate_hits`, so that every instance behind the load
//! balancer counts the same address together. SQLite is one process by design, so its hits
//! can live in that process: a randomly keyed index entry, a delete and a count fewer in
//! every batch of the single writer (measured in docs/BENCHMARKS.md). What this gives up:
//! a restart forgets the counts, so an address may send its hour's allowance again after
//! one. The limits are a brake on floods, not a record; nothing else reads them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Keys swept for stale hits once the map has grown by this many since the last sweep.
const SWEEP_AFTER: usize = 4096;

#[derive(Default)]
pub struct SenderLimits {
    inner: Mutex<Hits>,
}

#[derive(Default)]
struct Hits {
    /// (scope, key) → the hit times, oldest first.
    by_key: HashMap<(String, String), VecDeque<DateTime<Utc>>>,
    /// The longest window seen per scope: hits older than it count for nothing.
    longest: HashMap<String, Duration>,
    size_at_sweep: usize,
}

impl SenderLimits {
    /// The hits of `key` in each of `windows` ending at `now`, in order.
    pub fn counts(
        &self,
        scope: &str,
        key: &str,
        windows: &[Duration],
        now: DateTime<Utc>,
    ) -> Vec<i64> {
        let hits = self.inner.lock().expect("sender limits");
        let times = hits.by_key.get(&(scope.to_owned(), key.to_owned()));
        windows
            .iter()
            .map(|w| times.map_or(0, |t| t.iter().filter(|at| **at > now - *w).count() as i64))
            .collect()
    }

    /// Counts one hit of `key` at `at`; `longest` is the scope's longest window.
    pub fn record(&self, scope: &str, key: &str, at: DateTime<Utc>, longest: Duration) {
        let mut hits = self.inner.lock().expect("sender limits");
        hits.longest
            .entry(scope.to_owned())
            .and_modify(|l| *l = (*l).max(longest))
            .or_insert(longest);
        let times = hits
            .by_key
            .entry((scope.to_owned(), key.to_owned()))
            .or_default();
        while times.front().is_some_and(|t| *t <= at - longest) {
            times.pop_front();
        }
        let place = times.partition_point(|t| *t <= at);
        times.insert(place, at);
        if hits.by_key.len() >= hits.size_at_sweep + SWEEP_AFTER {
            hits.sweep(at);
        }
    }

    /// Takes back a hit counted by `record` (its message was not stored after all).
    pub fn forget(&self, scope: &str, key: &str, at: DateTime<Utc>) {
        let mut hits = self.inner.lock().expect("sender limits");
        let id = (scope.to_owned(), key.to_owned());
        if let Some(times) = hits.by_key.get_mut(&id) {
            if let Some(place) = times.iter().position(|t| *t == at) {
                times.remove(place);
            }
            if times.is_empty() {
                hits.by_key.remove(&id);
            }
        }
    }

    /// Whether `key` may have one more hit under `limits` (window, most allowed in it) at
    /// `now`, without counting it.
    pub fn allows(
        &self,
        scope: &str,
        key: &str,
        limits: &[(Duration, u32)],
        now: DateTime<Utc>,
    ) -> bool {
        let windows: Vec<Duration> = limits.iter().map(|(w, _)| *w).collect();
        let counts = self.counts(scope, key, &windows, now);
        limits
            .iter()
            .zip(&counts)
            .all(|((_, most), n)| *n < i64::from(*most))
    }

    /// Counts one hit against `limits`. False, and nothing counted, when a limit is already
    /// reached.
    pub fn hit(
        &self,
        scope: &str,
        key: &str,
        limits: &[(Duration, u32)],
        now: DateTime<Utc>,
    ) -> bool {
        let Some(longest) = limits.iter().map(|(w, _)| *w).max() else {
            return true;
        };
        if !self.allows(scope, key, limits, now) {
            return false;
        }
        self.record(scope, key, now, longest);
        true
    }
}

impl Hits {
    /// Drops the keys whose every hit is older than their scope's longest window.
    fn sweep(&mut self, now: DateTime<Utc>) {
        let longest = &self.longest;
        self.by_key.retain(|(scope, _), times| {
            let window = longest.get(scope).copied().unwrap_or_default();
            times.back().is_some_and(|t| *t > now - window)
        });
        self.size_at_sweep = self.by_key.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap() + Duration::minutes(minutes)
    }

    #[test]
    fn an_address_is_refused_once_a_window_is_full_and_let_through_when_it_has_passed() {
        let limits = SenderLimits::default();
        let rules = [(Duration::hours(1), 2), (Duration::days(1), 3)];
        assert!(limits.hit("submit", "a", &rules, at(0)));
        assert!(limits.hit("submit", "a", &rules, at(1)));
        assert!(!limits.hit("submit", "a", &rules, at(2)), "two an hour");
        assert!(limits.hit("submit", "b", &rules, at(2)), "another address");
        assert!(
            limits.hit("submit", "a", &rules, at(61)),
            "the hour has passed"
        );
        assert!(!limits.hit("submit", "a", &rules, at(122)), "three a day");
        assert!(limits.hit("track", "a", &rules, at(122)), "another scope");
        assert!(
            limits.hit("submit", "a", &rules, at(24 * 60 + 1)),
            "a new day"
        );
    }

    #[test]
    fn a_forgotten_hit_no_longer_counts() {
        let limits = SenderLimits::default();
        let rules = [(Duration::hours(1), 1)];
        assert!(limits.hit("submit", "a", &rules, at(0)));
        limits.forget("submit", "a", at(0));
        assert!(limits.hit("submit", "a", &rules, at(1)));
        assert_eq!(
            limits.counts("submit", "a", &[Duration::hours(1)], at(1)),
            vec![1]
        );
    }

    #[test]
    fn stale_addresses_are_swept_as_new_ones_arrive() {
        let limits = SenderLimits::default();
        let hour = Duration::hours(1);
        for k in 0..SWEEP_AFTER {
            limits.record("submit", &format!("old{k}"), at(0), hour);
        }
        for k in 0..SWEEP_AFTER {
            limits.record("submit", &format!("new{k}"), at(120), hour);
        }
        let kept = limits.inner.lock().unwrap().by_key.len();
        assert!(kept <= SWEEP_AFTER + 1, "{kept} keys kept");
        assert_eq!(limits.counts("submit", "new1", &[hour], at(120)), vec![1]);
    }
}
