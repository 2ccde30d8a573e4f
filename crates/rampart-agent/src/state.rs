//! The agent's identity on disk: `agent.json` in its data directory, mode
//! 0600, holding the panel URL, the node id and the credential.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::AgentError;

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentState {
    pub panel_url: String,
    pub node_id: String,
    pub credential: String,
    /// SHA-256 of the panel's agent certificate (for https:// panels).
    #[serde(default)]
    pub panel_fingerprint: Option<String>,
}

impl std::fmt::Debug for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentState")
            .field("panel_url", &self.panel_url)
            .field("node_id", &self.node_id)
            .field("credential", &"***")
            .field("panel_fingerprint", &self.panel_fingerprint)
            .finish()
    }
}

fn file(data_dir: &Path) -> PathBuf {
    data_dir.join("agent.json")
}

impl AgentState {
    pub fn load(data_dir: &Path) -> Result<Option<AgentState>, AgentError> {
        match std::fs::read_to_string(file(data_dir)) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| AgentError::State(format!("{}: {e}", file(data_dir).display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AgentError::State(format!(
                "{}: {e}",
                file(data_dir).display()
            ))),
        }
    }

    /// Writes the state with mode 0600 (atomically: temp file, then rename).
    pub fn save(&self, data_dir: &Path) -> Result<(), AgentError> {
        let err = |e: std::io::Error| AgentError::State(format!("{}: {e}", data_dir.display()));
        std::fs::create_dir_all(data_dir).map_err(err)?;
        let tmp = data_dir.join("agent.json.tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        let text =
            serde_json::to_string_pretty(self).map_err(|e| AgentError::State(e.to_string()))?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, file(data_dir)).map_err(err)?;
        Ok(())
    }
}

#[derive(Deserialize)]
struct EnrollAnswer {
    node_id: String,
    credential: String,
}

/// Exchanges a one-time enrollment token for this node's credential and
/// saves it in `data_dir`.
pub async fn enroll(
    panel_url: &str,
    token: &str,
    data_dir: &Path,
) -> Result<AgentState, AgentError> {
    crate::ensure_crypto_provider();
    let token = token.trim();
    let fingerprint = token
        .strip_prefix("rn1.")
        .and_then(|r| r.split('.').nth(1))
        .map(str::to_owned);
    let base = panel_url.trim_end_matches('/');
    let client = if base.starts_with("https://") {
        let fp = fingerprint.as_deref().ok_or_else(|| {
            AgentError::EnrollRefused(
                "this token carries no certificate fingerprint; create the node on a panel with --agent-listen".into(),
            )
        })?;
        let config = crate::link::pinned::client_config(fp)?;
        reqwest::Client::builder()
            .tls_backend_preconfigured((*config).clone())
            .build()
            .map_err(|e| AgentError::Panel(e.to_string()))?
    } else if base.starts_with("http://") {
        reqwest::Client::new()
    } else {
        return Err(AgentError::Url(format!(
            "{base}: expected http:// or https://"
        )));
    };
    let url = format!("{base}/agent/enroll");
    let res = client
        .post(&url)
        .json(&serde_json::json!({ "token": token }))
        .send()
        .await
        .map_err(|e| AgentError::Panel(error_chain(&e)))?;
    let status = res.status();
    let body = res
        .text()
        .await
        .map_err(|e| AgentError::Panel(e.to_string()))?;
    if !status.is_success() {
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(AgentError::EnrollRefused(message));
    }
    let answer: EnrollAnswer =
        serde_json::from_str(&body).map_err(|e| AgentError::Panel(e.to_string()))?;
    let state = AgentState {
        panel_url: panel_url.trim_end_matches('/').to_owned(),
        node_id: answer.node_id,
        credential: answer.credential,
        panel_fingerprint: fingerprint.filter(|_| base.starts_with("https://")),
    };
    state.save(data_dir)?;
    Ok(state)
}

/// `error: cause: cause…` (reqwest hides TLS failures in the chain).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn saves_with_mode_0600_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        assert!(AgentState::load(dir.path()).unwrap().is_none());
        let s = AgentState {
            panel_url: "http://127.0.0.1:8080".into(),
            node_id: "nd_000000000000000000000000".into(),
            credential: "c".repeat(64),
            panel_fingerprint: None,
        };
        s.save(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join("agent.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let back = AgentState::load(dir.path()).unwrap().unwrap();
        assert_eq!(back.node_id, s.node_id);
        assert!(!format!("{back:?}").contains(&s.credential));
    }
}
