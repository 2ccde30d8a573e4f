//! Login and logout.

use rampart_testkit::{GOOD_PASSWORD, spawn_panel_no_forced_2fa};

#[tokio::test]
async fn login_logout_and_replay_after_logout() {
    let panel = spawn_panel_no_forced_2fa().await;
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;

    let browser = panel.client();
    assert_eq!(
        browser.get("/").await.location(),
        Some("/login"),
        "signed out: redirected"
    );
    let res = panel.login(&browser, "ada", GOOD_PASSWORD).await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location(), Some("/"));
    let stolen = browser.cookie("rampart_session").unwrap();
    let home = browser.get("/").await;
    assert_eq!(home.status, 200);
    assert_eq!(
        browser.get("/login").await.location(),
        Some("/"),
        "signed in: login page skips ahead"
    );

    let csrf = home.csrf_token().unwrap();
    let out = browser.post_form("/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), Some("/login"));
    assert!(
        out.set_cookie("rampart_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert!(browser.cookie("rampart_session").is_none());

    // The old cookie, replayed, is worth nothing: the row is gone.
    let replay = panel.client();
    replay.set_cookie("rampart_session", &stolen);
    let res = replay.get("/").await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location(), Some("/login"));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let panel = spawn_panel_no_forced_2fa().await;
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;
    let browser = panel.client();
    let wrong = panel
        .login(&browser, "ada", "not the password at all")
        .await;
    let unknown = panel.login(&browser, "nobody", GOOD_PASSWORD).await;
    let malformed = panel.login(&browser, "Not A Name\n", GOOD_PASSWORD).await;
    for res in [&wrong, &unknown, &malformed] {
        assert_eq!(res.status, 401);
        assert!(res.body.contains("Invalid username or password."));
        assert!(res.set_cookie("rampart_session").is_none());
    }
    assert_eq!(
        wrong.body.replace("value=\"ada\"", ""),
        unknown.body.replace("value=\"nobody\"", ""),
        "the two failures render the same page"
    );
}

#[tokio::test]
async fn login_issues_a_new_session_id_and_ends_the_planted_one() {
    let panel = spawn_panel_no_forced_2fa().await;
    let victim_of_fixation = panel.client();
    panel
        .create_admin(&victim_of_fixation, "ada", GOOD_PASSWORD)
        .await;
    let planted = victim_of_fixation.cookie("rampart_session").unwrap();

    let browser = panel.client();
    let csrf = browser.get("/login").await.csrf_token().unwrap();
    browser.set_cookie("rampart_session", &planted);
    let res = browser
        .post_form(
            "/login",
            &[
                ("username", "ada"),
                ("password", GOOD_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    let fresh = browser.cookie("rampart_session").unwrap();
    assert_ne!(planted, fresh, "a new id at login");
    assert_eq!(browser.get("/").await.status, 200);
    assert_eq!(
        victim_of_fixation.get("/").await.location(),
        Some("/login"),
        "the old id is dead"
    );
}

#[tokio::test]
async fn session_cookie_attributes() {
    let panel = spawn_panel_no_forced_2fa().await;
    let browser = panel.client();
    let login_page = browser.get("/login").await;
    let csrf_cookie = login_page.set_cookie("rampart_csrf").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(csrf_cookie.contains(attr), "{csrf_cookie}");
    }
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;
    let res = panel.login(&browser, "ada", GOOD_PASSWORD).await;
    let cookie = res.set_cookie("rampart_session").unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: no Secure"
    );
    let value = browser.cookie("rampart_session").unwrap();
    assert_eq!(value.len(), 64, "256-bit id in hex");
    // Stored hashed: the raw id is not a key in the store.
    let raw = rampart_core::SecretToken::parse(&value).unwrap();
    assert!(
        panel
            .services
            .store
            .find_session(&rampart_core::TokenHash(value.clone()))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        panel
            .services
            .store
            .find_session(&raw.hash())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn under_tls_cookies_are_host_prefixed_and_secure() {
    let settings = rampart_panel::PanelSettings {
        https: true,
        ..Default::default()
    };
    let panel = rampart_testkit::spawn_panel_with(settings).await;
    let browser = panel.client();
    let page = browser.get(&panel.setup_path()).await;
    let csrf_cookie = page.set_cookie("__Host-rampart_csrf").unwrap();
    assert!(csrf_cookie.contains("Secure"), "{csrf_cookie}");
    // The panel believes it is served over https, so a browser would send
    // that origin.
    let origin = panel.url.replace("http://", "https://");
    let csrf = page.csrf_token().unwrap();
    let res = browser
        .post_form_with(
            &panel.setup_path(),
            &[
                ("username", "ada"),
                ("password", GOOD_PASSWORD),
                ("csrf_token", &csrf),
            ],
            &[("origin", &origin)],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let cookie = res.set_cookie("__Host-rampart_session").unwrap();
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(
        !cookie.contains("Domain"),
        "__Host- cookies carry no Domain"
    );
    assert!(res.header("strict-transport-security").is_some());
}
