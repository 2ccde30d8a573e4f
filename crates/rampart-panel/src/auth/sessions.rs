//! Session lifecycle (SPEC R11): a new random 256-bit id at every login,
//! stored hashed; idle timeout and absolute lifetime enforced on every use.

use rampart_core::{SecretToken, UserId};

use super::AuthError;
use crate::Services;
use crate::store::{NewSession, UserRecord};

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

impl Services {
    /// Starts a session for `user` and returns its id (for the cookie).
    pub async fn start_session(
        &self,
        user: UserId,
        client: &ClientInfo,
    ) -> Result<SecretToken, AuthError> {
        let token = SecretToken::generate(self.rng.as_ref());
        let now = self.clock.now();
        self.store
            .create_session(&NewSession {
                id_hash: &token.hash(),
                user_id: user,
                now,
                expires_at: now.plus_secs(self.settings.session_lifetime_secs),
                ip: client.ip.as_deref(),
                user_agent: client.user_agent.as_deref().map(|ua| truncate(ua, 256)),
            })
            .await?;
        Ok(token)
    }

    /// Resolves a presented session id; `None` if unknown, idle too long or
    /// past its lifetime (such rows are deleted on the spot).
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
        if now >= record.expires_at || idle >= self.settings.session_idle_secs {
            self.store.delete_session(&hash).await?;
            return Ok(None);
        }
        if idle >= TOUCH_EVERY_SECS {
            self.store.touch_session(&hash, now).await?;
        }
        Ok(Some(ActiveSession {
            token,
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
