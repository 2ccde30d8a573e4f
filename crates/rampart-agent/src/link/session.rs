//! One connection to the panel, from dial to close.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;

use rampart_proto::{
    AgentMessage, Command, CommandResult, MAX_FRAME_BYTES, PROTOCOL_VERSION, PanelMessage,
    ServerEvent, decode_panel, encode,
};
use tokio::sync::mpsc;

use crate::servers::Servers;
use tokio_tungstenite::tungstenite::Message;

use super::AgentOptions;
use crate::state::AgentState;
use crate::{AGENT_VERSION, AgentError};

/// Detaches the asker from a link that ended (its questions fail at once).
struct Detach(Arc<super::asker::PanelAsker>);

impl Drop for Detach {
    fn drop(&mut self) {
        self.0.detach();
    }
}

/// Console bytes taken from the event buffer per flush.
const FLUSH_BUDGET: usize = 512 * 1024;
/// How often buffered events are sent (at most 20 frames a second).
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Encodes events into frames under the size limit, splitting as needed.
fn event_frames(events: Vec<ServerEvent>, out: &mut Vec<String>) {
    let frame = encode(&AgentMessage::Events { events });
    if frame.len() < MAX_FRAME_BYTES {
        out.push(frame);
        return;
    }
    let Ok(AgentMessage::Events { mut events }) = serde_json::from_str::<AgentMessage>(&frame)
    else {
        return;
    };
    if events.len() > 1 {
        let rest = events.split_off(events.len() / 2);
        event_frames(events, out);
        event_frames(rest, out);
    } else if let Some(ServerEvent::Console {
        server_id,
        mut lines,
        dropped,
    }) = events.pop()
    {
        if lines.len() < 2 {
            return; // One line never exceeds the limit (lines are cut at 4 KiB).
        }
        let rest = lines.split_off(lines.len() / 2);
        event_frames(
            vec![ServerEvent::Console {
                server_id: server_id.clone(),
                lines,
                dropped,
            }],
            out,
        );
        event_frames(
            vec![ServerEvent::Console {
                server_id,
                lines: rest,
                dropped: 0,
            }],
            out,
        );
    }
}

