//! One error type for handlers. The client sees only a status (rendered as a
//! generic page by the error-pages layer); the full chain goes to the log,
//! inside the request's span, so it carries the request id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::auth::AuthError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
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
            WebError::Forbidden => StatusCode::FORBIDDEN.into_response(),
            WebError::NotFound => StatusCode::NOT_FOUND.into_response(),
            WebError::Internal(e) => {
                tracing::error!(error = %error_chain(e.as_ref()), "request failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

pub(super) async fn not_found() -> WebError {
    WebError::NotFound
}
