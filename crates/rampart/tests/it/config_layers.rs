//! Configuration layering (defaults → TOML → env → flags) seen from outside:
//! each layer names a different loopback address, and the printed setup URL
//! shows which one won.

use rampart_testkit::Binary;

use super::{STARTUP, exe, run_to_end, setup_url};

async fn winner(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut bin = Binary::start(exe(), args, env);
    let line = bin
        .wait_stdout_line("Setup URL: ", STARTUP)
        .await
        .unwrap_or_else(|| panic!("no setup line; stderr: {:?}", bin.stderr()));
    bin.stop().await;
    let url = setup_url(&line);
    url.trim_start_matches("http://")
        .split(':')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn flags_beat_env_beat_file() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("rampart.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &toml,
        format!(
            "listen = \"127.0.0.2:0\"\ndata_dir = \"{}\"\n",
            data.display()
        ),
    )
    .unwrap();
    let cfg = toml.to_str().unwrap();
    assert_eq!(winner(&["panel", "--config", cfg], &[]).await, "127.0.0.2");
    assert_eq!(
        winner(
            &["panel", "--config", cfg],
            &[("RAMPART_LISTEN", "127.0.0.3:0")]
        )
        .await,
        "127.0.0.3"
    );
    assert_eq!(
        winner(
            &["panel", "--config", cfg, "--listen", "127.0.0.4:0"],
            &[("RAMPART_LISTEN", "127.0.0.3:0")]
        )
        .await,
        "127.0.0.4"
    );
    assert!(
        data.join("rampart.db").exists(),
        "data_dir came from the file"
    );
}

#[tokio::test]
async fn unknown_config_keys_are_refused_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("rampart.toml");
    std::fs::write(&toml, "lisen = \"127.0.0.1:0\"\n").unwrap();
    let (code, _, stderr) = run_to_end(&["panel", "--config", toml.to_str().unwrap()], &[]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("lisen"), "{stderr}");
}

#[tokio::test]
async fn database_url_from_a_secret_file_reaches_postgres() {
    let Some((_name, url)) = rampart_testkit::postgres::fresh_postgres_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("database_url");
    std::fs::write(&secret, format!("{url}\n")).unwrap();
    let mut bin = Binary::start(
        exe(),
        &[
            "panel",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().join("d").to_str().unwrap(),
        ],
        &[("RAMPART_DATABASE_URL_FILE", secret.to_str().unwrap())],
    );
    let line = bin.wait_stdout_line("Setup URL: ", STARTUP).await;
    bin.stop().await;
    assert!(line.is_some(), "stderr: {:?}", bin.stderr());
    let logs = bin.stderr().join("\n");
    assert!(logs.contains("Postgres"), "{logs}");
    let password = url.split(':').nth(2).unwrap().split('@').next().unwrap();
    assert!(
        !logs.contains(&format!(":{password}@")),
        "database password not logged"
    );
    assert!(
        !dir.path().join("d").join("rampart.db").exists(),
        "no SQLite file was made"
    );
}
