//! File operations built on the confined opener: uploads that replace a
//! file only once every byte arrived (or append at a resumed offset and
//! roll back on failure), copies and searches that walk by confined paths
//! and never follow a link, all writes counted against the quota.

use std::io::Write;
use std::os::fd::OwnedFd;

use super::confined::{self, Entry, FsError, Kind, Root, VolumePath};
use super::quota::Allowance;

/// Most entries a search returns.
pub const MAX_SEARCH_RESULTS: usize = 1000;
/// Most entries a search or copy visits.
const MAX_VISITS: usize = 200_000;

enum Target {
    /// Contents go to a new file beside the target, renamed over it at the end.
    Replace {
        dir: OwnedFd,
        tmp: String,
        name: String,
        old_size: u64,
    },
    /// Contents are appended to the file, which is cut back on failure.
    Append { offset: u64 },
}

/// A file being written, counted against the quota. Dropped without
/// [`Upload::finish`], it leaves the volume as it was.
pub struct Upload<'a> {
    file: std::fs::File,
    target: Target,
    allowance: &'a mut Allowance,
    written: u64,
    finished: bool,
}

impl std::fmt::Debug for Upload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl<'a> Upload<'a> {
    /// New contents for `path` (created if missing). `tmp` names the file
    /// written meanwhile (unique per upload). A symlink, directory or other
    /// special file at `path` is refused.
    pub fn replace(
        root: &Root,
        path: &VolumePath,
        tmp: &str,
        allowance: &'a mut Allowance,
    ) -> Result<Upload<'a>, FsError> {
        let (_, name) = path.split().ok_or(FsError::NotRegular)?;
        let old_size = match root.stat(path) {
            Ok(e) if e.kind == Kind::File => e.size,
            Ok(e) if e.kind == Kind::Symlink => return Err(FsError::Escape),
            Ok(_) => return Err(FsError::NotRegular),
            Err(FsError::NotFound) => 0,
            Err(e) => return Err(e),
        };
        let (dir, file) = root.create_beside(path, tmp)?;
        Ok(Upload {
            file,
            target: Target::Replace {
                dir,
                tmp: tmp.to_owned(),
                name: name.to_owned(),
                old_size,
            },
            allowance,
            written: 0,
            finished: false,
        })
    }

    /// Appends to the existing file `path`, whose size must be `offset`.
    pub fn append(
        root: &Root,
        path: &VolumePath,
        offset: u64,
        allowance: &'a mut Allowance,
    ) -> Result<Upload<'a>, FsError> {
        let mut file = root.append(path)?;
        if file.metadata()?.len() != offset {
            return Err(FsError::Offset);
        }
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(offset))?;
        Ok(Upload {
            file,
            target: Target::Append { offset },
            allowance,
            written: 0,
            finished: false,
        })
    }

    /// Writes the next bytes, if the quota has room for them.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), FsError> {
        self.allowance.take(bytes.len() as u64)?;
        if let Err(e) = self.file.write_all(bytes) {
            self.allowance.refund(bytes.len() as u64);
            return Err(e.into());
        }
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Every byte arrived: puts the contents in place; returns the file's size.
    pub fn finish(mut self) -> Result<u64, FsError> {
        self.file.flush()?;
        let size = self.file.metadata()?.len();
        let freed = match &self.target {
            Target::Replace {
                dir,
                tmp,
                name,
                old_size,
            } => {
                confined::replace(dir, tmp, name)?;
                *old_size
            }
            Target::Append { .. } => 0,
        };
        self.finished = true;
        self.allowance.free(freed);
        Ok(size)
    }
}

impl Drop for Upload<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.allowance.refund(self.written);
        match &self.target {
            Target::Replace { dir, tmp, .. } => confined::unlink(dir, tmp),
            Target::Append { offset } => {
                let _ = self.file.set_len(*offset);
            }
        }
    }
}

/// Copies `from` (a file or a directory tree) to `to`, which must not
/// exist. Links and special files inside are skipped, never followed. On
/// failure whatever was copied is removed again.
pub fn copy(
    root: &Root,
    from: &VolumePath,
    to: &VolumePath,
    allowance: &mut Allowance,
) -> Result<(), FsError> {
    match root.stat(to) {
        Ok(_) => return Err(FsError::Exists),
        Err(FsError::NotFound) => {}
        Err(e) => return Err(e),
    }
    let mut visits = 0;
    let outcome = copy_entry(root, from, to, allowance, &mut visits);
    if outcome.is_err() {
        let _ = root.remove(to);
    }
    outcome
}

fn copy_entry(
    root: &Root,
    from: &VolumePath,
    to: &VolumePath,
    allowance: &mut Allowance,
    visits: &mut usize,
) -> Result<(), FsError> {
    *visits += 1;
    if *visits > MAX_VISITS {
        return Err(FsError::BadPath("too many entries to copy"));
    }
    let entry = root.stat(from)?;
    match entry.kind {
        Kind::File => {
            let mut src = root.read(from)?;
            let size = src.metadata()?.len();
            allowance.take(size)?;
            let (parent, name) = to.split().ok_or(FsError::Exists)?;
            let dir = root.dir(&parent)?;
            let fd = rustix::fs::openat(
                &dir,
                name,
                rustix::fs::OFlags::WRONLY
                    | rustix::fs::OFlags::CREATE
                    | rustix::fs::OFlags::EXCL
                    | rustix::fs::OFlags::NOFOLLOW
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::from_raw_mode(entry.mode & 0o777),
            )?;
            let mut dst = std::fs::File::from(fd);
            // At most what was counted: a file growing meanwhile is cut.
            std::io::copy(&mut std::io::Read::take(&mut src, size), &mut dst)?;
            Ok(())
        }
        Kind::Dir => {
            root.mkdir(to)?;
            for child in root.list(from)? {
                if matches!(child.kind, Kind::File | Kind::Dir) {
                    copy_entry(
                        root,
                        &from.join(&child.name)?,
                        &to.join(&child.name)?,
                        allowance,
                        visits,
                    )?;
                }
            }
            Ok(())
        }
        Kind::Symlink => Err(FsError::Escape),
        Kind::Other => Err(FsError::NotRegular),
    }
}

/// Entries under `path` whose name contains `pattern` (ASCII
/// case-insensitive), with their paths relative to the volume as names.
/// Directories are entered by confined paths; links are listed, never entered.
pub fn search(root: &Root, path: &VolumePath, pattern: &str) -> Result<Vec<Entry>, FsError> {
    let needle = pattern.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut queue = vec![path.clone()];
    let mut visits = 0usize;
    while let Some(dir) = queue.pop() {
        let Ok(entries) = root.list(&dir) else {
            continue;
        };
        for mut e in entries {
            visits += 1;
            if visits > MAX_VISITS || found.len() >= MAX_SEARCH_RESULTS {
                return Ok(found);
            }
            let Ok(child) = dir.join(&e.name) else {
                continue;
            };
            if e.kind == Kind::Dir {
                queue.push(child.clone());
            }
            if e.name.to_ascii_lowercase().contains(&needle) {
                e.name = child.as_str().to_owned();
                found.push(e);
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}
