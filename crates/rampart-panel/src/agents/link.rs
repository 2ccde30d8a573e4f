//! One agent link: hello, welcome, then heartbeats in, requests and pings
//! out, until either side goes away. Any protocol violation — a binary or
//! oversized frame, malformed JSON, an unknown message, a hello for another
//! node or protocol — closes the link with a logged reason; the panel
//! itself is unaffected. An agent sending more than
//! [`MAX_MESSAGES_PER_SEC`] unsolicited messages a second is slowed down to
//! that rate (the panel stops reading until the second is over); answers to
//! the panel's own requests are not counted, so a busy file manager never
//! trips it.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use rampart_proto::{AgentMessage, PROTOCOL_VERSION, PanelMessage, decode_agent, encode};
use tokio::sync::mpsc;

use super::{HEARTBEAT_SECS, OFFLINE_AFTER_SECS};
use crate::Services;
use crate::audit::{AuditNote, EventType};
use crate::store::NodeRecord;

/// Unsolicited messages read from one agent per second, at most.
pub const MAX_MESSAGES_PER_SEC: u32 = 1000;

/// Slows a link down to [`MAX_MESSAGES_PER_SEC`] (monotonic time: this is
/// flow control, not a policy users observe).
struct Throttle {
    start: tokio::time::Instant,
    count: u32,
}

impl Throttle {
    fn new() -> Throttle {
        Throttle {
            start: tokio::time::Instant::now(),
            count: 0,
        }
    }

    /// Counts one message; waits out the second when it is over the rate.
    async fn admit(&mut self, services: &Services) {
        let second = Duration::from_secs(1);
        if self.start.elapsed() >= second {
            *self = Throttle::new();
        }
        self.count += 1;
        if self.count > MAX_MESSAGES_PER_SEC {
            crate::metrics::Metrics::inc(&services.metrics.agent_link_errors);
            tokio::time::sleep_until(self.start + second).await;
            *self = Throttle::new();
        }
    }
}
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

