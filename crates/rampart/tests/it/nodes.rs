//! Nodes and agents as real processes on loopback: enrollment and its
//! refusals, online/offline on SIGKILL and restart, panel restart, revocation,
//! node impersonation, and malformed or oversized frames.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rampart_testkit::{Binary, GOOD_PASSWORD, TestClient, basic_auth};
use reqwest::Method;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::{exe, run_to_end};

struct Env {
    dir: tempfile::TempDir,
    port: u16,
    /// The TLS agent listener's port, when started with `--agent-listen`.
    agent_port: Option<u16>,
    base: String,
    token: String,
    panel: Option<Binary>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Env {
    fn data(&self) -> String {
        self.dir.path().join("panel").to_str().unwrap().to_owned()
    }

    fn agent_dir(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    async fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("panel");
        let data = data.to_str().unwrap();
        let creds: serde_json::Value =
            super::operator_with_client(dir.path(), data, "nodes.view,nodes.edit").await;
        let port = free_port();
        let mut env = Env {
            dir,
            port,
            agent_port: None,
            base: format!("http://127.0.0.1:{port}"),
            token: String::new(),
            panel: None,
        };
        env.start_panel().await;
        let c = TestClient::new(&env.base);
        let res = c
            .request(
                Method::POST,
                "/oauth/token",
                &[
                    (
                        "authorization",
                        &basic_auth(
                            creds["client_id"].as_str().unwrap(),
                            creds["client_secret"].as_str().unwrap(),
                        ),
                    ),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                Some("grant_type=client_credentials".into()),
            )
            .await;
        env.token = serde_json::from_str::<Value>(&res.body).unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        env
    }

    async fn start_panel(&mut self) {
        let listen = format!("127.0.0.1:{}", self.port);
        let mut args = vec![
            "panel".to_owned(),
            "--listen".into(),
            listen,
            "--data-dir".into(),
            self.data(),
        ];
        if let Some(p) = self.agent_port {
            args.push("--agent-listen".into());
            args.push(format!("127.0.0.1:{p}"));
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let bin = Binary::start(exe(), &argv, &[]);
        for _ in 0..400 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.panel = Some(bin);
    }

    async fn stop_panel(&mut self) {
        if let Some(mut p) = self.panel.take() {
            p.stop().await;
        }
    }

    async fn api(&self, method: Method, path: &str, body: Option<&str>) -> (u16, Value) {
        let auth = format!("Bearer {}", self.token);
        let mut headers = vec![("authorization", auth.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let res = TestClient::new(&self.base)
            .request(method, path, &headers, body.map(str::to_owned))
            .await;
        (
            res.status,
            serde_json::from_str(&res.body).unwrap_or(Value::Null),
        )
    }

    async fn create_node(&self, name: &str) -> (String, String) {
        let (status, v) = self
            .api(
                Method::POST,
                "/api/v1/nodes",
                Some(&format!(r#"{{"name":"{name}"}}"#)),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        (
            v["node_id"].as_str().unwrap().to_owned(),
            v["enroll_token"].as_str().unwrap().to_owned(),
        )
    }

    async fn online(&self, node: &str) -> bool {
        let (_, v) = self
            .api(Method::GET, &format!("/api/v1/nodes/{node}"), None)
            .await;
        v["online"] == true
    }

    async fn wait_online(&self, node: &str, want: bool, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.online(node).await == want {
                return true;
            }
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn agent(&self, dir: &str, token: Option<&str>, extra: &[&str]) -> Binary {
        let mut args = vec!["agent", "--data-dir", dir, "--panel-url", &self.base];
        if let Some(t) = token {
            args.push("--enroll-token");
            args.push(t);
        }
        args.extend_from_slice(extra);
        Binary::start(exe(), &args, &[])
    }
}

#[tokio::test]
async fn enroll_go_online_survive_kill_and_panel_restart() {
    let mut env = Env::new().await;
    let (node, token) = env.create_node("node-1").await;
    assert!(!env.online(&node).await);
    let dir = env.agent_dir("agent1");
    let mut agent = env.agent(&dir, Some(&token), &[]);
    assert!(
        env.wait_online(&node, true, Duration::from_secs(10)).await,
        "enrolled agent comes online: {:?}",
        agent.stderr()
    );
    let (_, v) = env
        .api(Method::GET, &format!("/api/v1/nodes/{node}"), None)
        .await;
    assert_eq!(v["enrolled"], true);
    assert!(v["memory_total_bytes"].as_u64().unwrap() > 0);
    assert!(v["os"].as_str().is_some_and(|s| !s.is_empty()));
    // The list answers the automation contract.
    let (status, list) = env.api(Method::GET, "/api/v1/nodes", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["id"], node.as_str());
    assert_eq!(list["items"][0]["online"], true);
    // A live request over the link.
    let (status, fresh) = env
        .api(
            Method::POST,
            &format!("/api/v1/nodes/{node}/describe"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{fresh}");
    assert!(fresh["cpu_count"].as_u64().unwrap() >= 1);

    // SIGKILL: offline at once (the connection drops), back after a restart
    // without the token (the credential is on disk).
    agent.stop().await;
    assert!(env.wait_online(&node, false, Duration::from_secs(5)).await);
    let _agent = env.agent(&dir, None, &[]);
    assert!(env.wait_online(&node, true, Duration::from_secs(10)).await);

    // Panel restart: the agent reconnects by itself.
    env.stop_panel().await;
    env.start_panel().await;
    assert!(
        env.wait_online(&node, true, Duration::from_secs(15)).await,
        "agent reconnected after the panel restart"
    );
}

#[tokio::test]
async fn enrollment_refusals() {
    let env = Env::new().await;
    let (_node, token) = env.create_node("node-2").await;
    let first = env.agent_dir("a");
    let mut ok = env.agent(&first, Some(&token), &[]);
    let _ = ok
        .wait_stdout_line("never", Duration::from_millis(1500))
        .await;
    assert!(
        std::path::Path::new(&first).join("agent.json").exists(),
        "{:?}",
        ok.stderr()
    );
    // The same token again: used.
    let (code, _, stderr) = run_to_end(
        &[
            "agent",
            "--data-dir",
            &env.agent_dir("b"),
            "--panel-url",
            &env.base,
            "--enroll-token",
            &token,
        ],
        &[],
    )
    .await;
    assert_ne!(code, 0);
    assert!(
        stderr.contains("invalid, expired or already used"),
        "{stderr}"
    );
    // A made-up token.
    let fake = format!("rn1.{}", "0".repeat(64));
    let (code, _, stderr) = run_to_end(
        &[
            "agent",
            "--data-dir",
            &env.agent_dir("c"),
            "--panel-url",
            &env.base,
            "--enroll-token",
            &fake,
        ],
        &[],
    )
    .await;
    assert_ne!(code, 0);
    assert!(
        stderr.contains("invalid, expired or already used"),
        "{stderr}"
    );
    assert!(
        !std::path::Path::new(&env.agent_dir("c"))
            .join("agent.json")
            .exists()
    );
    // Enrolling into a data dir that already holds an agent is refused.
    let (code, _, stderr) = run_to_end(
        &[
            "agent",
            "--data-dir",
            &first,
            "--panel-url",
            &env.base,
            "--enroll-token",
            &fake,
        ],
        &[],
    )
    .await;
    assert_ne!(code, 0);
    assert!(
        stderr.contains("already holds an enrolled agent"),
        "{stderr}"
    );
    ok.stop().await;
}

#[tokio::test]
async fn revocation_disconnects_and_credentials_are_per_node() {
    let env = Env::new().await;
    let (node_a, token_a) = env.create_node("node-a").await;
    let (node_b, token_b) = env.create_node("node-b").await;
    let dir_a = env.agent_dir("a");
    let _a = env.agent(&dir_a, Some(&token_a), &[]);
    let _b = env.agent(&env.agent_dir("b"), Some(&token_b), &["--read-only"]);
    assert!(
        env.wait_online(&node_a, true, Duration::from_secs(10))
            .await
    );
    assert!(
        env.wait_online(&node_b, true, Duration::from_secs(10))
            .await
    );
    let (_, b) = env
        .api(Method::GET, &format!("/api/v1/nodes/{node_b}"), None)
        .await;
    assert_eq!(b["read_only"], true, "read-only agents say so");

    // Node A's credential cannot open a link as node B.
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir_a}/agent.json")).unwrap())
            .unwrap();
    let cred_a = state["credential"].as_str().unwrap();
    let link = env.base.replace("http://", "ws://") + "/agent/link";
    let mut req = link.clone().into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {cred_a}").parse().unwrap());
    req.headers_mut()
        .insert("x-rampart-node", node_b.parse().unwrap());
    let err = tokio_tungstenite::connect_async(req)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("401"), "{err}");

    // Revoking node A drops its link at once; its agent cannot come back.
    let (status, _) = env
        .api(Method::DELETE, &format!("/api/v1/nodes/{node_a}"), None)
        .await;
    assert_eq!(status, 204);
    assert!(
        env.wait_online(&node_a, false, Duration::from_secs(3))
            .await
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!env.online(&node_a).await, "a revoked agent stays out");
    assert!(env.online(&node_b).await, "other nodes are untouched");
}

#[tokio::test]
async fn bad_frames_close_the_link_and_nothing_else() {
    let env = Env::new().await;
    let (node, token) = env.create_node("node-x").await;
    let dir = env.agent_dir("x");
    let mut agent = env.agent(&dir, Some(&token), &[]);
    assert!(env.wait_online(&node, true, Duration::from_secs(10)).await);
    agent.stop().await;
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/agent.json")).unwrap())
            .unwrap();
    let cred = state["credential"].as_str().unwrap().to_owned();
    let link = env.base.replace("http://", "ws://") + "/agent/link";
    let connect = || {
        let mut req = link.clone().into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {cred}").parse().unwrap());
        req.headers_mut()
            .insert("x-rampart-node", node.parse().unwrap());
        tokio_tungstenite::connect_async(req)
    };
    let hello = format!(
        r#"{{"type":"hello","protocol":1,"node_id":"{node}","agent_version":"test","capabilities":[]}}"#
    );
    let other_hello = format!(
        r#"{{"type":"hello","protocol":1,"node_id":"nd_{}","agent_version":"t","capabilities":[]}}"#,
        "0".repeat(24)
    );
    let cases: Vec<(Option<String>, Message)> = vec![
        (None, Message::Text("this is not json".into())),
        (None, Message::Text(other_hello.into())),
        (None, Message::Text(r#"{"type":"hello","protocol":99,"node_id":"x","agent_version":"t","capabilities":[]}"#.into())),
        (Some(hello.clone()), Message::Text(r#"{"type":"launch","x":1}"#.into())),
        (Some(hello.clone()), Message::Binary(vec![0u8; 16].into())),
        (Some(hello.clone()), Message::Text("x".repeat(2 << 20).into())),
    ];
    for (first, bad) in cases {
        let (mut ws, _) = connect().await.unwrap();
        if let Some(h) = first {
            ws.send(Message::Text(h.into())).await.unwrap();
            match ws.next().await {
                Some(Ok(Message::Text(t))) => assert!(t.contains("welcome"), "{t}"),
                other => panic!("no welcome: {other:?}"),
            }
        }
        let _ = ws.send(bad).await;
        // The panel closes the link: the stream ends (with or without a close frame).
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match ws.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await;
        assert_eq!(closed, Ok(true));
        assert_eq!(
            TestClient::new(&env.base).get("/health").await.status,
            200,
            "the panel is fine"
        );
    }
    // The real agent still connects afterwards.
    let _again = env.agent(&dir, None, &[]);
    assert!(env.wait_online(&node, true, Duration::from_secs(10)).await);
}

#[tokio::test]
async fn up_enrolls_and_runs_a_local_agent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let toml = dir.path().join("rampart.toml");
    std::fs::write(&toml, "[auth]\nrequire_2fa_for = []\n").unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "up",
        "--listen",
        &listen,
        "--data-dir",
        data.to_str().unwrap(),
        "--config",
        toml.to_str().unwrap(),
    ];
    let mut up = Binary::start(exe(), &args, &[]);
    let line = up
        .wait_stdout_line("Setup URL: ", super::STARTUP)
        .await
        .unwrap();
    let url = super::setup_url(&line);
    let base = format!("http://{listen}");
    let path = format!("/setup?{}", url.split('?').nth(1).unwrap());
    let browser = TestClient::new(&base);
    let csrf = browser.get(&path).await.csrf_token().unwrap();
    browser
        .post_form(
            &path,
            &[
                ("username", "ada"),
                ("password", GOOD_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    let mut items = Vec::new();
    for _ in 0..100 {
        items = local_nodes(&browser).await;
        if items.first().is_some_and(|n| n["online"] == true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["name"], "local");
    assert_eq!(items[0]["online"], true);
    assert!(
        items[0]["docker_available"].is_boolean(),
        "Docker status reported either way"
    );
    if items[0]["docker_available"] == false {
        assert!(
            items[0]["docker_reason"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "with the reason"
        );
    }
    let id = items[0]["id"].as_str().unwrap().to_owned();
    up.stop().await;

    // Restart: the same node comes back, no second one.
    let _up = Binary::start(exe(), &args, &[]);
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let browser = TestClient::new(&base);
    let csrf = browser.get("/login").await.csrf_token().unwrap();
    browser
        .post_form(
            "/login",
            &[
                ("username", "ada"),
                ("password", GOOD_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    let mut again = Vec::new();
    for _ in 0..100 {
        again = local_nodes(&browser).await;
        if again.first().is_some_and(|n| n["online"] == true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["id"], id.as_str());
    assert_eq!(again[0]["online"], true);
}

async fn local_nodes(b: &TestClient) -> Vec<Value> {
    let res = b.get("/api/v1/nodes").await;
    let v: Value = serde_json::from_str(&res.body).unwrap_or(Value::Null);
    v["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn tls_link_with_a_pinned_certificate() {
    let mut env = Env::new().await;
    env.agent_port = Some(free_port());
    env.stop_panel().await;
    env.start_panel().await;
    let agent_url = format!("https://127.0.0.1:{}", env.agent_port.unwrap());
    // The TLS listener may still be starting.
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", env.agent_port.unwrap()))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (node, token) = env.create_node("remote").await;
    assert_eq!(
        token.split('.').count(),
        3,
        "the token carries the certificate fingerprint: {token}"
    );
    let fingerprint = token.split('.').nth(2).unwrap().to_owned();

    // A token whose pin does not match the panel's certificate: refused.
    let parts: Vec<&str> = token.split('.').collect();
    let wrong = format!("{}.{}.{}", parts[0], parts[1], "0".repeat(64));
    let (code, _, stderr) = run_to_end(
        &[
            "agent",
            "--data-dir",
            &env.agent_dir("wrong"),
            "--panel-url",
            &agent_url,
            "--enroll-token",
            &wrong,
        ],
        &[],
    )
    .await;
    assert_ne!(code, 0);
    assert!(stderr.contains("is not the pinned"), "{stderr}");

    // The right pin: enrolled and online over wss://.
    let dir = env.agent_dir("remote");
    let mut agent = Binary::start(
        exe(),
        &[
            "agent",
            "--data-dir",
            &dir,
            "--panel-url",
            &agent_url,
            "--enroll-token",
            &token,
        ],
        &[],
    );
    assert!(
        env.wait_online(&node, true, Duration::from_secs(10)).await,
        "{:?}",
        agent.stderr()
    );
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/agent.json")).unwrap())
            .unwrap();
    assert_eq!(state["panel_fingerprint"], fingerprint.as_str());
    agent.stop().await;

    // The panel's certificate changes (as with a machine in the middle):
    // the enrolled agent refuses to connect.
    env.stop_panel().await;
    std::fs::remove_dir_all(format!("{}/agent-tls", env.data())).unwrap();
    env.start_panel().await;
    let agent = Binary::start(exe(), &["agent", "--data-dir", &dir], &[]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !env.online(&node).await,
        "an unpinned certificate is never trusted"
    );
    assert!(
        agent
            .stderr()
            .iter()
            .any(|l| l.contains("is not the pinned")),
        "{:?}",
        agent.stderr()
    );
}

#[tokio::test]
async fn insecure_agent_link_is_warned_about_at_every_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    for _ in 0..2 {
        let mut p = Binary::start(
            exe(),
            &[
                "panel",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                data,
                "--insecure-agent-link",
            ],
            &[],
        );
        let deadline = tokio::time::Instant::now() + super::STARTUP;
        while !p.stderr().iter().any(|l| l.contains("panel listening")) {
            assert!(tokio::time::Instant::now() < deadline, "{:?}", p.stderr());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            p.stderr()
                .iter()
                .any(|l| l.contains("WARN") && l.contains("--insecure-agent-link")),
            "{:?}",
            p.stderr()
        );
        p.stop().await;
    }
}
