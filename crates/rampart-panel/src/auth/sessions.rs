//! Session lifecycle (SPEC R11): a new random 256-bit id at every login and
//! at every step up (second factor), stored hashed; idle timeout and
//! absolute lifetime enforced on every use.

use rampart_core::{Principal, SecretToken, UserId};

use super::AuthError;
use crate::Services;
use crate::store::{NewSession, SessionStage, UserRecord};

/// Who is asking, as far as the connection tells.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A session that passed every check on this request.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub token: SecretToken,
    pub public_id: String,
    pub stage: SessionStage,
    pub user: UserRecord,
}

impl ActiveSession {
    /// The CSRF token of this session's forms; derived from the session id,
    /// so it is never stored and cannot be computed from the stored hash.
    pub fn csrf_token(&self) -> String {
        self.token.derive("csrf")
    }
}

/// Seconds between two writes of `last_seen_at` for the same session.
const TOUCH_EVERY_SECS: i64 = 30;

/// How long the step between password and second factor may take.
pub const SECOND_FACTOR_SECS: i64 = 5 * 60;

impl Services {
    /// Starts a session for `user` at `stage` and returns its id (for the cookie).
    pub async fn start_session(
        &self,
        user: UserId,
        stage: SessionStage,
        client: &ClientInfo,
    ) -> Result<SecretToken, AuthError> {
        let token = SecretToken::generate(self.rng.as_ref());
        let mut public = [0u8; 12];
        self.rng.fill(&mut public);
        let now = self.clock.now();
        let lifetime = match stage {
            SessionStage::Full => self.settings.session_lifetime_secs,
            SessionStage::SecondFactor => SECOND_FACTOR_SECS,
        };
        self.store
            .create_session(&NewSession {
                id_hash: &token.hash(),
                public_id: &hex::encode(public),
                stage,
                user_id: user,
                now,
                expires_at: now.plus_secs(lifetime),
                ip: client.ip.as_deref(),
                user_agent: client.user_agent.as_deref().map(|ua| truncate(ua, 256)),
            })
            .await?;
        Ok(token)
    }

    /// Resolves a presented session id; `None` if unknown, idle too long,
    /// past its lifetime, or its user is deactivated (such rows are deleted
    /// on the spot).
    pub async fn resume_session(
        &self,
        presented: &str,
    ) -> Result<Option<ActiveSession>, AuthError> {
        let Some(token) = SecretToken::parse(presented) else {
            return Ok(None);
        };
        let hash = token.hash();
        let Some(record) = self.store.find_session(&hash).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let idle = now.secs_since(record.last_seen_at);
        if now >= record.expires_at
            || idle >= self.settings.session_idle_secs
            || !record.user.active
        {
            self.store.delete_session(&hash).await?;
            return Ok(None);
        }
        if idle >= TOUCH_EVERY_SECS {
            self.store.touch_session(&hash, now).await?;
        }
        Ok(Some(ActiveSession {
            token,
            public_id: record.public_id,
            stage: record.stage,
            user: record.user,
        }))
    }

    /// Ends a session (logout).
    pub async fn end_session(&self, session: &ActiveSession) -> Result<(), AuthError> {
        self.store.delete_session(&session.token.hash()).await?;
        Ok(())
    }

    /// Ends the session named by a presented id, if any (at login, so the
    /// old id never survives a privilege change).
    pub async fn end_presented_session(&self, presented: &str) -> Result<(), AuthError> {
        if let Some(token) = SecretToken::parse(presented) {
            self.store.delete_session(&token.hash()).await?;
        }
        Ok(())
    }

    /// The user's effective scopes: a built-in role's fixed set or a custom
    /// role's stored set (an unknown custom role grants nothing).
    pub async fn principal_of(&self, user: &UserRecord) -> Result<Principal, AuthError> {
        let scopes = match user.role.builtin() {
            Some(role) => role.scopes(),
            None => self
                .store
                .get_role(&user.role)
                .await?
                .map(|r| r.scopes)
                .unwrap_or_default(),
        };
        Ok(Principal {
            user: user.id,
            scopes,
            active: user.active,
        })
    }

    /// Whether this user must enrol in 2FA before doing anything else.
    pub fn must_enroll_2fa(&self, user: &UserRecord) -> bool {
        user.totp.is_none() && self.settings.require_2fa_for.contains(&user.role)
    }
}

fn truncate(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
