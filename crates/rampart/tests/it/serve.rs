//! `rampart up` / `rampart panel` as a user runs them.

use std::time::Duration;

use rampart_core::totp::step_of;
use rampart_core::{Clock, SystemClock};
use rampart_testkit::{Binary, GOOD_PASSWORD, TestClient, enroll_totp};

use super::{STARTUP, exe, run_to_end, setup_url};

#[tokio::test]
async fn up_refuses_a_public_address_without_tls_or_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    for addr in ["0.0.0.0:0", "[::]:0"] {
        let (code, stdout, stderr) =
            run_to_end(&["up", "--listen", addr, "--data-dir", data], &[]).await;
        assert_ne!(code, 0, "{addr}");
        assert!(stderr.contains("refusing to serve plain HTTP"), "{stderr}");
        assert!(
            stderr.contains("--behind-proxy"),
            "the message says what to do: {stderr}"
        );
        assert!(!stdout.contains("Setup URL"), "nothing was started");
    }
    assert!(
        !dir.path().join("rampart.db").exists(),
        "refused before touching the store"
    );
    // --behind-proxy without an https public URL is refused too.
    let (code, _, stderr) = run_to_end(
        &[
            "up",
            "--listen",
            "0.0.0.0:0",
            "--behind-proxy",
            "--data-dir",
            data,
        ],
        &[],
    )
    .await;
    assert_ne!(code, 0);
    assert!(stderr.contains("--public-url"), "{stderr}");
}

/// Runs the whole first-use story against the real binary and checks that
/// no secret ever reaches its log output.
async fn first_use_leaves_no_secret_in_logs(log_format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let mut bin = Binary::start(
        exe(),
        &[
            "up",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data,
            "--log-format",
            log_format,
        ],
        &[],
    );
    let line = bin
        .wait_stdout_line("Setup URL: ", STARTUP)
        .await
        .expect("setup line");
    let url = setup_url(&line);
    let token = url.split("token=").nth(1).unwrap().to_owned();
    assert_eq!(token.len(), 64, "256-bit token");
    let base = url.split("/setup").next().unwrap().to_owned();

    let browser = TestClient::new(&base);
    let path = format!("/setup?token={token}");
    let csrf = browser.get(&path).await.csrf_token().unwrap();
    let res = browser
        .post_form(
            &path,
            &[
                ("username", "ada"),
                ("password", GOOD_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    // Admins must enrol in 2FA first.
    assert_eq!(browser.get("/").await.location(), Some("/account/security"));
    let (secret, recovery) = enroll_totp(&browser, SystemClock.now()).await;
    let home = browser.get("/").await;
    assert_eq!(home.status, 200);
    let session = browser.cookie("rampart_session").unwrap();

    let failed = TestClient::new(&base);
    let csrf2 = failed.get("/login").await.csrf_token().unwrap();
    let wrong_password = "hunter2-but-longer-and-wrong";
    let res = failed
        .post_form(
            "/login",
            &[
                ("username", "ada"),
                ("password", wrong_password),
                ("csrf_token", &csrf2),
            ],
        )
        .await;
    assert_eq!(res.status, 401);

    let logout_csrf = home.csrf_token().unwrap();
    assert_eq!(
        browser
            .post_form("/logout", &[("csrf_token", &logout_csrf)])
            .await
            .status,
        303
    );
    // Back in with password and the next TOTP code (the current step was
    // used to confirm, and a used step is refused).
    let csrf3 = browser.get("/login").await.csrf_token().unwrap();
    let res = browser
        .post_form(
            "/login",
            &[
                ("username", "ada"),
                ("password", GOOD_PASSWORD),
                ("csrf_token", &csrf3),
            ],
        )
        .await;
    assert_eq!(res.location(), Some("/login/2fa"));
    let page = browser.get("/login/2fa").await;
    let csrf4 = page.csrf_token().unwrap();
    let next = secret.code_at_step(step_of(SystemClock.now()) + 1);
    let res = browser
        .post_form("/login/2fa", &[("code", &next), ("csrf_token", &csrf4)])
        .await;
    assert_eq!(res.location(), Some("/"), "{}", res.body);
    let session2 = browser.cookie("rampart_session").unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    bin.stop().await;

    let stdout = bin.stdout();
    assert_eq!(
        stdout.len(),
        1,
        "stdout holds exactly the setup line: {stdout:?}"
    );
    let logs = bin.stderr().join("\n");
    assert!(
        logs.contains("authentication failure; rhost=127.0.0.1"),
        "the fail2ban line: {logs}"
    );
    assert!(logs.contains("/setup"), "access log has the path: {logs}");
    let totp_secret = secret.to_base32();
    let mut secrets = vec![
        token.as_str(),
        &session,
        &session2,
        GOOD_PASSWORD,
        wrong_password,
        &csrf,
        &csrf2,
        &csrf3,
        &csrf4,
        &logout_csrf,
        &totp_secret,
    ];
    secrets.extend(recovery.iter().map(String::as_str));
    for secret in secrets {
        assert!(
            !logs.contains(secret),
            "secret in logs ({log_format}): {secret}\n{logs}"
        );
    }
    if log_format == "json" {
        for l in logs.lines() {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        }
    }
}

#[tokio::test]
async fn first_use_leaves_no_secret_in_text_logs() {
    first_use_leaves_no_secret_in_logs("text").await;
}

#[tokio::test]
async fn first_use_leaves_no_secret_in_json_logs() {
    first_use_leaves_no_secret_in_logs("json").await;
}

#[tokio::test]
async fn each_start_replaces_the_setup_token_until_an_admin_exists() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let args = ["panel", "--listen", "127.0.0.1:0", "--data-dir", data];
    let mut first = Binary::start(exe(), &args, &[]);
    let old = setup_url(
        &first
            .wait_stdout_line("Setup URL: ", STARTUP)
            .await
            .unwrap(),
    );
    first.stop().await;
    let mut second = Binary::start(exe(), &args, &[]);
    let new = setup_url(
        &second
            .wait_stdout_line("Setup URL: ", STARTUP)
            .await
            .unwrap(),
    );
    assert_ne!(old, new);
    let base = new.split("/setup").next().unwrap();
    let client = TestClient::new(base);
    let old_path = format!("/setup?{}", old.split('?').nth(1).unwrap());
    assert_eq!(client.get(&old_path).await.status, 403, "the old link died");
    let new_path = format!("/setup?{}", new.split('?').nth(1).unwrap());
    assert_eq!(client.get(&new_path).await.status, 200);
    second.stop().await;
}