async fn close(socket: &mut futures_util::stream::SplitSink<WebSocket, Message>, reason: &str) {
    let frame = CloseFrame {
        code: axum::extract::ws::close_code::POLICY,
        reason: Utf8Bytes::from(reason.chars().take(100).collect::<String>()),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Runs the link of an authenticated `node` until it ends.
pub async fn run(services: Arc<Services>, node: NodeRecord, socket: WebSocket) {
    let (mut out, mut inc) = socket.split();
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, inc.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => decode_agent(t.as_str()),
        _ => {
            close(&mut out, "expected hello").await;
            tracing::warn!(node = %node.id, "agent link closed: no hello");
            return;
        }
    };
    let (agent_version, read_only, sftp_host_key) = match hello {
        Ok(AgentMessage::Hello {
            protocol,
            node_id,
            agent_version,
            capabilities,
            sftp_host_key,
        }) if protocol == PROTOCOL_VERSION && node_id == node.id.as_str() => (
            agent_version,
            capabilities.iter().any(|c| c == "read_only"),
            sftp_host_key,
        ),
        Ok(AgentMessage::Hello { node_id, .. }) if node_id != node.id.as_str() => {
            close(&mut out, "hello names another node").await;
            tracing::warn!(node = %node.id, "agent link closed: hello for another node");
            let _ = services
                .record_event(
                    &format!("node:{}", node.id),
                    AuditNote::new(EventType::Suspicious, "agent.wrong_node")
                        .target(format!("node:{}", node.id)),
                    "denied",
                )
                .await;
            return;
        }
        other => {
            close(&mut out, "bad hello").await;
            tracing::warn!(node = %node.id, detail = ?other.err(), "agent link closed: bad hello");
            return;
        }
    };
    let welcome = PanelMessage::Welcome {
        protocol: PROTOCOL_VERSION,
        heartbeat_secs: HEARTBEAT_SECS,
    };
    if out
        .send(Message::Text(encode(&welcome).into()))
        .await
        .is_err()
    {
        return;
    }
    let (tx, mut rx) = mpsc::channel::<PanelMessage>(64);
    let serial = services.hub.register(&node.id, tx, sftp_host_key);
    tracing::info!(node = %node.id, name = %node.name, %agent_version, read_only, "agent connected");
    let _ = services
        .record_event(
            &format!("node:{}", node.id),
            AuditNote::new(EventType::Auth, "agent.connect").target(format!("node:{}", node.id)),
            "success",
        )
        .await;

    // Docker is the state of truth: re-attach and reconcile at every connect.
    let reconciling = services.clone();
    let node_id = node.id.clone();
    tokio::spawn(async move { reconciling.reconcile_node(&node_id).await });

    let silence = Duration::from_secs(OFFLINE_AFTER_SECS as u64);
    // Users, roles, grants or servers changed: the agent's SFTP sessions
    // check their access again (polled: a few atomic loads a second).
    let access_now = |s: &Services| {
        s.store
            .auth_epoch()
            .wrapping_add(s.consoles.access_generation())
    };
    let mut access_seen = access_now(&services);
    let mut access_tick = tokio::time::interval(Duration::from_millis(100));
    let mut throttle = Throttle::new();
    let reason = loop {
        tokio::select! {
            incoming = tokio::time::timeout(silence, inc.next()) => {
                let frame = match incoming {
                    Err(_) => break "no heartbeat",
                    Ok(None) | Ok(Some(Err(_))) => break "connection closed",
                    Ok(Some(Ok(m))) => m,
                };
                crate::metrics::Metrics::inc(&services.metrics.agent_messages);
                let text = match frame {
                    Message::Text(t) => t,
                    Message::Close(_) => break "agent closed the link",
                    Message::Ping(_) | Message::Pong(_) => {
                        throttle.admit(&services).await;
                        continue;
                    }
                    Message::Binary(_) => {
                        close(&mut out, "binary frames are not part of the protocol").await;
                        break "binary frame";
                    }
                };
                let decoded = decode_agent(text.as_str());
                let solicited = matches!(
                    &decoded,
                    Ok(AgentMessage::Response { id, .. }) if services.hub.is_pending(*id)
                );
                if !solicited {
                    throttle.admit(&services).await;
                }
                match decoded {
                    Ok(AgentMessage::Heartbeat { stats }) => {
                        let json = encode(&stats);
                        if let Err(e) = services
                            .store
                            .record_heartbeat(&node.id, services.clock.now(), &agent_version, read_only, &json)
                            .await
                        {
                            tracing::warn!(node = %node.id, error = %e, "recording a heartbeat failed");
                        }
                    }
                    Ok(AgentMessage::Response { id, result }) => services.hub.complete(id, result),
                    Ok(AgentMessage::Events { events }) => services.apply_server_events(&node.id, events).await,
                    Ok(AgentMessage::Pong { .. }) => {}
                    Ok(AgentMessage::SftpLogin { id, username, password, ip }) => {
                        let (s, n) = (services.clone(), node.id.clone());
                        tokio::spawn(async move {
                            let access = s.sftp_login(&n, &username, &password, &ip).await;
                            s.hub.send(&n, PanelMessage::SftpAnswer { id, access }).await;
                        });
                    }
                    Ok(AgentMessage::SftpKeyLogin { id, username, public_key, ip }) => {
                        let (s, n) = (services.clone(), node.id.clone());
                        tokio::spawn(async move {
                            let access = s.sftp_key_login(&n, &username, &public_key, &ip).await;
                            s.hub.send(&n, PanelMessage::SftpAnswer { id, access }).await;
                        });
                    }
                    Ok(AgentMessage::SftpEvent { user_id, server_id, action, path, to, ip }) => {
                        let (s, n) = (services.clone(), node.id.clone());
                        tokio::spawn(async move {
                            s.record_sftp_event(&n, user_id, &server_id, action, &path, to.as_deref(), &ip)
                                .await;
                        });
                    }
                    Ok(AgentMessage::SftpCheck { id, user_id, server_id, stamp }) => {
                        let (s, n) = (services.clone(), node.id.clone());
                        tokio::spawn(async move {
                            let access = s.sftp_check(&n, user_id, &server_id, &stamp).await;
                            s.hub.send(&n, PanelMessage::SftpAnswer { id, access }).await;
                        });
                    }
                    Ok(AgentMessage::Rotated) => {
                        tracing::info!(node = %node.id, "agent saved its rotated credential");
                        let _ = services
                            .record_event(
                                &format!("node:{}", node.id),
                                AuditNote::new(EventType::Security, "agent.credential_rotated")
                                    .target(format!("node:{}", node.id)),
                                "success",
                            )
                            .await;
                    }
                    Ok(AgentMessage::Hello { .. }) => {
                        close(&mut out, "hello twice").await;
                        break "second hello";
                    }
                    Err(e) => {
                        close(&mut out, "malformed message").await;
                        tracing::warn!(node = %node.id, error = %e, "agent sent a malformed message");
                        break "malformed message";
                    }
                }
            }
            _ = access_tick.tick() => {
                let now = access_now(&services);
                if now != access_seen {
                    access_seen = now;
                    if out.send(Message::Text(encode(&PanelMessage::AccessChanged).into())).await.is_err() {
                        break "send failed";
                    }
                }
            }
            outgoing = rx.recv() => {
                match outgoing {
                    Some(msg) => {
                        if out.send(Message::Text(encode(&msg).into())).await.is_err() {
                            break "send failed";
                        }
                    }
                    None => {
                        close(&mut out, "disconnected by the panel").await;
                        break "disconnected by the panel";
                    }
                }
            }
        }
    };
    if matches!(
        reason,
        "binary frame" | "malformed message" | "second hello"
    ) {
        crate::metrics::Metrics::inc(&services.metrics.agent_link_errors);
    }
    services.hub.unregister(&node.id, serial);
    tracing::info!(node = %node.id, reason, "agent disconnected");
    let _ = services
        .record_event(
            &format!("node:{}", node.id),
            AuditNote::new(EventType::Audit, "agent.disconnect")
                .target(format!("node:{}", node.id))
                .extra("reason", &reason_label(reason)),
            "success",
        )
        .await;
}

/// Our fixed reason strings as audit values.
fn reason_label(reason: &'static str) -> &'static str {
    reason
}
