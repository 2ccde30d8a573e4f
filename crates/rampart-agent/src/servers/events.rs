//! The agent's bounded buffer of server events waiting for the link.
//!
//! Console output is kept per server up to [`MAX_PENDING_PER_SERVER`]
//! bytes; a server printing faster than the link carries has its excess
//! lines counted as dropped (the panel shows a marker), so memory stays
//! bounded whatever a tenant prints and whether or not the panel is
//! connected. State and stats events are few and kept in order.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use rampart_proto::ServerEvent;

/// Console bytes kept per server before lines are dropped.
pub const MAX_PENDING_PER_SERVER: usize = 2 * 1024 * 1024;
/// Longest console line (longer ones are cut).
pub const MAX_LINE: usize = 4096;
/// State/stats events kept while the link is down.
const MAX_OTHER: usize = 4096;

#[derive(Debug, Default)]
struct Queue {
    lines: VecDeque<String>,
    bytes: usize,
    dropped: u64,
}

#[derive(Debug, Default)]
struct Pending {
    console: HashMap<String, Queue>,
    other: VecDeque<ServerEvent>,
}

#[derive(Debug, Default)]
pub struct EventBuffer {
    pending: Mutex<Pending>,
    /// Woken by state and stats events, which the link sends at once
    /// rather than at the next batch of console output.
    pub urgent: tokio::sync::Notify,
}

impl EventBuffer {
    pub fn push_line(&self, server_id: &str, line: String) {
        if let Ok(mut p) = self.pending.lock() {
            let q = match p.console.get_mut(server_id) {
                Some(q) => q,
                None => p.console.entry(server_id.to_owned()).or_default(),
            };
            // Each line costs its bytes plus the queue's bookkeeping.
            let cost = line.len() + 16;
            if q.bytes + cost > MAX_PENDING_PER_SERVER {
                q.dropped += 1;
            } else {
                q.bytes += cost;
                q.lines.push_back(line);
            }
        }
    }

    pub fn push(&self, event: ServerEvent) {
        if let Ok(mut p) = self.pending.lock() {
            if p.other.len() >= MAX_OTHER {
                p.other.pop_front();
            }
            p.other.push_back(event);
        }
        self.urgent.notify_one();
    }

    /// Takes events worth at most about `budget` bytes of console output.
    pub fn take(&self, budget: usize) -> Vec<ServerEvent> {
        let Ok(mut p) = self.pending.lock() else {
            return Vec::new();
        };
        let mut out: Vec<ServerEvent> = p.other.drain(..).collect();
        let busy = p
            .console
            .values()
            .filter(|q| !q.lines.is_empty() || q.dropped > 0)
            .count();
        if busy == 0 {
            return out;
        }
        let share = (budget / busy).max(16 * 1024);
        for (server_id, q) in p.console.iter_mut() {
            if q.lines.is_empty() && q.dropped == 0 {
                continue;
            }
            let mut used = 0;
            let mut lines = Vec::new();
            while let Some(line) = q.lines.front() {
                if used + line.len() > share && !lines.is_empty() {
                    break;
                }
                used += line.len() + 16;
                if let Some(line) = q.lines.pop_front() {
                    lines.push(line);
                }
            }
            q.bytes = q.bytes.saturating_sub(used);
            out.push(ServerEvent::Console {
                server_id: server_id.clone(),
                lines,
                dropped: std::mem::take(&mut q.dropped),
            });
        }
        p.console.retain(|_, q| !q.lines.is_empty());
        out
    }
}

/// Splits a stream of output bytes into lines (LF or CRLF), cutting
/// overlong ones; keeps the unfinished tail between chunks.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    pub fn feed(&mut self, chunk: &[u8], mut emit: impl FnMut(String)) {
        for &b in chunk {
            if b == b'\n' {
                self.flush(&mut emit);
            } else {
                self.partial.push(b);
                if self.partial.len() >= MAX_LINE {
                    self.flush(&mut emit);
                }
            }
        }
    }

    /// Emits an unfinished last line.
    pub fn finish(&mut self, mut emit: impl FnMut(String)) {
        if !self.partial.is_empty() {
            self.flush(&mut emit);
        }
    }

    fn flush(&mut self, emit: &mut impl FnMut(String)) {
        if self.partial.last() == Some(&b'\r') {
            self.partial.pop();
        }
        emit(String::from_utf8_lossy(&self.partial).into_owned());
        self.partial.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks_and_long_lines_are_cut() {
        let mut s = LineSplitter::default();
        let mut got = Vec::new();
        s.feed(b"hel", |l| got.push(l));
        s.feed(b"lo\r\nwor", |l| got.push(l));
        s.feed(b"ld\n", |l| got.push(l));
        s.feed(&vec![b'x'; MAX_LINE + 10], |l| got.push(l));
        s.finish(|l| got.push(l));
        assert_eq!(got[..2], ["hello".to_owned(), "world".to_owned()]);
        assert_eq!(got[2].len(), MAX_LINE);
        assert_eq!(got[3].len(), 10);
    }

    #[test]
    fn a_flood_is_bounded_and_counted() {
        let b = EventBuffer::default();
        let line = "y".repeat(100);
        let n = 100_000;
        for _ in 0..n {
            b.push_line("sv_0123456789abcdef", line.clone());
        }
        let kept = b.pending.lock().unwrap().console["sv_0123456789abcdef"].bytes;
        assert!(kept <= MAX_PENDING_PER_SERVER, "{kept}");
        let mut lines = 0u64;
        let mut dropped = 0u64;
        loop {
            let events = b.take(512 * 1024);
            if events.is_empty() {
                break;
            }
            for e in events {
                if let ServerEvent::Console {
                    lines: l,
                    dropped: d,
                    ..
                } = e
                {
                    assert!(l.len() * 116 <= 512 * 1024 + 116);
                    lines += l.len() as u64;
                    dropped += d;
                }
            }
        }
        assert_eq!(lines + dropped, n);
        assert!(dropped > 0);
    }
}
