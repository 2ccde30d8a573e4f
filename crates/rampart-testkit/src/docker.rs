//! A test image for real-Docker tests, built locally once per run (the build
//! machines have no registry): a root file system holding Debian's static
//! busybox, imported with `docker import`. No engine, or no busybox-static:
//! the test is skipped loudly, or fails under `RAMPART_REQUIRE_DOCKER=1`.

use std::process::Command;
use std::sync::OnceLock;

pub const TEST_IMAGE: &str = "rampart-test/busybox:3";
const BUSYBOX: &str = "/bin/busybox";

fn ok(cmd: &mut Command) -> bool {
    cmd.output().is_ok_and(|o| o.status.success())
}

fn build() -> Result<(), String> {
    if !ok(Command::new("docker").args(["version", "--format", "{{.Server.Version}}"])) {
        return Err("a Docker Engine (docker version failed)".into());
    }
    if ok(Command::new("docker").args(["image", "inspect", TEST_IMAGE])) {
        return Ok(());
    }
    if !std::path::Path::new(BUSYBOX).exists() {
        return Err("Debian's busybox-static (/bin/busybox) to build the test image".into());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path().join("rootfs");
    for sub in ["bin", "tmp", "proc", "sys", "dev", "etc", "home/container"] {
        std::fs::create_dir_all(root.join(sub)).map_err(|e| e.to_string())?;
    }
    std::fs::copy(BUSYBOX, root.join("bin/busybox")).map_err(|e| e.to_string())?;
    for applet in [
        "sh", "cat", "ls", "sleep", "echo", "grep", "touch", "wc", "yes", "head", "mkdir",
        "dirname", "printf", "rm", "env", "id",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet))
            .map_err(|e| e.to_string())?;
    }
    let tar = dir.path().join("rootfs.tar");
    if !ok(Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg("."))
    {
        return Err("tar failed".into());
    }
    if !ok(Command::new("docker")
        .arg("import")
        .arg(&tar)
        .arg(TEST_IMAGE))
    {
        return Err("docker import failed".into());
    }
    Ok(())
}

/// The test image's tag, or `None` when the test must be skipped.
pub fn test_image() -> Option<&'static str> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(()) => Some(TEST_IMAGE),
        Err(what) => {
            crate::skip_or_fail("RAMPART_REQUIRE_DOCKER", what);
            None
        }
    }
}

/// Debian's `docker-registry` on a loopback port, for pull tests; stopped on drop.
pub struct LocalRegistry {
    child: std::process::Child,
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LocalRegistry {
    /// Starts a registry, or `None` (skipped loudly, failing under
    /// `RAMPART_REQUIRE_DOCKER=1`) without Docker or `docker-registry`.
    pub async fn start() -> Option<LocalRegistry> {
        test_image()?;
        let Ok(dir) = tempfile::tempdir() else {
            crate::skip_or_fail("RAMPART_REQUIRE_DOCKER", "a temporary directory");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        let yaml = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        std::fs::write(&config, yaml).ok()?;
        let child = match Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(_) => {
                crate::skip_or_fail(
                    "RAMPART_REQUIRE_DOCKER",
                    "Debian's docker-registry (apt-get install docker-registry)",
                );
                return None;
            }
        };
        let registry = LocalRegistry {
            child,
            addr: addr.clone(),
            _dir: dir,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return Some(registry);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        crate::skip_or_fail("RAMPART_REQUIRE_DOCKER", "docker-registry did not start");
        None
    }

    /// Pushes the test image as `name:tag` and removes the local copy, so
    /// that using it needs a pull; the full reference.
    pub fn push_test_image(&self, name: &str) -> String {
        let reference = format!("{}/{name}", self.addr);
        let run = |args: &[&str]| {
            let out = Command::new("docker").args(args).output().expect("docker");
            assert!(
                out.status.success(),
                "docker {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&["tag", TEST_IMAGE, &reference]);
        run(&["push", &reference]);
        run(&["rmi", &reference]);
        reference
    }
}
