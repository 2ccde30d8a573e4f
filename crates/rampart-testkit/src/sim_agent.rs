//! A simulated agent: enrolls over HTTP and speaks the real link protocol
//! (hello, heartbeats, answers to requests) with made-up node facts, so one
//! process can stand in for many nodes in panel scale tests.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rampart_proto::{
    AgentMessage, CommandResult, DockerStatus, NodeStats, PROTOCOL_VERSION, PanelMessage,
    decode_panel, encode,
};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Facts a simulated node reports.
pub fn fake_stats(n: u32) -> NodeStats {
    NodeStats {
        os: "SimOS 1".into(),
        kernel: "sim".into(),
        cpu_count: 4,
        load_1m: f64::from(n % 100) / 100.0,
        memory_total_bytes: 8 << 30,
        memory_available_bytes: 4 << 30,
        disk_total_bytes: 100 << 30,
        disk_free_bytes: 50 << 30,
        docker: DockerStatus {
            available: false,
            version: None,
            reason: Some("simulated node".into()),
        },
    }
}

/// Enrolls with `token`; (node id, credential).
pub async fn enroll(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> anyhow::Result<(String, String)> {
    let res = client
        .post(format!("{base}/agent/enroll"))
        .json(&serde_json::json!({ "token": token }))
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success(), "enroll: {}", res.status());
    let v: serde_json::Value = res.json().await?;
    Ok((
        v["node_id"].as_str().unwrap_or_default().to_owned(),
        v["credential"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// What a simulated agent did.
#[derive(Debug, Default, Clone, Copy)]
pub struct SimReport {
    pub heartbeats: u64,
    pub requests_answered: u64,
    /// The link ended before `stop` was signalled.
    pub dropped: bool,
}

/// Connects, says hello, then heartbeats every `every` until `stop` turns true.
pub async fn run(
    base: &str,
    node_id: &str,
    credential: &str,
    n: u32,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<SimReport> {
    let url = base.replace("http://", "ws://") + "/agent/link";
    let mut req = url.into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {credential}").parse()?);
    req.headers_mut().insert("x-rampart-node", node_id.parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(req).await?;
    let (mut out, mut inc) = ws.split();
    out.send(Message::Text(
        encode(&AgentMessage::Hello {
            protocol: PROTOCOL_VERSION,
            node_id: node_id.to_owned(),
            agent_version: "sim".into(),
            capabilities: vec![],
            sftp_host_key: None,
        })
        .into(),
    ))
    .await?;
    match inc.next().await {
        Some(Ok(Message::Text(t)))
            if matches!(decode_panel(t.as_str()), Ok(PanelMessage::Welcome { .. })) => {}
        other => anyhow::bail!("no welcome: {other:?}"),
    }
    let mut report = SimReport::default();
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let hb = AgentMessage::Heartbeat { stats: fake_stats(n) };
                if out.send(Message::Text(encode(&hb).into())).await.is_err() {
                    report.dropped = true;
                    return Ok(report);
                }
                report.heartbeats += 1;
            }
            frame = inc.next() => {
                match frame {
                    Some(Ok(Message::Text(t))) => {
                        if let Ok(PanelMessage::Request { id, .. }) = decode_panel(t.as_str()) {
                            let answer = AgentMessage::Response { id, result: CommandResult::Described { stats: fake_stats(n) } };
                            let _ = out.send(Message::Text(encode(&answer).into())).await;
                            report.requests_answered += 1;
                        }
                    }
                    Some(Ok(_)) => {}
                    None | Some(Err(_)) => {
                        report.dropped = true;
                        return Ok(report);
                    }
                }
            }
            _ = stop.changed() => {
                let _ = out.send(Message::Close(None)).await;
                return Ok(report);
            }
        }
    }
}
