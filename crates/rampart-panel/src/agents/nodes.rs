//! Node services: creation with a one-time enrollment token, enrollment,
//! agent authentication, revocation, online status.

use rampart_core::secret_token::constant_time_eq;
use rampart_core::{Granted, NodeId, NodeName, Resource, Scope, SecretToken, UnixTime};

use super::OFFLINE_AFTER_SECS;
use crate::Services;
use crate::auth::AuthError;
use crate::store::{NewNode, NodeRecord, StoreError};

/// After a rotation, the old agent credential works this long.
pub const ROTATION_OVERLAP_SECS: i64 = 300;

/// Enrollment tokens last one hour.
const ENROLL_TTL_SECS: i64 = 3600;
/// Prefix and version of enrollment tokens.
const TOKEN_PREFIX: &str = "rn1.";

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("a node with that name already exists")]
    NameTaken,
    #[error("capability does not cover this operation")]
    WrongCapability,
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<StoreError> for NodeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NameTaken => NodeError::NameTaken,
            other => NodeError::Auth(AuthError::Store(other)),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnrollError {
    #[error("the enrollment token is invalid, expired or already used")]
    InvalidToken,
}

/// A new node and the token to enroll its agent (shown once).
#[derive(Debug)]
pub struct NewNodeToken {
    pub node_id: NodeId,
    pub enroll_token: String,
}

/// The secret part of `rn1.<secret>[.<certificate fingerprint>]`.
fn token_secret(token: &str) -> Option<SecretToken> {
    let rest = token.trim().strip_prefix(TOKEN_PREFIX)?;
    SecretToken::parse(rest.split('.').next()?)
}

impl Services {
    /// Creates a node (scope `nodes.edit`) and its one-time enrollment token.
    pub async fn create_node(
        &self,
        granted: &Granted,
        name: &NodeName,
        public_address: &str,
        sftp_port: i64,
        labels: &str,
    ) -> Result<NewNodeToken, NodeError> {
        let ok = matches!(granted.scope(), Scope::NodesEdit | Scope::Admin)
            && granted.resource() == Resource::Global;
        if !ok {
            return Err(NodeError::WrongCapability);
        }
        self.create_node_unchecked(name, public_address, sftp_port, labels)
            .await
    }

    /// Creates a node without an authorization check: the break-glass CLI.
    pub async fn create_node_unchecked(
        &self,
        name: &NodeName,
        public_address: &str,
        sftp_port: i64,
        labels: &str,
    ) -> Result<NewNodeToken, NodeError> {
        let id = NodeId::generate(self.rng.as_ref());
        let secret = SecretToken::generate(self.rng.as_ref());
        let now = self.clock.now();
        self.store
            .create_node(&NewNode {
                id: &id,
                name,
                public_address,
                sftp_port,
                labels,
                enroll_token_hash: secret.hash().as_str(),
                enroll_expires_at: now.plus_secs(ENROLL_TTL_SECS),
                now,
            })
            .await?;
        let enroll_token = match &self.settings.agent_tls_fingerprint {
            Some(fp) => format!("{TOKEN_PREFIX}{}.{fp}", secret.expose()),
            None => format!("{TOKEN_PREFIX}{}", secret.expose()),
        };
        Ok(NewNodeToken {
            node_id: id,
            enroll_token,
        })
    }

    /// Exchanges an enrollment token for the node id and a long-lived
    /// credential (random 256 bits, stored hashed).
    pub async fn enroll_agent(
        &self,
        token: &str,
    ) -> Result<Result<(NodeId, SecretToken), EnrollError>, AuthError> {
        let Some(secret) = token_secret(token) else {
            return Ok(Err(EnrollError::InvalidToken));
        };
        let credential = SecretToken::generate(self.rng.as_ref());
        match self
            .store
            .enroll_node(
                secret.hash().as_str(),
                credential.hash().as_str(),
                self.clock.now(),
            )
            .await?
        {
            Some(id) => Ok(Ok((id, credential))),
            None => Ok(Err(EnrollError::InvalidToken)),
        }
    }

    /// The node if `credential` is its current credential and it is not revoked.
    pub async fn authenticate_agent(
        &self,
        node: &str,
        credential: &str,
    ) -> Result<Option<NodeRecord>, AuthError> {
        let (Some(id), Some(cred)) = (NodeId::parse(node), SecretToken::parse(credential)) else {
            return Ok(None);
        };
        let Some(record) = self.store.get_node(&id).await? else {
            return Ok(None);
        };
        let presented = cred.hash();
        let current = record
            .credential_hash
            .as_deref()
            .is_some_and(|stored| constant_time_eq(stored, presented.as_str()));
        let previous = record
            .prev_valid_until
            .is_some_and(|until| self.clock.now() < until)
            && record
                .credential_prev_hash
                .as_deref()
                .is_some_and(|stored| constant_time_eq(stored, presented.as_str()));
        Ok(((current || previous) && record.revoked_at.is_none()).then_some(record))
    }

    /// Rotates a connected node's credential: the new one goes to the agent
    /// over its link; the old one stays valid for [`ROTATION_OVERLAP_SECS`].
    /// `Ok(false)` when the node is unknown, revoked or not connected (an
    /// offline agent could not learn the new credential).
    pub async fn rotate_node_credential(
        &self,
        granted: &Granted,
        id: &NodeId,
    ) -> Result<bool, NodeError> {
        if !matches!(granted.scope(), Scope::NodesEdit | Scope::Admin) {
            return Err(NodeError::WrongCapability);
        }
        if !self.hub.is_connected(id) {
            return Ok(false);
        }
        let fresh = SecretToken::generate(self.rng.as_ref());
        let until = self.clock.now().plus_secs(ROTATION_OVERLAP_SECS);
        if !self
            .store
            .rotate_node_credential(id, fresh.hash().as_str(), until)
            .await?
        {
            return Ok(false);
        }
        let delivered = self
            .hub
            .send(
                id,
                rampart_proto::PanelMessage::Rotate {
                    credential: fresh.expose().to_owned(),
                },
            )
            .await;
        Ok(delivered)
    }

    /// Revokes a node and drops its live link at once.
    pub async fn revoke_node(&self, granted: &Granted, id: &NodeId) -> Result<bool, NodeError> {
        let ok = matches!(granted.scope(), Scope::NodesEdit | Scope::Admin);
        if !ok {
            return Err(NodeError::WrongCapability);
        }
        let done = self.store.revoke_node(id, self.clock.now()).await?;
        self.hub.disconnect(id);
        Ok(done)
    }

    /// Online: the agent is connected and heartbeated recently.
    pub fn node_online(&self, node: &NodeRecord, now: UnixTime) -> bool {
        self.hub.is_connected(&node.id)
            && node
                .last_seen_at
                .is_some_and(|t| now.secs_since(t) < OFFLINE_AFTER_SECS)
    }
}
