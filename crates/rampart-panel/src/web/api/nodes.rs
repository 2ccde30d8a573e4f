//! `/api/v1/nodes`: list, create (with the one-time enrollment token),
//! get, revoke, and a live describe through the agent link.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rampart_core::{NodeId, NodeName, Resource, Scope};
use rampart_proto::{Command, CommandResult, NodeStats};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::ApiCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::types::ErrorBody;
use crate::Services;
use crate::agents::{NodeError, RequestError};
use crate::audit::{AuditNote, EventType};
use crate::store::NodeRecord;

#[derive(Debug, Serialize, ToSchema)]
pub struct Node {
    pub id: String,
    pub name: String,
    pub online: bool,
    /// Unix seconds of the last heartbeat.
    pub last_seen: Option<i64>,
    pub public_address: String,
    pub sftp_port: i64,
    pub labels: Vec<String>,
    pub enrolled: bool,
    pub revoked: bool,
    pub agent_version: String,
    pub read_only: bool,
    pub os: Option<String>,
    pub kernel: Option<String>,
    pub cpu_count: Option<u32>,
    pub load_1m: Option<f64>,
    pub memory_total_bytes: Option<u64>,
    pub memory_available_bytes: Option<u64>,
    pub disk_total_bytes: Option<u64>,
    pub disk_free_bytes: Option<u64>,
    pub docker_available: Option<bool>,
    pub docker_version: Option<String>,
    pub docker_reason: Option<String>,
}

impl Node {
    pub fn from_record(n: &NodeRecord, online: bool) -> Node {
        let stats: Option<NodeStats> = serde_json::from_str(&n.stats_json).ok();
        Node {
            id: n.id.to_string(),
            name: n.name.to_string(),
            online,
            last_seen: n.last_seen_at.map(|t| t.0),
            public_address: n.public_address.clone(),
            sftp_port: n.sftp_port,
            labels: n
                .labels
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            enrolled: n.enrolled_at.is_some(),
            revoked: n.revoked_at.is_some(),
            agent_version: n.agent_version.clone(),
            read_only: n.read_only,
            os: stats.as_ref().map(|s| s.os.clone()),
            kernel: stats.as_ref().map(|s| s.kernel.clone()),
            cpu_count: stats.as_ref().map(|s| s.cpu_count),
            load_1m: stats.as_ref().map(|s| s.load_1m),
            memory_total_bytes: stats.as_ref().map(|s| s.memory_total_bytes),
            memory_available_bytes: stats.as_ref().map(|s| s.memory_available_bytes),
            disk_total_bytes: stats.as_ref().map(|s| s.disk_total_bytes),
            disk_free_bytes: stats.as_ref().map(|s| s.disk_free_bytes),
            docker_available: stats.as_ref().map(|s| s.docker.available),
            docker_version: stats.as_ref().and_then(|s| s.docker.version.clone()),
            docker_reason: stats.as_ref().and_then(|s| s.docker.reason.clone()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeList {
    pub items: Vec<Node>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNode {
    pub name: String,
    #[serde(default)]
    pub public_address: String,
    pub sftp_port: Option<i64>,
    #[serde(default)]
    pub labels: Vec<String>,
}

/// The token is shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeEnrollment {
    pub node_id: String,
    pub enroll_token: String,
}

pub fn validate_labels(labels: &[String]) -> Result<String, String> {
    for l in labels {
        let ok = (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.=".contains(&b));
        if !ok {
            return Err(
                "labels are 1 to 63 characters of letters, digits, '-', '_', '.' and '='".into(),
            );
        }
    }
    Ok(labels.join(","))
}

pub fn validate_address(a: &str) -> Result<(), String> {
    let ok = a.len() <= 253
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("public address must be a host name or IP address".into())
    }
}

fn node_id(id: &str) -> Result<NodeId, ApiError> {
    NodeId::parse(id).ok_or_else(ApiError::not_found)
}

#[utoipa::path(get, path = "/api/v1/nodes", tag = "nodes",
    responses((status = 200, body = NodeList), (status = 403, body = ErrorBody)),
    security(("bearer" = ["nodes.view"]), ("session" = [])))]
pub async fn list(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
) -> Result<Json<NodeList>, ApiError> {
    caller.require(Scope::NodesView, Resource::Global)?;
    let now = services.clock.now();
    let items = services
        .store
        .list_nodes()
        .await?
        .iter()
        .map(|n| Node::from_record(n, services.node_online(n, now)))
        .collect();
    Ok(Json(NodeList { items }))
}

#[utoipa::path(post, path = "/api/v1/nodes", tag = "nodes", request_body = NewNode,
    responses((status = 201, body = NodeEnrollment), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["nodes.edit"]), ("session" = [])))]
