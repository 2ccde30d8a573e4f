//! The agent's side of the link: dial, hello, heartbeats, commands; on any
//! failure wait (jittered exponential backoff, 1 s doubling to 60 s) and
//! dial again. Running servers never depend on the link being up.

pub mod asker;
mod dial;
pub mod pinned;
mod session;
mod transfer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rampart_core::Random;

use crate::servers::Servers;
use crate::state::AgentState;

#[derive(Clone)]
pub struct AgentOptions {
    pub data_dir: PathBuf,
    /// Advertise `read_only` and refuse every mutating command.
    pub read_only: bool,
    /// The node address servers' ports are published on.
    pub bind_ip: std::net::IpAddr,
    pub rng: Arc<dyn Random>,
    /// Where the SFTP server listens (`None`: no SFTP on this node).
    pub sftp_listen: Option<std::net::SocketAddr>,
    /// Addresses pulls may reach although they are not public (an internal
    /// mirror); empty by default.
    pub pull_allow: Vec<std::net::IpAddr>,
}

impl std::fmt::Debug for AgentOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentOptions")
            .field("data_dir", &self.data_dir)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// Stops a background task when the agent stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

const MIN_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A link that stayed up this long resets the backoff.
const STABLE: Duration = Duration::from_secs(30);

/// `base` scaled by a random factor in [0.5, 1.0).
fn jittered(base: Duration, rng: &dyn Random) -> Duration {
    let mut b = [0u8; 2];
    rng.fill(&mut b);
    let frac = 0.5 + f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) / 2.0;
    base.mul_f64(frac.min(0.999_999))
}

/// Keeps the link up until `shutdown` completes.
pub async fn run(
    state: AgentState,
    options: AgentOptions,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    tokio::pin!(shutdown);
    let mut delay = MIN_DELAY;
    // Outlives every connection: servers keep their console followers.
    let servers = Servers::new(
        &options.data_dir,
        options.bind_ip,
        &state.node_id,
        &options.pull_allow,
    );
    servers.spawn_stats();
    let asker = Arc::new(asker::PanelAsker::default());
    let (_sftp, sftp_host_key) = match options.sftp_listen {
        Some(addr) => match crate::sftp::start(
            addr,
            &options.data_dir,
            options.rng.as_ref(),
            servers.clone(),
            asker.clone(),
        )
        .await
        {
            Ok((task, fingerprint)) => (Some(AbortOnDrop(task)), Some(fingerprint)),
            Err(e) => {
                tracing::error!(error = %e, %addr, "the SFTP server could not start");
                (None, None)
            }
        },
        None => (None, None),
    };
    loop {
        let started = tokio::time::Instant::now();
        // The credential may have been rotated during the last session.
        let current = match AgentState::load(&options.data_dir) {
            Ok(Some(saved)) if saved.node_id == state.node_id => saved,
            _ => state.clone(),
        };
        tokio::select! {
            outcome = session::run(&current, &options, &servers, &asker, sftp_host_key.as_deref()) => {
                match outcome {
                    Ok(()) => tracing::info!("link closed by the panel"),
                    Err(e) => tracing::warn!(error = %e, "link failed"),
                }
            }
            () = &mut shutdown => {
                tracing::info!("agent stopping");
                return;
            }
        }
        if started.elapsed() >= STABLE {
            delay = MIN_DELAY;
        }
        let wait = jittered(delay, options.rng.as_ref());
        tracing::info!(seconds = wait.as_secs_f64(), "reconnecting after a pause");
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = &mut shutdown => return,
        }
        delay = (delay * 2).min(MAX_DELAY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::random::SeededRandom;

    #[test]
    fn jitter_stays_between_half_and_full() {
        let rng = SeededRandom::new(3);
        for _ in 0..1000 {
            let d = jittered(Duration::from_secs(8), &rng);
            assert!(
                d >= Duration::from_secs(4) && d < Duration::from_secs(8),
                "{d:?}"
            );
        }
    }
}
