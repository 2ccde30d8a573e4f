//! The node's SFTP server (SPEC R61): `russh` for SSH, `russh-sftp` for
//! the file protocol, every file operation through the confined opener
//! (`handler.rs`).
//!
//! Users log in as `<panel user>.<server id without sv_>` with an SSH key
//! they registered in the panel or their panel password; the agent never
//! decides who may: it asks the panel (`SftpKeyLogin` once russh verified
//! the key's signature, or `SftpLogin`), which applies its login limits,
//! refuses passwords of users with 2FA (a password alone would bypass the
//! second factor; keys are fine) unless the administrator allowed it, and checks
//! `server.files.view`/`server.files.edit` on the server. Access is checked
//! again at most [`RECHECK`] after the last answer, and at once after the
//! panel says access changed (revocation, password change, deactivation,
//! suspension, deletion): the next operation of a session that lost its
//! access fails and the connection is closed.
//!
//! Algorithms: Ed25519 host key only (generated on first start, kept
//! 0600 in the data directory), curve25519/ML-KEM key exchange,
//! ChaCha20-Poly1305, AES-GCM and AES-CTR with SHA-2 MACs: no SHA-1, no CBC.

mod handler;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rampart_proto::{AgentMessage, SftpAccess};
use russh::keys::{Algorithm, PrivateKey};
use russh::server::{Auth, Msg, Server as _, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet};

use crate::link::asker::PanelAsker;
use crate::servers::Servers;

/// How long an access answer is trusted without asking again.
pub const RECHECK: Duration = Duration::from_secs(3);

const HOST_KEY_FILE: &str = "sftp_host_ed25519_key";

#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    #[error("host key: {0}")]
    HostKey(String),
    #[error("listen: {0}")]
    Listen(#[from] std::io::Error),
}

/// Loads the host key, creating it (mode 0600) on first start.
pub fn host_key(data_dir: &Path, rng: &dyn rampart_core::Random) -> Result<PrivateKey, SftpError> {
    let path = data_dir.join(HOST_KEY_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return PrivateKey::from_openssh(text).map_err(|e| SftpError::HostKey(e.to_string()));
    }
    let mut seed = [0u8; 32];
    rng.fill(&mut seed);
    let pair = russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&seed);
    let key = PrivateKey::from(pair);
    let text = key
        .to_openssh(russh::keys::ssh_key::LineEnding::LF)
        .map_err(|e| SftpError::HostKey(e.to_string()))?;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(text.as_bytes())?;
    Ok(key)
}

/// The host key's fingerprint as OpenSSH prints it (`SHA256:…`).
pub fn fingerprint(key: &PrivateKey) -> String {
    key.public_key()
        .fingerprint(russh::keys::HashAlg::Sha256)
        .to_string()
}

fn config(key: PrivateKey) -> russh::server::Config {
    use russh::{cipher, kex};
    let preferred = russh::Preferred {
        kex: Cow::Borrowed(&[
            kex::MLKEM768X25519_SHA256,
            kex::CURVE25519,
            kex::CURVE25519_PRE_RFC_8731,
            kex::EXTENSION_SUPPORT_AS_SERVER,
            kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
        ]),
        key: Cow::Borrowed(&[Algorithm::Ed25519]),
        cipher: Cow::Borrowed(&[
            cipher::CHACHA20_POLY1305,
            cipher::AES_256_GCM,
            cipher::AES_128_GCM,
            cipher::AES_256_CTR,
            cipher::AES_128_CTR,
        ]),
        compression: Cow::Borrowed(&[russh::compression::NONE]),
        ..russh::Preferred::DEFAULT
    };
    let mut methods = MethodSet::empty();
    methods.push(MethodKind::PublicKey);
    methods.push(MethodKind::Password);
    russh::server::Config {
        methods,
        auth_rejection_time: Duration::from_secs(1),
        auth_rejection_time_initial: Some(Duration::from_millis(0)),
        keys: vec![key],
        preferred,
        // As OpenSSH's MaxAuthTries: a client offering several keys reaches the
        // right one (passwords are limited by the panel's login limits).
        max_auth_attempts: 6,
        inactivity_timeout: Some(Duration::from_secs(3600)),
        window_size: 8 << 20,
        maximum_packet_size: 65535,
        nodelay: true,
        ..Default::default()
    }
}

