//! SFTP with the real OpenSSH client against the agent's server: login with
//! the panel password, transfers and operations inside the volume, the
//! escape corpus refused, the quota held, and a password change or a lost
//! grant ending the session at its next operation.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rampart_testkit::GOOD_PASSWORD;
use serde_json::Value;

use crate::files_rig::{FilesRig, askpass, files_rig};

/// An `sftp` client reading commands from stdin, with the password given
/// through SSH_ASKPASS (not `-b`: batch mode turns password logins off).
struct Client {
    child: Child,
    _askpass: tempfile::TempDir,
}

fn sftp(rig: &FilesRig, user: &str, password: &str) -> Client {
    let pass = askpass(password);
    let mut cmd = Command::new("sftp");
    cmd.args(["-P", &rig.sftp_port.to_string()])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg(format!("{user}@127.0.0.1"))
        .env("SSH_ASKPASS", pass.path().join("askpass"))
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Client {
        child: cmd.spawn().expect("OpenSSH sftp client (openssh-client)"),
        _askpass: pass,
    }
}

fn run_batch(rig: &FilesRig, user: &str, password: &str, commands: &str) -> (bool, String) {
    let mut c = sftp(rig, user, password);
    let mut stdin = c.child.stdin.take().unwrap();
    stdin.write_all(commands.as_bytes()).unwrap();
    drop(stdin);
    let out = c.child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_sftp_works_inside_the_volume_and_nowhere_else() {
    let rig = files_rig(8).await;
    let vol = rig.volume.clone();
    let outside = rig._dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "top secret").unwrap();
    std::os::unix::fs::symlink("/", vol.join("host")).unwrap();
    std::os::unix::fs::symlink(&outside, vol.join("out")).unwrap();
    std::fs::write(vol.join("server.properties"), "motd=hi\n").unwrap();

    // The server's API document says how to log in.
    let token = rig.panel.api_token(rig.owner, "server.view").await;
    let res = rig
        .panel
        .client()
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/servers/{}", rig.id),
            &[("authorization", &format!("Bearer {token}"))],
            None,
        )
        .await;
    let v: Value = serde_json::from_str(&res.body).unwrap();
    let user = v["sftp"]["username"].as_str().unwrap().to_owned();
    assert_eq!(
        user,
        format!("olga.{}", rig.id.as_str().trim_start_matches("sv_"))
    );
    assert_eq!(v["sftp"]["port"], 5657);
    assert!(v["sftp"]["host"].is_string());

    let local = tempfile::tempdir().unwrap();
    let upload = local.path().join("up.bin");
    let data: Vec<u8> = (0..(3 << 20)).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(&upload, &data).unwrap();
    let down = local.path().join("down.properties");
    let stolen = local.path().join("stolen");
    let commands = format!(
        "put {up} world.bin\n\
         get server.properties {down}\n\
         mkdir plugins\n\
         rename world.bin plugins/world.bin\n\
         ls -l plugins\n\
         chmod 600 plugins/world.bin\n\
         get host/etc/passwd {stolen}\n\
         get out/secret {stolen}\n\
         get ../outside/secret {stolen}\n\
         put {up} host/tmp/rampart-owned\n\
         put {up} out/owned\n\
         mkdir host/tmp/rampart-dir\n\
         rename server.properties out/moved\n\
         rm out/secret\n\
         chmod 777 out/secret\n\
         ln -s / escape\n\
         put {up} too-big-1\n\
         put {up} too-big-2\n",
        up = upload.display(),
        down = down.display(),
        stolen = stolen.display(),
    );
    let (ok, out) = run_batch(&rig, &user, GOOD_PASSWORD, &commands);
    assert!(ok, "{out}");
    assert_eq!(
        std::fs::read(vol.join("plugins/world.bin")).expect(&out),
        data
    );
    assert_eq!(std::fs::read(&down).expect(&out), b"motd=hi\n");
    assert!(out.contains("world.bin"), "{out}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(vol.join("plugins/world.bin"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Nothing crossed a link.
    assert!(!stolen.exists(), "{out}");
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).unwrap(),
        "top secret"
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
    assert!(!std::path::Path::new("/tmp/rampart-owned").exists());
    assert!(!std::path::Path::new("/tmp/rampart-dir").exists());
    assert!(vol.join("server.properties").exists());
    assert!(!vol.join("escape").exists());
    // 8 MiB quota: 3 MiB stored, the second 3 MiB copy does not fit whole.
    let big2 = std::fs::metadata(vol.join("too-big-2"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(big2 < 3 << 20, "the quota let a write through: {big2}");
    assert!(out.contains("quota") || out.contains("Failure"), "{out}");

    // A wrong password, or another tenant's name for this server: refused.
    let (ok, _) = run_batch(&rig, &user, "wrong password here!", "ls\n");
    assert!(!ok);
    let tina = format!("tina.{}", rig.id.as_str().trim_start_matches("sv_"));
    let (ok, _) = run_batch(&rig, &tina, GOOD_PASSWORD, "ls\n");
    assert!(!ok, "another tenant logs in to nobody's server");

    // A session open while the password changes: its next operation fails
    // and the connection ends.
    let mut live = sftp(&rig, &user, GOOD_PASSWORD);
    let mut stdin = live.child.stdin.take().unwrap();
    let stdout = live.child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    writeln!(stdin, "ls -1").unwrap();
    stdin.flush().unwrap();
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) {
        let done = line.contains("server.properties");
        seen.push(line);
        if done {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("server.properties")),
        "{seen:?}"
    );
    let hash = rig
        .panel
        .services
        .hasher
        .hash(
            &rampart_core::Password::parse_new("another good password 42", "olga").unwrap(),
            &rampart_core::OsRandom,
        )
        .await
        .unwrap();
    rig.panel
        .services
        .store
        .set_password_hash(rig.owner, &hash)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    writeln!(stdin, "ls -1").unwrap();
    let _ = stdin.flush();
    drop(stdin);
    tokio::task::spawn_blocking(move || live.child.wait().unwrap())
        .await
        .unwrap();
    let after: Vec<String> = rx.try_iter().collect();
    assert!(
        !after.iter().any(|l| l.contains("server.properties")),
        "the session survived a password change: {after:?}"
    );

    // Logins are audited.
    let records = rig.panel.audit_records().await;
    assert!(
        records
            .iter()
            .any(|r| r.body.action == "sftp.login" && r.body.result == "success")
    );
    assert!(
        records
            .iter()
            .any(|r| r.body.action == "sftp.login" && r.body.result == "denied")
    );
}
