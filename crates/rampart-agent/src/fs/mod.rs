//! File access to servers' volumes: only through [`confined::Root`].

pub mod archive;
pub mod confined;
pub mod ops;
pub mod quota;

pub use confined::{Entry, FsError, Kind, Root, VolumePath};
pub use quota::Allowance;
