//! The panel's file commands on a server's volume, run on blocking threads
//! through [`crate::fs`] (the confined opener), every write counted
//! against the server's quota.

use std::path::PathBuf;
use std::sync::Arc;

use rampart_proto::{CommandResult, FileEntry, FileErrorCode, FileFailure, FileOp};

use crate::fs::{Allowance, Entry, FsError, Kind, Root, VolumePath, archive, ops};
use crate::pull::PullError;

use super::Servers;
use super::disk::DiskUsage;

/// The failure as the protocol carries it.
pub fn failure(e: &FsError) -> FileFailure {
    let code = match e {
        FsError::NotFound => FileErrorCode::NotFound,
        FsError::Exists => FileErrorCode::Exists,
        FsError::BadPath(_) | FsError::Escape => FileErrorCode::BadPath,
        FsError::NotRegular => FileErrorCode::WrongKind,
        FsError::Quota => FileErrorCode::Quota,
        FsError::BadArchive(_) => FileErrorCode::BadArchive,
        FsError::Offset => FileErrorCode::Offset,
        FsError::Io(_) => FileErrorCode::Io,
    };
    FileFailure {
        code,
        message: e.to_string().chars().take(250).collect(),
    }
}

pub fn entries(list: Vec<Entry>) -> Vec<FileEntry> {
    list.into_iter()
        .map(|e| FileEntry {
            kind: match e.kind {
                Kind::File => "file",
                Kind::Dir => "dir",
                Kind::Symlink => "symlink",
                Kind::Other => "other",
            }
            .to_owned(),
            name: e.name,
            size: e.size,
            mode: e.mode,
            modified: e.modified,
        })
        .collect()
}

/// Where a server's files live and how its writes are counted.
#[derive(Debug, Clone)]
pub struct Volume {
    pub server_id: String,
    pub dir: PathBuf,
    pub usage: Arc<DiskUsage>,
    /// 0: no limit.
    pub quota_bytes: u64,
}

impl Volume {
    pub fn root(&self) -> Result<Root, FsError> {
        Root::open(&self.dir)
    }

    /// Room for one operation's writes (measures the volume first if needed).
    pub fn allowance(&self) -> Allowance {
        Allowance::new(
            self.usage.clone(),
            &self.server_id,
            &self.dir,
            self.quota_bytes,
        )
    }
}

impl Servers {
    pub fn volume_of(&self, server_id: &str, quota_bytes: u64) -> Volume {
        Volume {
            server_id: server_id.to_owned(),
            dir: self.volume(server_id),
            usage: self.disk.clone(),
            quota_bytes,
        }
    }

    /// A name for the file an upload or archive writes before it is put in
    /// place (unique in this agent's life; created exclusively).
    pub fn temp_name(&self) -> String {
        let n = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!(".rampart-part-{}-{n}", std::process::id())
    }

    /// Runs one file operation.
    pub async fn file_op(&self, server_id: &str, quota_bytes: u64, op: FileOp) -> CommandResult {
        let volume = self.volume_of(server_id, quota_bytes);
        let tmp = self.temp_name();
        if let FileOp::Pull { url, path } = &op {
            let pulled = crate::pull::pull(volume, url, path, tmp, self.pull_allow.clone()).await;
            return match pulled {
                Ok(_) => CommandResult::Done,
                Err(PullError::Fs(e)) => CommandResult::FileFailed { error: failure(&e) },
                Err(e) => CommandResult::FileFailed {
                    error: FileFailure {
                        code: match e {
                            PullError::BadUrl(_) => FileErrorCode::BadUrl,
                            PullError::Refused(_) => FileErrorCode::UrlRefused,
                            _ => FileErrorCode::FetchFailed,
                        },
                        message: e.to_string().chars().take(250).collect(),
                    },
                },
            };
        }
        let done = tokio::task::spawn_blocking(move || run(&volume, op, &tmp)).await;
        match done {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => CommandResult::FileFailed { error: failure(&e) },
            Err(_) => CommandResult::Failed {
                reason: "the file operation failed".into(),
            },
        }
    }
}

fn run(volume: &Volume, op: FileOp, tmp: &str) -> Result<CommandResult, FsError> {
    let root = volume.root()?;
    let p = VolumePath::parse;
    match op {
        FileOp::Mkdir { path } => root.mkdir(&p(&path)?)?,
        FileOp::Rename { from, to } => root.rename(&p(&from)?, &p(&to)?)?,
        FileOp::Copy { from, to } => {
            let mut allowance = volume.allowance();
            ops::copy(&root, &p(&from)?, &p(&to)?, &mut allowance)?;
            allowance.commit();
        }
        FileOp::Delete { path } => {
            let path = p(&path)?;
            root.remove(&path)?;
            // Measured again before the next write: the room is free at once.
            volume.usage.forget(&volume.server_id);
        }
        FileOp::Chmod { path, mode } => root.chmod(&p(&path)?, mode)?,
        FileOp::Search { path, pattern } => {
            return Ok(CommandResult::Files {
                items: entries(ops::search(&root, &p(&path)?, &pattern)?),
            });
        }
        FileOp::Extract { path, to } => {
            let mut allowance = volume.allowance();
            archive::extract(&root, &p(&path)?, &p(&to)?, tmp, &mut allowance)?;
            allowance.commit();
        }
        FileOp::Archive { paths, to } => {
            let paths = paths.iter().map(|x| p(x)).collect::<Result<Vec<_>, _>>()?;
            let mut allowance = volume.allowance();
            archive::create(&root, &paths, &p(&to)?, tmp, &mut allowance)?;
            allowance.commit();
        }
        FileOp::Pull { .. } => {
            return Err(FsError::Io(std::io::Error::other(
                "a pull is not a blocking operation",
            )));
        }
    }
    Ok(CommandResult::Done)
}
