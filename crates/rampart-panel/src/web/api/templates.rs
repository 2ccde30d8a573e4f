//! `/api/v1/templates`: list, export one (its JSON document), import one
//! (administrators; validated before it is stored, built-ins are kept).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rampart_core::{Resource, Scope};
use serde::Serialize;
use utoipa::ToSchema;

use super::caller::ApiCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::types::ErrorBody;
use crate::Services;
use crate::audit::{AuditNote, EventType};
use crate::servers::TemplateDoc;
use crate::store::TemplateRecord;

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateSummary {
    pub id: String,
    pub name: String,
    pub description: String,
    pub builtin: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    pub items: Vec<TemplateSummary>,
}

#[utoipa::path(get, path = "/api/v1/templates", tag = "templates",
    responses((status = 200, body = TemplateList), (status = 403, body = ErrorBody)),
    security(("bearer" = ["server.view"]), ("session" = [])))]
pub async fn list(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
) -> Result<Json<TemplateList>, ApiError> {
    caller.require(Scope::ServerView, Resource::Global)?;
    let items = services
        .store
        .list_templates()
        .await?
        .into_iter()
        .map(|t| TemplateSummary {
            description: TemplateDoc::parse(&t.body)
                .map(|d| d.description)
                .unwrap_or_default(),
            id: t.id,
            name: t.name,
            builtin: t.builtin,
        })
        .collect();
    Ok(Json(TemplateList { items }))
}

#[utoipa::path(get, path = "/api/v1/templates/{id}", tag = "templates", params(("id" = String, Path)),
    responses((status = 200, body = TemplateDoc), (status = 404, body = ErrorBody)),
    security(("bearer" = ["server.view"]), ("session" = [])))]
pub async fn export(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<TemplateDoc>, ApiError> {
    caller.require(Scope::ServerView, Resource::Global)?;
    let record = services
        .store
        .get_template(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut doc = TemplateDoc::parse(&record.body).map_err(ApiError::conflict)?;
    if let Some(r) = doc.registry.as_mut() {
        // Secrets are not exported; an importer supplies their own.
        r.password.clear();
    }
    Ok(Json(doc))
}

#[utoipa::path(post, path = "/api/v1/templates", tag = "templates", request_body = TemplateDoc,
    responses((status = 201, body = TemplateSummary), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
pub async fn import(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
    ApiJson(doc): ApiJson<TemplateDoc>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Admin, Resource::Global)?;
    let body = serde_json::to_string(&doc).map_err(|e| ApiError::internal(&e))?;
    let doc = TemplateDoc::parse(&body).map_err(ApiError::bad_request)?;
    if services
        .store
        .get_template(&doc.id)
        .await?
        .is_some_and(|t| t.builtin)
    {
        return Err(ApiError::conflict("a built-in template has this id"));
    }
    services
        .store
        .put_template(
            &TemplateRecord {
                id: doc.id.clone(),
                name: doc.name.clone(),
                body,
                builtin: false,
            },
            services.clock.now(),
        )
        .await?;
    let mut res = (
        StatusCode::CREATED,
        Json(TemplateSummary {
            id: doc.id.clone(),
            name: doc.name,
            description: doc.description,
            builtin: false,
        }),
    )
        .into_response();
    res.extensions_mut().insert(
        AuditNote::new(EventType::Audit, "template.import").target(format!("template:{}", doc.id)),
    );
    Ok(res)
}
