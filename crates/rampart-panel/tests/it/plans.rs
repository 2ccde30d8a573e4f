//! Plans: named limit packages assigned to users bound their servers'
//! limits and count; a user's own cap overrides the plan's.

use rampart_core::NodeName;
use serde_json::{Value, json};

#[tokio::test]
async fn a_plan_bounds_limits_and_count() {
    let panel = rampart_testkit::spawn_panel_no_forced_2fa().await;
    let admin = panel.user("ada", "admin").await;
    let oscar = panel.user("oscar", "operator").await;
    let admin_token = panel.api_token(admin, "admin").await;
    let token = panel.api_token(oscar, "server.view,server.edit").await;
    let node = panel
        .services
        .create_node_unchecked(&NodeName::parse("plannode").unwrap(), "", 5657, "")
        .await
        .unwrap()
        .node_id;
    let call = |token: &str, method: reqwest::Method, path: &str, body: Option<Value>| {
        let client = panel.client();
        let auth = format!("Bearer {token}");
        let path = path.to_owned();
        async move {
            let res = client
                .request(
                    method,
                    &path,
                    &[
                        ("authorization", &auth),
                        ("content-type", "application/json"),
                    ],
                    body.map(|b| b.to_string()),
                )
                .await;
            (
                res.status,
                serde_json::from_str::<Value>(&res.body).unwrap_or(Value::Null),
            )
        }
    };
    use reqwest::Method;
    let plan = json!({"name": "small", "memory_mb": 256, "cpu_percent": 50, "pids": 64,
        "disk_mb": 500, "max_servers": 2});
    assert_eq!(
        call(&token, Method::POST, "/api/v1/plans", Some(plan.clone()))
            .await
            .0,
        403
    );
    assert_eq!(
        call(&admin_token, Method::POST, "/api/v1/plans", Some(plan))
            .await
            .0,
        200
    );
    let bad = json!({"name": "Bad Name", "memory_mb": 256, "cpu_percent": 50, "pids": 64,
        "disk_mb": 500, "max_servers": 2});
    assert_eq!(
        call(&admin_token, Method::POST, "/api/v1/plans", Some(bad))
            .await
            .0,
        400
    );
    let user_path = format!("/api/v1/users/{}", oscar.0);
    let (status, _) = call(
        &admin_token,
        Method::PATCH,
        &user_path,
        Some(json!({"plan": "nope"})),
    )
    .await;
    assert_eq!(status, 400, "unknown plan");
    let (status, _) = call(
        &admin_token,
        Method::PATCH,
        &user_path,
        Some(json!({"plan": "small"})),
    )
    .await;
    assert_eq!(status, 200);

    let create = |limits: Option<Value>| {
        let mut body = json!({"name": "s", "node_id": node.to_string(), "template_id": "generic"});
        if let Some(l) = limits {
            body["limits"] = l;
        }
        call(&token, Method::POST, "/api/v1/servers", Some(body))
    };
    let (status, v) = create(None).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["limits"]["memory_mb"], 256, "the plan's limits: {v}");
    assert_eq!(v["limits"]["cpu_percent"], 50);
    let (status, v) = create(Some(
        json!({"memory_mb": 1024, "cpu_percent": 50, "pids": 64, "disk_mb": 100}),
    ))
    .await;
    assert_eq!(status, 400, "beyond the plan: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("plan small"),
        "{v}"
    );
    let (status, _) = create(Some(
        json!({"memory_mb": 128, "cpu_percent": 25, "pids": 32, "disk_mb": 100}),
    ))
    .await;
    assert_eq!(status, 201, "within the plan");
    let (status, v) = create(None).await;
    assert_eq!(status, 409, "the plan allows two: {v}");
    // The user's own cap overrides the plan's.
    call(
        &admin_token,
        Method::PATCH,
        &user_path,
        Some(json!({"max_servers": 3})),
    )
    .await;
    assert_eq!(create(None).await.0, 201);

    let (status, _) = call(&admin_token, Method::DELETE, "/api/v1/plans/small", None).await;
    assert_eq!(status, 409, "in use");
    call(
        &admin_token,
        Method::PATCH,
        &user_path,
        Some(json!({"plan": null})),
    )
    .await;
    let (status, _) = call(&admin_token, Method::DELETE, "/api/v1/plans/small", None).await;
    assert_eq!(status, 204);
    let (_, list) = call(&admin_token, Method::GET, "/api/v1/plans", None).await;
    assert_eq!(list["items"], json!([]));
}
