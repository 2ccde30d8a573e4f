//! TOTP (RFC 6238) over HOTP (RFC 4226): 6 digits, 30-second steps, ±1 step
//! of clock skew. Verification returns the matched time step so the caller
//! can refuse any step not later than the last one used (no replay).

use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

use crate::clock::UnixTime;
use crate::random::Random;

/// The HMAC hash of a TOTP secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

pub const STEP_SECS: i64 = 30;
pub const DIGITS: u32 = 6;
/// Secret length for new enrolments: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;

fn hmac_digest(alg: Algorithm, key: &[u8], msg: &[u8]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        match <M as hmac::digest::KeyInit>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(msg);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }
    match alg {
        Algorithm::Sha1 => run::<Hmac<sha1::Sha1>>(key, msg),
        Algorithm::Sha256 => run::<Hmac<sha2::Sha256>>(key, msg),
        Algorithm::Sha512 => run::<Hmac<sha2::Sha512>>(key, msg),
    }
}

/// HOTP value with `digits` digits for `counter` (RFC 4226 §5.3).
pub fn hotp(alg: Algorithm, secret: &[u8], counter: u64, digits: u32) -> String {
    let mac = hmac_digest(alg, secret, &counter.to_be_bytes());
    let Some(&last) = mac.last() else {
        return String::new();
    };
    let offset = usize::from(last & 0x0f);
    let Some(slice) = mac.get(offset..offset + 4) else {
        return String::new();
    };
    let binary = (u32::from(slice[0] & 0x7f) << 24)
        | (u32::from(slice[1]) << 16)
        | (u32::from(slice[2]) << 8)
        | u32::from(slice[3]);
    let modulus = 10u64.pow(digits);
    format!(
        "{:0width$}",
        u64::from(binary) % modulus,
        width = digits as usize
    )
}

/// The time step containing `t`.
pub fn step_of(t: UnixTime) -> i64 {
    t.0.div_euclid(STEP_SECS)
}

/// A user's TOTP secret (SHA-1, 6 digits, 30 s: what every authenticator app speaks).
#[derive(Clone)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

impl TotpSecret {
    pub fn generate(rng: &dyn Random) -> TotpSecret {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rng.fill(&mut bytes);
        TotpSecret(bytes)
    }

    pub fn from_base32(text: &str) -> Option<TotpSecret> {
        let bytes = crate::base32::decode(text)?;
        (bytes.len() >= 10).then_some(TotpSecret(bytes))
    }

    /// The secret as shown to the user and stored.
    pub fn to_base32(&self) -> String {
        crate::base32::encode(&self.0)
    }

    pub fn code_at_step(&self, step: i64) -> String {
        hotp(Algorithm::Sha1, &self.0, step.max(0) as u64, DIGITS)
    }

    /// The matched step if `code` is valid at `now` within ±1 step.
    pub fn verify(&self, code: &str, now: UnixTime) -> Option<i64> {
        let code = code.trim();
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = step_of(now);
        let mut matched = None;
        // Check every candidate so timing does not depend on which matched.
        for step in [current - 1, current, current + 1] {
            let expected = self.code_at_step(step);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                matched = Some(step);
            }
        }
        matched
    }

    /// `otpauth://` URI for authenticator apps (Key Uri Format).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            self.to_base32(),
            issuer = percent_encode(issuer),
            account = percent_encode(account),
        )
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 Appendix B: the seeds are the ASCII digits repeated to the
    // hash's block-relevant length.
    const SEED20: &[u8] = b"12345678901234567890";
    const SEED32: &[u8] = b"12345678901234567890123456789012";
    const SEED64: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn rfc6238_appendix_b_vectors() {
        let table: [(i64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        for (t, sha1, sha256, sha512) in table {
            let counter = step_of(UnixTime(t)) as u64;
            assert_eq!(
                hotp(Algorithm::Sha1, SEED20, counter, 8),
                sha1,
                "SHA1 at {t}"
            );
            assert_eq!(
                hotp(Algorithm::Sha256, SEED32, counter, 8),
                sha256,
                "SHA256 at {t}"
            );
            assert_eq!(
                hotp(Algorithm::Sha512, SEED64, counter, 8),
                sha512,
                "SHA512 at {t}"
            );
        }
    }

    #[test]
    fn rfc4226_appendix_d_hotp_vectors() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp(Algorithm::Sha1, SEED20, counter as u64, 6), *code);
        }
    }

    #[test]
    fn verify_allows_one_step_of_skew_and_reports_the_step() {
        let secret = TotpSecret(SEED20.to_vec());
        let now = UnixTime(1_800_000_015);
        let step = step_of(now);
        assert_eq!(secret.verify(&secret.code_at_step(step), now), Some(step));
        assert_eq!(
            secret.verify(&secret.code_at_step(step - 1), now),
            Some(step - 1)
        );
        assert_eq!(
            secret.verify(&secret.code_at_step(step + 1), now),
            Some(step + 1)
        );
        assert_eq!(secret.verify(&secret.code_at_step(step - 2), now), None);
        assert_eq!(secret.verify(&secret.code_at_step(step + 2), now), None);
        assert_eq!(secret.verify("12345", now), None);
        assert_eq!(secret.verify("abcdef", now), None);
    }

    #[test]
    fn base32_round_trip_and_uri() {
        let secret = TotpSecret::generate(&crate::random::OsRandom);
        let again = TotpSecret::from_base32(&secret.to_base32()).unwrap();
        assert_eq!(secret.to_base32(), again.to_base32());
        assert_eq!(secret.to_base32().len(), 32);
        let uri = secret.otpauth_uri("Rampart", "ada smith");
        assert!(
            uri.starts_with("otpauth://totp/Rampart:ada%20smith?secret="),
            "{uri}"
        );
        assert!(uri.contains("&issuer=Rampart"));
        assert!(!format!("{secret:?}").contains(&secret.to_base32()));
    }
}
