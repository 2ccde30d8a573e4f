//! The audit layer (SPEC R100): the one place audit records are written.
//!
//! Every state-changing request (any method but GET, HEAD, OPTIONS) gets a
//! record, whatever its outcome; any other request gets one when its
//! response carries an [`AuditNote`] (authentication events, authorization
//! denials, internal errors). Handlers describe; this layer adds when, who
//! (from the session extractor's [`ActorSlot`]), from where, the request id
//! and the result, and appends to the hash chain.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::request_context::RequestId;
use crate::Services;
use crate::audit::{AuditBody, AuditNote, EventType};
use crate::web::client::ClientSource;
use crate::web::session::ActorSlot;

fn default_type(status: StatusCode) -> EventType {
    match status.as_u16() {
        401 | 403 => EventType::AuthzDenied,
        429 => EventType::Suspicious,
        s if s >= 500 => EventType::Error,
        _ => EventType::Audit,
    }
}

fn result_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=399 => "success",
        401 | 403 | 404 => "denied",
        429 => "limited",
        400..=499 => "rejected",
        _ => "error",
    }
}

pub async fn audit(
    State(services): State<Arc<Services>>,
    mut req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    // Our route template, never the raw (user-typed) path.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let source = ClientSource::capture(req.extensions(), req.headers());
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let slot = ActorSlot::default();
    req.extensions_mut().insert(slot.clone());

    let res = next.run(req).await;

    let note = res.extensions().get::<AuditNote>().cloned();
    // Security counters for /metrics, from the same facts the audit log sees.
    let m = &services.metrics;
    match note.as_ref().map(|n| n.event_type) {
        Some(EventType::AuthFailed) => crate::metrics::Metrics::inc(&m.auth_failures),
        Some(EventType::AuthzDenied) => crate::metrics::Metrics::inc(&m.authz_denials),
        _ => {}
    }
    if res.status() == StatusCode::TOO_MANY_REQUESTS {
        crate::metrics::Metrics::inc(&m.rate_limited);
    }
    let mutating = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if note.is_none() && !mutating {
        return res;
    }
    let status = res.status();
    let client = source.resolve(&services.settings.trusted_proxies);
    let route = route.as_ref().map_or("(no route)", |r| r.as_str());
    let (event_type, action, target, actor, extra) = match note {
        Some(n) => (
            n.event_type,
            n.action.to_owned(),
            n.target,
            n.actor,
            n.extra,
        ),
        None => (
            default_type(status),
            format!("{method} {route}"),
            None,
            None,
            Default::default(),
        ),
    };
    let extra = extra.with("status", &u64::from(status.as_u16()));
    let body = AuditBody {
        at: services.clock.now().0,
        event_type: event_type.as_str().to_owned(),
        actor: actor
            .or_else(|| slot.get())
            .unwrap_or_else(|| "anonymous".to_owned()),
        action,
        target,
        result: result_of(status).to_owned(),
        ip: client.ip,
        user_agent: client.user_agent,
        request_id,
        extra: extra.to_canonical(),
    };
    if let Err(e) = services.store.append_audit(&body).await {
        tracing::error!(error = %crate::web::error_chain(&e), action = %body.action, "audit record could not be written");
    }
    res
}
