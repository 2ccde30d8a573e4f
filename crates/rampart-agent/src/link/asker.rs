//! Questions the agent asks its panel (SFTP logins and access checks),
//! answered by id on whichever link is up. Outlives single connections:
//! with no link, a question fails at once (SFTP then refuses).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rampart_proto::{AgentMessage, SftpAccess};
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, Default)]
pub struct PanelAsker {
    link: Mutex<Option<mpsc::Sender<AgentMessage>>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Option<SftpAccess>>>>,
    next: AtomicU64,
    /// Bumped by every `AccessChanged` (and every new link): sessions
    /// holding an older value check their access again.
    generation: AtomicU64,
}

impl PanelAsker {
    pub(super) fn attach(&self, link: mpsc::Sender<AgentMessage>) {
        if let Ok(mut l) = self.link.lock() {
            *l = Some(link);
        }
        self.access_changed();
    }

    pub(super) fn detach(&self) {
        if let Ok(mut l) = self.link.lock() {
            *l = None;
        }
        if let Ok(mut p) = self.pending.lock() {
            p.clear();
        }
    }

    pub(super) fn answer(&self, id: u64, access: Option<SftpAccess>) {
        let waiter = self.pending.lock().ok().and_then(|mut p| p.remove(&id));
        if let Some(w) = waiter {
            let _ = w.send(access);
        }
    }

    pub(super) fn access_changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Tells the panel something that needs no answer (an SFTP change for
    /// the audit log). Waits while the link is busy, so that a fast client
    /// is slowed down rather than events piling up; lost when no link is up.
    pub async fn tell(&self, message: AgentMessage) {
        let link = self.link.lock().ok().and_then(|l| l.clone());
        match link {
            Some(link) if link.send(message).await.is_ok() => {}
            _ => tracing::warn!("no link to the panel: an SFTP audit event is lost"),
        }
    }

    /// Sends the question `make(id)` and waits for the panel's answer;
    /// `None` when the panel says no, is away, or does not answer in time.
    pub async fn ask(&self, make: impl FnOnce(u64) -> AgentMessage) -> Option<SftpAccess> {
        let link = self.link.lock().ok()?.clone()?;
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, tx);
        }
        let answer = if link.send(make(id)).await.is_ok() {
            tokio::time::timeout(Duration::from_secs(15), rx)
                .await
                .ok()
                .and_then(Result::ok)
                .flatten()
        } else {
            None
        };
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&id);
        }
        answer
    }
}
