//! User administration (SPEC R20), custom roles (R17), own password changes (R10/R11).

use rampart_testkit::{GOOD_PASSWORD, TestClient, TestPanel, spawn_panel_no_forced_2fa};

async fn admin_panel() -> (TestPanel, TestClient) {
    let panel = spawn_panel_no_forced_2fa().await;
    let admin = panel.client();
    panel.create_admin(&admin, "ada", GOOD_PASSWORD).await;
    (panel, admin)
}

async fn csrf(client: &TestClient) -> String {
    client.get("/account/security").await.csrf_token().unwrap()
}

#[tokio::test]
async fn admin_creates_lists_and_views_users() {
    let (panel, admin) = admin_panel().await;
    let t = csrf(&admin).await;
    let res = admin
        .post_form(
            "/admin/users",
            &[
                ("username", "olga"),
                ("password", GOOD_PASSWORD),
                ("role", "operator"),
                ("csrf_token", &t),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let detail = admin.get(res.location().unwrap()).await;
    assert!(detail.body.contains("olga") && detail.body.contains("operator"));
    let list = admin.get("/admin/users").await;
    assert!(list.body.contains("olga") && list.body.contains("ada"));
    // Bad input: 400 with the reason, nothing created.
    for (u, p, r, hint) in [
        ("Bad Name", GOOD_PASSWORD, "viewer", "username"),
        ("vera", "1qaz2wsx3edc", "viewer", "too common"),
        ("vera", GOOD_PASSWORD, "no-such-role", "unknown role"),
        ("olga", GOOD_PASSWORD, "viewer", "already exists"),
    ] {
        let res = admin
            .post_form(
                "/admin/users",
                &[
                    ("username", u),
                    ("password", p),
                    ("role", r),
                    ("csrf_token", &t),
                ],
            )
            .await;
        assert_eq!(res.status, 400, "{u}");
        assert!(res.body.to_lowercase().contains(hint), "{u}: {hint}");
    }
    assert!(!admin.get("/admin/users").await.body.contains("vera"));
    // The new user signs in.
    assert_eq!(
        panel
            .login(&panel.client(), "olga", GOOD_PASSWORD)
            .await
            .location(),
        Some("/")
    );
}

#[tokio::test]
async fn deactivation_ends_sessions_at_once_and_reactivation_restores_login() {
    let (panel, admin) = admin_panel().await;
    let id = panel.user("olga", "operator").await;
    let olga = panel.client();
    panel.login(&olga, "olga", GOOD_PASSWORD).await;
    assert_eq!(olga.get("/").await.status, 200);
    let t = csrf(&admin).await;
    let res = admin
        .post_form(
            &format!("/admin/users/{id}/deactivate"),
            &[("csrf_token", &t)],
        )
        .await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains("Deactivated"));
    assert_eq!(
        olga.get("/").await.location(),
        Some("/login"),
        "signed out at once"
    );
    assert_eq!(
        panel
            .login(&panel.client(), "olga", GOOD_PASSWORD)
            .await
            .status,
        401
    );
    admin
        .post_form(
            &format!("/admin/users/{id}/reactivate"),
            &[("csrf_token", &t)],
        )
        .await;
    assert_eq!(
        panel
            .login(&panel.client(), "olga", GOOD_PASSWORD)
            .await
            .location(),
        Some("/")
    );
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_removed() {
    let (panel, admin) = admin_panel().await;
    let t = csrf(&admin).await;
    let me = panel
        .services
        .store
        .find_user_by_username(&rampart_core::Username::parse("ada").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    for (path, fields) in [
        (
            format!("/admin/users/{me}/deactivate"),
            vec![("csrf_token", t.as_str())],
        ),
        (
            format!("/admin/users/{me}/delete"),
            vec![("csrf_token", t.as_str())],
        ),
        (
            format!("/admin/users/{me}/role"),
            vec![("role", "operator"), ("csrf_token", t.as_str())],
        ),
    ] {
        let res = admin.post_form(&path, &fields).await;
        assert_eq!(res.status, 400, "{path}");
        assert!(res.body.contains("no active administrator"), "{path}");
    }
    assert_eq!(
        admin.get("/").await.status,
        200,
        "still signed in, still admin"
    );
    // With a second admin, the first may step down.
    let other = panel.user("root2", "admin").await;
    let res = admin
        .post_form(
            &format!("/admin/users/{me}/role"),
            &[("role", "viewer"), ("csrf_token", &t)],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        admin.get("/").await.location(),
        Some("/login"),
        "a role change signs the user out"
    );
    let root2 = panel.session_for(other).await;
    let t2 = csrf(&root2).await;
    // Now root2 is the last active admin.
    let res = root2
        .post_form(
            &format!("/admin/users/{other}/deactivate"),
            &[("csrf_token", &t2)],
        )
        .await;
    assert_eq!(res.status, 400);
}

#[tokio::test]
async fn admin_password_reset_follows_the_policy_and_ends_sessions() {
    let (panel, admin) = admin_panel().await;
    let id = panel.user("olga", "viewer").await;
    let olga = panel.session_for(id).await;
    let t = csrf(&admin).await;
    let weak = admin
        .post_form(
            &format!("/admin/users/{id}/password"),
            &[("password", "short"), ("csrf_token", &t)],
        )
        .await;
    assert_eq!(weak.status, 400);
    assert_eq!(
        olga.get("/").await.status,
        200,
        "refused reset changes nothing"
    );
    let ok = admin
        .post_form(
            &format!("/admin/users/{id}/password"),
            &[("password", "a brand new passphrase"), ("csrf_token", &t)],
        )
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(olga.get("/").await.location(), Some("/login"));
    assert_eq!(
        panel
            .login(&panel.client(), "olga", "a brand new passphrase")
            .await
            .location(),
        Some("/")
    );
}

#[tokio::test]
async fn delete_user_removes_them() {
    let (panel, admin) = admin_panel().await;
    let id = panel.user("olga", "viewer").await;
    let t = csrf(&admin).await;
    let res = admin
        .post_form(&format!("/admin/users/{id}/delete"), &[("csrf_token", &t)])
        .await;
    assert_eq!(res.location(), Some("/admin/users"));
    assert_eq!(admin.get(&format!("/admin/users/{id}")).await.status, 404);
    assert_eq!(
        panel
            .login(&panel.client(), "olga", GOOD_PASSWORD)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn custom_roles_grant_exactly_their_scopes() {
    let (panel, admin) = admin_panel().await;
    let t = csrf(&admin).await;
    let res = admin
        .post_form(
            "/admin/roles",
            &[
                ("name", "support"),
                ("scope", "users.view"),
                ("scope", "audit.view"),
                ("csrf_token", &t),
            ],
        )
        .await;
    assert_eq!(res.location(), Some("/admin/roles"), "{}", res.body);
    let roles = admin.get("/admin/roles").await;
    assert!(roles.body.contains("support") && roles.body.contains("audit.view"));
    for (name, scope, hint) in [
        ("admin", "users.view", "built-in"),
        ("Bad Name", "users.view", "role names"),
        ("x1x", "root.all", "unknown scope"),
    ] {
        let res = admin
            .post_form(
                "/admin/roles",
                &[("name", name), ("scope", scope), ("csrf_token", &t)],
            )
            .await;
        assert_eq!(res.status, 400, "{name}");
        assert!(res.body.to_lowercase().contains(hint), "{name}: {hint}");
    }
    let id = panel.user("sam", "support").await;
    let sam = panel.session_for(id).await;
    assert_eq!(sam.get("/admin/users").await.status, 200);
    assert_eq!(sam.get("/admin/audit").await.status, 200);
    assert_eq!(sam.get("/admin/roles").await.status, 403);
    let st = csrf(&sam).await;
    let res = sam
        .post_form(
            "/admin/users",
            &[
                ("username", "eve"),
                ("password", GOOD_PASSWORD),
                ("role", "admin"),
                ("csrf_token", &st),
            ],
        )
        .await;
    assert_eq!(res.status, 403, "users.view is not users.edit");
    // A role in use cannot be deleted.
    let res = admin
        .post_form("/admin/roles/support/delete", &[("csrf_token", &t)])
        .await;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("held by"));
}

#[tokio::test]
async fn own_password_change_needs_the_current_one_and_ends_other_sessions() {
    let (panel, admin) = admin_panel().await;
    let other = panel.client();
    panel.login(&other, "ada", GOOD_PASSWORD).await;
    let t = csrf(&admin).await;
    let change = |current: &'static str, new: &'static str| {
        let (a, t) = (&admin, t.clone());
        async move {
            a.post_form(
                "/account/password",
                &[
                    ("current_password", current),
                    ("password", new),
                    ("csrf_token", &t),
                ],
            )
            .await
        }
    };
    let wrong = change("not the current one", "a brand new passphrase").await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("current password is wrong"));
    let weak = change(GOOD_PASSWORD, "aaaa-bbbb-cccc").await;
    assert_eq!(weak.status, 400);
    let repeated = change(GOOD_PASSWORD, "passsssword long enough").await;
    assert!(repeated.body.contains("more than 3 times"));
    assert_eq!(other.get("/").await.status, 200, "refusals change nothing");
    let ok = change(GOOD_PASSWORD, "a brand new passphrase").await;
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains("Password changed"));
    assert_eq!(admin.get("/").await.status, 200, "this session continues");
    assert_eq!(
        other.get("/").await.location(),
        Some("/login"),
        "other sessions end"
    );
    assert_eq!(
        panel
            .login(&panel.client(), "ada", "a brand new passphrase")
            .await
            .location(),
        Some("/")
    );
}
