//! Random bearer secrets (session ids, setup tokens) and their stored hashes.
//!
//! A [`SecretToken`] is 256 random bits shown to its holder once, as 64 hex
//! characters; the store keeps only its SHA-256 ([`TokenHash`]). A high-entropy
//! random secret needs no slow hash: SHA-256 of it cannot be reversed.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::random::Random;

const TOKEN_BYTES: usize = 32;

/// A freshly drawn or presented secret. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct SecretToken(String);

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretToken(***)")
    }
}

impl SecretToken {
    /// Draws a new 256-bit token.
    pub fn generate(rng: &dyn Random) -> SecretToken {
        let mut bytes = [0u8; TOKEN_BYTES];
        rng.fill(&mut bytes);
        SecretToken(hex::encode(bytes))
    }

    /// Accepts a presented token if it has the shape of one of ours; anything
    /// else (wrong length, non-hex, upper case) cannot match and is refused early.
    pub fn parse(presented: &str) -> Option<SecretToken> {
        let ok = presented.len() == TOKEN_BYTES * 2
            && presented
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| SecretToken(presented.to_owned()))
    }

    /// The value to hand to the holder (cookie, URL, form).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps.
    pub fn hash(&self) -> TokenHash {
        TokenHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }

    /// A value derived from this secret for another purpose (e.g. the CSRF
    /// token of a session), which cannot be computed from [`Self::hash`].
    pub fn derive(&self, purpose: &str) -> String {
        let mut h = Sha256::new();
        h.update(b"rampart-derive\0");
        h.update(purpose.as_bytes());
        h.update(b"\0");
        h.update(self.0.as_bytes());
        hex::encode(h.finalize())
    }
}

/// Hex SHA-256 of a [`SecretToken`], as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHash(pub String);

impl TokenHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Constant-time comparison of two strings (for CSRF tokens and the like).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::{OsRandom, SeededRandom};

    #[test]
    fn token_is_256_bits_of_hex_and_hash_differs() {
        let t = SecretToken::generate(&OsRandom);
        assert_eq!(t.expose().len(), 64);
        assert!(SecretToken::parse(t.expose()).is_some());
        assert_ne!(t.hash().as_str(), t.expose());
        assert_eq!(
            t.hash(),
            SecretToken::parse(t.expose()).map(|p| p.hash()).unwrap()
        );
    }

    #[test]
    fn parse_refuses_wrong_shapes() {
        let good = SecretToken::generate(&SeededRandom::new(1));
        assert!(SecretToken::parse(&good.expose()[..63]).is_none());
        assert!(SecretToken::parse(&good.expose().to_uppercase()).is_none());
        assert!(SecretToken::parse(&format!("{}\n", &good.expose()[..63])).is_none());
        assert!(SecretToken::parse("").is_none());
    }

    #[test]
    fn debug_hides_value() {
        let t = SecretToken::generate(&OsRandom);
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn derived_values_depend_on_purpose() {
        let t = SecretToken::generate(&OsRandom);
        assert_ne!(t.derive("csrf"), t.derive("other"));
        assert_eq!(t.derive("csrf"), t.derive("csrf"));
        assert_ne!(t.derive("csrf"), t.hash().0);
    }

    #[test]
    fn constant_time_eq_compares_content() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
