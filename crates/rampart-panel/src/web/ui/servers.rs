//! Server pages: the list with a create form, and one server's page with
//! power buttons, the console (live through `app.js`; a plain command form
//! without script), resource graphs, sub-users, reinstall and delete. Every
//! action goes through the same services and checks as the API; a server
//! the user may not see is a 404 on every route.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rampart_core::{AdminChange, Resource, Scope, ScopeSet, UserId, Username, authorize};
use rampart_proto::ServerLimits;
use serde::Deserialize;

use super::chrome;
use super::pages::{
    FileRow, FilesPage, Flash, GrantRow, ServerPage, ServerRow, ServersPage, VariableRow, render,
};
use crate::Services;
use crate::audit::{AuditNote, EventType};
use crate::servers::{CreateRequest, DEFAULT_LIMITS, ServerError, spec_of, state_of};
use crate::store::ServerRecord;
use crate::web::api::servers::parse_action;
use crate::web::authz::require;
use crate::web::session::SignedIn;
use crate::web::{WebError, csrf};

/// The scopes offered when granting a sub-user.
const GRANTABLE: [Scope; 4] = [
    Scope::ServerView,
    Scope::ServerConsole,
    Scope::ServerStart,
    Scope::ServerFilesView,
];

fn web_error(e: ServerError) -> Result<Flash, WebError> {
    match e {
        ServerError::NotFound => Err(WebError::NotFound),
        ServerError::Denied(scope) => Err(WebError::Denied {
            scope,
            target: None,
            hide: false,
        }),
        ServerError::Store(s) => Err(s.into()),
        other => Ok(Flash::error(other.to_string())),
    }
}

fn row(s: &ServerRecord, node_names: &BTreeMap<String, String>) -> ServerRow {
    let spec = spec_of(s).ok();
    ServerRow {
        id: s.id.to_string(),
        name: s.name.clone(),
        state: state_of(s).as_str(),
        node: node_names
            .get(s.node_id.as_str())
            .cloned()
            .unwrap_or_else(|| s.node_id.to_string()),
        memory_mb: spec.as_ref().map(|x| x.limits.memory_mb).unwrap_or(0),
        cpu_percent: spec.as_ref().map(|x| x.limits.cpu_percent).unwrap_or(0),
        disk_mb: spec.as_ref().map(|x| x.limits.disk_mb).unwrap_or(0),
        ports: s
            .ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        image: spec.map(|x| x.image).unwrap_or_default(),
        last_error: s.last_error.clone(),
    }
}

async fn node_names(services: &Services) -> Result<BTreeMap<String, String>, WebError> {
    Ok(services
        .store
        .list_nodes()
        .await?
        .into_iter()
        .filter(|n| n.revoked_at.is_none())
        .map(|n| (n.id.to_string(), n.name.to_string()))
        .collect())
}

async fn list_page(
    services: &Services,
    s: &SignedIn,
    status: StatusCode,
    flash: Flash,
) -> Result<Response, WebError> {
    let names = node_names(services).await?;
    let servers = services
        .visible_servers(&s.principal)
        .await
        .map_err(|e| web_error(e).err().unwrap_or(WebError::NotFound))?
        .iter()
        .map(|x| row(x, &names))
        .collect();
    let templates = services
        .store
        .list_templates()
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    Ok(render(
        status,
        &ServersPage {
            chrome: chrome(&s.session, Some(&s.principal), "servers"),
            servers,
            can_create: authorize(&s.principal, Scope::ServerEdit, Resource::Global).is_some(),
            templates,
            nodes: names.into_iter().collect(),
            flash,
        },
    ))
}

pub async fn list(
    State(services): State<Arc<Services>>,
    s: SignedIn,
) -> Result<Response, WebError> {
    list_page(&services, &s, StatusCode::OK, Flash::default()).await
}

