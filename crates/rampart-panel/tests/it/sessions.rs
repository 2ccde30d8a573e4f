//! Idle timeout and absolute lifetime (SPEC R11), with the injected clock.

use rampart_testkit::{GOOD_PASSWORD, spawn_panel_no_forced_2fa};

#[tokio::test]
async fn idle_session_expires_after_thirty_minutes() {
    let panel = spawn_panel_no_forced_2fa().await;
    let browser = panel.client();
    panel.create_admin(&browser, "ada", GOOD_PASSWORD).await;
    panel.clock.advance(29 * 60);
    assert_eq!(
        browser.get("/").await.status,
        200,
        "29 idle minutes: still signed in"
    );
    panel.clock.advance(29 * 60);
    assert_eq!(
        browser.get("/").await.status,
        200,
        "activity reset the idle timer"
    );
    panel.clock.advance(30 * 60);
    let res = browser.get("/").await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location(), Some("/login"));
    // The expired row was removed, not just ignored.
    let raw =
        rampart_core::SecretToken::parse(&browser.cookie("rampart_session").unwrap()).unwrap();
    assert!(
        panel
            .services
            .store
            .find_session(&raw.hash())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn busy_session_still_ends_after_eight_hours() {
    let panel = spawn_panel_no_forced_2fa().await;
    let browser = panel.client();
    panel.create_admin(&browser, "ada", GOOD_PASSWORD).await;
    for _ in 0..(8 * 60 / 20 - 1) {
        panel.clock.advance(20 * 60);
        assert_eq!(browser.get("/").await.status, 200);
    }
    panel.clock.advance(20 * 60); // exactly 8 h after login
    assert_eq!(browser.get("/").await.location(), Some("/login"));
}
