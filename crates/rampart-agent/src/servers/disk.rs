//! Disk use of servers' volumes. Measured by a walk that never follows a
//! symbolic link nor leaves the volume's file system, counting allocated
//! blocks (a sparse file costs what it occupies) and each hard-linked file
//! once. A walk runs at most every [`REFRESH`] per server, on a blocking
//! thread; everything else reads the cached figure (the file layer of the
//! next issue adjusts it as it writes).

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

pub const REFRESH: Duration = Duration::from_secs(60);
/// Entries a walk visits at most (a tree larger than this is reported as
/// at least what was counted).
const MAX_ENTRIES: usize = 2_000_000;

/// Bytes allocated under `root` (which itself must be a real directory).
pub fn usage(root: &Path) -> std::io::Result<u64> {
    let top = std::fs::symlink_metadata(root)?;
    if !top.is_dir() {
        return Ok(0);
    }
    let device = top.dev();
    let mut total = top.blocks() * 512;
    let mut seen_links = HashSet::new();
    let mut stack = vec![root.to_path_buf()];
    let mut visited = 0usize;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            visited += 1;
            if visited > MAX_ENTRIES {
                return Ok(total);
            }
            // `DirEntry::metadata` does not follow symbolic links.
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.dev() != device {
                continue;
            }
            if meta.nlink() > 1 && !meta.is_dir() && !seen_links.insert(meta.ino()) {
                continue;
            }
            total += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    Ok(total)
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
    }
}
