//! SFTP access decisions for the agents (SPEC R61): the agent runs the SSH
//! server, the panel decides who may log in and what they may do.

use rampart_core::{NodeId, Scope, ServerState, UserId};
use rampart_proto::{SftpAccess, SftpAction};
use sha2::{Digest, Sha256};

use super::state_of;
use crate::Services;
use crate::audit::{AuditNote, EventType, FilePath, KeyFingerprint};
use crate::auth::LoginOutcome;
use crate::auth::ssh_keys::parse_public_key;
use crate::store::{ServerRecord, SshKeyRecord, UserRecord};

/// Changes whenever the user's password does.
fn stamp(user: &UserRecord) -> String {
    hex::encode(&Sha256::digest(user.password_hash.as_bytes())[..16])
}

/// A key login's stamp: the password stamp and the key's id, so that
/// removing the key (or changing the password) ends the session too.
fn key_stamp(user: &UserRecord, key_id: &str) -> String {
    format!("{}.{key_id}", stamp(user))
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
            // A password alone would bypass the second factor, unless the
            // administrator allowed it (`auth.sftp_password_with_2fa`).
            Some(LoginOutcome::SecondFactor(user)) if self.settings.sftp_password_with_2fa => self
                .sftp_access(node, &user, &server_id)
                .await
                .map(|(s, a)| (user, s, a)),
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

    /// An SFTP login with a public key whose signature the agent verified:
    /// the key must be one the user registered (blob for blob). Users with
    /// 2FA may log in this way: the key is a factor of its own. Audited.
    pub async fn sftp_key_login(
        &self,
        node: &NodeId,
        username: &str,
        public_key: &str,
        ip: &str,
    ) -> Option<SftpAccess> {
        let ip_opt = (!ip.is_empty()).then_some(ip);
        // An account or address locked out by failed passwords gets no key
        // login either.
        let name = username.rsplit_once('.').map_or(username, |(n, _)| n);
        let granted = match self.login_allowed(name, ip_opt) {
            Ok(()) => self.key_access(node, username, public_key).await,
            Err(_) => None,
        };
        let (actor, note, result) = match &granted {
            Some((user, server, key, _)) => (
                format!("user:{}", user.id.0),
                AuditNote::new(EventType::Auth, "sftp.login")
                    .target(format!("server:{}", server.id))
                    .extra("fingerprint", &KeyFingerprint(key.fingerprint.clone())),
                "success",
            ),
            None => (
                "anonymous".to_owned(),
                AuditNote::new(EventType::AuthFailed, "sftp.login"),
                "denied",
            ),
        };
        let _ = self.record_event_from(&actor, note, result, ip_opt).await;
        let (_, _, key, access) = granted?;
        let _ = self
            .store
            .touch_ssh_key(&key.id, rampart_core::UnixTime(self.clock.now().0))
            .await;
        Some(access)
    }

    async fn key_access(
        &self,
        node: &NodeId,
        username: &str,
        public_key: &str,
    ) -> Option<(UserRecord, ServerRecord, SshKeyRecord, SftpAccess)> {
        let (name, short) = username.rsplit_once('.')?;
        let key = parse_public_key(public_key).ok()?;
        let name = rampart_core::Username::parse(name).ok()?;
        let user = self.store.find_user_by_username(&name).await.ok()??;
        let record = self
            .store
            .find_ssh_key(user.id, &key.fingerprint)
            .await
            .ok()??;
        if record.public_key != key.openssh {
            return None;
        }
        let (server, mut access) = self
            .sftp_access(node, &user, &format!("sv_{short}"))
            .await?;
        access.stamp = key_stamp(&user, &record.id);
        Some((user, server, record, access))
    }

    /// Audits a change an SFTP session on `node` made. Only for a server
    /// that lives on that node: an agent reports on its own servers only.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_sftp_event(
        &self,
        node: &NodeId,
        user_id: i64,
        server_id: &str,
        action: SftpAction,
        path: &str,
        to: Option<&str>,
        ip: &str,
    ) {
        let Some(id) = rampart_core::ServerId::parse(server_id) else {
            return;
        };
        match self.store.get_server(&id).await {
            Ok(Some(server)) if &server.node_id == node => {}
            _ => {
                tracing::warn!(%node, server_id, "an SFTP event for a server not on this node");
                return;
            }
        }
        let label = match to {
            Some(to) => format!("{path} -> {to}"),
            None => path.to_owned(),
        };
        let note = AuditNote::new(EventType::Audit, action.audit_action())
            .target(format!("server:{server_id}"))
            .extra("path", &FilePath(label));
        let ip = (!ip.is_empty()).then_some(ip);
        let _ = self
            .record_event_from(&format!("user:{user_id}"), note, "success", ip)
            .await;
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
        let key_id = match presented.split_once('.') {
            None if stamp(&user) == presented => None,
            Some((password, key_id)) if stamp(&user) == password => Some(key_id),
            _ => return None,
        };
        let (_, mut access) = self.sftp_access(node, &user, server_id).await?;
        if let Some(key_id) = key_id {
            // The key must still be registered.
            let keys = self.store.list_ssh_keys(user.id).await.ok()?;
            if !keys.iter().any(|k| k.id == key_id) {
                return None;
            }
            access.stamp = key_stamp(&user, key_id);
        }
        Some(access)
    }
}
