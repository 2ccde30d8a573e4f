//! The panel⇄agent protocol (DESIGN "The link").
//!
//! One WebSocket per agent, opened by the agent. Every frame is one JSON
//! text message of at most [`MAX_FRAME_BYTES`]; anything else — binary
//! frames, oversized or malformed JSON, unknown message types or fields —
//! is a protocol error and closes the link. The first agent message must be
//! [`AgentMessage::Hello`] with this [`PROTOCOL_VERSION`]; the panel answers
//! [`PanelMessage::Welcome`]. Then the agent sends heartbeats with node
//! stats, answers requests by id, and the panel may ping.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

pub mod files;
pub mod servers;
pub use files::{
    Direction, FileErrorCode, FileFailure, FileOp, TRANSFER_CHUNK, TransferEnd, UPLOAD_END,
};
pub use servers::{
    FileEntry, InstallSpec, PowerSignal, RegistryAuth, ServerEvent, ServerLimits, ServerSpec,
    ServerStats, ServerStatus, StopSpec,
};

/// Version of this protocol; a hello with another one is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame either side accepts. Larger transfers are chunked.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// Longest string field accepted in node facts (names, versions).
const MAX_TEXT: usize = 256;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtoError {
    #[error("frame of {0} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("field {0} is too long")]
    FieldTooLong(&'static str),
}

/// What the agent sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AgentMessage {
    /// First message on a link.
    Hello {
        protocol: u32,
        node_id: String,
        agent_version: String,
        /// e.g. `read_only`.
        capabilities: Vec<String>,
        /// The SFTP server's host key fingerprint (`SHA256:…`), when it runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sftp_host_key: Option<String>,
    },
    /// Every `heartbeat_secs`, with fresh node facts.
    Heartbeat {
        stats: NodeStats,
    },
    /// The answer to a [`PanelMessage::Request`] with the same id.
    Response {
        id: u64,
        result: CommandResult,
    },
    Pong {
        nonce: u64,
    },
    /// The rotated credential is saved; the agent uses it from now on.
    Rotated,
    /// Things that happened to servers, batched (console output, state, stats).
    Events {
        events: Vec<ServerEvent>,
    },
    /// An SFTP client logs in as `<panel user>.<server id without sv_>`;
    /// the panel checks the password (with its login limits) and the
    /// user's access to the server, and answers [`PanelMessage::SftpAnswer`].
    SftpLogin {
        id: u64,
        username: String,
        password: String,
        ip: String,
    },
    /// An SFTP login with a public key whose signature the agent verified
    /// (`public_key` in OpenSSH form, `type base64`): the panel checks that
    /// the user registered it and the access, and answers
    /// [`PanelMessage::SftpAnswer`].
    SftpKeyLogin {
        id: u64,
        username: String,
        public_key: String,
        ip: String,
    },
    /// Something an SFTP session changed, for the panel's audit log (no
    /// answer). `path` is as the client named it; `to` for a rename.
    SftpEvent {
        user_id: i64,
        server_id: String,
        action: SftpAction,
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        ip: String,
    },
    /// Does an SFTP session's access still hold? (asked again at most every
    /// few seconds, and after every [`PanelMessage::AccessChanged`]).
    SftpCheck {
        id: u64,
        user_id: i64,
        server_id: String,
        stamp: String,
    },
}

/// A change made over SFTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SftpAction {
    /// A file opened for writing was closed.
    Write,
    Delete,
    Rename,
    Mkdir,
    Rmdir,
    Chmod,
}

impl SftpAction {
    /// The audit action.
    pub fn audit_action(self) -> &'static str {
        match self {
            SftpAction::Write => "sftp.write",
            SftpAction::Delete => "sftp.delete",
            SftpAction::Rename => "sftp.rename",
            SftpAction::Mkdir => "sftp.mkdir",
            SftpAction::Rmdir => "sftp.rmdir",
            SftpAction::Chmod => "sftp.chmod",
        }
    }
}

/// What an SFTP session may do, as the panel decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftpAccess {
    pub user_id: i64,
    pub server_id: String,
    /// `server.files.edit` (view is implied: without it there is no access).
    pub can_edit: bool,
    /// The server's disk limit (0: none).
    pub quota_bytes: u64,
    /// Changes when the user's password does: a session started with an
    /// older stamp ends.
    pub stamp: String,
}

