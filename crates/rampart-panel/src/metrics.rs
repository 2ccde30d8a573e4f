//! Counters for `/metrics` (SPEC R93), kept in atomics and rendered in the
//! Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub auth_failures: AtomicU64,
    pub authz_denials: AtomicU64,
    pub rate_limited: AtomicU64,
    pub agent_messages: AtomicU64,
    pub agent_link_errors: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text; `agents_connected` is read from the hub.
    pub fn render(&self, agents_connected: usize) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "rampart_agents_connected",
            "gauge",
            "Agents with a live link.",
            agents_connected as u64,
        );
        metric(
            "rampart_agent_messages_total",
            "counter",
            "Messages received from agents.",
            self.agent_messages.load(Ordering::Relaxed),
        );
        metric(
            "rampart_agent_link_errors_total",
            "counter",
            "Agent links closed for a protocol violation.",
            self.agent_link_errors.load(Ordering::Relaxed),
        );
        metric(
            "rampart_auth_failures_total",
            "counter",
            "Failed authentications (passwords, second factors, clients, tokens, agents).",
            self.auth_failures.load(Ordering::Relaxed),
        );
        metric(
            "rampart_authz_denials_total",
            "counter",
            "Requests refused by authorization.",
            self.authz_denials.load(Ordering::Relaxed),
        );
        metric(
            "rampart_rate_limit_hits_total",
            "counter",
            "Requests refused by a rate limit.",
            self.rate_limited.load(Ordering::Relaxed),
        );
        out
    }
}
