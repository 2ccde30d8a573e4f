//! API throughput (README "Figures"): authenticated `GET /api/v1/me` (bearer
//! token: hash lookup, user and role, rate limiter, usage log, security
//! headers, request id, access log) against a bare axum "hello" handler,
//! both served from this process on loopback and loaded the same way: 64
//! connections, each sending requests back to back for a fixed time. Logs
//! are formatted as in production (into a sink).
//!
//! Run: `cargo bench -p rampart-panel --bench api_throughput`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)] // a benchmark reads the real clock

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rampart_panel::PanelSettings;
use rampart_panel::auth::Limit;
use rampart_testkit::{GOOD_PASSWORD, spawn_panel_with};

const CONNECTIONS: usize = 64;
const SECS: u64 = 3;
const ROUNDS: usize = 5;

struct Figures {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

async fn load(url: String, auth: Option<String>) -> Figures {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (url, auth, stop) = (url.clone(), auth.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let mut req = client.get(&url);
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                let res = req.send().await.unwrap();
                assert_eq!(
                    res.status(),
                    200,
                    "{}",
                    res.text().await.unwrap_or_default()
                );
                res.bytes().await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(SECS)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    Figures {
        rps: all.len() as f64 / elapsed,
        p50: all[all.len() / 2],
        p99: all[(all.len() as f64 * 0.99) as usize],
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Log as the binary does (info level, text), into a sink: the panel's
    // access log line is part of the cost of each request.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
        .with_writer(std::io::sink)
        .init();
    // The bare baseline: axum, one route, no layers.
    let bare = axum::Router::new().route("/hello", axum::routing::get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bare_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, bare).await.unwrap() });

    // The panel with a rate limit high enough not to refuse the benchmark
    // (it is still counted on every request).
    let mut settings = PanelSettings {
        require_2fa_for: Vec::new(),
        ..PanelSettings::default()
    };
    settings.api.rate_limits = vec![(rampart_core::RoleName::parse("admin").unwrap(), u32::MAX)];
    settings.login_limits.per_ip = Limit {
        max: 1000,
        window_secs: 60,
    };
    let panel = spawn_panel_with(settings).await;
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;
    let token = panel.api_token(rampart_core::UserId(1), "users.view").await;

    // Warm up, then alternate bare and authenticated runs so that drift in
    // the machine's load hits both; report each round's ratio and the median.
    let bare_url = format!("http://{bare_addr}/hello");
    let me_url = format!("{}/api/v1/me", panel.url);
    let auth = Some(format!("Bearer {token}"));
    let _ = load(bare_url.clone(), None).await;
    let _ = load(me_url.clone(), auth.clone()).await;
    let health = load(format!("{}/health", panel.url), None).await;
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let bare_fig = load(bare_url.clone(), None).await;
        let api_fig = load(me_url.clone(), auth.clone()).await;
        rounds.push((bare_fig, api_fig));
    }
    println!(
        "API throughput ({CONNECTIONS} connections, {ROUNDS} alternating rounds of {SECS} s, loopback, load generator in the same process)"
    );
    let mut ratios = Vec::new();
    for (i, (b, a)) in rounds.iter().enumerate() {
        let r = a.rps / b.rps;
        ratios.push(r);
        println!(
            "  round {}: bare {:>6.0} req/s (p99 {}) | GET /api/v1/me bearer {:>6.0} req/s (p50 {}, p99 {}) | ratio {:.2}",
            i + 1,
            b.rps,
            ms(b.p99),
            a.rps,
            ms(a.p50),
            ms(a.p99),
            r
        );
    }
    println!(
        "  GET /health through every layer: {:.0} req/s, p99 {}",
        health.rps,
        ms(health.p99)
    );
    ratios.sort_by(|a, b| a.total_cmp(b));
    println!(
        "  median ratio authenticated/bare: {:.2}",
        ratios[ratios.len() / 2]
    );
}
