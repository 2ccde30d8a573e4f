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

/// How a client logs in.
#[derive(Clone, Copy)]
enum Login<'a> {
    Password(&'a str),
    /// A private key file (OpenSSH format).
    Key(&'a std::path::Path),
}

fn sftp_as(rig: &FilesRig, user: &str, login: Login<'_>) -> Client {
    let pass = askpass(match login {
        Login::Password(p) => p,
        Login::Key(_) => "",
    });
    let mut cmd = Command::new("sftp");
    cmd.args(["-P", &rig.sftp_port.to_string()]).args([
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "NumberOfPasswordPrompts=1",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "IdentitiesOnly=yes",
    ]);
    match login {
        Login::Password(_) => {
            cmd.args([
                "-o",
                "PreferredAuthentications=password",
                "-o",
                "PubkeyAuthentication=no",
            ]);
        }
        Login::Key(key) => {
            cmd.args(["-o", "PreferredAuthentications=publickey", "-i"])
                .arg(key);
        }
    }
    cmd.arg(format!("{user}@127.0.0.1"))
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

pub(crate) fn run_batch(
    rig: &FilesRig,
    user: &str,
    password: &str,
    commands: &str,
) -> (bool, String) {
    run_batch_as(rig, user, Login::Password(password), commands)
}

fn run_batch_as(rig: &FilesRig, user: &str, login: Login<'_>, commands: &str) -> (bool, String) {
    let mut c = sftp_as(rig, user, login);
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

/// An open interactive session: commands written one at a time, output
/// lines read as they come.
struct Live {
    client: Client,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Live {
    fn open(rig: &FilesRig, user: &str, login: Login<'_>) -> Live {
        let mut client = sftp_as(rig, user, login);
        let stdin = client.child.stdin.take().unwrap();
        let stdout = client.child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line.unwrap_or_default()).is_err() {
                    break;
                }
            }
        });
        Live {
            client,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// `ls -1` shows `name` (within 20 s).
    fn lists(&mut self, name: &str) -> bool {
        writeln!(self.stdin, "ls -1").unwrap();
        self.stdin.flush().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(20)) {
            let found = line.contains(name);
            self.seen.push(line);
            if found {
                return true;
            }
        }
        false
    }

    /// After an access change: the next `ls -1` lists nothing and the
    /// client exits (the agent closed the connection).
    async fn ends_at_next_operation(mut self, name: &str) -> bool {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = writeln!(self.stdin, "ls -1");
        let _ = self.stdin.flush();
        drop(self.stdin);
        let mut child = self.client.child;
        tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        // Every line the client printed (the reader ends at its EOF).
        let lines = self.lines;
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || !lines.iter().any(|l| l.contains(&name)))
            .await
            .unwrap()
    }
}

/// The volume with `host` → `/`, `out` → a directory outside holding
/// `secret`, and a `server.properties`; (volume, outside).
fn hostile_volume(rig: &FilesRig) -> (std::path::PathBuf, std::path::PathBuf) {
    let vol = rig.volume.clone();
    let outside = rig._dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "top secret").unwrap();
    std::os::unix::fs::symlink("/", vol.join("host")).unwrap();
    std::os::unix::fs::symlink(&outside, vol.join("out")).unwrap();
    std::fs::write(vol.join("server.properties"), "motd=hi\n").unwrap();
    (vol, outside)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_sftp_works_inside_the_volume_and_nowhere_else() {
    let rig = files_rig(8).await;
    let (vol, outside) = hostile_volume(&rig);

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
    // The host key fingerprint shown is the one a client is offered.
    let scan = Command::new("ssh-keyscan")
        .args([
            "-t",
            "ed25519",
            "-p",
            &rig.sftp_port.to_string(),
            "127.0.0.1",
        ])
        .output()
        .unwrap();
    let scanned = rig._dir.path().join("scanned");
    std::fs::write(&scanned, &scan.stdout).unwrap();
    let offered = fingerprint(&scanned);
    assert!(offered.starts_with("SHA256:"), "{offered}");
    assert_eq!(v["sftp"]["host_key_fingerprint"], offered.as_str());
    let page = rig
        .panel
        .session_for(rig.owner)
        .await
        .get(&format!("/servers/{}/files", rig.id))
        .await;
    assert!(
        page.body.contains(&offered),
        "the files page shows the host key"
    );

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
    let mut live = Live::open(&rig, &user, Login::Password(GOOD_PASSWORD));
    assert!(live.lists("server.properties"), "{:?}", live.seen);
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
    assert!(
        live.ends_at_next_operation("server.properties").await,
        "the session survived a password change"
    );

    // Every change is audited with the user and the server (the agent
    // reports it; the record arrives shortly after).
    let owner_actor = format!("user:{}", rig.owner.0);
    let target = format!("server:{}", rig.id);
    let wanted = [
        ("sftp.write", "/world.bin"),
        ("sftp.mkdir", "/plugins"),
        ("sftp.rename", "/world.bin -> /plugins/world.bin"),
        ("sftp.chmod", "/plugins/world.bin"),
    ];
    let mut missing = Vec::new();
    for _ in 0..50 {
        let records = rig.panel.audit_records().await;
        missing = wanted
            .iter()
            .filter(|(action, path)| {
                !records.iter().any(|r| {
                    r.body.action == *action
                        && r.body.actor == owner_actor
                        && r.body.target.as_deref() == Some(&target)
                        && r.body.extra.contains(&format!("\"{path}\""))
                })
            })
            .collect();
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(missing.is_empty(), "not audited: {missing:?}");

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

/// A new Ed25519 (or other `kind`) key pair at `path`; the public line.
fn keygen(path: &std::path::Path, kind: &str) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", "test", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen (openssh-client)");
    assert!(out.status.success(), "{out:?}");
    std::fs::read_to_string(path.with_extension("pub"))
        .unwrap()
        .trim()
        .to_owned()
}

