//! The one confined opener (DESIGN invariant 2, SPEC R60–R62): every file
//! operation on a server's volume starts from a file descriptor of the
//! volume's root and resolves with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_MAGICLINKS)`, so no path — `..`, an absolute symlink, a
//! symlink swapped in during the operation — can leave the volume. The
//! last component is never followed (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`),
//! only regular files and directories are opened (`O_NONBLOCK` keeps a FIFO
//! from blocking the check), and recursive removal works on directory
//! descriptors without following links. A path string is never joined to
//! the root.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

/// Longest relative path accepted, in bytes.
pub const MAX_PATH: usize = 4096;
/// Most components a path may have.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("invalid path: {0}")]
    BadPath(&'static str),
    #[error("no such file or directory")]
    NotFound,
    #[error("the path leaves the server's directory or crosses a symbolic link")]
    Escape,
    #[error("not a regular file or directory")]
    NotRegular,
    #[error("already exists")]
    Exists,
    #[error("the server's disk quota would be exceeded")]
    Quota,
    #[error("archive refused: {0}")]
    BadArchive(String),
    #[error("the offset is not the file's current size")]
    Offset,
    #[error("file system error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<rustix::io::Errno> for FsError {
    fn from(e: rustix::io::Errno) -> FsError {
        match e {
            rustix::io::Errno::NOENT => FsError::NotFound,
            // EXDEV: RESOLVE_BENEATH refused; ELOOP: a symlink as the last component.
            rustix::io::Errno::XDEV | rustix::io::Errno::LOOP => FsError::Escape,
            rustix::io::Errno::EXIST => FsError::Exists,
            // ENXIO: a FIFO without a reader, opened for writing without blocking.
            rustix::io::Errno::NXIO => FsError::NotRegular,
            other => FsError::Io(other.into()),
        }
    }
}

/// A validated path inside a volume: components without `.`, `..`, NUL,
/// control characters or backslashes; `""` is the root itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumePath(String);

impl VolumePath {
    pub fn parse(raw: &str) -> Result<VolumePath, FsError> {
        if raw.len() > MAX_PATH {
            return Err(FsError::BadPath("too long"));
        }
        if raw.chars().any(|c| c.is_control() || c == '\\') {
            return Err(FsError::BadPath("control character or backslash"));
        }
        let mut parts = Vec::new();
        for c in raw.split('/') {
            match c {
                "" | "." => {}
                ".." => return Err(FsError::BadPath("'..' is not allowed")),
                name => parts.push(name),
            }
        }
        if parts.len() > MAX_DEPTH {
            return Err(FsError::BadPath("too deep"));
        }
        Ok(VolumePath(parts.join("/")))
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The parent and the last name (`None` for the root).
    pub fn split(&self) -> Option<(VolumePath, &str)> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rsplit_once('/') {
            Some((parent, name)) => (VolumePath(parent.to_owned()), name),
            None => (VolumePath(String::new()), self.0.as_str()),
        })
    }

    /// This path with one more component (a name read from a directory).
    pub fn join(&self, name: &str) -> Result<VolumePath, FsError> {
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return Err(FsError::BadPath("bad name"));
        }
        VolumePath::parse(&format!("{}/{name}", self.0))
    }

    /// The path as given to the opener, without a leading slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn as_arg(&self) -> &str {
        if self.0.is_empty() { "." } else { &self.0 }
    }
}

/// What a directory entry is (symlinks are reported, never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub kind: Kind,
    pub size: u64,
    pub mode: u32,
    pub modified: i64,
}

/// A server's volume, held open.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
}

const BENEATH: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_MAGICLINKS);

fn kind_of(t: FileType) -> Kind {
    match t {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        _ => Kind::Other,
    }
}

