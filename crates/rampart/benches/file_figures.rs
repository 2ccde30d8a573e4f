//! File figures (README "Figures"): a 1 GiB file uploaded and downloaded
//!
//! - with `cp` (the disk's own speed, the ceiling),
//! - through OpenSSH's `sftp-server`, run by Debian's `sshd` on a loopback
//!   port (the baseline the targets are measured against),
//! - through the agent's SFTP server,
//! - through the HTTP file manager (`PUT`/`GET …/files/content`, with curl),
//!
//! all with the real OpenSSH `sftp` client and the same cipher, three
//! alternating rounds in one run; medians in MiB/s and the ratio to
//! `sftp-server`. The agent is the real `rampart agent` binary in its own
//! process (the panel runs in this one), so its RSS, sampled every 20 ms, is
//! its own (target < 64 MB during the transfers; ≥ 0.8 of `sftp-server`).
//!
//! Needs `openssh-server` and `openssh-sftp-server`, `openssh-client`, curl.
//! Run: `cargo bench -p rampart --bench file_figures`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)] // a benchmark reads the real clock and runs programs

#[allow(dead_code)] // shared with the tests, which use more of it
#[path = "../tests/it/files_rig.rs"]
mod files_rig;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rampart_core::NodeName;
use rampart_testkit::{Binary, GOOD_PASSWORD, spawn_panel_no_forced_2fa};

const SIZE: u64 = 1 << 30;
const ROUNDS: usize = 3;
const CIPHER: &str = "chacha20-poly1305@openssh.com";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The peak RSS of `pid` while it runs, sampled every 20 ms.
struct RssPeak {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl RssPeak {
    fn watch(pid: u32) -> RssPeak {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        RssPeak { peak, stop }
    }

