//! `/account/ssh-keys`: the signed-in user's SSH keys for SFTP.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::chrome;
use super::pages::{Flash, SshKeyRow, SshKeysPage, render};
use crate::Services;
use crate::web::session::SignedIn;
use crate::web::{WebError, csrf};

async fn page(
    services: &Services,
    signed_in: &SignedIn,
    status: StatusCode,
    flash: Flash,
) -> Result<Response, WebError> {
    let session = &signed_in.session;
    let keys = services
        .store
        .list_ssh_keys(session.user.id)
        .await?
        .into_iter()
        .map(|k| SshKeyRow {
            id: k.id,
            name: k.name,
            fingerprint: k.fingerprint,
            created: k.created_at.to_utc_string(),
            last_used: k
                .last_used_at
                .map(|t| t.to_utc_string())
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    Ok(render(
        status,
        &SshKeysPage {
            chrome: chrome(session, Some(&signed_in.principal), "account"),
            username: session.user.username.to_string(),
            keys,
            flash,
        },
    ))
}

pub async fn list(
    State(services): State<Arc<Services>>,
    signed_in: SignedIn,
) -> Result<Response, WebError> {
    page(&services, &signed_in, StatusCode::OK, Flash::default()).await
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    public_key: String,
}

pub async fn add(
    State(services): State<Arc<Services>>,
    signed_in: SignedIn,
    Form(form): Form<AddForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&signed_in.session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    let user = signed_in.session.user.id;
    match services
        .add_ssh_key(user, &form.name, &form.public_key)
        .await?
    {
        // Post, redirect, get: a reload does not add the key twice.
        Ok(_) => Ok(Redirect::to("/account/ssh-keys").into_response()),
        Err(e) => {
            let flash = Flash::error(e.to_string());
            page(&services, &signed_in, StatusCode::BAD_REQUEST, flash).await
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

pub async fn delete(
    State(services): State<Arc<Services>>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&signed_in.session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    // Only the caller's own keys can match: another user's id is unknown.
    if !services
        .delete_ssh_key(signed_in.session.user.id, &id)
        .await?
    {
        return Err(WebError::NotFound);
    }
    Ok(Redirect::to("/account/ssh-keys").into_response())
}
