//! `/api/v1/servers/{id}/files`: the file manager (SPEC R60). The agent does
//! every operation through its confined opener; the panel authorizes
//! (`server.files.view` / `server.files.edit` on the server; 404 for a
//! server the caller may not see) and refuses suspended servers.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rampart_core::{Scope, ServerState};
use rampart_proto::{Command, CommandResult, FileEntry, FileErrorCode, FileFailure, FileOp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::ApiCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::types::ErrorBody;
use crate::Services;
use crate::audit::{AuditNote, EventType, FilePath};
use crate::servers::{spec_of, state_of};
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

/// An agent's file failure as an API error.
pub fn file_error(f: FileFailure) -> ApiError {
    let (status, code) = match f.code {
        FileErrorCode::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        FileErrorCode::Exists => (StatusCode::CONFLICT, "exists"),
        FileErrorCode::BadPath => (StatusCode::BAD_REQUEST, "bad_path"),
        FileErrorCode::WrongKind => (StatusCode::BAD_REQUEST, "wrong_kind"),
        FileErrorCode::Quota => (StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded"),
        FileErrorCode::BadArchive => (StatusCode::UNPROCESSABLE_ENTITY, "bad_archive"),
        FileErrorCode::Offset => (StatusCode::CONFLICT, "offset_mismatch"),
        FileErrorCode::Io => (StatusCode::CONFLICT, "file_error"),
        FileErrorCode::BadUrl => (StatusCode::BAD_REQUEST, "bad_url"),
        FileErrorCode::UrlRefused => (StatusCode::BAD_REQUEST, "url_refused"),
        FileErrorCode::FetchFailed => (StatusCode::BAD_GATEWAY, "fetch_failed"),
    };
    ApiError::new(status, code, f.message)
}

/// The server, if the caller holds `scope` on it and it is not suspended.
pub async fn files_server(
    services: &Services,
    caller: &ApiCaller,
    id: &str,
    scope: Scope,
) -> Result<ServerRecord, ApiError> {
    let (server, _) = services
        .authorize_server(&caller.principal, id, scope)
        .await?;
    if state_of(&server) == ServerState::Suspended {
        return Err(ApiError::conflict("the server is suspended"));
    }
    Ok(server)
}

/// The server's disk limit in bytes (0: none).
pub fn quota_of(server: &ServerRecord) -> u64 {
    spec_of(server)
        .map(|s| s.limits.disk_mb.saturating_mul(1 << 20))
        .unwrap_or(0)
}

/// The audit note of a file action on `server`.
pub fn file_note(action: &'static str, server: &ServerRecord, path: &str) -> AuditNote {
    AuditNote::new(EventType::Audit, action)
        .target(format!("server:{}", server.id))
        .extra("path", &FilePath(path.to_owned()))
}

fn check_path(path: &str) -> Result<(), ApiError> {
    if path.len() > 4096 || path.contains('\0') {
        return Err(ApiError::bad_request("invalid path"));
    }
    Ok(())
}

/// Runs one operation on an authorized server's files through its agent.
pub async fn run_op(
    services: &Services,
    server: &ServerRecord,
    op: FileOp,
) -> Result<CommandResult, ApiError> {
    let answer = services
        .hub
        .request(
            &server.node_id,
            Command::Files {
                server_id: server.id.to_string(),
                quota_bytes: quota_of(server),
                op,
            },
            Duration::from_secs(300),
        )
        .await
        .map_err(|e| ApiError::conflict(e.to_string()))?;
    match answer {
        CommandResult::FileFailed { error } => Err(file_error(error)),
        CommandResult::Refused { reason } | CommandResult::Failed { reason } => {
            Err(ApiError::conflict(reason))
        }
        other => Ok(other),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PathBody {
    pub path: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FromTo {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChmodBody {
    pub path: String,
    /// Permission bits, e.g. 420 (0o644); set-id and sticky bits are refused.
    pub mode: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtractBody {
    /// The archive (`.tar.gz`, `.tgz`, `.tar` or `.zip`).
    pub path: String,
    /// The directory to unpack into (created if missing).
    pub to: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveBody {
    pub paths: Vec<String>,
    /// The new archive; its name ends in `.tar.gz`, `.tgz`, `.tar` or `.zip`.
    pub to: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PullBody {
    /// An http or https URL on a public address (loopback, private,
    /// link-local and metadata addresses are refused, after every redirect).
    pub url: String,
    /// The file to write (replaced whole once the download is complete).
    pub path: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Where to search (default: everywhere).
    #[serde(default)]
    pub path: String,
    /// A part of the name, case-insensitive.
    #[serde(default)]
    pub q: String,
}

/// One mutating file operation: authorize for `server.files.edit`, run it,
/// answer 204 with an audit note naming the path.
async fn edit(
    services: &Services,
    caller: &ApiCaller,
    id: &str,
    action: &'static str,
    path: &str,
    op: FileOp,
) -> Result<Response, ApiError> {
    let server = files_server(services, caller, id, Scope::ServerFilesEdit).await?;
    check_path(path)?;
    run_op(services, &server, op).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.extensions_mut()
        .insert(file_note(action, &server, path));
    Ok(res)
}

#[utoipa::path(post, path = "/api/v1/servers/{id}/files/mkdir", tag = "files",
    params(("id" = String, Path)), request_body = PathBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["server.files.edit"]), ("session" = [])))]
pub async fn mkdir(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PathBody>,
) -> Result<Response, ApiError> {
    let op = FileOp::Mkdir {
        path: b.path.clone(),
    };
    edit(&services, &caller, &id, "server.files.mkdir", &b.path, op).await
}

#[utoipa::path(post, path = "/api/v1/servers/{id}/files/rename", tag = "files",
    params(("id" = String, Path)), request_body = FromTo,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["server.files.edit"]), ("session" = [])))]
pub async fn rename(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<FromTo>,
) -> Result<Response, ApiError> {
    check_path(&b.to)?;
    let label = format!("{} -> {}", b.from, b.to);
    let op = FileOp::Rename {
        from: b.from,
        to: b.to,
    };
    edit(&services, &caller, &id, "server.files.rename", &label, op).await
}

#[utoipa::path(post, path = "/api/v1/servers/{id}/files/copy", tag = "files",
    params(("id" = String, Path)), request_body = FromTo,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = ["server.files.edit"]), ("session" = [])))]