pub async fn create(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<NewNode>,
) -> Result<Response, ApiError> {
    let granted = caller.require(Scope::NodesEdit, Resource::Global)?;
    let name = NodeName::parse(&body.name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    validate_address(&body.public_address).map_err(ApiError::bad_request)?;
    let labels = validate_labels(&body.labels).map_err(ApiError::bad_request)?;
    let port = body.sftp_port.unwrap_or(5657);
    if !(1..=65535).contains(&port) {
        return Err(ApiError::bad_request(
            "sftp_port must be between 1 and 65535",
        ));
    }
    let created = services
        .create_node(&granted, &name, &body.public_address, port, &labels)
        .await
        .map_err(|e| match e {
            NodeError::NameTaken => ApiError::conflict(e.to_string()),
            other => ApiError::internal(&other),
        })?;
    let mut res = (
        StatusCode::CREATED,
        Json(NodeEnrollment {
            node_id: created.node_id.to_string(),
            enroll_token: created.enroll_token,
        }),
    )
        .into_response();
    res.extensions_mut().insert(
        AuditNote::new(EventType::Audit, "node.create").target(format!("node:{}", created.node_id)),
    );
    Ok(res)
}

#[utoipa::path(get, path = "/api/v1/nodes/{id}", tag = "nodes", params(("id" = String, Path)),
    responses((status = 200, body = Node), (status = 404, body = ErrorBody)),
    security(("bearer" = ["nodes.view"]), ("session" = [])))]
pub async fn get(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Node>, ApiError> {
    caller.require(Scope::NodesView, Resource::Global)?;
    let node = services
        .store
        .get_node(&node_id(&id)?)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(Node::from_record(
        &node,
        services.node_online(&node, services.clock.now()),
    )))
}

#[utoipa::path(delete, path = "/api/v1/nodes/{id}", tag = "nodes", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["nodes.edit"]), ("session" = [])))]
pub async fn revoke(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let granted = caller.require(Scope::NodesEdit, Resource::Global)?;
    let id = node_id(&id)?;
    if !services
        .revoke_node(&granted, &id)
        .await
        .map_err(|e| ApiError::internal(&e))?
    {
        return Err(ApiError::not_found());
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.extensions_mut()
        .insert(AuditNote::new(EventType::Security, "node.revoke").target(format!("node:{id}")));
    Ok(res)
}

#[utoipa::path(post, path = "/api/v1/nodes/{id}/describe", tag = "nodes", params(("id" = String, Path)),
    responses((status = 200, body = Node), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 504, body = ErrorBody)),
    security(("bearer" = ["nodes.view"]), ("session" = [])))]
pub async fn describe(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Node>, ApiError> {
    caller.require(Scope::NodesView, Resource::Global)?;
    let id = node_id(&id)?;
    let node = services
        .store
        .get_node(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    match services
        .hub
        .request(&id, Command::Describe, Duration::from_secs(10))
        .await
    {
        Ok(CommandResult::Described { stats }) => {
            let mut fresh = node.clone();
            fresh.stats_json = rampart_proto::encode(&stats);
            Ok(Json(Node::from_record(
                &fresh,
                services.node_online(&node, services.clock.now()),
            )))
        }
        Ok(CommandResult::Refused { reason } | CommandResult::Failed { reason }) => {
            Err(ApiError::conflict(reason))
        }
        Ok(_) => Err(ApiError::conflict("unexpected answer from the agent")),
        Err(RequestError::NotConnected) => {
            Err(ApiError::conflict("the node's agent is not connected"))
        }
        Err(RequestError::Timeout) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "the agent did not answer in time",
        )),
    }
}

#[utoipa::path(post, path = "/api/v1/nodes/{id}/rotate-credential", tag = "nodes", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["nodes.edit"]), ("session" = [])))]
pub async fn rotate_credential(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let granted = caller.require(Scope::NodesEdit, Resource::Global)?;
    let id = node_id(&id)?;
    let node = services
        .store
        .get_node(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if node.revoked_at.is_some() {
        return Err(ApiError::not_found());
    }
    if !services
        .rotate_node_credential(&granted, &id)
        .await
        .map_err(|e| ApiError::internal(&e))?
    {
        return Err(ApiError::conflict(
            "the node's agent must be connected to receive a new credential",
        ));
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.extensions_mut().insert(
        AuditNote::new(EventType::Security, "node.rotate_credential").target(format!("node:{id}")),
    );
    Ok(res)
}
