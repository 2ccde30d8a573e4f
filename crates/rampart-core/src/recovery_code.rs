//! Single-use 2FA recovery codes: `xxxxx-xxxxx`, 50 random bits each, from
//! an alphabet without look-alike characters. Stored as SHA-256 (the codes
//! are random, so a fast hash cannot be reversed).

use sha2::{Digest, Sha256};

use crate::random::Random;

const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz023456789";

pub const COUNT: usize = 10;

#[derive(Clone)]
pub struct RecoveryCode(String);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(***)")
    }
}

impl RecoveryCode {
    pub fn generate(rng: &dyn Random) -> RecoveryCode {
        let mut bytes = [0u8; 10];
        rng.fill(&mut bytes);
        let chars: String = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
            .collect();
        RecoveryCode(format!("{}-{}", &chars[..5], &chars[5..]))
    }

    /// Normalises what a user typed (case, spaces, dash); `None` if it
    /// cannot be a recovery code.
    pub fn parse(input: &str) -> Option<RecoveryCode> {
        let plain: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let ok = plain.len() == 10 && plain.bytes().all(|b| ALPHABET.contains(&b));
        ok.then(|| RecoveryCode(format!("{}-{}", &plain[..5], &plain[5..])))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    #[test]
    fn generated_codes_parse_back_in_any_spelling() {
        let code = RecoveryCode::generate(&OsRandom);
        assert_eq!(code.expose().len(), 11);
        let typed = code.expose().to_uppercase().replace('-', " ");
        assert_eq!(RecoveryCode::parse(&typed).unwrap().hash(), code.hash());
        assert!(RecoveryCode::parse("123456").is_none());
        assert!(
            RecoveryCode::parse("abcde-fghi1").is_none(),
            "1 is not in the alphabet"
        );
    }
}
