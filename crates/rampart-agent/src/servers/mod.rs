//! The node's servers: create (with the install container), power, console
//! input, delete, and the inventory the panel reconciles from. Every
//! container is built by `runtime` with the one isolation policy; output of
//! running servers flows into the bounded [`EventBuffer`] the link drains.
//!
//! Operations on one server are serialized by a per-server lock; a
//! server's state of truth is Docker's, so containers keep running when
//! the agent stops, and a new agent re-attaches to them (`inventory`).

pub mod disk;
pub mod events;
pub mod files;
pub mod stats;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use rampart_proto::{
    Command, CommandResult, PowerSignal, ServerEvent, ServerSpec, ServerStatus, StopSpec,
};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::runtime::containers::{ContainerSpec, Runtime, RuntimeError};
use crate::runtime::isolation::{Capability, IsolationInput, Limits};
pub use events::EventBuffer;
use events::LineSplitter;

/// Where a server's volume is mounted in its container.
pub const VOLUME_MOUNT: &str = "/home/container";

type Input = Arc<tokio::sync::Mutex<Pin<Box<dyn AsyncWrite + Send>>>>;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("Docker unavailable: {0}")]
    DockerUnavailable(String),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("the server is not installed on this node")]
    NotInstalled,
    #[error("the server is not running")]
    NotRunning,
    #[error("pulling {0} failed: {1}")]
    Pull(String, String),
    #[error("the install script failed with exit code {0}")]
    InstallFailed(i64),
    #[error("capability {0} is not on the allowlist")]
    Capability(String),
    #[error("volume: {0}")]
    Io(#[from] std::io::Error),
}

struct Attached {
    serial: u64,
    input: Input,
}

/// The node's servers.
pub struct Servers {
    /// Owners' networks are named after the node too, so that two
    /// installations sharing an engine never share a network.
    node_id: String,
    volumes: PathBuf,
    bind_ip: IpAddr,
    runtime: tokio::sync::Mutex<Option<Runtime>>,
    pub events: Arc<EventBuffer>,
    attached: Mutex<HashMap<String, Attached>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    serial: AtomicU64,
    report: tokio::sync::Mutex<()>,
    pub disk: Arc<disk::DiskUsage>,
    /// Addresses a pull may reach although they are not public.
    pull_allow: Arc<[IpAddr]>,
}

impl std::fmt::Debug for Servers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Servers")
            .field("volumes", &self.volumes)
            .finish_non_exhaustive()
    }
}

pub(crate) fn container_name(server_id: &str) -> String {
    format!("rampart-{server_id}")
}

impl Servers {
    pub fn new(
        data_dir: &std::path::Path,
        bind_ip: IpAddr,
        node_id: &str,
        pull_allow: &[IpAddr],
    ) -> Arc<Servers> {
        Arc::new(Servers {
            node_id: node_id.to_owned(),
            volumes: data_dir.join("volumes"),
            bind_ip,
            runtime: tokio::sync::Mutex::new(None),
            events: Arc::new(EventBuffer::default()),
            attached: Mutex::new(HashMap::new()),
            locks: Mutex::new(HashMap::new()),
            serial: AtomicU64::new(0),
            report: tokio::sync::Mutex::new(()),
            disk: Arc::default(),
            pull_allow: pull_allow.into(),
        })
    }

    async fn runtime(&self) -> Result<Runtime, ServerError> {
        let mut slot = self.runtime.lock().await;
        if let Some(rt) = slot.as_ref() {
            return Ok(rt.clone());
        }
        let rt = Runtime::connect()
            .await
            .map_err(|e| ServerError::DockerUnavailable(e.to_string()))?;
        *slot = Some(rt.clone());
        Ok(rt)
    }

    fn lock_for(&self, server_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.locks.lock() {
            Ok(mut l) => l.entry(server_id.to_owned()).or_default().clone(),
            Err(_) => Arc::default(),
        }
    }

