//! Hostile archives against extraction, on real files: zip-slip and
//! tar-slip, absolute names, symlink entries and symlink-then-file,
//! hard links, device and FIFO entries, bombs, lying headers. Each is
//! refused with nothing written inside or outside the volume.

use std::io::Write;
use std::sync::Arc;

use super::*;
use crate::fs::Allowance;
use crate::servers::disk::DiskUsage;

struct Fixture {
    dir: tempfile::TempDir,
    root: Root,
    vol: std::path::PathBuf,
    usage: Arc<DiskUsage>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let vol = dir.path().join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(dir.path().join("secret"), "top secret").unwrap();
    Fixture {
        root: Root::open(&vol).unwrap(),
        dir,
        vol,
        usage: Arc::default(),
    }
}

impl Fixture {
    fn put(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.vol.join(name), bytes).unwrap();
    }

    fn extract(&self, name: &str, quota: u64) -> Result<usize, FsError> {
        let mut allowance = Allowance::new(self.usage.clone(), "sv_x", &self.vol, quota);
        let out = extract(
            &self.root,
            &VolumePath::parse(name).unwrap(),
            &VolumePath::parse("out").unwrap(),
            ".tmp-x",
            &mut allowance,
        );
        if out.is_ok() {
            allowance.commit();
        }
        out
    }

    /// Everything in the volume except the archives themselves.
    fn extracted(&self) -> Vec<String> {
        let mut names = Vec::new();
        let out = self.vol.join("out");
        if out.exists() {
            for e in std::fs::read_dir(&out).unwrap() {
                names.push(e.unwrap().file_name().to_string_lossy().into_owned());
            }
        }
        names
    }

    fn outside_untouched(&self) {
        assert_eq!(
            std::fs::read_to_string(self.dir.path().join("secret")).unwrap(),
            "top secret"
        );
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["secret", "vol"]);
    }
}

/// A tar entry: name bytes, type, link name, data.
type TarEntry<'a> = (&'a [u8], tar::EntryType, &'a str, &'a [u8]);
/// A zip entry: name, raw Unix mode, data.
type ZipEntry<'a> = (&'a str, Option<u32>, &'a [u8]);

