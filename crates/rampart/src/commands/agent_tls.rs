//! The TLS listener for agents on other machines (`--agent-listen`): the
//! agent endpoints only, with the panel's self-signed agent certificate,
//! which agents pin.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use rampart_panel::Services;
use rampart_panel::agents::tls::AgentCertificate;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::tls_server;

pub async fn spawn(
    addr: SocketAddr,
    cert: AgentCertificate,
    services: Arc<Services>,
) -> anyhow::Result<()> {
    let acceptor = tls_server::acceptor(
        vec![CertificateDer::from(cert.cert_der)],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_der)),
    )?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for agents"))?;
    let local = listener.local_addr().context("agent listener address")?;
    tracing::info!(listen = %local, fingerprint = %cert.fingerprint, "agent TLS endpoint listening");
    let router = rampart_panel::web::agent_router(services);
    tokio::spawn(tls_server::serve(
        listener,
        acceptor,
        router,
        std::future::pending::<()>(),
    ));
    Ok(())
}
