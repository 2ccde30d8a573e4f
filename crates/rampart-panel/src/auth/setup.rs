//! First-admin setup (SPEC R1): while no admin exists, a random one-time
//! token (256 bits, stored hashed, valid for one hour) lets one person create
//! the first admin. There is no default account.

use rampart_core::{Password, Role, RoleName, SecretToken, UserId, Username};

use super::AuthError;
use crate::Services;
use crate::store::NewUser;

/// What a presented setup link is worth right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupLink {
    /// An admin exists: setup is gone.
    Closed,
    /// Unknown, expired or already used.
    Invalid,
    Valid,
}

#[derive(Debug)]
pub enum SetupOutcome {
    Created(UserId),
    Link(SetupLink),
}

impl Services {
    /// Issues a fresh setup token, replacing any earlier one, unless an
    /// admin already exists.
    pub async fn issue_setup_token(&self) -> Result<Option<SecretToken>, AuthError> {
        if self.store.admin_exists().await? {
            return Ok(None);
        }
        let token = SecretToken::generate(self.rng.as_ref());
        let expires = self
            .clock
            .now()
            .plus_secs(self.settings.setup_token_ttl_secs);
        self.store
            .replace_setup_token(&token.hash(), expires)
            .await?;
        Ok(Some(token))
    }

    pub async fn check_setup_link(&self, presented: &str) -> Result<SetupLink, AuthError> {
        if self.store.admin_exists().await? {
            return Ok(SetupLink::Closed);
        }
        let Some(token) = SecretToken::parse(presented) else {
            return Ok(SetupLink::Invalid);
        };
        if self
            .store
            .setup_token_valid(&token.hash(), self.clock.now())
            .await?
        {
            Ok(SetupLink::Valid)
        } else {
            Ok(SetupLink::Invalid)
        }
    }

    /// Creates the first admin with a valid setup token, consuming it.
    pub async fn complete_setup(
        &self,
        presented: &str,
        username: &Username,
        password: &Password,
    ) -> Result<SetupOutcome, AuthError> {
        let link = self.check_setup_link(presented).await?;
        let (SetupLink::Valid, Some(token)) = (link, SecretToken::parse(presented)) else {
            return Ok(SetupOutcome::Link(link));
        };
        let hash = self.hasher.hash(password, self.rng.as_ref()).await?;
        let created = self
            .store
            .complete_setup(
                &token.hash(),
                self.clock.now(),
                &NewUser {
                    username,
                    password_hash: &hash,
                    role: &RoleName::from(Role::Admin),
                    created_at: self.clock.now(),
                },
            )
            .await?;
        Ok(match created {
            Some(id) => SetupOutcome::Created(id),
            None => SetupOutcome::Link(SetupLink::Invalid),
        })
    }
}
