//! Generic error pages (SPEC R111): any error response that a handler did
//! not render itself (router 404/405, extractor rejections, CSRF refusals,
//! internal errors) and is not JSON of ours is replaced by one page per status that says nothing
//! about internals and shows the request id to quote to an admin.

use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::web::ui::pages::{ErrorPage, Rendered, render};

/// Whether `path` belongs to the API (errors as JSON, never HTML).
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/oauth/") || path.starts_with("/agent/")
}

/// Replaces an error response nobody rendered with the generic page (or
/// JSON error for the API), keeping only headers that carry meaning.
pub fn replace_error(res: Response, api: bool, request_id: &str) -> Response {
    let status = res.status();
    let is_json = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    // Pages we rendered and JSON we produced (health, API errors) are
    // already what the client should see.
    if !(status.is_client_error() || status.is_server_error())
        || is_json
        || res.extensions().get::<Rendered>().is_some()
    {
        return res;
    }
    let (parts, _body) = res.into_parts();
    let mut page = if api {
        // API clients get the API's JSON error shape, never HTML.
        crate::web::api::ApiError::for_status(status).into_response()
    } else {
        render(
            status,
            &ErrorPage::for_status(status, request_id.to_owned()),
        )
    };
    // Keep headers that carry meaning for the client (`Allow` on 405,
    // `Retry-After` on 429, `WWW-Authenticate` on 401), never the body.
    for keep in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&keep) {
            page.headers_mut().insert(keep, v.clone());
        }
    }
    page
}