    fn mb(&self) -> f64 {
        self.peak.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

impl Drop for RssPeak {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `commands` in an OpenSSH `sftp` session (commands on stdin, so a
/// password login works too), failing on any error.
fn sftp_session(base: &mut Command, commands: &str) {
    let mut child = base
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(commands.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !text.contains("rror"),
        "sftp {commands}: {text}"
    );
}

/// The `sftp` client's options, without the destination (which goes last).
fn sftp_client(port: u16) -> Command {
    let mut cmd = Command::new("sftp");
    cmd.args(["-P", &port.to_string(), "-c", CIPHER, "-q"])
        .args(["-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null"])
        .args(["-o", "LogLevel=ERROR"]);
    cmd
}

/// Debian's sshd on a loopback port with its own host key, serving
/// `sftp-server` to one public key.
struct Sshd {
    child: std::process::Child,
    port: u16,
    key: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn start_sshd(dir: &Path) -> Sshd {
    let port = free_port();
    let key = dir.join("client_key");
    for (file, comment) in [(dir.join("host_key"), "host"), (key.clone(), "client")] {
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(&file));
    }
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
             AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
             PermitRootLogin prohibit-password\nPidFile {d}/sshd.pid\n\
             Subsystem sftp /usr/lib/openssh/sftp-server\n",
            d = dir.display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sshd (Debian's openssh-server)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Sshd { child, port, key }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mib_s(d: Duration) -> f64 {
    SIZE as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

fn timed(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    mib_s(start.elapsed())
}

fn same_file(a: &Path, b: &Path) {
    run(Command::new("cmp").arg("--").arg(a).arg(b));
}

#[derive(Default)]
struct Results {
    up: Vec<f64>,
    down: Vec<f64>,
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let src = dir.join("src.bin");
    {
        use rampart_core::Random;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&src).unwrap());
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..(SIZE >> 20) {
            rampart_core::OsRandom.fill(&mut block);
            f.write_all(&block).unwrap();
        }
        f.flush().unwrap();
    }
    let back = dir.join("back.bin");

    // sshd + sftp-server.
    let sshd_dir = dir.join("sshd");
    std::fs::create_dir_all(&sshd_dir).unwrap();
    let sshd = start_sshd(&sshd_dir);
    let sshd_target = dir.join("sshd-target.bin");
    let openssh = || {
        let mut c = sftp_client(sshd.port);
        c.arg("-i").arg(&sshd.key).arg("root@127.0.0.1");
        c
    };

    // Panel here, agent in its own process.
    let panel = spawn_panel_no_forced_2fa().await;
    let owner = panel.user("olga", "operator").await;
    let node = panel
        .services
        .create_node_unchecked(&NodeName::parse("bench").unwrap(), "", 5657, "")
        .await
        .unwrap();
    let agent_dir = dir.join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let sftp_port = free_port();
    let agent = Binary::start(
        Path::new(env!("CARGO_BIN_EXE_rampart")),
        &[
            "--data-dir",
            agent_dir.to_str().unwrap(),
            "agent",
            "--panel-url",
            &panel.url,
            "--enroll-token",
            &node.enroll_token,
            "--sftp-listen",
            &format!("127.0.0.1:{sftp_port}"),
        ],
        &[("RUST_LOG", "warn")],
    );
    let agent_pid = agent.pid().unwrap();
    for _ in 0..200 {
        if panel.services.hub.is_connected(&node.node_id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        panel.services.hub.is_connected(&node.node_id),
        "agent: {:?}",
        agent.stderr()
    );
    let id = files_rig::add_server(&panel, owner, &node.node_id, 4096).await;
    let volume = agent_dir.join("volumes").join(id.as_str());
    std::fs::create_dir_all(&volume).unwrap();
    let token = panel
        .api_token(owner, "server.view,server.files.view,server.files.edit")
        .await;
    let sftp_user = format!("olga.{}", &id.as_str()[3..]);
    let pass = files_rig::askpass(GOOD_PASSWORD);
    let rampart_sftp = || {
        let mut c = sftp_client(sftp_port);
        c.arg(format!("{sftp_user}@127.0.0.1"))
            .env("SSH_ASKPASS", pass.path().join("askpass"))
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0");
        c
    };
    let content_url = format!(
        "{}/api/v1/servers/{id}/files/content?path=big.bin",
        panel.url
    );
    let curl = || {
        let mut c = Command::new("curl");
        c.args(["-sS", "-f", "-H", &format!("authorization: Bearer {token}")]);
        c
    };
    let idle_rss = rss_kib(agent_pid) as f64 / 1024.0;

    let methods = ["cp", "sftp-server", "rampart sftp", "rampart http"];
    let mut results: Vec<Results> = methods.iter().map(|_| Results::default()).collect();
    let mut agent_peak = 0f64;
    for round in 0..ROUNDS {
        for (m, name) in methods.iter().enumerate() {
            let _ = std::fs::remove_file(&back);
            let rss = RssPeak::watch(agent_pid);
            let (up, down) = match *name {
                "cp" => {
                    let to = dir.join("cp.bin");
                    let up = timed(|| run(Command::new("cp").arg("--").arg(&src).arg(&to)));
                    let down = timed(|| run(Command::new("cp").arg("--").arg(&to).arg(&back)));
                    std::fs::remove_file(&to).unwrap();
                    (up, down)
                }
                "sftp-server" => {
                    let up = timed(|| {
                        sftp_session(
                            &mut openssh(),
                            &format!("put {} {}\n", src.display(), sshd_target.display()),
                        )
                    });
                    let down = timed(|| {
                        sftp_session(
                            &mut openssh(),
                            &format!("get {} {}\n", sshd_target.display(), back.display()),
                        )
                    });
                    std::fs::remove_file(&sshd_target).unwrap();
                    (up, down)
                }
                "rampart sftp" => {
                    let up = timed(|| {
                        sftp_session(
                            &mut rampart_sftp(),
                            &format!("put {} big.bin\n", src.display()),
                        )
                    });
                    same_file(&src, &volume.join("big.bin"));
                    let down = timed(|| {
                        sftp_session(
                            &mut rampart_sftp(),
                            &format!("get big.bin {}\n", back.display()),
                        )
                    });
                    (up, down)
                }
                _ => {
                    let up = timed(|| run(curl().arg("-T").arg(&src).arg(&content_url)));
                    same_file(&src, &volume.join("big.bin"));
                    let down = timed(|| run(curl().arg("-o").arg(&back).arg(&content_url)));
                    (up, down)
                }
            };
            same_file(&src, &back);
            if name.starts_with("rampart") {
                agent_peak = agent_peak.max(rss.mb());
            }
            println!("round {round} {name:>13}: up {up:7.1} MiB/s, down {down:7.1} MiB/s");
            results[m].up.push(up);
            results[m].down.push(down);
        }
    }
    drop(sshd);

    let medians: Vec<(f64, f64)> = results
        .into_iter()
        .map(|r| (median(r.up), median(r.down)))
        .collect();
    let (base_up, base_down) = medians[1];
    println!("\n1 GiB, median of {ROUNDS} rounds, client cipher {CIPHER}:");
    println!("| path | upload | download | ratio to sftp-server (up / down) |");
    println!("|---|---|---|---|");
    for (name, (up, down)) in methods.iter().zip(&medians) {
        println!(
            "| {name} | {up:.0} MiB/s | {down:.0} MiB/s | {:.2} / {:.2} |",
            up / base_up,
            down / base_down
        );
    }
    println!("agent RSS idle {idle_rss:.1} MB, peak during the transfers {agent_peak:.1} MB");
}
