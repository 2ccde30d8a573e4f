//! Containers through the Docker Engine API (bollard), with the API version
//! negotiated with the engine (bollard defaults to a newer one than many
//! engines speak). Every container is created with the isolation policy's
//! `HostConfig` and carries the label `rampart.server_id`.

use std::collections::HashMap;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptions, LogsOptions, RemoveContainerOptions, StartContainerOptions,
    WaitContainerOptions,
};
use futures_util::StreamExt;

use super::isolation::{IsolationInput, host_config};

/// The label every Rampart container carries.
pub const SERVER_LABEL: &str = "rampart.server_id";
/// The label of an owner's network.
pub const OWNER_LABEL: &str = "rampart.owner";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("Docker Engine: {0}")]
    Docker(#[from] bollard::errors::Error),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ContainerSpec<'a> {
    pub name: &'a str,
    pub server_id: &'a str,
    pub image: &'a str,
    /// argv, never a shell string built from user data.
    pub cmd: &'a [String],
    pub env: &'a [(String, String)],
    /// Keep stdin open (for console input).
    pub stdin: bool,
    pub working_dir: Option<&'a str>,
    pub isolation: IsolationInput<'a>,
}

/// A container's output stream and stdin.
pub type Attachment = bollard::container::AttachContainerResults;

/// Raw counters of one container at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// CPU time used, nanoseconds.
    pub cpu_total: u64,
    /// CPU time of the whole host, nanoseconds.
    pub system: u64,
    pub online_cpus: u32,
    pub memory: u64,
    pub memory_limit: u64,
    pub rx: u64,
    pub tx: u64,
}

/// A connection to the local engine.
#[derive(Debug, Clone)]
pub struct Runtime {
    docker: Docker,
}

impl Runtime {
    pub async fn connect() -> Result<Runtime, RuntimeError> {
        let docker = Docker::connect_with_unix_defaults()?
            .negotiate_version()
            .await?;
        Ok(Runtime { docker })
    }

    /// Creates the container; its id.
    pub async fn create(&self, spec: &ContainerSpec<'_>) -> Result<String, RuntimeError> {
        let mut labels = HashMap::new();
        labels.insert(SERVER_LABEL.to_owned(), spec.server_id.to_owned());
        let body = ContainerCreateBody {
            image: Some(spec.image.to_owned()),
            cmd: Some(spec.cmd.to_vec()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(labels),
            exposed_ports: Some(
                spec.isolation
                    .ports
                    .iter()
                    .map(|p| format!("{p}/tcp"))
                    .collect(),
            ),
            host_config: Some(host_config(&spec.isolation)),
            open_stdin: Some(spec.stdin),
            attach_stdin: Some(spec.stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            stdin_once: Some(false),
            tty: Some(false),
            working_dir: spec.working_dir.map(str::to_owned),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(spec.name.to_owned()),
            ..Default::default()
        };
        Ok(self.docker.create_container(Some(options), body).await?.id)
    }

    pub async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await?;
        Ok(())
    }

    /// Waits for the container to exit; its exit code.
    pub async fn wait(&self, id: &str) -> Result<i64, RuntimeError> {
        let mut stream = self.docker.wait_container(id, None::<WaitContainerOptions>);
        let mut code = 0;
        while let Some(item) = stream.next().await {
            match item {
                Ok(r) => code = r.status_code,
                // A non-zero exit arrives as an error carrying the code.
                Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => code = c,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(code)
    }

    /// Everything the container printed (stdout and stderr), as text.
    pub async fn output(&self, id: &str) -> Result<String, RuntimeError> {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: "all".to_owned(),
            ..Default::default()
        };
        let mut stream = self.docker.logs(id, Some(options));
        let mut out = String::new();
        while let Some(chunk) = stream.next().await {
            match chunk? {
                LogOutput::StdOut { message }
                | LogOutput::StdErr { message }
                | LogOutput::Console { message } => {
                    out.push_str(&String::from_utf8_lossy(&message));
                }
                LogOutput::StdIn { .. } => {}
            }
        }
        Ok(out)
    }

    /// The engine's view of the container's host configuration.
    pub async fn inspect_host_config(
        &self,
        id: &str,
    ) -> Result<Option<bollard::models::HostConfig>, RuntimeError> {
        Ok(self.docker.inspect_container(id, None).await?.host_config)
    }

    /// Makes sure the owner's own bridge network exists (one per owner:
    /// containers of different owners sit on different bridges, which the
    /// engine keeps apart).
    pub async fn ensure_owner_network(&self, name: &str, owner: &str) -> Result<(), RuntimeError> {
        if self.docker.inspect_network(name, None).await.is_ok() {
            return Ok(());
        }
        let mut labels = HashMap::new();
        labels.insert(OWNER_LABEL.to_owned(), owner.to_owned());
        let request = bollard::models::NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".to_owned()),
            labels: Some(labels),
            ..Default::default()
        };
        self.docker.create_network(request).await?;
        Ok(())
    }

    pub async fn remove_network(&self, name: &str) -> Result<(), RuntimeError> {
        self.docker.remove_network(name).await?;
        Ok(())
    }

    /// The container's address on `network`, if attached.
    pub async fn address_on(
        &self,
        id: &str,
        network: &str,
    ) -> Result<Option<String>, RuntimeError> {
        let info = self.docker.inspect_container(id, None).await?;
        Ok(info
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|mut nets| nets.remove(network))
            .and_then(|e| e.ip_address)
            .filter(|ip| !ip.is_empty()))
    }

