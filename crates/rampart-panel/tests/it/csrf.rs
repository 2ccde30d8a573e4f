//! CSRF (SPEC R12): token and Origin on every state-changing request.

use rampart_testkit::{GOOD_PASSWORD, TestClient, TestPanel, spawn_panel_no_forced_2fa};

async fn signed_in() -> (TestPanel, TestClient, String) {
    let panel = spawn_panel_no_forced_2fa().await;
    let browser = panel.client();
    panel.create_admin(&browser, "ada", GOOD_PASSWORD).await;
    let csrf = browser.get("/").await.csrf_token().unwrap();
    (panel, browser, csrf)
}

async fn still_signed_in(browser: &TestClient) -> bool {
    browser.get("/").await.status == 200
}

#[tokio::test]
async fn logout_without_token_is_refused() {
    let (_panel, browser, _csrf) = signed_in().await;
    assert_eq!(browser.post_form("/logout", &[]).await.status, 403);
    assert_eq!(
        browser
            .post_form("/logout", &[("csrf_token", "")])
            .await
            .status,
        403
    );
    assert!(still_signed_in(&browser).await, "nothing changed");
}

#[tokio::test]
async fn logout_with_wrong_token_is_refused() {
    let (panel, browser, csrf) = signed_in().await;
    // Another session's valid token is still the wrong one.
    let other = panel.client();
    panel.login(&other, "ada", GOOD_PASSWORD).await;
    let other_csrf = other.get("/").await.csrf_token().unwrap();
    assert_ne!(csrf, other_csrf);
    for bad in [other_csrf.as_str(), &csrf[..63], "x"] {
        assert_eq!(
            browser
                .post_form("/logout", &[("csrf_token", bad)])
                .await
                .status,
            403
        );
    }
    assert!(still_signed_in(&browser).await);
}

#[tokio::test]
async fn foreign_or_missing_origin_is_refused_even_with_the_right_token() {
    let (panel, browser, csrf) = signed_in().await;
    let fields = [("csrf_token", csrf.as_str())];
    let localhost = panel.url.replace("127.0.0.1", "localhost");
    let suffixed = format!("{}.evil.example/", panel.url);
    let foreign = [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("origin", localhost.as_str())],
        vec![("referer", "https://evil.example/page")],
        vec![("referer", suffixed.as_str())],
        vec![],
    ];
    for headers in &foreign {
        let res = browser.post_form_with("/logout", &fields, headers).await;
        assert_eq!(res.status, 403, "{headers:?}");
    }
    assert!(still_signed_in(&browser).await);
    // A same-origin Referer without Origin is accepted.
    let referer = format!("{}/", panel.url);
    let res = browser
        .post_form_with("/logout", &fields, &[("referer", &referer)])
        .await;
    assert_eq!(res.status, 303);
    assert!(!still_signed_in(&browser).await);
}

#[tokio::test]
async fn login_form_needs_its_cookie_token() {
    let panel = spawn_panel_no_forced_2fa().await;
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;
    let browser = panel.client();
    let csrf = browser.get("/login").await.csrf_token().unwrap();
    let creds = |t: &str| {
        vec![
            ("username", "ada"),
            ("password", GOOD_PASSWORD),
            ("csrf_token", t),
        ]
        .into_iter()
        .map(|(a, b)| (a, b.to_owned()))
        .collect::<Vec<_>>()
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let b = &browser;
        async move {
            let f: Vec<(&str, &str)> = fields.iter().map(|(a, v)| (*a, v.as_str())).collect();
            b.post_form("/login", &f).await
        }
    };
    assert_eq!(post(creds("")).await.status, 403);
    assert_eq!(post(creds(&"0".repeat(64))).await.status, 403);
    // Without the cookie (as a cross-site form would be, SameSite=Strict).
    let cookie = browser.cookie("rampart_csrf").unwrap();
    browser.remove_cookie("rampart_csrf");
    assert_eq!(post(creds(&csrf)).await.status, 403);
    assert!(browser.cookie("rampart_session").is_none());
    browser.set_cookie("rampart_csrf", &cookie);
    let foreign = browser
        .post_form_with(
            "/login",
            &[
                ("username", "ada"),
                ("password", GOOD_PASSWORD),
                ("csrf_token", &csrf),
            ],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(foreign.status, 403);
    assert!(browser.cookie("rampart_session").is_none());
    assert_eq!(post(creds(&csrf)).await.status, 303);
}

#[tokio::test]
async fn setup_form_needs_token_and_origin() {
    let panel = spawn_panel_no_forced_2fa().await;
    let browser = panel.client();
    let csrf = browser.get(&panel.setup_path()).await.csrf_token().unwrap();
    let no_token = browser
        .post_form(
            &panel.setup_path(),
            &[("username", "ada"), ("password", GOOD_PASSWORD)],
        )
        .await;
    assert_eq!(no_token.status, 403);
    let foreign = browser
        .post_form_with(
            &panel.setup_path(),
            &[
                ("username", "ada"),
                ("password", GOOD_PASSWORD),
                ("csrf_token", &csrf),
            ],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(foreign.status, 403);
    assert!(
        !panel.services.store.admin_exists().await.unwrap(),
        "nothing changed"
    );
}