/// A batch file that lists the home directory.
fn batch_ls(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("batch-ls");
    std::fs::write(&path, "ls -1\n").unwrap();
    path
}

/// `ssh-keygen -l`'s SHA-256 fingerprint of a public key file.
fn fingerprint(public: &std::path::Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(public)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().nth(1).unwrap().to_owned()
}

fn short_user(rig: &FilesRig, name: &str) -> String {
    format!("{name}.{}", rig.id.as_str().trim_start_matches("sv_"))
}

/// A JSON API call with the session cookie, the panel's Origin and the
/// CSRF header, as the browser's own script makes it.
async fn session_call(
    rig: &FilesRig,
    browser: &rampart_testkit::TestClient,
    method: reqwest::Method,
    path: &str,
    body: Option<String>,
) -> rampart_testkit::TestResponse {
    let csrf = browser.get("/").await.csrf_token().unwrap();
    browser
        .request(
            method,
            path,
            &[
                ("origin", &rig.panel.url),
                ("content-type", "application/json"),
                ("x-csrf-token", &csrf),
            ],
            body,
        )
        .await
}

async fn bearer_call(
    rig: &FilesRig,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<String>,
) -> rampart_testkit::TestResponse {
    rig.panel
        .client()
        .request(
            method,
            path,
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_keys_log_in_and_a_second_factor_makes_them_the_only_way() {
    use reqwest::Method;
    let rig = files_rig(8).await;
    std::fs::write(rig.volume.join("server.properties"), "motd=hi\n").unwrap();
    let user = short_user(&rig, "olga");
    let keys = tempfile::tempdir().unwrap();
    let (id, other, rsa) = (
        keys.path().join("id"),
        keys.path().join("other"),
        keys.path().join("rsa"),
    );
    let line = keygen(&id, "ed25519");
    keygen(&other, "ed25519");
    let rsa_line = keygen(&rsa, "rsa");

    // A key nobody registered is refused.
    let (ok, out) = run_batch_as(&rig, &user, Login::Key(&other), "ls\n");
    assert!(!ok, "{out}");

    // Keys are added in a signed-in session; an API token cannot add one.
    let token = rig
        .panel
        .api_token(rig.owner, "server.view,server.files.edit")
        .await;
    let body = serde_json::json!({"name": "laptop", "public_key": line}).to_string();
    let res = bearer_call(
        &rig,
        &token,
        Method::POST,
        "/api/v1/me/ssh-keys",
        Some(body.clone()),
    )
    .await;
    assert_eq!(res.status, 403, "{}", res.body);
    let browser = rig.panel.session_for(rig.owner).await;
    let res = session_call(
        &rig,
        &browser,
        Method::POST,
        "/api/v1/me/ssh-keys",
        Some(body.clone()),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let key: Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(key["fingerprint"], fingerprint(&id.with_extension("pub")));
    assert_eq!(key["algorithm"], "ssh-ed25519");
    let again = session_call(
        &rig,
        &browser,
        Method::POST,
        "/api/v1/me/ssh-keys",
        Some(body),
    )
    .await;
    assert_eq!(again.status, 409, "{}", again.body);
    let rsa_body = serde_json::json!({"name": "old", "public_key": rsa_line}).to_string();
    let res = session_call(
        &rig,
        &browser,
        Method::POST,
        "/api/v1/me/ssh-keys",
        Some(rsa_body),
    )
    .await;
    assert_eq!(res.status, 400, "{}", res.body);
    assert!(res.body.contains("ed25519"), "{}", res.body);
    // The account page lists it.
    let page = browser.get("/account/ssh-keys").await;
    assert!(
        page.body.contains(key["fingerprint"].as_str().unwrap()),
        "{}",
        page.body
    );

    // The registered key logs in, also in OpenSSH's batch mode (`-b`, which
    // stops at the first failing command); another user's name with it
    // does not.
    let (ok, out) = run_batch_as(&rig, &user, Login::Key(&id), "ls -1\n");
    assert!(ok && out.contains("server.properties"), "{out}");
    let batch = keys.path().join("batch");
    std::fs::write(&batch, "mkdir from-batch\nls -1\n").unwrap();
    let out = Command::new("sftp")
        .args(["-P", &rig.sftp_port.to_string(), "-b"])
        .arg(&batch)
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args(["-o", "IdentitiesOnly=yes", "-i"])
        .arg(&id)
        .arg(format!("{user}@127.0.0.1"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("from-batch"));
    assert!(rig.volume.join("from-batch").is_dir());
    // A client that offers four other keys first still gets in with the
    // fifth (as with OpenSSH's own MaxAuthTries).
    let mut cmd = Command::new("sftp");
    cmd.args(["-P", &rig.sftp_port.to_string(), "-b"])
        .arg(batch_ls(&keys))
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args(["-o", "IdentitiesOnly=yes"]);
    for n in 0..4 {
        let extra = keys.path().join(format!("extra{n}"));
        keygen(&extra, "ed25519");
        cmd.arg("-i").arg(extra);
    }
    let out = cmd
        .arg("-i")
        .arg(&id)
        .arg(format!("{user}@127.0.0.1"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (ok, _) = run_batch_as(&rig, &short_user(&rig, "tina"), Login::Key(&id), "ls\n");
    assert!(!ok, "the key is olga's, not tina's");

    // With 2FA on, the password alone no longer opens SFTP; the key does.
    let (ok, out) = run_batch(&rig, &user, GOOD_PASSWORD, "ls\n");
    assert!(ok, "before 2FA the password works: {out}");
    rig.panel.enroll_totp(&browser).await;
    let (ok, out) = run_batch(&rig, &user, GOOD_PASSWORD, "ls\n");
    assert!(!ok, "a password bypassed the second factor: {out}");
    let (ok, out) = run_batch_as(&rig, &user, Login::Key(&id), "ls -1\n");
    assert!(ok && out.contains("server.properties"), "{out}");

    // Removing the key ends the session that logged in with it.
    let mut live = Live::open(&rig, &user, Login::Key(&id));
    assert!(live.lists("server.properties"), "{:?}", live.seen);
    let path = format!("/api/v1/me/ssh-keys/{}", key["id"].as_str().unwrap());
    let res = bearer_call(&rig, &token, Method::DELETE, &path, None).await;
    assert_eq!(res.status, 204, "{}", res.body);
    assert!(
        live.ends_at_next_operation("server.properties").await,
        "the session outlived its key"
    );
    let (ok, _) = run_batch_as(&rig, &user, Login::Key(&id), "ls\n");
    assert!(!ok);

    let records = rig.panel.audit_records().await;
    let key_login = records.iter().find(|r| {
        r.body.action == "sftp.login"
            && r.body.result == "success"
            && r.body.extra.contains("SHA256:")
    });
    assert!(
        key_login.is_some(),
        "key logins are audited with the fingerprint"
    );
    for action in ["user.ssh_key.add", "user.ssh_key.delete"] {
        assert!(records.iter().any(|r| r.body.action == action), "{action}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_may_allow_passwords_for_2fa_users() {
    let panel = rampart_testkit::spawn_panel_with(rampart_panel::settings::PanelSettings {
        require_2fa_for: Vec::new(),
        sftp_password_with_2fa: true,
        ..Default::default()
    })
    .await;
    let rig = crate::files_rig::files_rig_on(panel, 8).await;
    std::fs::write(rig.volume.join("server.properties"), "motd=hi\n").unwrap();
    let browser = rig.panel.session_for(rig.owner).await;
    rig.panel.enroll_totp(&browser).await;
    let (ok, out) = run_batch(&rig, &short_user(&rig, "olga"), GOOD_PASSWORD, "ls -1\n");
    assert!(ok && out.contains("server.properties"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_sub_users_grant_ends_their_sftp_session() {
    use reqwest::Method;
    let rig = files_rig(8).await;
    std::fs::write(rig.volume.join("server.properties"), "motd=hi\n").unwrap();
    let tina = short_user(&rig, "tina");
    let (ok, _) = run_batch(&rig, &tina, GOOD_PASSWORD, "ls\n");
    assert!(!ok, "no grant, no login");

    let token = rig
        .panel
        .api_token(rig.owner, "server.view,server.edit")
        .await;
    let grants = format!("/api/v1/servers/{}/users", rig.id);
    let body = serde_json::json!({"user_id": rig.tenant.0, "scopes": ["server.view", "server.files.view"]});
    let res = bearer_call(&rig, &token, Method::POST, &grants, Some(body.to_string())).await;
    assert_eq!(res.status, 204, "{}", res.body);

    // A viewer of files reads but cannot write.
    let local = tempfile::tempdir().unwrap();
    let up = local.path().join("x");
    std::fs::write(&up, "x").unwrap();
    let (_, out) = run_batch(
        &rig,
        &tina,
        GOOD_PASSWORD,
        &format!("ls -1\nput {} x\n", up.display()),
    );
    assert!(out.contains("server.properties"), "{out}");
    assert!(
        !rig.volume.join("x").exists(),
        "a view grant wrote a file: {out}"
    );

    let mut live = Live::open(&rig, &tina, Login::Password(GOOD_PASSWORD));
    assert!(live.lists("server.properties"), "{:?}", live.seen);
    let res = bearer_call(
        &rig,
        &token,
        Method::DELETE,
        &format!("{grants}/{}", rig.tenant.0),
        None,
    )
    .await;
    assert_eq!(res.status, 204, "{}", res.body);
    assert!(
        live.ends_at_next_operation("server.properties").await,
        "the sub-user kept SFTP after the grant was revoked"
    );
}

/// Debian's python3 (with python3-paramiko), not whatever `python3` is
/// first on PATH.
const PYTHON: &str = "/usr/bin/python3";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_paramiko_client_gets_the_same_answers() {
    let rig = files_rig(16).await;
    let (vol, outside) = hostile_volume(&rig);
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("id");
    let line = keygen(&key, "ed25519");
    rig.panel
        .services
        .add_ssh_key(rig.owner, "script", &line)
        .await
        .unwrap()
        .unwrap();

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/scripts/sftp_paramiko.py"
    );
    let port = rig.sftp_port.to_string();
    let user = short_user(&rig, "olga");
    let key_arg = key.to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(PYTHON)
            .args([script, &port, &user, GOOD_PASSWORD, &key_arg])
            .output()
            .expect("python3 with paramiko (Debian: python3-paramiko)")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "paramiko script failed: {stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(v["cbc_refused"], true, "{v}");
    assert_eq!(v["sha1_kex_refused"], true, "{v}");
    assert_eq!(v["sha1_mac_refused"], true, "{v}");
    assert_eq!(v["host_key_type"], "ssh-ed25519", "{v}");
    let listing: Vec<&str> = v["listing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(listing, ["host", "out", "server.properties"], "{v}");
    assert_eq!(v["round_trip"], true, "{v}");
    assert_eq!(v["moved_size"], 1 << 20, "{v}");
    assert_eq!(v["moved_mode"], 0o640, "{v}");
    for (what, refused) in v["escapes_refused"].as_object().unwrap() {
        assert_eq!(refused, true, "{what} was not refused: {v}");
    }
    assert_eq!(v["link_is_link"], true, "{v}");
    assert_eq!(v["wrong_password_refused"], true, "{v}");
    assert_eq!(v["key_listing"], serde_json::json!(["moved.bin"]), "{v}");
    // Nothing outside moved.
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).unwrap(),
        "top secret"
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
    assert!(!std::path::Path::new("/tmp/paramiko-dir").exists());
    assert!(!vol.join("escape").exists());
    assert_eq!(
        std::fs::read(vol.join("made/moved.bin")).unwrap().len(),
        1 << 20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_and_deactivation_end_sftp_sessions() {
    use reqwest::Method;
    let rig = files_rig(8).await;
    std::fs::write(rig.volume.join("server.properties"), "motd=hi\n").unwrap();
    let admin = rig.panel.user("ada", "admin").await;
    let token = rig.panel.api_token(admin, "admin").await;
    let olga = short_user(&rig, "olga");

    // Suspending the server ends the owner's open session.
    let mut live = Live::open(&rig, &olga, Login::Password(GOOD_PASSWORD));
    assert!(live.lists("server.properties"), "{:?}", live.seen);
    let res = bearer_call(
        &rig,
        &token,
        Method::POST,
        &format!("/api/v1/servers/{}/suspend", rig.id),
        None,
    )
    .await;
    assert!(res.status < 300, "{} {}", res.status, res.body);
    assert!(
        live.ends_at_next_operation("server.properties").await,
        "the session outlived the suspension"
    );
    let (ok, _) = run_batch(&rig, &olga, GOOD_PASSWORD, "ls\n");
    assert!(!ok, "a suspended server takes no SFTP logins");
    let res = bearer_call(
        &rig,
        &token,
        Method::POST,
        &format!("/api/v1/servers/{}/unsuspend", rig.id),
        None,
    )
    .await;
    assert!(res.status < 300, "{} {}", res.status, res.body);

    // Deactivating the user ends theirs.
    let mut live = Live::open(&rig, &olga, Login::Password(GOOD_PASSWORD));
    assert!(live.lists("server.properties"), "{:?}", live.seen);
    let res = bearer_call(
        &rig,
        &token,
        Method::PATCH,
        &format!("/api/v1/users/{}", rig.owner.0),
        Some(serde_json::json!({"active": false}).to_string()),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(
        live.ends_at_next_operation("server.properties").await,
        "the session outlived the deactivation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_out_account_gets_no_key_login_either() {
    let rig = files_rig(8).await;
    let user = short_user(&rig, "olga");
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("id");
    let line = keygen(&key, "ed25519");
    rig.panel
        .services
        .add_ssh_key(rig.owner, "laptop", &line)
        .await
        .unwrap()
        .unwrap();
    let (ok, out) = run_batch_as(&rig, &user, Login::Key(&key), "ls\n");
    assert!(ok, "{out}");
    // Someone guesses olga's password from many addresses until the
    // account is locked.
    let mut limited = false;
    for i in 0..20 {
        let ip = format!("203.0.113.{i}");
        let outcome = rig
            .panel
            .services
            .attempt_login("olga", "not the password at all", Some(&ip))
            .await
            .unwrap();
        if matches!(outcome, rampart_panel::auth::LoginOutcome::Limited(_)) {
            limited = true;
            break;
        }
    }
    assert!(limited, "the account limit never engaged");
    let (ok, out) = run_batch_as(&rig, &user, Login::Key(&key), "ls\n");
    assert!(!ok, "a locked account logged in with a key: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_adds_and_removes_keys() {
    let rig = files_rig(8).await;
    let keys = tempfile::tempdir().unwrap();
    let line = keygen(&keys.path().join("id"), "ed25519");
    let browser = rig.panel.session_for(rig.owner).await;
    let page = browser.get("/account/ssh-keys").await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf_token().unwrap();

    let bad = browser
        .post_form(
            "/account/ssh-keys",
            &[
                ("csrf_token", &csrf),
                ("name", "x"),
                ("public_key", "ssh-rsa AAAA x"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("ed25519"), "{}", bad.body);
    let forged = browser
        .post_form(
            "/account/ssh-keys",
            &[
                ("csrf_token", "wrong"),
                ("name", "x"),
                ("public_key", &line),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);

    let added = browser
        .post_form(
            "/account/ssh-keys",
            &[
                ("csrf_token", &csrf),
                ("name", "laptop <b>"),
                ("public_key", &line),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let keys_now = rig
        .panel
        .services
        .store
        .list_ssh_keys(rig.owner)
        .await
        .unwrap();
    assert_eq!(keys_now.len(), 1);
    let page = browser.get("/account/ssh-keys").await;
    assert!(page.body.contains(&keys_now[0].fingerprint));
    assert!(
        !page.body.contains("laptop <b>") && page.body.contains("laptop &"),
        "names are escaped: {}",
        page.body
    );

    // Another user's page does not show it, and cannot remove it.
    let tina = rig.panel.session_for(rig.tenant).await;
    assert!(
        !tina
            .get("/account/ssh-keys")
            .await
            .body
            .contains(&keys_now[0].fingerprint)
    );
    let tina_csrf = tina.get("/account/ssh-keys").await.csrf_token().unwrap();
    let res = tina
        .post_form(
            &format!("/account/ssh-keys/{}/delete", keys_now[0].id),
            &[("csrf_token", &tina_csrf)],
        )
        .await;
    assert_eq!(res.status, 404);
    let res = browser
        .post_form(
            &format!("/account/ssh-keys/{}/delete", keys_now[0].id),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status, 303);
    assert!(
        rig.panel
            .services
            .store
            .list_ssh_keys(rig.owner)
            .await
            .unwrap()
            .is_empty()
    );
}
