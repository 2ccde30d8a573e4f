//! The file-manager rig shared by the file and SFTP tests and the file
//! benchmark: a panel, a real agent (no Docker needed: files are the
//! agent's own work) and one server record whose volume the agent serves.

use std::sync::Arc;
use std::time::Duration;

use rampart_agent::AgentOptions;
use rampart_core::{NodeName, OsRandom, ServerId, UnixTime};
use rampart_panel::store::NewServer;
use rampart_testkit::spawn_panel_no_forced_2fa;

/// The one loopback address the rig's agent lets pulls reach.
pub const PULL_MIRROR: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 2);

/// A panel, a real agent (no Docker needed: files are the agent's own
/// work), and one server record whose volume the agent serves.
pub struct FilesRig {
    pub panel: rampart_testkit::TestPanel,
    pub owner: rampart_core::UserId,
    pub tenant: rampart_core::UserId,
    pub id: ServerId,
    pub volume: std::path::PathBuf,
    /// The agent's SFTP server, on loopback.
    pub sftp_port: u16,
    pub _dir: tempfile::TempDir,
    agent: tokio::task::JoinHandle<()>,
}

impl Drop for FilesRig {
    fn drop(&mut self) {
        self.agent.abort();
    }
}

pub async fn files_rig(disk_mb: u64) -> FilesRig {
    files_rig_on(spawn_panel_no_forced_2fa().await, disk_mb).await
}

/// The rig around a panel the caller configured.
pub async fn files_rig_on(panel: rampart_testkit::TestPanel, disk_mb: u64) -> FilesRig {
    let owner = panel.user("olga", "operator").await;
    let tenant = panel.user("tina", "developer").await;
    let created = panel
        .services
        .create_node_unchecked(&NodeName::parse("files").unwrap(), "", 5657, "")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sftp_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let state = rampart_agent::enroll(&panel.url, &created.enroll_token, dir.path())
        .await
        .unwrap();
    let options = AgentOptions {
        data_dir: dir.path().to_path_buf(),
        read_only: false,
        bind_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        rng: Arc::new(OsRandom),
        sftp_listen: Some(std::net::SocketAddr::from((
            std::net::Ipv4Addr::LOCALHOST,
            sftp_port,
        ))),
        // The "internal mirror" the pull tests serve from; 127.0.0.1 stays refused.
        pull_allow: vec![PULL_MIRROR.into()],
    };
    let agent = tokio::spawn(rampart_agent::run(
        state,
        options,
        std::future::pending::<()>(),
    ));
    for _ in 0..200 {
        if panel.services.hub.is_connected(&created.node_id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(panel.services.hub.is_connected(&created.node_id));

    let id = add_server(&panel, owner, &created.node_id, disk_mb).await;
    let volume = dir.path().join("volumes").join(id.as_str());
    std::fs::create_dir_all(&volume).unwrap();
    FilesRig {
        panel,
        owner,
        tenant,
        id,
        volume,
        sftp_port,
        _dir: dir,
        agent,
    }
}

/// A server record owned by `owner` on `node` (no container: the file
/// manager and SFTP only need its volume), with a `disk_mb` quota.
pub async fn add_server(
    panel: &rampart_testkit::TestPanel,
    owner: rampart_core::UserId,
    node: &rampart_core::NodeId,
    disk_mb: u64,
) -> ServerId {
    let id = ServerId::generate(&OsRandom);
    let spec = serde_json::json!({
        "server_id": id.as_str(), "owner": owner.0.to_string(), "image": "busybox:stable",
        "argv": ["sh"], "env": [], "limits": {"memory_mb": 64, "cpu_percent": 100, "pids": 64,
        "disk_mb": disk_mb, "io_weight": 500, "swap_allowed": false}, "ports": [], "capabilities": [],
        "read_only_root": true, "stop": {"command": null, "timeout_secs": 5}, "install": null
    });
    panel
        .services
        .store
        .create_server(&NewServer {
            id: &id,
            name: "files",
            owner_id: owner,
            node_id: node,
            template_id: None,
            spec_json: &spec.to_string(),
            variables_json: "{}",
            state: "offline",
            ports: &[],
            default_cap: 10,
            now: UnixTime(panel.clock_now()),
        })
        .await
        .unwrap();
    id
}

/// A directory holding an `SSH_ASKPASS` script that answers `password`
/// (OpenSSH's batch mode turns password logins off, so clients are given
/// the password this way).
pub fn askpass(password: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("askpass");
    std::fs::write(&script, format!("#!/bin/sh\nprintf '%s\\n' '{password}'\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}
