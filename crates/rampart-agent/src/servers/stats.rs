//! Resource use of running servers, sampled every [`EVERY`] and pushed as
//! events (the panel keeps the history for graphs). CPU is a percentage of
//! one core, computed from two successive samples, as `docker stats` does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rampart_proto::{ServerEvent, ServerStats};

use super::{Servers, container_name};
use crate::runtime::containers::Sample;

pub const EVERY: Duration = Duration::from_secs(2);

/// Percent of one core used between two samples.
pub fn cpu_percent(before: &Sample, after: &Sample) -> f64 {
    let used = after.cpu_total.saturating_sub(before.cpu_total) as f64;
    let system = after.system.saturating_sub(before.system) as f64;
    if system <= 0.0 {
        return 0.0;
    }
    used / system * f64::from(after.online_cpus.max(1)) * 100.0
}

impl Servers {
    /// Samples every followed server every [`EVERY`], until the process ends.
    pub fn spawn_stats(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut previous: HashMap<String, Sample> = HashMap::new();
            let mut tick = tokio::time::interval(EVERY);
            loop {
                tick.tick().await;
                let Some(servers) = me.upgrade() else { return };
                let ids: Vec<String> = servers
                    .attached
                    .lock()
                    .map(|a| a.keys().cloned().collect())
                    .unwrap_or_default();
                previous.retain(|id, _| ids.contains(id));
                let Ok(rt) = servers.runtime().await else {
                    continue;
                };
                for id in ids {
                    if servers.disk.stale(&id) {
                        let volume = servers.volume(&id);
                        if let Ok(Ok(bytes)) =
                            tokio::task::spawn_blocking(move || super::disk::usage(&volume)).await
                        {
                            servers.disk.set(&id, bytes);
                        }
                    }
                    let Ok(Some(sample)) = rt.sample(&container_name(&id)).await else {
                        continue;
                    };
                    let cpu = previous
                        .get(&id)
                        .map(|p| cpu_percent(p, &sample))
                        .unwrap_or(0.0);
                    servers.events.push(ServerEvent::Stats {
                        server_id: id.clone(),
                        stats: ServerStats {
                            cpu_percent: (cpu * 10.0).round() / 10.0,
                            memory_bytes: sample.memory,
                            memory_limit_bytes: sample.memory_limit,
                            rx_bytes: sample.rx,
                            tx_bytes: sample.tx,
                            disk_bytes: servers.disk.get(&id).unwrap_or(0),
                        },
                    });
                    previous.insert(id, sample);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_a_share_of_one_core() {
        let a = Sample {
            cpu_total: 1_000,
            system: 10_000,
            online_cpus: 4,
            ..Sample::default()
        };
        // Used 1/4 of all host CPU time on a 4-core host: one full core.
        let b = Sample {
            cpu_total: 3_500,
            system: 20_000,
            ..a
        };
        assert!((cpu_percent(&a, &b) - 100.0).abs() < 1e-9);
        assert_eq!(cpu_percent(&b, &b), 0.0, "no time passed");
        assert_eq!(cpu_percent(&b, &a), 0.0, "counters never go back");
    }
}
