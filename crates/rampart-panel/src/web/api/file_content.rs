//! `GET`/`PUT /api/v1/servers/{id}/files/content?path=…`: a file's bytes,
//! streamed both ways. The panel relays between the HTTP body and the
//! agent's transfer socket (`rampart_proto::files`); nothing is buffered
//! beyond a few chunks, so a file of any size passes in constant memory.
//! An upload replaces the file only once every byte arrived; with
//! `offset` it continues an interrupted upload at the file's current size.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use rampart_core::Scope;
use rampart_proto::{Command, CommandResult, Direction, TRANSFER_CHUNK, TransferEnd, UPLOAD_END};
use serde::Deserialize;
use utoipa::IntoParams;

use super::caller::ApiCaller;
use super::error::ApiError;
use super::files::{file_error, file_note, files_server, quota_of};
use super::types::ErrorBody;
use crate::Services;
use crate::store::ServerRecord;

/// How long the agent may take to open a file and dial back.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ContentQuery {
    /// The file, relative to the server's directory.
    #[serde(default)]
    pub path: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WriteQuery {
    /// The file, relative to the server's directory (created if missing).
    #[serde(default)]
    pub path: String,
    /// Continue an interrupted upload: append at this offset, which must be
    /// the file's current size. Without it the file is replaced whole.
    pub offset: Option<u64>,
}

/// Asks the agent to open `path` for a transfer and waits for its socket.
async fn open(
    services: &Services,
    server: &ServerRecord,
    path: &str,
    direction: Direction,
) -> Result<(u64, WebSocket), ApiError> {
    if path.trim_matches('/').is_empty() {
        return Err(ApiError::bad_request("path: a file is required"));
    }
    if path.len() > 4096 || path.contains('\0') {
        return Err(ApiError::bad_request("invalid path"));
    }
    let waiting = services
        .transfers
        .expect(&server.node_id, services.rng.as_ref());
    let answer = services
        .hub
        .request(
            &server.node_id,
            Command::Transfer {
                server_id: server.id.to_string(),
                path: path.to_owned(),
                direction,
                ticket: waiting.ticket.expose().to_owned(),
                quota_bytes: quota_of(server),
            },
            OPEN_TIMEOUT,
        )
        .await
        .map_err(|e| ApiError::conflict(e.to_string()))?;
    let size = match answer {
        CommandResult::Opened { size } => size,
        CommandResult::FileFailed { error } => return Err(file_error(error)),
        CommandResult::Refused { reason } | CommandResult::Failed { reason } => {
            return Err(ApiError::conflict(reason));
        }
        _ => return Err(ApiError::conflict("unexpected answer from the agent")),
    };
    let mut waiting = waiting;
    match tokio::time::timeout(OPEN_TIMEOUT, &mut waiting.socket).await {
        Ok(Ok(socket)) => Ok((size, socket)),
        _ => Err(ApiError::conflict("the agent did not open the transfer")),
    }
}

/// The agent's closing frame, if `msg` is one.
fn verdict(msg: Option<Result<Message, axum::Error>>) -> Result<u64, ApiError> {
    let lost = || ApiError::conflict("the transfer was cut off");
    match msg {
        Some(Ok(Message::Text(t))) => match serde_json::from_str::<TransferEnd>(t.as_str()) {
            Ok(TransferEnd::Done { size }) => Ok(size),
            Ok(TransferEnd::Failed { error }) => Err(file_error(error)),
            Err(_) => Err(lost()),
        },
        _ => Err(lost()),
    }
}

#[utoipa::path(get, path = "/api/v1/servers/{id}/files/content", tag = "files",
    params(("id" = String, Path), ContentQuery),
    responses((status = 200, description = "the file's bytes", content_type = "application/octet-stream"),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["server.files.view"]), ("session" = [])))]
pub async fn read(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    Query(q): Query<ContentQuery>,
) -> Result<Response, ApiError> {
    let server = files_server(&services, &caller, &id, Scope::ServerFilesView).await?;
    let (size, socket) = open(&services, &server, &q.path, Direction::Read).await?;
    // Binary frames are the bytes; the agent's end frame closes the body,
    // a failure or a lost socket cuts it short (the client sees fewer bytes
    // than Content-Length promised).
    let body = futures_util::stream::unfold(Some(socket), |socket| async move {
        let mut socket = socket?;
        loop {
            match socket.recv().await {
                Some(Ok(Message::Binary(b))) => {
                    return Some((Ok::<Bytes, std::io::Error>(b), Some(socket)));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => {
                    return match verdict(other) {
                        Ok(_) => None,
                        Err(e) => Some((Err(std::io::Error::other(e.message)), None)),
                    };
                }
            }
        }
    });
    let mut res = Response::new(Body::from_stream(body));
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    Ok(res)
}

#[utoipa::path(put, path = "/api/v1/servers/{id}/files/content", tag = "files",
    params(("id" = String, Path), WriteQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file's new contents"),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = ["server.files.edit"]), ("session" = [])))]
pub async fn write(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
    Query(q): Query<WriteQuery>,
    body: Body,
) -> Result<Response, ApiError> {
    let server = files_server(&services, &caller, &id, Scope::ServerFilesEdit).await?;
    let direction = Direction::Write { offset: q.offset };
    let (_, socket) = open(&services, &server, &q.path, direction).await?;
    let (mut to_agent, mut from_agent) = socket.split();
    let mut body = body.into_data_stream();
    let cut = || ApiError::conflict("the transfer was cut off");
    let outcome = loop {
        tokio::select! {
            // The agent stops early only to refuse (a quota): answer now.
            early = from_agent.next() => break verdict(early),
            chunk = body.next() => match chunk {
                Some(Ok(bytes)) => {
                    let mut rest = bytes;
                    while !rest.is_empty() {
                        let piece = rest.split_to(rest.len().min(TRANSFER_CHUNK));
                        if to_agent.send(Message::Binary(piece)).await.is_err() {
                            break;
                        }
                    }
                }
                // The client went away: closing without the end frame rolls
                // the upload back on the agent.
                Some(Err(_)) => {
                    let _ = to_agent.close().await;
                    break Err(ApiError::bad_request("the upload was interrupted"));
                }
                None => {
                    if to_agent.send(Message::Text(UPLOAD_END.into())).await.is_err() {
                        break Err(cut());
                    }
                    break verdict(from_agent.next().await);
                }
            },
        }
    };
    outcome?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.extensions_mut()
        .insert(file_note("server.files.write", &server, &q.path));
    Ok(res)
}
