//! The automation story as a script would run it: create a user and an API
//! client with the CLI, get a token, call the API, be refused correctly, and
//! the incident-response commands.

use rampart_testkit::{Binary, TestClient, basic_auth};
use reqwest::Method;

use super::{exe, run_to_end};

async fn token(c: &TestClient, id: &str, secret: &str) -> (u16, String) {
    let res = c
        .request(
            Method::POST,
            "/oauth/token",
            &[
                ("authorization", &basic_auth(id, secret)),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some("grant_type=client_credentials".into()),
        )
        .await;
    let v: serde_json::Value = serde_json::from_str(&res.body).unwrap_or_default();
    (
        res.status,
        v["access_token"].as_str().unwrap_or("").to_owned(),
    )
}

async fn me(c: &TestClient, token: &str) -> u16 {
    c.request(
        Method::GET,
        "/api/v1/me",
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
    .await
    .status
}

#[tokio::test]
async fn script_creates_a_client_gets_a_token_and_calls_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let creds: serde_json::Value =
        super::operator_with_client(dir.path(), data, "users.view,audit.view").await;
    let id = creds["client_id"].as_str().unwrap().to_owned();
    let secret = creds["client_secret"].as_str().unwrap().to_owned();
    assert!(id.starts_with("rc_") && secret.len() == 64);
    // A scope the user does not hold is refused.
    let (code, _, e) = run_to_end(
        &[
            "admin",
            "create-client",
            "--username",
            "ops",
            "--name",
            "ci",
            "--scopes",
            "users.edit",
            "--data-dir",
            data,
        ],
        &[],
    )
    .await;
    assert_ne!(code, 0);
    assert!(e.contains("users.edit"), "{e}");

    let mut panel = Binary::start(
        exe(),
        &["panel", "--listen", "127.0.0.1:0", "--data-dir", data],
        &[],
    );
    let base = super::listening(&panel).await;
    let c = TestClient::new(&base);
    let (status, t1) = token(&c, &id, &secret).await;
    assert_eq!(status, 200);
    assert_eq!(me(&c, &t1).await, 200);
    let users = c
        .request(
            Method::GET,
            "/api/v1/users",
            &[("authorization", &format!("Bearer {t1}"))],
            None,
        )
        .await;
    assert_eq!(users.status, 200);
    assert!(users.body.contains("\"username\":\"ops\""));
    let denied = c
        .request(
            Method::POST,
            "/api/v1/users",
            &[
                ("authorization", &format!("Bearer {t1}")),
                ("content-type", "application/json"),
            ],
            Some(r#"{"username":"eve","password":"x","role":"admin"}"#.into()),
        )
        .await;
    assert_eq!(denied.status, 403);
    assert!(denied.body.contains("insufficient_scope"));

    // Incident response while the panel runs (same store).
    let (code, out, _) = run_to_end(&["admin", "revoke-all-tokens", "--data-dir", data], &[]).await;
    assert_eq!(code, 0);
    assert!(out.contains("1 access token(s) revoked"), "{out}");
    // Another process changed the store: the panel notices within its
    // one-second authentication cache.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(me(&c, &t1).await, 401);
    let (status, t2) = token(&c, &id, &secret).await;
    assert_eq!(status, 200, "the client itself still works");
    let (code, out, _) =
        run_to_end(&["admin", "rotate-client-secrets", "--data-dir", data], &[]).await;
    assert_eq!(code, 0);
    assert!(out.contains("1 client secret(s) rotated"), "{out}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(me(&c, &t2).await, 401);
    assert_eq!(
        token(&c, &id, &secret).await.0,
        401,
        "the old secret is dead"
    );
    panel.stop().await;

    let (_, stdout, _) = run_to_end(&["audit", "export", "--data-dir", data], &[]).await;
    for action in [
        "api_client.create",
        "oauth.token",
        "api_tokens.revoke_all",
        "api_clients.rotate_all",
    ] {
        assert!(stdout.contains(action), "{action} audited");
    }
    assert!(
        !stdout.contains(&secret) && !stdout.contains(&t1),
        "no secret in the audit log"
    );
}
