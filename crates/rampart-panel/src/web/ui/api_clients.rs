//! API client pages: a user's own clients (create, new secret, revoke) and
//! the admin view of every client.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rampart_core::{Resource, Scope, ScopeSet, authorize};
use serde::Deserialize;

use super::chrome;
use super::pages::{ApiClientsPage, ClientRow, Flash, render};
use crate::Services;
use crate::audit::{AuditNote, EventType};
use crate::auth::ClientSecret;
use crate::store::ApiClientRecord;
use crate::web::authz::require;
use crate::web::session::SignedIn;
use crate::web::{WebError, csrf};

fn row(c: &ApiClientRecord, now: rampart_core::UnixTime) -> ClientRow {
    ClientRow {
        id: c.id.clone(),
        owner: c.owner.clone(),
        name: c.name.clone(),
        scopes: c
            .scopes
            .iter()
            .map(Scope::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        allowlist: if c.ip_allowlist.is_empty() {
            "any".into()
        } else {
            c.ip_allowlist.replace(',', ", ")
        },
        created: c.created_at.to_utc_string(),
        expires: c
            .expires_at
            .map(|t| t.to_utc_string())
            .unwrap_or_else(|| "never".into()),
        state: if c.revoked_at.is_some() {
            "revoked"
        } else if c.is_live(now) {
            "active"
        } else {
            "expired"
        },
        last_used: c
            .last_used_at
            .map(|t| t.to_utc_string())
            .unwrap_or_else(|| "never".into()),
        last_ip: c.last_ip.clone().unwrap_or_default(),
        requests: c.request_count,
    }
}

async fn page(
    services: &Services,
    s: &SignedIn,
    admin_view: bool,
    status: StatusCode,
    new_secret: Option<ClientSecret>,
    flash: Flash,
) -> Result<Response, WebError> {
    services.flush_api_usage().await?;
    let owner = if admin_view {
        None
    } else {
        Some(s.session.user.id)
    };
    let now = services.clock.now();
    let clients = services
        .store
        .list_api_clients(owner)
        .await?
        .iter()
        .map(|c| row(c, now))
        .collect();
    let own_scopes = Scope::ALL
        .into_iter()
        .filter(|sc| authorize(&s.principal, *sc, Resource::Global).is_some())
        .map(Scope::as_str)
        .collect();
    Ok(render(
        status,
        &ApiClientsPage {
            chrome: chrome(
                &s.session,
                Some(&s.principal),
                if admin_view { "clients" } else { "account" },
            ),
            clients,
            own_scopes,
            new_secret: new_secret.map(|n| (n.client_id, n.secret.expose().to_owned())),
            admin_view,
            flash,
        },
    ))
}

pub async fn own_list(
    State(services): State<Arc<Services>>,
    s: SignedIn,
) -> Result<Response, WebError> {
    page(&services, &s, false, StatusCode::OK, None, Flash::default()).await
}

pub async fn own_create(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    RawForm(body): RawForm,
) -> Result<Response, WebError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    if !csrf::session_valid(&s.session, field("csrf_token")) {
        return Err(WebError::Forbidden);
    }
    let refuse = |msg: String| {
        page(
            &services,
            &s,
            false,
            StatusCode::BAD_REQUEST,
            None,
            Flash::error(msg),
        )
    };
    let scope_list: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str())
        .collect();
    let scopes = match ScopeSet::parse_list(&scope_list.join(",")) {
        Ok(set) => set,
        Err(bad) => {
            return refuse(format!(
                "Unknown scope: {}",
                bad.chars().take(40).collect::<String>()
            ))
            .await;
        }
    };
    let expires = match field("expires_in_days").trim() {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => return refuse("Expiry must be a number of days.".into()).await,
        },
    };
    let created = services
        .create_api_client(
            &s.principal,
            s.session.user.id,
            field("name"),
            scopes,
            expires,
            field("ip_allowlist"),
        )
        .await?;
    match created {
        Ok(secret) => {
            let target = format!("client:{}", secret.client_id);
            let mut res = page(
                &services,
                &s,
                false,
                StatusCode::OK,
                Some(secret),
                Flash::default(),
            )
            .await?;
            res.extensions_mut()
                .insert(AuditNote::new(EventType::Security, "api_client.create").target(target));
            Ok(res)
        }
        Err(e) => refuse(e.to_string()).await,
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// The caller's own client `id`, else 404 (another user's id is unknown).
async fn own_client(
    services: &Services,
    s: &SignedIn,
    id: &str,
) -> Result<ApiClientRecord, WebError> {
    match services.store.get_api_client(id).await? {
        Some(c) if c.user_id == s.session.user.id => Ok(c),
        _ => Err(WebError::NotFound),
    }
}

pub async fn own_regenerate(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&s.session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    let client = own_client(&services, &s, &id).await?;
    let Some(secret) = services.regenerate_client_secret(&client.id).await? else {
        return Err(WebError::NotFound);
    };
    let mut res = page(
        &services,
        &s,
        false,
        StatusCode::OK,
        Some(secret),
        Flash::notice("New secret issued; the old one and its tokens no longer work."),
    )
    .await?;
    res.extensions_mut().insert(
        AuditNote::new(EventType::Security, "api_client.regenerate_secret")
            .target(format!("client:{}", client.id)),
    );
    Ok(res)
}

pub async fn own_revoke(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&s.session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    let client = own_client(&services, &s, &id).await?;
    revoke_and_return(&services, &client.id, "/account/api-clients").await
}

/// Revokes client `id` (its tokens die with it) and returns to `back_to`.
async fn revoke_and_return(
    services: &Services,
    id: &str,
    back_to: &str,
) -> Result<Response, WebError> {
    services
        .store
        .revoke_api_client(id, services.clock.now())
        .await?;
    let mut res = Redirect::to(back_to).into_response();
    res.extensions_mut().insert(
        AuditNote::new(EventType::Security, "api_client.revoke").target(format!("client:{id}")),
    );
    Ok(res)
}

pub async fn admin_list(
    State(services): State<Arc<Services>>,
    s: SignedIn,
) -> Result<Response, WebError> {
    require(&s.principal, Scope::Admin, Resource::Global)?;
    page(&services, &s, true, StatusCode::OK, None, Flash::default()).await
}

pub async fn admin_revoke(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&s.session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    require(&s.principal, Scope::Admin, Resource::Global)?;
    let client = services
        .store
        .get_api_client(&id)
        .await?
        .ok_or(WebError::NotFound)?;
    revoke_and_return(&services, &client.id, "/admin/api-clients").await
}
