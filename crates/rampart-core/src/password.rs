//! A new password that passed the policy. Presented passwords (at login) are
//! never parsed: they are only verified against a stored hash.
//!
//! This is the length part of SPEC R10 (12–128 characters, never truncated,
//! not containing the username); the rest of the policy builds on it.

#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("password must be at least 12 characters long")]
    TooShort,
    #[error("password must be at most 128 characters long")]
    TooLong,
    #[error("password must not contain the username")]
    ContainsUsername,
    #[error("password must not contain control characters")]
    ControlCharacter,
}

impl Password {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 128;

    /// Checks a new password for `username` against the policy.
    pub fn parse_new(candidate: &str, username: &str) -> Result<Password, PasswordError> {
        let chars = candidate.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > Self::MAX_CHARS {
            return Err(PasswordError::TooLong);
        }
        if candidate.chars().any(char::is_control) {
            return Err(PasswordError::ControlCharacter);
        }
        if !username.is_empty() && candidate.to_lowercase().contains(&username.to_lowercase()) {
            return Err(PasswordError::ContainsUsername);
        }
        Ok(Password(candidate.to_owned()))
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
            Some(PasswordError::TooShort)
        );
        assert!(Password::parse_new("ééééééééééé", "ada").is_err()); // 11 chars, 22 bytes
        assert!(Password::parse_new("éééééééééééé", "ada").is_ok()); // 12 chars
        assert!(Password::parse_new(&"x".repeat(128), "ada").is_ok());
        assert_eq!(
            Password::parse_new(&"x".repeat(129), "ada").err(),
            Some(PasswordError::TooLong)
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
    fn debug_hides_value() {
        let p = Password::parse_new("correct horse battery", "ada").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
