//! Archives: extract `.tar.gz`/`.tgz`/`.tar` and `.zip` into a directory
//! of the volume, and pack entries of the volume into a new archive.
//!
//! An archive is read twice. The first pass only looks: every entry must
//! be a regular file or a directory with a relative name free of `..`,
//! backslashes and control characters (so zip-slip, tar-slip, symlink-then-
//! file and hard links are refused before anything is written), there are
//! at most [`MAX_ENTRIES`], and the declared total is under [`MAX_TOTAL`],
//! under [`MAX_RATIO`] times the archive's size, and within the quota. The
//! second pass writes each file through the confined opener, reading never
//! more than the size its entry declared (a lying header fails). A failure
//! removes what the extraction created.

use std::io::{Read, Seek, Write};

use super::confined::{FsError, Kind, Root, VolumePath};
use super::ops::Upload;
use super::quota::Allowance;

pub const MAX_ENTRIES: usize = 100_000;
/// Largest declared total of an archive's contents.
pub const MAX_TOTAL: u64 = 16 << 30;
/// Largest ratio of contents to archive size (a bomb's signature).
pub const MAX_RATIO: u64 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    TarGz,
    Tar,
    Zip,
}

impl Format {
    pub fn of(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
            Some(Format::TarGz)
        } else if lower.ends_with(".tar") {
            Some(Format::Tar)
        } else if lower.ends_with(".zip") {
            Some(Format::Zip)
        } else {
            None
        }
    }
}

fn bad(msg: impl Into<String>) -> FsError {
    FsError::BadArchive(msg.into())
}

/// One entry as the first pass saw it.
#[derive(Debug)]
struct Planned {
    path: VolumePath,
    dir: bool,
    size: u64,
}

/// Checks an entry's name: relative, no `..`, nothing that would need
/// interpretation; returns it inside `to`.
fn entry_path(to: &VolumePath, raw: &[u8]) -> Result<VolumePath, FsError> {
    let name = std::str::from_utf8(raw).map_err(|_| bad("an entry name is not UTF-8"))?;
    if name.starts_with('/') {
        return Err(bad(format!("absolute entry name {name:?}")));
    }
    if name.split('/').any(|c| c == "..") {
        return Err(bad(format!("entry name {name:?} climbs out with '..'")));
    }
    let rel = VolumePath::parse(name).map_err(|_| bad(format!("entry name {name:?}")))?;
    if rel.is_root() {
        return Err(bad("an entry has an empty name"));
    }
    VolumePath::parse(&format!("{}/{}", to.as_str(), rel.as_str()))
}

fn check_totals(planned: &[Planned], archive_size: u64) -> Result<u64, FsError> {
    let total = planned
        .iter()
        .map(|p| p.size)
        .fold(0u64, u64::saturating_add);
    if total > MAX_TOTAL {
        return Err(bad(format!("contents of {total} bytes exceed the limit")));
    }
    if total > archive_size.max(1 << 20).saturating_mul(MAX_RATIO) {
        return Err(bad("compression ratio too high (an archive bomb?)"));
    }
    Ok(total)
}

fn plan_tar(reader: impl Read, to: &VolumePath) -> Result<Vec<Planned>, FsError> {
    let mut archive = tar::Archive::new(reader);
    let mut planned = Vec::new();
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let entry = entry.map_err(|e| bad(e.to_string()))?;
        if planned.len() >= MAX_ENTRIES {
            return Err(bad("too many entries"));
        }
        let kind = entry.header().entry_type();
        let dir = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => false,
            tar::EntryType::Directory => true,
            tar::EntryType::XGlobalHeader => continue,
            tar::EntryType::Symlink => return Err(bad("symbolic links are not extracted")),
            tar::EntryType::Link => return Err(bad("hard links are not extracted")),
            _ => return Err(bad("special files are not extracted")),
        };
        let path = entry_path(to, &entry.path_bytes())?;
        let size = if dir { 0 } else { entry.size() };
        planned.push(Planned { path, dir, size });
    }
    Ok(planned)
}

