//! The UI's one stylesheet, one script and its icon, compiled into the binary.
//!
//! Pages link them as `/static/app.css?v=<hash>`; a request carrying the
//! current hash may be cached for a year, anything else must revalidate.

use std::sync::LazyLock;

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::web::WebError;

const CSS: &str = include_str!("../../../assets/app.css");
const JS: &str = include_str!("../../../assets/app.js");
const ICON: &str = include_str!("../../../assets/icon.svg");

static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut h = Sha256::new();
    h.update(CSS.as_bytes());
    h.update(JS.as_bytes());
    h.update(ICON.as_bytes());
    hex::encode(&h.finalize()[..6])
});

/// The assets' content hash.
pub fn version() -> &'static str {
    VERSION.as_str()
}

#[derive(Debug, Deserialize)]
pub struct AssetQuery {
    v: Option<String>,
}

pub async fn serve(
    Path(file): Path<String>,
    Query(q): Query<AssetQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (body, content_type) = match file.as_str() {
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "app.js" => (JS, "text/javascript; charset=utf-8"),
        "icon.svg" => (ICON, "image/svg+xml"),
        _ => return Err(WebError::NotFound),
    };
    let etag = format!("\"{}\"", version());
    let cache = if q.v.as_deref() == Some(version()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut res = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, body).into_response()
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    Ok(res)
}
