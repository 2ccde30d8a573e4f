//! Admin pages: users (R20), custom roles (R17), the audit log (R100).
//! Every handler authorizes through `web::authz::require` and hands the
//! resulting capability to the service.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rampart_core::{Resource, RoleName, Scope, ScopeSet, UnixTime, UserId, Username, authorize};
use serde::Deserialize;

use super::chrome;
use super::pages::{
    AuditFilters, AuditPage, AuditRow, Flash, RoleRow, RolesPage, UserPage, UserRow, UsersPage,
    render,
};
use crate::Services;
use crate::audit::{AuditNote, EventType};
use crate::auth::AdminError;
use crate::store::{AuditFilter, UserRecord};
use crate::web::authz::require;
use crate::web::session::SignedIn;
use crate::web::{WebError, csrf};

fn user_row(u: &UserRecord) -> UserRow {
    UserRow {
        id: u.id.0,
        username: u.username.to_string(),
        role: u.role.to_string(),
        active: u.active,
        totp: u.totp.is_some(),
        created: u.created_at.to_utc_string(),
    }
}

async fn role_names(services: &Services) -> Result<Vec<String>, WebError> {
    let mut names: Vec<String> = rampart_core::Role::ALL
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    names.extend(
        services
            .store
            .list_roles()
            .await?
            .into_iter()
            .map(|r| r.name.to_string()),
    );
    Ok(names)
}

/// A message for the admin, or the error as an internal failure.
fn admin_message(e: AdminError) -> Result<String, WebError> {
    match e {
        AdminError::NotFound => Err(WebError::NotFound),
        AdminError::WrongCapability | AdminError::Auth(_) => Err(WebError::Internal(Box::new(e))),
        other => Ok(other.to_string()),
    }
}

fn target(id: UserId) -> String {
    format!("user:{id}")
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

fn check_csrf(signed_in: &SignedIn, token: &str) -> Result<(), WebError> {
    if csrf::session_valid(&signed_in.session, token) {
        Ok(())
    } else {
        Err(WebError::Forbidden)
    }
}

async fn users_page(
    services: &Services,
    s: &SignedIn,
    status: StatusCode,
    flash: Flash,
) -> Result<Response, WebError> {
    require(&s.principal, Scope::UsersView, Resource::Global)?;
    let users = services.store.list_users().await?;
    Ok(render(
        status,
        &UsersPage {
            chrome: chrome(&s.session, Some(&s.principal), "users"),
            users: users.iter().map(user_row).collect(),
            roles: role_names(services).await?,
            can_edit: authorize(&s.principal, Scope::UsersEdit, Resource::Global).is_some(),
            flash,
        },
    ))
}

pub async fn users_list(
    State(services): State<Arc<Services>>,
    s: SignedIn,
) -> Result<Response, WebError> {
    users_page(&services, &s, StatusCode::OK, Flash::default()).await
}

#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn users_create(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Form(form): Form<NewUserForm>,
) -> Result<Response, WebError> {
    check_csrf(&s, &form.csrf_token)?;
    let granted = require(&s.principal, Scope::UsersEdit, Resource::Global)?;
    let refuse =
        |msg: String| users_page(&services, &s, StatusCode::BAD_REQUEST, Flash::error(msg));
    let username = match Username::parse(&form.username) {
        Ok(u) => u,
        Err(e) => return refuse(e.to_string()).await,
    };
    let Ok(role) = RoleName::parse(&form.role) else {
        return refuse("Unknown role.".into()).await;
    };
    match services
        .admin_create_user(&granted, &username, &form.password, &role)
        .await
    {
        Ok(id) => {
            let mut res = Redirect::to(&format!("/admin/users/{id}")).into_response();
            res.extensions_mut().insert(
                AuditNote::new(EventType::Audit, "user.create")
                    .target(target(id))
                    .extra("username", &username)
                    .extra("role", &role),
            );
            Ok(res)
        }
        Err(e) => refuse(admin_message(e)?).await,
    }
}

