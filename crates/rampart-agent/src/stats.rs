//! Node facts for heartbeats, read from /proc, /etc/os-release and the data
//! directory's file system, plus Docker's status from `runtime`.

use std::path::Path;

use rampart_proto::NodeStats;

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn meminfo_kib(text: &str, key: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn os_name() -> String {
    read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').chars().take(128).collect())
        .unwrap_or_else(|| "Linux".into())
}

/// Gathers the facts; `data_dir` is the file system whose space is reported.
pub async fn gather(data_dir: &Path) -> NodeStats {
    let meminfo = read("/proc/meminfo");
    let load_1m = read("/proc/loadavg")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .unwrap_or(0.0);
    let (disk_total, disk_free) = match rustix::fs::statvfs(data_dir) {
        Ok(s) => (s.f_blocks * s.f_frsize, s.f_bavail * s.f_frsize),
        Err(_) => (0, 0),
    };
    NodeStats {
        os: os_name(),
        kernel: read("/proc/sys/kernel/osrelease")
            .trim()
            .chars()
            .take(128)
            .collect(),
        cpu_count: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        load_1m,
        memory_total_bytes: meminfo_kib(&meminfo, "MemTotal:") * 1024,
        memory_available_bytes: meminfo_kib(&meminfo, "MemAvailable:") * 1024,
        disk_total_bytes: disk_total,
        disk_free_bytes: disk_free,
        docker: crate::runtime::docker_status().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn facts_come_from_this_machine() {
        let dir = tempfile::tempdir().unwrap();
        let s = gather(dir.path()).await;
        assert!(s.memory_total_bytes > 0 && s.memory_available_bytes <= s.memory_total_bytes);
        assert!(s.disk_total_bytes > 0 && s.disk_free_bytes <= s.disk_total_bytes);
        assert!(s.cpu_count >= 1);
        assert!(!s.kernel.is_empty());
    }

    #[test]
    fn meminfo_parsing() {
        let text = "MemTotal:       16384 kB\nMemAvailable:    8192 kB\n";
        assert_eq!(meminfo_kib(text, "MemTotal:"), 16384);
        assert_eq!(meminfo_kib(text, "Missing:"), 0);
    }
}
