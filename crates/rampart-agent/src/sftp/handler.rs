//! The SFTP file protocol on one server's volume: every path goes through
//! the confined opener (`crate::fs`), every operation first checks that
//! the session's access still holds, writes are counted against the quota.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use rampart_proto::{AgentMessage, SftpAccess, SftpAction};
use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode, Version,
};
use tokio::time::Instant;

use super::RECHECK;
use crate::fs::{Allowance, Entry, FsError, Kind, Root, VolumePath};
use crate::link::asker::PanelAsker;
use crate::servers::Servers;
use crate::servers::files::Volume;

/// Open handles per session.
const MAX_HANDLES: usize = 256;
/// Largest read answered at once.
const MAX_READ: u32 = 256 * 1024;

enum Open {
    File {
        file: std::fs::File,
        writable: bool,
        /// The name the client opened it by (for the audit event on close).
        path: String,
        /// Size as far as this handle's writes know (for the quota).
        size: u64,
    },
    Dir {
        entries: Option<Vec<Entry>>,
    },
}

pub struct Files {
    servers: Arc<Servers>,
    asker: Arc<PanelAsker>,
    access: SftpAccess,
    checked: (Instant, u64),
    revoked: bool,
    session: russh::server::Handle,
    handles: HashMap<String, Open>,
    next_handle: u64,
    allowance: Option<Allowance>,
    /// The client's address, for the audit log.
    ip: String,
}

fn status(id: u32, code: StatusCode, message: &str) -> Status {
    Status {
        id,
        status_code: code,
        error_message: message.to_owned(),
        language_tag: "en-US".to_owned(),
    }
}

fn code_of(e: &FsError) -> StatusCode {
    match e {
        FsError::NotFound => StatusCode::NoSuchFile,
        FsError::Escape | FsError::BadPath(_) | FsError::Exists => StatusCode::PermissionDenied,
        FsError::Quota => StatusCode::Failure,
        _ => StatusCode::Failure,
    }
}

fn attrs_of(e: &Entry) -> FileAttributes {
    let type_bits = match e.kind {
        Kind::File => 0o100000,
        Kind::Dir => 0o040000,
        Kind::Symlink => 0o120000,
        Kind::Other => 0,
    };
    FileAttributes {
        size: Some(e.size),
        uid: Some(0),
        user: None,
        gid: Some(0),
        group: None,
        permissions: Some(type_bits | (e.mode & 0o7777)),
        atime: u32::try_from(e.modified).ok(),
        mtime: u32::try_from(e.modified).ok(),
    }
}

/// Lexical normalisation for `realpath` only (no file is touched): the
/// answer is always an absolute path that cannot climb above `/`.
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

impl Files {
    pub fn new(
        servers: Arc<Servers>,
        asker: Arc<PanelAsker>,
        access: SftpAccess,
        session: russh::server::Handle,
        ip: String,
    ) -> Files {
        let generation = asker.generation();
        Files {
            servers,
            asker,
            access,
            checked: (Instant::now(), generation),
            revoked: false,
            session,
            handles: HashMap::new(),
            next_handle: 0,
            allowance: None,
            ip,
        }
    }

    fn volume(&self) -> Volume {
        self.servers
            .volume_of(&self.access.server_id, self.access.quota_bytes)
    }

    fn root(&self) -> Result<Root, StatusCode> {
        Root::open(&self.volume().dir).map_err(|_| StatusCode::Failure)
    }

    /// The access still holds (asking the panel when the answer is old or
    /// access changed) and allows `edit` when asked. A lost access ends the
    /// connection.
    async fn check(&mut self, edit: bool) -> Result<(), StatusCode> {
        if self.revoked {
            return Err(StatusCode::PermissionDenied);
        }
        let generation = self.asker.generation();
        if self.checked.0.elapsed() >= RECHECK || self.checked.1 != generation {
            let (user_id, server_id, stamp) = (
                self.access.user_id,
                self.access.server_id.clone(),
                self.access.stamp.clone(),
            );
            let answer = self
                .asker
                .ask(|id| AgentMessage::SftpCheck {
                    id,
                    user_id,
                    server_id,
                    stamp,
                })
                .await;
            match answer {
                Some(a) => {
                    self.access = a;
                    self.checked = (Instant::now(), generation);
                }
                None => {
                    self.revoked = true;
                    self.handles.clear();
                    let session = self.session.clone();
                    tokio::spawn(async move {
                        let _ = session
                            .disconnect(
                                russh::Disconnect::ByApplication,
                                "access to this server was withdrawn".into(),
                                "en".into(),
                            )
                            .await;
                    });
                    return Err(StatusCode::PermissionDenied);
                }
            }
        }
        if edit && !self.access.can_edit {
            return Err(StatusCode::PermissionDenied);
        }
        Ok(())
    }

