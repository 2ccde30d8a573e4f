//! Unauthorized coverage (DESIGN "Unauthorized coverage test"): every route
//! × {anonymous, viewer, developer, operator, admin, another tenant} with the
//! expected status, and a second test that fails when a route exists that
//! this table lacks.
//!
//! Requests carry valid CSRF tokens and the panel's Origin, so what is
//! tested is authentication and authorization. Resource ids name a user who
//! is not the caller; `{id}` of a session is another user's session.

use std::collections::BTreeSet;

use rampart_core::SecretToken;
use rampart_testkit::{GOOD_PASSWORD, TestPanel, spawn_panel_no_forced_2fa};
use reqwest::Method;

const WHO: [&str; 6] = [
    "anonymous",
    "viewer",
    "developer",
    "operator",
    "admin",
    "tenant",
];

struct Case {
    method: Method,
    route: &'static str,
    fields: &'static [(&'static str, &'static str)],
    /// A JSON body (API routes).
    json: Option<&'static str>,
    expect: [u16; 6],
}

const fn get(route: &'static str, expect: [u16; 6]) -> Case {
    Case {
        method: Method::GET,
        route,
        fields: &[],
        json: None,
        expect,
    }
}

const fn post(
    route: &'static str,
    fields: &'static [(&'static str, &'static str)],
    expect: [u16; 6],
) -> Case {
    Case {
        method: Method::POST,
        route,
        fields,
        json: None,
        expect,
    }
}

/// An API call with the session cookie, `X-CSRF-Token` and a JSON body.
const fn api(
    method: Method,
    route: &'static str,
    json: Option<&'static str>,
    expect: [u16; 6],
) -> Case {
    Case {
        method,
        route,
        fields: &[],
        json,
        expect,
    }
}

const ALL_200: [u16; 6] = [200; 6];
const SIGNED_IN_200: [u16; 6] = [303, 200, 200, 200, 200, 200];
const SIGNED_IN_400: [u16; 6] = [303, 400, 400, 400, 400, 400];
const USERS_VIEW: [u16; 6] = [303, 403, 403, 200, 200, 403];
const USER_VIEW: [u16; 6] = [303, 404, 404, 200, 200, 404];
const USER_EDIT: [u16; 6] = [303, 404, 404, 403, 200, 404];
const ADMIN_ONLY: [u16; 6] = [303, 403, 403, 403, 200, 403];
const API_SIGNED_IN: [u16; 6] = [401, 200, 200, 200, 200, 200];
const API_USERS_VIEW: [u16; 6] = [401, 403, 403, 200, 200, 403];
const API_USER_VIEW: [u16; 6] = [401, 404, 404, 200, 200, 404];
const API_USER_EDIT: [u16; 6] = [401, 404, 404, 403, 200, 404];
/// Another user's server: only admins see it.
const OTHERS_SERVER_200: [u16; 6] = [401, 404, 404, 404, 200, 404];
/// Another user's API client: only admins see it.
const API_OTHERS_CLIENT: [u16; 6] = [401, 404, 404, 404, 200, 404];