#[derive(Deserialize)]
pub struct NewServerForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    template_id: String,
    #[serde(default)]
    node_id: String,
    #[serde(default)]
    memory_mb: String,
    #[serde(default)]
    cpu_percent: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn create(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Form(form): Form<NewServerForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&s.session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    let granted = require(&s.principal, Scope::ServerEdit, Resource::Global)?;
    // Empty fields: the plan's (or default) limits.
    let limits = match (form.memory_mb.trim(), form.cpu_percent.trim()) {
        ("", "") => None,
        (m, c) => {
            let (Ok(memory_mb), Ok(cpu_percent)) = (
                if m.is_empty() {
                    Ok(DEFAULT_LIMITS.memory_mb)
                } else {
                    m.parse()
                },
                if c.is_empty() {
                    Ok(DEFAULT_LIMITS.cpu_percent)
                } else {
                    c.parse()
                },
            ) else {
                return list_page(
                    &services,
                    &s,
                    StatusCode::BAD_REQUEST,
                    Flash::error("Memory and CPU are whole numbers."),
                )
                .await;
            };
            Some(ServerLimits {
                memory_mb,
                cpu_percent,
                ..DEFAULT_LIMITS
            })
        }
    };
    let req = CreateRequest {
        name: form.name,
        node_id: form.node_id,
        template_id: Some(form.template_id),
        image: None,
        startup: None,
        env: BTreeMap::new(),
        limits,
        ports: Vec::new(),
        owner_id: None,
    };
    match services.create_server(&granted, req).await {
        Ok(server) => {
            let mut res = Redirect::to(&format!("/servers/{}", server.id)).into_response();
            res.extensions_mut().insert(
                AuditNote::new(EventType::Audit, "server.create")
                    .target(format!("server:{}", server.id)),
            );
            Ok(res)
        }
        Err(e) => {
            let status = match &e {
                ServerError::Conflict(_) | ServerError::CapReached(_) => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            let flash = web_error(e)?;
            list_page(&services, &s, status, flash).await
        }
    }
}

async fn server_page(
    services: &Services,
    s: &SignedIn,
    id: &str,
    status: StatusCode,
    flash: Flash,
) -> Result<Response, WebError> {
    let (server, _) = services
        .authorize_server(&s.principal, id, Scope::ServerView)
        .await
        .map_err(|e| web_error(e).err().unwrap_or(WebError::NotFound))?;
    let can = |scope| {
        let principal = &s.principal;
        let server = &server;
        async move {
            services
                .authorize_server(principal, server.id.as_str(), scope)
                .await
                .is_ok()
        }
    };
    let (can_power, can_console, can_edit) = (
        can(Scope::ServerStart).await,
        can(Scope::ServerConsole).await,
        can(Scope::ServerEdit).await,
    );
    let node = services.store.get_node(&server.node_id).await?;
    let read_only_node = node.as_ref().is_some_and(|n| n.read_only);
    let names = node_names(services).await?;
    let mut grants = Vec::new();
    if can_edit {
        for (user, scopes) in services.store.server_grants(&server.id).await? {
            let username = services
                .store
                .get_user(user)
                .await?
                .map(|u| u.username.to_string())
                .unwrap_or_default();
            grants.push(GrantRow {
                user_id: user.0,
                username,
                scopes: scopes.to_list(),
            });
        }
    }
    let mut variables = Vec::new();
    if can_edit
        && let Some(t) = &server.template_id
        && let Some(record) = services.store.get_template(t).await?
        && let Ok(doc) = crate::servers::TemplateDoc::parse(&record.body)
    {
        let current: BTreeMap<String, String> =
            serde_json::from_str(&server.variables_json).unwrap_or_default();
        let admin = s.principal.scopes.contains(Scope::Admin);
        for v in doc.variables {
            variables.push(VariableRow {
                value: current.get(&v.name).cloned().unwrap_or(v.default),
                editable: v.user_editable || admin,
                name: v.name,
                description: v.description,
            });
        }
    }
    let state = state_of(&server);
    Ok(render(
        status,
        &ServerPage {
            chrome: chrome(&s.session, Some(&s.principal), "servers"),
            server: row(&server, &names),
            can_power: can_power && !read_only_node && state.allows_access(),
            can_console: can_console && state.allows_access(),
            can_edit: can_edit && !read_only_node,
            read_only_node,
            grants,
            grantable: GRANTABLE.iter().map(|s| s.as_str()).collect(),
            variables,
            powers: [
                ("start", "Start", "ghost"),
                ("stop", "Stop", "ghost"),
                ("restart", "Restart", "ghost"),
                ("kill", "Kill", "danger"),
            ],
            flash,
        },
    ))
}

pub async fn show(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    server_page(&services, &s, &id, StatusCode::OK, Flash::default()).await
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    command: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    csrf_token: String,
}

/// Runs one action on a server for a form; redirects back, or shows the
/// page with the refusal.
async fn act(
    services: &Arc<Services>,
    s: &SignedIn,
    id: &str,
    csrf_token: &str,
    scope: Scope,
    audit: &'static str,
    run: impl AsyncFnOnce(
        &Arc<Services>,
        &ServerRecord,
        &rampart_core::Granted,
    ) -> Result<String, ServerError>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&s.session, csrf_token) {
        return Err(WebError::Forbidden);
    }
    let outcome = match services.authorize_server(&s.principal, id, scope).await {
        Ok((server, granted)) => run(services, &server, &granted).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(next) => {
            let mut res = Redirect::to(&next).into_response();
            res.extensions_mut()
                .insert(AuditNote::new(EventType::Audit, audit).target(format!("server:{id}")));
            Ok(res)
        }
        Err(e) => {
            let status = match &e {
                ServerError::BadRequest(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::CONFLICT,
            };
            let flash = web_error(e)?;
            server_page(services, s, id, status, flash).await
        }
    }
}

/// The server's page (ids in redirects come from the store, never the request).
fn back(id: &str) -> String {
    format!("/servers/{id}")
}

pub async fn power(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    let action = parse_action(&form.action);
    act(
        &services,
        &s,
        &id,
        &form.csrf_token,
        Scope::ServerStart,
        "server.power",
        async |svc, server, granted| {
            let action = action.ok_or_else(|| ServerError::BadRequest("unknown action".into()))?;
            svc.power(granted, server, action).await?;
            Ok(back(server.id.as_str()))
        },
    )
    .await
}

pub async fn command(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    let line = form.command.clone();
    act(
        &services,
        &s,
        &id,
        &form.csrf_token,
        Scope::ServerConsole,
        "server.command",
        async |svc, server, granted| {
            svc.send_input(granted, server, &line).await?;
            Ok(back(server.id.as_str()))
        },
    )
    .await
}

pub async fn reinstall(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    act(
        &services,
        &s,
        &id,
        &form.csrf_token,
        Scope::ServerEdit,
        "server.reinstall",
        async |svc, server, granted| {
            svc.admin_change(granted, server, AdminChange::Reinstall)
                .await?;
            Ok(back(server.id.as_str()))
        },
    )
    .await
}

pub async fn delete(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    act(
        &services,
        &s,
        &id,
        &form.csrf_token,
        Scope::ServerEdit,
        "server.delete",
        async |svc, server, granted| {
            svc.delete_server(granted, server).await?;
            Ok("/servers".to_owned())
        },
    )
    .await
}

pub async fn grant(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<String>,
    raw: axum::extract::RawForm,
) -> Result<Response, WebError> {
    let form = parse_grant_form(&raw.0);
    let username = form.username.trim().to_owned();
    let scopes = form.scopes.clone();
    act(
        &services,
        &s,
        &id,
        &form.csrf_token,
        Scope::ServerEdit,
        "server.grant",
        async |svc, server, granted| {
            let name = Username::parse(&username)
                .map_err(|_| ServerError::BadRequest("no such user".into()))?;
            let user = svc
                .store
                .find_user_by_username(&name)
                .await?
                .ok_or_else(|| ServerError::BadRequest("no such user".into()))?;
            let mut set = ScopeSet::EMPTY;
            for sc in &scopes {
                let scope = Scope::parse(sc)
                    .filter(|x| GRANTABLE.contains(x))
                    .ok_or_else(|| ServerError::BadRequest("unknown scope".into()))?;
                set.insert(scope);
            }
            svc.grant_server(granted, server, user.id, set).await?;
            Ok(back(server.id.as_str()))
        },
    )
    .await
}

/// Forms repeat `scopes=` for each checked box (serde's form decoder
/// does not gather repeats into a list).
fn parse_grant_form(body: &[u8]) -> ActionForm {
    let mut form = ActionForm {
        action: String::new(),
        command: String::new(),
        username: String::new(),
        scopes: Vec::new(),
        csrf_token: String::new(),
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    for (k, v) in pairs {
        match k.as_str() {
            "username" => form.username = v,
            "scopes" => form.scopes.push(v),
            "csrf_token" => form.csrf_token = v,
            _ => {}
        }
    }
    form
}

pub async fn revoke_grant(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path((id, user_id)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    let user: i64 = user_id.parse().map_err(|_| WebError::NotFound)?;
    act(
        &services,
        &s,
        &id,
        &form.csrf_token,
        Scope::ServerEdit,
        "server.revoke_grant",
        async |svc, server, granted| {
            if !svc
                .revoke_server_grant(granted, server, UserId(user))
                .await?
            {
                return Err(ServerError::NotFound);
            }
            Ok(back(server.id.as_str()))
        },
    )
    .await
}

/// Rename and/or change variables (`var_NAME` fields); variables are sent
/// only when one differs from its current value.
pub async fn settings(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<String>,
    raw: axum::extract::RawForm,
) -> Result<Response, WebError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&raw.0).unwrap_or_default();
    let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let csrf_token = field("csrf_token").unwrap_or_default();
    let name = field("name").filter(|n| !n.trim().is_empty());
    let given: BTreeMap<String, String> = pairs
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("var_").map(|n| (n.to_owned(), v.clone())))
        .collect();
    act(
        &services,
        &s,
        &id,
        &csrf_token,
        Scope::ServerEdit,
        "server.update",
        async |svc, server, granted| {
            let current: BTreeMap<String, String> =
                serde_json::from_str(&server.variables_json).unwrap_or_default();
            let changed: BTreeMap<String, String> = given
                .into_iter()
                .filter(|(k, v)| current.get(k) != Some(v))
                .collect();
            let env = (!changed.is_empty()).then_some(changed);
            svc.update_server(granted, server, name.as_deref(), env.as_ref())
                .await?;
            Ok(back(server.id.as_str()))
        },
    )
    .await
}