pub async fn copy(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<FromTo>,
) -> Result<Response, ApiError> {
    check_path(&b.to)?;
    let label = format!("{} -> {}", b.from, b.to);
    let op = FileOp::Copy {
        from: b.from,
        to: b.to,
    };
    edit(&services, &caller, &id, "server.files.copy", &label, op).await
}

#[utoipa::path(post, path = "/api/v1/servers/{id}/files/delete", tag = "files",
    params(("id" = String, Path)), request_body = PathBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["server.files.edit"]), ("session" = [])))]
pub async fn delete(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PathBody>,
) -> Result<Response, ApiError> {
    let op = FileOp::Delete {
        path: b.path.clone(),
    };
    edit(&services, &caller, &id, "server.files.delete", &b.path, op).await
}

#[utoipa::path(post, path = "/api/v1/servers/{id}/files/chmod", tag = "files",
    params(("id" = String, Path)), request_body = ChmodBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["server.files.edit"]), ("session" = [])))]
pub async fn chmod(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ChmodBody>,
) -> Result<Response, ApiError> {
    if b.mode > 0o777 {
        return Err(ApiError::bad_request(
            "mode: permission bits only (at most 0o777; no set-id or sticky bits)",
        ));
    }
    let op = FileOp::Chmod {
        path: b.path.clone(),
        mode: b.mode,
    };
    edit(&services, &caller, &id, "server.files.chmod", &b.path, op).await
}

