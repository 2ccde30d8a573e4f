//! The agents' endpoints: `POST /agent/enroll` (token → credential) and
//! `GET /agent/link` (the WebSocket). Agents authenticate with their own
//! credential, never a user's. On the plain listener both answer loopback
//! peers only; other machines use the TLS agent listener (`--agent-listen`),
//! whose certificate they pin.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_proto::MAX_FRAME_BYTES;
use serde::Deserialize;
use serde_json::json;

use super::api::ApiError;
use super::api::json::ApiJson;
use super::client::Peer;
use crate::Services;
use crate::audit::{AuditNote, EventType};

/// Marks requests that arrived on the TLS agent listener.
#[derive(Debug, Clone, Copy)]
pub struct AgentTlsListener;

/// Agent endpoints answer peers on the TLS listener, and plain-HTTP peers
/// only on loopback — or anywhere with `--insecure-agent-link`.
fn allowed(peer: Peer, tls_listener: bool, insecure: bool) -> bool {
    tls_listener || insecure || peer.0.is_some_and(|p| p.ip().is_loopback())
}

/// Initial read and write buffer of one agent link.
const LINK_BUFFER_BYTES: usize = 4 * 1024;

fn needs_tls() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "tls_required",
        "agent links from other machines go to the panel's TLS agent endpoint (--agent-listen)",
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollBody {
    token: String,
}

pub async fn enroll(
    State(services): State<Arc<Services>>,
    peer: Peer,
    tls: Option<axum::Extension<AgentTlsListener>>,
    ApiJson(body): ApiJson<EnrollBody>,
) -> Result<Response, ApiError> {
    if !allowed(peer, tls.is_some(), services.settings.insecure_agent_link) {
        return Err(needs_tls());
    }
    let key = format!(
        "enroll-ip:{}",
        peer.0.map(|p| p.ip().to_string()).unwrap_or_default()
    );
    let limit = services.settings.login_limits.per_ip;
    if let Err(retry) = services.limiter.check(&key, limit, services.clock.now()) {
        return Err(ApiError::rate_limited(retry));
    }
    match services.enroll_agent(&body.token).await? {
        Ok((node_id, credential)) => {
            let mut res =
                Json(json!({ "node_id": node_id.as_str(), "credential": credential.expose() }))
                    .into_response();
            res.extensions_mut().insert(
                AuditNote::new(EventType::Security, "agent.enroll")
                    .actor(format!("node:{node_id}"))
                    .target(format!("node:{node_id}")),
            );
            Ok(res)
        }
        Err(e) => {
            services
                .limiter
                .record_failure(&key, limit, services.clock.now());
            let mut err = ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", e.to_string());
            err.note = Some(Box::new(AuditNote::new(
                EventType::AuthFailed,
                "agent.enroll",
            )));
            Err(err)
        }
    }
}

/// The agent a request comes from, by its node id and credential headers.
async fn authenticate(
    services: &Services,
    peer: Peer,
    tls: bool,
    headers: &HeaderMap,
    action: &'static str,
) -> Result<crate::store::NodeRecord, ApiError> {
    if !allowed(peer, tls, services.settings.insecure_agent_link) {
        return Err(needs_tls());
    }
    let node = headers
        .get("x-rampart-node")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let credential = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    match services.authenticate_agent(node, credential).await? {
        Some(record) => Ok(record),
        None => {
            let mut err = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credential",
                "unknown node or credential",
            );
            err.note = Some(Box::new(AuditNote::new(EventType::AuthFailed, action)));
            Err(err)
        }
    }
}

pub async fn link(
    State(services): State<Arc<Services>>,
    peer: Peer,
    tls: Option<axum::Extension<AgentTlsListener>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let record = authenticate(&services, peer, tls.is_some(), &headers, "agent.link").await?;
    let runner = services.clone();
    // Small buffers that grow on demand: a thousand idle links must not
    // each hold tungstenite's default 128 KiB read and write buffers.
    Ok(ws
        .read_buffer_size(LINK_BUFFER_BYTES)
        .write_buffer_size(LINK_BUFFER_BYTES)
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| crate::agents::link::run(runner, record, socket)))
}

/// `GET /agent/transfer`: a file's bytes, on a socket of their own (see
/// `rampart_proto::files`). Needs the agent's credential and a ticket the
/// panel issued to that node for one waiting request.
pub async fn transfer(
    State(services): State<Arc<Services>>,
    peer: Peer,
    tls: Option<axum::Extension<AgentTlsListener>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let record = authenticate(&services, peer, tls.is_some(), &headers, "agent.transfer").await?;
    let ticket = headers
        .get("x-rampart-ticket")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !services.transfers.is_expected(&record.id, &ticket) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_ticket",
            "no transfer waits for this ticket",
        ));
    }
    let transfers = services.transfers.clone();
    Ok(ws
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| async move { transfers.deliver(&record.id, &ticket, socket) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_agent_links_only_from_loopback_unless_insecure() {
        let remote = Peer(Some("192.0.2.7:40000".parse().unwrap()));
        let local = Peer(Some("127.0.0.1:40000".parse().unwrap()));
        let local6 = Peer(Some("[::1]:40000".parse().unwrap()));
        assert!(!allowed(remote, false, false));
        assert!(
            allowed(remote, true, false),
            "the TLS listener takes anyone"
        );
        assert!(allowed(remote, false, true), "--insecure-agent-link");
        assert!(allowed(local, false, false) && allowed(local6, false, false));
        assert!(!allowed(Peer(None), false, false));
    }
}