fn plan_zip<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    to: &VolumePath,
) -> Result<Vec<Planned>, FsError> {
    if zip.len() > MAX_ENTRIES {
        return Err(bad("too many entries"));
    }
    let mut planned = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let file = zip.by_index_raw(i).map_err(|e| bad(e.to_string()))?;
        let is_link = file.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000);
        if is_link {
            return Err(bad("symbolic links are not extracted"));
        }
        if file
            .unix_mode()
            .is_some_and(|m| !matches!(m & 0o170000, 0 | 0o100000 | 0o040000))
        {
            return Err(bad("special files are not extracted"));
        }
        let dir = file.is_dir();
        let path = entry_path(to, file.name_raw())?;
        planned.push(Planned {
            path,
            dir,
            size: if dir { 0 } else { file.size() },
        });
    }
    Ok(planned)
}

/// Writes one planned file from `src`, never more than its declared size.
fn write_entry(
    root: &Root,
    p: &Planned,
    src: &mut dyn Read,
    tmp: &str,
    allowance: &mut Allowance,
    created: &mut Vec<VolumePath>,
) -> Result<(), FsError> {
    if p.dir {
        make_dirs(root, &p.path, created)?;
        return Ok(());
    }
    if let Some((parent, _)) = p.path.split() {
        make_dirs(root, &parent, created)?;
    }
    let existed = root.stat(&p.path).is_ok();
    let mut upload = Upload::replace(root, &p.path, tmp, allowance)?;
    let mut limited = src.take(p.size.saturating_add(1));
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = limited.read(&mut buf).map_err(|e| bad(e.to_string()))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > p.size {
            return Err(bad("an entry holds more than its header says"));
        }
        upload.write(&buf[..n])?;
    }
    upload.finish()?;
    if !existed {
        created.push(p.path.clone());
    }
    Ok(())
}

