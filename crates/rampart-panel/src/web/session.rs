//! The session extractors. Which one a handler takes decides who reaches it:
//!
//! - [`SignedIn`]: a full session of an active user who has enrolled in 2FA
//!   if their role requires it; otherwise a redirect (to `/login`, or to
//!   `/account/security` to enrol).
//! - [`Enrolling`]: a full session, enrolled or not (the 2FA setup page,
//!   logout).
//! - [`SecondFactorPending`]: a session that passed the password and waits
//!   for the second factor; nothing else accepts such a session.
//! - [`MaybeSignedIn`]: a full session if there is one.
//!
//! Each records the acting user for the audit layer.

use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use rampart_core::Principal;

use super::{WebError, cookies};
use crate::Services;
use crate::auth::ActiveSession;
use crate::store::SessionStage;

/// Filled by the session extractors, read by the audit layer.
#[derive(Debug, Clone, Default)]
pub struct ActorSlot(pub Arc<Mutex<Option<String>>>);

impl ActorSlot {
    pub fn set(&self, actor: String) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(actor);
        }
    }

    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|g| g.clone())
    }
}

/// `user:<id>:<username>`, how audit records name a user.
pub fn actor_name(session: &ActiveSession) -> String {
    format!("user:{}:{}", session.user.id, session.user.username)
}

async fn resolve(parts: &Parts, services: &Services) -> Result<Option<ActiveSession>, WebError> {
    let session = match cookies::get(&parts.headers, services.settings.session_cookie()) {
        Some(presented) => services.resume_session(presented).await?,
        None => None,
    };
    if let (Some(s), Some(slot)) = (&session, parts.extensions.get::<ActorSlot>()) {
        slot.set(actor_name(s));
    }
    Ok(session)
}

fn to_login() -> Response {
    Redirect::to("/login").into_response()
}

/// A signed-in, fully enrolled user, with their effective scopes.
#[derive(Debug)]
pub struct SignedIn {
    pub session: ActiveSession,
    pub principal: Principal,
}

impl FromRequestParts<Arc<Services>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        match resolve(parts, services).await {
            Ok(Some(session)) if session.stage == SessionStage::Full => {
                if services.must_enroll_2fa(&session.user) {
                    return Err(Redirect::to("/account/security").into_response());
                }
                let principal = services
                    .principal_of(&session.user)
                    .await
                    .map_err(|e| WebError::from(e).into_response())?;
                Ok(SignedIn { session, principal })
            }
            Ok(_) => Err(to_login()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// A full session whose user may still have to enrol in 2FA.
#[derive(Debug)]
pub struct Enrolling(pub ActiveSession);

impl FromRequestParts<Arc<Services>> for Enrolling {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        match resolve(parts, services).await {
            Ok(Some(session)) if session.stage == SessionStage::Full => Ok(Enrolling(session)),
            Ok(_) => Err(to_login()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// A session between password and second factor.
#[derive(Debug)]
pub struct SecondFactorPending(pub ActiveSession);

impl FromRequestParts<Arc<Services>> for SecondFactorPending {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        match resolve(parts, services).await {
            Ok(Some(session)) if session.stage == SessionStage::SecondFactor => {
                Ok(SecondFactorPending(session))
            }
            Ok(_) => Err(to_login()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// The full session if there is a valid one; never rejects for its absence.
#[derive(Debug)]
pub struct MaybeSignedIn(pub Option<ActiveSession>);

impl FromRequestParts<Arc<Services>> for MaybeSignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        resolve(parts, services)
            .await
            .map(|s| MaybeSignedIn(s.filter(|s| s.stage == SessionStage::Full)))
            .map_err(IntoResponse::into_response)
    }
}