async fn user_page(
    services: &Services,
    s: &SignedIn,
    id: UserId,
    status: StatusCode,
    flash: Flash,
) -> Result<Response, WebError> {
    require(&s.principal, Scope::UsersView, Resource::User(id))?;
    let user = services
        .store
        .get_user(id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(render(
        status,
        &UserPage {
            chrome: chrome(&s.session, Some(&s.principal), "users"),
            user: user_row(&user),
            roles: role_names(services).await?,
            can_edit: authorize(&s.principal, Scope::UsersEdit, Resource::User(id)).is_some(),
            flash,
        },
    ))
}

pub async fn user_detail(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    user_page(&services, &s, UserId(id), StatusCode::OK, Flash::default()).await
}

/// Runs an edit of user `id` and answers with the user page.
async fn user_edit(
    services: &Services,
    s: &SignedIn,
    id: UserId,
    action: &'static str,
    done: &str,
    edit: impl std::future::Future<Output = Result<(), AdminError>>,
) -> Result<Response, WebError> {
    let (status, flash, event) = match edit.await {
        Ok(()) => (StatusCode::OK, Flash::notice(done), EventType::Audit),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Flash::error(admin_message(e)?),
            EventType::Audit,
        ),
    };
    // A deleted user has no page: go back to the list.
    let mut res = if action == "user.delete" && status == StatusCode::OK {
        Redirect::to("/admin/users").into_response()
    } else {
        user_page(services, s, id, status, flash).await?
    };
    res.extensions_mut()
        .insert(AuditNote::new(event, action).target(target(id)));
    Ok(res)
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn user_role(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<RoleForm>,
) -> Result<Response, WebError> {
    check_csrf(&s, &form.csrf_token)?;
    let id = UserId(id);
    let granted = require(&s.principal, Scope::UsersEdit, Resource::User(id))?;
    let role = RoleName::parse(&form.role).map_err(|_| WebError::NotFound)?;
    let mut res = user_edit(
        &services,
        &s,
        id,
        "user.role",
        "Role changed; the user signs in again.",
        async { services.admin_set_role(&granted, id, &role).await },
    )
    .await?;
    if let Some(note) = res.extensions_mut().get_mut::<AuditNote>() {
        *note = note.clone().extra("role", &role);
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn user_password(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<ResetForm>,
) -> Result<Response, WebError> {
    check_csrf(&s, &form.csrf_token)?;
    let id = UserId(id);
    let granted = require(&s.principal, Scope::UsersEdit, Resource::User(id))?;
    user_edit(
        &services,
        &s,
        id,
        "user.password_reset",
        "Password set; the user's sessions ended.",
        async {
            services
                .admin_reset_password(&granted, id, &form.password)
                .await
        },
    )
    .await
}

/// The one-click account actions of the user page.
#[derive(Debug, Clone, Copy)]
enum AccountAction {
    Deactivate,
    Reactivate,
    Delete,
}

/// Runs `action` on user `id` after the CSRF and authorization checks.
async fn account_action(
    services: Arc<Services>,
    s: SignedIn,
    id: i64,
    form: CsrfForm,
    action: AccountAction,
) -> Result<Response, WebError> {
    check_csrf(&s, &form.csrf_token)?;
    let id = UserId(id);
    let granted = require(&s.principal, Scope::UsersEdit, Resource::User(id))?;
    let (audit, done) = match action {
        AccountAction::Deactivate => ("user.deactivate", "User deactivated; their sessions ended."),
        AccountAction::Reactivate => ("user.reactivate", "User reactivated."),
        AccountAction::Delete => ("user.delete", "User deleted."),
    };
    user_edit(&services, &s, id, audit, done, async {
        match action {
            AccountAction::Deactivate => services.admin_set_active(&granted, id, false).await,
            AccountAction::Reactivate => services.admin_set_active(&granted, id, true).await,
            AccountAction::Delete => services.admin_delete_user(&granted, id).await,
        }
    })
    .await
}

pub async fn user_deactivate(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    account_action(services, s, id, form, AccountAction::Deactivate).await
}

pub async fn user_reactivate(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    account_action(services, s, id, form, AccountAction::Reactivate).await
}

pub async fn user_delete(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    account_action(services, s, id, form, AccountAction::Delete).await
}

async fn roles_page(
    services: &Services,
    s: &SignedIn,
    status: StatusCode,
    flash: Flash,
) -> Result<Response, WebError> {
    require(&s.principal, Scope::Admin, Resource::Global)?;
    let mut roles: Vec<RoleRow> = Services::builtin_roles()
        .into_iter()
        .map(|(r, scopes)| RoleRow {
            name: r.as_str().to_owned(),
            scopes: scopes.iter().map(Scope::as_str).collect(),
            builtin: true,
        })
        .collect();
    roles.extend(
        services
            .store
            .list_roles()
            .await?
            .into_iter()
            .map(|r| RoleRow {
                name: r.name.to_string(),
                scopes: r.scopes.iter().map(Scope::as_str).collect(),
                builtin: false,
            }),
    );
    Ok(render(
        status,
        &RolesPage {
            chrome: chrome(&s.session, Some(&s.principal), "roles"),
            roles,
            all_scopes: Scope::ALL.iter().map(|s| s.as_str()).collect(),
            flash,
        },
    ))
}

pub async fn roles_list(
    State(services): State<Arc<Services>>,
    s: SignedIn,
) -> Result<Response, WebError> {
    roles_page(&services, &s, StatusCode::OK, Flash::default()).await
}

/// `name=…&scope=a&scope=b&csrf_token=…` (repeated keys, so parsed by hand).
fn parse_role_form(body: &[u8]) -> (String, Vec<String>, String) {
    let (mut name, mut scopes, mut csrf_token) = (String::new(), Vec::new(), String::new());
    for (k, v) in form_urlencoded_pairs(body) {
        match k.as_str() {
            "name" => name = v,
            "scope" => scopes.push(v),
            "csrf_token" => csrf_token = v,
            _ => {}
        }
    }
    (name, scopes, csrf_token)
}

fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default()
}

pub async fn roles_create(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    RawForm(body): RawForm,
) -> Result<Response, WebError> {
    let (name, scope_names, token) = parse_role_form(&body);
    check_csrf(&s, &token)?;
    let granted = require(&s.principal, Scope::Admin, Resource::Global)?;
    let refuse =
        |msg: String| roles_page(&services, &s, StatusCode::BAD_REQUEST, Flash::error(msg));
    let Ok(name) = RoleName::parse(&name) else {
        return refuse(rampart_core::role::BadRoleName.to_string()).await;
    };
    let scopes = match ScopeSet::parse_list(&scope_names.join(",")) {
        Ok(set) => set,
        Err(bad) => return refuse(format!("Unknown scope: {bad}")).await,
    };
    match services.admin_create_role(&granted, &name, scopes).await {
        Ok(()) => {
            let mut res = Redirect::to("/admin/roles").into_response();
            res.extensions_mut().insert(
                AuditNote::new(EventType::Audit, "role.create")
                    .target(format!("role:{name}"))
                    .extra("role", &name),
            );
            Ok(res)
        }
        Err(e) => refuse(admin_message(e)?).await,
    }
}

pub async fn roles_delete(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    check_csrf(&s, &form.csrf_token)?;
    let granted = require(&s.principal, Scope::Admin, Resource::Global)?;
    let name = RoleName::parse(&name).map_err(|_| WebError::NotFound)?;
    match services.admin_delete_role(&granted, &name).await {
        Ok(()) => {
            let mut res = Redirect::to("/admin/roles").into_response();
            res.extensions_mut().insert(
                AuditNote::new(EventType::Audit, "role.delete").target(format!("role:{name}")),
            );
            Ok(res)
        }
        Err(e) => {
            roles_page(
                &services,
                &s,
                StatusCode::BAD_REQUEST,
                Flash::error(admin_message(e)?),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    target: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before: Option<i64>,
}

const AUDIT_PAGE: i64 = 100;

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

pub async fn audit_log(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Query(q): Query<AuditQuery>,
) -> Result<Response, WebError> {
    require(&s.principal, Scope::AuditView, Resource::Global)?;
    let mut flash = Flash::default();
    let mut date = |field: &Option<String>, end_of_day: bool| match non_empty(field) {
        None => None,
        Some(text) => match UnixTime::parse_date(&text) {
            Some(t) => Some(if end_of_day { t.0 + 86_399 } else { t.0 }),
            None => {
                flash = Flash::error("Dates are YYYY-MM-DD.");
                None
            }
        },
    };
    let since = date(&q.since, false);
    let until = date(&q.until, true);
    let filter = AuditFilter {
        actor: non_empty(&q.actor),
        event_type: non_empty(&q.event_type),
        target: non_empty(&q.target),
        since,
        until,
        before_id: q.before,
    };
    let records = services.store.list_audit(&filter, AUDIT_PAGE).await?;
    let next_before = (records.len() as i64 == AUDIT_PAGE)
        .then(|| records.last().map(|r| r.id))
        .flatten();
    let filters = AuditFilters {
        actor: filter.actor.clone().unwrap_or_default(),
        event_type: filter.event_type.clone().unwrap_or_default(),
        target: filter.target.clone().unwrap_or_default(),
        since: non_empty(&q.since).unwrap_or_default(),
        until: non_empty(&q.until).unwrap_or_default(),
    };
    let next_query = serde_urlencoded::to_string([
        ("actor", filters.actor.as_str()),
        ("type", filters.event_type.as_str()),
        ("target", filters.target.as_str()),
        ("since", filters.since.as_str()),
        ("until", filters.until.as_str()),
    ])
    .map(|q| format!("{q}&"))
    .unwrap_or_default();
    let rows = records
        .into_iter()
        .map(|r| AuditRow {
            id: r.id,
            at: UnixTime(r.body.at).to_utc_string(),
            event_type: r.body.event_type,
            actor: r.body.actor,
            action: r.body.action,
            target: r.body.target.unwrap_or_default(),
            result: r.body.result,
            ip: r.body.ip.unwrap_or_default(),
            request_id: r.body.request_id.unwrap_or_default(),
            extra: r.body.extra,
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &AuditPage {
            chrome: chrome(&s.session, Some(&s.principal), "audit"),
            rows,
            filters,
            event_types: crate::audit::EventType::ALL
                .iter()
                .map(|e| e.as_str())
                .collect(),
            next_before,
            next_query,
            flash,
        },
    ))
}
