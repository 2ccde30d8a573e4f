//! The REST API and OAuth2 endpoints (SPEC R30–R32), over real HTTP.

use std::collections::BTreeSet;

use rampart_panel::PanelSettings;
use rampart_testkit::{
    GOOD_PASSWORD, TestPanel, TestResponse, basic_auth, spawn_panel_no_forced_2fa, spawn_panel_with,
};
use reqwest::Method;
use serde_json::{Value, json};

async fn call(
    panel: &TestPanel,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> TestResponse {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    panel
        .client()
        .request(method, path, &headers, body.map(|b| b.to_string()))
        .await
}

fn json_of(res: &TestResponse) -> Value {
    serde_json::from_str(&res.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", res.body))
}

fn error_code(res: &TestResponse) -> String {
    json_of(res)["error"]["code"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

async fn token_request(panel: &TestPanel, headers: &[(&str, &str)], body: &str) -> TestResponse {
    let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    panel
        .client()
        .request(Method::POST, "/oauth/token", &all, Some(body.to_owned()))
        .await
}

async fn admin_panel() -> TestPanel {
    let panel = spawn_panel_no_forced_2fa().await;
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;
    panel
}

/// Extra headers, body, expected status, error code, Basic challenge expected.
type TokenCase<'a> = (Vec<(&'a str, String)>, String, u16, &'a str, bool);

#[tokio::test]
async fn token_endpoint_follows_rfc_6749() {
    let panel = admin_panel().await;
    let ada = rampart_core::UserId(1);
    let (id, secret) = panel.api_client(ada, "users.view,audit.view").await;
    let basic = basic_auth(&id, &secret);

    let ok = token_request(
        &panel,
        &[("authorization", &basic)],
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.header("cache-control"), Some("no-store"));
    assert_eq!(ok.header("pragma"), Some("no-cache"));
    let body = json_of(&ok);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "users.view audit.view");
    assert_eq!(body["access_token"].as_str().unwrap().len(), 64);
    assert!(body.get("refresh_token").is_none());

    let post = token_request(
        &panel,
        &[],
        &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
    )
    .await;
    assert_eq!(post.status, 200, "client_secret_post works too");

    let cases: Vec<TokenCase> = vec![
        (
            vec![],
            "grant_type=client_credentials".into(),
            401,
            "invalid_client",
            true,
        ),
        (
            vec![("authorization", basic_auth(&id, &"0".repeat(64)))],
            "grant_type=client_credentials".into(),
            401,
            "invalid_client",
            true,
        ),
        (
            vec![(
                "authorization",
                basic_auth("rc_000000000000000000000000", &secret),
            )],
            "grant_type=client_credentials".into(),
            401,
            "invalid_client",
            true,
        ),
        (
            vec![],
            format!(
                "grant_type=client_credentials&client_id={id}&client_secret={}",
                "0".repeat(64)
            ),
            400,
            "invalid_client",
            false,
        ),
        (
            vec![("authorization", basic.clone())],
            format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
            400,
            "invalid_request",
            false,
        ),
        (
            vec![("authorization", "Basic !!!".into())],
            "grant_type=client_credentials".into(),
            400,
            "invalid_request",
            false,
        ),
        (
            vec![("authorization", basic.clone())],
            "".into(),
            400,
            "invalid_request",
            false,
        ),
        (
            vec![("authorization", basic.clone())],
            "grant_type=password".into(),
            400,
            "unsupported_grant_type",
            false,
        ),
        (
            vec![("authorization", basic.clone())],
            "grant_type=client_credentials&scope=users.edit".into(),
            400,
            "invalid_scope",
            false,
        ),
        (
            vec![("authorization", basic.clone())],
            "grant_type=client_credentials&scope=nonsense".into(),
            400,
            "invalid_scope",
            false,
        ),
    ];
    for (headers, body, status, code, challenge) in cases {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = token_request(&panel, &h, &body).await;
        assert_eq!(res.status, status, "{h:?} {body}: {}", res.body);
        assert_eq!(json_of(&res)["error"], code, "{h:?} {body}");
        assert_eq!(res.header("cache-control"), Some("no-store"));
        assert_eq!(
            res.header("www-authenticate")
                .is_some_and(|v| v.starts_with("Basic")),
            challenge,
            "{h:?} {body}"
        );
        panel.clock.advance(13); // stay under the per-IP failure limit
    }
}

#[tokio::test]
async fn scope_narrowing_and_bearer_errors_follow_rfc_6750() {
    let panel = admin_panel().await;
    let (id, secret) = panel
        .api_client(rampart_core::UserId(1), "users.view,audit.view")
        .await;
    let res = token_request(
        &panel,
        &[("authorization", &basic_auth(&id, &secret))],
        "grant_type=client_credentials&scope=users.view",
    )
    .await;
    let token = json_of(&res)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(json_of(&res)["scope"], "users.view");

    let me = call(&panel, Method::GET, "/api/v1/me", &token, None).await;
    assert_eq!(me.status, 200);
    assert_eq!(json_of(&me)["scopes"], json!(["users.view"]));
    assert_eq!(
        call(&panel, Method::GET, "/api/v1/users", &token, None)
            .await
            .status,
        200
    );

    let denied = call(&panel, Method::GET, "/api/v1/audit", &token, None).await;
    assert_eq!(denied.status, 403);
    assert_eq!(error_code(&denied), "insufficient_scope");
    assert_eq!(
        denied.header("www-authenticate"),
        Some("Bearer realm=\"rampart\", error=\"insufficient_scope\", scope=\"audit.view\"")
    );

    let none = panel.client().get("/api/v1/me").await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.header("www-authenticate"),
        Some("Bearer realm=\"rampart\""),
        "no error code without credentials"
    );
    for bad in ["0".repeat(64), "short".into(), format!("{token}x")] {
        let res = call(&panel, Method::GET, "/api/v1/me", &bad, None).await;
        assert_eq!(res.status, 401);
        assert_eq!(error_code(&res), "invalid_token");
        assert!(
            res.header("www-authenticate")
                .unwrap()
                .contains("error=\"invalid_token\"")
        );
    }
    let basic = panel
        .client()
        .request(
            Method::GET,
            "/api/v1/me",
            &[("authorization", "Basic Zm9vOmJhcg==")],
            None,
        )
        .await;
    assert_eq!(basic.status, 401);

    // Expiry after one hour (injected clock).
    panel.clock.advance(3599);
    assert_eq!(
        call(&panel, Method::GET, "/api/v1/me", &token, None)
            .await
            .status,
        200
    );
    panel.clock.advance(1);
    let expired = call(&panel, Method::GET, "/api/v1/me", &token, None).await;
    assert_eq!(
        (expired.status, error_code(&expired).as_str()),
        (401, "invalid_token")
    );
}

#[tokio::test]
async fn regeneration_and_revocation_kill_tokens() {
    let panel = admin_panel().await;
    let ada = rampart_core::UserId(1);
    let (id, secret) = panel.api_client(ada, "users.view").await;
    let basic = basic_auth(&id, &secret);
    let get_token = |b: String| {
        let p = &panel;
        async move {
            let res =
                token_request(p, &[("authorization", &b)], "grant_type=client_credentials").await;
            (
                res.status,
                json_of(&res)["access_token"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        }
    };
    let (_, t1) = get_token(basic.clone()).await;
    let (_, t2) = get_token(basic.clone()).await;

    // RFC 7009 revocation of one token.
    let revoke = panel
        .client()
        .request(
            Method::POST,
            "/oauth/revoke",
            &[
                ("authorization", &basic),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(format!("token={t1}")),
        )
        .await;
    assert_eq!(revoke.status, 200);
    assert_eq!(
        call(&panel, Method::GET, "/api/v1/me", &t1, None)
            .await
            .status,
        401
    );
    assert_eq!(
        call(&panel, Method::GET, "/api/v1/me", &t2, None)
            .await
            .status,
        200
    );
    let unknown = panel
        .client()
        .request(
            Method::POST,
            "/oauth/revoke",
            &[
                ("authorization", &basic),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some("token=nope".into()),
        )
        .await;
    assert_eq!(unknown.status, 200, "unknown tokens are not an error");

    // Regenerating the secret kills the old secret and every token.
    let regen = call(
        &panel,
        Method::POST,
        &format!("/api/v1/api-clients/{id}/secret"),
        &t2,
        None,
    )
    .await;
    assert_eq!(regen.status, 200, "{}", regen.body);
    let new_secret = json_of(&regen)["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(
        call(&panel, Method::GET, "/api/v1/me", &t2, None)
            .await
            .status,
        401
    );
    assert_eq!(get_token(basic.clone()).await.0, 401, "old secret dead");
    let (status, t3) = get_token(basic_auth(&id, &new_secret)).await;
    assert_eq!(status, 200);

    // Revoking the client kills its tokens and its credentials.
    let del = call(
        &panel,
        Method::DELETE,
        &format!("/api/v1/api-clients/{id}"),
        &t3,
        None,
    )
    .await;
    assert_eq!(del.status, 204);
    assert_eq!(
        call(&panel, Method::GET, "/api/v1/me", &t3, None)
            .await
            .status,
        401
    );
    assert_eq!(get_token(basic_auth(&id, &new_secret)).await.0, 401);
}

#[tokio::test]
async fn a_token_never_reaches_another_users_resources() {
    let panel = admin_panel().await;
    let alice = panel.user("alice", "operator").await;
    let bob = panel.user("bob", "viewer").await;
    let bob_token = panel.api_token(bob, "server.view").await;
    let (alice_client, _) = panel.api_client(alice, "users.view").await;
    let _alice_session = panel.session_for(alice).await;
    let alice_session_id = panel
        .services
        .store
        .list_user_sessions(alice)
        .await
        .unwrap()[0]
        .public_id
        .clone();
    for (method, path) in [
        (Method::GET, format!("/api/v1/users/{alice}")),
        (Method::PATCH, format!("/api/v1/users/{alice}")),
        (Method::DELETE, format!("/api/v1/users/{alice}")),
        (Method::GET, format!("/api/v1/api-clients/{alice_client}")),
        (
            Method::DELETE,
            format!("/api/v1/api-clients/{alice_client}"),
        ),
        (
            Method::POST,
            format!("/api/v1/api-clients/{alice_client}/secret"),
        ),
        (
            Method::DELETE,
            format!("/api/v1/sessions/{alice_session_id}"),
        ),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"active": false}));
        let res = call(&panel, method.clone(), &path, &bob_token, body).await;
        assert_eq!(res.status, 404, "{method} {path}: {}", res.body);
        assert_eq!(error_code(&res), "not_found");
    }
    let clients = call(&panel, Method::GET, "/api/v1/api-clients", &bob_token, None).await;
    assert!(!clients.body.contains(&alice_client));
    let all = call(
        &panel,
        Method::GET,
        "/api/v1/api-clients?all=true",
        &bob_token,
        None,
    )
    .await;
    assert_eq!(all.status, 403);
    assert!(
        panel
            .services
            .store
            .get_user(alice)
            .await
            .unwrap()
            .unwrap()
            .active,
        "nothing changed"
    );
}

#[tokio::test]
async fn tokens_follow_the_users_current_scopes_and_state() {
    let panel = admin_panel().await;
    let olga = panel.user("olga", "operator").await;
    let token = panel.api_token(olga, "users.view").await;
    assert_eq!(
        call(&panel, Method::GET, "/api/v1/users", &token, None)
            .await
            .status,
        200
    );
    // A client can never hold more than its creator.
    let (id, secret) = panel.api_client(olga, "users.view").await;
    let admin_token = panel.api_token(rampart_core::UserId(1), "users.edit").await;
    let demote = call(
        &panel,
        Method::PATCH,
        &format!("/api/v1/users/{olga}"),
        &admin_token,
        Some(json!({"role": "developer"})),
    )
    .await;
    assert_eq!(demote.status, 200, "{}", demote.body);
    let res = call(&panel, Method::GET, "/api/v1/users", &token, None).await;
    assert_eq!(res.status, 403, "a lost scope is lost in existing tokens");
    let fresh = token_request(
        &panel,
        &[("authorization", &basic_auth(&id, &secret))],
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(
        (fresh.status, json_of(&fresh)["error"].as_str()),
        (400, Some("invalid_scope")),
        "and in new ones"
    );
    // Deactivation ends tokens at once.
    let dev_token = panel.api_token(olga, "server.view").await;
    assert_eq!(
        call(&panel, Method::GET, "/api/v1/me", &dev_token, None)
            .await
            .status,
        200
    );
    let off = call(
        &panel,
        Method::PATCH,
        &format!("/api/v1/users/{olga}"),
        &admin_token,
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(off.status, 200);
    assert_eq!(
        call(&panel, Method::GET, "/api/v1/me", &dev_token, None)
            .await
            .status,
        401
    );
    // Creating a client through a token cannot exceed the token's scopes.
    let narrow = panel.api_token(rampart_core::UserId(1), "users.view").await;
    let res = call(
        &panel,
        Method::POST,
        "/api/v1/api-clients",
        &narrow,
        Some(json!({"name": "x", "scopes": ["users.edit"]})),
    )
    .await;
    assert_eq!(res.status, 403, "{}", res.body);
    let res = call(
        &panel,
        Method::POST,
        "/api/v1/api-clients",
        &narrow,
        Some(json!({"name": "x", "scopes": ["users.view"]})),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert!(
        json_of(&res)["client_id"]
            .as_str()
            .unwrap()
            .starts_with("rc_")
    );
}

#[tokio::test]
async fn json_only_no_mass_assignment_and_never_a_500() {
    let panel = admin_panel().await;
    let vic = panel.user("vic", "viewer").await;
    let admin = panel
        .api_token(rampart_core::UserId(1), "users.edit,users.view")
        .await;
    let viewer = panel.api_token(vic, "server.view").await;
    let auth = format!("Bearer {admin}");
    let raw = |ct: &'static str, body: &'static str| {
        let a = auth.clone();
        let p = &panel;
        async move {
            p.client()
                .request(
                    Method::POST,
                    "/api/v1/users",
                    &[("authorization", a.as_str()), ("content-type", ct)],
                    Some(body.into()),
                )
                .await
        }
    };
    let res = raw(
        "text/plain",
        r#"{"username":"zed","password":"x","role":"viewer"}"#,
    )
    .await;
    assert_eq!(
        (res.status, error_code(&res).as_str()),
        (415, "unsupported_media_type")
    );
    for (body, why) in [
        (
            r#"{"username":"zed","password":"correct horse battery staple","role":"viewer","admin":true}"#,
            "unknown field",
        ),
        (
            r#"{"username":5,"password":"x","role":"viewer"}"#,
            "wrong type",
        ),
        (r#"{"username":"zed""#, "truncated"),
        ("[]", "not an object"),
        ("", "empty"),
    ] {
        let res = raw("application/json", body).await;
        assert_eq!(res.status, 400, "{why}: {}", res.body);
        assert_eq!(error_code(&res), "invalid_request", "{why}");
    }
    let big = format!(
        r#"{{"username":"{}","password":"x","role":"viewer"}}"#,
        "a".repeat(100_000)
    );
    let res = panel
        .client()
        .request(
            Method::POST,
            "/api/v1/users",
            &[
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ],
            Some(big),
        )
        .await;
    assert_eq!(res.status, 413);
    assert_eq!(error_code(&res), "payload_too_large");
    // Mass assignment: a viewer PATCHing themself to admin changes nothing.
    let res = call(
        &panel,
        Method::PATCH,
        &format!("/api/v1/users/{vic}"),
        &viewer,
        Some(json!({"role": "admin"})),
    )
    .await;
    assert!(res.status == 403 || res.status == 404, "{}", res.status);
    let res = call(
        &panel,
        Method::PATCH,
        &format!("/api/v1/users/{vic}"),
        &admin,
        Some(json!({"role": "admin", "password_hash": "x"})),
    )
    .await;
    assert_eq!(
        res.status, 400,
        "unknown fields are refused even for admins"
    );
    assert_eq!(
        panel
            .services
            .store
            .get_user(vic)
            .await
            .unwrap()
            .unwrap()
            .role
            .as_str(),
        "viewer"
    );
    // Unknown paths and methods answer JSON.
    let res = call(&panel, Method::GET, "/api/v1/nothing", &admin, None).await;
    assert_eq!((res.status, error_code(&res).as_str()), (404, "not_found"));
    let res = call(&panel, Method::PUT, "/api/v1/me", &admin, None).await;
    assert_eq!(
        (res.status, error_code(&res).as_str()),
        (405, "method_not_allowed")
    );
    let res = call(
        &panel,
        Method::GET,
        "/api/v1/users/not-a-number",
        &admin,
        None,
    )
    .await;
    assert_eq!(res.status, 400, "{}", res.body);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    for q in ["limit=0", "limit=101", "cursor=abc", "limit=x", "bogus=1"] {
        let res = call(
            &panel,
            Method::GET,
            &format!("/api/v1/users?{q}"),
            &admin,
            None,
        )
        .await;
        assert_eq!(res.status, 400, "{q}: {}", res.body);
    }
}

#[tokio::test]
async fn pagination_walks_every_user_once() {
    let panel = admin_panel().await;
    for i in 0..6 {
        panel.user(&format!("user{i}"), "viewer").await;
    }
    let token = panel.api_token(rampart_core::UserId(1), "users.view").await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let res = call(
            &panel,
            Method::GET,
            &format!("/api/v1/users?limit=3&cursor={cursor}"),
            &token,
            None,
        )
        .await;
        let page = json_of(&res);
        for u in page["items"].as_array().unwrap() {
            seen.push(u["username"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 7);
}

#[tokio::test]
async fn role_rate_limits_answer_429_with_headers_and_are_audited() {
    let panel = admin_panel().await;
    let vic = panel.user("vic", "viewer").await;
    let token = panel.api_token(vic, "server.view").await;
    panel.clock.set(rampart_core::UnixTime(1_800_000_060)); // the start of a one-minute window
    let first = call(&panel, Method::GET, "/api/v1/me", &token, None).await;
    assert_eq!(first.header("ratelimit-limit"), Some("100"));
    assert_eq!(first.header("ratelimit-remaining"), Some("99"));
    for _ in 1..100 {
        assert_eq!(
            call(&panel, Method::GET, "/api/v1/me", &token, None)
                .await
                .status,
            200
        );
    }
    panel.clock.advance(15);
    let limited = call(&panel, Method::GET, "/api/v1/me", &token, None).await;
    assert_eq!(limited.status, 429);
    assert_eq!(error_code(&limited), "rate_limited");
    assert_eq!(limited.header("retry-after"), Some("45"));
    assert_eq!(limited.header("ratelimit-remaining"), Some("0"));
    assert_eq!(
        call(&panel, Method::GET, "/api/v1/me", &token, None)
            .await
            .status,
        429
    );
    let admin_token = panel.api_token(rampart_core::UserId(1), "users.view").await;
    let res = call(&panel, Method::GET, "/api/v1/me", &admin_token, None).await;
    assert_eq!(
        res.header("ratelimit-limit"),
        Some("1000"),
        "admins have their own, higher limit"
    );
    panel.clock.advance(45);
    assert_eq!(
        call(&panel, Method::GET, "/api/v1/me", &token, None)
            .await
            .status,
        200,
        "next window"
    );
    let suspicious: Vec<_> = panel
        .audit_records()
        .await
        .into_iter()
        .filter(|r| r.body.action == "api.rate_limited")
        .collect();
    assert_eq!(suspicious.len(), 1, "one SUSPICIOUS record per window");
    assert_eq!(suspicious[0].body.event_type, "SUSPICIOUS");
}

#[tokio::test]
async fn configured_rate_limits_apply() {
    let mut settings = PanelSettings {
        require_2fa_for: Vec::new(),
        ..PanelSettings::default()
    };
    settings.api.rate_limits = vec![(rampart_core::RoleName::parse("viewer").unwrap(), 2)];
    let panel = spawn_panel_with(settings).await;
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;
    let vic = panel.user("vic", "viewer").await;
    let token = panel.api_token(vic, "server.view").await;
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(
                call(&panel, Method::GET, "/api/v1/me", &token, None)
                    .await
                    .status,
            );
        }
        v
    };
    assert_eq!(statuses, [200, 200, 429]);
}

#[tokio::test]
async fn cookie_calls_need_the_csrf_header_bearer_calls_do_not() {
    let panel = admin_panel().await;
    let browser = panel.client();
    panel.login(&browser, "ada", GOOD_PASSWORD).await;
    assert_eq!(
        browser.get("/api/v1/me").await.status,
        200,
        "GET with the cookie works"
    );
    let csrf = browser.get("/").await.csrf_token().unwrap();
    let origin = panel.url.clone();
    let body = r#"{"name":"via-cookie","scopes":["users.view"]}"#;
    let no_header = browser
        .request(
            Method::POST,
            "/api/v1/api-clients",
            &[("origin", &origin), ("content-type", "application/json")],
            Some(body.into()),
        )
        .await;
    assert_eq!(
        (no_header.status, error_code(&no_header).as_str()),
        (403, "csrf")
    );
    let foreign = browser
        .request(
            Method::POST,
            "/api/v1/api-clients",
            &[
                ("origin", "https://evil.example"),
                ("content-type", "application/json"),
                ("x-csrf-token", &csrf),
            ],
            Some(body.into()),
        )
        .await;
    assert_eq!(foreign.status, 403);
    let ok = browser
        .request(
            Method::POST,
            "/api/v1/api-clients",
            &[
                ("origin", &origin),
                ("content-type", "application/json"),
                ("x-csrf-token", &csrf),
            ],
            Some(body.into()),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    // A bearer call needs neither Origin nor a CSRF token; a cookie sent
    // alongside is ignored.
    let token = panel.api_token(rampart_core::UserId(1), "users.view").await;
    let res = panel
        .client()
        .request(
            Method::POST,
            "/api/v1/api-clients",
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "application/json"),
            ],
            Some(body.into()),
        )
        .await;
    assert_eq!(res.status, 201);
}

#[tokio::test]
async fn usage_is_logged_per_client() {
    let panel = admin_panel().await;
    let (id, secret) = panel
        .api_client(rampart_core::UserId(1), "users.view")
        .await;
    let res = token_request(
        &panel,
        &[("authorization", &basic_auth(&id, &secret))],
        "grant_type=client_credentials",
    )
    .await;
    let token = json_of(&res)["access_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        call(&panel, Method::GET, "/api/v1/me", &token, None).await;
    }
    let res = call(
        &panel,
        Method::GET,
        &format!("/api/v1/api-clients/{id}"),
        &token,
        None,
    )
    .await;
    let c = json_of(&res);
    assert_eq!(c["request_count"], 4, "three calls plus this one");
    assert_eq!(c["last_ip"], "127.0.0.1");
    assert_eq!(c["last_used_at"], panel.clock_now());
}

#[tokio::test]
async fn openapi_document_matches_the_routes() {
    let panel = admin_panel().await;
    let res = panel.client().get("/api/v1/openapi.json").await;
    assert_eq!(res.status, 200);
    let doc = json_of(&res);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = rampart_panel::web::route_list()
        .into_iter()
        .filter(|(_, p)| p.starts_with("/api/") || p.starts_with("/oauth/"))
        .map(|(m, p)| (m.to_string(), p.to_owned()))
        .collect();
    assert_eq!(documented, served, "OpenAPI paths and API routes differ");
    // Every referenced schema exists.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = res.body;
    for part in text.split("\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "missing schema {name}");
    }
}

#[tokio::test]
async fn api_clients_page_creates_shows_the_secret_once_regenerates_and_revokes() {
    let panel = admin_panel().await;
    let browser = panel.client();
    panel.login(&browser, "ada", GOOD_PASSWORD).await;
    let page = browser.get("/account/api-clients").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No API clients yet"));
    let csrf = page.csrf_token().unwrap();
    let created = browser
        .post_form(
            "/account/api-clients",
            &[
                ("name", "deploy bot"),
                ("scope", "users.view"),
                ("expires_in_days", "30"),
                ("ip_allowlist", "127.0.0.1"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.element_text("id=\"client-id\"").unwrap();
    let secret = created.element_text("id=\"client-secret\"").unwrap();
    assert!(id.starts_with("rc_") && secret.len() == 64);
    let again = browser.get("/account/api-clients").await;
    assert!(again.body.contains(&id) && again.body.contains("deploy bot"));
    assert!(!again.body.contains(&secret), "the secret is shown once");
    let ok = token_request(
        &panel,
        &[("authorization", &basic_auth(&id, &secret))],
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(ok.status, 200);
    // A scope the user lacks is refused (admins hold all, so use a viewer).
    let vic = panel.user("vic", "viewer").await;
    let viewer = panel.session_for(vic).await;
    let vcsrf = viewer
        .get("/account/api-clients")
        .await
        .csrf_token()
        .unwrap();
    let refused = viewer
        .post_form(
            "/account/api-clients",
            &[
                ("name", "x"),
                ("scope", "users.edit"),
                ("csrf_token", &vcsrf),
            ],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("users.edit"));
    // Regenerate: a new secret, the old one dead.
    let regen = browser
        .post_form(
            &format!("/account/api-clients/{id}/secret"),
            &[("csrf_token", &csrf)],
        )
        .await;
    let new_secret = regen.element_text("id=\"client-secret\"").unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(
        token_request(
            &panel,
            &[("authorization", &basic_auth(&id, &secret))],
            "grant_type=client_credentials"
        )
        .await
        .status,
        401
    );
    // Another user cannot touch it; its owner and admins can revoke it.
    let res = viewer
        .post_form(
            &format!("/account/api-clients/{id}/revoke"),
            &[("csrf_token", &vcsrf)],
        )
        .await;
    assert_eq!(res.status, 404);
    let admin_page = browser.get("/admin/api-clients").await;
    assert!(admin_page.body.contains(&id));
    let res = browser
        .post_form(
            &format!("/account/api-clients/{id}/revoke"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.location(), Some("/account/api-clients"));
    assert!(
        browser
            .get("/account/api-clients")
            .await
            .body
            .contains("revoked")
    );
    assert_eq!(
        token_request(
            &panel,
            &[("authorization", &basic_auth(&id, &new_secret))],
            "grant_type=client_credentials"
        )
        .await
        .status,
        401
    );
}

#[tokio::test]
async fn metrics_count_security_events_for_admins_only() {
    let panel = admin_panel().await;
    panel
        .login(&panel.client(), "ada", "wrong password entirely")
        .await;
    let vic = panel.user("vic", "viewer").await;
    let viewer = panel.api_token(vic, "server.view").await;
    assert_eq!(
        call(&panel, Method::GET, "/api/v1/users", &viewer, None)
            .await
            .status,
        403
    );
    let admin = panel.api_token(rampart_core::UserId(1), "admin").await;
    let res = call(&panel, Method::GET, "/metrics", &admin, None).await;
    assert_eq!(res.status, 200);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let value = |name: &str| -> u64 {
        res.body
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in {}", res.body))
    };
    assert_eq!(value("rampart_auth_failures_total"), 1);
    assert_eq!(value("rampart_authz_denials_total"), 1);
    assert_eq!(value("rampart_agents_connected"), 0);
    assert_eq!(value("rampart_rate_limit_hits_total"), 0);
    assert_eq!(
        call(&panel, Method::GET, "/metrics", &viewer, None)
            .await
            .status,
        403
    );
    assert_eq!(panel.client().get("/metrics").await.status, 401);
}
