//! `/api/v1/servers/{id}/files`: the file manager (SPEC R60). The agent does
//! every operation through its confined opener; the panel authorizes
//! (`server.files.view` / `server.files.edit` on the server; 404 for a
//! server the caller may not see) and refuses suspended servers.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rampart_core::{Scope, ServerState};
use rampart_proto::{Command, CommandResult, FileEntry};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::ApiCaller;
use super::error::ApiError;
use super::types::ErrorBody;
use crate::Services;
use crate::servers::state_of;
use crate::store::ServerRecord;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PathQuery {
    /// A directory of the server's files; `/` (the default) is its root.
    #[serde(default)]
    pub path: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileItem {
    pub name: String,
    /// file, dir, symlink or other.
    pub kind: String,
    pub size: u64,
    /// Permission bits, e.g. 420 (0o644).
    pub mode: u32,
    /// Unix seconds.
    pub modified: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileList {
    pub items: Vec<FileItem>,
}

/// The agent's refusal as an API error: a missing path is 404, anything
/// else the caller's mistake (400); nothing about the node leaks.
fn refusal(reason: &str) -> ApiError {
    if reason.starts_with("no such file") {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such file or directory",
        )
    } else {
        ApiError::bad_request(reason.chars().take(200).collect::<String>())
    }
}

#[utoipa::path(get, path = "/api/v1/servers/{id}/files", tag = "files",
    params(("id" = String, Path), PathQuery),
    responses((status = 200, body = FileList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["server.files.view"]), ("session" = [])))]
pub async fn list(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    Query(q): Query<PathQuery>,
) -> Result<Json<FileList>, ApiError> {
    let (server, _) = services
        .authorize_server(&caller.principal, &id, Scope::ServerFilesView)
        .await?;
    if state_of(&server) == ServerState::Suspended {
        return Err(ApiError::conflict("the server is suspended"));
    }
    let items = list_dir(&services, &server, &q.path)
        .await?
        .into_iter()
        .map(|f| FileItem {
            name: f.name,
            kind: f.kind,
            size: f.size,
            mode: f.mode,
            modified: f.modified,
        })
        .collect();
    Ok(Json(FileList { items }))
}

/// Lists `path` of an authorized server's files through its node's agent
/// (shared by the API and the file browser page).
pub async fn list_dir(
    services: &Services,
    server: &ServerRecord,
    path: &str,
) -> Result<Vec<FileEntry>, ApiError> {
    if path.len() > 4096 || path.contains('\0') {
        return Err(ApiError::bad_request("invalid path"));
    }
    let answer = services
        .hub
        .request(
            &server.node_id,
            Command::ListFiles {
                server_id: server.id.to_string(),
                path: path.to_owned(),
            },
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| ApiError::conflict(e.to_string()))?;
    match answer {
        CommandResult::Files { items } => Ok(items),
        CommandResult::Refused { reason } => Err(refusal(&reason)),
        CommandResult::Failed { reason } => Err(ApiError::conflict(reason)),
        _ => Err(ApiError::conflict("unexpected answer from the agent")),
    }
}
