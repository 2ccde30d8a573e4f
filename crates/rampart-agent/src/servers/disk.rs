//! Disk use of servers' volumes. Measured by a walk that never follows a
//! symbolic link nor leaves the volume's file system, counting allocated
//! blocks (a sparse file costs what it occupies) and each hard-linked file
//! once. A walk runs at most every [`REFRESH`] per server, on a blocking
//! thread; everything else reads the cached figure (the file layer of the
//! next issue adjusts it as it writes).

use std::collections::{HashMap, HashSet};
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

pub const REFRESH: Duration = Duration::from_secs(60);
/// Entries a walk visits at most (a tree larger than this is reported as
/// at least what was counted).
const MAX_ENTRIES: usize = 2_000_000;
/// Directory levels a walk descends at most (one descriptor open per level).
const MAX_DEPTH: usize = 256;

/// Bytes allocated under `root` (which itself must be a real directory).
/// Walks by directory descriptors: each child directory is opened from its
/// parent's descriptor with `O_NOFOLLOW`, so a directory swapped for a
/// symlink during the walk is skipped, never followed out of the volume.
pub fn usage(root: &Path) -> std::io::Result<u64> {
    let dir = rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let top = rustix::fs::fstat(&dir)?;
    let mut walk = Walk {
        device: top.st_dev,
        total: blocks(&top),
        seen_links: HashSet::new(),
        visited: 0,
    };
    walk.dir(&dir, 0);
    Ok(walk.total)
}

fn blocks(st: &rustix::fs::Stat) -> u64 {
    u64::try_from(st.st_blocks).unwrap_or(0) * 512
}

struct Walk {
    device: u64,
    total: u64,
    seen_links: HashSet<u64>,
    visited: usize,
}

impl Walk {
    fn dir(&mut self, dir: &OwnedFd, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let Ok(entries) = rustix::fs::Dir::read_from(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            self.visited += 1;
            if self.visited > MAX_ENTRIES {
                return;
            }
            let Ok(st) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            if st.st_dev != self.device {
                continue;
            }
            let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
            if st.st_nlink > 1 && !is_dir && !self.seen_links.insert(st.st_ino) {
                continue;
            }
            self.total += blocks(&st);
            if is_dir
                && let Ok(child) = rustix::fs::openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
            {
                self.dir(&child, depth + 1);
            }
        }
    }
}

/// The last measurement of each server's volume.
#[derive(Debug, Default)]
pub struct DiskUsage {
    cached: Mutex<HashMap<String, (u64, Instant)>>,
}

impl DiskUsage {
    pub fn get(&self, server_id: &str) -> Option<u64> {
        self.cached
            .lock()
            .ok()?
            .get(server_id)
            .map(|(bytes, _)| *bytes)
    }

    /// Whether the figure is missing or older than [`REFRESH`].
    pub fn stale(&self, server_id: &str) -> bool {
        self.cached.lock().is_ok_and(|c| {
            c.get(server_id)
                .is_none_or(|(_, at)| at.elapsed() >= REFRESH)
        })
    }

    pub fn set(&self, server_id: &str, bytes: u64) {
        if let Ok(mut c) = self.cached.lock() {
            c.insert(server_id.to_owned(), (bytes, Instant::now()));
        }
    }

    /// Adds `bytes` to the figure unless that passes `limit` (0: no limit);
    /// the figure keeps its age (writes do not replace a walk).
    pub fn reserve(&self, server_id: &str, bytes: u64, limit: u64) -> bool {
        let Ok(mut c) = self.cached.lock() else {
            return false;
        };
        let slot = c.entry(server_id.to_owned()).or_insert((0, Instant::now()));
        let next = slot.0.saturating_add(bytes);
        if limit != 0 && next > limit {
            return false;
        }
        slot.0 = next;
        true
    }

    /// Takes `bytes` off the figure.
    pub fn release(&self, server_id: &str, bytes: u64) {
        if let Ok(mut c) = self.cached.lock()
            && let Some(slot) = c.get_mut(server_id)
        {
            slot.0 = slot.0.saturating_sub(bytes);
        }
    }

    pub fn forget(&self, server_id: &str) {
        if let Ok(mut c) = self.cached.lock() {
            c.remove(server_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_once_and_never_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("vol");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a"), vec![1u8; 64 * 1024]).unwrap();
        let before = usage(&root).unwrap();
        assert!(before >= 64 * 1024, "{before}");
        // A hard link costs nothing more; a symlink to a big tree outside
        // (here: the whole temp dir, and /) is not walked.
        std::fs::hard_link(root.join("sub/a"), root.join("b")).unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, vec![1u8; 1024 * 1024]).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("big")).unwrap();
        std::os::unix::fs::symlink("/", root.join("root")).unwrap();
        let after = usage(&root).unwrap();
        assert!(after < before + 64 * 1024, "{before} → {after}");
        assert_eq!(usage(&dir.path().join("missing")).ok(), None);
        // A volume that is itself a symlink is not walked at all.
        std::os::unix::fs::symlink(&root, dir.path().join("alias")).unwrap();
        assert!(usage(&dir.path().join("alias")).is_err());
    }
}
