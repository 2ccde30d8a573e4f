//! The file manager's listing through the panel and the real agent code
//! (no Docker needed: the agent reads the volume directly): the contract's
//! shape, escapes refused, other tenants 404.

use crate::files_rig::files_rig;
use serde_json::Value;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_files_page_offers_changes_only_to_those_who_may_make_them() {
    let rig = files_rig(8).await;
    std::fs::write(rig.volume.join("server.properties"), "motd=hi\n").unwrap();
    let id = &rig.id;
    // tina may look at the files, not change them.
    let token = rig
        .panel
        .api_token(rig.owner, "server.view,server.edit")
        .await;
    let res = rig
        .panel
        .client()
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/servers/{id}/users"),
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "application/json"),
            ],
            Some(
                serde_json::json!({"user_id": rig.tenant.0, "scopes": ["server.view", "server.files.view"]})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.body);

    let page = |user| {
        let panel = &rig.panel;
        async move {
            panel
                .session_for(user)
                .await
                .get(&format!("/servers/{id}/files?path=/"))
                .await
        }
    };
    let owner = page(rig.owner).await;
    assert_eq!(owner.status, 200);
    for marker in [
        "data-can-edit",
        "upload-input",
        "data-action=\"edit\"",
        "editor-text",
    ] {
        assert!(owner.body.contains(marker), "the owner lacks {marker}");
    }
    let viewer = page(rig.tenant).await;
    assert_eq!(viewer.status, 200, "{}", viewer.body);
    assert!(viewer.body.contains("server.properties"));
    for marker in [
        "data-can-edit",
        "upload-input",
        "data-action=",
        "editor-text",
    ] {
        assert!(
            !viewer.body.contains(marker),
            "a viewer is offered {marker}"
        );
    }
}
