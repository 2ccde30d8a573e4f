//! Servers on a real Docker Engine through the panel's API and the real
//! agent (SPEC R50–R55): the whole lifecycle with install, console history,
//! live output and commands, an agent restart with a running server, a
//! graceful stop and one that escalates to SIGKILL, template values that
//! run nothing, sub-users and other tenants, and a flooding server.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::server_rig::{Rig, has_line, read_until, send_command, try_read_until};

fn shell_template(image: &str) -> Value {
    json!({
        "id": "test-shell",
        "name": "Test shell",
        "image": image,
        "startup": "sh",
        "ports": 1,
        "stop": {"command": "exit", "timeout_secs": 5},
        "install": {"image": image, "interpreter": "sh", "script": "echo installed > installed.txt"}
    })
}

fn docker_label(container: &str) -> Option<String> {
    let out = std::process::Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{index .Config.Labels \"rampart.server_id\"}}",
            container,
        ])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_lives_its_whole_life_on_real_docker() {
    let Some(mut rig) = Rig::new().await else {
        return;
    };
    rig.import_template(shell_template(rig.image)).await;
    let token = rig.admin_token.clone();
    let id = rig
        .create(
            &token,
            json!({"name": "Life", "template_id": "test-shell",
            "limits": {"memory_mb": 64, "cpu_percent": 50, "pids": 64, "disk_mb": 100}}),
        )
        .await;
    rig.wait_state(&id, "offline", Duration::from_secs(60))
        .await;
    let v = rig.state(&token, &id).await;
    assert_eq!(v["last_error"], "", "{v}");
    assert_eq!(
        v["ports"].as_array().unwrap().len(),
        1,
        "one port allocated: {v}"
    );
    assert_eq!(
        std::fs::read_to_string(rig.volume(&id).join("installed.txt")).unwrap(),
        "installed\n",
        "the install script ran in the server's volume"
    );
    assert_eq!(
        docker_label(&format!("rampart-{id}")).as_deref(),
        Some(id.as_str()),
        "the container carries rampart.server_id"
    );

    assert_eq!(rig.power(&token, &id, "start").await, 202);
    rig.wait_state(&id, "running", Duration::from_secs(30))
        .await;
    assert_eq!(
        rig.power(&token, &id, "start").await,
        409,
        "already running"
    );

    let mut ws = rig.console(&token, &id).await.unwrap();
    read_until(&mut ws, Duration::from_secs(5), |v| v["type"] == "history").await;
    send_command(&mut ws, "echo hello-$((6*7))").await;
    read_until(&mut ws, Duration::from_secs(10), |v| {
        has_line(v, "hello-42")
    })
    .await;
    let (status, _) = rig
        .api(
            &token,
            Method::POST,
            &format!("/api/v1/servers/{id}/command"),
            Some(json!({"command": "echo via-api"})),
        )
        .await;
    assert_eq!(status, 204);
    read_until(&mut ws, Duration::from_secs(10), |v| has_line(v, "via-api")).await;

    // Stats every 2 s over the socket, and kept for graphs.
    let stats = read_until(&mut ws, Duration::from_secs(10), |v| v["type"] == "stats").await;
    assert_eq!(
        stats["stats"]["memory_limit_bytes"],
        64 * 1024 * 1024,
        "the memory limit is the server's: {stats}"
    );
    assert!(
        stats["stats"]["memory_bytes"].as_u64().unwrap() > 0,
        "{stats}"
    );
    assert!(
        stats["stats"]["disk_bytes"].as_u64().unwrap() > 0,
        "the volume (holding installed.txt) is measured: {stats}"
    );
    let (status, history) = rig
        .api(
            &token,
            Method::GET,
            &format!("/api/v1/servers/{id}/stats"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        !history["items"].as_array().unwrap().is_empty(),
        "{history}"
    );

    // A new console replays the history.
    let mut second = rig.console(&token, &id).await.unwrap();
    read_until(&mut second, Duration::from_secs(5), |v| {
        v["type"] == "history" && has_line(v, "hello-42") && has_line(v, "via-api")
    })
    .await;
    drop(second);

    // The agent stops and comes back: the server kept running, the new
    // agent re-attaches to it and the state is reconciled.
    rig.stop_agent().await;
    assert_eq!(
        std::process::Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{.State.Running}}",
                &format!("rampart-{id}")
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap(),
        "true",
        "servers keep running without their agent"
    );
    rig.start_agent().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        send_command(&mut ws, "echo after-restart").await;
        let seen = try_read_until(&mut ws, Duration::from_secs(1), |v| {
            has_line(v, "after-restart")
        })
        .await;
        if seen.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the new agent did not re-attach");
    }
    assert_eq!(rig.state(&token, &id).await["state"], "running");

    // Graceful stop: the stop command ends it well before the timeout.
    assert_eq!(rig.power(&token, &id, "stop").await, 202);
    let took = rig
        .wait_state(&id, "offline", Duration::from_secs(30))
        .await;
    assert!(took < Duration::from_secs(5), "graceful stop took {took:?}");

    let (status, _) = rig
        .api(
            &token,
            Method::DELETE,
            &format!("/api/v1/servers/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        docker_label(&format!("rampart-{id}")),
        None,
        "container gone"
    );
    assert!(!rig.volume(&id).exists(), "volume gone");
    let (status, _) = rig
        .api(&token, Method::GET, &format!("/api/v1/servers/{id}"), None)
        .await;
    assert_eq!(status, 404);
    assert!(
        rig.panel
            .services
            .store
            .ports_in_use(&rampart_core::NodeId::parse(&rig.node_id).unwrap())
            .await
            .unwrap()
            .is_empty(),
        "allocations gone"
    );
    let actions: Vec<String> = rig
        .panel
        .audit_records()
        .await
        .into_iter()
        .filter(|r| r.body.target.as_deref() == Some(&format!("server:{id}")))
        .map(|r| r.body.action)
        .collect();
    for a in [
        "server.create",
        "server.power",
        "server.command",
        "server.delete",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_values_run_nothing_and_a_stubborn_server_is_killed() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    let token = rig.admin_token.clone();
    rig.import_template(json!({
        "id": "test-echo", "name": "Echo", "image": rig.image,
        "startup": "echo {{MESSAGE}}",
        "variables": [{"name": "MESSAGE", "default": "hi", "user_editable": true,
            "rule": {"kind": "text", "max_len": 300}}],
        "stop": {"command": null, "timeout_secs": 2},
        "config_files": [{"path": "conf/motd.txt", "content": "motd={{MESSAGE}}\nport={{SERVER_PORT}}\n"}],
        "ports": 1
    }))
    .await;
    let hostile = "x; touch /home/container/p1 | touch /home/container/p2 $(touch /home/container/p3) `touch /home/container/p4` && touch p5";
    for bad in ["a\nb", "a\rb", "a\u{0}b"] {
        let (status, v) = rig
            .api(
                &token,
                Method::POST,
                "/api/v1/servers",
                Some(json!({
                "name": "bad", "node_id": rig.node_id, "template_id": "test-echo",
                "env": {"MESSAGE": bad}})),
            )
            .await;
        assert_eq!(status, 400, "{bad:?}: {v}");
    }
    let servers_before = rig
        .panel
        .services
        .store
        .list_servers(None)
        .await
        .unwrap()
        .len();
    assert_eq!(servers_before, 0, "refused requests created nothing");

    let id = rig
        .create(
            &token,
            json!({"name": "Echo", "template_id": "test-echo", "env": {"MESSAGE": hostile}}),
        )
        .await;
    rig.wait_state(&id, "offline", Duration::from_secs(60))
        .await;
    assert_eq!(rig.power(&token, &id, "start").await, 202);
    // It prints and exits: running, then offline again.
    let deadline = Instant::now() + Duration::from_secs(30);
    let history = loop {
        let mut ws = rig.console(&token, &id).await.unwrap();
        let h = read_until(&mut ws, Duration::from_secs(5), |v| v["type"] == "history").await;
        if has_line(&h, "touch") {
            break h;
        }
        assert!(Instant::now() < deadline, "no output: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(has_line(&history, hostile), "printed literally: {history}");
    rig.wait_state(&id, "offline", Duration::from_secs(30))
        .await;
    for f in ["p1", "p2", "p3", "p4", "p5"] {
        assert!(
            !rig.volume(&id).join(f).exists(),
            "{f} was created: a value ran"
        );
    }
    let port = rig.state(&token, &id).await["ports"][0].as_u64().unwrap();
    assert_eq!(
        std::fs::read_to_string(rig.volume(&id).join("conf/motd.txt")).unwrap(),
        format!("motd={hostile}\nport={port}\n"),
        "the config file holds the values literally"
    );

    // A server that ignores SIGTERM: stop waits the timeout, then kills.
    rig.import_template(json!({
        "id": "test-stubborn", "name": "Stubborn", "image": rig.image,
        "startup": "sh -c \"trap '' TERM; while true; do sleep 1; done\"",
        "stop": {"command": null, "timeout_secs": 2}
    }))
    .await;
    let id = rig
        .create(
            &token,
            json!({"name": "Stubborn", "template_id": "test-stubborn"}),
        )
        .await;
    rig.wait_state(&id, "offline", Duration::from_secs(60))
        .await;
    assert_eq!(rig.power(&token, &id, "start").await, 202);
    rig.wait_state(&id, "running", Duration::from_secs(30))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rig.power(&token, &id, "stop").await, 202);
    let took = rig
        .wait_state(&id, "offline", Duration::from_secs(30))
        .await;
    assert!(
        took >= Duration::from_millis(1800),
        "SIGTERM was ignored, so the stop must have waited for the timeout: {took:?}"
    );
    let code = std::process::Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{.State.ExitCode}}",
            &format!("rampart-{id}"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&code.stdout).trim(),
        "137",
        "killed by SIGKILL"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_users_get_only_what_was_granted_and_others_get_404() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    rig.import_template(shell_template(rig.image)).await;
    let panel = &rig.panel;
    let olga = panel.user("olga", "operator").await;
    let dev = panel.user("dev", "developer").await;
    let tina = panel.user("tina", "developer").await;
    let scopes = "server.view,server.edit,server.start,server.console";
    let olga_token = panel.api_token(olga, scopes).await;
    // Developers hold no server.edit of their own.
    let dev_scopes = "server.view,server.start,server.console";
    let dev_token = panel.api_token(dev, dev_scopes).await;
    let tina_token = panel.api_token(tina, dev_scopes).await;
    let id = rig
        .create(
            &olga_token,
            json!({"name": "Olga's", "template_id": "test-shell"}),
        )
        .await;
    rig.wait_state(&id, "offline", Duration::from_secs(60))
        .await;
    assert_eq!(rig.power(&olga_token, &id, "start").await, 202);
    rig.wait_state(&id, "running", Duration::from_secs(30))
        .await;

    // Another tenant: every route answers 404.
    for token in [&tina_token, &dev_token] {
        for (method, path, body) in [
            (Method::GET, format!("/api/v1/servers/{id}"), None),
            (Method::DELETE, format!("/api/v1/servers/{id}"), None),
            (
                Method::POST,
                format!("/api/v1/servers/{id}/power"),
                Some(json!({"action": "kill"})),
            ),
            (
                Method::POST,
                format!("/api/v1/servers/{id}/command"),
                Some(json!({"command": "x"})),
            ),
            (
                Method::POST,
                format!("/api/v1/servers/{id}/reinstall"),
                None,
            ),
            (Method::GET, format!("/api/v1/servers/{id}/stats"), None),
            (Method::GET, format!("/api/v1/servers/{id}/users"), None),
        ] {
            let (status, v) = rig.api(token, method.clone(), &path, body).await;
            assert_eq!(status, 404, "{method} {path}: {v}");
        }
        assert_eq!(rig.console(token, &id).await.err(), Some(404));
        let (_, list) = rig.api(token, Method::GET, "/api/v1/servers", None).await;
        assert_eq!(list["items"], json!([]), "not listed");
    }

    // Olga grants dev the console (and view) only.
    let (status, v) = rig
        .api(
            &olga_token,
            Method::POST,
            &format!("/api/v1/servers/{id}/users"),
            Some(json!({"user_id": dev.0, "scopes": ["server.view", "server.console"]})),
        )
        .await;
    assert_eq!(status, 204, "{v}");
    assert_eq!(rig.state(&dev_token, &id).await["id"], id);
    let (_, list) = rig
        .api(&dev_token, Method::GET, "/api/v1/servers", None)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (status, _) = rig
        .api(
            &dev_token,
            Method::POST,
            &format!("/api/v1/servers/{id}/power"),
            Some(json!({"action": "kill"})),
        )
        .await;
    assert_eq!(status, 403, "visible, but start/stop was not granted");
    let mut ws = rig.console(&dev_token, &id).await.unwrap();
    read_until(&mut ws, Duration::from_secs(5), |v| v["type"] == "history").await;
    send_command(&mut ws, "echo from-dev").await;
    read_until(&mut ws, Duration::from_secs(10), |v| {
        has_line(v, "from-dev")
    })
    .await;
    ws.send_power_kill().await;
    read_until(&mut ws, Duration::from_secs(5), |v| {
        v["type"] == "error"
            && v["message"]
                .as_str()
                .is_some_and(|m| m.contains("server.start"))
    })
    .await;

    // Revoking closes the open console at once.
    let (status, _) = rig
        .api(
            &olga_token,
            Method::DELETE,
            &format!("/api/v1/servers/{id}/users/{}", dev.0),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let closed = read_until(&mut ws, Duration::from_secs(5), |v| v["type"] == "closed").await;
    assert_eq!(closed["code"], 4403);
    let (status, _) = rig
        .api(
            &dev_token,
            Method::GET,
            &format!("/api/v1/servers/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(rig.power(&olga_token, &id, "kill").await, 202);
    rig.wait_state(&id, "offline", Duration::from_secs(30))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_server_is_throttled_with_bounded_memory() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    let token = rig.admin_token.clone();
    rig.import_template(json!({
        "id": "test-flood", "name": "Flood", "image": rig.image,
        "startup": "yes flood-0123456789-0123456789-0123456789",
        "stop": {"command": null, "timeout_secs": 1}
    }))
    .await;
    let id = rig
        .create(
            &token,
            json!({"name": "Flood", "template_id": "test-flood"}),
        )
        .await;
    rig.wait_state(&id, "offline", Duration::from_secs(60))
        .await;
    let rss_before = rss_kib();
    assert_eq!(rig.power(&token, &id, "start").await, 202);
    let mut ws = rig.console(&token, &id).await.unwrap();
    let mut lines = 0usize;
    let mut marked = false;
    let mut peak = 0;
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        let v = read_until(&mut ws, Duration::from_secs(5), |_| true).await;
        if let Some(l) = v["lines"].as_array() {
            lines += l.len();
            marked |= l
                .iter()
                .any(|x| x.as_str().is_some_and(|s| s.contains("lines not shown")));
        }
        marked |= v["type"] == "notice";
        peak = peak.max(rss_kib());
    }
    drop(ws);
    assert!(lines > 10_000, "output flowed: {lines} lines");
    assert!(marked, "the flood was throttled visibly");
    let growth = peak.saturating_sub(rss_before);
    assert!(
        growth < 200 * 1024,
        "panel + agent grew by {growth} KiB during the flood"
    );
    assert_eq!(rig.power(&token, &id, "kill").await, 202);
    rig.wait_state(&id, "offline", Duration::from_secs(30))
        .await;
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

trait PowerKill {
    async fn send_power_kill(&mut self);
}

impl PowerKill for crate::server_rig::Socket {
    async fn send_power_kill(&mut self) {
        use futures_util::SinkExt;
        self.send(tokio_tungstenite::tungstenite::Message::Text(
            json!({"type": "power", "action": "kill"})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_is_pulled_with_progress_on_the_console() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    let Some(registry) = rampart_testkit::docker::LocalRegistry::start().await else {
        return;
    };
    let image = registry.push_test_image(&format!("pulled/busybox:{}", &rig.node_id[3..15]));
    let token = rig.admin_token.clone();
    rig.import_template(json!({
        "id": "test-pulled", "name": "Pulled", "image": image,
        "startup": "sh", "stop": {"command": "exit", "timeout_secs": 5}
    }))
    .await;
    let id = rig
        .create(
            &token,
            json!({"name": "Pulled", "template_id": "test-pulled"}),
        )
        .await;
    let mut ws = rig.console(&token, &id).await.unwrap();
    read_until(&mut ws, Duration::from_secs(60), |v| {
        has_line(v, "[pull]") && has_line(v, "is ready")
            || has_line(v, &format!("{image} is ready"))
    })
    .await;
    rig.wait_state(&id, "offline", Duration::from_secs(60))
        .await;
    assert_eq!(rig.state(&token, &id).await["last_error"], "");
    assert_eq!(rig.power(&token, &id, "start").await, 202);
    rig.wait_state(&id, "running", Duration::from_secs(30))
        .await;

    // A pull that fails says why and leaves the server offline.
    rig.import_template(json!({
        "id": "test-missing", "name": "Missing", "image": format!("{}/nothing/here:1", registry.addr),
        "startup": "sh"
    }))
    .await;
    let missing = rig
        .create(
            &token,
            json!({"name": "Missing", "template_id": "test-missing"}),
        )
        .await;
    rig.wait_state(&missing, "offline", Duration::from_secs(60))
        .await;
    let v = rig.state(&token, &missing).await;
    assert!(v["last_error"].as_str().unwrap().contains("pulling"), "{v}");
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &image])
        .output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_stops_the_server_and_shuts_every_door() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    rig.import_template(shell_template(rig.image)).await;
    let olga = rig.panel.user("olga", "operator").await;
    let olga_token = rig
        .panel
        .api_token(olga, "server.view,server.edit,server.start,server.console")
        .await;
    let admin = rig.admin_token.clone();
    let id = rig
        .create(
            &olga_token,
            json!({"name": "Owned", "template_id": "test-shell"}),
        )
        .await;
    rig.wait_state(&id, "offline", Duration::from_secs(60))
        .await;
    assert_eq!(rig.power(&olga_token, &id, "start").await, 202);
    rig.wait_state(&id, "running", Duration::from_secs(30))
        .await;
    let mut ws = rig.console(&olga_token, &id).await.unwrap();
    read_until(&mut ws, Duration::from_secs(5), |v| v["type"] == "history").await;

    let suspend = format!("/api/v1/servers/{id}/suspend");
    let (status, _) = rig.api(&olga_token, Method::POST, &suspend, None).await;
    assert_eq!(status, 403, "owners do not suspend (administrators do)");
    let (status, v) = rig.api(&admin, Method::POST, &suspend, None).await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["state"], "suspended");
    let closed = read_until(&mut ws, Duration::from_secs(10), |v| v["type"] == "closed").await;
    assert_eq!(closed["code"], 4403, "the open console closed");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = std::process::Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{.State.Running}}",
                &format!("rampart-{id}"),
            ])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).trim() == "false" {
            break;
        }
        assert!(Instant::now() < deadline, "the container kept running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rig.state(&olga_token, &id).await["state"], "suspended");
    assert_eq!(rig.power(&olga_token, &id, "start").await, 409);
    assert_eq!(rig.console(&olga_token, &id).await.err(), Some(409));
    let (status, _) = rig
        .api(
            &olga_token,
            Method::POST,
            &format!("/api/v1/servers/{id}/command"),
            Some(json!({"command": "echo x"})),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = rig
        .api(
            &olga_token,
            Method::POST,
            &format!("/api/v1/servers/{id}/reinstall"),
            None,
        )
        .await;
    assert_eq!(status, 409);

    let (status, v) = rig
        .api(
            &admin,
            Method::POST,
            &format!("/api/v1/servers/{id}/unsuspend"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["state"], "offline");
    assert_eq!(rig.power(&olga_token, &id, "start").await, 202);
    rig.wait_state(&id, "running", Duration::from_secs(30))
        .await;
    assert_eq!(rig.power(&olga_token, &id, "kill").await, 202);
    rig.wait_state(&id, "offline", Duration::from_secs(30))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_limits_and_power_over_the_socket() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let Some(rig) = Rig::new().await else {
        return;
    };
    rig.import_template(shell_template(rig.image)).await;
    let token = rig.admin_token.clone();
    let id = rig
        .create(
            &token,
            json!({"name": "Limits", "template_id": "test-shell"}),
        )
        .await;
    rig.wait_state(&id, "offline", Duration::from_secs(60))
        .await;

    // Power over the socket.
    let mut ws = rig.console(&token, &id).await.unwrap();
    read_until(&mut ws, Duration::from_secs(5), |v| v["type"] == "history").await;
    ws.send(Message::Text(
        json!({"type": "power", "action": "start"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    read_until(&mut ws, Duration::from_secs(30), |v| {
        v["type"] == "state" && v["state"] == "running"
    })
    .await;

    // Three consoles per user and server; the fourth is refused.
    let second = rig.console(&token, &id).await.unwrap();
    let third = rig.console(&token, &id).await.unwrap();
    assert_eq!(rig.console(&token, &id).await.err(), Some(429));
    drop((second, third));

    // A frame over 4 KiB closes the socket; so do more than 10 messages a second.
    let mut big = rig.console(&token, &id).await;
    for _ in 0..50 {
        if big.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await; // slots free as sockets end
        big = rig.console(&token, &id).await;
    }
    let mut big = big.unwrap();
    let _ = big
        .send(Message::Text(
            json!({"type": "command", "data": "x".repeat(5000)})
                .to_string()
                .into(),
        ))
        .await;
    let mut closed = false;
    for _ in 0..20 {
        match tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::StreamExt::next(&mut big),
        )
        .await
        {
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => {
                closed = true;
                break;
            }
            Ok(Some(Ok(_))) => {}
            Err(_) => break,
        }
    }
    assert!(closed, "an oversized frame closes the console");

    for i in 0..15 {
        if ws
            .send(Message::Text(
                json!({"type": "command", "data": format!("echo {i}")})
                    .to_string()
                    .into(),
            ))
            .await
            .is_err()
        {
            break;
        }
    }
    let end = read_until(&mut ws, Duration::from_secs(10), |v| v["type"] == "closed").await;
    assert_eq!(end["code"], 1008, "too many messages: {end}");
    assert_eq!(rig.power(&token, &id, "kill").await, 202);
    rig.wait_state(&id, "offline", Duration::from_secs(30))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_rename_and_change_variables() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    rig.import_template(json!({
        "id": "test-say", "name": "Say", "image": rig.image,
        "startup": "echo said:{{MESSAGE}}:{{FIXED}}",
        "variables": [
            {"name": "MESSAGE", "default": "hi", "user_editable": true, "rule": {"kind": "word", "max_len": 32}},
            {"name": "FIXED", "default": "same", "user_editable": false, "rule": {"kind": "word", "max_len": 32}}
        ],
        "stop": {"command": null, "timeout_secs": 2}
    }))
    .await;
    let olga = rig.panel.user("olga", "operator").await;
    let olga_token = rig
        .panel
        .api_token(olga, "server.view,server.edit,server.start,server.console")
        .await;
    let id = rig
        .create(
            &olga_token,
            json!({"name": "Sayer", "template_id": "test-say", "env": {"MESSAGE": "first"}}),
        )
        .await;
    rig.wait_state(&id, "offline", Duration::from_secs(60))
        .await;
    let path = format!("/api/v1/servers/{id}");
    for (body, status) in [
        (json!({"env": {"MESSAGE": "a b"}}), 400),
        (json!({"env": {"MESSAGE": "a\nb"}}), 400),
        (json!({"env": {"FIXED": "other"}}), 400),
        (json!({"env": {"NOPE": "x"}}), 400),
        (json!({"name": ""}), 400),
        (json!({}), 400),
    ] {
        let (got, v) = rig
            .api(&olga_token, Method::PATCH, &path, Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body}: {v}");
    }
    let (status, v) = rig
        .api(
            &olga_token,
            Method::PATCH,
            &path,
            Some(json!({"name": "Renamed", "env": {"MESSAGE": "second"}})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["name"], "Renamed");
    assert_eq!(v["variables"]["MESSAGE"], "second");
    assert_eq!(v["variables"]["FIXED"], "same");
    rig.wait_state(&id, "offline", Duration::from_secs(60))
        .await;
    assert_eq!(rig.state(&olga_token, &id).await["last_error"], "");
    assert_eq!(rig.power(&olga_token, &id, "start").await, 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut ws = rig.console(&olga_token, &id).await.unwrap();
        let h = read_until(&mut ws, Duration::from_secs(5), |v| v["type"] == "history").await;
        if has_line(&h, "said:") {
            assert!(
                has_line(&h, "said:second:same"),
                "the new value is used: {h}"
            );
            assert!(!has_line(&h, "said:first"), "{h}");
            break;
        }
        assert!(Instant::now() < deadline, "no output: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
