//! Server figures (README "Figures"), against the real Docker Engine with
//! the panel and the agent in this process (the same code `rampart up`
//! runs):
//!
//! 1. Start latency: `POST /api/v1/servers/{id}/power {"action":"start"}`
//!    until the console socket reports `running`, against `docker start` of
//!    an identical container (same image, command and limits) from the CLI,
//!    alternating, 15 rounds each; medians and their ratio (target ≤ 1.3).
//! 2. Console throughput: a server printing as fast as it can (`yes`) to a
//!    console WebSocket client for 10 s; lines per second received (target
//!    ≥ 100,000) and the RSS of this process — panel and agent together —
//!    before and at peak (target for the panel: < 100 MB).
//!
//! Run: `cargo bench -p rampart --bench server_figures`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)] // a benchmark reads the real clock and runs docker

#[allow(dead_code)] // shared with the tests, which use more of it
#[path = "../tests/it/server_rig.rs"]
mod server_rig;

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use server_rig::{Rig, read_until};
use tokio_tungstenite::tungstenite::Message;

const ROUNDS: usize = 15;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn docker(args: &[&str]) {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rig = Rig::new()
        .await
        .expect("the server figures need a Docker Engine and busybox-static");
    let token = rig.admin_token.clone();
    rig.import_template(json!({
        "id": "bench-sleep", "name": "Sleep", "image": rig.image,
        "startup": "sleep 3600", "stop": {"command": null, "timeout_secs": 1}
    }))
    .await;
    let id = rig
        .create(
            &token,
            json!({"name": "Bench", "template_id": "bench-sleep",
            "limits": {"memory_mb": 64, "cpu_percent": 100, "pids": 64, "disk_mb": 100}}),
        )
        .await;
    rig.wait_state(&id, "offline", Duration::from_secs(60))
        .await;
    let baseline = format!("rampart-bench-baseline-{}", &id[3..]);
    docker(&[
        "create",
        "--name",
        &baseline,
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges:true",
        "--pids-limit",
        "64",
        "--memory",
        "64m",
        "--memory-swap",
        "64m",
        "--cpus",
        "1",
        "--read-only",
        "--tmpfs",
        "/tmp:rw,nosuid,nodev,size=64m",
        "--init",
        "-i",
        rig.image,
        "sleep",
        "3600",
    ]);

    let mut ws = rig.console(&token, &id).await.unwrap();
    read_until(&mut ws, Duration::from_secs(5), |v| v["type"] == "history").await;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t = Instant::now();
        assert_eq!(rig.power(&token, &id, "start").await, 202);
        read_until(&mut ws, Duration::from_secs(30), |v| {
            v["type"] == "state" && v["state"] == "running"
        })
        .await;
        ours.push(t.elapsed());
        assert_eq!(rig.power(&token, &id, "kill").await, 202);
        rig.wait_state(&id, "offline", Duration::from_secs(30))
            .await;

        let t = Instant::now();
        docker(&["start", &baseline]);
        theirs.push(t.elapsed());
        docker(&["kill", &baseline]);
    }
    docker(&["rm", "-f", &baseline]);
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "start latency: rampart power start → running {:.1} ms, docker start (CLI) {:.1} ms, ratio {:.2} (median of {ROUNDS})",
        ours.as_secs_f64() * 1000.0,
        theirs.as_secs_f64() * 1000.0,
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
    drop(ws);

    rig.import_template(json!({
        "id": "bench-flood", "name": "Flood", "image": rig.image,
        "startup": "yes rampart-console-benchmark-line-0123456789",
        "stop": {"command": null, "timeout_secs": 1}
    }))
    .await;
    let flood = rig
        .create(
            &token,
            json!({"name": "Flood", "template_id": "bench-flood"}),
        )
        .await;
    rig.wait_state(&flood, "offline", Duration::from_secs(60))
        .await;
    let rss_before = rss_kib();
    let mut ws = rig.console(&token, &flood).await.unwrap();
    assert_eq!(rig.power(&token, &flood, "start").await, 202);
    let run = Duration::from_secs(10);
    let start = Instant::now();
    let (mut lines, mut dropped_markers, mut peak) = (0u64, 0u64, rss_before);
    while start.elapsed() < run {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "output" {
                    for l in v["lines"].as_array().unwrap() {
                        if l.as_str().unwrap().starts_with("[rampart]") {
                            dropped_markers += 1;
                        } else {
                            lines += 1;
                        }
                    }
                }
            }
            other => panic!("console: {other:?}"),
        }
        peak = peak.max(rss_kib());
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "console throughput: {:.0} lines/s to one WebSocket client over {secs:.1} s ({dropped_markers} throttle markers)",
        lines as f64 / secs
    );
    println!(
        "process RSS (panel + agent): {:.1} MB before, {:.1} MB peak during the flood",
        rss_before as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    assert_eq!(rig.power(&token, &flood, "kill").await, 202);
    rig.wait_state(&flood, "offline", Duration::from_secs(30))
        .await;
}
