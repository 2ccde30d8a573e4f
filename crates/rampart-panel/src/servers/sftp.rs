//! SFTP access decisions for the agents (SPEC R61): the agent runs the SSH
//! server, the panel decides who may log in and what they may do.

use rampart_core::{NodeId, Scope, ServerState, UserId};
use rampart_proto::SftpAccess;
use sha2::{Digest, Sha256};

use super::state_of;
use crate::Services;
use crate::audit::{AuditNote, EventType};
use crate::auth::LoginOutcome;
use crate::store::{ServerRecord, UserRecord};

/// Changes whenever the user's password does.
fn stamp(user: &UserRecord) -> String {
    hex::encode(&Sha256::digest(user.password_hash.as_bytes())[..16])
}

/// `<panel user>.<16 hex digits of the server id>`.
pub fn sftp_username(user: &str, server_id: &str) -> String {
    format!("{user}.{}", server_id.trim_start_matches("sv_"))
}

impl Services {
    /// What `user` may do over SFTP on `server_id` of `node`, if anything.
    async fn sftp_access(
        &self,
        node: &NodeId,
        user: &UserRecord,
        server_id: &str,
    ) -> Option<(ServerRecord, SftpAccess)> {
        if !user.active {
            return None;
        }
        let principal = self.principal_of(user).await.ok()?;
        let (server, _) = self
            .authorize_server(&principal, server_id, Scope::ServerFilesView)
            .await
            .ok()?;
        if &server.node_id != node || state_of(&server) == ServerState::Suspended {
            return None;
        }
        let can_edit = self
            .authorize_server(&principal, server_id, Scope::ServerFilesEdit)
            .await
            .is_ok();
        let access = SftpAccess {
            user_id: user.id.0,
            server_id: server.id.to_string(),
            can_edit,
            quota_bytes: crate::web::api::files::quota_of(&server),
            stamp: stamp(user),
        };
        Some((server, access))
    }

    /// An SFTP login from `node`'s agent: password (with the login limits),
    /// no second factor on the account, files access on the server. Audited.
    pub async fn sftp_login(
        &self,
        node: &NodeId,
        username: &str,
        password: &str,
        ip: &str,
    ) -> Option<SftpAccess> {
        let (name, short) = username.rsplit_once('.')?;
        let server_id = format!("sv_{short}");
        let ip_opt = (!ip.is_empty()).then_some(ip);
        let outcome = self.attempt_login(name, password, ip_opt).await.ok();
        let granted = match outcome {
            Some(LoginOutcome::Success(user)) => self
                .sftp_access(node, &user, &server_id)
                .await
                .map(|(s, a)| (user, s, a)),
            // A password alone would bypass the second factor.
            _ => None,
        };
        let actor = match &granted {
            Some((user, _, _)) => format!("user:{}", user.id.0),
            None => "anonymous".to_owned(),
        };
        let note = match &granted {
            Some((_, server, _)) => AuditNote::new(EventType::Auth, "sftp.login")
                .target(format!("server:{}", server.id)),
            None => AuditNote::new(EventType::AuthFailed, "sftp.login"),
        };
        let result = if granted.is_some() {
            "success"
        } else {
            "denied"
        };
        let _ = self.record_event_from(&actor, note, result, ip_opt).await;
        granted.map(|(_, _, a)| a)
    }

    /// Whether an SFTP session's access still holds (same user, same
    /// password, still allowed); the current access if so.
    pub async fn sftp_check(
        &self,
        node: &NodeId,
        user_id: i64,
        server_id: &str,
        presented: &str,
    ) -> Option<SftpAccess> {
        let user = self.store.get_user(UserId(user_id)).await.ok()??;
        if stamp(&user) != presented {
            return None;
        }
        self.sftp_access(node, &user, server_id)
            .await
            .map(|(_, a)| a)
    }
}
