//! Users' SSH public keys for SFTP (SPEC R61): parsed and checked here
//! (OpenSSH one-line format; Ed25519 and ECDSA only — the agent's SSH stack
//! verifies no RSA, and RSA with SHA-1 is what we refuse anyway), stored
//! with their SHA-256 fingerprint, and matched blob for blob at login.

use rampart_core::{UnixTime, UserId};
use sha2::{Digest, Sha256};

use super::AuthError;
use crate::Services;
use crate::audit::{AuditNote, EventType, KeyFingerprint};
use crate::store::SshKeyRecord;

/// Most keys one user may register.
pub const MAX_KEYS_PER_USER: usize = 50;
const MAX_LINE: usize = 8192;

/// Key types accepted, with the curve an ECDSA key's blob must name.
const ACCEPTED: &[(&str, Option<&str>)] = &[
    ("ssh-ed25519", None),
    ("ecdsa-sha2-nistp256", Some("nistp256")),
    ("ecdsa-sha2-nistp384", Some("nistp384")),
    ("ecdsa-sha2-nistp521", Some("nistp521")),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshKeyError {
    #[error("not an OpenSSH public key line (\"ssh-ed25519 AAAA… comment\")")]
    Malformed,
    #[error(
        "key type {0} is not accepted: use ssh-ed25519 or ecdsa-sha2-nistp256/384/521 (ssh-keygen -t ed25519)"
    )]
    Type(String),
    #[error("name: 1 to 64 characters, no control characters")]
    BadName,
    #[error("this key is already registered")]
    Duplicate,
    #[error("at most {MAX_KEYS_PER_USER} keys per user")]
    TooMany,
}

/// A checked public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: String,
    /// The key as OpenSSH writes it, without the comment.
    pub openssh: String,
    /// `SHA256:` and the unpadded base64 of the blob's SHA-256, as
    /// `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

/// Reads one SSH wire-format string from `blob` at `at`.
fn wire_string<'a>(blob: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let len = blob.get(*at..*at + 4)?;
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let start = *at + 4;
    let s = blob.get(start..start.checked_add(len)?)?;
    *at = start + len;
    Some(s)
}

/// Parses `type base64 [comment]`; the blob must be well formed for its
/// type (the type named inside it equal to the outer one, the right key
/// length, nothing after the key).
pub fn parse_public_key(line: &str) -> Result<PublicKey, SshKeyError> {
    use base64::Engine as _;
    if line.len() > MAX_LINE || line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(SshKeyError::Malformed);
    }
    let mut parts = line.split_whitespace();
    let (Some(kind), Some(data)) = (parts.next(), parts.next()) else {
        return Err(SshKeyError::Malformed);
    };
    let Some((_, curve)) = ACCEPTED.iter().find(|(k, _)| *k == kind) else {
        return Err(if kind.starts_with("ssh-") || kind.contains("sha2") {
            SshKeyError::Type(kind.chars().take(40).collect())
        } else {
            SshKeyError::Malformed
        });
    };
    let blob = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| SshKeyError::Malformed)?;
    let mut at = 0;
    if wire_string(&blob, &mut at) != Some(kind.as_bytes()) {
        return Err(SshKeyError::Malformed);
    }
    let key_ok = match curve {
        None => wire_string(&blob, &mut at).is_some_and(|k| k.len() == 32),
        Some(curve) => {
            wire_string(&blob, &mut at) == Some(curve.as_bytes())
                && wire_string(&blob, &mut at).is_some_and(|q| q.first() == Some(&4))
        }
    };
    if !key_ok || at != blob.len() {
        return Err(SshKeyError::Malformed);
    }
    let digest = Sha256::digest(&blob);
    Ok(PublicKey {
        algorithm: kind.to_owned(),
        openssh: format!("{kind} {data}"),
        fingerprint: format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
        ),
    })
}