pub(super) async fn run(
    state: &AgentState,
    options: &AgentOptions,
    servers: &Arc<Servers>,
    asker: &Arc<super::asker::PanelAsker>,
    sftp_host_key: Option<&str>,
) -> Result<(), AgentError> {
    let ws = super::dial::dial(state, "/agent/link", &[]).await?;
    let (mut out, mut inc) = ws.split();
    let send = |m: AgentMessage| Message::Text(encode(&m).into());

    let mut capabilities = Vec::new();
    if options.read_only {
        capabilities.push("read_only".to_owned());
    }
    out.send(send(AgentMessage::Hello {
        protocol: PROTOCOL_VERSION,
        node_id: state.node_id.clone(),
        agent_version: AGENT_VERSION.to_owned(),
        capabilities,
        sftp_host_key: sftp_host_key.map(str::to_owned),
    }))
    .await
    .map_err(|e| AgentError::Panel(e.to_string()))?;
    let heartbeat_secs = match tokio::time::timeout(Duration::from_secs(10), inc.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => match decode_panel(t.as_str()) {
            Ok(PanelMessage::Welcome {
                protocol,
                heartbeat_secs,
            }) if protocol == PROTOCOL_VERSION => heartbeat_secs,
            other => {
                return Err(AgentError::Panel(format!(
                    "unexpected answer to hello: {other:?}"
                )));
            }
        },
        _ => return Err(AgentError::Panel("no welcome from the panel".into())),
    };
    tracing::info!(node = %state.node_id, heartbeat_secs, "connected to the panel");
    let mut tick =
        tokio::time::interval(Duration::from_secs(u64::from(heartbeat_secs.clamp(1, 60))));
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (reply_tx, mut replies) = mpsc::channel::<AgentMessage>(64);
    // The credential transfers dial with (a rotation replaces it).
    let mut live = state.clone();
    asker.attach(reply_tx.clone());
    let _detach = Detach(asker.clone());
    loop {
        tokio::select! {
            _ = async { tokio::select! { _ = flush.tick() => {}, () = servers.events.urgent.notified() => {} } } => {
                let events = servers.events.take(FLUSH_BUDGET);
                if !events.is_empty() {
                    let mut frames = Vec::new();
                    event_frames(events, &mut frames);
                    for f in frames {
                        out.send(Message::Text(f.into())).await.map_err(|e| AgentError::Panel(e.to_string()))?;
                    }
                }
            }
            Some(reply) = replies.recv() => {
                out.send(send(reply)).await.map_err(|e| AgentError::Panel(e.to_string()))?;
            }
            _ = tick.tick() => {
                let stats = crate::stats::gather(&options.data_dir).await;
                out.send(send(AgentMessage::Heartbeat { stats })).await.map_err(|e| AgentError::Panel(e.to_string()))?;
            }
            frame = inc.next() => {
                let text = match frame {
                    None => return Ok(()),
                    Some(Err(e)) => return Err(AgentError::Panel(e.to_string())),
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(c))) => {
                        tracing::info!(reason = ?c.map(|c| c.reason.to_string()), "the panel closed the link");
                        return Ok(());
                    }
                    Some(Ok(_)) => continue,
                };
                let reply = match decode_panel(text.as_str()) {
                    Ok(PanelMessage::Ping { nonce }) => AgentMessage::Pong { nonce },
                    Ok(PanelMessage::Request { id, node_id, command }) => {
                        let result = if node_id != state.node_id {
                            // Defense in depth: a command for another node is refused.
                            tracing::warn!(for_node = %node_id, "refused a command for another node");
                            CommandResult::Refused { reason: "this agent serves another node".into() }
                        } else if options.read_only && command.is_mutating() {
                            CommandResult::Refused { reason: "this agent is read-only".into() }
                        } else if command == Command::Describe {
                            CommandResult::Described {
                                stats: crate::stats::gather(&options.data_dir).await,
                            }
                        } else if let Command::Transfer { server_id, path, direction, ticket, quota_bytes } = command {
                            let job = super::transfer::Job {
                                volume: servers.volume_of(&server_id, quota_bytes),
                                path,
                                direction,
                                tmp: servers.temp_name(),
                            };
                            tokio::spawn(super::transfer::run(live.clone(), ticket, job, id, reply_tx.clone()));
                            continue;
                        } else {
                            // Server commands may take a while (stops wait
                            // for the server): run them beside the link.
                            let servers = servers.clone();
                            let reply_tx = reply_tx.clone();
                            tokio::spawn(async move {
                                let result = servers.handle(command).await;
                                let _ = reply_tx.send(AgentMessage::Response { id, result }).await;
                            });
                            continue;
                        };
                        AgentMessage::Response { id, result }
                    }
                    Ok(PanelMessage::Welcome { .. }) => continue,
                    Ok(PanelMessage::SftpAnswer { id, access }) => {
                        asker.answer(id, access);
                        continue;
                    }
                    Ok(PanelMessage::AccessChanged) => {
                        asker.access_changed();
                        continue;
                    }
                    Ok(PanelMessage::Rotate { credential }) => {
                        // Saved before acknowledging: the next connection uses it.
                        let mut rotated = state.clone();
                        rotated.credential = credential;
                        rotated.save(&options.data_dir)?;
                        live = rotated;
                        tracing::info!(node = %state.node_id, "credential rotated");
                        AgentMessage::Rotated
                    }
                    Err(e) => return Err(AgentError::Panel(format!("malformed message from the panel: {e}"))),
                };
                out.send(send(reply)).await.map_err(|e| AgentError::Panel(e.to_string()))?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_event_batches_are_split_under_the_frame_limit() {
        // Escaped control characters make JSON much larger than the raw bytes.
        let line = "\u{1b}".repeat(4000);
        let events = vec![ServerEvent::Console {
            server_id: "sv_0123456789abcdef".into(),
            lines: vec![line; 200],
            dropped: 5,
        }];
        let mut frames = Vec::new();
        event_frames(events, &mut frames);
        assert!(frames.len() > 1);
        let mut lines = 0;
        let mut dropped = 0;
        for f in &frames {
            assert!(f.len() < MAX_FRAME_BYTES);
            match rampart_proto::decode_agent(f).unwrap() {
                AgentMessage::Events { events } => {
                    for e in events {
                        if let ServerEvent::Console {
                            lines: l,
                            dropped: d,
                            ..
                        } = e
                        {
                            lines += l.len();
                            dropped += d;
                        }
                    }
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!((lines, dropped), (200, 5));
    }

    #[test]
    fn link_urls() {
        use super::super::dial::ws_url;
        assert_eq!(
            ws_url("http://127.0.0.1:8080/", "/agent/link").unwrap(),
            "ws://127.0.0.1:8080/agent/link"
        );
        assert_eq!(
            ws_url("https://panel.example:8443", "/agent/transfer").unwrap(),
            "wss://panel.example:8443/agent/transfer"
        );
        assert!(ws_url("ftp://x", "/agent/link").is_err());
    }
}