    fn path(raw: &str) -> Result<VolumePath, StatusCode> {
        VolumePath::parse(raw).map_err(|_| StatusCode::PermissionDenied)
    }

    fn new_handle(&mut self, open: Open) -> Result<String, StatusCode> {
        if self.handles.len() >= MAX_HANDLES {
            return Err(StatusCode::Failure);
        }
        self.next_handle += 1;
        let h = format!("h{}", self.next_handle);
        self.handles.insert(h.clone(), open);
        Ok(h)
    }

    /// Reports a change to the panel's audit log.
    async fn audit(&self, action: SftpAction, path: &str, to: Option<&str>) {
        self.asker
            .tell(AgentMessage::SftpEvent {
                user_id: self.access.user_id,
                server_id: self.access.server_id.clone(),
                action,
                path: path.to_owned(),
                to: to.map(str::to_owned),
                ip: self.ip.clone(),
            })
            .await;
    }

    fn allowance(&mut self) -> &mut Allowance {
        let volume = self.volume();
        self.allowance.get_or_insert_with(|| volume.allowance())
    }
}

impl russh_sftp::server::Handler for Files {
    type Error = StatusCode;

    fn unimplemented(&self) -> Self::Error {
        StatusCode::OpUnsupported
    }

    async fn init(
        &mut self,
        _version: u32,
        _extensions: HashMap<String, String>,
    ) -> Result<Version, Self::Error> {
        Ok(Version::new())
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        self.check(false).await?;
        Ok(Name {
            id,
            files: vec![File::dummy(normalise(&path))],
        })
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        _attrs: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        let write = pflags.intersects(
            OpenFlags::WRITE | OpenFlags::APPEND | OpenFlags::CREATE | OpenFlags::TRUNCATE,
        );
        self.check(write).await?;
        let path = Self::path(&filename)?;
        let root = self.root()?;
        if write && pflags.contains(OpenFlags::TRUNCATE) {
            // Room given back for what truncation frees.
            if let Ok(e) = root.stat(&path)
                && e.kind == Kind::File
            {
                self.allowance().free(e.size);
            }
        }
        let file = root
            .open_file(
                &path,
                write,
                pflags.contains(OpenFlags::CREATE),
                pflags.contains(OpenFlags::TRUNCATE),
                pflags.contains(OpenFlags::EXCLUDE),
            )
            .map_err(|e| code_of(&e))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let handle = self.new_handle(Open::File {
            file,
            writable: write,
            path: filename,
            size,
        })?;
        Ok(Handle { id, handle })
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        match self.handles.remove(&handle) {
            None => return Err(StatusCode::Failure),
            Some(Open::File {
                writable: true,
                path,
                ..
            }) => self.audit(SftpAction::Write, &path, None).await,
            Some(_) => {}
        }
        Ok(status(id, StatusCode::Ok, "Ok"))
    }

    async fn read(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        len: u32,
    ) -> Result<Data, Self::Error> {
        self.check(false).await?;
        let Some(Open::File { file, .. }) = self.handles.get(&handle) else {
            return Err(StatusCode::Failure);
        };
        let mut buf = vec![0u8; len.min(MAX_READ) as usize];
        let n = file
            .read_at(&mut buf, offset)
            .map_err(|_| StatusCode::Failure)?;
        if n == 0 {
            return Err(StatusCode::Eof);
        }
        buf.truncate(n);
        Ok(Data { id, data: buf })
    }

