//! First-admin setup (SPEC R1) over real HTTP.

use rampart_testkit::{GOOD_PASSWORD, spawn_panel_no_forced_2fa};

#[tokio::test]
async fn setup_creates_admin_signs_in_and_then_is_gone() {
    let panel = spawn_panel_no_forced_2fa().await;
    let browser = panel.client();
    panel.create_admin(&browser, "ada", GOOD_PASSWORD).await;
    assert!(browser.cookie("rampart_session").is_some());

    let home = browser.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("ada"), "dashboard names the user");

    // Setup is gone once an admin exists, with or without the old token.
    let other = panel.client();
    assert_eq!(other.get(&panel.setup_path()).await.status, 404);
    assert_eq!(other.get("/setup").await.status, 404);
}

#[tokio::test]
async fn setup_token_is_single_use() {
    let panel = spawn_panel_no_forced_2fa().await;
    let first = panel.client();
    let second = panel.client();
    let page1 = first.get(&panel.setup_path()).await;
    let page2 = second.get(&panel.setup_path()).await;
    let (c1, c2) = (page1.csrf_token().unwrap(), page2.csrf_token().unwrap());
    let path = panel.setup_path();
    // Both submit at once; exactly one may win.
    let f1 = [
        ("username", "ada"),
        ("password", GOOD_PASSWORD),
        ("csrf_token", c1.as_str()),
    ];
    let f2 = [
        ("username", "mallory"),
        ("password", GOOD_PASSWORD),
        ("csrf_token", c2.as_str()),
    ];
    let (a, b) = tokio::join!(first.post_form(&path, &f1), second.post_form(&path, &f2));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses[0], 303,
        "one setup succeeds: {} / {}",
        a.body, b.body
    );
    assert!(
        statuses[1] == 404 || statuses[1] == 403,
        "the other is refused: {statuses:?}"
    );
    let winner = if a.status == 303 { "ada" } else { "mallory" };
    let loser = if winner == "ada" { "mallory" } else { "ada" };
    assert_eq!(
        panel
            .login(&panel.client(), winner, GOOD_PASSWORD)
            .await
            .status,
        303
    );
    assert_eq!(
        panel
            .login(&panel.client(), loser, GOOD_PASSWORD)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn setup_token_expires_after_one_hour() {
    let panel = spawn_panel_no_forced_2fa().await;
    let browser = panel.client();
    let page = browser.get(&panel.setup_path()).await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf_token().unwrap();

    panel.clock.advance(3600);
    let late = browser.get(&panel.setup_path()).await;
    assert_eq!(late.status, 403);
    assert!(late.body.contains("expired"));
    let post = browser
        .post_form(
            &panel.setup_path(),
            &[
                ("username", "ada"),
                ("password", GOOD_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(post.status, 403);
    assert!(browser.cookie("rampart_session").is_none());
    assert_eq!(
        panel
            .login(&panel.client(), "ada", GOOD_PASSWORD)
            .await
            .status,
        401,
        "nothing was created"
    );
    assert!(!panel.services.store.admin_exists().await.unwrap());
}

#[tokio::test]
async fn wrong_or_missing_token_is_refused() {
    let panel = spawn_panel_no_forced_2fa().await;
    let browser = panel.client();
    let good = panel.setup_token.clone().unwrap();
    let mut flipped = good.clone().into_bytes();
    flipped[0] = if flipped[0] == b'a' { b'b' } else { b'a' };
    let flipped = String::from_utf8(flipped).unwrap();
    for path in [
        "/setup".to_owned(),
        "/setup?token=".to_owned(),
        format!("/setup?token={flipped}"),
        format!("/setup?token={}", good.to_uppercase()),
        format!("/setup?token={good}%0a"),
    ] {
        assert_eq!(browser.get(&path).await.status, 403, "{path}");
    }
    let csrf = browser.get(&panel.setup_path()).await.csrf_token().unwrap();
    let post = browser
        .post_form(
            &format!("/setup?token={flipped}"),
            &[
                ("username", "ada"),
                ("password", GOOD_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(post.status, 403);
    assert!(!panel.services.store.admin_exists().await.unwrap());
}

#[tokio::test]
async fn bad_username_or_password_is_a_400_that_keeps_the_token() {
    let panel = spawn_panel_no_forced_2fa().await;
    let browser = panel.client();
    let csrf = browser.get(&panel.setup_path()).await.csrf_token().unwrap();
    for (user, pass, hint) in [
        ("Ada Lovelace", GOOD_PASSWORD, "username"),
        ("ada", "tiny-pw", "12 characters"),
        ("ada", "ada-is-my-password", "username"),
    ] {
        let res = browser
            .post_form(
                &panel.setup_path(),
                &[
                    ("username", user),
                    ("password", pass),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert_eq!(res.status, 400, "{user}/{pass}");
        assert!(
            res.body.contains(hint),
            "{user}/{pass}: message names the problem"
        );
        if pass != GOOD_PASSWORD {
            assert!(!res.body.contains(pass), "password not echoed");
        }
    }
    let mismatch = browser
        .post_form(
            &panel.setup_path(),
            &[
                ("username", "ada"),
                ("password", GOOD_PASSWORD),
                ("password_confirm", "something else entirely"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(mismatch.status, 400);
    assert!(!panel.services.store.admin_exists().await.unwrap());
    // The token still works after the refusals.
    panel.create_admin(&browser, "ada", GOOD_PASSWORD).await;
}

#[tokio::test]
async fn there_are_no_default_accounts() {
    let panel = spawn_panel_no_forced_2fa().await;
    let attempts = [
        ("admin", "admin"),
        ("root", "root"),
        ("admin", "password"),
        ("rampart", "rampart"),
        ("admin", ""),
    ];
    for (u, p) in attempts {
        assert_eq!(
            panel.login(&panel.client(), u, p).await.status,
            401,
            "{u}/{p} before setup"
        );
        panel.clock.advance(61); // stay under the per-IP failure limit
    }
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;
    for (u, p) in attempts {
        assert_eq!(
            panel.login(&panel.client(), u, p).await.status,
            401,
            "{u}/{p} after setup"
        );
        panel.clock.advance(61); // stay under the per-IP failure limit
    }
}
