//! The isolation policy against a real Docker Engine (SPEC R53): seen from
//! inside a container it builds, no capability is effective, privileges
//! cannot be gained, the limits are in its cgroup, a fork bomb stays inside
//! the pids limit, the root is read-only and the Docker socket is absent.

use rampart_agent::runtime::containers::{ContainerSpec, Runtime};
use rampart_agent::runtime::isolation::{IsolationInput, Limits};

const PROBE: &str = "grep -E 'CapEff|NoNewPrivs' /proc/self/status; \
    ls /var/run/docker.sock /run/docker.sock 2>&1; \
    echo pids.max=$(cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null); \
    echo memory.max=$(cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null); \
    touch /etc/probe 2>&1; touch /tmp/probe && echo tmp=writable; \
    (i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null; \
    f=/sys/fs/cgroup/pids.current; [ -f $f ] || f=/sys/fs/cgroup/pids/pids.current; \
    read c < $f; echo pids.current=$c";

fn spec_input() -> IsolationInput<'static> {
    IsolationInput {
        limits: Limits {
            memory_mb: 64,
            cpu_percent: 50,
            pids: 32,
            swap_allowed: false,
            io_weight: 100,
        },
        capabilities: &[],
        read_only_root: true,
        network: "none",
        volume: None,
        bind_ip: "127.0.0.1".parse().unwrap(),
        ports: &[],
    }
}

#[tokio::test]
async fn a_container_built_by_the_policy_is_contained() {
    let Some(image) = rampart_testkit::docker::test_image() else {
        return;
    };
    let rt = Runtime::connect().await.unwrap();
    let name = format!("rampart-test-{}", std::process::id());
    let cmd = vec!["/bin/sh".to_owned(), "-c".to_owned(), PROBE.to_owned()];
    let spec = ContainerSpec {
        name: &name,
        server_id: "test-isolation",
        image,
        cmd: &cmd,
        env: &[],
        stdin: false,
        working_dir: None,
        isolation: spec_input(),
    };
    let id = rt.create(&spec).await.unwrap();
    rt.start(&id).await.unwrap();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(60), rt.wait(&id)).await;
    let out = rt.output(&id).await.unwrap();
    let host = rt.inspect_host_config(&id).await.unwrap().unwrap();
    rt.remove(&id).await.unwrap();

    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(
        out.contains("/var/run/docker.sock: No such file")
            && out.contains("/run/docker.sock: No such file"),
        "{out}"
    );
    assert!(out.contains("pids.max=32"), "{out}");
    assert!(out.contains("memory.max=67108864"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains("tmp=writable"), "{out}");
    let current: u32 = out
        .split("pids.current=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    // The bomb filled the allowance (about 32 processes, not 100) and no more.
    assert!(
        (20..=32).contains(&current),
        "the fork bomb stayed inside the limit: {current}"
    );

    // The engine holds what the policy asked for.
    assert_eq!(host.privileged, Some(false));
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.pids_limit, Some(32));
    assert!(
        host.security_opt
            .unwrap_or_default()
            .iter()
            .any(|o| o.starts_with("no-new-privileges"))
    );
    assert!(host.binds.unwrap_or_default().is_empty());
}

/// Runs `script` in a container on `network`; waits for it when `wait`.
async fn run_on(
    rt: &Runtime,
    image: &str,
    name: &str,
    network: &str,
    script: &str,
    wait: bool,
) -> (String, String) {
    let cmd = vec!["/bin/sh".to_owned(), "-c".to_owned(), script.to_owned()];
    let mut input = spec_input();
    input.network = network;
    let spec = ContainerSpec {
        name,
        server_id: name,
        image,
        cmd: &cmd,
        env: &[],
        stdin: false,
        working_dir: None,
        isolation: input,
    };
    let id = rt.create(&spec).await.unwrap();
    rt.start(&id).await.unwrap();
    if !wait {
        return (id, String::new());
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), rt.wait(&id)).await;
    let out = rt.output(&id).await.unwrap();
    rt.remove(&id).await.unwrap();
    (id, out)
}

#[tokio::test]
async fn two_owners_containers_cannot_reach_each_other() {
    let Some(image) = rampart_testkit::docker::test_image() else {
        return;
    };
    let rt = Runtime::connect().await.unwrap();
    let tag = std::process::id();
    let (net_a, net_b) = (
        format!("rampart-test-owner-a-{tag}"),
        format!("rampart-test-owner-b-{tag}"),
    );
    rt.ensure_owner_network(&net_a, "a").await.unwrap();
    rt.ensure_owner_network(&net_a, "a").await.unwrap(); // idempotent
    rt.ensure_owner_network(&net_b, "b").await.unwrap();

    // Owner A's server listens (again and again) on 8080.
    let (listener, _) = run_on(
        &rt,
        image,
        &format!("rt-a1-{tag}"),
        &net_a,
        "while true; do nc -l -p 8080 >/dev/null; done",
        false,
    )
    .await;
    let mut ip = None;
    for _ in 0..50 {
        ip = rt.address_on(&listener, &net_a).await.unwrap();
        if ip.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let ip = ip.expect("listener address");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let probe = format!("echo hi | nc -w 3 {ip} 8080 && echo REACHED || echo BLOCKED");

    let (_, same) = run_on(&rt, image, &format!("rt-a2-{tag}"), &net_a, &probe, true).await;
    let (_, other) = run_on(&rt, image, &format!("rt-b1-{tag}"), &net_b, &probe, true).await;
    let (_, again) = run_on(&rt, image, &format!("rt-a3-{tag}"), &net_a, &probe, true).await;
    rt.remove(&listener).await.unwrap();
    rt.remove_network(&net_a).await.unwrap();
    rt.remove_network(&net_b).await.unwrap();

    assert!(
        same.contains("REACHED"),
        "same owner reaches its own server: {same}"
    );
    assert!(
        other.contains("BLOCKED"),
        "another owner's container is kept out: {other}"
    );
    assert!(
        again.contains("REACHED"),
        "control: the listener was up all along: {again}"
    );
}