/// Starts the SFTP server on `addr`; runs until the task is aborted. Also
/// gives the host key's fingerprint (the panel shows it to users).
pub async fn start(
    addr: SocketAddr,
    data_dir: &Path,
    rng: &dyn rampart_core::Random,
    servers: Arc<Servers>,
    asker: Arc<PanelAsker>,
) -> Result<(tokio::task::JoinHandle<()>, String), SftpError> {
    let key = host_key(data_dir, rng)?;
    let shown = fingerprint(&key);
    tracing::info!(%addr, fingerprint = %shown, "SFTP server listening");
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let config = Arc::new(config(key));
    let mut server = SftpServer { servers, asker };
    let task = tokio::spawn(async move {
        if let Err(e) = server.run_on_socket(config, &listener).await {
            tracing::error!(error = %e, "the SFTP server stopped");
        }
    });
    Ok((task, shown))
}

#[derive(Clone)]
struct SftpServer {
    servers: Arc<Servers>,
    asker: Arc<PanelAsker>,
}

impl russh::server::Server for SftpServer {
    type Handler = Connection;

    fn new_client(&mut self, peer: Option<SocketAddr>) -> Connection {
        Connection {
            servers: self.servers.clone(),
            asker: self.asker.clone(),
            ip: peer.map(|p| p.ip().to_string()).unwrap_or_default(),
            access: None,
            channel: None,
        }
    }
}

/// One SSH connection.
pub struct Connection {
    servers: Arc<Servers>,
    asker: Arc<PanelAsker>,
    ip: String,
    access: Option<SftpAccess>,
    channel: Option<Channel<Msg>>,
}

impl Connection {
    /// The panel's answer to a login: the session's access, or a refusal.
    fn decided(&mut self, access: Option<SftpAccess>) -> Auth {
        match access {
            Some(a) => {
                self.access = Some(a);
                Auth::Accept
            }
            None => Auth::reject(),
        }
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let (username, ip, password) = (user.to_owned(), self.ip.clone(), password.to_owned());
        let access = self
            .asker
            .ask(|id| AgentMessage::SftpLogin {
                id,
                username,
                password,
                ip,
            })
            .await;
        Ok(self.decided(access))
    }

    /// Only Ed25519 and ECDSA keys go on to a signature (no RSA: SHA-1
    /// signatures are refused and russh is built without RSA).
    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(match offer.algorithm {
            Algorithm::Ed25519 | Algorithm::Ecdsa { .. } => Auth::Accept,
            _ => Auth::reject(),
        })
    }

    /// The signature is verified; the panel says whether the user
    /// registered this key and may reach the server.
    async fn auth_publickey(
        &mut self,
        user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let Ok(public_key) = key.public_key.to_openssh() else {
            return Ok(Auth::reject());
        };
        let (username, ip) = (user.to_owned(), self.ip.clone());
        let access = self
            .asker
            .ask(|id| AgentMessage::SftpKeyLogin {
                id,
                username,
                public_key,
                ip,
            })
            .await;
        Ok(self.decided(access))
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.channel.is_some() || self.access.is_none() {
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        }
        self.channel = Some(channel);
        reply.accept().await;
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.close(channel)?;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel_id: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let (Some(channel), Some(access)) = (self.channel.take(), self.access.clone()) else {
            session.channel_failure(channel_id)?;
            return Ok(());
        };
        if name != "sftp" || channel.id() != channel_id {
            session.channel_failure(channel_id)?;
            return Ok(());
        }
        session.channel_success(channel_id)?;
        let files = handler::Files::new(
            self.servers.clone(),
            self.asker.clone(),
            access,
            session.handle(),
            self.ip.clone(),
        );
        tokio::spawn(russh_sftp::server::run(channel.into_stream(), files));
        Ok(())
    }
}
