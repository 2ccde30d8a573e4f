//! The session extractors: every page that needs a signed-in user takes
//! [`SignedIn`], which resolves the cookie through `Services::resume_session`.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use super::{WebError, cookies};
use crate::Services;
use crate::auth::ActiveSession;

/// A request from a signed-in user; otherwise a redirect to `/login`.
#[derive(Debug)]
pub struct SignedIn(pub ActiveSession);

/// The session if there is a valid one; never rejects for its absence.
#[derive(Debug)]
pub struct MaybeSignedIn(pub Option<ActiveSession>);

async fn resolve(parts: &Parts, services: &Services) -> Result<Option<ActiveSession>, WebError> {
    match cookies::get(&parts.headers, services.settings.session_cookie()) {
        Some(presented) => Ok(services.resume_session(presented).await?),
        None => Ok(None),
    }
}

impl FromRequestParts<Arc<Services>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        match resolve(parts, services).await {
            Ok(Some(session)) => Ok(SignedIn(session)),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

impl FromRequestParts<Arc<Services>> for MaybeSignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        resolve(parts, services)
            .await
            .map(MaybeSignedIn)
            .map_err(IntoResponse::into_response)
    }
}
