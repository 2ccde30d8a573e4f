//! The agent's own checks (SPEC R42), against a minimal fake panel that
//! speaks the protocol: a command naming another node is refused; one for
//! its own node is answered; a read-only agent refuses every mutating one.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rampart_agent::{AgentOptions, AgentState};
use rampart_core::OsRandom;
use rampart_proto::{
    AgentMessage, Command, CommandResult, PanelMessage, PowerSignal, StopSpec, decode_agent, encode,
};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn the_agent_refuses_commands_for_another_node() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let own = format!("nd_{}", "1".repeat(24));
    let state = AgentState {
        panel_url: format!("http://127.0.0.1:{port}"),
        node_id: own.clone(),
        credential: "a".repeat(64),
        panel_fingerprint: None,
    };
    let options = AgentOptions {
        data_dir: dir.path().to_path_buf(),
        read_only: true,
        bind_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        rng: Arc::new(OsRandom),
        sftp_listen: None,
        pull_allow: Vec::new(),
    };
    let agent = tokio::spawn(rampart_agent::run(
        state,
        options,
        std::future::pending::<()>(),
    ));

    let (tcp, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .unwrap()
        .unwrap();
    let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
    let hello = match ws.next().await {
        Some(Ok(Message::Text(t))) => decode_agent(t.as_str()).unwrap(),
        other => panic!("{other:?}"),
    };
    match hello {
        AgentMessage::Hello {
            node_id,
            capabilities,
            ..
        } => {
            assert_eq!(node_id, own);
            assert_eq!(capabilities, ["read_only"], "a read-only agent says so");
        }
        other => panic!("{other:?}"),
    }
    let send = |m: PanelMessage| Message::Text(encode(&m).into());
    ws.send(send(PanelMessage::Welcome {
        protocol: 1,
        heartbeat_secs: 60,
    }))
    .await
    .unwrap();
    ws.send(send(PanelMessage::Request {
        id: 1,
        node_id: format!("nd_{}", "2".repeat(24)),
        command: Command::Describe,
    }))
    .await
    .unwrap();
    ws.send(send(PanelMessage::Request {
        id: 2,
        node_id: own.clone(),
        command: Command::Describe,
    }))
    .await
    .unwrap();
    // Every mutating command is refused by a read-only agent (R43).
    let server_id = "sv_0123456789abcdef".to_owned();
    let mutating = [
        Command::Power {
            server_id: server_id.clone(),
            signal: PowerSignal::Start,
            stop: StopSpec {
                command: None,
                timeout_secs: 5,
            },
        },
        Command::Input {
            server_id: server_id.clone(),
            line: "stop".into(),
        },
        Command::DeleteServer {
            server_id: server_id.clone(),
        },
    ];
    for (i, command) in mutating.into_iter().enumerate() {
        assert!(command.is_mutating());
        ws.send(send(PanelMessage::Request {
            id: 3 + i as u64,
            node_id: own.clone(),
            command,
        }))
        .await
        .unwrap();
    }
    let mut answers = Vec::new();
    while answers.len() < 5 {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Text(t))) => {
                if let AgentMessage::Response { id, result } = decode_agent(t.as_str()).unwrap() {
                    answers.push((id, result));
                }
            }
            other => panic!("{other:?}"),
        }
    }
    answers.sort_by_key(|(id, _)| *id);
    assert!(
        matches!(&answers[0].1, CommandResult::Refused { reason } if reason.contains("another node")),
        "{:?}",
        answers[0]
    );
    assert!(
        matches!(&answers[1].1, CommandResult::Described { stats } if stats.memory_total_bytes > 0),
        "read-only agents still answer read-only commands: {:?}",
        answers[1]
    );
    for (id, result) in &answers[2..] {
        assert!(
            matches!(result, CommandResult::Refused { reason } if reason.contains("read-only")),
            "request {id}: {result:?}"
        );
    }
    agent.abort();
}
