//! `GET /api/v1/servers/{id}/console`: the live console over a WebSocket
//! (SPEC R54). Bearer token, or session cookie from the panel's own origin
//! (a cross-site page cannot open it). On connect: the last 500 lines, then
//! live output, state changes and stats. In: `{"type":"command","data"}`
//! (scope `server.console`) and `{"type":"power","action"}` (scope
//! `server.start`). Limits: frame size, messages per second, open consoles
//! per user and per server; access is re-checked whenever grants,
//! suspension or deletion change it (the socket closes) and every 30 s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use rampart_core::{Scope, ServerState};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::caller::ApiCaller;
use super::error::ApiError;
use super::servers::parse_action;
use crate::Services;
use crate::audit::{AuditNote, EventType};
use crate::servers::{ConsoleItem, ServerError};
use crate::web::middleware::origin_check::same_origin;

/// Largest frame a console client may send.
pub const MAX_CLIENT_FRAME: usize = 4096;
/// Client messages per second before the socket closes.
pub const MAX_CLIENT_MESSAGES_PER_SEC: u32 = 10;
/// Open consoles per user, and per user on one server.
pub const MAX_PER_USER: usize = 10;
pub const MAX_PER_USER_SERVER: usize = 3;
const RECHECK_EVERY: Duration = Duration::from_secs(30);
/// A send that a client does not take within this time ends its console.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Counts of open consoles, by user and by (user, server).
#[derive(Debug, Default)]
pub struct ConsoleSlots(Mutex<HashMap<(i64, Option<String>), usize>>);

/// One open console; frees its slots on drop.
pub struct Slot {
    services: Arc<Services>,
    user: i64,
    server: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.services.console_slots.0.lock() {
            for key in [(self.user, None), (self.user, Some(self.server.clone()))] {
                if let Some(n) = m.get_mut(&key) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        m.remove(&key);
                    }
                }
            }
        }
    }
}

fn take_slot(services: &Arc<Services>, user: i64, server: &str) -> Option<Slot> {
    let mut m = services.console_slots.0.lock().ok()?;
    let all = m.get(&(user, None)).copied().unwrap_or(0);
    let here = m
        .get(&(user, Some(server.to_owned())))
        .copied()
        .unwrap_or(0);
    if all >= MAX_PER_USER || here >= MAX_PER_USER_SERVER {
        return None;
    }
    *m.entry((user, None)).or_default() += 1;
    *m.entry((user, Some(server.to_owned()))).or_default() += 1;
    Some(Slot {
        services: services.clone(),
        user,
        server: server.to_owned(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Command { data: String },
    Power { action: String },
}

#[utoipa::path(get, path = "/api/v1/servers/{id}/console", tag = "servers", params(("id" = String, Path)),
    description = "WebSocket. Server → client: `history`, `output` (lines), `state`, `stats`, `notice`, `error`. Client → server: `{\"type\":\"command\",\"data\":…}`, `{\"type\":\"power\",\"action\":…}`.",
    responses((status = 101, description = "switching to the WebSocket protocol"), (status = 403, body = super::types::ErrorBody), (status = 404, body = super::types::ErrorBody), (status = 429, body = super::types::ErrorBody)),
    security(("bearer" = ["server.console"]), ("session" = [])))]
pub async fn console(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    if !caller.is_bearer() && !same_origin(&services, &headers) {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "cross_origin",
            "a console opened with a session must come from the panel's own pages",
        ));
    }
    let (server, _) = services
        .authorize_server(&caller.principal, &id, Scope::ServerConsole)
        .await?;
    if ServerState::parse(&server.state) == Some(ServerState::Suspended) {
        return Err(ApiError::conflict("the server is suspended"));
    }
    // Only after authorization: an unknown id answers 404 however it is asked.
    let ws = ws.map_err(|_| ApiError::bad_request("this endpoint speaks WebSocket only"))?;
    let slot =
        take_slot(&services, caller.principal.user.0, server.id.as_str()).ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "too_many_consoles",
                "too many open consoles",
            )
        })?;
    Ok(ws
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .on_upgrade(move |socket| run(services, caller, server.id.to_string(), socket, slot)))
}

async fn close(
    out: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    code: u16,
    reason: &str,
) {
    let _ = out
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason.to_owned()),
        })))
        .await;
}

fn text(v: serde_json::Value) -> Message {
    Message::Text(v.to_string().into())
}

async fn still_allowed(services: &Services, caller: &ApiCaller, id: &str) -> bool {
    match services
        .authorize_server(&caller.principal, id, Scope::ServerConsole)
        .await
    {
        Ok((s, _)) => ServerState::parse(&s.state) != Some(ServerState::Suspended),
        Err(_) => false,
    }
}

