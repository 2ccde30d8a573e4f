//! `GET/POST /login` and `POST /logout`.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{LoginPage, render};
use crate::Services;
use crate::auth::ClientInfo;
use crate::web::client::Client;
use crate::web::cookies::{self, SameSite};
use crate::web::session::{MaybeSignedIn, SignedIn};
use crate::web::{WebError, csrf};

const BAD_LOGIN: &str = "Invalid username or password.";

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

/// Sets the session cookie for a new session and ends the one the browser
/// held before, so no session id survives a login.
pub(super) async fn signed_in_response(
    services: &Services,
    headers: &HeaderMap,
    user: rampart_core::UserId,
    client: &ClientInfo,
) -> Result<Response, WebError> {
    let name = services.settings.session_cookie();
    if let Some(old) = cookies::get(headers, name) {
        services.end_presented_session(old).await?;
    }
    let token = services.start_session(user, client).await?;
    let mut res = Redirect::to("/").into_response();
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

pub async fn submit(
    State(services): State<Arc<Services>>,
    Client(client): Client,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    if !csrf::anon_valid(&services, &headers, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    let Some(user) = services
        .check_password(&form.username, &form.password)
        .await?
    else {
        tracing::info!("login failed");
        let shown = if form.username.len() <= 64 {
            form.username.as_str()
        } else {
            ""
        };
        return login_page(
            &services,
            &headers,
            StatusCode::UNAUTHORIZED,
            shown,
            Some(BAD_LOGIN),
        )
        .await;
    };
    tracing::info!(user_id = %user.id, "login succeeded");
    signed_in_response(&services, &headers, user.id, &client).await
}

#[derive(Deserialize)]
pub struct LogoutForm {
    /// Missing counts as wrong (403), not as a malformed form.
    #[serde(default)]
    csrf_token: String,
}

pub async fn logout(
    State(services): State<Arc<Services>>,
    SignedIn(session): SignedIn,
    Form(form): Form<LogoutForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    services.end_session(&session).await?;
    tracing::info!(user_id = %session.user.id, "logged out");
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::clear(&services.settings, services.settings.session_cookie()),
    );
    Ok(res)
}
