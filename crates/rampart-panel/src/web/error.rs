//! One error type for handlers. The client sees only a status (rendered as a
//! generic page by the error-pages layer); the full chain goes to the log,
//! inside the request's span, so it carries the request id. Refusals carry
//! an audit note so the audit layer records them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_core::Scope;

use crate::audit::{AuditNote, EventType};
use crate::auth::{AdminError, AuthError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A CSRF token or origin check failed.
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// Authorization refused `scope`; `hide` answers 404 instead of 403.
    #[error("denied")]
    Denied {
        scope: Scope,
        target: Option<String>,
        hide: bool,
    },
    #[error("too many requests")]
    TooManyRequests { retry_after: i64 },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<AuthError> for WebError {
    fn from(e: AuthError) -> Self {
        WebError::Internal(Box::new(e))
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        WebError::Internal(Box::new(e))
    }
}

impl From<AdminError> for WebError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound => WebError::NotFound,
            other => WebError::Internal(Box::new(other)),
        }
    }
}

/// `error: cause: cause…`, for the log.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Forbidden => {
                let mut res = StatusCode::FORBIDDEN.into_response();
                res.extensions_mut()
                    .insert(AuditNote::new(EventType::Security, "csrf.rejected"));
                res
            }
            WebError::NotFound => StatusCode::NOT_FOUND.into_response(),
            WebError::Denied {
                scope,
                target,
                hide,
            } => {
                let status = if hide {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::FORBIDDEN
                };
                let mut note =
                    AuditNote::new(EventType::AuthzDenied, "authz.denied").extra("scope", &scope);
                if let Some(t) = target {
                    note = note.target(t);
                }
                let mut res = status.into_response();
                res.extensions_mut().insert(note);
                res
            }
            WebError::TooManyRequests { retry_after } => {
                let mut res = StatusCode::TOO_MANY_REQUESTS.into_response();
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                res
            }
            WebError::Internal(e) => {
                tracing::error!(error = %error_chain(e.as_ref()), "request failed");
                let mut res = StatusCode::INTERNAL_SERVER_ERROR.into_response();
                res.extensions_mut()
                    .insert(AuditNote::new(EventType::Error, "internal.error"));
                res
            }
        }
    }
}

pub(super) async fn not_found() -> WebError {
    WebError::NotFound
}