impl Root {
    /// Opens the volume directory itself (which must not be a symlink).
    pub fn open(path: &Path) -> Result<Root, FsError> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { fd })
    }

    fn open_at(&self, path: &VolumePath, flags: OFlags, mode: Mode) -> Result<OwnedFd, FsError> {
        let fd = rustix::fs::openat2(
            self.fd.as_fd(),
            path.as_arg(),
            flags | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            mode,
            BENEATH,
        )?;
        let stat = rustix::fs::fstat(&fd)?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile | FileType::Directory => Ok(fd),
            _ => Err(FsError::NotRegular),
        }
    }

    /// A directory of the volume, as a descriptor.
    pub fn dir(&self, path: &VolumePath) -> Result<OwnedFd, FsError> {
        match self.open_at(path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()) {
            // With O_DIRECTORY a symlink at the end answers ENOTDIR: say which.
            Err(FsError::Io(e))
                if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) =>
            {
                match self.stat(path) {
                    Ok(entry) if entry.kind == Kind::Symlink => Err(FsError::Escape),
                    _ => Err(FsError::NotRegular),
                }
            }
            other => other,
        }
    }

    /// Opens a regular file for reading.
    pub fn read(&self, path: &VolumePath) -> Result<std::fs::File, FsError> {
        let fd = self.open_at(path, OFlags::RDONLY, Mode::empty())?;
        if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) != FileType::RegularFile {
            return Err(FsError::NotRegular);
        }
        Ok(std::fs::File::from(fd))
    }

    /// Creates or truncates a regular file for writing (never through a link).
    pub fn write(&self, path: &VolumePath) -> Result<std::fs::File, FsError> {
        if path.is_root() {
            return Err(FsError::NotRegular);
        }
        let fd = self.open_at(
            path,
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC,
            Mode::from_raw_mode(0o644),
        )?;
        if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) != FileType::RegularFile {
            return Err(FsError::NotRegular);
        }
        Ok(std::fs::File::from(fd))
    }

    /// Opens a regular file for SFTP: reading and/or writing, created
    /// (exclusively, when asked) and truncated as the client asks — never
    /// through a link.
    pub fn open_file(
        &self,
        path: &VolumePath,
        write: bool,
        create: bool,
        truncate: bool,
        exclusive: bool,
    ) -> Result<std::fs::File, FsError> {
        if path.is_root() {
            return Err(FsError::NotRegular);
        }
        let mut flags = if write { OFlags::RDWR } else { OFlags::RDONLY };
        if write && create {
            flags |= OFlags::CREATE;
        }
        if write && exclusive {
            flags |= OFlags::EXCL;
        }
        if write && truncate {
            flags |= OFlags::TRUNC;
        }
        // openat2 takes a mode only with O_CREAT.
        let mode = if flags.contains(OFlags::CREATE) {
            Mode::from_raw_mode(0o644)
        } else {
            Mode::empty()
        };
        let fd = self.open_at(path, flags, mode)?;
        if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) != FileType::RegularFile {
            return Err(FsError::NotRegular);
        }
        Ok(std::fs::File::from(fd))
    }

    /// Removes an empty directory.
    pub fn rmdir(&self, path: &VolumePath) -> Result<(), FsError> {
        let (parent, name) = path
            .split()
            .ok_or(FsError::BadPath("the root cannot be removed"))?;
        let dir = self.dir(&parent)?;
        rustix::fs::unlinkat(&dir, name, AtFlags::REMOVEDIR)?;
        Ok(())
    }

    /// Opens an existing regular file for writing at its end, without
    /// truncating it (a resumed upload).
    pub fn append(&self, path: &VolumePath) -> Result<std::fs::File, FsError> {
        let fd = self.open_at(path, OFlags::WRONLY, Mode::empty())?;
        if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) != FileType::RegularFile {
            return Err(FsError::NotRegular);
        }
        Ok(std::fs::File::from(fd))
    }

    /// Creates a new, empty file `name` (which must not exist) in the
    /// directory holding `path`, for contents that replace `path` later
    /// with [`Root::replace`]. Returns the directory's descriptor with it.
    pub fn create_beside(
        &self,
        path: &VolumePath,
        name: &str,
    ) -> Result<(OwnedFd, std::fs::File), FsError> {
        let (parent, _) = path.split().ok_or(FsError::NotRegular)?;
        let dir = self.dir(&parent)?;
        let fd = rustix::fs::openat(
            &dir,
            name,
            OFlags::WRONLY
                | OFlags::CREATE
                | OFlags::EXCL
                | OFlags::NOFOLLOW
                | OFlags::NONBLOCK
                | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )?;
        Ok((dir, std::fs::File::from(fd)))
    }

    /// Mkdir for every missing directory of `path`, never through a link.
    pub fn mkdir_all(&self, path: &VolumePath) -> Result<(), FsError> {
        let mut at = VolumePath(String::new());
        for name in path.0.split('/').filter(|n| !n.is_empty()) {
            at = at.join(name)?;
            match self.mkdir(&at) {
                Ok(()) | Err(FsError::Exists) => {}
                Err(e) => return Err(e),
            }
        }
        // Whatever is there now must be a real directory.
        self.dir(path).map(drop)
    }

    pub fn mkdir(&self, path: &VolumePath) -> Result<(), FsError> {
        let (parent, name) = path.split().ok_or(FsError::Exists)?;
        let dir = self.dir(&parent)?;
        rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o755))?;
        Ok(())
    }

    /// Facts about one entry, not following a symlink at the end.
    pub fn stat(&self, path: &VolumePath) -> Result<Entry, FsError> {
        let Some((parent, name)) = path.split() else {
            let st = rustix::fs::fstat(&self.fd)?;
            return Ok(entry("", &st));
        };
        let dir = self.dir(&parent)?;
        let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(entry(name, &st))
    }

    /// The entries of a directory.
    pub fn list(&self, path: &VolumePath) -> Result<Vec<Entry>, FsError> {
        let dir = self.dir(path)?;
        let mut out = Vec::new();
        for item in rustix::fs::Dir::read_from(&dir)? {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            if name == "." || name == ".." {
                continue;
            }
            let st = rustix::fs::statat(&dir, item.file_name(), AtFlags::SYMLINK_NOFOLLOW)?;
            out.push(entry(&name, &st));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Changes permission bits (`0o7777` masked to `0o777`: no set-id or
    /// sticky bits) on the file or directory itself, through its own
    /// descriptor: a symlink is refused, never followed.
    pub fn chmod(&self, path: &VolumePath, mode: u32) -> Result<(), FsError> {
        let fd = self.open_at(path, OFlags::RDONLY, Mode::empty())?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode & 0o777))?;
        Ok(())
    }

    /// Moves an entry (a symlink moves as a link) within the volume; the
    /// target must not exist.
    pub fn rename(&self, from: &VolumePath, to: &VolumePath) -> Result<(), FsError> {
        let (from_parent, from_name) = from
            .split()
            .ok_or(FsError::BadPath("the root cannot move"))?;
        let (to_parent, to_name) = to
            .split()
            .ok_or(FsError::BadPath("the root cannot be replaced"))?;
        let from_dir = self.dir(&from_parent)?;
        let to_dir = self.dir(&to_parent)?;
        rustix::fs::renameat_with(
            &from_dir,
            from_name,
            &to_dir,
            to_name,
            rustix::fs::RenameFlags::NOREPLACE,
        )?;
        Ok(())
    }

    /// Removes a file, a symlink (not its target) or a directory with
    /// everything in it, never following a link.
    pub fn remove(&self, path: &VolumePath) -> Result<(), FsError> {
        let (parent, name) = path
            .split()
            .ok_or(FsError::BadPath("the root cannot be removed"))?;
        let dir = self.dir(&parent)?;
        let name = std::ffi::CString::new(name).map_err(|_| FsError::BadPath("NUL"))?;
        remove_at(&dir, &name, 0)
    }
}

