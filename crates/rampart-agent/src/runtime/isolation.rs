//! The isolation policy (SPEC R53): one pure function from a server's
//! limits and its template's few permitted exceptions to the `HostConfig`
//! every container gets. Defaults: every capability dropped,
//! `no-new-privileges`, the engine's default seccomp profile, a pids limit,
//! memory (swap equal to memory unless allowed), CPU quota, a read-only root
//! with a small private `/tmp`, private IPC, no privileged mode, no devices,
//! no host namespaces, no bind mount but the server's own volume (never the
//! Docker socket), ports bound to one address, capped logs.

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::models::{HostConfig, HostConfigLogConfig, PortBinding};

/// The few capabilities a template may ask back (everything else stays dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Chown,
    SetUid,
    SetGid,
    NetBindService,
    DacOverride,
    Fowner,
}

impl Capability {
    const ALL: [Capability; 6] = [
        Capability::Chown,
        Capability::SetUid,
        Capability::SetGid,
        Capability::NetBindService,
        Capability::DacOverride,
        Capability::Fowner,
    ];

    /// The allowlisted capability with this Docker name (e.g. `NET_BIND_SERVICE`).
    pub fn parse(name: &str) -> Option<Capability> {
        Capability::ALL
            .into_iter()
            .find(|c| c.docker_name() == name)
    }

    fn docker_name(self) -> &'static str {
        match self {
            Capability::Chown => "CHOWN",
            Capability::SetUid => "SETUID",
            Capability::SetGid => "SETGID",
            Capability::NetBindService => "NET_BIND_SERVICE",
            Capability::DacOverride => "DAC_OVERRIDE",
            Capability::Fowner => "FOWNER",
        }
    }
}

/// A server's resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_mb: u64,
    /// Percent of one core (100 = one core).
    pub cpu_percent: u32,
    pub pids: i64,
    /// Allow as much swap as memory on top of it.
    pub swap_allowed: bool,
    /// Block IO weight, 10–1000.
    pub io_weight: u16,
}

/// Everything the policy needs to know about one server.
#[derive(Debug, Clone)]
pub struct IsolationInput<'a> {
    pub limits: Limits,
    /// Exceptions the template declares (from the short allowlist).
    pub capabilities: &'a [Capability],
    /// Whether the template can run with a read-only root file system.
    pub read_only_root: bool,
    /// The owner's own Docker network.
    pub network: &'a str,
    /// The server's volume: (host path, path in the container).
    pub volume: Option<(&'a str, &'a str)>,
    /// The node address ports are published on.
    pub bind_ip: IpAddr,
    /// Container ports published on the same host ports (allocations).
    pub ports: &'a [u16],
}

const MIB: i64 = 1024 * 1024;

