//! `rampart audit verify|export` and the break-glass admin commands, on a
//! store filled by a real panel, tampered with by hand.

use rampart_testkit::postgres::tamper_sqlite;
use rampart_testkit::{Binary, GOOD_PASSWORD, TestClient};

use super::{STARTUP, exe, run_to_end, setup_url};

/// Runs a panel on `data`, creates the admin `ada` and fails one login.
async fn fill(data: &str) {
    let mut bin = Binary::start(
        exe(),
        &["up", "--listen", "127.0.0.1:0", "--data-dir", data],
        &[],
    );
    let url = setup_url(&bin.wait_stdout_line("Setup URL: ", STARTUP).await.unwrap());
    let base = url.split("/setup").next().unwrap().to_owned();
    let path = format!("/setup?{}", url.split('?').nth(1).unwrap());
    let c = TestClient::new(&base);
    let csrf = c.get(&path).await.csrf_token().unwrap();
    c.post_form(
        &path,
        &[
            ("username", "ada"),
            ("password", GOOD_PASSWORD),
            ("csrf_token", &csrf),
        ],
    )
    .await;
    let other = TestClient::new(&base);
    let csrf = other.get("/login").await.csrf_token().unwrap();
    for _ in 0..2 {
        other
            .post_form(
                "/login",
                &[
                    ("username", "ada"),
                    ("password", "wrong password entirely"),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
    }
    bin.stop().await;
}

#[tokio::test]
async fn verify_export_and_tamper_detection() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    fill(data).await;

    let (code, stdout, stderr) = run_to_end(&["audit", "verify", "--data-dir", data], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("audit chain ok: "), "{stdout}");

    let (code, stdout, _) = run_to_end(&["audit", "export", "--data-dir", data], &[]).await;
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 2, "{stdout}");
    assert!(
        lines
            .iter()
            .any(|r| r["action"] == "login.password" && r["event_type"] == "AUTH_FAILED")
    );
    assert!(
        lines
            .iter()
            .all(|r| r["hash"].as_str().is_some_and(|h| h.len() == 64))
    );
    let (_, future, _) = run_to_end(
        &[
            "audit",
            "export",
            "--since",
            "2099-01-01",
            "--data-dir",
            data,
        ],
        &[],
    )
    .await;
    assert!(future.trim().is_empty());
    let (code, _, stderr) = run_to_end(
        &["audit", "export", "--since", "soon", "--data-dir", data],
        &[],
    )
    .await;
    assert_ne!(code, 0);
    assert!(stderr.contains("YYYY-MM-DD"));

    // Rewrite who did the first record, behind the panel's back.
    let first_id = lines[0]["id"].as_i64().unwrap();
    tamper_sqlite(
        &dir.path().join("rampart.db"),
        &format!("UPDATE audit_log SET actor = 'mallory' WHERE id = {first_id}"),
    )
    .await;
    let (code, _, stderr) = run_to_end(&["audit", "verify", "--data-dir", data], &[]).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("broken at record {first_id}")),
        "{stderr}"
    );
}

#[tokio::test]
async fn deleting_a_record_is_detected_too() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    fill(data).await;
    let (_, stdout, _) = run_to_end(&["audit", "export", "--data-dir", data], &[]).await;
    let ids: Vec<i64> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert!(ids.len() >= 3);
    tamper_sqlite(
        &dir.path().join("rampart.db"),
        &format!("DELETE FROM audit_log WHERE id = {}", ids[1]),
    )
    .await;
    let (code, _, stderr) = run_to_end(&["audit", "verify", "--data-dir", data], &[]).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("broken at record {}", ids[2])),
        "{stderr}"
    );
}

#[tokio::test]
async fn break_glass_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, GOOD_PASSWORD).unwrap();
    let pw = pw.to_str().unwrap();
    for (name, role) in [("ops", "admin"), ("olga", "operator")] {
        let (code, _, e) = run_to_end(
            &[
                "admin",
                "create-user",
                "--username",
                name,
                "--role",
                role,
                "--password-file",
                pw,
                "--data-dir",
                data,
            ],
            &[],
        )
        .await;
        assert_eq!(code, 0, "{e}");
    }
    let (code, _, stderr) = run_to_end(
        &[
            "admin",
            "disable-user",
            "--username",
            "ops",
            "--data-dir",
            data,
        ],
        &[],
    )
    .await;
    assert_ne!(code, 0, "the last admin cannot be disabled");
    assert!(stderr.contains("last active admin"), "{stderr}");
    let (code, out, _) = run_to_end(
        &[
            "admin",
            "disable-user",
            "--username",
            "olga",
            "--data-dir",
            data,
        ],
        &[],
    )
    .await;
    assert_eq!(code, 0);
    assert!(out.contains("olga deactivated"));
    let (code, _, stderr) = run_to_end(
        &[
            "admin",
            "disable-user",
            "--username",
            "nobody",
            "--data-dir",
            data,
        ],
        &[],
    )
    .await;
    assert_ne!(code, 0);
    assert!(stderr.contains("no user named nobody"));
    let (code, out, _) = run_to_end(
        &[
            "admin",
            "reset-2fa",
            "--username",
            "ops",
            "--data-dir",
            data,
        ],
        &[],
    )
    .await;
    assert_eq!(code, 0);
    assert!(out.contains("two-factor authentication removed"));
    let (code, out, _) = run_to_end(
        &["admin", "revoke-sessions", "--all", "--data-dir", data],
        &[],
    )
    .await;
    assert_eq!(code, 0);
    assert!(out.contains("session(s) ended"));
    let (code, _, _) = run_to_end(&["admin", "revoke-sessions", "--data-dir", data], &[]).await;
    assert_ne!(code, 0, "needs --all or --username");

    // Each of those is in the (still intact) audit log, by the CLI.
    let (_, stdout, _) = run_to_end(&["audit", "export", "--data-dir", data], &[]).await;
    let actions: Vec<String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["actor"] == "cli")
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "user.create",
            "user.create",
            "user.deactivate",
            "user.reset_2fa",
            "sessions.revoke_all"
        ]
    );
    let (code, _, _) = run_to_end(&["audit", "verify", "--data-dir", data], &[]).await;
    assert_eq!(code, 0);
}
