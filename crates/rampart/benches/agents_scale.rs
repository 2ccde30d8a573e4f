//! 1,000 simulated agents on one panel (README "Figures"): the real panel
//! binary (release), agents from `rampart-testkit::sim_agent` speaking the
//! real protocol from this process, each heartbeating every second (the
//! real interval is 5 s: time compressed 5×) for 30 s, while `GET
//! /api/v1/nodes` is probed four times a second. Reports the panel's RSS
//! (before and during), its CPU use, the probe's p50/p99, and heartbeats
//! sent and links dropped.
//!
//! Run: `cargo bench -p rampart --bench agents_scale`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)] // a benchmark reads the real clock

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use rampart_testkit::{Binary, GOOD_PASSWORD, basic_auth, sim_agent};

const EXE: &str = env!("CARGO_BIN_EXE_rampart");
const AGENTS: u32 = 1000;
const HEARTBEAT: Duration = Duration::from_secs(1);
const RUN: Duration = Duration::from_secs(30);

fn status_kib(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with(key))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// utime + stime of the process, in clock ticks (100 Hz on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

async fn run_cli(args: &[&str]) -> String {
    let mut b = Binary::start(std::path::Path::new(EXE), args, &[]);
    let code = b.wait_exit(Duration::from_secs(60)).await;
    assert_eq!(code, Some(0), "{args:?}: {:?}", b.stderr());
    b.stdout().join("\n")
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("panel");
    let data = data.to_str().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, GOOD_PASSWORD).unwrap();
    let toml = dir.path().join("rampart.toml");
    std::fs::write(&toml, "[api]\nrate_limits = { admin = 1000000 }\n").unwrap();
    run_cli(&[
        "admin",
        "create-user",
        "--username",
        "ops",
        "--role",
        "admin",
        "--password-file",
        pw.to_str().unwrap(),
        "--data-dir",
        data,
    ])
    .await;
    let creds: serde_json::Value = serde_json::from_str(
        &run_cli(&[
            "admin",
            "create-client",
            "--username",
            "ops",
            "--name",
            "bench",
            "--scopes",
            "nodes.view,nodes.edit",
            "--data-dir",
            data,
        ])
        .await,
    )
    .unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let base = format!("http://{listen}");
    let panel = Binary::start(
        std::path::Path::new(EXE),
        &[
            "panel",
            "--listen",
            &listen,
            "--data-dir",
            data,
            "--config",
            toml.to_str().unwrap(),
        ],
        &[("RAMPART_LOG", "warn")],
    );
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = panel.pid().unwrap();
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{base}/oauth/token"))
        .header(
            "authorization",
            basic_auth(
                creds["client_id"].as_str().unwrap(),
                creds["client_secret"].as_str().unwrap(),
            ),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let rss_idle = status_kib(pid, "VmRSS:");

    // Create and enroll the nodes, 16 at a time.
    let started = Instant::now();
    let mut identities = Vec::new();
    let mut pending = FuturesUnordered::new();
    for n in 0..AGENTS {
        let (http, base, bearer) = (http.clone(), base.clone(), bearer.clone());
        pending.push(async move {
            let v: serde_json::Value = http
                .post(format!("{base}/api/v1/nodes"))
                .header("authorization", bearer)
                .json(&serde_json::json!({ "name": format!("sim-{n}") }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let token = v["enroll_token"].as_str().unwrap().to_owned();
            let (id, cred) = sim_agent::enroll(&http, &base, &token).await.unwrap();
            (n, id, cred)
        });
        if pending.len() >= 16 {
            identities.push(pending.next().await.unwrap());
        }
    }
    while let Some(x) = pending.next().await {
        identities.push(x);
    }
    let enroll_secs = started.elapsed().as_secs_f64();

    // Connect them all and heartbeat.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut agents = Vec::new();
    for (n, id, cred) in identities {
        let (base, rx) = (base.clone(), stop_rx.clone());
        agents.push(tokio::spawn(async move {
            sim_agent::run(&base, &id, &cred, n, HEARTBEAT, rx).await
        }));
        if n % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await; // everyone connected and heartbeating

    let cpu_start = cpu_ticks(pid);
    let wall_start = Instant::now();
    let mut latencies = Vec::new();
    let mut online = 0usize;
    while wall_start.elapsed() < RUN {
        let t = Instant::now();
        let v: serde_json::Value = http
            .get(format!("{base}/api/v1/nodes"))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        latencies.push(t.elapsed());
        online = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["online"] == true)
            .count();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let cpu_secs = (cpu_ticks(pid) - cpu_start) as f64 / 100.0;
    let wall = wall_start.elapsed().as_secs_f64();
    let rss_loaded = status_kib(pid, "VmRSS:");
    let rss_peak = status_kib(pid, "VmHWM:");
    let _ = stop_tx.send(true);
    let (mut heartbeats, mut dropped, mut failed) = (0u64, 0u32, 0u32);
    for a in agents {
        match a.await.unwrap() {
            Ok(r) => {
                heartbeats += r.heartbeats;
                if r.dropped {
                    dropped += 1;
                }
            }
            Err(_) => failed += 1,
        }
    }
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!(
        "{AGENTS} simulated agents, heartbeat every {HEARTBEAT:?} (5x the real rate), {RUN:?} measured"
    );
    println!("  create + enroll {AGENTS} nodes: {enroll_secs:.1} s");
    println!("  nodes online at the last probe: {online} / {AGENTS}");
    println!(
        "  heartbeats sent: {heartbeats}; links dropped: {dropped}; agents failed to connect: {failed}"
    );
    println!(
        "  panel RSS: idle {:.1} MB, with the agents {:.1} MB (peak {:.1} MB)",
        rss_idle as f64 / 1024.0,
        rss_loaded as f64 / 1024.0,
        rss_peak as f64 / 1024.0
    );
    println!(
        "  panel CPU: {:.0} % of one core ({cpu_secs:.1} s over {wall:.1} s)",
        100.0 * cpu_secs / wall
    );
    println!(
        "  GET /api/v1/nodes ({} probes): p50 {}, p99 {}, max {}",
        latencies.len(),
        ms(p(0.5)),
        ms(p(0.99)),
        ms(*latencies.last().unwrap())
    );
    drop(panel);
}
