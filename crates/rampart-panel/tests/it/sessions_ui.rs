//! Listing and revoking one's own sessions (SPEC R11).

use rampart_testkit::{GOOD_PASSWORD, spawn_panel_no_forced_2fa};

#[tokio::test]
async fn list_and_revoke_own_sessions_only() {
    let panel = spawn_panel_no_forced_2fa().await;
    let laptop = panel.client();
    panel.create_admin(&laptop, "ada", GOOD_PASSWORD).await;
    let phone = panel.client();
    let tablet = panel.client();
    for c in [&phone, &tablet] {
        panel.login(c, "ada", GOOD_PASSWORD).await;
    }
    let page = laptop.get("/account/sessions").await;
    assert_eq!(page.status, 200);
    let ids: Vec<String> = page
        .body
        .match_indices("/account/sessions/")
        .filter_map(|(i, _)| page.body[i + 18..].split('/').next().map(str::to_owned))
        .filter(|id| id.len() == 24)
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "two other sessions listed with a revoke button: {ids:?}"
    );
    assert!(page.body.contains("This session"));
    assert!(page.body.contains("127.0.0.1"));
    let t = page.csrf_token().unwrap();

    // Bob cannot revoke ada's sessions: their ids are unknown to him.
    let bob_id = panel.user("bob", "viewer").await;
    let bob = panel.session_for(bob_id).await;
    let bt = bob.get("/account/sessions").await.csrf_token().unwrap();
    let res = bob
        .post_form(
            &format!("/account/sessions/{}/revoke", ids[0]),
            &[("csrf_token", &bt)],
        )
        .await;
    assert_eq!(res.status, 404);
    assert_eq!(
        phone.get("/").await.status + tablet.get("/").await.status,
        400,
        "both still signed in"
    );

    let res = laptop
        .post_form(
            &format!("/account/sessions/{}/revoke", ids[0]),
            &[("csrf_token", &t)],
        )
        .await;
    assert_eq!(res.location(), Some("/account/sessions"));
    let signed_out = [phone.get("/").await.status, tablet.get("/").await.status];
    assert_eq!(
        signed_out.iter().filter(|s| **s == 303).count(),
        1,
        "exactly one revoked"
    );
    let res = laptop
        .post_form("/account/sessions/revoke-others", &[("csrf_token", &t)])
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        (phone.get("/").await.status, tablet.get("/").await.status),
        (303, 303)
    );
    assert_eq!(laptop.get("/").await.status, 200);
    assert_eq!(bob.get("/").await.status, 200, "other users untouched");
}