#[derive(Deserialize)]
pub struct FilesQuery {
    #[serde(default)]
    path: String,
}

/// The file browser: one directory of the server's files, with breadcrumbs.
pub async fn files(
    State(services): State<Arc<Services>>,
    s: SignedIn,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<FilesQuery>,
) -> Result<Response, WebError> {
    let (server, _) = services
        .authorize_server(&s.principal, &id, Scope::ServerFilesView)
        .await
        .map_err(|e| web_error(e).err().unwrap_or(WebError::NotFound))?;
    let parts: Vec<&str> = q
        .path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    // Links carry the path as an encoded query (`path=…`).
    let query = |p: &str| serde_urlencoded::to_string([("path", p)]).unwrap_or_default();
    let mut crumbs = vec![("files".to_owned(), query("/"))];
    for (i, part) in parts.iter().enumerate() {
        crumbs.push((
            (*part).to_owned(),
            query(&format!("/{}", parts[..=i].join("/"))),
        ));
    }
    let here = format!("/{}", parts.join("/"));
    let (status, files, flash) = if state_of(&server) == rampart_core::ServerState::Suspended {
        (
            StatusCode::CONFLICT,
            Vec::new(),
            Flash::error("The server is suspended."),
        )
    } else {
        match crate::web::api::files::list_dir(&services, &server, &here).await {
            Ok(entries) => (
                StatusCode::OK,
                entries
                    .into_iter()
                    .map(|e| FileRow {
                        path: query(&format!("{}/{}", here.trim_end_matches('/'), e.name)),
                        mode: format!("{:o}", e.mode),
                        modified: rampart_core::UnixTime(e.modified).to_utc_string(),
                        name: e.name,
                        kind: e.kind,
                        size: e.size,
                    })
                    .collect(),
                Flash::default(),
            ),
            Err(e) => (e.status, Vec::new(), Flash::error(e.message)),
        }
    };
    // How to reach the same files over SFTP, and the key to expect.
    let node = services.store.get_node(&server.node_id).await?;
    let sftp_command = match node {
        Some(node) => format!(
            "sftp -P {} {}@{}",
            node.sftp_port,
            crate::servers::sftp::sftp_username(
                s.session.user.username.as_str(),
                server.id.as_str()
            ),
            if node.public_address.is_empty() {
                "127.0.0.1".to_owned()
            } else {
                node.public_address
            }
        ),
        None => String::new(),
    };
    let sftp_fingerprint = services
        .hub
        .sftp_host_key(&server.node_id)
        .unwrap_or_default();
    let can_edit = status == StatusCode::OK
        && services
            .authorize_server(&s.principal, &id, Scope::ServerFilesEdit)
            .await
            .is_ok();
    Ok(render(
        status,
        &FilesPage {
            chrome: chrome(&s.session, Some(&s.principal), "servers"),
            server_id: server.id.to_string(),
            server_name: server.name.clone(),
            here: here.clone(),
            can_edit,
            sftp_command,
            sftp_fingerprint,
            crumbs,
            files,
            flash,
        },
    ))
}