#[utoipa::path(post, path = "/api/v1/servers/{id}/files/extract", tag = "files",
    params(("id" = String, Path)), request_body = ExtractBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["server.files.edit"]), ("session" = [])))]
pub async fn extract(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ExtractBody>,
) -> Result<Response, ApiError> {
    check_path(&b.to)?;
    let label = format!("{} -> {}", b.path, b.to);
    let op = FileOp::Extract {
        path: b.path,
        to: b.to,
    };
    edit(&services, &caller, &id, "server.files.extract", &label, op).await
}

#[utoipa::path(post, path = "/api/v1/servers/{id}/files/archive", tag = "files",
    params(("id" = String, Path)), request_body = ArchiveBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = ["server.files.edit"]), ("session" = [])))]
pub async fn archive(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ArchiveBody>,
) -> Result<Response, ApiError> {
    if b.paths.is_empty() || b.paths.len() > rampart_proto::files::MAX_ARCHIVE_PATHS {
        return Err(ApiError::bad_request("paths: between 1 and 1000 paths"));
    }
    for p in &b.paths {
        check_path(p)?;
    }
    let label = b.to.clone();
    let op = FileOp::Archive {
        paths: b.paths,
        to: b.to,
    };
    edit(&services, &caller, &id, "server.files.archive", &label, op).await
}

#[utoipa::path(post, path = "/api/v1/servers/{id}/files/pull", tag = "files",
    params(("id" = String, Path)), request_body = PullBody,
    responses((status = 204), (status = 400, body = ErrorBody, description = "bad_url, url_refused (not a public address) or bad_path"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "fetch_failed: the download failed")),
    security(("bearer" = ["server.files.edit"]), ("session" = [])))]
pub async fn pull(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PullBody>,
) -> Result<Response, ApiError> {
    let origin = pull_origin(&b.url)?;
    let label = format!("{} <- {origin}", b.path);
    let op = FileOp::Pull {
        url: b.url,
        path: b.path.clone(),
    };
    edit(&services, &caller, &id, "server.files.pull", &label, op).await
}

/// `scheme://host[:port]` of a pull's URL, for the audit record (the path
/// and query may carry secrets). Anything but http(s) is refused here.
fn pull_origin(url: &str) -> Result<String, ApiError> {
    let bad = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_url",
            "url: an http:// or https:// URL",
        )
    };
    if url.len() > rampart_proto::files::MAX_URL_BYTES || url.chars().any(char::is_control) {
        return Err(bad());
    }
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(bad());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() {
        return Err(bad());
    }
    Ok(format!("{}://{host}", scheme.to_ascii_lowercase()))
}

#[utoipa::path(get, path = "/api/v1/servers/{id}/files/search", tag = "files",
    params(("id" = String, Path), SearchQuery),
    responses((status = 200, body = FileList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["server.files.view"]), ("session" = [])))]
pub async fn search(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    Query(q): Query<SearchQuery>,
) -> Result<Json<FileList>, ApiError> {
    let server = files_server(&services, &caller, &id, Scope::ServerFilesView).await?;
    check_path(&q.path)?;
    if q.q.is_empty() || q.q.len() > 256 || q.q.contains('\0') {
        return Err(ApiError::bad_request("q: 1 to 256 characters"));
    }
    let op = FileOp::Search {
        path: q.path,
        pattern: q.q,
    };
    match run_op(&services, &server, op).await? {
        CommandResult::Files { items } => Ok(Json(FileList {
            items: items.into_iter().map(item).collect(),
        })),
        _ => Err(ApiError::conflict("unexpected answer from the agent")),
    }
}

fn item(f: FileEntry) -> FileItem {
    FileItem {
        name: f.name,
        kind: f.kind,
        size: f.size,
        mode: f.mode,
        modified: f.modified,
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
    let server = files_server(&services, &caller, &id, Scope::ServerFilesView).await?;
    let items = list_dir(&services, &server, &q.path)
        .await?
        .into_iter()
        .map(item)
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
    check_path(path)?;
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
