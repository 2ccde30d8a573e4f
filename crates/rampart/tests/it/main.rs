//! Integration tests of the `rampart` binary, run as a real process.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Tests time real requests.
#![allow(clippy::disallowed_methods)]

mod admin_cli;
mod agent_refusals;
mod api_cli;
mod audit_cli;
mod browser;
mod config_layers;
mod docs;
mod file_manager;
mod file_races;
mod files;
mod files_browser;
mod files_rig;
mod isolation;
mod nodes;
mod pull;
mod rotation;
mod serve;
mod server_browser;
mod server_rig;
mod servers;
mod sftp;
mod tls;

use std::path::Path;
use std::time::Duration;

pub const EXE: &str = env!("CARGO_BIN_EXE_rampart");

pub fn exe() -> &'static Path {
    Path::new(EXE)
}

pub const STARTUP: Duration = Duration::from_secs(20);

/// Runs `rampart` to completion; (exit code, stdout, stderr).
pub async fn run_to_end(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut bin = rampart_testkit::Binary::start(exe(), args, env);
    let code = bin
        .wait_exit(Duration::from_secs(60))
        .await
        .expect("rampart exits");
    (code, bin.stdout().join("\n"), bin.stderr().join("\n"))
}

/// The URL in a `Setup URL: …` line.
pub fn setup_url(line: &str) -> String {
    line.strip_prefix("Setup URL: ")
        .expect("setup line")
        .to_owned()
}

/// The panel's base URL, from its "panel listening" log line.
pub async fn listening(bin: &rampart_testkit::Binary) -> String {
    let deadline = tokio::time::Instant::now() + STARTUP;
    loop {
        if let Some(l) = bin.stderr().iter().find(|l| l.contains("panel listening")) {
            let addr = l
                .split("listen=")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap();
            return format!("http://{addr}");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "panel did not start: {:?}",
            bin.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// With the CLI, as a script would: user `ops` (operator, password
/// [`rampart_testkit::GOOD_PASSWORD`]) in `data`, and an API client of theirs
/// with `scopes`; the client's `{"client_id","client_secret"}`.
pub async fn operator_with_client(dir: &Path, data: &str, scopes: &str) -> serde_json::Value {
    let pw = dir.join("pw");
    std::fs::write(&pw, rampart_testkit::GOOD_PASSWORD).unwrap();
    let (code, _, e) = run_to_end(
        &[
            "admin",
            "create-user",
            "--username",
            "ops",
            "--role",
            "operator",
            "--password-file",
            pw.to_str().unwrap(),
            "--data-dir",
            data,
        ],
        &[],
    )
    .await;
    assert_eq!(code, 0, "{e}");
    let (code, out, e) = run_to_end(
        &[
            "admin",
            "create-client",
            "--username",
            "ops",
            "--name",
            "ci",
            "--scopes",
            scopes,
            "--data-dir",
            data,
        ],
        &[],
    )
    .await;
    assert_eq!(code, 0, "{e}");
    serde_json::from_str(&out).unwrap()
}
