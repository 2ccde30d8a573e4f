//! A panel in this process with a real agent (the agent code, in-process,
//! on its own data dir) driving the real Docker Engine; API calls with
//! bearer tokens; console sockets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rampart_agent::AgentOptions;
use rampart_core::{NodeName, OsRandom};
use rampart_testkit::TestPanel;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Rig {
    pub panel: TestPanel,
    pub admin_token: String,
    pub node_id: String,
    pub agent_dir: tempfile::TempDir,
    agent: Option<(
        tokio::task::JoinHandle<()>,
        tokio::sync::oneshot::Sender<()>,
    )>,
    state: rampart_agent::AgentState,
    pub image: &'static str,
    _watchdog: rampart_testkit::Watchdog,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Rig {
    /// None when there is no Docker Engine (the test is skipped loudly).
    // Each test has its own runtime thread: blocking it while another test
    // holds the turn is the point of the lock.
    #[allow(clippy::await_holding_lock)]
    pub async fn new() -> Option<Rig> {
        // One Docker test at a time: a flooding server or a stop timeout in
        // one test must not starve another's timing on a 2-core machine.
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let watchdog = rampart_testkit::Watchdog::new("a Docker test", Duration::from_secs(300));
        let image = rampart_testkit::docker::test_image()?;
        // Each rig of this process publishes ports from its own range.
        static RIGS: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let n = RIGS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let low = 31000 + n * 20;
        let panel = rampart_testkit::spawn_panel_with(rampart_panel::PanelSettings {
            require_2fa_for: Vec::new(),
            servers: rampart_panel::settings::ServerSettings {
                port_range: (low, low + 19),
                ..Default::default()
            },
            ..Default::default()
        })
        .await;
        let admin = panel.user("ada", "admin").await;
        let admin_token = panel.api_token(admin, "admin").await;
        let created = panel
            .services
            .create_node_unchecked(&NodeName::parse("docker").unwrap(), "127.0.0.1", 5657, "")
            .await
            .unwrap();
        let agent_dir = tempfile::tempdir().unwrap();
        let state = rampart_agent::enroll(&panel.url, &created.enroll_token, agent_dir.path())
            .await
            .unwrap();
        let mut rig = Rig {
            panel,
            admin_token,
            node_id: created.node_id.to_string(),
            agent_dir,
            agent: None,
            state,
            image,
            _watchdog: watchdog,
            _turn: turn,
        };
        rig.start_agent().await;
        Some(rig)
    }

    pub async fn start_agent(&mut self) {
        let options = AgentOptions {
            data_dir: self.agent_dir.path().to_path_buf(),
            read_only: false,
            bind_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            rng: Arc::new(OsRandom),
            sftp_listen: None,
            pull_allow: Vec::new(),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(rampart_agent::run(self.state.clone(), options, async {
            let _ = stopped.await;
        }));
        self.agent = Some((task, stop));
        let node = rampart_core::NodeId::parse(&self.node_id).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.panel.services.hub.is_connected(&node) {
            assert!(Instant::now() < deadline, "the agent did not connect");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the agent (its containers keep running).
    pub async fn stop_agent(&mut self) {
        if let Some((task, stop)) = self.agent.take() {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        let node = rampart_core::NodeId::parse(&self.node_id).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.panel.services.hub.is_connected(&node) {
            assert!(Instant::now() < deadline, "the link did not close");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn api(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("authorization", auth.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let res = tokio::time::timeout(
            Duration::from_secs(60),
            self.panel.client().request(
                method.clone(),
                path,
                &headers,
                body.map(|b| b.to_string()),
            ),
        )
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no answer within 60 s"));
        let v = serde_json::from_str(&res.body).unwrap_or(Value::Null);
        (res.status, v)
    }

    pub async fn import_template(&self, doc: Value) {
        let (status, body) = self
            .api(
                &self.admin_token,
                Method::POST,
                "/api/v1/templates",
                Some(doc),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }

    /// Creates a server as `token`'s user; its id.
    pub async fn create(&self, token: &str, mut body: Value) -> String {
        body["node_id"] = json!(self.node_id);
        let (status, v) = self
            .api(token, Method::POST, "/api/v1/servers", Some(body))
            .await;
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["state"], "installing");
        v["id"].as_str().unwrap().to_owned()
    }

    pub async fn state(&self, token: &str, id: &str) -> Value {
        let (status, v) = self
            .api(token, Method::GET, &format!("/api/v1/servers/{id}"), None)
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// Waits until the server is in `state`; how long it took.
    pub async fn wait_state(&self, id: &str, state: &str, within: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let v = self.state(&self.admin_token, id).await;
            if v["state"] == state {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "server {id} not {state} after {within:?}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn power(&self, token: &str, id: &str, action: &str) -> u16 {
        let (status, v) = self
            .api(
                token,
                Method::POST,
                &format!("/api/v1/servers/{id}/power"),
                Some(json!({ "action": action })),
            )
            .await;
        assert!(status == 202 || status >= 400, "{v}");
        status
    }

    /// Opens the console with a bearer token; the HTTP status on refusal.
    pub async fn console(&self, token: &str, id: &str) -> Result<Socket, u16> {
        let url = format!(
            "{}/api/v1/servers/{id}/console",
            self.panel.url.replace("http://", "ws://")
        );
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
            Err(e) => panic!("{e}"),
        }
    }

    /// The container's path of a server's volume on this node.
    pub fn volume(&self, id: &str) -> std::path::PathBuf {
        self.agent_dir.path().join("volumes").join(id)
    }
}

impl Drop for Rig {
    /// Removes every container and network this rig's agent made (also
    /// when a test failed half-way).
    fn drop(&mut self) {
        let nets = std::process::Command::new("docker")
            .args(["network", "ls", "-q", "--filter"])
            .arg(format!("name=rampart-{}", self.node_id))
            .output();
        let Ok(nets) = nets else { return };
        for net in String::from_utf8_lossy(&nets.stdout).split_whitespace() {
            if let Ok(ids) = std::process::Command::new("docker")
                .args(["ps", "-aq", "--filter"])
                .arg(format!("network={net}"))
                .output()
            {
                for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
                    let _ = std::process::Command::new("docker")
                        .args(["rm", "-f", id])
                        .output();
                }
            }
            let _ = std::process::Command::new("docker")
                .args(["network", "rm", net])
                .output();
        }
    }
}

pub async fn send_command(ws: &mut Socket, line: &str) {
    ws.send(Message::Text(
        json!({"type": "command", "data": line}).to_string().into(),
    ))
    .await
    .unwrap();
}

/// Reads console messages until one satisfies `want`; `None` when the
/// time runs out first.
pub async fn try_read_until(
    ws: &mut Socket,
    within: Duration,
    mut want: impl FnMut(&Value) -> bool,
) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next()).await.ok()?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if want(&v) {
                    return Some(v);
                }
            }
            Some(Ok(Message::Close(frame))) => {
                let v = json!({"type": "closed", "code": frame.map(|f| u16::from(f.code))});
                if want(&v) {
                    return Some(v);
                }
                panic!("console closed: {v}");
            }
            Some(Ok(_)) => {}
            other => panic!("console ended: {other:?}"),
        }
    }
}

/// Reads console messages until one satisfies `want`; panics when the time runs out.
pub async fn read_until(
    ws: &mut Socket,
    within: Duration,
    want: impl FnMut(&Value) -> bool,
) -> Value {
    try_read_until(ws, within, want)
        .await
        .unwrap_or_else(|| panic!("no matching console message within {within:?}"))
}

/// Whether a console message carries a line containing `needle`.
pub fn has_line(v: &Value, needle: &str) -> bool {
    matches!(v["type"].as_str(), Some("output" | "history"))
        && v["lines"].as_array().is_some_and(|l| {
            l.iter()
                .any(|x| x.as_str().is_some_and(|s| s.contains(needle)))
        })
}
