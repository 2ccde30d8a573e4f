//! Disk quota at write time. Every write path (uploads, copies, extracts)
//! takes an [`Allowance`] and asks it for room before each write; the
//! server's figure in [`DiskUsage`] moves with every grant, so a check never
//! walks the tree. Room not used in the end — a failed write — goes back.
//! Writes count file bytes; the periodic walk, which counts allocated
//! blocks, corrects the figure for what the server itself writes.

use std::path::Path;

use super::FsError;
use crate::servers::disk::{DiskUsage, usage};

/// Room granted to one operation on one server's volume.
#[derive(Debug)]
pub struct Allowance {
    usage: std::sync::Arc<DiskUsage>,
    server_id: String,
    /// 0: no limit.
    limit: u64,
    granted: u64,
}

impl Allowance {
    /// Starts an operation on `server_id`'s volume at `volume`; measures the
    /// volume first if its use is not known yet (blocking).
    pub fn new(
        usage: std::sync::Arc<DiskUsage>,
        server_id: &str,
        volume: &Path,
        limit: u64,
    ) -> Self {
        if usage.get(server_id).is_none() {
            usage.set(server_id, self::usage(volume).unwrap_or(0));
        }
        Allowance {
            usage,
            server_id: server_id.to_owned(),
            limit,
            granted: 0,
        }
    }

    /// Asks for `bytes` more; refused when the volume would pass its limit.
    pub fn take(&mut self, bytes: u64) -> Result<(), FsError> {
        if self.usage.reserve(&self.server_id, bytes, self.limit) {
            self.granted += bytes;
            Ok(())
        } else {
            Err(FsError::Quota)
        }
    }

    /// Whether `bytes` more would fit now (nothing is taken).
    pub fn fits(&self, bytes: u64) -> bool {
        self.limit == 0
            || self
                .usage
                .get(&self.server_id)
                .unwrap_or(0)
                .saturating_add(bytes)
                <= self.limit
    }

    /// Gives back `bytes` this operation took but did not keep (a write
    /// that was rolled back).
    pub fn refund(&mut self, bytes: u64) {
        let bytes = bytes.min(self.granted);
        self.usage.release(&self.server_id, bytes);
        self.granted -= bytes;
    }

    /// The operation freed `bytes` (e.g. the old contents of a file it replaced).
    pub fn free(&self, bytes: u64) {
        self.usage.release(&self.server_id, bytes);
    }

    /// The operation succeeded: what it took stays taken.
    pub fn commit(&mut self) {
        self.granted = 0;
    }
}

impl Drop for Allowance {
    /// An operation that did not call [`Allowance::commit`] wrote nothing
    /// that stays: its room goes back.
    fn drop(&mut self) {
        if self.granted > 0 {
            self.usage.release(&self.server_id, self.granted);
        }
    }
}
