//! The audit log (SPEC R100–R103): what happened, who did it, from where,
//! with what result, in a hash chain that makes later edits evident.
//!
//! Records are written in one place, the audit layer in
//! `web::middleware::audit`, for every state-changing request, every failed
//! authorization and every authentication event; handlers only describe the
//! event ([`AuditNote`]) on their response. The chain (`hash = SHA-256(prev_hash
//! || canonical record)`) is computed by the store under a lock, and checked
//! by `rampart audit verify`.

mod extra;
mod service;

pub use extra::{AuditExtra, AuditValue, FilePath, KeyFingerprint};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The event types of SPEC R100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    #[serde(rename = "AUTH")]
    Auth,
    #[serde(rename = "AUTH_FAILED")]
    AuthFailed,
    #[serde(rename = "AUTHZ_DENIED")]
    AuthzDenied,
    #[serde(rename = "AUDIT")]
    Audit,
    #[serde(rename = "SECURITY")]
    Security,
    #[serde(rename = "ERROR")]
    Error,
    #[serde(rename = "SUSPICIOUS")]
    Suspicious,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::Auth,
        EventType::AuthFailed,
        EventType::AuthzDenied,
        EventType::Audit,
        EventType::Security,
        EventType::Error,
        EventType::Suspicious,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Auth => "AUTH",
            EventType::AuthFailed => "AUTH_FAILED",
            EventType::AuthzDenied => "AUTHZ_DENIED",
            EventType::Audit => "AUDIT",
            EventType::Security => "SECURITY",
            EventType::Error => "ERROR",
            EventType::Suspicious => "SUSPICIOUS",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// What a handler says about its request, attached to the response; the
/// audit layer adds who, when, where and the result.
#[derive(Debug, Clone)]
pub struct AuditNote {
    pub event_type: EventType,
    /// e.g. `user.deactivate`, `login`, `2fa.enable`.
    pub action: &'static str,
    /// e.g. `user:7`.
    pub target: Option<String>,
    pub extra: AuditExtra,
    /// Set when the acting user is not the session's (e.g. a login).
    pub actor: Option<String>,
}

impl AuditNote {
    pub fn new(event_type: EventType, action: &'static str) -> AuditNote {
        AuditNote {
            event_type,
            action,
            target: None,
            extra: AuditExtra::default(),
            actor: None,
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> AuditNote {
        self.target = Some(target.into());
        self
    }

    pub fn actor(mut self, actor: impl Into<String>) -> AuditNote {
        self.actor = Some(actor.into());
        self
    }

    pub fn extra(mut self, key: &'static str, value: &dyn AuditValue) -> AuditNote {
        self.extra = self.extra.with(key, value);
        self
    }
}

/// The hashed content of a record, in canonical field order.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditBody {
    pub at: i64,
    pub event_type: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub result: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// Canonical JSON (sorted keys) of the typed extra fields.
    pub extra: String,
}

/// A stored record.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(flatten)]
    pub body: AuditBody,
    pub prev_hash: String,
    pub hash: String,
}

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// `hex(SHA-256(prev_hash || canonical JSON of body))`.
pub fn chain_hash(prev_hash: &str, body: &AuditBody) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    // Serialising a struct of strings and integers cannot fail.
    h.update(serde_json::to_vec(body).unwrap_or_default());
    hex::encode(h.finalize())
}

/// Result of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub checked: u64,
    /// The first record whose link or content does not match.
    pub first_broken: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(action: &str) -> AuditBody {
        AuditBody {
            at: 1,
            event_type: "AUDIT".into(),
            actor: "user:1".into(),
            action: action.into(),
            target: None,
            result: "ok".into(),
            ip: None,
            user_agent: None,
            request_id: None,
            extra: "{}".into(),
        }
    }

    #[test]
    fn hash_depends_on_previous_hash_and_every_field() {
        let a = chain_hash(GENESIS_HASH, &body("x"));
        assert_eq!(a, chain_hash(GENESIS_HASH, &body("x")));
        assert_ne!(a, chain_hash(GENESIS_HASH, &body("y")));
        assert_ne!(a, chain_hash(&a, &body("x")));
        let mut other = body("x");
        other.ip = Some("127.0.0.1".into());
        assert_ne!(a, chain_hash(GENESIS_HASH, &other));
    }

    #[test]
    fn event_types_round_trip() {
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Some(e));
            assert_eq!(
                serde_json::to_string(&e).unwrap(),
                format!("\"{}\"", e.as_str())
            );
        }
    }
}
