//! The panel's side of consoles: per server, the last [`HISTORY_LINES`]
//! lines and a bounded broadcast to open console sockets. Output arrives
//! from the agent in batches; a slow socket skips batches (and is told),
//! a flooding server is cut by the agent (and the drop is shown), so memory
//! stays bounded either way.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use rampart_proto::ServerStats;
use tokio::sync::broadcast;

/// Lines replayed to a new console.
pub const HISTORY_LINES: usize = 500;
/// Batches buffered per server for slow sockets.
const CHANNEL_BATCHES: usize = 128;
/// A batch sent to sockets holds about this many bytes of lines at most.
const BATCH_BYTES: usize = 32 * 1024;
/// Stats samples kept per server (1 h at 10 s).
pub const STATS_HISTORY: usize = 360;
const STATS_EVERY_SECS: i64 = 10;

/// What a console socket receives.
#[derive(Debug, Clone)]
pub enum ConsoleItem {
    Lines(Arc<Vec<String>>),
    State(&'static str),
    Stats(ServerStats),
    /// Grants, suspension or deletion changed: re-check access.
    AccessChanged,
}

#[derive(Debug)]
struct ServerConsole {
    history: VecDeque<String>,
    tx: broadcast::Sender<ConsoleItem>,
    stats: VecDeque<(i64, ServerStats)>,
}

/// Every server's console, by server id.
#[derive(Debug, Default)]
pub struct ConsoleHub {
    servers: Mutex<HashMap<String, ServerConsole>>,
    /// Bumped by every access change on any server (SFTP sessions on the
    /// agents check again when it moves).
    access_generation: std::sync::atomic::AtomicU64,
}

fn drop_marker(dropped: u64) -> String {
    format!(
        "[rampart] {dropped} lines not shown: the server printed faster than its console carries"
    )
}

impl ConsoleHub {
    fn with<T>(&self, server_id: &str, f: impl FnOnce(&mut ServerConsole) -> T) -> Option<T> {
        let mut map = self.servers.lock().ok()?;
        let console = map
            .entry(server_id.to_owned())
            .or_insert_with(|| ServerConsole {
                history: VecDeque::with_capacity(HISTORY_LINES),
                tx: broadcast::channel(CHANNEL_BATCHES).0,
                stats: VecDeque::new(),
            });
        Some(f(console))
    }

    /// Adds output lines (and a marker for lines the agent dropped).
    pub fn push_lines(&self, server_id: &str, mut lines: Vec<String>, dropped: u64) {
        if dropped > 0 {
            lines.push(drop_marker(dropped));
        }
        if lines.is_empty() {
            return;
        }
        self.with(server_id, |c| {
            let skip = lines.len().saturating_sub(HISTORY_LINES);
            for line in &lines[skip..] {
                if c.history.len() == HISTORY_LINES {
                    c.history.pop_front();
                }
                c.history.push_back(line.clone());
            }
            if c.tx.receiver_count() == 0 {
                return;
            }
            let mut batch = Vec::new();
            let mut bytes = 0;
            for line in lines {
                bytes += line.len() + 4;
                batch.push(line);
                if bytes >= BATCH_BYTES {
                    let _ =
                        c.tx.send(ConsoleItem::Lines(Arc::new(std::mem::take(&mut batch))));
                    bytes = 0;
                }
            }
            if !batch.is_empty() {
                let _ = c.tx.send(ConsoleItem::Lines(Arc::new(batch)));
            }
        });
    }

    pub fn push_state(&self, server_id: &str, state: &'static str) {
        self.with(server_id, |c| {
            let _ = c.tx.send(ConsoleItem::State(state));
        });
    }

    /// Sends stats to sockets; keeps one sample per 10 s for graphs.
    pub fn push_stats(&self, server_id: &str, now: i64, stats: ServerStats) {
        self.with(server_id, |c| {
            let due = c
                .stats
                .back()
                .is_none_or(|(t, _)| now - t >= STATS_EVERY_SECS);
            if due {
                if c.stats.len() == STATS_HISTORY {
                    c.stats.pop_front();
                }
                c.stats.push_back((now, stats));
            }
            let _ = c.tx.send(ConsoleItem::Stats(stats));
        });
    }

    pub fn access_generation(&self) -> u64 {
        self.access_generation
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn access_changed(&self, server_id: &str) {
        self.access_generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.with(server_id, |c| {
            let _ = c.tx.send(ConsoleItem::AccessChanged);
        });
    }

    /// The history and a receiver for what comes next (taken together, so
    /// no line falls between them).
    pub fn subscribe(
        &self,
        server_id: &str,
    ) -> Option<(Vec<String>, broadcast::Receiver<ConsoleItem>)> {
        self.with(server_id, |c| {
            (c.history.iter().cloned().collect(), c.tx.subscribe())
        })
    }

    pub fn stats_history(&self, server_id: &str) -> Vec<(i64, ServerStats)> {
        self.with(server_id, |c| c.stats.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Forgets a deleted server (open sockets see their channel close).
    pub fn remove(&self, server_id: &str) {
        if let Ok(mut map) = self.servers.lock() {
            if let Some(c) = map.get(server_id) {
                let _ = c.tx.send(ConsoleItem::AccessChanged);
            }
            map.remove(server_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_last_500_lines_and_marks_drops() {
        let hub = ConsoleHub::default();
        let id = "sv_0123456789abcdef";
        hub.push_lines(id, (0..450).map(|i| format!("a{i}")).collect(), 0);
        hub.push_lines(id, (0..100).map(|i| format!("b{i}")).collect(), 7);
        let (history, _rx) = hub.subscribe(id).unwrap();
        assert_eq!(history.len(), HISTORY_LINES);
        assert_eq!(history[0], "a51");
        assert!(history[HISTORY_LINES - 1].contains("7 lines not shown"));
    }

    #[test]
    fn a_slow_socket_skips_and_memory_stays_bounded() {
        let hub = ConsoleHub::default();
        let id = "sv_0123456789abcdef";
        let (_, mut rx) = hub.subscribe(id).unwrap();
        let line = "z".repeat(1000);
        for _ in 0..1000 {
            hub.push_lines(id, vec![line.clone(); 100], 0);
        }
        // The receiver lagged: the channel kept at most CHANNEL_BATCHES batches.
        match rx.try_recv() {
            Err(broadcast::error::TryRecvError::Lagged(n)) => assert!(n > 0),
            other => panic!("{other:?}"),
        }
        let mut left = 0;
        while rx.try_recv().is_ok() {
            left += 1;
        }
        assert!(left <= CHANNEL_BATCHES);
    }
}
