//! Keyed failure limits for logins (SPEC R15), behind a trait so several
//! replicas can later share one backend. Time comes from the injected clock.
//!
//! A key (e.g. `ip:203.0.113.9`) may fail `max` times within `window`
//! seconds; the next attempt is refused until the oldest failure leaves the
//! window, and the refusal says when (`Retry-After`).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use rampart_core::UnixTime;

/// One rule: at most `max` failures per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    pub window_secs: i64,
}

pub trait KeyedLimiter: Send + Sync + 'static {
    /// `Err(retry_after_secs)` when `key` is over `limit` at `now`.
    fn check(&self, key: &str, limit: Limit, now: UnixTime) -> Result<(), i64>;
    /// Counts one failure for `key`.
    fn record_failure(&self, key: &str, limit: Limit, now: UnixTime);
}

/// In-process limiter: failure times per key, pruned as they age out.
#[derive(Debug, Default)]
pub struct InMemoryLimiter {
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

/// Keys kept at most; beyond it the stalest are dropped (memory bound under
/// a flood of distinct keys).
const MAX_KEYS: usize = 100_000;

impl InMemoryLimiter {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, VecDeque<i64>>) -> T) -> T {
        let mut guard = match self.failures.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

fn prune(times: &mut VecDeque<i64>, limit: Limit, now: UnixTime) {
    while times
        .front()
        .is_some_and(|t| now.0 - t >= limit.window_secs)
    {
        times.pop_front();
    }
}

impl KeyedLimiter for InMemoryLimiter {
    fn check(&self, key: &str, limit: Limit, now: UnixTime) -> Result<(), i64> {
        self.with(|map| {
            let Some(times) = map.get_mut(key) else {
                return Ok(());
            };
            prune(times, limit, now);
            if times.len() < limit.max {
                return Ok(());
            }
            // Allowed again once enough old failures have left the window.
            let idx = times.len() - limit.max;
            let oldest_blocking = times.get(idx).copied().unwrap_or(now.0);
            Err((oldest_blocking + limit.window_secs - now.0).max(1))
        })
    }

    fn record_failure(&self, key: &str, limit: Limit, now: UnixTime) {
        self.with(|map| {
            if map.len() >= MAX_KEYS && !map.contains_key(key) {
                map.retain(|_, times| {
                    prune(times, limit, now);
                    !times.is_empty()
                });
                if map.len() >= MAX_KEYS {
                    let drop: Vec<String> = map.keys().take(map.len() / 10 + 1).cloned().collect();
                    for k in drop {
                        map.remove(&k);
                    }
                }
            }
            let times = map.entry(key.to_owned()).or_default();
            prune(times, limit, now);
            times.push_back(now.0);
            while times.len() > limit.max * 2 {
                times.pop_front();
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_PER_MINUTE: Limit = Limit {
        max: 5,
        window_secs: 60,
    };

    #[test]
    fn blocks_after_max_failures_until_the_window_passes() {
        let l = InMemoryLimiter::default();
        let t0 = UnixTime(1000);
        for i in 0..5 {
            assert_eq!(l.check("ip:a", FIVE_PER_MINUTE, UnixTime(t0.0 + i)), Ok(()));
            l.record_failure("ip:a", FIVE_PER_MINUTE, UnixTime(t0.0 + i));
        }
        assert_eq!(l.check("ip:a", FIVE_PER_MINUTE, UnixTime(1005)), Err(55));
        assert_eq!(
            l.check("ip:b", FIVE_PER_MINUTE, UnixTime(1005)),
            Ok(()),
            "keys are separate"
        );
        assert_eq!(l.check("ip:a", FIVE_PER_MINUTE, UnixTime(1059)), Err(1));
        assert_eq!(
            l.check("ip:a", FIVE_PER_MINUTE, UnixTime(1060)),
            Ok(()),
            "first failure aged out"
        );
    }

    #[test]
    fn memory_stays_bounded_per_key() {
        let l = InMemoryLimiter::default();
        for i in 0..1000 {
            l.record_failure("k", FIVE_PER_MINUTE, UnixTime(i / 100));
        }
        l.with(|m| assert!(m["k"].len() <= 10));
    }
}
