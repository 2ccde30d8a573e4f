//! The hub of live agent links: node id → the sending half of its link.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rampart_core::NodeId;
use std::time::Duration;

use rampart_proto::{Command, CommandResult, PanelMessage};
use tokio::sync::{mpsc, oneshot};

/// One live link.
#[derive(Debug, Clone)]
struct Link {
    serial: u64,
    tx: mpsc::Sender<PanelMessage>,
}

#[derive(Debug, Default)]
pub struct AgentHub {
    links: Mutex<HashMap<NodeId, Link>>,
    serial: AtomicU64,
    /// Requests waiting for their response, by request id.
    pending: Mutex<HashMap<u64, oneshot::Sender<CommandResult>>>,
    next_request: AtomicU64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("the node's agent is not connected")]
    NotConnected,
    #[error("the agent did not answer in time")]
    Timeout,
}

impl AgentHub {
    /// Registers a new link for `node`, replacing (and thereby closing) an
    /// older one; returns the link's serial for [`AgentHub::unregister`].
    pub fn register(&self, node: &NodeId, tx: mpsc::Sender<PanelMessage>) -> u64 {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut links) = self.links.lock() {
            links.insert(node.clone(), Link { serial, tx });
        }
        serial
    }

    /// Removes the link if it is still the one with `serial`.
    pub fn unregister(&self, node: &NodeId, serial: u64) {
        if let Ok(mut links) = self.links.lock()
            && links.get(node).is_some_and(|l| l.serial == serial)
        {
            links.remove(node);
        }
    }

    /// Drops the link of `node` (its task sees the channel close and ends it).
    pub fn disconnect(&self, node: &NodeId) {
        if let Ok(mut links) = self.links.lock() {
            links.remove(node);
        }
    }

    pub fn is_connected(&self, node: &NodeId) -> bool {
        self.links.lock().is_ok_and(|l| l.contains_key(node))
    }

    /// Whether `serial` is still the live link of `node`.
    pub fn is_current(&self, node: &NodeId, serial: u64) -> bool {
        self.links
            .lock()
            .is_ok_and(|l| l.get(node).is_some_and(|link| link.serial == serial))
    }

    pub fn connected_count(&self) -> usize {
        self.links.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// Sends a message to `node`'s agent; false if it is not connected.
    pub async fn send(&self, node: &NodeId, msg: PanelMessage) -> bool {
        let tx = self
            .links
            .lock()
            .ok()
            .and_then(|l| l.get(node).map(|link| link.tx.clone()));
        match tx {
            Some(tx) => tx.send(msg).await.is_ok(),
            None => false,
        }
    }

    /// Sends `command` to `node`'s agent and waits up to `timeout` for the answer.
    pub async fn request(
        &self,
        node: &NodeId,
        command: Command,
        timeout: Duration,
    ) -> Result<CommandResult, RequestError> {
        let tx = self
            .links
            .lock()
            .ok()
            .and_then(|l| l.get(node).map(|link| link.tx.clone()))
            .ok_or(RequestError::NotConnected)?;
        let id = self.next_request.fetch_add(1, Ordering::Relaxed) + 1;
        let (done, answer) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, done);
        }
        let msg = PanelMessage::Request {
            id,
            node_id: node.as_str().to_owned(),
            command,
        };
        let result = if tx.send(msg).await.is_err() {
            Err(RequestError::NotConnected)
        } else {
            match tokio::time::timeout(timeout, answer).await {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(_)) => Err(RequestError::NotConnected),
                Err(_) => Err(RequestError::Timeout),
            }
        };
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&id);
        }
        result
    }

    /// Delivers an agent's response; unknown ids (late, or never asked) are dropped.
    pub fn complete(&self, id: u64, result: CommandResult) {
        let waiter = self.pending.lock().ok().and_then(|mut p| p.remove(&id));
        if let Some(w) = waiter {
            let _ = w.send(result);
        }
    }
}
