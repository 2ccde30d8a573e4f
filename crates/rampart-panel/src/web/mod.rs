//! The HTTP face of the panel (axum).
//!
//! Layers, outermost first: request context (request id, span, access log,
//! generic error pages, security headers) → audit → API rate-limit headers →
//! CSRF Origin check → routes. Every
//! response, errors included, passes the first three; every state-changing
//! request is audited.
//!
//! Routes are declared once, in [`routes`], through a [`RouteTable`] that
//! also lists them, so the authorization coverage test can fail when a
//! route is missing from its expectations.

pub mod agents;
pub mod api;
pub mod authz;
pub mod client;
pub mod cookies;
pub mod csrf;
mod error;
mod health;
pub mod metrics;
pub mod middleware;
pub mod oauth;
pub mod session;
pub mod ui;

pub use error::{WebError, error_chain};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post};

use crate::Services;

/// Largest request body the UI accepts (forms are small).
const BODY_LIMIT_BYTES: usize = 64 * 1024;

type State = Arc<Services>;

/// A router that remembers every (method, path) it was given.
pub struct RouteTable {
    router: Router<State>,
    listed: Vec<(Method, &'static str)>,
}

impl RouteTable {
    fn new() -> Self {
        RouteTable {
            router: Router::new(),
            listed: Vec::new(),
        }
    }

    fn get(mut self, path: &'static str, route: MethodRouter<State>) -> Self {
        self.listed.push((Method::GET, path));
        self.router = self.router.route(path, route);
        self
    }

    fn post(mut self, path: &'static str, route: MethodRouter<State>) -> Self {
        self.listed.push((Method::POST, path));
        self.router = self.router.route(path, route);
        self
    }

    fn get_post(mut self, path: &'static str, route: MethodRouter<State>) -> Self {
        self.listed.push((Method::GET, path));
        self.listed.push((Method::POST, path));
        self.router = self.router.route(path, route);
        self
    }

