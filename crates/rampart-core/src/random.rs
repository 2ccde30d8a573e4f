//! The one place that draws from the OS random source. Everything else
//! receives a [`Random`] so tests can make token generation deterministic.

use std::sync::Mutex;

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Sync + 'static {
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's CSPRNG (`getrandom(2)`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    #[allow(clippy::disallowed_methods)] // the one sanctioned use of the OS random source
    fn fill(&self, buf: &mut [u8]) {
        if let Err(e) = getrandom::fill(buf) {
            // getrandom(2) does not fail on Linux once the pool is initialised;
            // continuing with predictable bytes would be worse than stopping.
            eprintln!("fatal: OS random source failed: {e}");
            std::process::abort();
        }
    }
}

/// A deterministic byte stream (splitmix64); for tests only, never secure.
#[derive(Debug)]
pub struct SeededRandom {
    state: Mutex<u64>,
}

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        SeededRandom {
            state: Mutex::new(seed),
        }
    }
}

impl Random for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        for chunk in buf.chunks_mut(8) {
            *guard = guard.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *guard;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_random_differs_between_draws() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        OsRandom.fill(&mut a);
        OsRandom.fill(&mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn seeded_random_repeats_for_same_seed() {
        let (mut a, mut b) = ([0u8; 13], [0u8; 13]);
        SeededRandom::new(7).fill(&mut a);
        SeededRandom::new(7).fill(&mut b);
        assert_eq!(a, b);
        let mut c = [0u8; 13];
        SeededRandom::new(8).fill(&mut c);
        assert_ne!(a, c);
    }
}
