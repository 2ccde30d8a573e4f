//! Servers in the store on every engine: the per-owner cap holds under 50
//! concurrent creations (a rival's check-then-act race let users exceed
//! theirs), a port is never allocated twice on a node, and grants.

use std::sync::Arc;

use rampart_core::{NodeId, NodeName, Role, RoleName, ScopeSet, ServerId, UnixTime, Username};
use rampart_panel::store::{CreateOutcome, NewNode, NewServer, NewUser, Store};

async fn owner_and_node(store: &Store, name: &str) -> (rampart_core::UserId, NodeId) {
    let owner = store
        .create_user(&NewUser {
            username: &Username::parse(name).unwrap(),
            password_hash: "$argon2id$fake",
            role: &RoleName::from(Role::Operator),
            created_at: UnixTime(1),
        })
        .await
        .unwrap();
    let node = NodeId::generate(&rampart_core::OsRandom);
    store
        .create_node(&NewNode {
            id: &node,
            name: &NodeName::parse(&format!("node-{name}")).unwrap(),
            public_address: "",
            sftp_port: 5657,
            labels: "",
            enroll_token_hash: &ServerId::generate(&rampart_core::OsRandom).to_string(),
            enroll_expires_at: UnixTime(0),
            now: UnixTime(1),
        })
        .await
        .unwrap();
    (owner, node)
}

