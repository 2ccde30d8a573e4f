//! Transfer sockets waiting for their agent: a request that needs a file's
//! bytes registers a one-time ticket for one node, asks the agent to open
//! the file, and waits here for the agent's `/agent/transfer` socket with
//! that ticket. A ticket is kept hashed, is good for its node only and
//! once, and lapses with its waiter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::WebSocket;
use rampart_core::secret_token::constant_time_eq;
use rampart_core::{NodeId, Random, SecretToken};
use tokio::sync::oneshot;

#[derive(Debug, Default)]
pub struct Transfers {
    /// Ticket hash → (node, the waiting request).
    waiting: Mutex<HashMap<String, (NodeId, oneshot::Sender<WebSocket>)>>,
}

/// A registered ticket; dropping it withdraws the ticket.
#[derive(Debug)]
pub struct Waiting {
    transfers: Arc<Transfers>,
    hash: String,
    pub ticket: SecretToken,
    pub socket: oneshot::Receiver<WebSocket>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Ok(mut w) = self.transfers.waiting.lock() {
            w.remove(&self.hash);
        }
    }
}

impl Transfers {
    /// Registers a new ticket for a socket from `node`'s agent.
    pub fn expect(self: &Arc<Self>, node: &NodeId, rng: &dyn Random) -> Waiting {
        let ticket = SecretToken::generate(rng);
        let hash = ticket.hash().0;
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiting.lock() {
            w.insert(hash.clone(), (node.clone(), tx));
        }
        Waiting {
            transfers: self.clone(),
            hash,
            ticket,
            socket: rx,
        }
    }

    /// Whether `ticket` waits for a socket from `node` (checked before the
    /// upgrade; [`Transfers::deliver`] takes it after).
    pub fn is_expected(&self, node: &NodeId, ticket: &str) -> bool {
        let Some(t) = SecretToken::parse(ticket) else {
            return false;
        };
        self.waiting.lock().is_ok_and(|w| {
            w.get(&t.hash().0)
                .is_some_and(|(n, _)| constant_time_eq(n.as_str(), node.as_str()))
        })
    }

    /// Hands the agent's socket to the request waiting for it (once).
    pub fn deliver(&self, node: &NodeId, ticket: &str, socket: WebSocket) {
        let Some(t) = SecretToken::parse(ticket) else {
            return;
        };
        let hash = t.hash().0;
        let waiter = self
            .waiting
            .lock()
            .ok()
            .and_then(|mut w| match w.get(&hash) {
                Some((n, _)) if n == node => w.remove(&hash),
                _ => None,
            });
        if let Some((_, tx)) = waiter {
            let _ = tx.send(socket);
        }
    }
}
