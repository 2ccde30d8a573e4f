//! `/api/v1/servers`: create, list, get, power, console command, reinstall,
//! suspend, delete, stats history and sub-users. Every `{id}` route answers
//! 404 for a server the caller may not see, exactly like a missing one.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rampart_core::{AdminChange, PowerAction, Resource, Scope, ScopeSet, UserId};
use rampart_proto::ServerLimits;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::ApiCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::types::ErrorBody;
use crate::Services;
use crate::audit::{AuditNote, EventType};
use crate::servers::{CreateRequest, DEFAULT_LIMITS, ServerError, spec_of, state_of};
use crate::store::ServerRecord;

impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> ApiError {
        match e {
            ServerError::BadRequest(m) => ApiError::bad_request(m),
            ServerError::NotFound => ApiError::not_found(),
            ServerError::Denied(scope) => ApiError::insufficient_scope(scope, false),
            ServerError::Conflict(m) => ApiError::conflict(m),
            e @ ServerError::CapReached(_) => ApiError::conflict(e.to_string()),
            ServerError::Store(s) => ApiError::internal(&s),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub memory_mb: u64,
    pub cpu_percent: u32,
    pub pids: i64,
    pub disk_mb: u64,
    #[serde(default = "default_io_weight")]
    pub io_weight: u16,
    #[serde(default)]
    pub swap_allowed: bool,
}

fn default_io_weight() -> u16 {
    DEFAULT_LIMITS.io_weight
}

impl From<Limits> for ServerLimits {
    fn from(l: Limits) -> ServerLimits {
        ServerLimits {
            memory_mb: l.memory_mb,
            cpu_percent: l.cpu_percent,
            pids: l.pids,
            disk_mb: l.disk_mb,
            io_weight: l.io_weight,
            swap_allowed: l.swap_allowed,
        }
    }
}

impl From<ServerLimits> for Limits {
    fn from(l: ServerLimits) -> Limits {
        Limits {
            memory_mb: l.memory_mb,
            cpu_percent: l.cpu_percent,
            pids: l.pids,
            disk_mb: l.disk_mb,
            io_weight: l.io_weight,
            swap_allowed: l.swap_allowed,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServer {
    pub name: String,
    pub node_id: String,
    pub template_id: Option<String>,
    /// Admins only: run this image instead of a template's.
    pub image: Option<String>,
    /// Admins only: the startup command (argv, `{{VARIABLE}}` placeholders).
    pub startup: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub limits: Option<Limits>,
    #[serde(default)]
    pub ports: Vec<u16>,
    /// Admins only: the owner, when not the caller.
    pub owner_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Server {
    pub id: String,
    pub name: String,
    /// installing, offline, starting, running, stopping or suspended.
    pub state: String,
    pub owner_id: i64,
    pub node_id: String,
    pub template_id: Option<String>,
    pub image: String,
    pub limits: Limits,
    pub ports: Vec<u16>,
    /// Why the last install or power action failed, if it did.
    pub last_error: String,
    pub created_at: i64,
    /// The template variables' values.
    pub variables: BTreeMap<String, String>,
    /// Where and as whom the caller reaches this server's files over SFTP
    /// (on `GET /api/v1/servers/{id}`; the password is the panel password).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sftp: Option<SftpInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SftpInfo {
    pub host: String,
    pub port: u16,
    pub username: String,
    /// The node's SSH host key fingerprint (`SHA256:…`, as `ssh-keygen -l`
    /// prints it) to compare on first connection; null while the node's
    /// agent is offline.
    pub host_key_fingerprint: Option<String>,
}

impl Server {
    fn from_record(s: &ServerRecord) -> Result<Server, ApiError> {
        let spec = spec_of(s)?;
        Ok(Server {
            id: s.id.to_string(),
            name: s.name.clone(),
            state: state_of(s).as_str().to_owned(),
            owner_id: s.owner_id.0,
            node_id: s.node_id.to_string(),
            template_id: s.template_id.clone(),
            image: spec.image,
            limits: spec.limits.into(),
            ports: s.ports.clone(),
            last_error: s.last_error.clone(),
            created_at: s.created_at.0,
            variables: serde_json::from_str(&s.variables_json).unwrap_or_default(),
            sftp: None,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServerList {
    pub items: Vec<Server>,
}

/// The audit note of an action on server `id`.
fn server_note(action: &'static str, id: &str) -> AuditNote {
    AuditNote::new(EventType::Audit, action).target(format!("server:{id}"))
}

fn with_note(mut res: Response, note: AuditNote) -> Response {
    res.extensions_mut().insert(note);
    res
}

fn noted(res: Response, action: &'static str, id: &str) -> Response {
    with_note(res, server_note(action, id))
}

#[utoipa::path(get, path = "/api/v1/servers", tag = "servers",
    responses((status = 200, body = ServerList)),
    security(("bearer" = ["server.view"]), ("session" = [])))]
pub async fn list(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
) -> Result<Json<ServerList>, ApiError> {
    let items = services
        .visible_servers(&caller.principal)
        .await?
        .iter()
        .map(Server::from_record)
        .collect::<Result<_, _>>()?;
    Ok(Json(ServerList { items }))
}

#[utoipa::path(post, path = "/api/v1/servers", tag = "servers", request_body = NewServer,
    responses((status = 201, body = Server), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["server.edit"]), ("session" = [])))]
pub async fn create(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<NewServer>,
) -> Result<Response, ApiError> {
    let granted = caller.require(Scope::ServerEdit, Resource::Global)?;
    let req = CreateRequest {
        name: body.name,
        node_id: body.node_id,
        template_id: body.template_id,
        image: body.image,
        startup: body.startup,
        env: body.env,
        limits: body.limits.map(Into::into),
        ports: body.ports,
        owner_id: body.owner_id.map(UserId),
    };
    let server = services.create_server(&granted, req).await?;
    let id = server.id.to_string();
    Ok(noted(
        (StatusCode::CREATED, Json(Server::from_record(&server)?)).into_response(),
        "server.create",
        &id,
    ))
}

#[utoipa::path(get, path = "/api/v1/servers/{id}", tag = "servers", params(("id" = String, Path)),
    responses((status = 200, body = Server), (status = 404, body = ErrorBody)),
    security(("bearer" = ["server.view"]), ("session" = [])))]
pub async fn get(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Server>, ApiError> {
    let (server, _) = services
        .authorize_server(&caller.principal, &id, Scope::ServerView)
        .await?;
    let mut out = Server::from_record(&server)?;
    let node = services.store.get_node(&server.node_id).await?;
    let user = services.store.get_user(caller.principal.user).await?;
    if let (Some(node), Some(user)) = (node, user) {
        out.sftp = Some(SftpInfo {
            host: if node.public_address.is_empty() {
                "127.0.0.1".to_owned()
            } else {
                node.public_address
            },
            port: u16::try_from(node.sftp_port).unwrap_or(5657),
            username: crate::servers::sftp::sftp_username(
                user.username.as_str(),
                server.id.as_str(),
            ),
            host_key_fingerprint: services.hub.sftp_host_key(&server.node_id),
        });
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerPatch {
    pub name: Option<String>,
    /// New values of template variables (the server must be offline).
    pub env: Option<BTreeMap<String, String>>,
}

#[utoipa::path(patch, path = "/api/v1/servers/{id}", tag = "servers", params(("id" = String, Path)), request_body = ServerPatch,
    responses((status = 200, body = Server), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["server.edit"]), ("session" = [])))]
pub async fn patch(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ServerPatch>,
) -> Result<Response, ApiError> {
    let (server, granted) = services
        .authorize_server(&caller.principal, &id, Scope::ServerEdit)
        .await?;
    if body.name.is_none() && body.env.is_none() {
        return Err(ApiError::bad_request("nothing to change"));
    }
    let updated = services
        .update_server(&granted, &server, body.name.as_deref(), body.env.as_ref())
        .await?;
    Ok(noted(
        Json(Server::from_record(&updated)?).into_response(),
        "server.update",
        updated.id.as_str(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Power {
    /// start, stop, restart or kill.
    pub action: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub id: String,
    /// The state the server moved to.
    pub state: String,
}

pub fn parse_action(a: &str) -> Option<PowerAction> {
    PowerAction::parse(a)
}

#[utoipa::path(post, path = "/api/v1/servers/{id}/power", tag = "servers", params(("id" = String, Path)), request_body = Power,
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["server.start"]), ("session" = [])))]
pub async fn power(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Power>,
) -> Result<Response, ApiError> {
    let (server, granted) = services
        .authorize_server(&caller.principal, &id, Scope::ServerStart)
        .await?;
    let action = parse_action(&body.action)
        .ok_or_else(|| ApiError::bad_request("action must be start, stop, restart or kill"))?;
    let state = services.power(&granted, &server, action).await?;
    let res = (
        StatusCode::ACCEPTED,
        Json(Accepted {
            id: server.id.to_string(),
            state: state.as_str().to_owned(),
        }),
    )
        .into_response();
    Ok(with_note(
        res,
        server_note("server.power", server.id.as_str()).extra("action", &action.as_str()),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleCommand {
    pub command: String,
}

#[utoipa::path(post, path = "/api/v1/servers/{id}/command", tag = "servers", params(("id" = String, Path)), request_body = ConsoleCommand,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["server.console"]), ("session" = [])))]
pub async fn command(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ConsoleCommand>,
) -> Result<Response, ApiError> {
    let (server, granted) = services
        .authorize_server(&caller.principal, &id, Scope::ServerConsole)
        .await?;
    services
        .send_input(&granted, &server, &body.command)
        .await?;
    Ok(noted(
        StatusCode::NO_CONTENT.into_response(),
        "server.command",
        server.id.as_str(),
    ))
}

#[utoipa::path(delete, path = "/api/v1/servers/{id}", tag = "servers", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["server.edit"]), ("session" = [])))]
pub async fn delete(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (server, granted) = services
        .authorize_server(&caller.principal, &id, Scope::ServerEdit)
        .await?;
    services.delete_server(&granted, &server).await?;
    Ok(noted(
        StatusCode::NO_CONTENT.into_response(),
        "server.delete",
        server.id.as_str(),
    ))
}

async fn admin_change(
    services: Arc<Services>,
    caller: ApiCaller,
    id: String,
    change: AdminChange,
    action: &'static str,
) -> Result<Response, ApiError> {
    let (server, granted) = services
        .authorize_server(&caller.principal, &id, Scope::ServerEdit)
        .await?;
    let state = services.admin_change(&granted, &server, change).await?;
    let res = (
        StatusCode::ACCEPTED,
        Json(Accepted {
            id: server.id.to_string(),
            state: state.as_str().to_owned(),
        }),
    )
        .into_response();
    Ok(noted(res, action, server.id.as_str()))
}

#[utoipa::path(post, path = "/api/v1/servers/{id}/reinstall", tag = "servers", params(("id" = String, Path)),
    responses((status = 202, body = Accepted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["server.edit"]), ("session" = [])))]
pub async fn reinstall(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    admin_change(
        services,
        caller,
        id,
        AdminChange::Reinstall,
        "server.reinstall",
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/servers/{id}/suspend", tag = "servers", params(("id" = String, Path)),
    responses((status = 202, body = Accepted), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
pub async fn suspend(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    admin_change(services, caller, id, AdminChange::Suspend, "server.suspend").await
}

#[utoipa::path(post, path = "/api/v1/servers/{id}/unsuspend", tag = "servers", params(("id" = String, Path)),
    responses((status = 202, body = Accepted), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
pub async fn unsuspend(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    admin_change(
        services,
        caller,
        id,
        AdminChange::Unsuspend,
        "server.unsuspend",
    )
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsSample {
    pub at: i64,
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub memory_limit_bytes: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub disk_bytes: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsHistory {
    pub items: Vec<StatsSample>,
}

#[utoipa::path(get, path = "/api/v1/servers/{id}/stats", tag = "servers", params(("id" = String, Path)),
    responses((status = 200, body = StatsHistory), (status = 404, body = ErrorBody)),
    security(("bearer" = ["server.view"]), ("session" = [])))]
pub async fn stats(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<StatsHistory>, ApiError> {
    let (server, _) = services
        .authorize_server(&caller.principal, &id, Scope::ServerView)
        .await?;
    let items = services
        .consoles
        .stats_history(server.id.as_str())
        .into_iter()
        .map(|(at, s)| StatsSample {
            at,
            cpu_percent: s.cpu_percent,
            memory_bytes: s.memory_bytes,
            memory_limit_bytes: s.memory_limit_bytes,
            rx_bytes: s.rx_bytes,
            tx_bytes: s.tx_bytes,
            disk_bytes: s.disk_bytes,
        })
        .collect();
    Ok(Json(StatsHistory { items }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubUser {
    pub user_id: i64,
    /// server.* scopes, e.g. ["server.view", "server.console"].
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubUserList {
    pub items: Vec<SubUser>,
}

#[utoipa::path(get, path = "/api/v1/servers/{id}/users", tag = "servers", params(("id" = String, Path)),
    responses((status = 200, body = SubUserList), (status = 404, body = ErrorBody)),
    security(("bearer" = ["server.edit"]), ("session" = [])))]
pub async fn sub_users(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<SubUserList>, ApiError> {
    let (server, _) = services
        .authorize_server(&caller.principal, &id, Scope::ServerEdit)
        .await?;
    let items = services
        .store
        .server_grants(&server.id)
        .await?
        .into_iter()
        .map(|(u, scopes)| SubUser {
            user_id: u.0,
            scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        })
        .collect();
    Ok(Json(SubUserList { items }))
}

#[utoipa::path(post, path = "/api/v1/servers/{id}/users", tag = "servers", params(("id" = String, Path)), request_body = SubUser,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["server.edit"]), ("session" = [])))]
pub async fn grant(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubUser>,
) -> Result<Response, ApiError> {
    let (server, granted) = services
        .authorize_server(&caller.principal, &id, Scope::ServerEdit)
        .await?;
    let mut scopes = ScopeSet::EMPTY;
    for s in &body.scopes {
        let scope = Scope::parse(s)
            .filter(|s| s.is_server_scope())
            .ok_or_else(|| ApiError::bad_request(format!("{s:?} is not a server scope")))?;
        scopes.insert(scope);
    }
    services
        .grant_server(&granted, &server, UserId(body.user_id), scopes)
        .await?;
    Ok(with_note(
        StatusCode::NO_CONTENT.into_response(),
        server_note("server.grant", server.id.as_str())
            .extra("user_id", &body.user_id)
            .extra("scopes", &scopes),
    ))
}

#[utoipa::path(delete, path = "/api/v1/servers/{id}/users/{user_id}", tag = "servers",
    params(("id" = String, Path), ("user_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = ["server.edit"]), ("session" = [])))]
pub async fn revoke_grant(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (server, granted) = services
        .authorize_server(&caller.principal, &id, Scope::ServerEdit)
        .await?;
    let user: i64 = user_id.parse().map_err(|_| ApiError::not_found())?;
    if !services
        .revoke_server_grant(&granted, &server, UserId(user))
        .await?
    {
        return Err(ApiError::not_found());
    }
    Ok(with_note(
        StatusCode::NO_CONTENT.into_response(),
        server_note("server.revoke_grant", server.id.as_str()).extra("user_id", &user),
    ))
}
