//! The nodes page: status of every node, adding one (with its one-time
//! enrollment command), revoking.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rampart_core::{NodeId, NodeName, Resource, Scope, authorize};
use rampart_proto::NodeStats;
use serde::Deserialize;

use super::chrome;
use super::pages::{Flash, NodeRow, NodesPage, render};
use crate::Services;
use crate::agents::NodeError;
use crate::audit::{AuditNote, EventType};
use crate::store::NodeRecord;
use crate::web::api::nodes::validate_address;
use crate::web::authz::require;
use crate::web::session::SignedIn;
use crate::web::{WebError, csrf};

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

fn row(services: &Services, n: &NodeRecord) -> NodeRow {
    let stats: Option<NodeStats> = serde_json::from_str(&n.stats_json).ok();
    let now = services.clock.now();
    NodeRow {
        id: n.id.to_string(),
        name: n.name.to_string(),
        online: services.node_online(n, now),
        last_seen: n
            .last_seen_at
            .map(|t| t.to_utc_string())
            .unwrap_or_else(|| "never".into()),
        agent: if n.agent_version.is_empty() {
            "—".into()
        } else if n.read_only {
            format!("{} (read-only)", n.agent_version)
        } else {
            n.agent_version.clone()
        },
        os: stats.as_ref().map(|s| s.os.clone()).unwrap_or_default(),
        cpu: stats
            .as_ref()
            .map(|s| format!("{} cores, load {:.2}", s.cpu_count, s.load_1m))
            .unwrap_or_default(),
        memory: stats
            .as_ref()
            .map(|s| {
                format!(
                    "{} free of {}",
                    gib(s.memory_available_bytes),
                    gib(s.memory_total_bytes)
                )
            })
            .unwrap_or_default(),
        disk: stats
            .as_ref()
            .map(|s| {
                format!(
                    "{} free of {}",
                    gib(s.disk_free_bytes),
                    gib(s.disk_total_bytes)
                )
            })
            .unwrap_or_default(),
        docker: stats
            .as_ref()
            .map(|s| match (&s.docker.version, &s.docker.reason) {
                (Some(v), _) if s.docker.available => v.clone(),
                (_, Some(r)) => format!("unavailable: {r}"),
                _ => "unavailable".into(),
            })
            .unwrap_or_default(),
        state: if n.revoked_at.is_some() {
            "revoked"
        } else if n.enrolled_at.is_none() {
            "waiting for enrollment"
        } else {
            "offline"
        },
    }
}

/// The panel's URL as agents should dial it (the configured public
/// origin, else this request's host).
fn panel_url(services: &Services, headers: &HeaderMap) -> String {
    if let Some(o) = &services.settings.public_origin {
        return o.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    let scheme = if services.settings.https {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

async fn page(
    services: &Services,
    s: &SignedIn,
    headers: &HeaderMap,
    status: StatusCode,
    enrollment: Option<(String, String)>,
    flash: Flash,
) -> Result<Response, WebError> {
    require(&s.principal, Scope::NodesView, Resource::Global)?;
    let nodes = services
        .store
        .list_nodes()
        .await?
        .iter()
        .map(|n| row(services, n))
        .collect();
    Ok(render(
        status,
        &NodesPage {
            chrome: chrome(&s.session, Some(&s.principal), "nodes"),
            nodes,
            can_edit: authorize(&s.principal, Scope::NodesEdit, Resource::Global).is_some(),
            enrollment,
            panel_url: panel_url(services, headers),
            flash,
        },
    ))
}

pub async fn list(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    page(
        &services,
        &s,
        &headers,
        StatusCode::OK,
        None,
        Flash::default(),
    )
    .await
}

#[derive(Deserialize)]
pub struct NewNodeForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    public_address: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn create(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    headers: HeaderMap,
    Form(form): Form<NewNodeForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&s.session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    let granted = require(&s.principal, Scope::NodesEdit, Resource::Global)?;
    let refuse = |msg: String| {
        page(
            &services,
            &s,
            &headers,
            StatusCode::BAD_REQUEST,
            None,
            Flash::error(msg),
        )
    };
    let name = match NodeName::parse(&form.name) {
        Ok(n) => n,
        Err(e) => return refuse(e.to_string()).await,
    };
    if let Err(e) = validate_address(form.public_address.trim()) {
        return refuse(e).await;
    }
    match services
        .create_node(&granted, &name, form.public_address.trim(), 5657, "")
        .await
    {
        Ok(created) => {
            let id = created.node_id.to_string();
            let mut res = page(
                &services,
                &s,
                &headers,
                StatusCode::OK,
                Some((id.clone(), created.enroll_token)),
                Flash::default(),
            )
            .await?;
            res.extensions_mut().insert(
                AuditNote::new(EventType::Audit, "node.create").target(format!("node:{id}")),
            );
            Ok(res)
        }
        Err(NodeError::NameTaken) => refuse("A node with that name already exists.".into()).await,
        Err(e) => Err(WebError::Internal(Box::new(e))),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

pub async fn revoke(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&s.session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    let granted = require(&s.principal, Scope::NodesEdit, Resource::Global)?;
    let id = NodeId::parse(&id).ok_or(WebError::NotFound)?;
    if !services
        .revoke_node(&granted, &id)
        .await
        .map_err(|e| WebError::Internal(Box::new(e)))?
    {
        return Err(WebError::NotFound);
    }
    let mut res = Redirect::to("/nodes").into_response();
    res.extensions_mut()
        .insert(AuditNote::new(EventType::Security, "node.revoke").target(format!("node:{id}")));
    Ok(res)
}
