//! The escape corpus against the confined opener, on real files: `..` in
//! its forms, absolute paths, a symlink to `/` used for every operation, a
//! symlink swapped in during operations (a race loop), recursive delete of
//! a directory holding an outbound symlink, FIFOs, NUL, very deep paths.

use std::io::{Read, Write};
use std::os::unix::fs::symlink;

use super::*;

struct Volume {
    _dir: tempfile::TempDir,
    root: Root,
    vol: std::path::PathBuf,
    outside: std::path::PathBuf,
}

fn volume() -> Volume {
    let dir = tempfile::tempdir().unwrap();
    let vol = dir.path().join("vol");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(vol.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "top secret").unwrap();
    std::fs::write(vol.join("sub/ok.txt"), "fine").unwrap();
    let root = Root::open(&vol).unwrap();
    Volume {
        _dir: dir,
        root,
        vol,
        outside,
    }
}

fn p(s: &str) -> VolumePath {
    VolumePath::parse(s).unwrap()
}

#[test]
fn dot_dot_in_every_form_is_refused_before_any_io() {
    for bad in [
        "..",
        "../outside/secret",
        "sub/../../outside/secret",
        "sub/..",
        "..\\\\outside",
        "a\\0b",
        "x\\ny",
        "\\u{1b}[2J",
    ] {
        assert!(VolumePath::parse(bad).is_err(), "{bad:?}");
    }
    let deep = "a/".repeat(10_000);
    assert!(matches!(VolumePath::parse(&deep), Err(FsError::BadPath(_))));
    // An absolute path means the volume's root, never the host's.
    assert_eq!(p("/etc/passwd"), p("etc/passwd"));
    assert_eq!(p("/"), p(""));
}

#[test]
fn ordinary_operations_work_inside() {
    let v = volume();
    let mut f = v.root.write(&p("sub/new.txt")).unwrap();
    f.write_all(b"hello").unwrap();
    drop(f);
    let mut s = String::new();
    v.root
        .read(&p("/sub/new.txt"))
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "hello");
    v.root.mkdir(&p("sub/d")).unwrap();
    let names: Vec<_> = v
        .root
        .list(&p("sub"))
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.kind))
        .collect();
    assert_eq!(
        names,
        [
            ("d".into(), Kind::Dir),
            ("new.txt".into(), Kind::File),
            ("ok.txt".into(), Kind::File)
        ]
    );
    assert_eq!(v.root.stat(&p("sub/new.txt")).unwrap().size, 5);
    v.root.remove(&p("sub")).unwrap();
    assert!(!v.vol.join("sub").exists());
}

#[test]
fn a_symlink_to_root_is_useless_for_every_operation() {
    let v = volume();
    symlink("/", v.vol.join("host")).unwrap();
    symlink(&v.outside, v.vol.join("out")).unwrap();
    for link in ["host", "out"] {
        let target = if link == "host" {
            "etc/passwd"
        } else {
            "secret"
        };
        let through = p(&format!("{link}/{target}"));
        assert!(
            matches!(v.root.read(&through), Err(FsError::Escape)),
            "read {link}"
        );
        assert!(
            matches!(
                v.root.write(&p(&format!("{link}/pwned"))),
                Err(FsError::Escape)
            ),
            "write {link}"
        );
        assert!(
            matches!(v.root.mkdir(&p(&format!("{link}/d"))), Err(FsError::Escape)),
            "mkdir {link}"
        );
        assert!(
            matches!(v.root.list(&p(link)), Err(FsError::Escape)),
            "list {link}"
        );
        assert!(
            matches!(v.root.stat(&through), Err(FsError::Escape)),
            "stat {link}"
        );
        // The link itself, as the last component, is not opened either.
        assert!(
            matches!(v.root.read(&p(link)), Err(FsError::Escape)),
            "open {link}"
        );
        assert!(
            matches!(v.root.write(&p(link)), Err(FsError::Escape)),
            "write over {link}"
        );
        assert_eq!(v.root.stat(&p(link)).unwrap().kind, Kind::Symlink);
    }
    assert!(!v.outside.join("pwned").exists());
    assert_eq!(
        std::fs::read_to_string(v.outside.join("secret")).unwrap(),
        "top secret"
    );
    // Deleting the link removes the link, not its target.
    v.root.remove(&p("out")).unwrap();
    assert!(v.outside.join("secret").exists());
}