/// What the panel sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PanelMessage {
    Welcome {
        protocol: u32,
        heartbeat_secs: u32,
    },
    /// A command for the node `node_id` (the agent refuses other nodes' commands).
    Request {
        id: u64,
        node_id: String,
        command: Command,
    },
    Ping {
        nonce: u64,
    },
    /// A new credential for the agent (the old one works a while longer).
    Rotate {
        credential: String,
    },
    /// The answer to an SFTP login or check; `None`: no access.
    SftpAnswer {
        id: u64,
        access: Option<SftpAccess>,
    },
    /// Users, grants or servers changed: SFTP sessions check again now.
    AccessChanged,
}

/// Commands the panel can ask of an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Report node facts now (read-only).
    Describe,
    /// List the node's servers and whether each runs (read-only).
    Inventory,
    /// Create the server's network, volume and container (running its
    /// install script first, when it has one). Recreates the container if
    /// it exists (reinstall keeps the volume unless `wipe`).
    CreateServer { server: Box<ServerSpec>, wipe: bool },
    Power {
        server_id: String,
        signal: PowerSignal,
        stop: StopSpec,
    },
    /// Send one line to the server's stdin.
    Input { server_id: String, line: String },
    /// Remove the container and the server's volume.
    DeleteServer { server_id: String },
    /// List a directory of the server's volume (read-only).
    ListFiles { server_id: String, path: String },
    /// An operation on the server's files. `quota_bytes` is the server's
    /// disk limit (0: none); writes past it fail and leave nothing behind.
    Files {
        server_id: String,
        quota_bytes: u64,
        op: FileOp,
    },
    /// Open a file for a transfer socket (see [`files`]); the agent answers
    /// [`CommandResult::Opened`] and dials `/agent/transfer` with `ticket`.
    Transfer {
        server_id: String,
        path: String,
        direction: Direction,
        ticket: String,
        quota_bytes: u64,
    },
}

impl Command {
    /// Whether the command changes anything on the node (refused by read-only agents).
    pub fn is_mutating(&self) -> bool {
        match self {
            Command::Describe | Command::Inventory | Command::ListFiles { .. } => false,
            Command::Files { op, .. } => op.is_mutating(),
            Command::Transfer { direction, .. } => *direction != Direction::Read,
            Command::CreateServer { .. }
            | Command::Power { .. }
            | Command::Input { .. }
            | Command::DeleteServer { .. } => true,
        }
    }

