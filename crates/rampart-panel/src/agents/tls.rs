//! The agent endpoint's certificate: self-signed (rcgen), made on first start
//! and kept in `<data dir>/agent-tls/`. Agents do not check it against any
//! CA; they pin its SHA-256 fingerprint, which travels inside the one-time
//! enrollment token (as `kubeadm join --discovery-token-ca-cert-hash` does).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The certificate and key (DER) and the fingerprint agents pin.
pub struct AgentCertificate {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
    /// Lower-case hex SHA-256 of the certificate DER.
    pub fingerprint: String,
}

impl std::fmt::Debug for AgentCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentCertificate")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate files in {0}: {1}")]
    Io(String, std::io::Error),
    #[error("certificate generation failed: {0}")]
    Generate(String),
    #[error("stored certificate is unreadable: {0}")]
    Parse(String),
}

/// Lower-case hex SHA-256 of a certificate DER (what agents pin).
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// PEM body (between the armour lines) decoded from base64.
fn pem_der(text: &str) -> Option<Vec<u8>> {
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    const ALPHA: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in b64.trim_end_matches('=').bytes() {
        let v = ALPHA.iter().position(|&a| a == c)? as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((buf >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// Loads the certificate from `dir`, or makes and stores one for `names`.
pub fn load_or_create(dir: &Path, names: &[String]) -> Result<AgentCertificate, CertError> {
    let io = |e| CertError::Io(dir.display().to_string(), e);
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if cert_path.exists() && key_path.exists() {
        let cert = std::fs::read_to_string(&cert_path).map_err(io)?;
        let key = std::fs::read_to_string(&key_path).map_err(io)?;
        let cert_der = pem_der(&cert).ok_or_else(|| CertError::Parse("cert.pem".into()))?;
        let key_der = pem_der(&key).ok_or_else(|| CertError::Parse("key.pem".into()))?;
        return Ok(AgentCertificate {
            fingerprint: fingerprint(&cert_der),
            cert_der,
            key_der,
        });
    }
    let mut all = vec!["rampart-agent-link".to_owned()];
    all.extend(names.iter().cloned());
    let certified =
        rcgen::generate_simple_self_signed(all).map_err(|e| CertError::Generate(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(io)?;
    let write = |path: &Path, text: &str, mode: u32| -> Result<(), CertError> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(path)
            .map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)
    };
    write(&key_path, &certified.signing_key.serialize_pem(), 0o600)?;
    write(&cert_path, &certified.cert.pem(), 0o644)?;
    let cert_der = certified.cert.der().to_vec();
    Ok(AgentCertificate {
        fingerprint: fingerprint(&cert_der),
        key_der: certified.signing_key.serialize_der(),
        cert_der,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn made_once_then_reloaded_with_the_same_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path(), &["panel.example".into()]).unwrap();
        assert_eq!(first.fingerprint.len(), 64);
        let again = load_or_create(dir.path(), &[]).unwrap();
        assert_eq!(first.fingerprint, again.fingerprint);
        assert_eq!(first.key_der, again.key_der);
        let mode = std::fs::metadata(dir.path().join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