    /// Attaches to the container's stdin (when it was created with it),
    /// stdout and stderr from now on.
    pub async fn attach(&self, id: &str, stdin: bool) -> Result<Attachment, RuntimeError> {
        let options = bollard::query_parameters::AttachContainerOptions {
            stdin,
            stdout: true,
            stderr: true,
            stream: true,
            logs: false,
            detach_keys: None,
        };
        Ok(self.docker.attach_container(id, Some(options)).await?)
    }

    /// SIGTERM, then SIGKILL after `timeout_secs` (the engine does both).
    pub async fn stop(&self, id: &str, timeout_secs: u32) -> Result<(), RuntimeError> {
        let options = bollard::query_parameters::StopContainerOptions {
            signal: None,
            t: Some(i32::try_from(timeout_secs).unwrap_or(i32::MAX)),
        };
        match self.docker.stop_container(id, Some(options)).await {
            // 304: already stopped.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            })
            | Ok(()) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn kill(&self, id: &str) -> Result<(), RuntimeError> {
        let options = bollard::query_parameters::KillContainerOptions {
            signal: "SIGKILL".to_owned(),
        };
        match self.docker.kill_container(id, Some(options)).await {
            // 409: not running.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            })
            | Ok(()) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the container runs and its last exit code; None if it does not exist.
    pub async fn state(&self, id: &str) -> Result<Option<(bool, Option<i64>)>, RuntimeError> {
        match self.docker.inspect_container(id, None).await {
            Ok(info) => {
                let state = info.state.unwrap_or_default();
                Ok(Some((state.running.unwrap_or(false), state.exit_code)))
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every Rampart container: (server id, running).
    pub async fn list_servers(&self) -> Result<Vec<(String, bool)>, RuntimeError> {
        let mut filters = HashMap::new();
        filters.insert("label".to_owned(), vec![SERVER_LABEL.to_owned()]);
        let options = bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        Ok(self
            .docker
            .list_containers(Some(options))
            .await?
            .into_iter()
            .filter_map(|c| {
                let id = c.labels?.remove(SERVER_LABEL)?;
                let running = c
                    .state
                    .is_some_and(|s| s == bollard::models::ContainerSummaryStateEnum::RUNNING);
                Some((id, running))
            })
            .collect())
    }

    /// Pulls `image`, reporting progress lines (one per layer and status
    /// change, not per byte).
    pub async fn pull(
        &self,
        image: &str,
        auth: Option<(&str, &str)>,
        mut progress: impl FnMut(String),
    ) -> Result<(), RuntimeError> {
        let options = bollard::query_parameters::CreateImageOptions {
            from_image: Some(image.to_owned()),
            ..Default::default()
        };
        let credentials = auth.map(|(username, password)| bollard::auth::DockerCredentials {
            username: Some(username.to_owned()),
            password: Some(password.to_owned()),
            ..Default::default()
        });
        let mut stream = self.docker.create_image(Some(options), None, credentials);
        let mut last = std::collections::HashMap::new();
        while let Some(info) = stream.next().await {
            let info = info?;
            let status = info.status.unwrap_or_default();
            let id = info.id.unwrap_or_default();
            if last.get(&id) != Some(&status) {
                progress(if id.is_empty() {
                    status.clone()
                } else {
                    format!("{id}: {status}")
                });
                last.insert(id, status);
            }
        }
        Ok(())
    }

    /// Whether the image is present locally.
    pub async fn has_image(&self, image: &str) -> Result<bool, RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// One sample of the container's counters (no waiting for a second
    /// sample: the caller keeps the previous one).
    pub async fn sample(&self, id: &str) -> Result<Option<Sample>, RuntimeError> {
        let options = bollard::query_parameters::StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stream = self.docker.stats(id, Some(options));
        let Some(stats) = stream.next().await.transpose()? else {
            return Ok(None);
        };
        let cpu = stats.cpu_stats.unwrap_or_default();
        let memory = stats.memory_stats.unwrap_or_default();
        let (rx, tx) = stats
            .networks
            .unwrap_or_default()
            .values()
            .fold((0, 0), |(rx, tx), n| {
                (rx + n.rx_bytes.unwrap_or(0), tx + n.tx_bytes.unwrap_or(0))
            });
        Ok(Some(Sample {
            cpu_total: cpu.cpu_usage.and_then(|u| u.total_usage).unwrap_or(0),
            system: cpu.system_cpu_usage.unwrap_or(0),
            online_cpus: cpu.online_cpus.unwrap_or(1),
            memory: memory.usage.unwrap_or(0),
            memory_limit: memory.limit.unwrap_or(0),
            rx,
            tx,
        }))
    }

    /// Removes the container if it exists.
    pub async fn remove_if_exists(&self, id: &str) -> Result<(), RuntimeError> {
        match self.remove(id).await {
            Err(RuntimeError::Docker(bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                ..
            })) => Ok(()),
            other => other,
        }
    }

    /// Removes the container (forcefully) with its anonymous volumes.
    pub async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        self.docker.remove_container(id, Some(options)).await?;
        Ok(())
    }
}
