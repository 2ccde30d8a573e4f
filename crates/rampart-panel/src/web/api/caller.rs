//! `ApiCaller`: who is calling the API. A bearer token (RFC 6750) if an
//! `Authorization` header is present — then cookies are ignored; otherwise a
//! signed-in session, which must also send its CSRF token in `X-CSRF-Token`
//! on state-changing requests. Each caller is rate-limited per principal by
//! role; the `RateLimit-*` headers are added by [`rate_headers`].

use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use rampart_core::{
    Granted, Principal, Resource, Scope, authorize, secret_token::constant_time_eq,
};

use super::error::ApiError;
use crate::Services;
use crate::auth::RateState;
use crate::store::{SessionStage, UserRecord};
use crate::web::client::client_info;
use crate::web::cookies;
use crate::web::session::ActorSlot;

/// How the caller authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    Session { public_id: String },
    Token { client_id: String },
}

#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub principal: Principal,
    pub user: Arc<UserRecord>,
    pub via: Via,
}

impl ApiCaller {
    pub fn is_bearer(&self) -> bool {
        matches!(self.via, Via::Token { .. })
    }

    /// The caller as the audit log names it.
    pub fn actor(&self) -> String {
        match &self.via {
            Via::Token { client_id } => format!(
                "client:{client_id}:user:{}:{}",
                self.user.id, self.user.username
            ),
            Via::Session { .. } => format!("user:{}:{}", self.user.id, self.user.username),
        }
    }

    /// Authorizes `scope` on `resource`: 403 `insufficient_scope`, or 404
    /// when the caller may not even see the resource.
    pub fn require(&self, scope: Scope, resource: Resource) -> Result<Granted, ApiError> {
        authorize(&self.principal, scope, resource).ok_or_else(|| {
            let visible = rampart_core::is_visible(&self.principal, &resource);
            if visible {
                ApiError::insufficient_scope(scope, self.is_bearer())
            } else {
                let mut e = ApiError::not_found();
                e.note = ApiError::insufficient_scope(scope, false).note;
                e
            }
        })
    }
}

/// Filled by the extractor, turned into headers by [`rate_headers`].
#[derive(Debug, Clone, Default)]
pub struct RateSlot(Arc<Mutex<Option<RateState>>>);

fn note_rate(
    parts: &Parts,
    services: &Services,
    key: &str,
    user: &UserRecord,
) -> Result<(), ApiError> {
    let limit = services.settings.api.rate_limit_for(&user.role);
    // (`key` is only allocated once per principal inside the limiter.)
    let state = services.api_rate.hit(key, limit, services.clock.now());
    if let Some(slot) = parts.extensions.get::<RateSlot>()
        && let Ok(mut g) = slot.0.lock()
    {
        *g = Some(state);
    }
    if state.allowed {
        return Ok(());
    }
    let mut e = ApiError::rate_limited(state.reset);
    if state.first_refusal {
        e.note = Some(Box::new(
            crate::audit::AuditNote::new(crate::audit::EventType::Suspicious, "api.rate_limited")
                .extra("limit_per_minute", &u64::from(limit)),
        ));
    }
    Err(e)
}

impl FromRequestParts<Arc<Services>> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        let client = client_info(
            &parts.extensions,
            &parts.headers,
            &services.settings.trusted_proxies,
        );
        let slot = parts.extensions.get::<ActorSlot>().cloned();
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .ok_or_else(ApiError::invalid_token)?;
            let auth = services
                .authenticate_bearer(token, client.ip.as_deref())
                .await?
                .ok_or_else(ApiError::invalid_token)?;
            if let Some(slot) = slot {
                slot.set(format!(
                    "client:{}:user:{}:{}",
                    auth.client_id, auth.user.id, auth.user.username
                ));
            }
            note_rate(
                parts,
                services,
                &format!("client:{}", auth.client_id),
                &auth.user,
            )?;
            return Ok(ApiCaller {
                principal: auth.principal,
                user: auth.user,
                via: Via::Token {
                    client_id: auth.client_id,
                },
            });
        }
        let Some(presented) = cookies::get(&parts.headers, services.settings.session_cookie())
        else {
            return Err(ApiError::unauthenticated());
        };
        let session = match services.resume_session(presented).await? {
            Some(s) if s.stage == SessionStage::Full && !services.must_enroll_2fa(&s.user) => s,
            _ => return Err(ApiError::unauthenticated()),
        };
        if let Some(slot) = slot {
            slot.set(crate::web::session::actor_name(&session));
        }
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !constant_time_eq(sent, &session.csrf_token()) {
                return Err(ApiError::csrf());
            }
        }
        note_rate(
            parts,
            services,
            &format!("user:{}", session.user.id),
            &session.user,
        )?;
        let principal = services.principal_of(&session.user).await?;
        Ok(ApiCaller {
            principal,
            user: Arc::new(session.user),
            via: Via::Session {
                public_id: session.public_id,
            },
        })
    }
}

/// Adds `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` to
/// API responses whose caller was counted.
pub async fn rate_headers(mut req: Request, next: Next) -> Response {
    let slot = RateSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut res = next.run(req).await;
    let state = slot.0.lock().ok().and_then(|g| *g);
    if let Some(s) = state {
        let h = res.headers_mut();
        for (name, value) in [
            ("ratelimit-limit", s.limit.to_string()),
            ("ratelimit-remaining", s.remaining.to_string()),
            ("ratelimit-reset", s.reset.to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
    }
    res
}