/// Puts the file `tmp` in `dir` in the place of `name` (a file or link
/// there is replaced, a directory is not).
pub fn replace(dir: &OwnedFd, tmp: &str, name: &str) -> Result<(), FsError> {
    rustix::fs::renameat(dir, tmp, dir, name)?;
    Ok(())
}

/// Removes the file `name` of `dir` (cleanup of an aborted upload).
pub fn unlink(dir: &OwnedFd, name: &str) {
    let _ = rustix::fs::unlinkat(dir, name, AtFlags::empty());
}

fn entry(name: &str, st: &rustix::fs::Stat) -> Entry {
    Entry {
        name: name.to_owned(),
        kind: kind_of(FileType::from_raw_mode(st.st_mode)),
        size: u64::try_from(st.st_size).unwrap_or(0),
        mode: st.st_mode & 0o7777,
        modified: st.st_mtime,
    }
}

fn remove_at(dir: &OwnedFd, name: &std::ffi::CStr, depth: usize) -> Result<(), FsError> {
    if depth > MAX_DEPTH * 4 {
        return Err(FsError::BadPath("too deep"));
    }
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
        return Ok(());
    }
    // Opened beneath `dir`, never through a link: a directory swapped for a
    // symlink meanwhile fails here instead of being followed.
    let child = rustix::fs::openat2(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        BENEATH,
    )?;
    let names: Vec<std::ffi::CString> = rustix::fs::Dir::read_from(&child)?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for n in names {
        remove_at(&child, &n, depth + 1)?;
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
    Ok(())
}

#[cfg(test)]
#[path = "escape_tests.rs"]
mod escape_tests;