    async fn write(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<Status, Self::Error> {
        self.check(true).await?;
        let end = offset.saturating_add(data.len() as u64);
        let grows = match self.handles.get(&handle) {
            Some(Open::File {
                writable: true,
                size,
                ..
            }) => end.saturating_sub(*size),
            _ => return Err(StatusCode::Failure),
        };
        if grows > 0 && self.allowance().take(grows).is_err() {
            return Ok(status(
                id,
                StatusCode::Failure,
                "the server's disk quota would be exceeded",
            ));
        }
        if let Some(a) = self.allowance.as_mut() {
            a.commit();
        }
        let Some(Open::File { file, size, .. }) = self.handles.get_mut(&handle) else {
            return Err(StatusCode::Failure);
        };
        file.write_all_at(&data, offset)
            .map_err(|_| StatusCode::Failure)?;
        *size = (*size).max(end);
        Ok(status(id, StatusCode::Ok, "Ok"))
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        self.check(false).await?;
        let entry = self
            .root()?
            .stat(&Self::path(&path)?)
            .map_err(|e| code_of(&e))?;
        Ok(Attrs {
            id,
            attrs: attrs_of(&entry),
        })
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        // Links are never followed: stat answers for the link itself.
        self.lstat(id, path).await
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        self.check(false).await?;
        let Some(Open::File { file, .. }) = self.handles.get(&handle) else {
            return Err(StatusCode::Failure);
        };
        let m = file.metadata().map_err(|_| StatusCode::Failure)?;
        use std::os::unix::fs::MetadataExt;
        Ok(Attrs {
            id,
            attrs: attrs_of(&Entry {
                name: String::new(),
                kind: Kind::File,
                size: m.len(),
                mode: m.mode() & 0o7777,
                modified: m.mtime(),
            }),
        })
    }

    async fn setstat(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        self.check(true).await?;
        if let Some(mode) = attrs.permissions {
            self.root()?
                .chmod(&Self::path(&path)?, mode & 0o777)
                .map_err(|e| code_of(&e))?;
            self.audit(SftpAction::Chmod, &path, None).await;
        }
        // Owners and times are the node's business; they are left alone.
        Ok(status(id, StatusCode::Ok, "Ok"))
    }

    async fn fsetstat(
        &mut self,
        id: u32,
        handle: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        self.check(true).await?;
        let Some(Open::File { file, path, .. }) = self.handles.get(&handle) else {
            return Err(StatusCode::Failure);
        };
        if let Some(mode) = attrs.permissions {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(mode & 0o777))
                .map_err(|_| StatusCode::Failure)?;
            let path = path.clone();
            self.audit(SftpAction::Chmod, &path, None).await;
        }
        Ok(status(id, StatusCode::Ok, "Ok"))
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        self.check(false).await?;
        let entries = self
            .root()?
            .list(&Self::path(&path)?)
            .map_err(|e| code_of(&e))?;
        let handle = self.new_handle(Open::Dir {
            entries: Some(entries),
        })?;
        Ok(Handle { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        self.check(false).await?;
        let Some(Open::Dir { entries }) = self.handles.get_mut(&handle) else {
            return Err(StatusCode::Failure);
        };
        let Some(list) = entries.take() else {
            return Err(StatusCode::Eof);
        };
        Ok(Name {
            id,
            files: list
                .iter()
                .map(|e| File::new(e.name.clone(), attrs_of(e)))
                .collect(),
        })
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Self::Error> {
        self.check(true).await?;
        let root = self.root()?;
        let path = Self::path(&filename)?;
        match root.stat(&path).map_err(|e| code_of(&e))?.kind {
            Kind::Dir => return Err(StatusCode::Failure),
            _ => root.remove(&path).map_err(|e| code_of(&e))?,
        }
        self.servers.disk.forget(&self.access.server_id);
        self.audit(SftpAction::Delete, &filename, None).await;
        Ok(status(id, StatusCode::Ok, "Ok"))
    }

    async fn mkdir(
        &mut self,
        id: u32,
        path: String,
        _attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        self.check(true).await?;
        self.root()?
            .mkdir(&Self::path(&path)?)
            .map_err(|e| code_of(&e))?;
        self.audit(SftpAction::Mkdir, &path, None).await;
        Ok(status(id, StatusCode::Ok, "Ok"))
    }

    async fn rmdir(&mut self, id: u32, path: String) -> Result<Status, Self::Error> {
        self.check(true).await?;
        self.root()?
            .rmdir(&Self::path(&path)?)
            .map_err(|e| code_of(&e))?;
        self.audit(SftpAction::Rmdir, &path, None).await;
        Ok(status(id, StatusCode::Ok, "Ok"))
    }

    async fn rename(
        &mut self,
        id: u32,
        oldpath: String,
        newpath: String,
    ) -> Result<Status, Self::Error> {
        self.check(true).await?;
        self.root()?
            .rename(&Self::path(&oldpath)?, &Self::path(&newpath)?)
            .map_err(|e| code_of(&e))?;
        self.audit(SftpAction::Rename, &oldpath, Some(&newpath))
            .await;
        Ok(status(id, StatusCode::Ok, "Ok"))
    }

    async fn symlink(
        &mut self,
        _id: u32,
        _linkpath: String,
        _targetpath: String,
    ) -> Result<Status, Self::Error> {
        Err(StatusCode::PermissionDenied)
    }
}
