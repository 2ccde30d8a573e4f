//! `GET /metrics` in the Prometheus text format; admins only (scrapers use
//! an API client with the `admin` scope).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rampart_core::{Resource, Scope};

use super::api::{ApiCaller, ApiError};
use crate::Services;

pub async fn metrics(
    State(services): State<Arc<Services>>,
    caller: ApiCaller,
) -> Result<Response, ApiError> {
    caller.require(Scope::Admin, Resource::Global)?;
    let mut res = services
        .metrics
        .render(services.hub.connected_count())
        .into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(res)
}