    /// A route answering `methods`.
    fn methods(
        mut self,
        path: &'static str,
        methods: &[Method],
        route: MethodRouter<State>,
    ) -> Self {
        for m in methods {
            self.listed.push((m.clone(), path));
        }
        self.router = self.router.route(path, route);
        self
    }
}

/// Every route of the panel.
fn routes() -> RouteTable {
    use api::handlers as h;
    use ui::{account, admin, api_clients, assets, dashboard, login, setup};
    RouteTable::new()
        .get("/", get(dashboard::show))
        .get_post("/login", get(login::show).post(login::submit))
        .get_post(
            "/login/2fa",
            get(login::second_factor_page).post(login::second_factor_submit),
        )
        .post("/logout", post(login::logout))
        .get_post("/setup", get(setup::show).post(setup::submit))
        .get("/account/security", get(account::security))
        .post(
            "/account/security/totp/confirm",
            post(account::totp_confirm),
        )
        .post(
            "/account/security/totp/disable",
            post(account::totp_disable),
        )
        .post("/account/password", post(account::change_password))
        .get("/account/sessions", get(account::sessions))
        .post(
            "/account/sessions/revoke-others",
            post(account::revoke_others),
        )
        .post("/account/sessions/{id}/revoke", post(account::revoke_one))
        .get_post(
            "/account/ssh-keys",
            get(ui::ssh_keys::list).post(ui::ssh_keys::add),
        )
        .post("/account/ssh-keys/{id}/delete", post(ui::ssh_keys::delete))
        .get_post(
            "/admin/users",
            get(admin::users_list).post(admin::users_create),
        )
        .get("/admin/users/{id}", get(admin::user_detail))
        .post("/admin/users/{id}/role", post(admin::user_role))
        .post("/admin/users/{id}/password", post(admin::user_password))
        .post("/admin/users/{id}/deactivate", post(admin::user_deactivate))
        .post("/admin/users/{id}/reactivate", post(admin::user_reactivate))
        .post("/admin/users/{id}/delete", post(admin::user_delete))
        .get_post(
            "/admin/roles",
            get(admin::roles_list).post(admin::roles_create),
        )
        .post("/admin/roles/{name}/delete", post(admin::roles_delete))
        .get("/admin/audit", get(admin::audit_log))
        .get_post(
            "/account/api-clients",
            get(api_clients::own_list).post(api_clients::own_create),
        )
        .post(
            "/account/api-clients/{id}/secret",
            post(api_clients::own_regenerate),
        )
        .post(
            "/account/api-clients/{id}/revoke",
            post(api_clients::own_revoke),
        )
        .get("/admin/api-clients", get(api_clients::admin_list))
        .post(
            "/admin/api-clients/{id}/revoke",
            post(api_clients::admin_revoke),
        )
        .post("/oauth/token", post(oauth::token))
        .post("/oauth/revoke", post(oauth::revoke))
        .get("/api/v1/openapi.json", get(api::openapi::openapi_json))
        .get("/api/v1/me", get(h::me))
        .get_post(
            "/api/v1/me/ssh-keys",
            get(api::ssh_keys::list).post(api::ssh_keys::add),
        )
        .methods(
            "/api/v1/me/ssh-keys/{id}",
            &[Method::DELETE],
            delete(api::ssh_keys::delete),
        )
        .get_post("/api/v1/users", get(h::users_list).post(h::users_create))
        .methods(
            "/api/v1/users/{id}",
            &[Method::GET, Method::PATCH, Method::DELETE],
            get(h::user_get).patch(h::user_patch).delete(h::user_delete),
        )
        .post("/api/v1/users/{id}/password", post(h::user_password))
        .get_post("/api/v1/roles", get(h::roles_list).post(h::roles_create))
        .methods(
            "/api/v1/roles/{name}",
            &[Method::DELETE],
            delete(h::roles_delete),
        )
        .get("/api/v1/sessions", get(h::sessions_list))
        .methods(
            "/api/v1/sessions/{id}",
            &[Method::DELETE],
            delete(h::session_delete),
        )
        .get_post(
            "/api/v1/api-clients",
            get(h::clients_list).post(h::clients_create),
        )
        .methods(
            "/api/v1/api-clients/{id}",
            &[Method::GET, Method::DELETE],
            get(h::client_get).delete(h::client_revoke),
        )
        .post(
            "/api/v1/api-clients/{id}/secret",
            post(h::client_regenerate),
        )
        .get("/api/v1/audit", get(h::audit_list))
        .get_post(
            "/api/v1/nodes",
            get(api::nodes::list).post(api::nodes::create),
        )
        .methods(
            "/api/v1/nodes/{id}",
            &[Method::GET, Method::DELETE],
            get(api::nodes::get).delete(api::nodes::revoke),
        )
        .post("/api/v1/nodes/{id}/describe", post(api::nodes::describe))
        .post(
            "/api/v1/nodes/{id}/rotate-credential",
            post(api::nodes::rotate_credential),
        )
        .get_post(
            "/api/v1/servers",
            get(api::servers::list).post(api::servers::create),
        )
        .methods(
            "/api/v1/servers/{id}",
            &[Method::GET, Method::PATCH, Method::DELETE],
            get(api::servers::get)
                .patch(api::servers::patch)
                .delete(api::servers::delete),
        )
        .post("/api/v1/servers/{id}/power", post(api::servers::power))
        .post("/api/v1/servers/{id}/command", post(api::servers::command))
        .post(
            "/api/v1/servers/{id}/reinstall",
            post(api::servers::reinstall),
        )
        .post("/api/v1/servers/{id}/suspend", post(api::servers::suspend))
        .post(
            "/api/v1/servers/{id}/unsuspend",
            post(api::servers::unsuspend),
        )
        .get("/api/v1/servers/{id}/stats", get(api::servers::stats))
        .get("/api/v1/servers/{id}/console", get(api::console::console))
        .get("/api/v1/servers/{id}/files", get(api::files::list))
        .methods(
            "/api/v1/servers/{id}/files/content",
            &[Method::GET, Method::PUT],
            get(api::file_content::read).put(api::file_content::write),
        )
        .get("/api/v1/servers/{id}/files/search", get(api::files::search))
        .post("/api/v1/servers/{id}/files/mkdir", post(api::files::mkdir))
        .post(
            "/api/v1/servers/{id}/files/rename",
            post(api::files::rename),
        )
        .post("/api/v1/servers/{id}/files/copy", post(api::files::copy))
        .post(
            "/api/v1/servers/{id}/files/delete",
            post(api::files::delete),
        )
        .post("/api/v1/servers/{id}/files/chmod", post(api::files::chmod))
        .post(
            "/api/v1/servers/{id}/files/extract",
            post(api::files::extract),
        )
        .post(
            "/api/v1/servers/{id}/files/archive",
            post(api::files::archive),
        )
        .post("/api/v1/servers/{id}/files/pull", post(api::files::pull))
        .get_post(
            "/api/v1/servers/{id}/users",
            get(api::servers::sub_users).post(api::servers::grant),
        )
        .methods(
            "/api/v1/servers/{id}/users/{user_id}",
            &[Method::DELETE],
            delete(api::servers::revoke_grant),
        )
        .get_post(
            "/api/v1/templates",
            get(api::templates::list).post(api::templates::import),
        )
        .get("/api/v1/templates/{id}", get(api::templates::export))
        .get_post("/api/v1/plans", get(api::plans::list).post(api::plans::put))
        .methods(
            "/api/v1/plans/{name}",
            &[Method::DELETE],
            delete(api::plans::delete),
        )
        .post("/agent/enroll", post(agents::enroll))
        .get("/agent/link", get(agents::link))
        .get("/agent/transfer", get(agents::transfer))
        .get_post("/servers", get(ui::servers::list).post(ui::servers::create))
        .get("/servers/{id}", get(ui::servers::show))
        .get("/servers/{id}/files", get(ui::servers::files))
        .post("/servers/{id}/power", post(ui::servers::power))
        .post("/servers/{id}/command", post(ui::servers::command))
        .post("/servers/{id}/reinstall", post(ui::servers::reinstall))
        .post("/servers/{id}/settings", post(ui::servers::settings))
        .post("/servers/{id}/delete", post(ui::servers::delete))
        .post("/servers/{id}/users", post(ui::servers::grant))
        .post(
            "/servers/{id}/users/{user_id}/revoke",
            post(ui::servers::revoke_grant),
        )
        .get_post("/nodes", get(ui::nodes::list).post(ui::nodes::create))
        .post("/nodes/{id}/revoke", post(ui::nodes::revoke))
        .get("/static/{file}", get(assets::serve))
        .get("/metrics", get(metrics::metrics))
        .get("/health", get(health::health))
        .get("/ready", get(health::ready))
}

/// Every (method, path template) the panel serves.
pub fn route_list() -> Vec<(Method, &'static str)> {
    routes().listed
}

/// Builds the panel's router with every layer in place.
pub fn router(services: Arc<Services>) -> Router {
    routes()
        .router
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            services.clone(),
            middleware::origin_check::origin_check,
        ))
        .layer(axum::middleware::from_fn(api::caller::rate_headers))
        .layer(axum::middleware::from_fn_with_state(
            services.clone(),
            middleware::audit::audit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            services.clone(),
            middleware::request_context::request_context,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .with_state(services)
}

/// The agent endpoints alone, with the request-context and audit layers,
/// for the TLS agent listener.
pub fn agent_router(services: Arc<Services>) -> Router {
    Router::new()
        .route("/agent/enroll", post(agents::enroll))
        .route("/agent/link", get(agents::link))
        .route("/agent/transfer", get(agents::transfer))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            services.clone(),
            middleware::audit::audit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            services.clone(),
            middleware::request_context::request_context,
        ))
        .layer(axum::Extension(agents::AgentTlsListener))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .with_state(services)
}

/// Serves the panel on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    services: Arc<Services>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(services).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
