//! `/api/v1/plans`: named limit packages (administrators). A user's plan is
//! set with `PATCH /api/v1/users/{id}` `{"plan": "name"}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rampart_core::{Resource, Scope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::ApiCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::types::ErrorBody;
use crate::Services;
use crate::audit::{AuditNote, EventType};
use crate::store::{PlanRecord, StoreError};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// 1–32 of `a-z 0-9 - _`.
    pub name: String,
    pub memory_mb: i64,
    pub cpu_percent: i64,
    pub pids: i64,
    pub disk_mb: i64,
    /// Servers a user with this plan may own (their own cap overrides it).
    pub max_servers: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanList {
    pub items: Vec<Plan>,
}

impl From<PlanRecord> for Plan {
    fn from(p: PlanRecord) -> Plan {
        Plan {
            name: p.name,
            memory_mb: p.memory_mb,
            cpu_percent: p.cpu_percent,
            pids: p.pids,
            disk_mb: p.disk_mb,
            max_servers: p.max_servers,
        }
    }
}

pub fn valid_plan_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[utoipa::path(get, path = "/api/v1/plans", tag = "plans",
    responses((status = 200, body = PlanList), (status = 403, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
pub async fn list(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
) -> Result<Json<PlanList>, ApiError> {
    caller.require(Scope::Admin, Resource::Global)?;
    let items = services
        .store
        .list_plans()
        .await?
        .into_iter()
        .map(Plan::from)
        .collect();
    Ok(Json(PlanList { items }))
}

#[utoipa::path(post, path = "/api/v1/plans", tag = "plans", request_body = Plan,
    responses((status = 200, body = Plan), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
pub async fn put(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<Plan>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Admin, Resource::Global)?;
    if !valid_plan_name(&body.name) {
        return Err(ApiError::bad_request(
            "name must be 1 to 32 of a-z, 0-9, '-' and '_'",
        ));
    }
    let ok = (16..=1_048_576).contains(&body.memory_mb)
        && (1..=25_600).contains(&body.cpu_percent)
        && (16..=65_536).contains(&body.pids)
        && (0..=16 * 1_048_576).contains(&body.disk_mb)
        && (0..=100_000).contains(&body.max_servers);
    if !ok {
        return Err(ApiError::bad_request(
            "limits out of range (memory_mb 16–1048576, cpu_percent 1–25600, pids 16–65536, disk_mb ≥ 0, max_servers 0–100000)",
        ));
    }
    let record = PlanRecord {
        name: body.name,
        memory_mb: body.memory_mb,
        cpu_percent: body.cpu_percent,
        pids: body.pids,
        disk_mb: body.disk_mb,
        max_servers: body.max_servers,
    };
    services
        .store
        .put_plan(&record, services.clock.now())
        .await?;
    let target = format!("plan:{}", record.name);
    let mut res = Json(Plan::from(record)).into_response();
    res.extensions_mut()
        .insert(AuditNote::new(EventType::Audit, "plan.put").target(target));
    Ok(res)
}

#[utoipa::path(delete, path = "/api/v1/plans/{name}", tag = "plans", params(("name" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
pub async fn delete(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Admin, Resource::Global)?;
    match services.store.delete_plan(&name).await {
        Ok(true) => {}
        Ok(false) => return Err(ApiError::not_found()),
        Err(StoreError::PlanInUse) => {
            return Err(ApiError::conflict("the plan is assigned to users"));
        }
        Err(e) => return Err(e.into()),
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.extensions_mut()
        .insert(AuditNote::new(EventType::Audit, "plan.delete").target(format!("plan:{name}")));
    Ok(res)
}
