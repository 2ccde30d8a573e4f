//! `rampart admin create-user`.

use rampart_testkit::{Binary, GOOD_PASSWORD, TestClient};

use super::{exe, run_to_end};

#[tokio::test]
async fn create_user_makes_an_admin_and_closes_setup() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, format!("{GOOD_PASSWORD}\n")).unwrap();
    let pw = pw.to_str().unwrap();

    let (code, stdout, stderr) = run_to_end(
        &[
            "admin",
            "create-user",
            "--username",
            "ops",
            "--role",
            "admin",
            "--password-file",
            pw,
            "--data-dir",
            data,
        ],
        &[],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let created: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(created["username"], "ops");
    assert_eq!(created["role"], "admin");
    assert!(!stderr.contains(GOOD_PASSWORD));

    let (code, _, stderr) = run_to_end(
        &[
            "admin",
            "create-user",
            "--username",
            "ops",
            "--role",
            "viewer",
            "--password-file",
            pw,
            "--data-dir",
            data,
        ],
        &[],
    )
    .await;
    assert_ne!(code, 0);
    assert!(stderr.contains("already exists"), "{stderr}");

    // With an admin present, the panel prints no setup link, and the
    // password from the file (newline dropped) signs in.
    let mut panel = Binary::start(
        exe(),
        &["panel", "--listen", "127.0.0.1:0", "--data-dir", data],
        &[],
    );
    let base = super::listening(&panel).await;
    assert!(
        panel.stdout().is_empty(),
        "no setup line: {:?}",
        panel.stdout()
    );
    let client = TestClient::new(&base);
    assert_eq!(client.get("/setup").await.status, 404);
    let csrf = client.get("/login").await.csrf_token().unwrap();
    let res = client
        .post_form(
            "/login",
            &[
                ("username", "ops"),
                ("password", GOOD_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    panel.stop().await;
}

#[tokio::test]
async fn create_user_refuses_bad_input_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let short = dir.path().join("short");
    std::fs::write(&short, "tiny\n").unwrap();
    let good = dir.path().join("good");
    std::fs::write(&good, GOOD_PASSWORD).unwrap();
    let common = dir.path().join("common");
    std::fs::write(&common, "1qaz2wsx3edc\n").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--username",
                "ops",
                "--role",
                "admin",
                "--password-file",
                short.to_str().unwrap(),
            ],
            "12 characters",
        ),
        (
            &[
                "--username",
                "Bad Name",
                "--role",
                "admin",
                "--password-file",
                good.to_str().unwrap(),
            ],
            "--username",
        ),
        (
            &[
                "--username",
                "ops",
                "--role",
                "admin",
                "--password-file",
                common.to_str().unwrap(),
            ],
            "too common",
        ),
        (
            &[
                "--username",
                "ops",
                "--role",
                "admin",
                "--password-file",
                "/nonexistent/pw",
            ],
            "password file",
        ),
    ];
    for (args, hint) in cases {
        let mut all = vec!["admin", "create-user", "--data-dir", data];
        all.extend_from_slice(args);
        let (code, _, stderr) = run_to_end(&all, &[]).await;
        assert_ne!(code, 0, "{args:?}");
        assert!(stderr.contains(hint), "{args:?}: {stderr}");
    }
    assert!(
        !dir.path().join("data").join("rampart.db").exists(),
        "bad input never opened the store"
    );
}