    /// Runs one server command (node and read-only checks are done by the link).
    pub async fn handle(self: &Arc<Self>, command: Command) -> CommandResult {
        let outcome = match command {
            Command::Describe => {
                return CommandResult::Failed {
                    reason: "not a server command".into(),
                };
            }
            Command::Inventory => {
                return match self.inventory().await {
                    Ok(servers) => CommandResult::Inventory { servers },
                    Err(e) => CommandResult::Failed {
                        reason: e.to_string(),
                    },
                };
            }
            Command::CreateServer { server, wipe } => self.create(&server, wipe).await,
            Command::Power {
                server_id,
                signal,
                stop,
            } => self.power(&server_id, signal, &stop).await,
            Command::Input { server_id, line } => self.input(&server_id, &line).await,
            Command::DeleteServer { server_id } => self.delete(&server_id).await,
            Command::ListFiles { server_id, path } => {
                let volume = self.volume(&server_id);
                let listed = tokio::task::spawn_blocking(move || {
                    let path = crate::fs::VolumePath::parse(&path)?;
                    crate::fs::Root::open(&volume)?.list(&path)
                })
                .await;
                return match listed {
                    Ok(Ok(list)) => CommandResult::Files {
                        items: files::entries(list),
                    },
                    Ok(Err(e)) => CommandResult::Refused {
                        reason: e.to_string(),
                    },
                    Err(_) => CommandResult::Failed {
                        reason: "listing failed".into(),
                    },
                };
            }
            Command::Files {
                server_id,
                quota_bytes,
                op,
            } => return self.file_op(&server_id, quota_bytes, op).await,
            Command::Transfer { .. } => {
                return CommandResult::Failed {
                    reason: "transfers are opened by the link".into(),
                };
            }
        };
        match outcome {
            Ok(()) => CommandResult::Done,
            Err(e) => CommandResult::Failed {
                reason: e.to_string().chars().take(250).collect(),
            },
        }
    }