fn table() -> Vec<Case> {
    vec![
        get("/", SIGNED_IN_200),
        get("/login", [200, 303, 303, 303, 303, 303]),
        post(
            "/login",
            &[("username", "nobody"), ("password", "wrong password here")],
            [401; 6],
        ),
        get("/login/2fa", [303; 6]),
        post("/login/2fa", &[("code", "123456")], [303; 6]),
        post("/logout", &[], [303; 6]),
        get("/setup", [404; 6]),
        post(
            "/setup",
            &[("username", "zed"), ("password", GOOD_PASSWORD)],
            [404; 6],
        ),
        get("/account/security", SIGNED_IN_200),
        post(
            "/account/security/totp/confirm",
            &[("code", "000000")],
            SIGNED_IN_400,
        ),
        post(
            "/account/security/totp/disable",
            &[("password", "x"), ("code", "000000")],
            SIGNED_IN_400,
        ),
        post(
            "/account/password",
            &[("current_password", "wrong"), ("password", "x")],
            SIGNED_IN_400,
        ),
        get("/account/sessions", SIGNED_IN_200),
        get("/account/ssh-keys", SIGNED_IN_200),
        post("/account/ssh-keys", &[], SIGNED_IN_400),
        post(
            "/account/ssh-keys/{id}/delete",
            &[],
            [303, 404, 404, 404, 404, 404],
        ),
        post("/account/sessions/revoke-others", &[], SIGNED_IN_200),
        post(
            "/account/sessions/{id}/revoke",
            &[],
            [303, 404, 404, 404, 404, 404],
        ),
        get("/admin/users", USERS_VIEW),
        post(
            "/admin/users",
            &[("username", "X"), ("password", "x"), ("role", "viewer")],
            [303, 403, 403, 403, 400, 403],
        ),
        get("/admin/users/{id}", USER_VIEW),
        post("/admin/users/{id}/role", &[("role", "viewer")], USER_EDIT),
        post(
            "/admin/users/{id}/password",
            &[("password", "short")],
            [303, 404, 404, 403, 400, 404],
        ),
        post("/admin/users/{id}/deactivate", &[], USER_EDIT),
        post("/admin/users/{id}/reactivate", &[], USER_EDIT),
        post(
            "/admin/users/{id}/delete",
            &[],
            [303, 404, 404, 403, 303, 404],
        ),
        get("/admin/roles", ADMIN_ONLY),
        post(
            "/admin/roles",
            &[("name", "X")],
            [303, 403, 403, 403, 400, 403],
        ),
        post(
            "/admin/roles/{name}/delete",
            &[],
            [303, 403, 403, 403, 404, 403],
        ),
        get("/admin/audit", USERS_VIEW),
        get("/account/api-clients", SIGNED_IN_200),
        post("/account/api-clients", &[("name", "")], SIGNED_IN_400),
        post(
            "/account/api-clients/{id}/secret",
            &[],
            [303, 404, 404, 404, 404, 404],
        ),
        post(
            "/account/api-clients/{id}/revoke",
            &[],
            [303, 404, 404, 404, 404, 404],
        ),
        get("/admin/api-clients", ADMIN_ONLY),
        post(
            "/admin/api-clients/{id}/revoke",
            &[],
            [303, 403, 403, 403, 303, 403],
        ),
        post(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            [401; 6],
        ),
        post("/oauth/revoke", &[("token", "x")], [401; 6]),
        get("/api/v1/openapi.json", ALL_200),
        api(Method::GET, "/api/v1/me", None, API_SIGNED_IN),
        api(Method::GET, "/api/v1/users", None, API_USERS_VIEW),
        api(
            Method::POST,
            "/api/v1/users",
            Some(r#"{"username":"X","password":"x","role":"viewer"}"#),
            [401, 403, 403, 403, 400, 403],
        ),
        api(Method::GET, "/api/v1/users/{id}", None, API_USER_VIEW),
        api(
            Method::PATCH,
            "/api/v1/users/{id}",
            Some(r#"{"role":"viewer"}"#),
            API_USER_EDIT,
        ),
        api(
            Method::DELETE,
            "/api/v1/users/{id}",
            None,
            [401, 404, 404, 403, 204, 404],
        ),
        api(
            Method::POST,
            "/api/v1/users/{id}/password",
            Some(r#"{"password":"short"}"#),
            [401, 404, 404, 403, 400, 404],
        ),
        api(Method::GET, "/api/v1/roles", None, API_USERS_VIEW),
        api(
            Method::POST,
            "/api/v1/roles",
            Some(r#"{"name":"X","scopes":[]}"#),
            [401, 403, 403, 403, 400, 403],
        ),
        api(
            Method::DELETE,
            "/api/v1/roles/{name}",
            None,
            [401, 403, 403, 403, 404, 403],
        ),
        api(Method::GET, "/api/v1/sessions", None, API_SIGNED_IN),
        api(Method::GET, "/api/v1/me/ssh-keys", None, API_SIGNED_IN),
        api(
            Method::POST,
            "/api/v1/me/ssh-keys",
            Some(r#"{"name":"k","public_key":"ssh-rsa AAAA"}"#),
            [401, 400, 400, 400, 400, 400],
        ),
        api(
            Method::DELETE,
            "/api/v1/me/ssh-keys/{id}",
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        api(
            Method::DELETE,
            "/api/v1/sessions/{id}",
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        api(Method::GET, "/api/v1/api-clients", None, API_SIGNED_IN),
        api(
            Method::POST,
            "/api/v1/api-clients",
            Some(r#"{"name":"","scopes":[]}"#),
            [401, 400, 400, 400, 400, 400],
        ),
        api(
            Method::GET,
            "/api/v1/api-clients/{id}",
            None,
            API_OTHERS_CLIENT,
        ),
        api(
            Method::DELETE,
            "/api/v1/api-clients/{id}",
            None,
            [401, 404, 404, 404, 204, 404],
        ),
        api(
            Method::POST,
            "/api/v1/api-clients/{id}/secret",
            None,
            API_OTHERS_CLIENT,
        ),
        api(Method::GET, "/api/v1/audit", None, API_USERS_VIEW),
        get("/servers", SIGNED_IN_200),
        post(
            "/servers",
            &[
                ("name", "x"),
                ("template_id", "generic"),
                ("node_id", "nd_000000000000000000000000"),
            ],
            [303, 403, 403, 400, 400, 403],
        ),
        get("/servers/{id}", [303, 404, 404, 404, 200, 404]),
        get("/servers/{id}/files", [303, 404, 404, 404, 409, 404]),
        post(
            "/servers/{id}/power",
            &[("action", "start")],
            [303, 404, 404, 404, 409, 404],
        ),
        post(
            "/servers/{id}/command",
            &[("command", "say hi")],
            [303, 404, 404, 404, 409, 404],
        ),
        post(
            "/servers/{id}/reinstall",
            &[],
            [303, 404, 404, 404, 303, 404],
        ),
        post("/servers/{id}/delete", &[], [303, 404, 404, 404, 409, 404]),
        post(
            "/servers/{id}/settings",
            &[("name", "renamed")],
            [303, 404, 404, 404, 303, 404],
        ),
        post(
            "/servers/{id}/users",
            &[("username", "ada"), ("scopes", "server.view")],
            [303, 404, 404, 404, 303, 404],
        ),
        post(
            "/servers/{id}/users/{user_id}/revoke",
            &[],
            [303, 404, 404, 404, 404, 404],
        ),
        get("/nodes", [303, 200, 403, 200, 200, 200]),
        post("/nodes", &[("name", "X")], [303, 403, 403, 400, 400, 403]),
        post("/nodes/{id}/revoke", &[], [303, 403, 403, 404, 404, 403]),
        api(
            Method::GET,
            "/api/v1/nodes",
            None,
            [401, 200, 403, 200, 200, 200],
        ),
        api(
            Method::POST,
            "/api/v1/nodes",
            Some(r#"{"name":"X"}"#),
            [401, 403, 403, 400, 400, 403],
        ),
        api(
            Method::GET,
            "/api/v1/nodes/{id}",
            None,
            [401, 404, 403, 404, 404, 404],
        ),
        api(
            Method::DELETE,
            "/api/v1/nodes/{id}",
            None,
            [401, 403, 403, 404, 404, 403],
        ),
        api(
            Method::POST,
            "/api/v1/nodes/{id}/describe",
            None,
            [401, 404, 403, 404, 404, 404],
        ),
        api(
            Method::POST,
            "/api/v1/nodes/{id}/rotate-credential",
            None,
            [401, 403, 403, 404, 404, 403],
        ),
        // Servers: `{id}` is a server another user owns; only admins see it.
        api(Method::GET, "/api/v1/servers", None, API_SIGNED_IN),
        api(
            Method::POST,
            "/api/v1/servers",
            Some(r#"{"name":"x","node_id":"nd_000000000000000000000000","template_id":"generic"}"#),
            [401, 403, 403, 400, 400, 403],
        ),
        api(Method::GET, "/api/v1/servers/{id}", None, OTHERS_SERVER_200),
        api(
            Method::PATCH,
            "/api/v1/servers/{id}",
            Some(r#"{"name":"renamed"}"#),
            [401, 404, 404, 404, 200, 404],
        ),
        api(
            Method::DELETE,
            "/api/v1/servers/{id}",
            None,
            [401, 404, 404, 404, 409, 404],
        ),
        api(
            Method::POST,
            "/api/v1/servers/{id}/power",
            Some(r#"{"action":"start"}"#),
            [401, 404, 404, 404, 409, 404],
        ),
        api(
            Method::POST,
            "/api/v1/servers/{id}/command",
            Some(r#"{"command":"say hi"}"#),
            [401, 404, 404, 404, 409, 404],
        ),
        api(
            Method::POST,
            "/api/v1/servers/{id}/reinstall",
            None,
            [401, 404, 404, 404, 202, 404],
        ),
        api(
            Method::POST,
            "/api/v1/servers/{id}/suspend",
            None,
            [401, 404, 404, 404, 202, 404],
        ),
        api(
            Method::POST,
            "/api/v1/servers/{id}/unsuspend",
            None,
            [401, 404, 404, 404, 409, 404],
        ),
        api(
            Method::GET,
            "/api/v1/servers/{id}/stats",
            None,
            OTHERS_SERVER_200,
        ),
        api(
            Method::GET,
            "/api/v1/servers/{id}/console",
            None,
            [401, 404, 404, 404, 400, 404],
        ),
        api(
            Method::GET,
            "/api/v1/servers/{id}/users",
            None,
            OTHERS_SERVER_200,
        ),
        // The node has no agent: the admin, who may see the server, hears so (409).
        api(
            Method::GET,
            "/api/v1/servers/{id}/files",
            None,
            [401, 404, 404, 404, 409, 404],
        ),
        api(
            Method::GET,
            "/api/v1/servers/{id}/files/content",
            None,
            [401, 404, 404, 404, 400, 404],
        ),
        api(
            Method::PUT,
            "/api/v1/servers/{id}/files/content",
            None,
            [401, 404, 404, 404, 400, 404],
        ),
        api(
            Method::GET,
            "/api/v1/servers/{id}/files/search",
            None,
            [401, 404, 404, 404, 400, 404],
        ),
        api(
            Method::POST,
            "/api/v1/servers/{id}/files/mkdir",
            Some(r#"{"path":"x"}"#),
            [401, 404, 404, 404, 409, 404],
        ),
        api(
            Method::POST,
            "/api/v1/servers/{id}/files/rename",
            Some(r#"{"from":"a","to":"b"}"#),
            [401, 404, 404, 404, 409, 404],
        ),
        api(
            Method::POST,
            "/api/v1/servers/{id}/files/copy",
            Some(r#"{"from":"a","to":"b"}"#),
            [401, 404, 404, 404, 409, 404],
        ),
        api(
            Method::POST,
            "/api/v1/servers/{id}/files/delete",
            Some(r#"{"path":"x"}"#),
            [401, 404, 404, 404, 409, 404],
        ),
        api(
            Method::POST,
            "/api/v1/servers/{id}/files/chmod",
            Some(r#"{"path":"x","mode":420}"#),
            [401, 404, 404, 404, 409, 404],
        ),
        api(
            Method::POST,
            "/api/v1/servers/{id}/files/extract",
            Some(r#"{"path":"a.zip","to":"x"}"#),
            [401, 404, 404, 404, 409, 404],
        ),
        api(
            Method::POST,
            "/api/v1/servers/{id}/files/pull",
            Some(r#"{"url":"https://example.com/a","path":"a"}"#),
            [401, 404, 404, 404, 409, 404],
        ),
        api(
            Method::POST,
            "/api/v1/servers/{id}/files/archive",
            Some(r#"{"paths":["a"],"to":"a.zip"}"#),
            [401, 404, 404, 404, 409, 404],
        ),
        api(
            Method::POST,
            "/api/v1/servers/{id}/users",
            Some(r#"{"user_id":1,"scopes":["server.view"]}"#),
            [401, 404, 404, 404, 204, 404],
        ),
        api(
            Method::DELETE,
            "/api/v1/servers/{id}/users/{user_id}",
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        api(Method::GET, "/api/v1/templates", None, API_SIGNED_IN),
        api(
            Method::POST,
            "/api/v1/templates",
            Some(r#"{"id":"cov","name":"c","image":"busybox:stable","startup":"sh"}"#),
            [401, 403, 403, 403, 201, 403],
        ),
        api(Method::GET, "/api/v1/templates/{id}", None, API_SIGNED_IN),
        api(
            Method::GET,
            "/api/v1/plans",
            None,
            [401, 403, 403, 403, 200, 403],
        ),
        api(
            Method::POST,
            "/api/v1/plans",
            Some(
                r#"{"name":"cov","memory_mb":256,"cpu_percent":100,"pids":64,"disk_mb":100,"max_servers":2}"#,
            ),
            [401, 403, 403, 403, 200, 403],
        ),
        api(
            Method::DELETE,
            "/api/v1/plans/{name}",
            None,
            [401, 403, 403, 403, 404, 403],
        ),
        // Agent endpoints take agent credentials only; a user's session is nothing to them.
        api(
            Method::POST,
            "/agent/enroll",
            Some(r#"{"token":"rn1.x"}"#),
            [401; 6],
        ),
        api(Method::GET, "/agent/link", None, [400; 6]),
        api(Method::GET, "/agent/transfer", None, [400; 6]),
        get("/metrics", [401, 403, 403, 403, 200, 403]),
        get("/static/{file}", ALL_200),
        get("/health", ALL_200),
        get("/ready", ALL_200),
    ]
}

/// A server owned by `owner` on a node with no agent (stored directly).
async fn server_of(panel: &TestPanel, owner: rampart_core::UserId) -> String {
    use rampart_core::{NodeId, NodeName, ServerId, UnixTime};
    use rampart_panel::store::{NewNode, NewServer};
    let store = &panel.services.store;
    let node = NodeId::generate(&rampart_core::OsRandom);
    let name = NodeName::parse(&format!("n{}", &node.as_str()[3..15])).unwrap();
    store
        .create_node(&NewNode {
            id: &node,
            name: &name,
            public_address: "",
            sftp_port: 5657,
            labels: "",
            enroll_token_hash: &SecretToken::generate(&rampart_core::OsRandom).hash().0,
            enroll_expires_at: UnixTime(0),
            now: UnixTime(panel.clock_now()),
        })
        .await
        .unwrap();
    let id = ServerId::generate(&rampart_core::OsRandom);
    let spec = serde_json::json!({
        "server_id": id.as_str(), "owner": owner.0.to_string(), "image": "busybox:stable",
        "argv": ["sh"], "env": [], "limits": {"memory_mb": 64, "cpu_percent": 100, "pids": 64,
        "disk_mb": 100, "io_weight": 500, "swap_allowed": false}, "ports": [], "capabilities": [],
        "read_only_root": true, "stop": {"command": null, "timeout_secs": 5}, "install": null
    });
    let outcome = store
        .create_server(&NewServer {
            id: &id,
            name: "theirs",
            owner_id: owner,
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
    assert_eq!(outcome, rampart_panel::store::CreateOutcome::Created);
    id.to_string()
}

/// Anonymous CSRF cookie value every client carries (double-submit forms).
const ANON_CSRF: &str = "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0";

async fn run_case(panel: &TestPanel, case: &Case, who: usize, n: usize) -> u16 {
    // Keep the per-IP login limit out of the picture.
    panel.clock.advance(61);
    // A fresh target user with a session of their own, for `{id}` routes.
    let target = panel.user(&format!("target{n}x{who}"), "viewer").await;
    let _target_session = panel.session_for(target).await;
    let target_session_id = panel
        .services
        .store
        .list_user_sessions(target)
        .await
        .unwrap()[0]
        .public_id
        .clone();
    let client = match WHO[who] {
        "anonymous" => panel.client(),
        "tenant" => {
            let id = panel.user(&format!("tenant{n}"), "viewer").await;
            panel.session_for(id).await
        }
        role => {
            let id = panel.user(&format!("{role}{n}"), role).await;
            panel.session_for(id).await
        }
    };
    client.set_cookie("rampart_csrf", ANON_CSRF);
    let csrf = match client.cookie("rampart_session") {
        Some(token) if !matches!(case.route, "/login" | "/setup") => {
            SecretToken::parse(&token).unwrap().derive("csrf")
        }
        _ => ANON_CSRF.to_owned(),
    };
    let (target_client, _) = panel.api_client(target, "server.view").await;
    let id_value = if case.route.contains("servers/") {
        server_of(panel, target).await
    } else if case.route.contains("templates/") {
        "generic".to_owned()
    } else if case.route.contains("nodes/") {
        "nd_000000000000000000000000".to_owned()
    } else if case.route.contains("/sessions/") {
        target_session_id
    } else if case.route.contains("api-clients/") {
        target_client
    } else {
        target.0.to_string()
    };
    let path = case
        .route
        .replace("{id}", &id_value)
        .replace("{name}", "ghost")
        .replace("{user_id}", "1")
        .replace("{file}", "app.css");
    let res = if path.starts_with("/api/") || path.starts_with("/agent/") {
        let origin = panel.url.clone();
        let mut headers = vec![("origin", origin.as_str()), ("x-csrf-token", csrf.as_str())];
        if case.json.is_some() {
            headers.push(("content-type", "application/json"));
        }
        client
            .request(
                case.method.clone(),
                &path,
                &headers,
                case.json.map(str::to_owned),
            )
            .await
    } else if case.method == Method::GET {
        client.get(&path).await
    } else {
        let mut fields: Vec<(&str, &str)> = case.fields.to_vec();
        fields.push(("csrf_token", &csrf));
        client.post_form(&path, &fields).await
    };
    res.status
}

#[tokio::test]
#[allow(clippy::needless_range_loop)] // `who` indexes two parallel arrays
async fn every_route_answers_every_principal_as_expected() {
    let panel = spawn_panel_no_forced_2fa().await;
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;
    let mut failures = Vec::new();
    for (n, case) in table().iter().enumerate() {
        for who in 0..WHO.len() {
            let got = run_case(&panel, case, who, n).await;
            if got != case.expect[who] {
                failures.push(format!(
                    "{} {} as {}: expected {}, got {got}",
                    case.method, case.route, WHO[who], case.expect[who]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorization table mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_table_covers_every_route() {
    let served: BTreeSet<(String, &str)> = rampart_panel::web::route_list()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect();
    let covered: BTreeSet<(String, &str)> = table()
        .iter()
        .map(|c| (c.method.to_string(), c.route))
        .collect();
    let missing: Vec<_> = served.difference(&covered).collect();
    let stale: Vec<_> = covered.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the authorization table: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "table rows for routes that do not exist: {stale:?}"
    );
}
