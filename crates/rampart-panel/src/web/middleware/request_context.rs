//! The outermost layer, around every response: a request id (shown on
//! error pages, sent as `X-Request-Id`), a tracing span carrying it, the
//! generic error pages (`error_pages`), the security headers
//! (`security_headers`), and one access-log line per request. The log line
//! has the path only: query strings (setup tokens) never reach the log.
//! (One layer rather than three: each layer costs on every request.)

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::Services;

/// The id of the request being served.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn request_context(
    State(services): State<Arc<Services>>,
    mut req: Request,
    next: Next,
) -> Response {
    let id = services.next_request_id();
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let api = super::error_pages::is_api_path(&path);
    let span = tracing::info_span!("request", id = %id);
    // A duration for the access log, not a time any decision depends on.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let res = next.run(req).instrument(span.clone()).await;
    let mut res = super::error_pages::replace_error(res, api, &id);
    super::security_headers::apply(&mut res, services.settings.https);
    let status = res.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        tracing::info!(%method, path = %path, status, ms = format!("{ms:.1}"), "served");
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    res
}