#[test]
fn recursive_delete_never_follows_an_outbound_symlink() {
    let v = volume();
    std::fs::create_dir_all(v.vol.join("tree/deeper")).unwrap();
    symlink(&v.outside, v.vol.join("tree/deeper/escape")).unwrap();
    symlink("/", v.vol.join("tree/root")).unwrap();
    v.root.remove(&p("tree")).unwrap();
    assert!(!v.vol.join("tree").exists());
    assert_eq!(
        std::fs::read_to_string(v.outside.join("secret")).unwrap(),
        "top secret"
    );
}

#[test]
fn fifos_and_devices_are_not_opened() {
    let v = volume();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        v.vol.join("fifo"),
        FileType::Fifo,
        Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    // O_NONBLOCK: the check returns at once instead of waiting for a writer.
    assert!(matches!(v.root.read(&p("fifo")), Err(FsError::NotRegular)));
    assert!(matches!(v.root.write(&p("fifo")), Err(FsError::NotRegular)));
}

#[test]
fn a_symlink_swapped_in_during_operations_never_lets_a_write_out() {
    let v = volume();
    let vol = v.vol.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let stop = stop.clone();
        let outside = v.outside.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let d = vol.join("swap");
                let _ = std::fs::remove_file(&d);
                let _ = std::fs::create_dir(&d);
                let _ = std::fs::remove_dir(&d);
                let _ = symlink(&outside, &d);
            }
        })
    };
    for i in 0..20_000 {
        if let Ok(mut f) = v.root.write(&p("swap/written")) {
            let _ = f.write_all(format!("{i}").as_bytes());
        }
        let _ = v.root.mkdir(&p("swap/made"));
        let _ = v.root.remove(&p("swap/written"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    assert!(
        !v.outside.join("written").exists(),
        "a write escaped through the race"
    );
    assert!(
        !v.outside.join("made").exists(),
        "a mkdir escaped through the race"
    );
    assert!(v.outside.join("secret").exists());
}

#[test]
fn chmod_and_rename_stay_inside_and_never_follow_links() {
    use std::os::unix::fs::PermissionsExt;
    let v = volume();
    std::fs::set_permissions(
        v.outside.join("secret"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    symlink(v.outside.join("secret"), v.vol.join("link")).unwrap();
    assert!(matches!(
        v.root.chmod(&p("link"), 0o777),
        Err(FsError::Escape)
    ));
    let mode = std::fs::metadata(v.outside.join("secret"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "chmod did not follow the link");
    v.root.chmod(&p("sub/ok.txt"), 0o4755).unwrap();
    let mode = std::fs::metadata(v.vol.join("sub/ok.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755, "no set-id bit");

    symlink("/", v.vol.join("host")).unwrap();
    assert!(
        v.root
            .rename(&p("sub/ok.txt"), &p("host/tmp/stolen"))
            .is_err()
    );
    assert!(v.root.rename(&p("host/etc/passwd"), &p("mine")).is_err());
    assert!(!std::path::Path::new("/tmp/stolen").exists());
    v.root.rename(&p("sub/ok.txt"), &p("moved.txt")).unwrap();
    assert!(v.vol.join("moved.txt").exists());
    std::fs::write(v.vol.join("sub/other"), "x").unwrap();
    assert!(matches!(
        v.root.rename(&p("sub/other"), &p("moved.txt")),
        Err(FsError::Exists)
    ));
    // Moving the link moves the link.
    v.root.rename(&p("link"), &p("sub/link")).unwrap();
    assert_eq!(v.root.stat(&p("sub/link")).unwrap().kind, Kind::Symlink);
    assert!(v.outside.join("secret").exists());
}
