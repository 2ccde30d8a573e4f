//! Server services: create (template values validated, ports allocated,
//! the owner's cap held under concurrency), look up with authorization,
//! power actions through the state machine, delete, suspend, and the
//! agent's events and inventory applied to the store.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rampart_core::template::{TemplateError, render_argv, render_text, resolve};
use rampart_core::{
    AdminChange, Granted, NodeId, PowerAction, Principal, Resource, RuntimeEvent, Scope, ServerId,
    ServerState, UserId, authorize, is_visible,
};
use rampart_proto::{
    Command, CommandResult, InstallSpec, PowerSignal, RegistryAuth, ServerEvent, ServerLimits,
    ServerSpec, StopSpec,
};

use super::templates::TemplateDoc;
use crate::Services;
use crate::store::{CreateOutcome, NewServer, ServerRecord, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    BadRequest(String),
    #[error("not found")]
    NotFound,
    /// Authorized to see, not to do.
    #[error("insufficient scope")]
    Denied(Scope),
    #[error("{0}")]
    Conflict(String),
    #[error("you already have {0} servers, the most your account allows")]
    CapReached(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TemplateError> for ServerError {
    fn from(e: TemplateError) -> Self {
        ServerError::BadRequest(e.to_string())
    }
}

/// What a creation request asks for (validated here).
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub name: String,
    pub node_id: String,
    pub template_id: Option<String>,
    /// A direct image and startup command instead of a template (admins only).
    pub image: Option<String>,
    pub startup: Option<String>,
    pub env: BTreeMap<String, String>,
    /// None: the owner's plan's limits (or the defaults without a plan).
    pub limits: Option<ServerLimits>,
    pub ports: Vec<u16>,
    /// Create for another user (admins only).
    pub owner_id: Option<UserId>,
}

/// The limits a server gets when the request names none.
pub const DEFAULT_LIMITS: ServerLimits = ServerLimits {
    memory_mb: 512,
    cpu_percent: 100,
    pids: 256,
    disk_mb: 2048,
    io_weight: 500,
    swap_allowed: false,
};

fn check_limits(l: &ServerLimits) -> Result<(), ServerError> {
    let bad = |m: &str| Err(ServerError::BadRequest(m.to_owned()));
    if !(16..=1_048_576).contains(&l.memory_mb) {
        return bad("limits.memory_mb must be 16 to 1048576");
    }
    if !(1..=25_600).contains(&l.cpu_percent) {
        return bad("limits.cpu_percent must be 1 to 25600");
    }
    if !(16..=65_536).contains(&l.pids) {
        return bad("limits.pids must be 16 to 65536");
    }
    if l.disk_mb > 16 * 1_048_576 {
        return bad("limits.disk_mb is too large");
    }
    if !(10..=1000).contains(&l.io_weight) {
        return bad("limits.io_weight must be 10 to 1000");
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), ServerError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 64 || n.chars().any(char::is_control) {
        return Err(ServerError::BadRequest(
            "name must be 1 to 64 printable characters".into(),
        ));
    }
    Ok(())
}

pub fn state_of(s: &ServerRecord) -> ServerState {
    ServerState::parse(&s.state).unwrap_or(ServerState::Offline)
}

pub fn spec_of(s: &ServerRecord) -> Result<ServerSpec, ServerError> {
    serde_json::from_str(&s.spec_json)
        .map_err(|_| ServerError::Store(StoreError::Corrupt("server spec")))
}

impl Services {
    /// The server `id` if `principal` may use `scope` on it. Servers the
    /// principal may not see are [`ServerError::NotFound`], exactly like
    /// missing ones.
    pub async fn authorize_server(
        &self,
        principal: &Principal,
        id: &str,
        scope: Scope,
    ) -> Result<(ServerRecord, Granted), ServerError> {
        let id = ServerId::parse(id).ok_or(ServerError::NotFound)?;
        let server = self
            .store
            .get_server(&id)
            .await?
            .ok_or(ServerError::NotFound)?;
        let grant = if server.owner_id == principal.user {
            rampart_core::ScopeSet::EMPTY
        } else {
            self.store.server_grant(&id, principal.user).await?
        };
        let resource = Resource::Server {
            owner: server.owner_id,
            grant,
        };
        match authorize(principal, scope, resource) {
            Some(g) => Ok((server, g)),
            None if is_visible(principal, &resource) => Err(ServerError::Denied(scope)),
            None => Err(ServerError::NotFound),
        }
    }

    /// Servers `principal` may see.
    pub async fn visible_servers(
        &self,
        principal: &Principal,
    ) -> Result<Vec<ServerRecord>, ServerError> {
        let admin = principal.active && principal.scopes.contains(Scope::Admin);
        let all = self
            .store
            .list_servers(if admin { None } else { Some(principal.user) })
            .await?;
        if !principal.active || !principal.scopes.contains(Scope::ServerView) && !admin {
            return Ok(Vec::new());
        }
        Ok(all)
    }

    /// Creates a server (state `installing`) and asks its node to install it.
    pub async fn create_server(
        self: &Arc<Self>,
        granted: &Granted,
        req: CreateRequest,
    ) -> Result<ServerRecord, ServerError> {
        let principal = granted.principal();
        let privileged = principal.scopes.contains(Scope::Admin);
        check_name(&req.name)?;
        let owner = match req.owner_id {
            Some(o) if o != principal.user && !privileged => {
                return Err(ServerError::BadRequest(
                    "only administrators create servers for others".into(),
                ));
            }
            Some(o) => {
                self.store
                    .get_user(o)
                    .await?
                    .ok_or_else(|| ServerError::BadRequest("owner_id: no such user".into()))?;
                o
            }
            None => principal.user,
        };
        let limits = self.limits_for(owner, req.limits, privileged).await?;
        check_limits(&limits)?;
        let node_id = NodeId::parse(&req.node_id)
            .ok_or_else(|| ServerError::BadRequest("node_id: no such node".into()))?;
        let node = self
            .store
            .get_node(&node_id)
            .await?
            .filter(|n| n.revoked_at.is_none())
            .ok_or_else(|| ServerError::BadRequest("node_id: no such node".into()))?;
        if node.read_only {
            return Err(ServerError::Conflict(
                "the node's agent is read-only: it refuses every change".into(),
            ));
        }
        let doc = match (&req.template_id, &req.image) {
            (Some(t), None) => {
                let record = self.store.get_template(t).await?.ok_or_else(|| {
                    ServerError::BadRequest("template_id: no such template".into())
                })?;
                let mut doc = TemplateDoc::parse(&record.body).map_err(ServerError::BadRequest)?;
                if let Some(startup) = &req.startup {
                    if !privileged {
                        return Err(ServerError::BadRequest(
                            "only administrators may replace a template's startup command".into(),
                        ));
                    }
                    doc.startup = startup.clone();
                }
                doc
            }
            (None, Some(image)) => {
                if !privileged {
                    return Err(ServerError::BadRequest(
                        "only administrators create servers from an image; pick a template".into(),
                    ));
                }
                let startup = req.startup.clone().ok_or_else(|| {
                    ServerError::BadRequest("startup is required with image".into())
                })?;
                let json = serde_json::json!({
                    "id": "custom", "name": "custom", "image": image, "startup": startup,
                    "ports": req.ports.len().min(16),
                    "variables": req.env.keys().map(|k| serde_json::json!({
                        "name": k, "default": "", "rule": {"kind": "text", "max_len": 4096},
                        "user_editable": true
                    })).collect::<Vec<_>>(),
                });
                TemplateDoc::parse(&json.to_string()).map_err(ServerError::BadRequest)?
            }
            _ => {
                return Err(ServerError::BadRequest(
                    "give either template_id or image".into(),
                ));
            }
        };

        let values = resolve(&doc.variables(), &req.env, privileged)?;
        let id = ServerId::generate(self.rng.as_ref());
        // Ports: the ones asked for, or free ones from the node's range.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let ports = self
                .pick_ports(&node_id, &req.ports, doc.ports, privileged)
                .await?;
            let all = with_builtins(&values, ports.first(), limits.memory_mb);
            let argv = render_argv(&doc.startup, &all)?;
            let spec = ServerSpec {
                server_id: id.to_string(),
                owner: owner.0.to_string(),
                image: doc.image.clone(),
                argv,
                env: all.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                limits,
                ports: ports.clone(),
                capabilities: doc.capabilities.clone(),
                read_only_root: doc.read_only_root,
                stop: StopSpec {
                    command: doc.stop.command.clone(),
                    timeout_secs: doc.stop.timeout_secs,
                },
                install: install_spec(&doc, &all)?,
                registry: doc.registry.as_ref().map(|r| RegistryAuth {
                    username: r.username.clone(),
                    password: r.password.clone(),
                }),
            };
            spec.validate()
                .map_err(|e| ServerError::BadRequest(e.to_string()))?;
            let spec_json = serde_json::to_string(&spec).unwrap_or_default();
            let variables_json = serde_json::to_string(&values).unwrap_or_default();
            let outcome = self
                .store
                .create_server(&NewServer {
                    id: &id,
                    name: req.name.trim(),
                    owner_id: owner,
                    node_id: &node_id,
                    template_id: req.template_id.as_deref(),
                    spec_json: &spec_json,
                    variables_json: &variables_json,
                    state: ServerState::Installing.as_str(),
                    ports: &ports,
                    default_cap: self.settings.servers.max_per_user,
                    now: self.clock.now(),
                })
                .await?;
            match outcome {
                CreateOutcome::Created => break,
                CreateOutcome::CapReached(cap) => return Err(ServerError::CapReached(cap)),
                CreateOutcome::PortTaken if req.ports.is_empty() && attempts < 5 => continue,
                CreateOutcome::PortTaken => {
                    return Err(ServerError::Conflict(
                        "a port is already allocated to another server on this node".into(),
                    ));
                }
            }
        }
        let server = self
            .store
            .get_server(&id)
            .await?
            .ok_or(ServerError::NotFound)?;
        self.install(&server, false);
        Ok(server)
    }

    /// The limits a new server of `owner` gets: the plan's when none are
    /// asked for; asked ones may not exceed the plan (administrators may).
    async fn limits_for(
        &self,
        owner: UserId,
        asked: Option<ServerLimits>,
        privileged: bool,
    ) -> Result<ServerLimits, ServerError> {
        let plan = self.store.user_plan(owner).await?;
        let Some(plan) = plan else {
            return Ok(asked.unwrap_or(DEFAULT_LIMITS));
        };
        let planned = ServerLimits {
            memory_mb: u64::try_from(plan.memory_mb).unwrap_or(0),
            cpu_percent: u32::try_from(plan.cpu_percent).unwrap_or(0),
            pids: plan.pids,
            disk_mb: u64::try_from(plan.disk_mb).unwrap_or(0),
            ..DEFAULT_LIMITS
        };
        let Some(asked) = asked else {
            return Ok(planned);
        };
        let within = asked.memory_mb <= planned.memory_mb
            && asked.cpu_percent <= planned.cpu_percent
            && asked.pids <= planned.pids
            && asked.disk_mb <= planned.disk_mb
            && !asked.swap_allowed;
        if within || privileged {
            Ok(asked)
        } else {
            Err(ServerError::BadRequest(format!(
                "the limits exceed the plan {} ({} MiB, {} % CPU, {} pids, {} MiB disk, no swap)",
                plan.name, plan.memory_mb, plan.cpu_percent, plan.pids, plan.disk_mb
            )))
        }
    }

    async fn pick_ports(
        &self,
        node: &NodeId,
        asked: &[u16],
        wanted: u8,
        privileged: bool,
    ) -> Result<Vec<u16>, ServerError> {
        let (low, high) = self.settings.servers.port_range;
        if !asked.is_empty() {
            let mut sorted = asked.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.len() != asked.len() || asked.len() > 16 {
                return Err(ServerError::BadRequest(
                    "ports must be distinct (at most 16)".into(),
                ));
            }
            if !privileged && asked.iter().any(|p| *p < low || *p > high) {
                return Err(ServerError::BadRequest(format!(
                    "ports must be within the node's range {low}-{high}"
                )));
            }
            if asked.contains(&0) {
                return Err(ServerError::BadRequest("port 0 is not a port".into()));
            }
            return Ok(asked.to_vec());
        }
        let used = self.store.ports_in_use(node).await?;
        let mut free = (low..=high).filter(|p| !used.contains(p));
        let mut out = Vec::new();
        for _ in 0..wanted {
            out.push(free.next().ok_or_else(|| {
                ServerError::Conflict("the node has no free port left in its range".into())
            })?);
        }
        Ok(out)
    }

    /// Asks the node to (re)install the server; the state follows the answer.
    pub fn install(self: &Arc<Self>, server: &ServerRecord, wipe: bool) {
        self.recreate(server, wipe, true);
    }

    /// (Re)creates the server's container on its node, running the install
    /// step when `run_install`; the state follows the answer.
    fn recreate(self: &Arc<Self>, server: &ServerRecord, wipe: bool, run_install: bool) {
        let me = self.clone();
        let server = server.clone();
        tokio::spawn(async move {
            let outcome = match spec_of(&server) {
                Ok(mut spec) => {
                    if !run_install {
                        spec.install = None;
                    }
                    me.hub
                        .request(
                            &server.node_id,
                            Command::CreateServer {
                                server: Box::new(spec),
                                wipe,
                            },
                            Duration::from_secs(30 * 60),
                        )
                        .await
                }
                Err(_) => Ok(CommandResult::Failed {
                    reason: "the server's stored spec is unreadable".into(),
                }),
            };
            let (event, error) = match outcome {
                Ok(CommandResult::Done) => (RuntimeEvent::InstallFinished, String::new()),
                Ok(CommandResult::Refused { reason } | CommandResult::Failed { reason }) => {
                    (RuntimeEvent::InstallFailed, reason)
                }
                Ok(_) => (RuntimeEvent::InstallFailed, "unexpected answer".into()),
                Err(e) => (RuntimeEvent::InstallFailed, e.to_string()),
            };
            if !error.is_empty() {
                me.consoles.push_lines(
                    server.id.as_str(),
                    vec![format!("[rampart] install failed: {error}")],
                    0,
                );
            }
            me.apply_runtime_event(&server.id, event, &error).await;
        });
    }

    /// Applies a runtime event to the stored state.
    async fn apply_runtime_event(&self, id: &ServerId, event: RuntimeEvent, error: &str) {
        let Ok(Some(server)) = self.store.get_server(id).await else {
            return;
        };
        let next = state_of(&server).on_event(event);
        if self
            .store
            .set_server_state(id, next.as_str(), error)
            .await
            .is_ok()
        {
            self.consoles.push_state(id.as_str(), next.as_str());
        }
    }

    /// A power action: checked against the state machine, then sent to the
    /// node; returns once the action is under way.
    pub async fn power(
        self: &Arc<Self>,
        granted: &Granted,
        server: &ServerRecord,
        action: PowerAction,
    ) -> Result<ServerState, ServerError> {
        debug_assert!(granted.scope() == Scope::ServerStart);
        let state = state_of(server);
        let next = state
            .on_action(action)
            .map_err(|e| ServerError::Conflict(e.to_string()))?;
        if !self.hub.is_connected(&server.node_id) {
            return Err(ServerError::Conflict("the server's node is offline".into()));
        }
        if !self
            .store
            .swap_server_state(&server.id, state.as_str(), next.as_str())
            .await?
        {
            return Err(ServerError::Conflict(
                "the server's state changed meanwhile; try again".into(),
            ));
        }
        self.consoles.push_state(server.id.as_str(), next.as_str());
        let spec = spec_of(server)?;
        let signal = match action {
            PowerAction::Start => PowerSignal::Start,
            PowerAction::Stop => PowerSignal::Stop,
            PowerAction::Restart => PowerSignal::Restart,
            PowerAction::Kill => PowerSignal::Kill,
        };
        let me = self.clone();
        let id = server.id.clone();
        let node = server.node_id.clone();
        tokio::spawn(async move {
            let wait = Duration::from_secs(u64::from(spec.stop.timeout_secs) * 2 + 60);
            let result = me
                .hub
                .request(
                    &node,
                    Command::Power {
                        server_id: id.to_string(),
                        signal,
                        stop: spec.stop.clone(),
                    },
                    wait,
                )
                .await;
            let failure = match result {
                Ok(CommandResult::Done) => None,
                Ok(CommandResult::Refused { reason } | CommandResult::Failed { reason }) => {
                    Some(reason)
                }
                Ok(_) => Some("unexpected answer".to_owned()),
                Err(e) => Some(e.to_string()),
            };
            let event = match (signal, &failure) {
                // A start is confirmed by the agent's state event (the
                // server may even have exited already).
                (PowerSignal::Start | PowerSignal::Restart, None) => return,
                (PowerSignal::Stop | PowerSignal::Kill, None) => RuntimeEvent::ContainerExited,
                // A failed start leaves it stopped; a failed stop, running.
                (PowerSignal::Start | PowerSignal::Restart, Some(_)) => {
                    RuntimeEvent::ContainerExited
                }
                (PowerSignal::Stop | PowerSignal::Kill, Some(_)) => RuntimeEvent::ContainerStarted,
            };
            if let Some(reason) = &failure {
                me.consoles.push_lines(
                    id.as_str(),
                    vec![format!("[rampart] {} failed: {reason}", action.as_str())],
                    0,
                );
            }
            me.apply_runtime_event(&id, event, failure.as_deref().unwrap_or(""))
                .await;
        });
        Ok(next)
    }

    /// Renames the server and/or changes its variables. New values are
    /// checked like at creation; the container is then recreated with the
    /// new command and environment (its files stay; no install step runs),
    /// so the server must be offline.
    pub async fn update_server(
        self: &Arc<Self>,
        granted: &Granted,
        server: &ServerRecord,
        name: Option<&str>,
        env: Option<&BTreeMap<String, String>>,
    ) -> Result<ServerRecord, ServerError> {
        debug_assert!(granted.scope() == Scope::ServerEdit);
        let privileged = granted.principal().scopes.contains(Scope::Admin);
        let name = match name {
            Some(n) => {
                check_name(n)?;
                n.trim().to_owned()
            }
            None => server.name.clone(),
        };
        let mut spec = spec_of(server)?;
        let mut variables_json = server.variables_json.clone();
        if let Some(env) = env {
            if state_of(server) != ServerState::Offline {
                return Err(ServerError::Conflict(
                    "stop the server before changing its variables".into(),
                ));
            }
            let template_id = server.template_id.as_deref().ok_or_else(|| {
                ServerError::BadRequest("this server has no template; reinstall it from one".into())
            })?;
            let record = self.store.get_template(template_id).await?.ok_or_else(|| {
                ServerError::Conflict("the server's template no longer exists".into())
            })?;
            let doc = TemplateDoc::parse(&record.body).map_err(ServerError::Conflict)?;
            let mut given: BTreeMap<String, String> =
                serde_json::from_str(&server.variables_json).unwrap_or_default();
            given.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
            // Only what the request names must be editable by the caller.
            let values = {
                let changed: BTreeMap<String, String> = env.clone();
                resolve(&doc.variables(), &changed, privileged)?;
                resolve(&doc.variables(), &given, true)?
            };
            let all = with_builtins(&values, server.ports.first(), spec.limits.memory_mb);
            spec.argv = render_argv(&doc.startup, &all)?;
            spec.env = all.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            spec.install = install_spec(&doc, &all)?;
            spec.validate()
                .map_err(|e| ServerError::BadRequest(e.to_string()))?;
            variables_json = serde_json::to_string(&values).unwrap_or_default();
        }
        let spec_json = serde_json::to_string(&spec).unwrap_or_default();
        if !self
            .store
            .update_server(&server.id, &name, &spec_json, &variables_json)
            .await?
        {
            return Err(ServerError::NotFound);
        }
        let updated = self
            .store
            .get_server(&server.id)
            .await?
            .ok_or(ServerError::NotFound)?;
        if env.is_some() {
            if !self
                .store
                .swap_server_state(&server.id, "offline", ServerState::Installing.as_str())
                .await?
            {
                return Err(ServerError::Conflict(
                    "the server's state changed meanwhile; try again".into(),
                ));
            }
            self.recreate(&updated, false, false);
        }
        Ok(updated)
    }

    /// Sends one console line to the server.
    pub async fn send_input(
        &self,
        granted: &Granted,
        server: &ServerRecord,
        line: &str,
    ) -> Result<(), ServerError> {
        debug_assert!(granted.scope() == Scope::ServerConsole);
        rampart_proto::servers::check_input_line(line).map_err(|_| {
            ServerError::BadRequest(
                "a command is one line of at most 1024 printable characters".into(),
            )
        })?;
        if state_of(server) != ServerState::Running {
            return Err(ServerError::Conflict("the server is not running".into()));
        }
        let result = self
            .hub
            .request(
                &server.node_id,
                Command::Input {
                    server_id: server.id.to_string(),
                    line: line.to_owned(),
                },
                Duration::from_secs(10),
            )
            .await
            .map_err(|e| ServerError::Conflict(e.to_string()))?;
        match result {
            CommandResult::Done => Ok(()),
            CommandResult::Refused { reason } | CommandResult::Failed { reason } => {
                Err(ServerError::Conflict(reason))
            }
            _ => Err(ServerError::Conflict("unexpected answer".into())),
        }
    }

    /// Deletes the server on its node, then its records.
    pub async fn delete_server(
        &self,
        granted: &Granted,
        server: &ServerRecord,
    ) -> Result<(), ServerError> {
        debug_assert!(granted.scope() == Scope::ServerEdit);
        let result = self
            .hub
            .request(
                &server.node_id,
                Command::DeleteServer {
                    server_id: server.id.to_string(),
                },
                Duration::from_secs(120),
            )
            .await
            .map_err(|e| ServerError::Conflict(format!("the node could not delete it: {e}")))?;
        match result {
            CommandResult::Done => {}
            CommandResult::Refused { reason } | CommandResult::Failed { reason } => {
                return Err(ServerError::Conflict(format!(
                    "the node could not delete it: {reason}"
                )));
            }
            _ => return Err(ServerError::Conflict("unexpected answer".into())),
        }
        self.store.delete_server(&server.id).await?;
        // Open SFTP sessions on it end at their next operation.
        self.consoles.access_changed(server.id.as_str());
        self.consoles.remove(server.id.as_str());
        Ok(())
    }

    /// Suspends (stopping it) or unsuspends; reinstalls.
    pub async fn admin_change(
        self: &Arc<Self>,
        granted: &Granted,
        server: &ServerRecord,
        change: AdminChange,
    ) -> Result<ServerState, ServerError> {
        debug_assert!(granted.scope() == Scope::ServerEdit);
        let state = state_of(server);
        let next = state
            .on_admin(change)
            .map_err(|e| ServerError::Conflict(e.to_string()))?;
        if change == AdminChange::Suspend && !granted.principal().scopes.contains(Scope::Admin) {
            return Err(ServerError::Denied(Scope::Admin));
        }
        if change == AdminChange::Unsuspend && !granted.principal().scopes.contains(Scope::Admin) {
            return Err(ServerError::Denied(Scope::Admin));
        }
        if !self
            .store
            .swap_server_state(&server.id, state.as_str(), next.as_str())
            .await?
        {
            return Err(ServerError::Conflict(
                "the server's state changed meanwhile; try again".into(),
            ));
        }
        self.consoles.push_state(server.id.as_str(), next.as_str());
        match change {
            AdminChange::Suspend => {
                self.consoles.access_changed(server.id.as_str());
                let spec = spec_of(server)?;
                let _ = self
                    .hub
                    .request(
                        &server.node_id,
                        Command::Power {
                            server_id: server.id.to_string(),
                            signal: PowerSignal::Stop,
                            stop: spec.stop,
                        },
                        Duration::from_secs(120),
                    )
                    .await;
            }
            AdminChange::Reinstall => self.install(server, false),
            AdminChange::Unsuspend => {}
        }
        Ok(next)
    }

    /// Grants `scopes` on the server to `user` (replacing an earlier grant);
    /// open consoles re-check their access at once.
    pub async fn grant_server(
        &self,
        granted: &Granted,
        server: &ServerRecord,
        user: UserId,
        scopes: rampart_core::ScopeSet,
    ) -> Result<(), ServerError> {
        debug_assert!(granted.scope() == Scope::ServerEdit);
        if scopes.iter().any(|s| !s.is_server_scope()) || scopes.is_empty() {
            return Err(ServerError::BadRequest(
                "grant one or more server.* scopes".into(),
            ));
        }
        if user == server.owner_id {
            return Err(ServerError::BadRequest(
                "the owner already has every scope".into(),
            ));
        }
        if self.store.get_user(user).await?.is_none() {
            return Err(ServerError::BadRequest("user_id: no such user".into()));
        }
        self.store
            .put_server_grant(&server.id, user, scopes, self.clock.now())
            .await?;
        self.consoles.access_changed(server.id.as_str());
        Ok(())
    }

    pub async fn revoke_server_grant(
        &self,
        granted: &Granted,
        server: &ServerRecord,
        user: UserId,
    ) -> Result<bool, ServerError> {
        debug_assert!(granted.scope() == Scope::ServerEdit);
        let removed = self.store.delete_server_grant(&server.id, user).await?;
        self.consoles.access_changed(server.id.as_str());
        Ok(removed)
    }

    /// Applies a batch of events from `node`'s agent (only for servers on
    /// that node: an agent cannot speak for another node's servers).
    pub async fn apply_server_events(&self, node: &NodeId, events: Vec<ServerEvent>) {
        for event in events {
            let server_id = match &event {
                ServerEvent::State { server_id, .. }
                | ServerEvent::Console { server_id, .. }
                | ServerEvent::Stats { server_id, .. } => server_id.clone(),
            };
            let Some(id) = ServerId::parse(&server_id) else {
                continue;
            };
            let on_node = match self.store.get_server(&id).await {
                Ok(Some(s)) => s.node_id == *node,
                _ => false,
            };
            if !on_node {
                tracing::warn!(%node, server = %server_id, "agent sent an event for a server not on its node");
                continue;
            }
            match event {
                ServerEvent::Console { lines, dropped, .. } => {
                    self.consoles.push_lines(&server_id, lines, dropped);
                }
                ServerEvent::Stats { stats, .. } => {
                    self.consoles
                        .push_stats(&server_id, self.clock.now().0, stats);
                }
                ServerEvent::State { running, .. } => {
                    let event = if running {
                        RuntimeEvent::ContainerStarted
                    } else {
                        RuntimeEvent::ContainerExited
                    };
                    self.apply_runtime_event(&id, event, "").await;
                }
            }
        }
    }

    /// After an agent (re)connects: asks for its inventory, re-attaching it
    /// to running servers, and sets every server's state from Docker's.
    pub async fn reconcile_node(&self, node: &NodeId) {
        let inventory = match self
            .hub
            .request(node, Command::Inventory, Duration::from_secs(60))
            .await
        {
            Ok(CommandResult::Inventory { servers }) => servers,
            Ok(other) => {
                tracing::info!(%node, answer = ?other, "no inventory from the node");
                return;
            }
            Err(e) => {
                tracing::warn!(%node, error = %e, "inventory request failed");
                return;
            }
        };
        let Ok(ours) = self.store.servers_on_node(node).await else {
            return;
        };
        for server in ours {
            let state = state_of(&server);
            let seen = inventory.iter().find(|s| s.server_id == server.id.as_str());
            let event = match (state, seen) {
                (ServerState::Installing | ServerState::Suspended, _) | (_, None) => continue,
                (_, Some(s)) if s.running => RuntimeEvent::ContainerStarted,
                (_, Some(_)) => RuntimeEvent::ContainerExited,
            };
            self.apply_runtime_event(&server.id, event, "").await;
        }
    }
}

