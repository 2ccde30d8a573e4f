//! The panel's figures (README "Figures"): cold start to a healthy
//! `/health`, idle RSS, and `/health` latency while 50 logins per second run
//! against it, each compared with a baseline measured in the same run.
//!
//! Run: `cargo bench -p rampart --bench panel_figures`
//! (builds the release binary; takes about half a minute).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)] // a benchmark reads the real clock

use std::time::{Duration, Instant};

use rampart_testkit::{Binary, GOOD_PASSWORD, TestClient};

const EXE: &str = env!("CARGO_BIN_EXE_rampart");
const LOAD_SECS: u64 = 10;
const LOGINS_PER_SEC: u64 = 50;
const PROBES_PER_SEC: u64 = 100;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

struct Started {
    bin: Binary,
    base: String,
    setup_line: String,
    cold_start: Duration,
    _dir: tempfile::TempDir,
}

async fn start() -> Started {
    let dir = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let bin = Binary::start(
        std::path::Path::new(EXE),
        &[
            "up",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        &[("RAMPART_LOG", "warn")],
    );
    let setup_line = bin
        .wait_stdout_line("Setup URL: ", Duration::from_secs(30))
        .await
        .expect("setup line");
    let url = setup_line.trim_start_matches("Setup URL: ");
    let base = url.split("/setup").next().unwrap().to_owned();
    let http = reqwest::Client::new();
    loop {
        if let Ok(r) = http.get(format!("{base}/health")).send().await
            && r.status() == 200
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Started {
        bin,
        base,
        cold_start: t0.elapsed(),
        setup_line: setup_line.clone(),
        _dir: dir,
    }
}

/// Probes `/health` at a fixed rate for `secs`; sorted latencies.
async fn probe_health(base: &str, secs: u64) -> Vec<Duration> {
    let http = reqwest::Client::new();
    let url = format!("{base}/health");
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / PROBES_PER_SEC));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut out = Vec::new();
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        tick.tick().await;
        let t = Instant::now();
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        out.push(t.elapsed());
    }
    out.sort();
    out
}

/// Fires `LOGINS_PER_SEC` logins per second for `secs`, each in its own task
/// (an open-loop load: slow answers do not slow the arrival rate).
async fn login_load(base: String, secs: u64) -> (usize, Vec<Duration>) {
    let client = std::sync::Arc::new(TestClient::new(&base));
    let csrf = client.get("/login").await.csrf_token().unwrap();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / LOGINS_PER_SEC));
    let mut tasks = Vec::new();
    for _ in 0..(secs * LOGINS_PER_SEC) {
        tick.tick().await;
        let (client, csrf) = (client.clone(), csrf.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = client
                .post_form(
                    "/login",
                    &[
                        ("username", "bench"),
                        ("password", GOOD_PASSWORD),
                        ("csrf_token", &csrf),
                    ],
                )
                .await;
            (r.status, t.elapsed())
        }));
    }
    let mut ok = 0;
    let mut times = Vec::new();
    for t in tasks {
        let (status, d) = t.await.unwrap();
        if status == 303 {
            ok += 1;
        }
        times.push(d);
    }
    times.sort();
    (ok, times)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Cold start: median of 5 fresh data dirs.
    let mut starts = Vec::new();
    for _ in 0..5 {
        let mut s = start().await;
        starts.push(s.cold_start);
        s.bin.stop().await;
    }
    starts.sort();
    let s = start().await;
    let pid = s.bin.pid().unwrap();

    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = rss_kib(pid);

    // The first admin, through the setup form.
    let url = s.setup_line.trim_start_matches("Setup URL: ").to_owned();
    let path = url.trim_start_matches(&s.base).to_owned();
    let admin = TestClient::new(&s.base);
    let csrf = admin.get(&path).await.csrf_token().unwrap();
    let res = admin
        .post_form(
            &path,
            &[
                ("username", "bench"),
                ("password", GOOD_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(res.status, 303);

    let baseline = probe_health(&s.base, 5).await;
    let load = tokio::spawn(login_load(s.base.clone(), LOAD_SECS));
    tokio::time::sleep(Duration::from_millis(500)).await; // let the load ramp up
    let loaded = probe_health(&s.base, LOAD_SECS - 1).await;
    let (ok, login_times) = load.await.unwrap();
    let loaded_rss = rss_kib(pid);

    let (b99, l99) = (percentile(&baseline, 0.99), percentile(&loaded, 0.99));
    println!(
        "panel figures (release build, {} cores)",
        std::thread::available_parallelism().unwrap()
    );
    println!(
        "  cold start to healthy /health: median {} (min {}, max {}) over 5 starts",
        ms(starts[2]),
        ms(starts[0]),
        ms(starts[4])
    );
    println!(
        "  idle RSS: {:.1} MB ({} KiB)",
        idle_rss as f64 / 1024.0,
        idle_rss
    );
    println!(
        "  /health baseline ({} probes): p50 {}, p99 {}",
        baseline.len(),
        ms(percentile(&baseline, 0.5)),
        ms(b99)
    );
    println!(
        "  /health during {} logins/s ({} probes): p50 {}, p99 {}, max {}",
        LOGINS_PER_SEC,
        loaded.len(),
        ms(percentile(&loaded, 0.5)),
        ms(l99),
        ms(*loaded.last().unwrap())
    );
    println!(
        "  p99 ratio loaded/baseline: {:.2}",
        l99.as_secs_f64() / b99.as_secs_f64()
    );
    println!(
        "  logins: {ok}/{} succeeded, p50 {}, p99 {}",
        LOAD_SECS * LOGINS_PER_SEC,
        ms(percentile(&login_times, 0.5)),
        ms(percentile(&login_times, 0.99))
    );
    println!(
        "  RSS after the login load: {:.1} MB",
        loaded_rss as f64 / 1024.0
    );
    let mut bin = s.bin;
    bin.stop().await;
}
