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
    /// The node's SFTP host key fingerprint, as its agent said in hello.
    sftp_host_key: Option<String>,
}

#[derive(Debug, Default)]
pub struct AgentHub {
    links: Mutex<HashMap<NodeId, Link>>,
    serial: AtomicU64,
    /// Requests waiting for their response, by request id, with the serial
    /// of the link they went out on (its end fails them at once).
    pending: Mutex<HashMap<u64, (u64, oneshot::Sender<CommandResult>)>>,
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
    pub fn register(
        &self,
        node: &NodeId,
        tx: mpsc::Sender<PanelMessage>,
        sftp_host_key: Option<String>,
    ) -> u64 {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut links) = self.links.lock() {
            links.insert(
                node.clone(),
                Link {
                    serial,
                    tx,
                    sftp_host_key,
                },
            );
        }
        serial
    }

    /// The SFTP host key fingerprint of `node`, while its agent is connected.
    pub fn sftp_host_key(&self, node: &NodeId) -> Option<String> {
        self.links
            .lock()
            .ok()
            .and_then(|l| l.get(node).and_then(|link| link.sftp_host_key.clone()))
    }

    /// Removes the link if it is still the one with `serial`.
    pub fn unregister(&self, node: &NodeId, serial: u64) {
        if let Ok(mut links) = self.links.lock()
            && links.get(node).is_some_and(|l| l.serial == serial)
        {
            links.remove(node);
        }
        // Their answers can no longer come: the waiters learn it now, not
        // when their timeout ends.
        if let Ok(mut p) = self.pending.lock() {
            p.retain(|_, (on, _)| *on != serial);
        }
    }

    /// Whether request `id` still waits for its answer.
    pub fn is_pending(&self, id: u64) -> bool {
        self.pending.lock().is_ok_and(|p| p.contains_key(&id))
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
        let (serial, tx) = self
            .links
            .lock()
            .ok()
            .and_then(|l| l.get(node).map(|link| (link.serial, link.tx.clone())))
            .ok_or(RequestError::NotConnected)?;
        let id = self.next_request.fetch_add(1, Ordering::Relaxed) + 1;
        let (done, answer) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, (serial, done));
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
        if let Some((_, w)) = waiter {
            let _ = w.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_request_fails_as_soon_as_its_link_ends() {
        let hub = Arc::new(AgentHub::default());
        let node = NodeId::generate(&rampart_core::OsRandom);
        let (tx, mut rx) = mpsc::channel(4);
        let serial = hub.register(&node, tx, None);
        let asking = {
            let (hub, node) = (hub.clone(), node.clone());
            tokio::spawn(async move {
                hub.request(&node, Command::Describe, Duration::from_secs(3600))
                    .await
            })
        };
        // The request went out; the link then ends without an answer.
        let Some(PanelMessage::Request { id, .. }) = rx.recv().await else {
            panic!("no request sent");
        };
        assert!(hub.is_pending(id));
        hub.unregister(&node, serial);
        let answer = tokio::time::timeout(Duration::from_secs(5), asking)
            .await
            .expect("the request still waits for a link that is gone")
            .unwrap();
        assert_eq!(answer, Err(RequestError::NotConnected));
        assert!(!hub.is_pending(id));
    }
}
