//! TOTP 2FA (SPEC R13): forced enrolment, two-step login bound to one
//! session, no replay of codes or recovery codes, disabling.

use rampart_testkit::{GOOD_PASSWORD, TestClient, TestPanel, spawn_panel};

/// A panel whose admin `ada` is enrolled; returns the enrolled client too.
async fn enrolled() -> (TestPanel, TestClient, rampart_core::TotpSecret, Vec<String>) {
    let panel = spawn_panel().await;
    let browser = panel.client();
    panel.create_admin(&browser, "ada", GOOD_PASSWORD).await;
    let (secret, codes) = panel.enroll_totp(&browser).await;
    (panel, browser, secret, codes)
}

#[tokio::test]
async fn admins_reach_only_the_2fa_setup_until_enrolled() {
    let panel = spawn_panel().await;
    let browser = panel.client();
    panel.create_admin(&browser, "ada", GOOD_PASSWORD).await;
    for path in ["/", "/admin/users", "/admin/audit", "/account/sessions"] {
        let res = browser.get(path).await;
        assert_eq!(res.location(), Some("/account/security"), "{path}");
    }
    let page = browser.get("/account/security").await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf_token().unwrap();
    // Changing the password is not reachable before enrolment either.
    let res = browser
        .post_form(
            "/account/password",
            &[
                ("current_password", GOOD_PASSWORD),
                ("password", "another long passphrase"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(res.location(), Some("/account/security"));
    let secret_text = page.element_text("id=\"totp-secret\"").unwrap();
    assert_eq!(secret_text.len(), 32, "160-bit base32 secret");
    assert!(page.body.contains("<svg"), "QR code rendered server-side");
    assert!(page.body.contains("otpauth://totp/Rampart:ada?secret="));
    // A wrong code does not enable 2FA.
    let bad = browser
        .post_form(
            "/account/security/totp/confirm",
            &[("code", "000000"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(browser.get("/").await.location(), Some("/account/security"));
    // The same secret is shown until confirmed.
    assert_eq!(
        browser
            .get("/account/security")
            .await
            .element_text("id=\"totp-secret\"")
            .unwrap(),
        secret_text
    );
    let elsewhere = panel.client();
    panel.login(&elsewhere, "ada", GOOD_PASSWORD).await;
    assert_eq!(elsewhere.get("/account/security").await.status, 200);
    panel.enroll_totp(&browser).await;
    assert_eq!(browser.get("/").await.status, 200);
    assert_eq!(
        elsewhere.get("/account/security").await.location(),
        Some("/login"),
        "a 2FA change ends other sessions"
    );
}

#[tokio::test]
async fn login_takes_password_then_code_and_a_code_works_once() {
    let (panel, _first, secret, _codes) = enrolled().await;
    let browser = panel.client();
    let res = panel.login(&browser, "ada", GOOD_PASSWORD).await;
    assert_eq!(res.location(), Some("/login/2fa"));
    let pending = browser.cookie("rampart_session").unwrap();
    // The half-done session opens nothing else.
    for path in ["/", "/account/security", "/admin/users"] {
        assert_eq!(browser.get(path).await.location(), Some("/login"), "{path}");
    }
    panel.clock.advance(30); // the enrolment used the current step
    let code = panel.totp_code(&secret, 0);
    let res = panel.submit_second_factor(&browser, &code).await;
    assert_eq!(res.location(), Some("/"), "{}", res.body);
    let full = browser.cookie("rampart_session").unwrap();
    assert_ne!(pending, full, "a new session id after the second factor");
    assert_eq!(browser.get("/").await.status, 200);

    // Replay: the same code, in a new login within its validity window.
    let again = panel.client();
    panel.login(&again, "ada", GOOD_PASSWORD).await;
    let res = panel.submit_second_factor(&again, &code).await;
    assert_eq!(res.status, 401);
    assert!(res.body.contains("not valid"));
    // An older step is refused too; the next one works.
    let res = panel
        .submit_second_factor(&again, &panel.totp_code(&secret, -1))
        .await;
    assert_eq!(res.status, 401);
    let res = panel
        .submit_second_factor(&again, &panel.totp_code(&secret, 1))
        .await;
    assert_eq!(res.location(), Some("/"));
}

#[tokio::test]
async fn recovery_codes_work_once_each() {
    let (panel, _first, _secret, codes) = enrolled().await;
    let browser = panel.client();
    panel.login(&browser, "ada", GOOD_PASSWORD).await;
    // Typed with spaces and capitals, as people do.
    let typed = codes[3].to_uppercase().replace('-', " ");
    assert_eq!(
        panel
            .submit_second_factor(&browser, &typed)
            .await
            .location(),
        Some("/")
    );

    let again = panel.client();
    panel.login(&again, "ada", GOOD_PASSWORD).await;
    let res = panel.submit_second_factor(&again, &codes[3]).await;
    assert_eq!(res.status, 401, "a used recovery code is refused");
    assert_eq!(
        panel
            .submit_second_factor(&again, &codes[4])
            .await
            .location(),
        Some("/")
    );
}

#[tokio::test]
async fn the_second_step_belongs_to_the_session_that_passed_the_first() {
    let (panel, enrolled_browser, secret, _codes) = enrolled().await;
    panel.clock.advance(30);
    let code = panel.totp_code(&secret, 0);
    // Someone with no session, or with another user's full session, cannot
    // use a valid code to step into ada's account.
    let stranger = panel.client();
    assert_eq!(stranger.get("/login/2fa").await.location(), Some("/login"));
    let res = stranger
        .post_form("/login/2fa", &[("code", &code), ("csrf_token", "x")])
        .await;
    assert_eq!(res.location(), Some("/login"));
    let bob_id = panel.user("bob", "viewer").await;
    let bob = panel.session_for(bob_id).await;
    let res = bob
        .post_form("/login/2fa", &[("code", &code), ("csrf_token", "x")])
        .await;
    assert_eq!(res.location(), Some("/login"));
    let bob_csrf = bob.get("/").await.csrf_token().unwrap();
    let res = bob
        .post_form("/login/2fa", &[("code", &code), ("csrf_token", &bob_csrf)])
        .await;
    assert_eq!(
        res.location(),
        Some("/login"),
        "a full session is not a pending one"
    );
    assert!(bob.get("/").await.body.contains("bob"), "bob is still bob");
    // The enrolled browser's own full session is not a pending one either.
    let res = enrolled_browser.get("/login/2fa").await;
    assert_eq!(res.location(), Some("/login"));
    // The code was not consumed by the refused attempts.
    let real = panel.client();
    panel.login(&real, "ada", GOOD_PASSWORD).await;
    assert_eq!(
        panel.submit_second_factor(&real, &code).await.location(),
        Some("/")
    );
}

#[tokio::test]
async fn the_second_step_expires_after_five_minutes() {
    let (panel, _b, secret, _codes) = enrolled().await;
    let browser = panel.client();
    panel.login(&browser, "ada", GOOD_PASSWORD).await;
    let csrf = browser.get("/login/2fa").await.csrf_token().unwrap();
    panel.clock.advance(5 * 60);
    let code = panel.totp_code(&secret, 0);
    let res = browser
        .post_form("/login/2fa", &[("code", &code), ("csrf_token", &csrf)])
        .await;
    assert_eq!(res.location(), Some("/login"));
    assert_eq!(browser.get("/").await.location(), Some("/login"));
}

#[tokio::test]
async fn wrong_codes_are_rate_limited() {
    let (panel, _b, secret, _codes) = enrolled().await;
    let browser = panel.client();
    panel.login(&browser, "ada", GOOD_PASSWORD).await;
    for _ in 0..5 {
        assert_eq!(
            panel.submit_second_factor(&browser, "123456").await.status,
            401
        );
    }
    let res = panel
        .submit_second_factor(&browser, &panel.totp_code(&secret, 1))
        .await;
    assert_eq!(res.status, 429);
    assert!(res.header("retry-after").is_some());
}

#[tokio::test]
async fn disabling_needs_password_and_a_current_code() {
    let (panel, browser, secret, _codes) = enrolled().await;
    panel.clock.advance(30);
    let csrf = browser.get("/account/security").await.csrf_token().unwrap();
    let code = panel.totp_code(&secret, 0);
    let wrong_pw = browser
        .post_form(
            "/account/security/totp/disable",
            &[
                ("password", "not my password at all"),
                ("code", &code),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(wrong_pw.status, 400);
    let wrong_code = browser
        .post_form(
            "/account/security/totp/disable",
            &[
                ("password", GOOD_PASSWORD),
                ("code", "000000"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(wrong_code.status, 400);
    assert!(
        panel
            .services
            .store
            .find_user_by_username(&rampart_core::Username::parse("ada").unwrap())
            .await
            .unwrap()
            .unwrap()
            .totp
            .is_some()
    );
    let ok = browser
        .post_form(
            "/account/security/totp/disable",
            &[
                ("password", GOOD_PASSWORD),
                ("code", &code),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(ok.location(), Some("/account/security"));
    // Admins must enrol again before doing anything else.
    assert_eq!(browser.get("/").await.location(), Some("/account/security"));
}
