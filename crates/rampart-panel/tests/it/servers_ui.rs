//! Server pages: the list and a server's page render for those who may see
//! them; a read-only node's servers have their actions disabled (R43);
//! sub-users are granted and revoked through the forms.

use rampart_core::{NodeName, SecretToken, ServerId, UnixTime};
use rampart_panel::store::NewServer;

fn csrf_of(client: &rampart_testkit::TestClient) -> String {
    SecretToken::parse(&client.cookie("rampart_session").unwrap())
        .unwrap()
        .derive("csrf")
}

#[tokio::test]
async fn a_read_only_nodes_servers_have_their_actions_greyed_out() {
    let panel = rampart_testkit::spawn_panel_no_forced_2fa().await;
    let admin = panel.user("ada", "admin").await;
    let dev = panel.user("dev", "developer").await;
    let store = &panel.services.store;
    let node = panel
        .services
        .create_node_unchecked(&NodeName::parse("ro").unwrap(), "", 5657, "")
        .await
        .unwrap()
        .node_id;
    store
        .record_heartbeat(&node, UnixTime(panel.clock_now()), "0.1.0", true, "")
        .await
        .unwrap();
    let id = ServerId::generate(&rampart_core::OsRandom);
    let spec = serde_json::json!({
        "server_id": id.as_str(), "owner": admin.0.to_string(), "image": "busybox:stable",
        "argv": ["sh"], "env": [], "limits": {"memory_mb": 64, "cpu_percent": 100, "pids": 64,
        "disk_mb": 100, "io_weight": 500, "swap_allowed": false}, "ports": [], "capabilities": [],
        "read_only_root": true, "stop": {"command": null, "timeout_secs": 5}, "install": null
    });
    store
        .create_server(&NewServer {
            id: &id,
            name: "On a read-only node",
            owner_id: admin,
            node_id: &node,
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

    let client = panel.session_for(admin).await;
    let list = client.get("/servers").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("On a read-only node"), "{}", list.body);
    let page = client.get(&format!("/servers/{id}")).await;
    assert_eq!(page.status, 200);
    for action in ["start", "stop", "restart", "kill"] {
        assert!(
            page.body
                .contains(&format!("data-power=\"{action}\" disabled")),
            "{action} enabled on a read-only node"
        );
    }
    assert!(page.body.contains("read-only agent"));
    assert!(!page.body.contains("Danger zone"), "no changes offered");

    // Creating a server there is refused outright.
    let token = panel.api_token(admin, "admin").await;
    let res = client
        .request(
            reqwest::Method::POST,
            "/api/v1/servers",
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "application/json"),
            ],
            Some(
                serde_json::json!({"name": "x", "node_id": node.to_string(), "template_id": "generic"})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(res.status, 409, "{}", res.body);
    assert!(res.body.contains("read-only"), "{}", res.body);

    // Sub-users through the forms. (The node is read-only, so use another.)
    let writable = panel
        .services
        .create_node_unchecked(&NodeName::parse("rw").unwrap(), "", 5657, "")
        .await
        .unwrap()
        .node_id;
    let form = client
        .post_form(
            "/servers",
            &[
                ("name", "Mine"),
                ("template_id", "generic"),
                ("node_id", writable.as_str()),
                ("csrf_token", &csrf_of(&client)),
            ],
        )
        .await;
    assert_eq!(form.status, 303, "{}", form.body);
    let location = form.header("location").unwrap().to_owned();
    let mine = location.trim_start_matches("/servers/").to_owned();
    let granted = client
        .post_form(
            &format!("/servers/{mine}/users"),
            &[
                ("username", "dev"),
                ("scopes", "server.view"),
                ("scopes", "server.console"),
                ("csrf_token", &csrf_of(&client)),
            ],
        )
        .await;
    assert_eq!(granted.status, 303, "{}", granted.body);
    let page = client.get(&location).await;
    assert!(
        page.body.contains("server.view,server.console"),
        "{}",
        page.body
    );
    let dev_client = panel.session_for(dev).await;
    assert_eq!(
        dev_client.get(&location).await.status,
        200,
        "granted: visible"
    );
    assert_eq!(dev_client.get(&format!("/servers/{id}")).await.status, 404);
    let revoked = client
        .post_form(
            &format!("/servers/{mine}/users/{}/revoke", dev.0),
            &[("csrf_token", &csrf_of(&client))],
        )
        .await;
    assert_eq!(revoked.status, 303);
    assert_eq!(dev_client.get(&location).await.status, 404, "revoked: gone");
}
