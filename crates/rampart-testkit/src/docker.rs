//! A test image for real-Docker tests, built locally once per run (the build
//! machines have no registry): a root file system holding Debian's static
//! busybox, imported with `docker import`. No engine, or no busybox-static:
//! the test is skipped loudly, or fails under `RAMPART_REQUIRE_DOCKER=1`.

use std::process::Command;
use std::sync::OnceLock;

pub const TEST_IMAGE: &str = "rampart-test/busybox:2";
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
        "sh", "cat", "ls", "sleep", "echo", "grep", "touch", "wc", "yes", "head",
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
