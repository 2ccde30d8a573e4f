//! The `/api/v1` handlers: thin — authorize, call a service, map the result.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rampart_core::{Resource, RoleName, Scope, ScopeSet, UserId, Username};
use serde::Deserialize;
use utoipa::IntoParams;

use super::caller::{ApiCaller, Via};
use super::error::ApiError;
use super::json::ApiJson;
use super::types::*;
use crate::Services;
use crate::audit::{AuditNote, EventType};
use crate::auth::ClientError;
use crate::store::AuditFilter;

const MAX_LIMIT: i64 = 100;
const DEFAULT_LIMIT: i64 = 50;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Opaque cursor from a previous page.
    pub cursor: Option<String>,
    /// 1–100, default 50.
    pub limit: Option<i64>,
}

fn page_args(cursor: &Option<String>, limit: Option<i64>) -> Result<(Option<i64>, i64), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 100"));
    }
    let cursor = match cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| ApiError::bad_request("invalid cursor"))?,
        ),
    };
    Ok((cursor, limit))
}

fn noted(mut res: Response, note: AuditNote) -> Response {
    res.extensions_mut().insert(note);
    res
}

#[utoipa::path(get, path = "/api/v1/me", tag = "account",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn me(caller: ApiCaller) -> Json<Me> {
    let (via, client_id) = match &caller.via {
        Via::Session { .. } => ("session", None),
        Via::Token { client_id } => ("token", Some(client_id.clone())),
    };
    Json(Me {
        id: caller.user.id.0,
        username: caller.user.username.to_string(),
        role: caller.user.role.to_string(),
        scopes: scope_names(caller.principal.scopes.iter()),
        totp_enabled: caller.user.totp.is_some(),
        via: via.to_owned(),
        client_id,
    })
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(PageQuery),
    responses((status = 200, body = UserPage), (status = 403, body = ErrorBody)),
    security(("bearer" = ["users.view"]), ("session" = [])))]
pub async fn users_list(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Query(q): Query<PageQuery>,
) -> Result<Json<UserPage>, ApiError> {
    caller.require(Scope::UsersView, Resource::Global)?;
    let (after, limit) = page_args(&q.cursor, q.limit)?;
    let mut all = services.store.list_users().await?;
    all.sort_by_key(|u| u.id);
    let rest: Vec<_> = all
        .iter()
        .filter(|u| after.is_none_or(|a| u.id.0 > a))
        .collect();
    let items: Vec<User> = rest
        .iter()
        .take(limit as usize)
        .map(|u| User::from(*u))
        .collect();
    let next_cursor = (rest.len() > items.len())
        .then(|| items.last().map(|u| u.id.to_string()))
        .flatten();
    Ok(Json(UserPage { items, next_cursor }))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = User), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 415, body = ErrorBody)),
    security(("bearer" = ["users.edit"]), ("session" = [])))]
pub async fn users_create(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<Response, ApiError> {
    let granted = caller.require(Scope::UsersEdit, Resource::Global)?;
    let username =
        Username::parse(&body.username).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let role = RoleName::parse(&body.role).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let id = services
        .admin_create_user(&granted, &username, &body.password, &role)
        .await?;
    let user = services
        .store
        .get_user(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(noted(
        (StatusCode::CREATED, Json(User::from(&user))).into_response(),
        AuditNote::new(EventType::Audit, "user.create")
            .target(format!("user:{id}"))
            .extra("username", &username)
            .extra("role", &role),
    ))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)),
    security(("bearer" = ["users.view"]), ("session" = [])))]
