//! The file manager's listing through the panel and the real agent code
//! (no Docker needed: the agent reads the volume directly): the contract's
//! shape, escapes refused, other tenants 404.

use std::sync::Arc;
use std::time::Duration;

use rampart_agent::AgentOptions;
use rampart_core::{NodeName, OsRandom, ServerId, UnixTime};
use rampart_panel::store::NewServer;
use rampart_testkit::spawn_panel_no_forced_2fa;
use serde_json::Value;

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
    let panel = spawn_panel_no_forced_2fa().await;
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
            node_id: &created.node_id,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_a_servers_files_stays_inside_its_volume() {
    let rig = files_rig(100).await;
    let (panel, owner, tenant, id, volume) =
        (&rig.panel, rig.owner, rig.tenant, &rig.id, &rig.volume);
    std::fs::create_dir_all(volume.join("world")).unwrap();
    std::fs::write(volume.join("server.properties"), "motd=hi\n").unwrap();
    std::os::unix::fs::symlink("/", volume.join("host")).unwrap();

    let owner_token = panel
        .api_token(owner, "server.view,server.files.view")
        .await;
    let tenant_token = panel
        .api_token(tenant, "server.view,server.files.view")
        .await;
    let get = |token: &str, path: &str| {
        let client = panel.client();
        let auth = format!("Bearer {token}");
        let url = format!("/api/v1/servers/{id}/files?path={path}");
        async move {
            let res = client
                .request(
                    reqwest::Method::GET,
                    &url,
                    &[("authorization", &auth)],
                    None,
                )
                .await;
            (
                res.status,
                serde_json::from_str::<Value>(&res.body).unwrap_or(Value::Null),
            )
        }
    };
    let (status, v) = get(&owner_token, "/").await;
    assert_eq!(status, 200, "{v}");
    let items = v["items"].as_array().unwrap();
    let names: Vec<(&str, &str)> = items
        .iter()
        .map(|i| (i["name"].as_str().unwrap(), i["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("host", "symlink"),
            ("server.properties", "file"),
            ("world", "dir")
        ]
    );
    let props = &items[1];
    assert_eq!(props["size"], 8);
    assert!(props["mode"].as_u64().unwrap() > 0 && props["modified"].as_i64().unwrap() > 0);

    for escape in [
        "host",
        "host/etc",
        "..",
        "../..",
        "..%2f..",
        "%2e%2e",
        "world/../../",
        "%00",
    ] {
        let (status, v) = get(&owner_token, escape).await;
        assert!(status == 400, "{escape}: {status} {v}");
        assert!(!v.to_string().contains("passwd"), "{v}");
    }
    assert_eq!(get(&owner_token, "nothing-here").await.0, 404);
    assert_eq!(
        get(&tenant_token, "/").await.0,
        404,
        "another tenant sees no server"
    );

    // The file browser page shows the same, with links into directories.
    let browser = panel.session_for(owner).await;
    let page = browser.get(&format!("/servers/{id}/files?path=/")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("server.properties"));
    assert!(
        page.body.contains("files?path=%2Fworld\">world/</a>"),
        "{}",
        page.body
    );
    let refused = browser
        .get(&format!("/servers/{id}/files?path=host/etc"))
        .await;
    assert_eq!(refused.status, 400);
    assert!(!refused.body.contains("passwd"));
    let other = panel.session_for(tenant).await;
    assert_eq!(other.get(&format!("/servers/{id}/files")).await.status, 404);
}
