//! Security headers on every response (SPEC R110) and generic error pages
//! (SPEC R111), including a real internal error.

use rampart_panel::web::middleware::security_headers::{
    CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY,
};
use rampart_testkit::{GOOD_PASSWORD, TestResponse, spawn_panel_no_forced_2fa};
use reqwest::Method;

fn assert_security_headers(res: &TestResponse, what: &str) {
    let expect = [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("permissions-policy", PERMISSIONS_POLICY),
    ];
    for (name, value) in expect {
        assert_eq!(res.header(name), Some(value), "{what}: {name}");
    }
    assert!(
        PERMISSIONS_POLICY.contains("camera=()") && PERMISSIONS_POLICY.contains("microphone=()")
    );
    assert!(
        CONTENT_SECURITY_POLICY.contains("script-src 'self';")
            && !CONTENT_SECURITY_POLICY.contains("unsafe")
    );
    assert!(res.header("server").is_none(), "{what}: no Server banner");
    assert!(
        res.header("strict-transport-security").is_none(),
        "{what}: no HSTS over plain HTTP"
    );
    assert!(
        res.header("x-request-id").is_some_and(|v| v.len() == 16),
        "{what}: request id"
    );
}

/// A generic error page: our layout, the status, the request id, nothing internal.
fn assert_generic_page(res: &TestResponse, status: u16) {
    assert_eq!(res.status, status);
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(
        res.body
            .contains(&format!("<p class=\"status-code\">{status}</p>")),
        "{}",
        res.body
    );
    let id = res.header("x-request-id").unwrap();
    assert!(res.body.contains(id), "page shows the request id");
    for leak in [
        "sqlx",
        "sqlite",
        "database",
        "pool",
        "panicked",
        "rampart_panel",
        "src/",
        "Error {",
    ] {
        assert!(
            !res.body.to_lowercase().contains(&leak.to_lowercase()),
            "page leaks {leak:?}"
        );
    }
}

#[tokio::test]
async fn headers_on_a_200_a_404_a_405_and_static_files() {
    let panel = spawn_panel_no_forced_2fa().await;
    let client = panel.client();
    let ok = client.get("/login").await;
    assert_eq!(ok.status, 200);
    assert_security_headers(&ok, "200");
    assert_eq!(ok.header("cache-control"), Some("no-store"));

    let missing = client.get("/no/such/page").await;
    assert_security_headers(&missing, "404");
    assert_generic_page(&missing, 404);

    let wrong_method = client
        .request(Method::PUT, "/login", &[("origin", &panel.url)], None)
        .await;
    assert_security_headers(&wrong_method, "405");
    assert_generic_page(&wrong_method, 405);
    assert!(
        wrong_method
            .header("allow")
            .is_some_and(|a| a.contains("POST"))
    );

    let health = client.get("/health").await;
    assert_security_headers(&health, "health");
}

#[tokio::test]
async fn a_real_internal_error_is_a_generic_500_with_headers_and_ready_says_503() {
    let panel = spawn_panel_no_forced_2fa().await;
    let browser = panel.client();
    panel.create_admin(&browser, "ada", GOOD_PASSWORD).await;
    assert_eq!(browser.get("/ready").await.status, 200);

    // Break the store underneath the running panel.
    panel.services.store.close().await;
    let res = browser.get("/").await;
    assert_security_headers(&res, "500");
    assert_generic_page(&res, 500);

    let ready = browser.get("/ready").await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body, r#"{"status":"unavailable"}"#);
    assert_eq!(
        browser.get("/health").await.body,
        r#"{"status":"ok"}"#,
        "liveness is not readiness"
    );
}

#[tokio::test]
async fn malformed_form_is_a_generic_4xx() {
    let panel = spawn_panel_no_forced_2fa().await;
    let client = panel.client();
    client.get("/login").await;
    let origin = panel.url.clone();
    let res = client
        .request(
            Method::POST,
            "/login",
            &[("origin", &origin), ("content-type", "application/json")],
            Some("{}".into()),
        )
        .await;
    assert_generic_page(&res, 415);
    let res = client
        .request(
            Method::POST,
            "/login",
            &[
                ("origin", &origin),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some("password=x".into()),
        )
        .await;
    assert_generic_page(&res, 422);
    assert!(!res.body.contains("missing field"), "no extractor detail");
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let panel = spawn_panel_no_forced_2fa().await;
    let client = panel.client();
    let body = format!("username=ada&password={}", "a".repeat(100 * 1024));
    let res = client
        .request(
            Method::POST,
            "/login",
            &[
                ("origin", &panel.url),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(body),
        )
        .await;
    assert_generic_page(&res, 413);
}
