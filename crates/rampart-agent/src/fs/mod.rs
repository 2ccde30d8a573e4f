//! File access to servers' volumes: only through [`confined::Root`].

pub mod confined;

pub use confined::{Entry, FsError, Kind, Root, VolumePath};
