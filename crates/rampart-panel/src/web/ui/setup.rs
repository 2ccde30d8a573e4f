//! `GET/POST /setup?token=…`: creating the first admin (SPEC R1).

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use rampart_core::Username;
use serde::Deserialize;

use super::login::session_response;
use super::pages::{NoticePage, SetupPage, render};
use crate::Services;
use crate::audit::{AuditNote, EventType};
use crate::auth::{SetupLink, SetupOutcome};
use crate::store::SessionStage;
use crate::web::client::Client;
use crate::web::{WebError, csrf};

#[derive(Deserialize)]
pub struct SetupQuery {
    token: Option<String>,
}

#[derive(Deserialize)]
pub struct SetupForm {
    username: String,
    password: String,
    /// Sent by the browser form; scripts may omit it.
    password_confirm: Option<String>,
    /// Missing counts as wrong (403), not as a malformed form.
    #[serde(default)]
    csrf_token: String,
}

fn invalid_link() -> Response {
    render(
        StatusCode::FORBIDDEN,
        &NoticePage {
            title: "Setup link invalid or expired",
            message: "This setup link is not valid: it was already used, it expired (links last one hour), \
                      or a newer one replaced it. Restart Rampart to print a fresh link.",
        },
    )
}

/// Answers for a link that cannot be used; `None` when it can.
fn refuse(link: SetupLink) -> Option<Result<Response, WebError>> {
    match link {
        SetupLink::Valid => None,
        SetupLink::Closed => Some(Err(WebError::NotFound)),
        SetupLink::Invalid => Some(Ok(invalid_link())),
    }
}

fn form_page(
    services: &Services,
    headers: &HeaderMap,
    status: StatusCode,
    token: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    let csrf = csrf::anon_token(services, headers);
    let mut res = render(
        status,
        &SetupPage {
            csrf: &csrf.token,
            token,
            username,
            error,
        },
    );
    if let Some(c) = csrf.set_cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

pub async fn show(
    State(services): State<Arc<Services>>,
    Query(q): Query<SetupQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let token = q.token.unwrap_or_default();
    if let Some(answer) = refuse(services.check_setup_link(&token).await?) {
        return answer;
    }
    Ok(form_page(
        &services,
        &headers,
        StatusCode::OK,
        &token,
        "",
        None,
    ))
}

pub async fn submit(
    State(services): State<Arc<Services>>,
    Query(q): Query<SetupQuery>,
    Client(client): Client,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Result<Response, WebError> {
    let token = q.token.unwrap_or_default();
    if let Some(answer) = refuse(services.check_setup_link(&token).await?) {
        return answer;
    }
    if !csrf::anon_valid(&services, &headers, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    let shown = if form.username.len() <= 64 {
        form.username.as_str()
    } else {
        ""
    };
    let again = |msg: &str| {
        Ok(form_page(
            &services,
            &headers,
            StatusCode::BAD_REQUEST,
            &token,
            shown,
            Some(msg),
        ))
    };
    let username = match Username::parse(&form.username) {
        Ok(u) => u,
        Err(e) => return again(&e.to_string()),
    };
    if form
        .password_confirm
        .as_deref()
        .is_some_and(|c| c != form.password)
    {
        return again("The two passwords differ.");
    }
    let password = match services
        .settings
        .password_policy
        .check(&form.password, username.as_str())
    {
        Ok(p) => p,
        Err(e) => return again(&e.to_string()),
    };
    match services
        .complete_setup(&token, &username, &password)
        .await?
    {
        SetupOutcome::Created(id) => {
            tracing::info!(user_id = %id, "first admin created");
            let mut res =
                session_response(&services, &headers, id, SessionStage::Full, &client, "/").await?;
            res.extensions_mut().insert(
                AuditNote::new(EventType::Security, "setup.first_admin")
                    .actor(format!("user:{id}:{username}"))
                    .target(format!("user:{id}")),
            );
            Ok(res)
        }
        SetupOutcome::Link(link) => refuse(link).unwrap_or_else(|| Ok(invalid_link())),
    }
}
