//! The Origin/Referer half of CSRF protection (SPEC R12): a state-changing
//! request (any method but GET, HEAD, OPTIONS) must come from the panel's own
//! origin. Browsers always send `Origin` on such requests; a request with
//! neither `Origin` nor `Referer` is refused too. Bearer-token and OAuth
//! requests are exempt: they carry no ambient credentials.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Services;

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The origin this request should come from.
fn expected_origin(services: &Services, headers: &HeaderMap) -> Option<String> {
    if let Some(origin) = &services.settings.public_origin {
        return Some(origin.trim_end_matches('/').to_owned());
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let scheme = if services.settings.https {
        "https"
    } else {
        "http"
    };
    Some(format!("{scheme}://{host}"))
}

/// Whether the request's `Origin` (or, without one, `Referer`) is ours.
pub fn same_origin(services: &Services, headers: &HeaderMap) -> bool {
    let Some(expected) = expected_origin(services, headers) else {
        return false;
    };
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin
            .to_str()
            .is_ok_and(|o| o.eq_ignore_ascii_case(&expected));
    }
    if let Some(referer) = headers.get(header::REFERER) {
        let n = expected.len();
        return referer.to_str().is_ok_and(|r| {
            r.get(..n)
                .is_some_and(|p| p.eq_ignore_ascii_case(&expected))
                && r.as_bytes().get(n) == Some(&b'/')
        });
    }
    false
}

/// Requests a browser cannot forge across origins: the OAuth and agent
/// endpoints (their own credentials, no cookies) and anything with an `Authorization`
/// header (a cross-site page cannot set one without a CORS preflight, which
/// the panel never grants). Cookies are ignored on such requests.
fn not_cookie_authenticated(req: &Request) -> bool {
    let path = req.uri().path();
    path.starts_with("/oauth/")
        || path.starts_with("/agent/")
        || req.headers().contains_key(header::AUTHORIZATION)
}

pub async fn origin_check(
    State(services): State<Arc<Services>>,
    req: Request,
    next: Next,
) -> Response {
    if is_safe(req.method())
        || not_cookie_authenticated(&req)
        || same_origin(&services, req.headers())
    {
        return next.run(req).await;
    }
    tracing::warn!(method = %req.method(), path = %req.uri().path(), "cross-origin request refused");
    StatusCode::FORBIDDEN.into_response()
}
