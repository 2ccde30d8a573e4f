//! Agent credential rotation with overlap, against an in-process panel with
//! an injected clock (the overlap is five minutes) and the real agent code.

use std::sync::Arc;
use std::time::Duration;

use rampart_agent::{AgentOptions, AgentState};
use rampart_core::{NodeName, OsRandom, Principal, Resource, Role, Scope, authorize};
use rampart_testkit::spawn_panel_no_forced_2fa;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

async fn link_status(url: &str, node: &str, credential: &str) -> Result<(), String> {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {credential}").parse().unwrap(),
    );
    req.headers_mut()
        .insert("x-rampart-node", node.parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn rotation_delivers_a_new_credential_and_the_old_one_dies_after_the_overlap() {
    let panel = spawn_panel_no_forced_2fa().await;
    let services = panel.services.clone();
    let created = services
        .create_node_unchecked(&NodeName::parse("rot").unwrap(), "", 5657, "")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = rampart_agent::enroll(&panel.url, &created.enroll_token, dir.path())
        .await
        .unwrap();
    let old = state.credential.clone();
    let options = AgentOptions {
        data_dir: dir.path().to_path_buf(),
        read_only: false,
        bind_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        rng: Arc::new(OsRandom),
        sftp_listen: None,
        pull_allow: Vec::new(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(rampart_agent::run(state.clone(), options, async {
        let _ = stopped.await;
    }));
    for _ in 0..100 {
        if services.hub.is_connected(&created.node_id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(services.hub.is_connected(&created.node_id));
    let text = services.metrics.render(services.hub.connected_count());
    assert!(text.contains("\nrampart_agents_connected 1\n"), "{text}");

    let admin = Principal {
        user: rampart_core::UserId(1),
        scopes: Role::Admin.scopes(),
        active: true,
    };
    let granted = authorize(&admin, Scope::NodesEdit, Resource::Global).unwrap();
    assert!(
        services
            .rotate_node_credential(&granted, &created.node_id)
            .await
            .unwrap()
    );
    // The agent saves the new credential.
    let mut new = old.clone();
    for _ in 0..100 {
        new = AgentState::load(dir.path()).unwrap().unwrap().credential;
        if new != old {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(new, old, "the agent received and stored a new credential");

    let link = panel.url.replace("http://", "ws://") + "/agent/link";
    let node = created.node_id.to_string();
    assert!(
        link_status(&link, &node, &old).await.is_ok(),
        "the old credential works during the overlap"
    );
    assert!(link_status(&link, &node, &new).await.is_ok());
    panel.clock.advance(300);
    let refused = link_status(&link, &node, &old).await.unwrap_err();
    assert!(refused.contains("401"), "{refused}");
    assert!(
        link_status(&link, &node, &new).await.is_ok(),
        "the new one keeps working"
    );

    // Rotation needs a connected agent: an offline one could never learn it.
    let _ = stop.send(());
    let _ = agent.await;
    services.hub.disconnect(&created.node_id);
    assert!(
        !services
            .rotate_node_credential(&granted, &created.node_id)
            .await
            .unwrap()
    );
}
