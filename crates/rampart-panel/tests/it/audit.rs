//! The audit log (SPEC R100–R103): what is recorded, that secrets are not,
//! and that the hash chain catches edits.

use rampart_panel::audit::{AuditBody, GENESIS_HASH};
use rampart_testkit::{GOOD_PASSWORD, spawn_panel};

#[tokio::test]
async fn events_are_recorded_with_who_what_where_and_no_secrets() {
    let panel = spawn_panel().await;
    let browser = panel.client();
    panel.create_admin(&browser, "ada", GOOD_PASSWORD).await;
    let (secret, codes) = panel.enroll_totp(&browser).await;
    let viewer_id = panel.user("vic", "viewer").await;
    let viewer = panel.session_for(viewer_id).await;
    assert_eq!(viewer.get("/admin/audit").await.status, 403);
    let failed = panel
        .login(&panel.client(), "ada", "wrong password entirely")
        .await;
    assert_eq!(failed.status, 401);
    let t = browser.get("/").await.csrf_token().unwrap();
    assert_eq!(
        browser
            .post_form(
                &format!("/admin/users/{viewer_id}/deactivate"),
                &[("csrf_token", &t)]
            )
            .await
            .status,
        200
    );
    assert_eq!(
        browser.post_form("/logout", &[]).await.status,
        403,
        "CSRF refusal"
    );

    let records = panel.audit_records().await;
    let find = |action: &str| {
        records
            .iter()
            .find(|r| r.body.action == action)
            .unwrap_or_else(|| panic!("no {action} in {records:#?}"))
    };
    let setup = find("setup.first_admin");
    assert_eq!(setup.body.event_type, "SECURITY");
    assert!(setup.body.actor.starts_with("user:1:ada"));
    let enable = find("2fa.enable");
    assert_eq!(
        (enable.body.event_type.as_str(), enable.body.result.as_str()),
        ("SECURITY", "success")
    );
    let denied = find("authz.denied");
    assert_eq!(denied.body.event_type, "AUTHZ_DENIED");
    assert_eq!(denied.body.actor, format!("user:{viewer_id}:vic"));
    assert!(denied.body.extra.contains("audit.view"));
    let bad_login = find("login.password");
    assert_eq!(
        (
            bad_login.body.event_type.as_str(),
            bad_login.body.actor.as_str()
        ),
        ("AUTH_FAILED", "anonymous")
    );
    let deactivate = find("user.deactivate");
    assert_eq!(
        deactivate.body.target.as_deref(),
        Some(format!("user:{viewer_id}").as_str())
    );
    assert!(deactivate.body.actor.starts_with("user:1:"));
    let csrf = find("csrf.rejected");
    assert_eq!(csrf.body.event_type, "SECURITY");
    for r in &records {
        assert_eq!(r.body.ip.as_deref(), Some("127.0.0.1"), "{r:?}");
        assert!(
            r.body
                .request_id
                .as_deref()
                .is_some_and(|id| id.len() == 16),
            "{r:?}"
        );
    }
    // No secret anywhere in the log.
    let everything = serde_json::to_string(&records).unwrap();
    let mut secrets = vec![
        GOOD_PASSWORD.to_owned(),
        "wrong password entirely".into(),
        secret.to_base32(),
    ];
    secrets.extend(codes);
    secrets.push(browser.cookie("rampart_session").unwrap());
    secrets.push(t);
    for s in secrets {
        assert!(!everything.contains(&s), "secret {s} in the audit log");
    }
    let report = panel.services.store.verify_audit().await.unwrap();
    assert_eq!(report.first_broken, None);
    assert_eq!(report.checked as usize, records.len());
}

#[tokio::test]
async fn admin_audit_page_filters() {
    let panel = rampart_testkit::spawn_panel_no_forced_2fa().await;
    let browser = panel.client();
    panel.create_admin(&browser, "ada", GOOD_PASSWORD).await;
    panel
        .login(&panel.client(), "ada", "wrong password entirely")
        .await;
    let all = browser.get("/admin/audit").await;
    assert_eq!(all.status, 200);
    assert!(all.body.contains("setup.first_admin") && all.body.contains("login.password"));
    let failed = browser.get("/admin/audit?type=AUTH_FAILED").await;
    assert!(failed.body.contains("login.password") && !failed.body.contains("setup.first_admin"));
    let by_actor = browser.get("/admin/audit?actor=user%3A1%3Aada").await;
    assert!(
        by_actor.body.contains("setup.first_admin") && !by_actor.body.contains("login.password")
    );
    let future = browser.get("/admin/audit?since=2099-01-01").await;
    assert!(future.body.contains("No records match"));
    let bad = browser.get("/admin/audit?since=yesterday").await;
    assert!(bad.body.contains("YYYY-MM-DD"));
}

fn body(action: &str, at: i64) -> AuditBody {
    AuditBody {
        at,
        event_type: "AUDIT".into(),
        actor: "user:1:ada".into(),
        action: action.into(),
        target: None,
        result: "success".into(),
        ip: Some("127.0.0.1".into()),
        user_agent: None,
        request_id: None,
        extra: "{}".into(),
    }
}

#[tokio::test]
async fn chain_verifies_and_pruning_keeps_it_verifiable_on_both_engines() {
    let stores = rampart_testkit::stores().await;
    for (engine, store) in &stores.all {
        for i in 0..5 {
            store
                .append_audit(&body(&format!("old.{i}"), 1_000 + i))
                .await
                .unwrap();
        }
        for i in 0..5 {
            store
                .append_audit(&body(&format!("new.{i}"), 10_000 + i))
                .await
                .unwrap();
        }
        let first = store.audit_since(0, 0, 1).await.unwrap();
        assert_eq!(first[0].prev_hash, GENESIS_HASH, "{engine}");
        let r = store.verify_audit().await.unwrap();
        assert_eq!((r.checked, r.first_broken), (10, None), "{engine}");
        let (n, through) = store.prune_audit(5_000).await.unwrap();
        assert_eq!(n, 5, "{engine}");
        assert!(through.is_some());
        let r = store.verify_audit().await.unwrap();
        assert_eq!(
            (r.checked, r.first_broken),
            (5, None),
            "{engine}: still verifiable after pruning"
        );
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn retention_prunes_old_records_and_records_a_checkpoint() {
    let panel = rampart_testkit::spawn_panel_no_forced_2fa().await;
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;
    let before = panel.audit_records().await.len();
    assert!(before >= 1);
    panel.clock.advance(91 * 86_400);
    panel
        .login(&panel.client(), "ada", "wrong password entirely")
        .await;
    assert_eq!(
        panel.services.apply_audit_retention().await.unwrap() as usize,
        before
    );
    let after = panel.audit_records().await;
    assert!(after.iter().any(|r| r.body.action == "login.password"));
    assert!(after.iter().all(|r| r.body.action != "setup.first_admin"));
    let checkpoint = after
        .iter()
        .find(|r| r.body.action == "audit.pruned")
        .unwrap();
    assert!(
        checkpoint
            .body
            .extra
            .contains(&format!("\"records\":{before}"))
    );
    assert_eq!(
        panel
            .services
            .store
            .verify_audit()
            .await
            .unwrap()
            .first_broken,
        None
    );
}