    async fn create(self: &Arc<Self>, spec: &ServerSpec, wipe: bool) -> Result<(), ServerError> {
        let lock = self.lock_for(&spec.server_id);
        let _guard = lock.lock().await;
        let rt = self.runtime().await?;
        let capabilities = spec
            .capabilities
            .iter()
            .map(|c| Capability::parse(c).ok_or_else(|| ServerError::Capability(c.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        for image in std::iter::once(&spec.image).chain(spec.install.as_ref().map(|i| &i.image)) {
            if rt.has_image(image).await? {
                continue;
            }
            let auth = spec
                .registry
                .as_ref()
                .map(|r| (r.username.as_str(), r.password.as_str()));
            self.events
                .push_line(&spec.server_id, format!("[pull] pulling {image}"));
            rt.pull(image, auth, |line| {
                // Shown on the server's console and in the agent's own log.
                tracing::info!(server = %spec.server_id, %image, "pull: {line}");
                self.events
                    .push_line(&spec.server_id, format!("[pull] {line}"));
            })
            .await
            .map_err(|e| ServerError::Pull(image.clone(), e.to_string()))?;
            self.events
                .push_line(&spec.server_id, format!("[pull] {image} is ready"));
        }
        let network = format!("rampart-{}-o{}", self.node_id, spec.owner);
        rt.ensure_owner_network(&network, &spec.owner).await?;
        let name = container_name(&spec.server_id);
        if rt.state(&name).await?.is_some_and(|(running, _)| running) {
            self.stop_inner(&rt, &spec.server_id, &spec.stop).await?;
        }
        rt.remove_if_exists(&name).await?;
        let volume = self.volumes.join(&spec.server_id);
        if wipe && volume.exists() {
            // std's remove_dir_all does not follow symlinks.
            tokio::fs::remove_dir_all(&volume).await?;
        }
        make_private_dir(&self.volumes)?;
        make_private_dir(&volume)?;
        let volume_str = volume.to_string_lossy().into_owned();
        let limits = Limits {
            memory_mb: spec.limits.memory_mb,
            cpu_percent: spec.limits.cpu_percent,
            pids: spec.limits.pids,
            swap_allowed: spec.limits.swap_allowed,
            io_weight: spec.limits.io_weight,
        };
        let isolation = IsolationInput {
            limits,
            capabilities: &capabilities,
            read_only_root: spec.read_only_root,
            network: &network,
            volume: Some((&volume_str, VOLUME_MOUNT)),
            bind_ip: self.bind_ip,
            ports: &spec.ports,
        };
        if let Some(install) = &spec.install {
            let install_name = format!("{name}-install");
            rt.remove_if_exists(&install_name).await?;
            let (argv, env) = install_command(install, &spec.env);
            let mut install_isolation = isolation.clone();
            install_isolation.ports = &[];
            let id = rt
                .create(&ContainerSpec {
                    name: &install_name,
                    server_id: &spec.server_id,
                    image: &install.image,
                    cmd: &argv,
                    env: &env,
                    stdin: false,
                    working_dir: Some(VOLUME_MOUNT),
                    isolation: install_isolation,
                })
                .await?;
            rt.start(&id).await?;
            let code = rt.wait(&id).await;
            let output = rt.output(&id).await.unwrap_or_default();
            rt.remove_if_exists(&id).await?;
            for line in output.lines() {
                self.events
                    .push_line(&spec.server_id, format!("[install] {line}"));
            }
            let code = code?;
            if code != 0 {
                return Err(ServerError::InstallFailed(code));
            }
        }
        rt.create(&ContainerSpec {
            name: &name,
            server_id: &spec.server_id,
            image: &spec.image,
            cmd: &spec.argv,
            env: &spec.env,
            stdin: true,
            working_dir: Some(VOLUME_MOUNT),
            isolation,
        })
        .await?;
        Ok(())
    }

    async fn power(
        self: &Arc<Self>,
        server_id: &str,
        signal: PowerSignal,
        stop: &StopSpec,
    ) -> Result<(), ServerError> {
        let lock = self.lock_for(server_id);
        let _guard = lock.lock().await;
        let rt = self.runtime().await?;
        match signal {
            PowerSignal::Start => self.start_inner(&rt, server_id).await,
            PowerSignal::Stop => self.stop_inner(&rt, server_id, stop).await,
            PowerSignal::Restart => {
                self.stop_inner(&rt, server_id, stop).await?;
                self.start_inner(&rt, server_id).await
            }
            PowerSignal::Kill => {
                if rt.state(&container_name(server_id)).await?.is_none() {
                    return Err(ServerError::NotInstalled);
                }
                rt.kill(&container_name(server_id)).await?;
                Ok(())
            }
        }
    }

    async fn start_inner(
        self: &Arc<Self>,
        rt: &Runtime,
        server_id: &str,
    ) -> Result<(), ServerError> {
        let name = container_name(server_id);
        match rt.state(&name).await? {
            None => return Err(ServerError::NotInstalled),
            Some((true, _)) => return Ok(()),
            Some((false, _)) => {}
        }
        // Attach first so that no early output is missed.
        self.attach(rt, server_id).await?;
        if let Err(e) = rt.start(&name).await {
            self.detach(server_id);
            return Err(e.into());
        }
        self.report_state(rt, server_id).await;
        Ok(())
    }

    /// Reports what Docker says about the server now. Serialized, so that
    /// of two reports racing (start returning, output ending) the one
    /// pushed last is the one inspected last: the panel ends up with the truth.
    async fn report_state(&self, rt: &Runtime, server_id: &str) {
        let _order = self.report.lock().await;
        if let Ok(Some((running, exit_code))) = rt.state(&container_name(server_id)).await {
            self.events.push(ServerEvent::State {
                server_id: server_id.to_owned(),
                running,
                exit_code: if running { None } else { exit_code },
            });
        }
    }

    /// The stop command on stdin, then SIGTERM, then SIGKILL.
    async fn stop_inner(
        &self,
        rt: &Runtime,
        server_id: &str,
        stop: &StopSpec,
    ) -> Result<(), ServerError> {
        let name = container_name(server_id);
        match rt.state(&name).await? {
            None => return Err(ServerError::NotInstalled),
            Some((false, _)) => return Ok(()),
            Some((true, _)) => {}
        }
        let timeout = Duration::from_secs(u64::from(stop.timeout_secs.clamp(1, 600)));
        if let Some(command) = &stop.command
            && self.write_line(server_id, command).await.is_ok()
            && tokio::time::timeout(timeout, rt.wait(&name)).await.is_ok()
        {
            return Ok(());
        }
        rt.stop(&name, stop.timeout_secs.clamp(1, 600)).await?;
        Ok(())
    }

    async fn input(&self, server_id: &str, line: &str) -> Result<(), ServerError> {
        self.write_line(server_id, line).await
    }

    async fn write_line(&self, server_id: &str, line: &str) -> Result<(), ServerError> {
        let input = self
            .attached
            .lock()
            .ok()
            .and_then(|a| a.get(server_id).map(|x| x.input.clone()))
            .ok_or(ServerError::NotRunning)?;
        let mut w = input.lock().await;
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        w.write_all(&bytes).await?;
        w.flush().await?;
        Ok(())
    }

    async fn delete(&self, server_id: &str) -> Result<(), ServerError> {
        let lock = self.lock_for(server_id);
        let _guard = lock.lock().await;
        let rt = self.runtime().await?;
        rt.remove_if_exists(&container_name(server_id)).await?;
        rt.remove_if_exists(&format!("{}-install", container_name(server_id)))
            .await?;
        self.detach(server_id);
        let volume = self.volumes.join(server_id);
        if volume.exists() {
            tokio::fs::remove_dir_all(&volume).await?;
        }
        if let Ok(mut l) = self.locks.lock() {
            l.remove(server_id);
        }
        self.disk.forget(server_id);
        Ok(())
    }

    /// The server's volume.
    pub fn volume(&self, server_id: &str) -> PathBuf {
        self.volumes.join(server_id)
    }

    /// Every server on the node, re-attaching to running ones this agent
    /// does not follow yet (after an agent restart).
    pub async fn inventory(self: &Arc<Self>) -> Result<Vec<ServerStatus>, ServerError> {
        let rt = self.runtime().await?;
        let mut out = Vec::new();
        for (server_id, running) in rt.list_servers().await? {
            if rampart_proto::servers::check_server_id(&server_id).is_err() {
                continue;
            }
            let followed = self
                .attached
                .lock()
                .is_ok_and(|a| a.contains_key(&server_id));
            if running && !followed {
                self.attach(&rt, &server_id).await?;
            }
            out.push(ServerStatus { server_id, running });
        }
        Ok(out)
    }

    async fn attach(self: &Arc<Self>, rt: &Runtime, server_id: &str) -> Result<(), ServerError> {
        let attachment = rt.attach(&container_name(server_id), true).await?;
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut a) = self.attached.lock() {
            a.insert(
                server_id.to_owned(),
                Attached {
                    serial,
                    input: Arc::new(tokio::sync::Mutex::new(attachment.input)),
                },
            );
        }
        let me = self.clone();
        let rt = rt.clone();
        let server_id = server_id.to_owned();
        let mut output = attachment.output;
        tokio::spawn(async move {
            let mut splitter = LineSplitter::default();
            while let Some(Ok(chunk)) = output.next().await {
                splitter.feed(&chunk.into_bytes(), |line| {
                    me.events.push_line(&server_id, line);
                });
            }
            splitter.finish(|line| me.events.push_line(&server_id, line));
            let still_current = me
                .attached
                .lock()
                .ok()
                .is_some_and(|a| a.get(&server_id).is_some_and(|x| x.serial == serial));
            if still_current {
                me.detach(&server_id);
            }
            me.report_state(&rt, &server_id).await;
        });
        Ok(())
    }

    fn detach(&self, server_id: &str) {
        if let Ok(mut a) = self.attached.lock() {
            a.remove(server_id);
        }
    }
}

/// The install container's argv and environment. Without config files:
/// `<interpreter> -c <script>`. With them, a fixed `sh` script (our text,
/// holding nothing but indexes) writes each file from environment
/// variables, then runs the template's script the same way; paths and
/// contents never become shell code.
fn install_command(
    install: &rampart_proto::InstallSpec,
    env: &[(String, String)],
) -> (Vec<String>, Vec<(String, String)>) {
    if install.files.is_empty() {
        return (
            vec![
                install.interpreter.clone(),
                "-c".to_owned(),
                install.script.clone(),
            ],
            env.to_vec(),
        );
    }
    let mut env = env.to_vec();
    let mut script = String::from("set -e\n");
    for (i, (path, content)) in install.files.iter().enumerate() {
        env.push((format!("RAMPART_FILE_PATH_{i}"), path.clone()));
        env.push((format!("RAMPART_FILE_BODY_{i}"), content.clone()));
        script.push_str(&format!(
            "mkdir -p \"$(dirname \"$RAMPART_FILE_PATH_{i}\")\"\n\
             printf '%s' \"$RAMPART_FILE_BODY_{i}\" > \"$RAMPART_FILE_PATH_{i}\"\n"
        ));
    }
    if !install.script.trim().is_empty() {
        env.push((
            "RAMPART_INSTALL_INTERPRETER".into(),
            install.interpreter.clone(),
        ));
        env.push(("RAMPART_INSTALL_SCRIPT".into(), install.script.clone()));
        script.push_str("exec \"$RAMPART_INSTALL_INTERPRETER\" -c \"$RAMPART_INSTALL_SCRIPT\"\n");
    }
    (vec!["sh".into(), "-c".into(), script], env)
}

fn make_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_reach_the_install_script_as_variables_only() {
        let install = rampart_proto::InstallSpec {
            image: "img".into(),
            interpreter: "sh".into(),
            script: "echo done".into(),
            files: vec![("conf/$(reboot).txt".into(), "a\"; rm -rf / #\n$(id)".into())],
        };
        let (argv, env) = install_command(&install, &[("A".into(), "1".into())]);
        assert_eq!(argv[..2], ["sh".to_owned(), "-c".to_owned()]);
        assert!(
            !argv[2].contains("reboot") && !argv[2].contains("rm -rf"),
            "{}",
            argv[2]
        );
        assert!(env.contains(&("RAMPART_FILE_PATH_0".into(), "conf/$(reboot).txt".into())));
        assert!(env.contains(&("RAMPART_INSTALL_SCRIPT".into(), "echo done".into())));
        assert!(env.contains(&("A".into(), "1".into())));
        let plain = rampart_proto::InstallSpec {
            files: vec![],
            ..install
        };
        assert_eq!(install_command(&plain, &[]).0, ["sh", "-c", "echo done"]);
    }
}
