//! `/api/v1/me/ssh-keys`: the caller's SSH keys for SFTP. Keys are added
//! in a signed-in session only: an API token must not mint a credential
//! that outlives it and reaches files its scopes may not.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::ApiCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::types::ErrorBody;
use crate::Services;
use crate::store::SshKeyRecord;

#[derive(Debug, Serialize, ToSchema)]
pub struct SshKey {
    /// `sk_` and 24 hex digits.
    pub id: String,
    pub name: String,
    /// ssh-ed25519 or ecdsa-sha2-nistp256/384/521.
    pub algorithm: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// The key, `type base64` (no comment).
    pub public_key: String,
    /// Unix seconds.
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl From<SshKeyRecord> for SshKey {
    fn from(k: SshKeyRecord) -> SshKey {
        SshKey {
            id: k.id,
            name: k.name,
            algorithm: k.algorithm,
            fingerprint: k.fingerprint,
            public_key: k.public_key,
            created_at: k.created_at.0,
            last_used_at: k.last_used_at.map(|t| t.0),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SshKeyList {
    pub items: Vec<SshKey>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSshKey {
    pub name: String,
    /// One line of `~/.ssh/id_ed25519.pub`.
    pub public_key: String,
}

#[utoipa::path(get, path = "/api/v1/me/ssh-keys", tag = "account",
    responses((status = 200, body = SshKeyList), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
) -> Result<Json<SshKeyList>, ApiError> {
    let items = services
        .store
        .list_ssh_keys(caller.user.id)
        .await?
        .into_iter()
        .map(SshKey::from)
        .collect();
    Ok(Json(SshKeyList { items }))
}

#[utoipa::path(post, path = "/api/v1/me/ssh-keys", tag = "account", request_body = NewSshKey,
    responses((status = 201, body = SshKey), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "with an API token: keys are added in a signed-in session"),
        (status = 409, body = ErrorBody)),
    security(("session" = [])))]
pub async fn add(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<NewSshKey>,
) -> Result<Response, ApiError> {
    use crate::auth::ssh_keys::SshKeyError;
    if caller.is_bearer() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "session_required",
            "SSH keys are added in a signed-in session, not with an API token",
        ));
    }
    match services
        .add_ssh_key(caller.user.id, &body.name, &body.public_key)
        .await?
    {
        Ok(key) => Ok((StatusCode::CREATED, Json(SshKey::from(key))).into_response()),
        Err(e @ SshKeyError::Duplicate) => {
            Err(ApiError::new(StatusCode::CONFLICT, "exists", e.to_string()))
        }
        Err(e) => Err(ApiError::bad_request(e.to_string())),
    }
}

#[utoipa::path(delete, path = "/api/v1/me/ssh-keys/{id}", tag = "account", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if services.delete_ssh_key(caller.user.id, &id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found())
    }
}