fn make_dirs(root: &Root, path: &VolumePath, created: &mut Vec<VolumePath>) -> Result<(), FsError> {
    let mut at = VolumePath::parse("")?;
    for name in path.as_str().split('/').filter(|n| !n.is_empty()) {
        at = at.join(name)?;
        match root.mkdir(&at) {
            Ok(()) => created.push(at.clone()),
            Err(FsError::Exists) => {
                if root.stat(&at)?.kind != Kind::Dir {
                    return Err(FsError::NotRegular);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Extracts the archive `path` into the directory `to` (created if missing).
pub fn extract(
    root: &Root,
    path: &VolumePath,
    to: &VolumePath,
    tmp: &str,
    allowance: &mut Allowance,
) -> Result<usize, FsError> {
    let format = Format::of(path.as_str())
        .ok_or_else(|| bad("unknown archive type (expected .tar.gz, .tgz, .tar or .zip)"))?;
    let file = root.read(path)?;
    let archive_size = file.metadata()?.len();
    let mut created = Vec::new();
    let outcome = (|| {
        let count = match format {
            Format::TarGz | Format::Tar => {
                let open = |f: std::fs::File| -> Box<dyn Read> {
                    if format == Format::TarGz {
                        Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(f)))
                    } else {
                        Box::new(std::io::BufReader::new(f))
                    }
                };
                let planned = plan_tar(open(file.try_clone()?), to)?;
                let total = check_totals(&planned, archive_size)?;
                if !allowance.fits(total) {
                    return Err(FsError::Quota);
                }
                let mut reread = file.try_clone()?;
                reread.rewind()?;
                let mut archive = tar::Archive::new(open(reread));
                let entries = archive.entries().map_err(|e| bad(e.to_string()))?;
                let mut i = 0;
                for entry in entries {
                    let mut entry = entry.map_err(|e| bad(e.to_string()))?;
                    if entry.header().entry_type() == tar::EntryType::XGlobalHeader {
                        continue;
                    }
                    let p = planned.get(i).ok_or_else(|| bad("the archive changed"))?;
                    i += 1;
                    write_entry(root, p, &mut entry, tmp, allowance, &mut created)?;
                }
                i
            }
            Format::Zip => {
                let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
                    .map_err(|e| bad(e.to_string()))?;
                let planned = plan_zip(&mut zip, to)?;
                let total = check_totals(&planned, archive_size)?;
                if !allowance.fits(total) {
                    return Err(FsError::Quota);
                }
                for (i, p) in planned.iter().enumerate() {
                    let mut entry = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
                    write_entry(root, p, &mut entry, tmp, allowance, &mut created)?;
                }
                planned.len()
            }
        };
        Ok(count)
    })();
    if outcome.is_err() {
        for p in created.iter().rev() {
            let _ = root.remove(p);
        }
    }
    outcome
}

/// Adapts an [`Upload`] to `io::Write` for the archive writers.
struct UploadWriter<'u, 'a>(&'u mut Upload<'a>);

impl Write for UploadWriter<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Turns an archive writer's error back into ours (a quota refusal stays one).
fn unwrap_io(e: std::io::Error) -> FsError {
    match e.into_inner() {
        Some(inner) => match inner.downcast::<FsError>() {
            Ok(fs) => *fs,
            Err(other) => FsError::Io(std::io::Error::other(other.to_string())),
        },
        None => FsError::Io(std::io::Error::other("write failed")),
    }
}

/// Packs `paths` (files and directory trees; links are skipped) into the
/// new archive `to`, whose name says the format (`.tar.gz` or `.zip`).
pub fn create(
    root: &Root,
    paths: &[VolumePath],
    to: &VolumePath,
    tmp: &str,
    allowance: &mut Allowance,
) -> Result<u64, FsError> {
    let format = Format::of(to.as_str())
        .ok_or_else(|| bad("the archive's name must end in .tar.gz, .tgz, .tar or .zip"))?;
    if root.stat(to).is_ok() {
        return Err(FsError::Exists);
    }
    let mut files = Vec::new();
    for p in paths {
        collect(root, p, &mut files)?;
    }
    let mut upload = Upload::replace(root, to, tmp, allowance)?;
    {
        let out = UploadWriter(&mut upload);
        match format {
            Format::TarGz | Format::Tar => {
                let sink: Box<dyn Write> = if format == Format::TarGz {
                    Box::new(flate2::write::GzEncoder::new(
                        out,
                        flate2::Compression::fast(),
                    ))
                } else {
                    Box::new(out)
                };
                let mut tar = tar::Builder::new(sink);
                for (path, kind, mode) in &files {
                    let mut header = tar::Header::new_gnu();
                    header.set_mode(*mode);
                    if *kind == Kind::Dir {
                        header.set_entry_type(tar::EntryType::Directory);
                        header.set_size(0);
                        tar.append_data(&mut header, path.as_str(), std::io::empty())
                            .map_err(unwrap_io)?;
                    } else {
                        let f = root.read(path)?;
                        header.set_entry_type(tar::EntryType::Regular);
                        header.set_size(f.metadata()?.len());
                        tar.append_data(&mut header, path.as_str(), f)
                            .map_err(unwrap_io)?;
                    }
                }
                let mut sink = tar.into_inner().map_err(unwrap_io)?;
                sink.flush().map_err(unwrap_io)?;
                drop(sink);
            }
            Format::Zip => {
                let mut zip = zip::ZipWriter::new_stream(out);
                for (path, kind, mode) in &files {
                    let options = zip::write::SimpleFileOptions::default()
                        .compression_method(zip::CompressionMethod::Deflated)
                        .unix_permissions(*mode);
                    if *kind == Kind::Dir {
                        zip.add_directory(path.as_str(), options)
                            .map_err(|e| bad(e.to_string()))?;
                    } else {
                        zip.start_file(path.as_str(), options)
                            .map_err(|e| bad(e.to_string()))?;
                        let mut f = root.read(path)?;
                        std::io::copy(&mut f, &mut zip).map_err(unwrap_io)?;
                    }
                }
                zip.finish().map_err(|e| bad(e.to_string()))?;
            }
        }
    }
    let size = upload.finish()?;
    Ok(size)
}

fn collect(
    root: &Root,
    path: &VolumePath,
    out: &mut Vec<(VolumePath, Kind, u32)>,
) -> Result<(), FsError> {
    if out.len() >= MAX_ENTRIES {
        return Err(bad("too many entries"));
    }
    let entry = root.stat(path)?;
    match entry.kind {
        Kind::File => out.push((path.clone(), Kind::File, entry.mode & 0o777)),
        Kind::Dir => {
            if !path.is_root() {
                out.push((path.clone(), Kind::Dir, entry.mode & 0o777));
            }
            for child in root.list(path)? {
                if matches!(child.kind, Kind::File | Kind::Dir) {
                    collect(root, &path.join(&child.name)?, out)?;
                }
            }
        }
        Kind::Symlink | Kind::Other => {}
    }
    Ok(())
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod archive_tests;