/// The server's values plus the built-in `SERVER_PORT` (its first port)
/// and `SERVER_MEMORY` (MiB).
fn with_builtins(
    values: &BTreeMap<String, String>,
    first_port: Option<&u16>,
    memory_mb: u64,
) -> BTreeMap<String, String> {
    let mut all = values.clone();
    all.insert(
        "SERVER_PORT".into(),
        first_port.map(u16::to_string).unwrap_or_default(),
    );
    all.insert("SERVER_MEMORY".into(), memory_mb.to_string());
    all
}

/// The install step: the template's script, and its config files rendered
/// with the server's own values (a template with files but no script gets
/// a step that only writes them, in the server's image).
fn install_spec(
    doc: &TemplateDoc,
    values: &BTreeMap<String, String>,
) -> Result<Option<InstallSpec>, ServerError> {
    let files = doc
        .config_files
        .iter()
        .map(|f| Ok((f.path.clone(), render_text(&f.content, values)?)))
        .collect::<Result<Vec<_>, TemplateError>>()?;
    Ok(match (&doc.install, files.is_empty()) {
        (Some(i), _) => Some(InstallSpec {
            image: i.image.clone(),
            interpreter: i.interpreter.clone(),
            script: i.script.clone(),
            files,
        }),
        (None, false) => Some(InstallSpec {
            image: doc.image.clone(),
            interpreter: "sh".into(),
            script: String::new(),
            files,
        }),
        (None, true) => None,
    })
}