    fn validate(&self) -> Result<(), ProtoError> {
        match self {
            Command::Describe | Command::Inventory => Ok(()),
            Command::CreateServer { server, .. } => server.validate(),
            Command::Power {
                server_id, stop, ..
            } => {
                servers::check_server_id(server_id)?;
                match &stop.command {
                    Some(c) => servers::check_input_line(c),
                    None => Ok(()),
                }
            }
            Command::Input { server_id, line } => {
                servers::check_server_id(server_id)?;
                servers::check_input_line(line)
            }
            Command::DeleteServer { server_id } => servers::check_server_id(server_id),
            Command::ListFiles { server_id, path } => {
                servers::check_server_id(server_id)?;
                files::check_path(path)
            }
            Command::Files { server_id, op, .. } => {
                servers::check_server_id(server_id)?;
                op.validate()
            }
            Command::Transfer {
                server_id,
                path,
                ticket,
                ..
            } => {
                servers::check_server_id(server_id)?;
                files::check_path(path)?;
                files::check_ticket(ticket)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum CommandResult {
    Described {
        stats: NodeStats,
    },
    Done,
    Inventory {
        servers: Vec<ServerStatus>,
    },
    Files {
        items: Vec<FileEntry>,
    },
    /// A transfer's file is open; `size` is its size now.
    Opened {
        size: u64,
    },
    /// A file operation failed for the reason given.
    FileFailed {
        error: FileFailure,
    },
    Refused {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

/// Facts about a node, sent with every heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NodeStats {
    pub os: String,
    pub kernel: String,
    pub cpu_count: u32,
    /// Load average over one minute.
    pub load_1m: f64,
    pub memory_total_bytes: u64,
    pub memory_available_bytes: u64,
    pub disk_total_bytes: u64,
    pub disk_free_bytes: u64,
    pub docker: DockerStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DockerStatus {
    pub available: bool,
    pub version: Option<String>,
    /// Why Docker is unavailable, when it is.
    pub reason: Option<String>,
}

fn check_len(field: &'static str, s: &str) -> Result<(), ProtoError> {
    if s.len() > MAX_TEXT {
        Err(ProtoError::FieldTooLong(field))
    } else {
        Ok(())
    }
}

impl NodeStats {
    fn validate(&self) -> Result<(), ProtoError> {
        check_len("os", &self.os)?;
        check_len("kernel", &self.kernel)?;
        if let Some(v) = &self.docker.version {
            check_len("docker.version", v)?;
        }
        if let Some(r) = &self.docker.reason {
            check_len("docker.reason", r)?;
        }
        if !self.load_1m.is_finite() || self.load_1m < 0.0 {
            return Err(ProtoError::Malformed("load_1m".into()));
        }
        Ok(())
    }
}

fn decode<T: for<'de> Deserialize<'de>>(frame: &str) -> Result<T, ProtoError> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(ProtoError::TooLarge(frame.len()));
    }
    serde_json::from_str(frame)
        .map_err(|e| ProtoError::Malformed(e.to_string().chars().take(200).collect()))
}

/// Decodes and validates one agent frame.
pub fn decode_agent(frame: &str) -> Result<AgentMessage, ProtoError> {
    let msg: AgentMessage = decode(frame)?;
    match &msg {
        AgentMessage::Hello {
            node_id,
            agent_version,
            capabilities,
            sftp_host_key,
            ..
        } => {
            check_len("node_id", node_id)?;
            check_len("agent_version", agent_version)?;
            if sftp_host_key.as_ref().is_some_and(|k| {
                k.len() > 128
                    || !k
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+/=:".contains(&b))
            }) {
                return Err(ProtoError::Malformed("sftp_host_key".into()));
            }
            if capabilities.len() > 32 {
                return Err(ProtoError::FieldTooLong("capabilities"));
            }
            for c in capabilities {
                check_len("capabilities", c)?;
            }
        }
        AgentMessage::Heartbeat { stats } => stats.validate()?,
        AgentMessage::Response { result, .. } => match result {
            CommandResult::Described { stats } => stats.validate()?,
            CommandResult::Refused { reason } | CommandResult::Failed { reason } => {
                check_len("reason", reason)?
            }
            CommandResult::Done | CommandResult::Opened { .. } => {}
            CommandResult::FileFailed { error } => check_len("message", &error.message)?,
            CommandResult::Files { items } => {
                if items.len() > 100_000 {
                    return Err(ProtoError::FieldTooLong("items"));
                }
            }
            CommandResult::Inventory { servers } => {
                for s in servers {
                    servers::check_server_id(&s.server_id)?;
                }
            }
        },
        AgentMessage::Events { events } => {
            for e in events {
                e.validate()?;
            }
        }
        AgentMessage::Pong { .. } | AgentMessage::Rotated => {}
        AgentMessage::SftpLogin {
            username,
            password,
            ip,
            ..
        } => {
            check_len("username", username)?;
            check_len("ip", ip)?;
            if password.len() > 1024 {
                return Err(ProtoError::FieldTooLong("password"));
            }
        }
        AgentMessage::SftpKeyLogin {
            username,
            public_key,
            ip,
            ..
        } => {
            check_len("username", username)?;
            check_len("ip", ip)?;
            if public_key.len() > 8192 {
                return Err(ProtoError::FieldTooLong("public_key"));
            }
        }
        AgentMessage::SftpEvent {
            server_id,
            path,
            to,
            ip,
            ..
        } => {
            servers::check_server_id(server_id)?;
            check_len("ip", ip)?;
            for p in std::iter::once(path).chain(to.iter()) {
                if p.len() > files::MAX_PATH_BYTES {
                    return Err(ProtoError::FieldTooLong("path"));
                }
            }
        }
        AgentMessage::SftpCheck {
            server_id, stamp, ..
        } => {
            servers::check_server_id(server_id)?;
            check_len("stamp", stamp)?;
        }
    }
    Ok(msg)
}

/// Decodes one panel frame.
pub fn decode_panel(frame: &str) -> Result<PanelMessage, ProtoError> {
    let msg: PanelMessage = decode(frame)?;
    match &msg {
        PanelMessage::Request {
            node_id, command, ..
        } => {
            check_len("node_id", node_id)?;
            command.validate()?;
        }
        PanelMessage::Rotate { credential } => check_len("credential", credential)?,
        PanelMessage::SftpAnswer {
            access: Some(a), ..
        } => {
            servers::check_server_id(&a.server_id)?;
            check_len("stamp", &a.stamp)?;
        }
        _ => {}
    }
    Ok(msg)
}

/// Encodes a message (never fails for these types).
pub fn encode<T: Serialize>(msg: &T) -> String {
    serde_json::to_string(msg).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stats() -> NodeStats {
        NodeStats {
            os: "Debian GNU/Linux 12".into(),
            kernel: "6.1.0".into(),
            cpu_count: 2,
            load_1m: 0.5,
            memory_total_bytes: 1 << 34,
            memory_available_bytes: 1 << 33,
            disk_total_bytes: 1 << 40,
            disk_free_bytes: 1 << 39,
            docker: DockerStatus {
                available: false,
                version: None,
                reason: Some("no socket".into()),
            },
        }
    }

    #[test]
    fn messages_round_trip() {
        let agent = [
            AgentMessage::Hello {
                protocol: PROTOCOL_VERSION,
                node_id: "nd_1".into(),
                agent_version: "0.1.0".into(),
                capabilities: vec!["read_only".into()],
                sftp_host_key: Some("SHA256:B46L5wMtEDBeadVMW0xK0o+rtzBQMMENF8w7m8hdNjw".into()),
            },
            AgentMessage::Heartbeat { stats: stats() },
            AgentMessage::Response {
                id: 7,
                result: CommandResult::Described { stats: stats() },
            },
            AgentMessage::Pong { nonce: 3 },
            AgentMessage::Rotated,
        ];
        for m in agent {
            assert_eq!(decode_agent(&encode(&m)), Ok(m));
        }
        let panel = [
            PanelMessage::Welcome {
                protocol: 1,
                heartbeat_secs: 5,
            },
            PanelMessage::Request {
                id: 1,
                node_id: "nd_1".into(),
                command: Command::Describe,
            },
            PanelMessage::Ping { nonce: 9 },
            PanelMessage::Rotate {
                credential: "c".repeat(64),
            },
        ];
        for m in panel {
            assert_eq!(decode_panel(&encode(&m)), Ok(m));
        }
    }

    fn spec() -> ServerSpec {
        ServerSpec {
            server_id: "sv_0123456789abcdef".into(),
            owner: "7".into(),
            image: "rampart-test/busybox:2".into(),
            argv: vec!["sh".into(), "-c".into(), "echo hi".into()],
            env: vec![("SERVER_PORT".into(), "25565".into())],
            limits: ServerLimits {
                memory_mb: 256,
                cpu_percent: 100,
                pids: 64,
                disk_mb: 1024,
                io_weight: 500,
                swap_allowed: false,
            },
            ports: vec![25565],
            capabilities: vec![],
            read_only_root: true,
            stop: StopSpec {
                command: Some("stop".into()),
                timeout_secs: 10,
            },
            install: None,
            registry: None,
        }
    }

    #[test]
    fn server_commands_round_trip_and_are_checked() {
        let ok = PanelMessage::Request {
            id: 2,
            node_id: "nd_1".into(),
            command: Command::CreateServer {
                server: Box::new(spec()),
                wipe: false,
            },
        };
        assert_eq!(decode_panel(&encode(&ok)), Ok(ok));
        let mut bad_specs = Vec::new();
        for f in [
            |s: &mut ServerSpec| s.argv.push("a\nb".into()),
            |s: &mut ServerSpec| s.env.push(("X".into(), "1\r\n2".into())),
            |s: &mut ServerSpec| s.env.push(("BAD-NAME".into(), "1".into())),
            |s: &mut ServerSpec| s.server_id = "sv_../../x".into(),
            |s: &mut ServerSpec| s.image = "--privileged".into(),
            |s: &mut ServerSpec| s.argv.clear(),
        ] {
            let mut s = spec();
            f(&mut s);
            bad_specs.push(s);
        }
        for s in bad_specs {
            let m = PanelMessage::Request {
                id: 3,
                node_id: "nd_1".into(),
                command: Command::CreateServer {
                    server: Box::new(s.clone()),
                    wipe: false,
                },
            };
            assert!(decode_panel(&encode(&m)).is_err(), "{s:?}");
        }
        let input = |line: &str| PanelMessage::Request {
            id: 4,
            node_id: "nd_1".into(),
            command: Command::Input {
                server_id: "sv_0123456789abcdef".into(),
                line: line.into(),
            },
        };
        assert!(decode_panel(&encode(&input("say hi; $(x)"))).is_ok());
        assert!(decode_panel(&encode(&input("say\nop me"))).is_err());
        assert!(decode_panel(&encode(&input(&"x".repeat(2000)))).is_err());
        assert!(
            Command::Input {
                server_id: String::new(),
                line: String::new()
            }
            .is_mutating()
        );
        assert!(!Command::Inventory.is_mutating());
        let events = AgentMessage::Events {
            events: vec![
                ServerEvent::Console {
                    server_id: "sv_0123456789abcdef".into(),
                    lines: vec!["\u{1b}[31mred".into()],
                    dropped: 3,
                },
                ServerEvent::State {
                    server_id: "sv_0123456789abcdef".into(),
                    running: false,
                    exit_code: Some(0),
                },
            ],
        };
        assert_eq!(decode_agent(&encode(&events)), Ok(events));
    }

    #[test]
    fn strictness() {
        assert!(matches!(
            decode_agent(r#"{"type":"pong","nonce":1,"extra":2}"#),
            Err(ProtoError::Malformed(_))
        ));
        assert!(matches!(
            decode_agent(r#"{"type":"launch_missiles"}"#),
            Err(ProtoError::Malformed(_))
        ));
        assert!(matches!(
            decode_agent("not json"),
            Err(ProtoError::Malformed(_))
        ));
        let huge = format!(
            r#"{{"type":"pong","nonce":1,"pad":"{}"}}"#,
            "x".repeat(MAX_FRAME_BYTES)
        );
        assert_eq!(decode_agent(&huge), Err(ProtoError::TooLarge(huge.len())));
        let long = encode(&AgentMessage::Hello {
            protocol: 1,
            node_id: "n".repeat(300),
            agent_version: "1".into(),
            capabilities: vec![],
            sftp_host_key: None,
        });
        assert_eq!(
            decode_agent(&long),
            Err(ProtoError::FieldTooLong("node_id"))
        );
        let markup = encode(&AgentMessage::Hello {
            protocol: 1,
            node_id: "nd_1".into(),
            agent_version: "1".into(),
            capabilities: vec![],
            sftp_host_key: Some("<script>".into()),
        });
        assert!(
            decode_agent(&markup).is_err(),
            "a fingerprint is base64 only"
        );
        let mut s = stats();
        s.load_1m = f64::NAN;
        assert!(decode_agent(&encode(&AgentMessage::Heartbeat { stats: s })).is_err());
    }

    proptest! {
        // The decoders never panic, whatever arrives.
        #[test]
        fn decoding_arbitrary_input_never_panics(input in ".{0,400}") {
            let _ = decode_agent(&input);
            let _ = decode_panel(&input);
        }

        #[test]
        fn decoding_arbitrary_json_shapes_never_panics(
            kind in "(hello|heartbeat|response|pong|welcome|request|ping|x)",
            n in any::<u64>(),
            s in "[a-z0-9_]{0,20}",
        ) {
            for frame in [
                format!(r#"{{"type":"{kind}","nonce":{n}}}"#),
                format!(r#"{{"type":"{kind}","id":{n},"node_id":"{s}","command":{{"kind":"{s}"}}}}"#),
                format!(r#"{{"type":"{kind}","protocol":{n},"node_id":"{s}","agent_version":"{s}","capabilities":["{s}"]}}"#),
            ] {
                let _ = decode_agent(&frame);
                let _ = decode_panel(&frame);
            }
        }
    }
}
