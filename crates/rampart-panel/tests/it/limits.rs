//! Login limits (SPEC R15) and client IPs (SPEC R3).

use rampart_core::IpNet;
use rampart_panel::PanelSettings;
use rampart_testkit::{
    GOOD_PASSWORD, TestClient, TestPanel, spawn_panel_no_forced_2fa, spawn_panel_with,
};

async fn attempt(
    panel: &TestPanel,
    user: &str,
    password: &str,
    xff: Option<&str>,
) -> rampart_testkit::TestResponse {
    let client = panel.client();
    let csrf = client.get("/login").await.csrf_token().unwrap();
    let mut headers = vec![("origin", panel.url.as_str())];
    if let Some(x) = xff {
        headers.push(("x-forwarded-for", x));
    }
    client
        .post_form_with(
            "/login",
            &[
                ("username", user),
                ("password", password),
                ("csrf_token", &csrf),
            ],
            &headers,
        )
        .await
}

#[tokio::test]
async fn five_failures_per_minute_per_ip_then_429_with_retry_after() {
    let panel = spawn_panel_no_forced_2fa().await;
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;
    for i in 0..5 {
        assert_eq!(
            attempt(&panel, &format!("user{i}"), "wrong password here", None)
                .await
                .status,
            401
        );
    }
    let limited = attempt(&panel, "ada", GOOD_PASSWORD, None).await;
    assert_eq!(limited.status, 429, "even the right password waits");
    let retry: i64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(limited.set_cookie("rampart_session").is_none());
    panel.clock.advance(retry);
    assert_eq!(
        attempt(&panel, "ada", GOOD_PASSWORD, None).await.status,
        303
    );
}

#[tokio::test]
async fn successful_logins_do_not_count() {
    let panel = spawn_panel_no_forced_2fa().await;
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;
    for _ in 0..4 {
        assert_eq!(
            attempt(&panel, "ada", "wrong password here", None)
                .await
                .status,
            401
        );
    }
    for _ in 0..6 {
        assert_eq!(
            attempt(&panel, "ada", GOOD_PASSWORD, None).await.status,
            303
        );
    }
    assert_eq!(
        attempt(&panel, "ada", "wrong password here", None)
            .await
            .status,
        401
    );
    assert_eq!(
        attempt(&panel, "ada", GOOD_PASSWORD, None).await.status,
        429
    );
}

fn behind_trusted_proxy() -> PanelSettings {
    PanelSettings {
        require_2fa_for: Vec::new(),
        trusted_proxies: vec![IpNet::parse("127.0.0.1").unwrap()],
        ..PanelSettings::default()
    }
}

/// The limited answer with its per-request values (request id, CSRF
/// token) blanked, to compare pages.
fn normalised(res: &rampart_testkit::TestResponse) -> String {
    let mut body = res.body.clone();
    if let Some(id) = res.header("x-request-id") {
        body = body.replace(id, "ID");
    }
    body
}

#[tokio::test]
async fn ten_failures_per_account_from_many_ips_and_no_enumeration() {
    let panel = spawn_panel_with(behind_trusted_proxy()).await;
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;
    for (user, base) in [("ada", 10), ("ghost", 50)] {
        for i in 0..10 {
            let ip = format!("198.51.100.{}", base + i);
            assert_eq!(
                attempt(&panel, user, "wrong password here", Some(&ip))
                    .await
                    .status,
                401,
                "{user} #{i}"
            );
        }
    }
    let real = attempt(&panel, "ada", GOOD_PASSWORD, Some("203.0.113.1")).await;
    let fake = attempt(&panel, "ghost", GOOD_PASSWORD, Some("203.0.113.2")).await;
    assert_eq!(real.status, 429);
    assert_eq!(
        fake.status, 429,
        "a missing account is limited exactly like a real one"
    );
    assert_eq!(normalised(&real), normalised(&fake), "same page");
    assert_eq!(real.header("retry-after"), fake.header("retry-after"));
    // Another account from the same fresh IP is unaffected.
    panel.user("bob", "viewer").await;
    assert_eq!(
        attempt(&panel, "bob", GOOD_PASSWORD, Some("203.0.113.3"))
            .await
            .status,
        303
    );
    panel.clock.advance(15 * 60);
    assert_eq!(
        attempt(&panel, "ada", GOOD_PASSWORD, Some("203.0.113.4"))
            .await
            .status,
        303
    );
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let panel = spawn_panel_no_forced_2fa().await;
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;
    for i in 0..5 {
        let spoofed = format!("192.0.2.{i}");
        assert_eq!(
            attempt(&panel, "ada", "wrong password here", Some(&spoofed))
                .await
                .status,
            401
        );
    }
    let res = attempt(&panel, "ada", GOOD_PASSWORD, Some("192.0.2.99")).await;
    assert_eq!(
        res.status, 429,
        "a fresh X-Forwarded-For does not buy new attempts"
    );
    // And the audit log records the real peer, not the claimed address.
    let records = panel.audit_records().await;
    let failures: Vec<_> = records
        .iter()
        .filter(|r| r.body.event_type == "AUTH_FAILED")
        .collect();
    assert_eq!(failures.len(), 5);
    assert!(
        failures
            .iter()
            .all(|r| r.body.ip.as_deref() == Some("127.0.0.1"))
    );
}

#[tokio::test]
async fn forwarded_for_from_a_trusted_proxy_names_the_client() {
    let panel = spawn_panel_with(behind_trusted_proxy()).await;
    let client: TestClient = panel.client();
    panel.create_admin(&client, "ada", GOOD_PASSWORD).await;
    // Client-supplied hops left of the proxy's own entry do not count.
    let res = attempt(&panel, "ada", GOOD_PASSWORD, Some("6.6.6.6, 198.51.100.77")).await;
    assert_eq!(res.status, 303);
    let login = panel
        .audit_records()
        .await
        .into_iter()
        .rev()
        .find(|r| r.body.action == "login")
        .unwrap();
    assert_eq!(login.body.ip.as_deref(), Some("198.51.100.77"));
}