/// A tar with raw entries.
fn raw_tar(entries: &[TarEntry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_old();
        // Written byte for byte: the builder's own checks would refuse `..`.
        let field = &mut h.as_old_mut().name;
        field[..name.len()].copy_from_slice(name);
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        if !link.is_empty() {
            h.set_link_name(link).unwrap();
        }
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A zip; an entry with a mode gets it written raw into its central
/// directory record (made by Unix, mode in the external attributes), as a
/// hostile tool would.
fn zip_of(entries: &[ZipEntry]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, _, data) in entries {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(data).unwrap();
    }
    let mut bytes = z.finish().unwrap().into_inner();
    let mut at = 0;
    for (_, mode, _) in entries {
        let pos = at
            + bytes[at..]
                .windows(4)
                .position(|w| w == b"PK\x01\x02")
                .unwrap();
        if let Some(m) = mode {
            bytes[pos + 5] = 3; // made by: Unix
            bytes[pos + 38..pos + 42].copy_from_slice(&(m << 16).to_le_bytes());
        }
        at = pos + 4;
    }
    bytes
}

#[test]
fn tar_slip_absolute_links_and_special_files_are_refused_writing_nothing() {
    use tar::EntryType::{Block, Char, Fifo, Link, Regular, Symlink};
    let ok: TarEntry = (b"fine.txt", Regular, "", b"ok");
    let cases: Vec<(&str, Vec<TarEntry>)> = vec![
        (
            "dot-dot",
            vec![ok, (b"../../secret", Regular, "", b"owned")],
        ),
        (
            "inner dot-dot",
            vec![ok, (b"a/../../x", Regular, "", b"owned")],
        ),
        (
            "absolute",
            vec![ok, (b"/tmp/rampart-owned", Regular, "", b"x")],
        ),
        (
            "backslash",
            vec![ok, (b"..\\..\\secret", Regular, "", b"x")],
        ),
        ("symlink to /", vec![ok, (b"root", Symlink, "/", b"")]),
        (
            "symlink then file",
            vec![
                (b"link", Symlink, "../..", b""),
                (b"link/secret", Regular, "", b"owned"),
            ],
        ),
        ("hard link", vec![ok, (b"passwd", Link, "/etc/passwd", b"")]),
        ("fifo", vec![ok, (b"pipe", Fifo, "", b"")]),
        ("char device", vec![ok, (b"null", Char, "", b"")]),
        ("block device", vec![ok, (b"disk", Block, "", b"")]),
        ("control character", vec![ok, (b"a\nb", Regular, "", b"x")]),
    ];
    for (label, entries) in cases {
        let f = fixture();
        f.put("a.tar", &raw_tar(&entries));
        f.put("a.tar.gz", &gz(&raw_tar(&entries)));
        for name in ["a.tar", "a.tar.gz"] {
            let got = f.extract(name, 0);
            assert!(
                matches!(got, Err(FsError::BadArchive(_))),
                "{label} ({name}): {got:?}"
            );
            assert!(f.extracted().is_empty(), "{label}: {:?}", f.extracted());
        }
        f.outside_untouched();
        assert!(!std::path::Path::new("/tmp/rampart-owned").exists());
    }
}

#[test]
fn zip_slip_absolute_and_symlink_entries_are_refused_writing_nothing() {
    let cases: Vec<(&str, Vec<ZipEntry>)> = vec![
        (
            "zip-slip",
            vec![("fine", None, b"ok"), ("../../secret", None, b"owned")],
        ),
        (
            "absolute",
            vec![("fine", None, b"ok"), ("/tmp/rampart-owned", None, b"x")],
        ),
        (
            "backslash",
            vec![("fine", None, b"ok"), ("..\\..\\secret", None, b"x")],
        ),
        (
            "symlink entry",
            vec![("fine", None, b"ok"), ("root", Some(0o120777), b"/")],
        ),
        (
            "fifo entry",
            vec![("fine", None, b"ok"), ("pipe", Some(0o010644), b"")],
        ),
    ];
    for (label, entries) in cases {
        let f = fixture();
        f.put("a.zip", &zip_of(&entries));
        let got = f.extract("a.zip", 0);
        assert!(
            matches!(got, Err(FsError::BadArchive(_))),
            "{label}: {got:?}"
        );
        assert!(f.extracted().is_empty(), "{label}");
        f.outside_untouched();
    }
}

#[test]
fn bombs_and_lying_headers_are_refused() {
    // 300 MiB of zeros compress to about 300 KiB: over the ratio.
    let f = fixture();
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::best(),
    ));
    let mut h = tar::Header::new_gnu();
    h.set_size(300 << 20);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(
        &mut h,
        "zeros",
        std::io::Read::take(std::io::repeat(0), 300 << 20),
    )
    .unwrap();
    let bomb = b.into_inner().unwrap().finish().unwrap();
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    f.put("bomb.tar.gz", &bomb);
    let got = f.extract("bomb.tar.gz", 0);
    assert!(
        matches!(&got, Err(FsError::BadArchive(m)) if m.contains("ratio")),
        "{got:?}"
    );
    assert!(f.extracted().is_empty());

    // A zip whose central directory says 2 bytes but whose data is longer.
    let mut z = zip_of(&[("small", None, b"0123456789")]);
    let at = z.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
    z[at + 24..at + 28].copy_from_slice(&2u32.to_le_bytes());
    f.put("liar.zip", &z);
    let got = f.extract("liar.zip", 0);
    assert!(got.is_err(), "{got:?}");
    assert!(f.extracted().is_empty());
}

#[test]
fn a_good_archive_extracts_and_a_failure_halfway_removes_what_it_made() {
    let f = fixture();
    let entries: Vec<TarEntry> = vec![
        (b"dir/", tar::EntryType::Directory, "", b""),
        (b"dir/a.txt", tar::EntryType::Regular, "", b"alpha"),
        (b"b.txt", tar::EntryType::Regular, "", b"beta"),
    ];
    f.put("good.tar.gz", &gz(&raw_tar(&entries)));
    assert_eq!(f.extract("good.tar.gz", 0).unwrap(), 3);
    assert_eq!(
        std::fs::read(f.vol.join("out/dir/a.txt")).unwrap(),
        b"alpha"
    );
    assert_eq!(std::fs::read(f.vol.join("out/b.txt")).unwrap(), b"beta");

    // A symlink planted where an entry's directory goes: the write fails,
    // nothing is followed, and what this extraction created is removed.
    let g = fixture();
    std::fs::create_dir_all(g.vol.join("out")).unwrap();
    std::os::unix::fs::symlink(g.dir.path(), g.vol.join("out/dir")).unwrap();
    let entries: Vec<TarEntry> = vec![
        (b"new.txt", tar::EntryType::Regular, "", b"new"),
        (b"dir/secret", tar::EntryType::Regular, "", b"owned"),
    ];
    g.put("t.tar", &raw_tar(&entries));
    assert!(g.extract("t.tar", 0).is_err());
    assert!(!g.vol.join("out/new.txt").exists());
    g.outside_untouched();
}