async fn run(
    services: Arc<Services>,
    caller: ApiCaller,
    id: String,
    socket: WebSocket,
    _slot: Slot,
) {
    let (mut out, mut inc) = socket.split();
    let Some((history, mut rx)) = services.consoles.subscribe(&id) else {
        return;
    };
    if out
        .send(text(json!({"type": "history", "lines": history})))
        .await
        .is_err()
    {
        return;
    }
    let actor = caller.actor();
    let mut window = (services.clock.now().0, 0u32);
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    recheck.tick().await;
    loop {
        tokio::select! {
            item = rx.recv() => {
                let msg = match item {
                    Ok(ConsoleItem::Lines(lines)) => text(json!({"type": "output", "lines": *lines})),
                    Ok(ConsoleItem::State(state)) => text(json!({"type": "state", "state": state})),
                    Ok(ConsoleItem::Stats(s)) => text(json!({"type": "stats", "stats": {
                        "cpu_percent": s.cpu_percent, "memory_bytes": s.memory_bytes,
                        "memory_limit_bytes": s.memory_limit_bytes, "rx_bytes": s.rx_bytes, "tx_bytes": s.tx_bytes,
                        "disk_bytes": s.disk_bytes}})),
                    Ok(ConsoleItem::AccessChanged) => {
                        if still_allowed(&services, &caller, &id).await {
                            continue;
                        }
                        close(&mut out, 4403, "access revoked").await;
                        return;
                    }
                    Err(RecvError::Lagged(n)) => text(json!({"type": "notice",
                        "message": format!("{n} batches of output skipped: this connection is slower than the server prints")})),
                    Err(RecvError::Closed) => {
                        close(&mut out, 1001, "server gone").await;
                        return;
                    }
                };
                // A client that stops reading is let go rather than waited for.
                if !matches!(tokio::time::timeout(SEND_TIMEOUT, out.send(msg)).await, Ok(Ok(()))) {
                    return;
                }
            }
            _ = recheck.tick() => {
                if !still_allowed(&services, &caller, &id).await {
                    close(&mut out, 4403, "access revoked").await;
                    return;
                }
            }
            frame = inc.next() => {
                let raw = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Binary(_))) => {
                        close(&mut out, 1003, "text frames only").await;
                        return;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                };
                let now = services.clock.now().0;
                if window.0 != now {
                    window = (now, 0);
                }
                window.1 += 1;
                if window.1 > MAX_CLIENT_MESSAGES_PER_SEC {
                    close(&mut out, 1008, "too many messages").await;
                    return;
                }
                let reply = handle(&services, &caller, &actor, &id, raw.as_str()).await;
                if let Some(reply) = reply
                    && out.send(reply).await.is_err()
                {
                    return;
                }
            }
        }
    }
}

fn error_message(e: &ServerError) -> String {
    match e {
        ServerError::NotFound => "no such server".into(),
        ServerError::Denied(scope) => format!("this needs the scope {scope}"),
        ServerError::Store(_) => "internal error".into(),
        other => other.to_string(),
    }
}

async fn handle(
    services: &Arc<Services>,
    caller: &ApiCaller,
    actor: &str,
    id: &str,
    raw: &str,
) -> Option<Message> {
    let msg: ClientMessage = match serde_json::from_str(raw) {
        Ok(m) => m,
        Err(_) => {
            return Some(text(json!({"type": "error",
                "message": "expected {\"type\":\"command\",\"data\":…} or {\"type\":\"power\",\"action\":…}"})));
        }
    };
    let (scope, action) = match &msg {
        ClientMessage::Command { .. } => (Scope::ServerConsole, "server.command"),
        ClientMessage::Power { .. } => (Scope::ServerStart, "server.power"),
    };
    // Checked again at every message: grants may have changed.
    let outcome = match services
        .authorize_server(&caller.principal, id, scope)
        .await
    {
        Err(e) => Err(e),
        Ok((server, granted)) => match &msg {
            ClientMessage::Command { data } => services.send_input(&granted, &server, data).await,
            ClientMessage::Power { action } => match parse_action(action) {
                None => Err(ServerError::BadRequest(
                    "action must be start, stop, restart or kill".into(),
                )),
                Some(a) => services.power(&granted, &server, a).await.map(|_| ()),
            },
        },
    };
    let (event, result) = match &outcome {
        Ok(()) => (EventType::Audit, "success"),
        Err(ServerError::Denied(_) | ServerError::NotFound) => (EventType::AuthzDenied, "denied"),
        Err(_) => (EventType::Audit, "failure"),
    };
    let _ = services
        .record_event(
            actor,
            AuditNote::new(event, action)
                .target(format!("server:{id}"))
                .extra("via", &"console"),
            result,
        )
        .await;
    outcome
        .err()
        .map(|e| text(json!({"type": "error", "message": error_message(&e)})))
}
