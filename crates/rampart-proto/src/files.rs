//! File commands (SPEC R60–R62): operations on one server's volume, and
//! the transfer sockets that carry file contents.
//!
//! Small operations travel on the link as [`FileOp`]s. File contents never
//! do: for a download or upload the panel sends [`Command::Transfer`]
//! with a one-time ticket; the agent opens the file through its confined
//! opener, answers [`CommandResult::Opened`], and dials
//! `/agent/transfer` with its credential and the ticket. On that socket the
//! bytes go as binary frames of at most [`TRANSFER_CHUNK`] bytes, and the
//! transfer ends with one text frame holding a [`TransferEnd`] (from the
//! agent) — or, for an upload, first the text frame [`UPLOAD_END`] from the
//! panel. A socket that closes without its end frame aborts the transfer:
//! an upload then leaves the file as it was.
//!
//! [`Command::Transfer`]: crate::Command::Transfer
//! [`CommandResult::Opened`]: crate::CommandResult::Opened

use serde::{Deserialize, Serialize};

use crate::ProtoError;

/// Largest binary frame on a transfer socket.
pub const TRANSFER_CHUNK: usize = 256 * 1024;
/// The panel's text frame closing an upload's body.
pub const UPLOAD_END: &str = "end";
/// Longest path the agent is sent.
pub const MAX_PATH_BYTES: usize = 4096;
/// Longest URL a pull is sent.
pub const MAX_URL_BYTES: usize = 2048;
/// Most paths in one archive command.
pub const MAX_ARCHIVE_PATHS: usize = 1000;

/// An operation on a server's files; every path is relative to the
/// volume and resolved by the agent's confined opener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum FileOp {
    Mkdir {
        path: String,
    },
    /// Move or rename; the target must not exist.
    Rename {
        from: String,
        to: String,
    },
    /// Copy a file or a directory tree (links are not copied); the target
    /// must not exist.
    Copy {
        from: String,
        to: String,
    },
    /// Delete a file, a link (not its target) or a directory tree.
    Delete {
        path: String,
    },
    /// Permission bits only (no set-id or sticky bits).
    Chmod {
        path: String,
        mode: u32,
    },
    /// Entries under `path` whose name contains `pattern` (case-insensitive).
    Search {
        path: String,
        pattern: String,
    },
    /// Unpack a `.tar.gz`/`.tgz`/`.tar` or `.zip` archive into directory `to`.
    Extract {
        path: String,
        to: String,
    },
    /// Pack `paths` into a new archive `to` (`.tar.gz` or `.zip` by name).
    Archive {
        paths: Vec<String>,
        to: String,
    },
    /// Download `url` (http or https, public addresses only) into the file
    /// `path`, replacing it whole once every byte arrived.
    Pull {
        url: String,
        path: String,
    },
}

impl FileOp {
    /// Whether the operation changes the volume.
    pub fn is_mutating(&self) -> bool {
        !matches!(self, FileOp::Search { .. })
    }

    pub(crate) fn validate(&self) -> Result<(), ProtoError> {
        match self {
            FileOp::Mkdir { path } | FileOp::Delete { path } | FileOp::Chmod { path, .. } => {
                check_path(path)
            }
            FileOp::Rename { from, to }
            | FileOp::Copy { from, to }
            | FileOp::Extract { path: from, to } => {
                check_path(from)?;
                check_path(to)
            }
            FileOp::Search { path, pattern } => {
                check_path(path)?;
                if pattern.is_empty() || pattern.len() > 256 || pattern.contains('\0') {
                    return Err(ProtoError::Malformed("pattern".into()));
                }
                Ok(())
            }
            FileOp::Pull { url, path } => {
                check_path(path)?;
                if url.is_empty() || url.len() > MAX_URL_BYTES || url.chars().any(char::is_control)
                {
                    return Err(ProtoError::Malformed("url".into()));
                }
                Ok(())
            }
            FileOp::Archive { paths, to } => {
                if paths.is_empty() || paths.len() > MAX_ARCHIVE_PATHS {
                    return Err(ProtoError::Malformed("paths".into()));
                }
                for p in paths {
                    check_path(p)?;
                }
                check_path(to)
            }
        }
    }
}

/// Which way a transfer's bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "way", rename_all = "snake_case", deny_unknown_fields)]
pub enum Direction {
    /// The agent sends the file.
    Read,
    /// The panel sends the file's new contents. Without `offset` the file
    /// is replaced whole once every byte arrived; with it the bytes are
    /// appended at `offset`, which must be the file's current size (a
    /// resumed upload), and a failure truncates the file back.
    Write { offset: Option<u64> },
}

/// A transfer's last frame from the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "end", rename_all = "snake_case", deny_unknown_fields)]
pub enum TransferEnd {
    /// Every byte went; `size` is the file's size now.
    Done {
        size: u64,
    },
    Failed {
        error: FileFailure,
    },
}

/// Why a file operation did not happen, in words the panel maps to HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileFailure {
    pub code: FileErrorCode,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileErrorCode {
    NotFound,
    Exists,
    /// The path is malformed, leaves the volume or crosses a symlink.
    BadPath,
    /// Not a regular file or directory, or the wrong one of the two.
    WrongKind,
    /// The server's disk quota would be exceeded; nothing was written.
    Quota,
    /// An archive was refused (unsafe entry, too many entries, a bomb).
    BadArchive,
    /// A resumed upload's offset is not the file's size.
    Offset,
    /// A pull's URL is malformed or not http(s).
    BadUrl,
    /// A pull's URL, a redirect or a resolved name leads to an address
    /// that is not public (loopback, private, link-local, metadata…).
    UrlRefused,
    /// A pull's download failed (connection, HTTP status, deadline).
    FetchFailed,
    Io,
}

pub(crate) fn check_path(path: &str) -> Result<(), ProtoError> {
    if path.len() > MAX_PATH_BYTES || path.contains('\0') {
        return Err(ProtoError::Malformed("path".into()));
    }
    Ok(())
}

/// A transfer ticket: 43 to 64 URL-safe characters.
pub(crate) fn check_ticket(ticket: &str) -> Result<(), ProtoError> {
    let ok = (43..=64).contains(&ticket.len())
        && ticket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ProtoError::Malformed("ticket".into()))
    }
}
