//! Per-principal API rate limits by role (SPEC R32): a fixed one-minute
//! window per key with the injected clock, reporting what the `RateLimit-*`
//! and `Retry-After` headers need.

use std::collections::HashMap;
use std::sync::Mutex;

use rampart_core::UnixTime;

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset: i64,
    /// True for the first refused request of a window (audited once).
    pub first_refusal: bool,
}

#[derive(Debug, Default)]
pub struct ApiRateLimiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

const WINDOW: i64 = 60;
const MAX_KEYS: usize = 100_000;

impl ApiRateLimiter {
    pub fn hit(&self, key: &str, limit: u32, now: UnixTime) -> RateState {
        let window = now.0.div_euclid(WINDOW);
        let reset = (window + 1) * WINDOW - now.0;
        let mut map = match self.windows.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            map.retain(|_, (w, _)| *w == window);
        }
        if !map.contains_key(key) {
            map.insert(key.to_owned(), (window, 0));
        }
        let Some(entry) = map.get_mut(key) else {
            return RateState {
                allowed: true,
                limit,
                remaining: limit,
                reset,
                first_refusal: false,
            };
        };
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        let count = entry.1;
        RateState {
            allowed: count <= limit,
            limit,
            remaining: limit.saturating_sub(count),
            reset,
            first_refusal: count == limit.saturating_add(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_per_minute() {
        let l = ApiRateLimiter::default();
        let t = UnixTime(600); // start of a window
        for i in 0..3 {
            let s = l.hit("user:1", 3, UnixTime(t.0 + i));
            assert!(s.allowed);
            assert_eq!(s.remaining, 2 - i as u32);
        }
        let refused = l.hit("user:1", 3, UnixTime(610));
        assert!(!refused.allowed && refused.first_refusal);
        assert_eq!(refused.reset, 50);
        assert!(!l.hit("user:1", 3, UnixTime(611)).first_refusal);
        assert!(l.hit("user:2", 3, UnixTime(611)).allowed);
        assert!(l.hit("user:1", 3, UnixTime(660)).allowed, "new window");
    }
}
