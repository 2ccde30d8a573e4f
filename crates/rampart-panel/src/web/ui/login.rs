//! `GET/POST /login`, `GET/POST /login/2fa` and `POST /logout`.
//!
//! A password login for a user with 2FA opens a short-lived
//! second-factor session (5 minutes, nothing but `/login/2fa` accepts it);
//! a valid code ends it and starts a new full session, so the second step
//! is bound to the browser that passed the first.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rampart_core::UserId;
use serde::Deserialize;

use super::pages::{LoginPage, SecondFactorPage, render};
use crate::Services;
use crate::audit::{AuditNote, EventType};
use crate::auth::{ClientInfo, LoginOutcome};
use crate::store::SessionStage;
use crate::web::client::Client;
use crate::web::cookies::{self, SameSite};
use crate::web::session::{Enrolling, MaybeSignedIn, SecondFactorPending, actor_name};
use crate::web::{WebError, csrf};

const BAD_LOGIN: &str = "Invalid username or password.";
const BAD_CODE: &str = "That code is not valid. Codes work once; wait for the next one.";

pub async fn show(
    State(services): State<Arc<Services>>,
    MaybeSignedIn(session): MaybeSignedIn,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    if session.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    login_page(&services, &headers, StatusCode::OK, "", None).await
}

async fn login_page(
    services: &Services,
    headers: &HeaderMap,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
) -> Result<Response, WebError> {
    let token = csrf::anon_token(services, headers);
    let setup_pending = !services.store.admin_exists().await?;
    let mut res = render(
        status,
        &LoginPage {
            csrf: &token.token,
            username,
            error,
            setup_pending,
        },
    );
    if let Some(c) = token.set_cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    /// Missing counts as wrong (403), not as a malformed form.
    #[serde(default)]
    csrf_token: String,
}

/// Sets the cookie for a new session at `stage` and ends the one the
/// browser held before, so no session id survives a login or a step up.
pub(super) async fn session_response(
    services: &Services,
    headers: &HeaderMap,
    user: UserId,
    stage: SessionStage,
    client: &ClientInfo,
    to: &str,
) -> Result<Response, WebError> {
    let name = services.settings.session_cookie();
    if let Some(old) = cookies::get(headers, name) {
        services.end_presented_session(old).await?;
    }
    let token = services.start_session(user, stage, client).await?;
    let mut res = Redirect::to(to).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(
            &services.settings,
            name,
            token.expose(),
            SameSite::Lax,
            None,
        ),
    );
    Ok(res)
}

/// The line fail2ban matches (README "fail2ban").
fn log_auth_failure(client: &ClientInfo) {
    tracing::warn!(
        "authentication failure; rhost={}",
        client.ip.as_deref().unwrap_or("unknown")
    );
}

pub async fn submit(
    State(services): State<Arc<Services>>,
    Client(client): Client,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    if !csrf::anon_valid(&services, &headers, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    let outcome = services
        .attempt_login(&form.username, &form.password, client.ip.as_deref())
        .await?;
    let shown = if form.username.len() <= 64 {
        form.username.as_str()
    } else {
        ""
    };
    match outcome {
        LoginOutcome::Limited(retry_after) => {
            log_auth_failure(&client);
            let mut res = WebError::TooManyRequests { retry_after }.into_response();
            res.extensions_mut()
                .insert(AuditNote::new(EventType::Suspicious, "login.rate_limited"));
            Ok(res)
        }
        LoginOutcome::Failed => {
            log_auth_failure(&client);
            let mut res = login_page(
                &services,
                &headers,
                StatusCode::UNAUTHORIZED,
                shown,
                Some(BAD_LOGIN),
            )
            .await?;
            res.extensions_mut()
                .insert(AuditNote::new(EventType::AuthFailed, "login.password"));
            Ok(res)
        }
        LoginOutcome::SecondFactor(user) => {
            let mut res = session_response(
                &services,
                &headers,
                user.id,
                SessionStage::SecondFactor,
                &client,
                "/login/2fa",
            )
            .await?;
            res.extensions_mut().insert(
                AuditNote::new(EventType::Auth, "login.password")
                    .actor(format!("user:{}:{}", user.id, user.username))
                    .target(format!("user:{}", user.id))
                    .extra("second_factor_due", &true),
            );
            Ok(res)
        }
        LoginOutcome::Success(user) => {
            let mut res = session_response(
                &services,
                &headers,
                user.id,
                SessionStage::Full,
                &client,
                "/",
            )
            .await?;
            res.extensions_mut().insert(
                AuditNote::new(EventType::Auth, "login")
                    .actor(format!("user:{}:{}", user.id, user.username))
                    .target(format!("user:{}", user.id)),
            );
            Ok(res)
        }
    }
}

pub async fn second_factor_page(SecondFactorPending(session): SecondFactorPending) -> Response {
    render(
        StatusCode::OK,
        &SecondFactorPage {
            csrf: &session.csrf_token(),
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn second_factor_submit(
    State(services): State<Arc<Services>>,
    SecondFactorPending(session): SecondFactorPending,
    Client(client): Client,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    if let Err(retry_after) = services.second_factor_allowed(&session.user, client.ip.as_deref()) {
        return Err(WebError::TooManyRequests { retry_after });
    }
    if !services
        .verify_second_factor(&session.user, &form.code)
        .await?
    {
        services.record_second_factor_failure(&session.user, client.ip.as_deref());
        log_auth_failure(&client);
        let mut res = render(
            StatusCode::UNAUTHORIZED,
            &SecondFactorPage {
                csrf: &session.csrf_token(),
                error: Some(BAD_CODE),
            },
        );
        res.extensions_mut().insert(
            AuditNote::new(EventType::AuthFailed, "login.second_factor")
                .target(format!("user:{}", session.user.id)),
        );
        return Ok(res);
    }
    let mut res = session_response(
        &services,
        &headers,
        session.user.id,
        SessionStage::Full,
        &client,
        "/",
    )
    .await?;
    res.extensions_mut().insert(
        AuditNote::new(EventType::Auth, "login.second_factor")
            .actor(actor_name(&session))
            .target(format!("user:{}", session.user.id)),
    );
    Ok(res)
}

#[derive(Deserialize)]
pub struct LogoutForm {
    /// Missing counts as wrong (403), not as a malformed form.
    #[serde(default)]
    csrf_token: String,
}

pub async fn logout(
    State(services): State<Arc<Services>>,
    Enrolling(session): Enrolling,
    Form(form): Form<LogoutForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    services.end_session(&session).await?;
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::clear(&services.settings, services.settings.session_cookie()),
    );
    res.extensions_mut().insert(
        AuditNote::new(EventType::Auth, "logout").target(format!("user:{}", session.user.id)),
    );
    Ok(res)
}
