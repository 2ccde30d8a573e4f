//! CSRF tokens (SPEC R12). Two kinds, both compared in constant time:
//!
//! - before login (login and setup forms): double-submit — a random token in
//!   an HttpOnly, SameSite=Strict cookie must equal the form's `csrf_token`;
//! - with a session: the session's own token, derived from its id.
//!
//! The Origin/Referer check in `middleware::origin_check` runs in front of
//! both, on every state-changing request.

use axum::http::{HeaderMap, HeaderValue};
use rampart_core::SecretToken;
use rampart_core::secret_token::constant_time_eq;

use super::cookies::{self, SameSite};
use crate::Services;
use crate::auth::ActiveSession;

/// The pre-login token for a form, and the cookie to set if it is new.
#[derive(Debug)]
pub struct AnonCsrf {
    pub token: String,
    pub set_cookie: Option<HeaderValue>,
}

/// Reuses the browser's pre-login CSRF cookie, or makes a new one.
pub fn anon_token(services: &Services, headers: &HeaderMap) -> AnonCsrf {
    let name = services.settings.csrf_cookie();
    if let Some(existing) = cookies::get(headers, name).and_then(SecretToken::parse) {
        return AnonCsrf {
            token: existing.expose().to_owned(),
            set_cookie: None,
        };
    }
    let fresh = SecretToken::generate(services.rng.as_ref());
    let set_cookie = cookies::set(
        &services.settings,
        name,
        fresh.expose(),
        SameSite::Strict,
        None,
    );
    AnonCsrf {
        token: fresh.expose().to_owned(),
        set_cookie: Some(set_cookie),
    }
}

/// Whether a pre-login form's token matches the browser's cookie.
pub fn anon_valid(services: &Services, headers: &HeaderMap, presented: &str) -> bool {
    match cookies::get(headers, services.settings.csrf_cookie()).and_then(SecretToken::parse) {
        Some(cookie) => constant_time_eq(cookie.expose(), presented),
        None => false,
    }
}

/// Whether a signed-in form's token is this session's.
pub fn session_valid(session: &ActiveSession, presented: &str) -> bool {
    constant_time_eq(&session.csrf_token(), presented)
}
