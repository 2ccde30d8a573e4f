//! Validated usernames ("parse, don't validate").
//!
//! 3–32 characters from `a-z 0-9 _ -`, starting with a letter. No dot: SFTP
//! logins are `<username>.<server id>`, so a dot would make them ambiguous.

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsernameError {
    #[error("username must be 3 to 32 characters long")]
    Length,
    #[error("username must start with a lower-case letter")]
    Start,
    #[error("username may contain only a-z, 0-9, '_' and '-'")]
    Charset,
}

impl Username {
    pub const MIN: usize = 3;
    pub const MAX: usize = 32;

    pub fn parse(s: &str) -> Result<Username, UsernameError> {
        if s.len() < Self::MIN || s.len() > Self::MAX {
            return Err(UsernameError::Length);
        }
        if !s.as_bytes()[0].is_ascii_lowercase() {
            return Err(UsernameError::Start);
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(UsernameError::Charset);
        }
        Ok(Username(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names() {
        for ok in [
            "ada",
            "ada-lovelace",
            "a_1",
            "abcdefghijklmnopqrstuvwxyz012345",
        ] {
            assert_eq!(
                Username::parse(ok).map(|u| u.to_string()),
                Ok(ok.to_owned())
            );
        }
    }

    #[test]
    fn refuses_bad_names() {
        assert_eq!(Username::parse("ab"), Err(UsernameError::Length));
        assert_eq!(Username::parse(&"a".repeat(33)), Err(UsernameError::Length));
        assert_eq!(Username::parse("1abc"), Err(UsernameError::Start));
        assert_eq!(Username::parse("Admin"), Err(UsernameError::Start));
        for bad in ["ad.min", "ad min", "adm\nin", "adm\0in", "admín", "a/../b"] {
            assert!(Username::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