impl Services {
    /// Registers `line` as one of `user`'s SFTP keys. Audited.
    pub async fn add_ssh_key(
        &self,
        user: UserId,
        name: &str,
        line: &str,
    ) -> Result<Result<SshKeyRecord, SshKeyError>, AuthError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Ok(Err(SshKeyError::BadName));
        }
        let key = match parse_public_key(line) {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        };
        let existing = self.store.list_ssh_keys(user).await?;
        if existing.len() >= MAX_KEYS_PER_USER {
            return Ok(Err(SshKeyError::TooMany));
        }
        if existing.iter().any(|k| k.fingerprint == key.fingerprint) {
            return Ok(Err(SshKeyError::Duplicate));
        }
        let mut bytes = [0u8; 12];
        self.rng.fill(&mut bytes);
        let record = SshKeyRecord {
            id: format!("sk_{}", hex::encode(bytes)),
            user_id: user,
            name: name.to_owned(),
            algorithm: key.algorithm,
            fingerprint: key.fingerprint,
            public_key: key.openssh,
            created_at: UnixTime(self.clock.now().0),
            last_used_at: None,
        };
        self.store.add_ssh_key(&record).await?;
        let note = AuditNote::new(EventType::Security, "user.ssh_key.add")
            .target(format!("user:{}", user.0))
            .extra("fingerprint", &KeyFingerprint(record.fingerprint.clone()));
        let _ = self
            .record_event(&format!("user:{}", user.0), note, "success")
            .await;
        Ok(Ok(record))
    }

    /// Removes one of `user`'s keys; false when `user` has no such key.
    pub async fn delete_ssh_key(&self, user: UserId, id: &str) -> Result<bool, AuthError> {
        let removed = self.store.delete_ssh_key(user, id).await?;
        if let Some(key) = &removed {
            let note = AuditNote::new(EventType::Security, "user.ssh_key.delete")
                .target(format!("user:{}", user.0))
                .extra("fingerprint", &KeyFingerprint(key.fingerprint.clone()));
            let _ = self
                .record_event(&format!("user:{}", user.0), note, "success")
                .await;
        }
        Ok(removed.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `ssh-keygen -t ed25519` output and its `ssh-keygen -l` fingerprint.
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILsZDSg4x7yMeviUurC1DvGz6hywTdazk0QWWM8RRz4J olga@laptop";
    const ED25519_FP: &str = "SHA256:B46L5wMtEDBeadVMW0xK0o+rtzBQMMENF8w7m8hdNjw";
    const ECDSA: &str = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBD44V6Y97hq8s6a84sF74hXzJc9ZWPnNBdzbSySKuuVflcFuAuja24wEKlNrvuJLRlglId9/kiUVdNQXnzi8ZyRGdQjvuSEBMtI4jhvM0IPwEWgp4vCDZl7AcJRNr6p6Fg== x";
    const ECDSA_FP: &str = "SHA256:Gdbd+77pM5+LIpiyF+z1C3SKUC5x/UXGg3WVkWqYM8o";

    #[test]
    fn an_ed25519_key_is_read_with_its_openssh_fingerprint() {
        let k = parse_public_key(ED25519).unwrap();
        assert_eq!(k.algorithm, "ssh-ed25519");
        assert_eq!(k.fingerprint, ED25519_FP);
        assert!(!k.openssh.contains("olga@laptop"));
        let e = parse_public_key(ECDSA).unwrap();
        assert_eq!(
            (e.algorithm.as_str(), e.fingerprint.as_str()),
            ("ecdsa-sha2-nistp384", ECDSA_FP)
        );
    }

    #[test]
    fn malformed_and_refused_keys() {
        let rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 x";
        assert!(matches!(parse_public_key(rsa), Err(SshKeyError::Type(_))));
        assert!(matches!(
            parse_public_key("ssh-dss AAAA x"),
            Err(SshKeyError::Type(_))
        ));
        let (kind, rest) = ED25519.split_once(' ').unwrap();
        let data = rest.split(' ').next().unwrap();
        for bad in [
            String::new(),
            "ssh-ed25519".to_owned(),
            format!("{kind} not-base64!"),
            // The blob says ed25519, the line says ECDSA.
            format!("ecdsa-sha2-nistp256 {data}"),
            // Truncated key.
            format!("{kind} {}", &data[..data.len() - 8]),
            format!("{kind} {data}\nssh-ed25519 {data}"),
        ] {
            assert!(parse_public_key(&bad).is_err(), "{bad:?}");
        }
    }
}