pub async fn user_get(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<i64>,
) -> Result<Json<User>, ApiError> {
    caller.require(Scope::UsersView, Resource::User(UserId(id)))?;
    let user = services
        .store
        .get_user(UserId(id))
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(User::from(&user)))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UserPatch,
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["users.edit"]), ("session" = [])))]
pub async fn user_patch(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<UserPatch>,
) -> Result<Response, ApiError> {
    let id = UserId(id);
    let granted = caller.require(Scope::UsersEdit, Resource::User(id))?;
    if body.role.is_none()
        && body.active.is_none()
        && body.max_servers.is_none()
        && body.plan.is_none()
    {
        return Err(ApiError::bad_request("nothing to change"));
    }
    let role = body
        .role
        .as_deref()
        .map(RoleName::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if body
        .max_servers
        .flatten()
        .is_some_and(|c| !(0..=100_000).contains(&c))
    {
        return Err(ApiError::bad_request(
            "max_servers must be 0 to 100000 or null",
        ));
    }
    if let Some(Some(plan)) = &body.plan
        && services.store.get_plan(plan).await?.is_none()
    {
        return Err(ApiError::bad_request("plan: no such plan"));
    }
    if services.store.get_user(id).await?.is_none() {
        return Err(ApiError::not_found());
    }
    if let Some(role) = &role {
        services.admin_set_role(&granted, id, role).await?;
    }
    if let Some(active) = body.active {
        services.admin_set_active(&granted, id, active).await?;
    }
    if let Some(cap) = body.max_servers {
        services.store.set_max_servers(id, cap).await?;
    }
    if let Some(plan) = &body.plan {
        services.store.set_user_plan(id, plan.as_deref()).await?;
    }
    let user = services
        .store
        .get_user(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut note = AuditNote::new(EventType::Audit, "user.update").target(format!("user:{id}"));
    if let Some(r) = &role {
        note = note.extra("role", r);
    }
    if let Some(a) = body.active {
        note = note.extra("active", &a);
    }
    if let Some(cap) = body.max_servers {
        note = note.extra("max_servers", &cap.unwrap_or(-1));
    }
    if body.plan.is_some() {
        note = note.extra("plan_changed", &true);
    }
    Ok(noted(Json(User::from(&user)).into_response(), note))
}

#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["users.edit"]), ("session" = [])))]
pub async fn user_delete(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let id = UserId(id);
    let granted = caller.require(Scope::UsersEdit, Resource::User(id))?;
    services.admin_delete_user(&granted, id).await?;
    Ok(noted(
        StatusCode::NO_CONTENT.into_response(),
        AuditNote::new(EventType::Audit, "user.delete").target(format!("user:{id}")),
    ))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/password", tag = "users", params(("id" = i64, Path)), request_body = PasswordReset,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["users.edit"]), ("session" = [])))]
pub async fn user_password(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<PasswordReset>,
) -> Result<Response, ApiError> {
    let id = UserId(id);
    let granted = caller.require(Scope::UsersEdit, Resource::User(id))?;
    services
        .admin_reset_password(&granted, id, &body.password)
        .await?;
    Ok(noted(
        StatusCode::NO_CONTENT.into_response(),
        AuditNote::new(EventType::Security, "user.password_reset").target(format!("user:{id}")),
    ))
}

#[utoipa::path(get, path = "/api/v1/roles", tag = "roles",
    responses((status = 200, body = RoleList), (status = 403, body = ErrorBody)),
    security(("bearer" = ["users.view"]), ("session" = [])))]
pub async fn roles_list(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
) -> Result<Json<RoleList>, ApiError> {
    caller.require(Scope::UsersView, Resource::Global)?;
    let mut items: Vec<Role> = Services::builtin_roles()
        .into_iter()
        .map(|(r, scopes)| Role {
            name: r.as_str().to_owned(),
            builtin: true,
            scopes: scope_names(scopes.iter()),
        })
        .collect();
    items.extend(
        services
            .store
            .list_roles()
            .await?
            .into_iter()
            .map(|r| Role {
                name: r.name.to_string(),
                builtin: false,
                scopes: scope_names(r.scopes.iter()),
            }),
    );
    Ok(Json(RoleList { items }))
}

#[utoipa::path(post, path = "/api/v1/roles", tag = "roles", request_body = NewRole,
    responses((status = 201, body = Role), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
pub async fn roles_create(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<NewRole>,
) -> Result<Response, ApiError> {
    let granted = caller.require(Scope::Admin, Resource::Global)?;
    let name = RoleName::parse(&body.name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let scopes = ScopeSet::parse_list(&body.scopes.join(",")).map_err(|bad| {
        ApiError::bad_request(format!(
            "unknown scope: {}",
            bad.chars().take(40).collect::<String>()
        ))
    })?;
    services.admin_create_role(&granted, &name, scopes).await?;
    Ok(noted(
        (
            StatusCode::CREATED,
            Json(Role {
                name: name.to_string(),
                builtin: false,
                scopes: scope_names(scopes.iter()),
            }),
        )
            .into_response(),
        AuditNote::new(EventType::Audit, "role.create").target(format!("role:{name}")),
    ))
}

#[utoipa::path(delete, path = "/api/v1/roles/{name}", tag = "roles", params(("name" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
pub async fn roles_delete(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let granted = caller.require(Scope::Admin, Resource::Global)?;
    let name = RoleName::parse(&name).map_err(|_| ApiError::not_found())?;
    services.admin_delete_role(&granted, &name).await?;
    Ok(noted(
        StatusCode::NO_CONTENT.into_response(),
        AuditNote::new(EventType::Audit, "role.delete").target(format!("role:{name}")),
    ))
}

#[utoipa::path(get, path = "/api/v1/sessions", tag = "account",
    responses((status = 200, body = SessionList), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn sessions_list(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
) -> Result<Json<SessionList>, ApiError> {
    let current = match &caller.via {
        Via::Session { public_id } => Some(public_id.as_str()),
        Via::Token { .. } => None,
    };
    let items = services
        .store
        .list_user_sessions(caller.user.id)
        .await?
        .into_iter()
        .map(|s| Session::from_summary(s, current))
        .collect();
    Ok(Json(SessionList { items }))
}

#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "account", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn session_delete(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !services
        .store
        .delete_user_session(caller.user.id, &id)
        .await?
    {
        return Err(ApiError::not_found());
    }
    Ok(noted(
        StatusCode::NO_CONTENT.into_response(),
        AuditNote::new(EventType::Security, "session.revoke")
            .target(format!("user:{}", caller.user.id)),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ClientsQuery {
    /// Admins only: every user's clients.
    pub all: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/api-clients", tag = "api-clients", params(ClientsQuery),
    responses((status = 200, body = ApiClientList), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn clients_list(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Query(q): Query<ClientsQuery>,
) -> Result<Json<ApiClientList>, ApiError> {
    let owner = if q.all == Some(true) {
        caller.require(Scope::Admin, Resource::Global)?;
        None
    } else {
        Some(caller.user.id)
    };
    services.flush_api_usage().await?;
    let items = services
        .store
        .list_api_clients(owner)
        .await?
        .iter()
        .map(ApiClient::from)
        .collect();
    Ok(Json(ApiClientList { items }))
}

fn client_error(e: ClientError) -> ApiError {
    match e {
        ClientError::ScopeNotHeld(s) => ApiError {
            note: None,
            ..ApiError::insufficient_scope(s, false)
        },
        other => ApiError::bad_request(other.to_string()),
    }
}

#[utoipa::path(post, path = "/api/v1/api-clients", tag = "api-clients", request_body = NewApiClient,
    responses((status = 201, body = ClientCredentials), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn clients_create(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<NewApiClient>,
) -> Result<Response, ApiError> {
    let scopes = ScopeSet::parse_list(&body.scopes.join(",")).map_err(|bad| {
        ApiError::bad_request(format!(
            "unknown scope: {}",
            bad.chars().take(40).collect::<String>()
        ))
    })?;
    let created = services
        .create_api_client(
            &caller.principal,
            caller.user.id,
            &body.name,
            scopes,
            body.expires_in_days,
            &body.ip_allowlist.join(","),
        )
        .await?
        .map_err(client_error)?;
    Ok(noted(
        (
            StatusCode::CREATED,
            Json(ClientCredentials {
                client_id: created.client_id.clone(),
                client_secret: created.secret.expose().to_owned(),
            }),
        )
            .into_response(),
        AuditNote::new(EventType::Security, "api_client.create")
            .target(format!("client:{}", created.client_id)),
    ))
}

/// The client `id` if the caller owns it or is an admin; else 404.
async fn visible_client(
    services: &Services,
    caller: &ApiCaller,
    id: &str,
) -> Result<crate::store::ApiClientRecord, ApiError> {
    let client = services
        .store
        .get_api_client(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let admin =
        rampart_core::authorize(&caller.principal, Scope::Admin, Resource::Global).is_some();
    if client.user_id == caller.user.id || admin {
        Ok(client)
    } else {
        Err(ApiError::not_found())
    }
}

#[utoipa::path(get, path = "/api/v1/api-clients/{id}", tag = "api-clients", params(("id" = String, Path)),
    responses((status = 200, body = ApiClient), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn client_get(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<ApiClient>, ApiError> {
    services.flush_api_usage().await?;
    let client = visible_client(&services, &caller, &id).await?;
    Ok(Json(ApiClient::from(&client)))
}

#[utoipa::path(delete, path = "/api/v1/api-clients/{id}", tag = "api-clients", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn client_revoke(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let client = visible_client(&services, &caller, &id).await?;
    services
        .store
        .revoke_api_client(&client.id, services.clock.now())
        .await?;
    Ok(noted(
        StatusCode::NO_CONTENT.into_response(),
        AuditNote::new(EventType::Security, "api_client.revoke")
            .target(format!("client:{}", client.id)),
    ))
}

#[utoipa::path(post, path = "/api/v1/api-clients/{id}/secret", tag = "api-clients", params(("id" = String, Path)),
    responses((status = 200, body = ClientCredentials), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn client_regenerate(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let client = visible_client(&services, &caller, &id).await?;
    let fresh = services
        .regenerate_client_secret(&client.id)
        .await?
        .ok_or_else(|| ApiError::conflict("the client is revoked"))?;
    Ok(noted(
        Json(ClientCredentials {
            client_id: fresh.client_id.clone(),
            client_secret: fresh.secret.expose().to_owned(),
        })
        .into_response(),
        AuditNote::new(EventType::Security, "api_client.regenerate_secret")
            .target(format!("client:{}", client.id)),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub cursor: Option<String>,
    pub limit: Option<i64>,
    pub actor: Option<String>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    pub target: Option<String>,
    /// Unix seconds.
    pub since: Option<i64>,
    /// Unix seconds.
    pub until: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorBody)),
    security(("bearer" = ["audit.view"]), ("session" = [])))]
pub async fn audit_list(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(Scope::AuditView, Resource::Global)?;
    let (before, limit) = page_args(&q.cursor, q.limit)?;
    let filter = AuditFilter {
        actor: q.actor,
        event_type: q.event_type,
        target: q.target,
        since: q.since,
        until: q.until,
        before_id: before,
    };
    let records = services.store.list_audit(&filter, limit + 1).await?;
    let more = records.len() as i64 > limit;
    let items: Vec<AuditEntry> = records
        .into_iter()
        .take(limit as usize)
        .map(|r| AuditEntry {
            id: r.id,
            at: r.body.at,
            event_type: r.body.event_type,
            actor: r.body.actor,
            action: r.body.action,
            target: r.body.target,
            result: r.body.result,
            ip: r.body.ip,
            user_agent: r.body.user_agent,
            request_id: r.body.request_id,
            extra: r.body.extra,
            hash: r.hash,
        })
        .collect();
    let next_cursor = if more {
        items.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(Json(AuditPage { items, next_cursor }))
}
