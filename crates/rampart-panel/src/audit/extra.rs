//! Typed extra fields of an audit record. Only values of types that
//! implement [`AuditValue`] can be recorded, and every secret type records
//! as `"[redacted]"` by its type, not by searching strings.

use rampart_core::{
    Password, RecoveryCode, Role, RoleName, Scope, SecretToken, TotpSecret, UserId, Username,
};
use serde_json::{Map, Value};

/// A value that may appear in an audit record.
pub trait AuditValue {
    fn audit_value(&self) -> Value;
}

const REDACTED: &str = "[redacted]";

macro_rules! redacted {
    ($($t:ty),*) => {$(
        impl AuditValue for $t {
            fn audit_value(&self) -> Value {
                Value::String(REDACTED.into())
            }
        }
    )*};
}
redacted!(Password, SecretToken, TotpSecret, RecoveryCode);

macro_rules! displayed {
    ($($t:ty),*) => {$(
        impl AuditValue for $t {
            fn audit_value(&self) -> Value {
                Value::String(self.to_string())
            }
        }
    )*};
}
displayed!(Username, RoleName, Role, Scope);

/// An SSH key's SHA-256 fingerprint (computed by us from a checked key).
#[derive(Debug, Clone)]
pub struct KeyFingerprint(pub String);

impl AuditValue for KeyFingerprint {
    fn audit_value(&self) -> Value {
        Value::String(self.0.chars().take(64).collect())
    }
}

/// A path inside a server's files, as the caller gave it (cut at 512 bytes).
#[derive(Debug, Clone)]
pub struct FilePath(pub String);

impl AuditValue for FilePath {
    fn audit_value(&self) -> Value {
        let mut s = self.0.clone();
        let mut cut = s.len().min(512);
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        Value::String(s)
    }
}

impl AuditValue for UserId {
    fn audit_value(&self) -> Value {
        Value::from(self.0)
    }
}

impl AuditValue for rampart_core::ScopeSet {
    fn audit_value(&self) -> Value {
        Value::String(self.to_list())
    }
}

impl AuditValue for bool {
    fn audit_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl AuditValue for u64 {
    fn audit_value(&self) -> Value {
        Value::from(*self)
    }
}

impl AuditValue for i64 {
    fn audit_value(&self) -> Value {
        Value::from(*self)
    }
}

/// A fixed label chosen by our code (never user input).
impl AuditValue for &'static str {
    fn audit_value(&self) -> Value {
        Value::String((*self).to_owned())
    }
}

#[derive(Debug, Clone, Default)]
pub struct AuditExtra(Map<String, Value>);

impl AuditExtra {
    pub fn with(mut self, key: &'static str, value: &dyn AuditValue) -> AuditExtra {
        self.0.insert(key.to_owned(), value.audit_value());
        self
    }

    /// Canonical JSON: keys sorted (serde_json's default map), no spaces.
    pub fn to_canonical(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::random::OsRandom;

    #[test]
    fn secrets_are_redacted_by_type() {
        let pw = Password::parse_new("correct horse battery staple", "ada").unwrap();
        let token = SecretToken::generate(&OsRandom);
        let totp = TotpSecret::generate(&OsRandom);
        let extra = AuditExtra::default()
            .with("password", &pw)
            .with("token", &token)
            .with("totp", &totp)
            .with("user", &UserId(3));
        let json = extra.to_canonical();
        assert!(
            !json.contains("horse")
                && !json.contains(token.expose())
                && !json.contains(&totp.to_base32())
        );
        assert_eq!(
            json,
            r#"{"password":"[redacted]","token":"[redacted]","totp":"[redacted]","user":3}"#
        );
    }
}
