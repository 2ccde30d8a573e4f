//! API errors: `{"error":{"code","message"}}` with a stable code, a generic
//! message, and the RFC 6750 `WWW-Authenticate` challenge where it applies.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_core::Scope;
use serde_json::json;

use crate::audit::{AuditNote, EventType};
use crate::auth::{AdminError, AuthError};
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub challenge: Option<String>,
    pub retry_after: Option<i64>,
    pub note: Option<Box<AuditNote>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            challenge: None,
            retry_after: None,
            note: None,
        }
    }

    /// No credentials at all: 401 with a bare `Bearer` challenge (RFC 6750 §3.1).
    pub fn unauthenticated() -> ApiError {
        ApiError {
            challenge: Some("Bearer realm=\"rampart\"".into()),
            ..ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "authentication required",
            )
        }
    }

    pub fn invalid_token() -> ApiError {
        ApiError {
            challenge: Some(
                "Bearer realm=\"rampart\", error=\"invalid_token\", error_description=\"the access token is invalid, expired or revoked\"".into(),
            ),
            note: Some(Box::new(AuditNote::new(EventType::AuthFailed, "api.bearer"))),
            ..ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "the access token is invalid, expired or revoked")
        }
    }

    pub fn insufficient_scope(scope: Scope, bearer: bool) -> ApiError {
        ApiError {
            challenge: bearer.then(|| {
                format!("Bearer realm=\"rampart\", error=\"insufficient_scope\", scope=\"{scope}\"")
            }),
            note: Some(Box::new(
                AuditNote::new(EventType::AuthzDenied, "authz.denied").extra("scope", &scope),
            )),
            ..ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("this request needs the scope {scope}"),
            )
        }
    }

    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn csrf() -> ApiError {
        ApiError {
            note: Some(Box::new(AuditNote::new(
                EventType::Security,
                "csrf.rejected",
            ))),
            ..ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "cookie-authenticated requests need the X-CSRF-Token header",
            )
        }
    }

    pub fn rate_limited(retry_after: i64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; slow down",
            )
        }
    }

    pub fn internal(e: &(dyn std::error::Error + 'static)) -> ApiError {
        tracing::error!(error = %crate::web::error_chain(e), "API request failed");
        ApiError {
            note: Some(Box::new(AuditNote::new(EventType::Error, "internal.error"))),
            ..ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        }
    }

    /// A JSON error body for a status produced outside the API handlers
    /// (router 404/405, body-size refusals).
    pub fn for_status(status: StatusCode) -> ApiError {
        let (code, message) = match status.as_u16() {
            404 => ("not_found", "no such resource"),
            405 => ("method_not_allowed", "method not allowed on this resource"),
            413 => ("payload_too_large", "request body too large"),
            415 => (
                "unsupported_media_type",
                "request body must be application/json",
            ),
            403 => ("forbidden", "request refused"),
            429 => ("rate_limited", "too many requests; slow down"),
            s if s >= 500 => ("internal", "internal error"),
            _ => ("invalid_request", "the request could not be understood"),
        };
        ApiError::new(status, code, message)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::internal(&e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(&e)
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound => ApiError::not_found(),
            AdminError::LastAdmin | AdminError::RoleInUse => ApiError::conflict(e.to_string()),
            AdminError::UsernameTaken | AdminError::RoleNameTaken => {
                ApiError::conflict(e.to_string())
            }
            AdminError::BuiltinRole | AdminError::UnknownRole | AdminError::Policy(_) => {
                ApiError::bad_request(e.to_string())
            }
            AdminError::WrongCapability | AdminError::Auth(_) => ApiError::internal(&e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut res = (self.status, Json(body)).into_response();
        if let Some(c) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, c);
        }
        if let Some(r) = self
            .retry_after
            .and_then(|r| HeaderValue::from_str(&r.to_string()).ok())
        {
            res.headers_mut().insert(header::RETRY_AFTER, r);
        }
        if let Some(note) = self.note {
            res.extensions_mut().insert(*note);
        }
        res
    }
}
