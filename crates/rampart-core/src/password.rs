//! The password policy (SPEC R10) for new passwords. Presented passwords (at
//! login) are never parsed: they are only verified against a stored hash.
//!
//! Defaults follow NIST SP 800-63B / OWASP ASVS: 12–128 characters, counted,
//! never truncated; not containing the username; no character repeated more
//! than 3 times in a row; not one of the 30,000 most common passwords. No
//! character-class rules unless an admin turns them on (discouraged: they
//! push users to predictable patterns).

use std::collections::HashSet;
use std::sync::LazyLock;

static COMMON_FILE: &str = include_str!("../data/common-passwords.txt");

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    COMMON_FILE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect()
});

/// How many entries the bundled common-password list holds.
pub fn common_list_len() -> usize {
    COMMON.len()
}

#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("password must be at least {0} characters long")]
    TooShort(usize),
    #[error("password must be at most {0} characters long")]
    TooLong(usize),
    #[error("password must not contain the username")]
    ContainsUsername,
    #[error("password must not contain control characters")]
    ControlCharacter,
    #[error("password must not repeat a character more than {0} times in a row")]
    Repetition(usize),
    #[error("password is too common: it appears in lists of leaked passwords")]
    Common,
    #[error("password must contain at least 3 of: lower-case, upper-case, digit, symbol")]
    CharacterClasses,
}

/// The configurable policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_chars: usize,
    pub max_chars: usize,
    pub max_repeat: usize,
    pub reject_common: bool,
    /// Discouraged; off by default.
    pub require_character_classes: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_chars: 12,
            max_chars: 128,
            max_repeat: 3,
            reject_common: true,
            require_character_classes: false,
        }
    }
}

fn longest_run(s: &str) -> usize {
    let (mut best, mut run, mut prev) = (0, 0, None);
    for c in s.chars() {
        run = if Some(c) == prev { run + 1 } else { 1 };
        prev = Some(c);
        best = best.max(run);
    }
    best
}

fn class_count(s: &str) -> usize {
    let lower = s.chars().any(char::is_lowercase);
    let upper = s.chars().any(char::is_uppercase);
    let digit = s.chars().any(|c| c.is_ascii_digit());
    let symbol = s.chars().any(|c| !c.is_alphanumeric());
    [lower, upper, digit, symbol]
        .into_iter()
        .filter(|b| *b)
        .count()
}

impl PasswordPolicy {
    /// Checks a new password for `username`; the first rule it breaks.
    pub fn check(&self, candidate: &str, username: &str) -> Result<Password, PasswordError> {
        let chars = candidate.chars().count();
        if chars < self.min_chars {
            return Err(PasswordError::TooShort(self.min_chars));
        }
        if chars > self.max_chars {
            return Err(PasswordError::TooLong(self.max_chars));
        }
        if candidate.chars().any(char::is_control) {
            return Err(PasswordError::ControlCharacter);
        }
        let lower = candidate.to_lowercase();
        if !username.is_empty() && lower.contains(&username.to_lowercase()) {
            return Err(PasswordError::ContainsUsername);
        }
        if longest_run(candidate) > self.max_repeat {
            return Err(PasswordError::Repetition(self.max_repeat));
        }
        if self.reject_common && COMMON.contains(lower.as_str()) {
            return Err(PasswordError::Common);
        }
        if self.require_character_classes && class_count(candidate) < 3 {
            return Err(PasswordError::CharacterClasses);
        }
        Ok(Password(candidate.to_owned()))
    }
}

impl Password {
    /// Checks a new password against the default policy.
    pub fn parse_new(candidate: &str, username: &str) -> Result<Password, PasswordError> {
        PasswordPolicy::default().check(candidate, username)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds_count_characters_not_bytes() {
        assert_eq!(
            Password::parse_new("short", "ada").err(),
            Some(PasswordError::TooShort(12))
        );
        assert!(Password::parse_new("ééééééééééé", "ada").is_err()); // 11 chars, 22 bytes
        assert!(Password::parse_new("éèéèéèéèéèéè", "ada").is_ok()); // 12 chars
        assert!(Password::parse_new(&"xy".repeat(64), "ada").is_ok());
        assert_eq!(
            Password::parse_new(&"xy".repeat(65), "ada").err(),
            Some(PasswordError::TooLong(128))
        );
    }

    #[test]
    fn refuses_username_inside_and_control_chars() {
        assert_eq!(
            Password::parse_new("my-ADA-password-1", "ada").err(),
            Some(PasswordError::ContainsUsername)
        );
        assert_eq!(
            Password::parse_new("correct horse\nbattery", "ada").err(),
            Some(PasswordError::ControlCharacter)
        );
    }

    #[test]
    fn refuses_more_than_three_repeats() {
        assert!(Password::parse_new("correct hooorse battery", "ada").is_ok());
        assert_eq!(
            Password::parse_new("correct hoooorse battery", "ada").err(),
            Some(PasswordError::Repetition(3))
        );
    }

    #[test]
    fn refuses_common_passwords_case_insensitively() {
        assert!(common_list_len() >= 10_000, "{}", common_list_len());
        for common in ["1qaz2wsx3edc", "qazwsxedcrfv", "QWERTY123456"] {
            assert!(
                COMMON.contains(common.to_lowercase().as_str()),
                "{common} should be in the list"
            );
            assert_eq!(
                Password::parse_new(common, "ada").err(),
                Some(PasswordError::Common),
                "{common}"
            );
        }
        let off = PasswordPolicy {
            reject_common: false,
            ..PasswordPolicy::default()
        };
        assert!(off.check("1qaz2wsx3edc", "ada").is_ok());
    }

    #[test]
    fn character_classes_only_when_enabled() {
        assert!(Password::parse_new("all lower case words", "ada").is_ok());
        let strict = PasswordPolicy {
            require_character_classes: true,
            ..PasswordPolicy::default()
        };
        assert_eq!(
            strict.check("all lower case words", "ada").err(),
            Some(PasswordError::CharacterClasses)
        );
        assert!(strict.check("All lower case words", "ada").is_ok()); // lower, upper, symbol (space)
    }

    #[test]
    fn debug_hides_value() {
        let p = Password::parse_new("correct horse battery", "ada").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