async fn create(
    store: &Store,
    owner: rampart_core::UserId,
    node: &NodeId,
    ports: &[u16],
    cap: i64,
) -> CreateOutcome {
    let id = ServerId::generate(&rampart_core::OsRandom);
    store
        .create_server(&NewServer {
            id: &id,
            name: "s",
            owner_id: owner,
            node_id: node,
            template_id: None,
            spec_json: "{}",
            variables_json: "{}",
            state: "installing",
            ports,
            default_cap: cap,
            now: UnixTime(2),
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn the_cap_holds_under_fifty_concurrent_creations() {
    let stores = rampart_testkit::stores().await;
    for (engine, store) in &stores.all {
        let (owner, node) = owner_and_node(store, "capped").await;
        store.set_max_servers(owner, Some(3)).await.unwrap();
        let store = Arc::new(store.clone());
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (store, node) = (store.clone(), node.clone());
            tasks.push(tokio::spawn(async move {
                create(&store, owner, &node, &[], 100).await
            }));
        }
        let mut created = 0;
        for t in tasks {
            match t.await.unwrap() {
                CreateOutcome::Created => created += 1,
                CreateOutcome::CapReached(3) => {}
                other => panic!("{engine}: {other:?}"),
            }
        }
        assert_eq!(created, 3, "{engine}: exactly the cap");
        assert_eq!(
            store.list_servers(Some(owner)).await.unwrap().len(),
            3,
            "{engine}"
        );
        // Without a cap of their own, the installation default applies.
        store.set_max_servers(owner, None).await.unwrap();
        assert_eq!(
            create(&store, owner, &node, &[], 3).await,
            CreateOutcome::CapReached(3)
        );
        assert_eq!(
            create(&store, owner, &node, &[], 4).await,
            CreateOutcome::Created
        );
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn a_port_is_never_allocated_twice_on_a_node() {
    let stores = rampart_testkit::stores().await;
    for (engine, store) in &stores.all {
        let (owner, node) = owner_and_node(store, "ports").await;
        let (_, other_node) = owner_and_node(store, "ports2").await;
        let store = Arc::new(store.clone());
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (store, node) = (store.clone(), node.clone());
            tasks.push(tokio::spawn(async move {
                create(&store, owner, &node, &[30001, 30002], 100).await
            }));
        }
        let mut created = 0;
        for t in tasks {
            match t.await.unwrap() {
                CreateOutcome::Created => created += 1,
                CreateOutcome::PortTaken => {}
                other => panic!("{engine}: {other:?}"),
            }
        }
        assert_eq!(created, 1, "{engine}");
        assert_eq!(
            create(&store, owner, &node, &[30002], 100).await,
            CreateOutcome::PortTaken,
            "{engine}"
        );
        assert_eq!(
            create(&store, owner, &other_node, &[30001], 100).await,
            CreateOutcome::Created,
            "{engine}: another node has its own ports"
        );
        let mut used = store.ports_in_use(&node).await.unwrap();
        used.sort_unstable();
        assert_eq!(
            used,
            [30001, 30002],
            "{engine}: a refused creation left nothing"
        );
        assert_eq!(
            store.list_servers(Some(owner)).await.unwrap().len(),
            2,
            "{engine}"
        );
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn grants_are_per_server_and_user() {
    let stores = rampart_testkit::stores().await;
    for (engine, store) in &stores.all {
        let (owner, node) = owner_and_node(store, "granter").await;
        let (grantee, _) = owner_and_node(store, "grantee").await;
        assert_eq!(
            create(store, owner, &node, &[], 10).await,
            CreateOutcome::Created
        );
        let server = store.list_servers(Some(owner)).await.unwrap()[0].id.clone();
        assert!(
            store.list_servers(Some(grantee)).await.unwrap().is_empty(),
            "{engine}"
        );
        let scopes = ScopeSet::parse_list("server.view,server.console").unwrap();
        store
            .put_server_grant(&server, grantee, scopes, UnixTime(3))
            .await
            .unwrap();
        assert_eq!(store.server_grant(&server, grantee).await.unwrap(), scopes);
        assert_eq!(
            store.list_servers(Some(grantee)).await.unwrap().len(),
            1,
            "{engine}"
        );
        assert!(store.delete_server_grant(&server, grantee).await.unwrap());
        assert_eq!(
            store.server_grant(&server, grantee).await.unwrap(),
            ScopeSet::EMPTY
        );
        assert!(store.delete_server(&server).await.unwrap(), "{engine}");
        assert!(
            store.get_server(&server).await.unwrap().is_none(),
            "{engine}"
        );
    }
    stores.cleanup().await;
}

/// Through the API: an administrator sets a user's cap, then 50 concurrent
/// `POST /api/v1/servers` of that user create exactly that many.
#[tokio::test]
async fn the_cap_holds_through_the_api() {
    let panel = rampart_testkit::spawn_panel_no_forced_2fa().await;
    let admin = panel.user("ada", "admin").await;
    let oscar = panel.user("oscar", "operator").await;
    let admin_token = panel.api_token(admin, "admin").await;
    let token = panel.api_token(oscar, "server.view,server.edit").await;
    let node = panel
        .services
        .create_node_unchecked(&NodeName::parse("capnode").unwrap(), "", 5657, "")
        .await
        .unwrap()
        .node_id;
    let bearer = |t: &str| format!("Bearer {t}");
    let patch = |body: &str| {
        let client = panel.client();
        let auth = bearer(&admin_token);
        let body = body.to_owned();
        let path = format!("/api/v1/users/{}", oscar.0);
        async move {
            client
                .request(
                    reqwest::Method::PATCH,
                    &path,
                    &[
                        ("authorization", &auth),
                        ("content-type", "application/json"),
                    ],
                    Some(body),
                )
                .await
        }
    };
    assert_eq!(patch(r#"{"max_servers":-5}"#).await.status, 400);
    assert_eq!(patch(r#"{"max_servers":3}"#).await.status, 200);
    let body =
        serde_json::json!({"name": "s", "node_id": node.to_string(), "template_id": "generic"})
            .to_string();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = panel.client();
        let (auth, body) = (bearer(&token), body.clone());
        tasks.push(tokio::spawn(async move {
            client
                .request(
                    reqwest::Method::POST,
                    "/api/v1/servers",
                    &[
                        ("authorization", &auth),
                        ("content-type", "application/json"),
                    ],
                    Some(body),
                )
                .await
        }));
    }
    let mut statuses = std::collections::BTreeMap::new();
    for t in tasks {
        let res = t.await.unwrap();
        *statuses.entry(res.status).or_insert(0) += 1;
        if res.status == 409 {
            assert!(res.body.contains("3 servers"), "{}", res.body);
        }
    }
    assert_eq!(statuses.get(&201), Some(&3), "{statuses:?}");
    assert_eq!(statuses.get(&409), Some(&47), "{statuses:?}");
    // Back to the default (10): more may be created.
    assert_eq!(patch(r#"{"max_servers":null}"#).await.status, 200);
    let res = panel
        .client()
        .request(
            reqwest::Method::POST,
            "/api/v1/servers",
            &[
                ("authorization", &bearer(&token)),
                ("content-type", "application/json"),
            ],
            Some(body),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
}
