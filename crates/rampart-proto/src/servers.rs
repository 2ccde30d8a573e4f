//! Server messages: what the panel asks an agent to run, and the events an
//! agent pushes about its servers (state, console output, resource use).
//! The agent re-validates everything it receives: ids, environment names,
//! and that no argv element, environment value or input line holds a
//! control character.

use serde::{Deserialize, Serialize};

use crate::ProtoError;

/// Longest console input line.
pub const MAX_INPUT_LINE: usize = 1024;
/// Longest argv element / environment value.
const MAX_ARG: usize = 4096;

/// Everything an agent needs to create a server's container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    pub server_id: String,
    /// The owner's id: servers of one owner share one Docker network.
    pub owner: String,
    pub image: String,
    /// The startup command as argv (rendered by the panel; never run by a shell).
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub limits: ServerLimits,
    /// Host ports allocated to the server, published on the same container ports.
    pub ports: Vec<u16>,
    /// Capabilities from the agent's short allowlist the template needs.
    pub capabilities: Vec<String>,
    /// Whether the template runs with a read-only root file system.
    pub read_only_root: bool,
    pub stop: StopSpec,
    /// Runs once, in a separate and equally confined container, before the
    /// first start.
    pub install: Option<InstallSpec>,
    /// Credentials for pulling the images, when their registry needs them.
    #[serde(default)]
    pub registry: Option<RegistryAuth>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerLimits {
    pub memory_mb: u64,
    pub cpu_percent: u32,
    pub pids: i64,
    pub disk_mb: u64,
    pub io_weight: u16,
    pub swap_allowed: bool,
}

/// How to stop a server: its stop command on stdin (if any), then SIGTERM,
/// then SIGKILL, each after `timeout_secs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopSpec {
    pub command: Option<String>,
    pub timeout_secs: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallSpec {
    pub image: String,
    /// The script runs as `<interpreter> -c <script>`; values reach it as
    /// environment variables only, never spliced into its text.
    pub interpreter: String,
    pub script: String,
    /// Config files (relative path in the volume, rendered text) written
    /// by the install container before the script runs.
    #[serde(default)]
    pub files: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerSignal {
    Start,
    Stop,
    Restart,
    Kill,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub name: String,
    /// file, dir, symlink or other.
    pub kind: String,
    pub size: u64,
    pub mode: u32,
    /// Unix seconds.
    pub modified: i64,
}

/// One server as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerStatus {
    pub server_id: String,
    pub running: bool,
}

/// Something that happened to a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerEvent {
    /// The container started or stopped (exit code when it stopped).
    State {
        server_id: String,
        running: bool,
        exit_code: Option<i64>,
    },
    /// Output lines; `dropped` lines were left out because the server
    /// printed faster than the link carries.
    Console {
        server_id: String,
        lines: Vec<String>,
        dropped: u64,
    },
    Stats {
        server_id: String,
        stats: ServerStats,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServerStats {
    /// Percent of one core.
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub memory_limit_bytes: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Bytes the server's volume occupies (refreshed about once a minute).
    #[serde(default)]
    pub disk_bytes: u64,
}

fn no_control(field: &'static str, s: &str, max: usize) -> Result<(), ProtoError> {
    if s.len() > max {
        return Err(ProtoError::FieldTooLong(field));
    }
    if s.chars().any(char::is_control) {
        return Err(ProtoError::Malformed(format!(
            "{field} holds a control character"
        )));
    }
    Ok(())
}

/// `sv_` + 16 lowercase hex digits.
pub fn check_server_id(id: &str) -> Result<(), ProtoError> {
    let ok = id.strip_prefix("sv_").is_some_and(|h| {
        h.len() == 16
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(ProtoError::Malformed("server_id".into()))
    }
}

/// A Docker image reference: registry/name:tag@digest characters only.
pub fn check_image(image: &str) -> Result<(), ProtoError> {
    let ok = !image.is_empty()
        && image.len() <= 255
        && !image.starts_with(['-', '.', '/'])
        && image
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ProtoError::Malformed("image".into()))
    }
}

/// A path inside a server's volume: relative, no `..` or `.` or empty
/// component, of letters, digits, `.`, `_`, `-` and `/`, at most 255 bytes.
pub fn is_volume_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 255
        && !path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

pub fn check_input_line(line: &str) -> Result<(), ProtoError> {
    no_control("line", line, MAX_INPUT_LINE)
}

impl ServerSpec {
    pub fn validate(&self) -> Result<(), ProtoError> {
        check_server_id(&self.server_id)?;
        no_control("owner", &self.owner, 64)?;
        if !self.owner.bytes().all(|b| b.is_ascii_alphanumeric()) || self.owner.is_empty() {
            return Err(ProtoError::Malformed("owner".into()));
        }
        check_image(&self.image)?;
        if self.argv.is_empty() || self.argv.len() > 256 {
            return Err(ProtoError::Malformed("argv".into()));
        }
        for a in &self.argv {
            no_control("argv", a, MAX_ARG)?;
        }
        if self.env.len() > 128 {
            return Err(ProtoError::FieldTooLong("env"));
        }
        for (k, v) in &self.env {
            let name_ok = !k.is_empty()
                && k.len() <= 64
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !k.starts_with(|c: char| c.is_ascii_digit());
            if !name_ok {
                return Err(ProtoError::Malformed("env name".into()));
            }
            no_control("env", v, MAX_ARG)?;
        }
        if self.ports.len() > 64 || self.capabilities.len() > 16 {
            return Err(ProtoError::FieldTooLong("ports"));
        }
        for c in &self.capabilities {
            no_control("capabilities", c, 32)?;
        }
        if let Some(c) = &self.stop.command {
            no_control("stop.command", c, MAX_INPUT_LINE)?;
        }
        if let Some(r) = &self.registry {
            no_control("registry.username", &r.username, 256)?;
            no_control("registry.password", &r.password, 1024)?;
        }
        if let Some(i) = &self.install {
            check_image(&i.image)?;
            no_control("install.interpreter", &i.interpreter, 64)?;
            if i.script.len() > 64 * 1024 || i.script.contains('\0') {
                return Err(ProtoError::Malformed("install.script".into()));
            }
            if i.files.len() > 16 {
                return Err(ProtoError::FieldTooLong("install.files"));
            }
            for (path, content) in &i.files {
                if !is_volume_path(path) || content.len() > 64 * 1024 || content.contains('\0') {
                    return Err(ProtoError::Malformed("install.files".into()));
                }
            }
        }
        Ok(())
    }
}

impl ServerEvent {
    pub(crate) fn validate(&self) -> Result<(), ProtoError> {
        match self {
            ServerEvent::State { server_id, .. } | ServerEvent::Stats { server_id, .. } => {
                check_server_id(server_id)
            }
            ServerEvent::Console {
                server_id, lines, ..
            } => {
                check_server_id(server_id)?;
                // Output is shown, never executed; the panel escapes it.
                if lines.len() > 100_000 {
                    return Err(ProtoError::FieldTooLong("lines"));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_paths() {
        for ok in ["server.properties", "config/app.yml", "a-b_c.d"] {
            assert!(is_volume_path(ok), "{ok}");
        }
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "",
            "a b",
            "x\n",
            "./x",
            "a/.",
        ] {
            assert!(!is_volume_path(bad), "{bad:?}");
        }
    }
}