/// The one `HostConfig` builder.
pub fn host_config(input: &IsolationInput<'_>) -> HostConfig {
    let memory = i64::try_from(input.limits.memory_mb)
        .unwrap_or(i64::MAX / MIB)
        .saturating_mul(MIB);
    let memory_swap = if input.limits.swap_allowed {
        memory.saturating_mul(2)
    } else {
        memory
    };
    let mut port_bindings = HashMap::new();
    for port in input.ports {
        port_bindings.insert(
            format!("{port}/tcp"),
            Some(vec![PortBinding {
                host_ip: Some(input.bind_ip.to_string()),
                host_port: Some(port.to_string()),
            }]),
        );
    }
    let mut tmpfs = HashMap::new();
    if input.read_only_root {
        tmpfs.insert("/tmp".to_owned(), "rw,nosuid,nodev,size=64m".to_owned());
    }
    let mut log_opts = HashMap::new();
    log_opts.insert("max-size".to_owned(), "10m".to_owned());
    log_opts.insert("max-file".to_owned(), "3".to_owned());
    HostConfig {
        cap_drop: Some(vec!["ALL".to_owned()]),
        cap_add: Some(
            input
                .capabilities
                .iter()
                .map(|c| c.docker_name().to_owned())
                .collect(),
        ),
        security_opt: Some(vec!["no-new-privileges:true".to_owned()]),
        privileged: Some(false),
        pids_limit: Some(input.limits.pids.max(1)),
        memory: Some(memory),
        memory_swap: Some(memory_swap),
        nano_cpus: Some(i64::from(input.limits.cpu_percent).saturating_mul(10_000_000)),
        blkio_weight: Some(input.limits.io_weight.clamp(10, 1000)),
        readonly_rootfs: Some(input.read_only_root),
        tmpfs: Some(tmpfs),
        ipc_mode: Some("private".to_owned()),
        network_mode: Some(input.network.to_owned()),
        binds: Some(
            input
                .volume
                .map(|(host, inside)| vec![format!("{host}:{inside}:rw")])
                .unwrap_or_default(),
        ),
        devices: Some(Vec::new()),
        port_bindings: Some(port_bindings),
        log_config: Some(HostConfigLogConfig {
            typ: Some("json-file".to_owned()),
            config: Some(log_opts),
        }),
        init: Some(true),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> IsolationInput<'static> {
        IsolationInput {
            limits: Limits {
                memory_mb: 512,
                cpu_percent: 150,
                pids: 128,
                swap_allowed: false,
                io_weight: 500,
            },
            capabilities: &[],
            read_only_root: true,
            network: "rampart-owner-7",
            volume: Some(("/var/lib/rampart/volumes/s1", "/home/container")),
            bind_ip: "192.0.2.10".parse().unwrap(),
            ports: &[25565],
        }
    }

    #[test]
    fn defaults_drop_everything_and_bound_everything() {
        let h = host_config(&input());
        assert_eq!(h.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(h.cap_add, Some(vec![]));
        assert_eq!(
            h.security_opt,
            Some(vec!["no-new-privileges:true".to_owned()])
        );
        assert_eq!(h.privileged, Some(false));
        assert_eq!(h.pids_limit, Some(128));
        assert_eq!(h.memory, Some(512 * MIB));
        assert_eq!(h.memory_swap, h.memory, "no swap unless allowed");
        assert_eq!(h.nano_cpus, Some(1_500_000_000));
        assert_eq!(h.readonly_rootfs, Some(true));
        assert!(h.tmpfs.as_ref().unwrap().contains_key("/tmp"));
        assert_eq!(h.devices, Some(vec![]));
        assert_eq!(h.network_mode.as_deref(), Some("rampart-owner-7"));
        assert!(
            h.pid_mode.is_none() && h.userns_mode.is_none() && h.uts_mode.is_none(),
            "no host namespaces"
        );
        assert_eq!(h.ipc_mode.as_deref(), Some("private"));
        let binds = h.binds.unwrap();
        assert_eq!(binds, ["/var/lib/rampart/volumes/s1:/home/container:rw"]);
        assert!(!binds.iter().any(|b| b.contains("docker.sock")));
        let ports = h.port_bindings.unwrap();
        let binding = ports["25565/tcp"].as_ref().unwrap()[0].clone();
        assert_eq!(
            binding.host_ip.as_deref(),
            Some("192.0.2.10"),
            "bound to the node's address, not 0.0.0.0"
        );
        let log = h.log_config.unwrap().config.unwrap();
        assert_eq!(log["max-size"], "10m");
    }

    #[test]
    fn exceptions_are_only_the_declared_ones() {
        let mut i = input();
        i.capabilities = &[Capability::NetBindService];
        i.limits.swap_allowed = true;
        i.read_only_root = false;
        i.volume = None;
        let h = host_config(&i);
        assert_eq!(h.cap_add, Some(vec!["NET_BIND_SERVICE".to_owned()]));
        assert_eq!(Capability::parse("SYS_ADMIN"), None);
        assert_eq!(Capability::parse("CHOWN"), Some(Capability::Chown));
        assert_eq!(h.memory_swap, Some(1024 * MIB));
        assert_eq!(h.readonly_rootfs, Some(false));
        assert!(h.tmpfs.unwrap().is_empty());
        assert_eq!(h.binds, Some(vec![]));
    }
}
