//! Page templates and the one function that turns them into responses.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::assets;

/// Marks a response whose body is a page we rendered on purpose, so the
/// error-pages layer leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct Rendered;

/// Renders `page` with `status`. If rendering fails (it cannot for these
/// templates, but it is a `Result`), the client gets a bare 500 page.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => {
            let mut res = (status, html).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            res.extensions_mut().insert(Rendered);
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            let mut res = (
                StatusCode::INTERNAL_SERVER_ERROR,
                "500 Internal Server Error",
            )
                .into_response();
            res.extensions_mut().insert(Rendered);
            res
        }
    }
}

/// Version string of the static assets, for cache busting.
fn v() -> &'static str {
    assets::version()
}

/// What every signed-in page shows around its content: who is signed in,
/// the logout token, and which navigation entries their scopes open.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub username: String,
    pub role: String,
    pub csrf: String,
    pub nav_users: bool,
    pub nav_roles: bool,
    pub nav_audit: bool,
    pub nav_nodes: bool,
    /// Which entry is current: "dashboard", "account", "users", "roles", "audit".
    pub current: &'static str,
}

macro_rules! app_page {
    ($name:ident, $file:literal { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Template)]
        #[template(path = $file)]
        pub struct $name {
            pub chrome: Chrome,
            $(pub $field: $ty,)*
        }

        impl $name {
            fn v(&self) -> &'static str {
                v()
            }
        }
    };
}

/// Text for a flash message area.
#[derive(Debug, Clone, Default)]
pub struct Flash {
    pub error: Option<String>,
    pub notice: Option<String>,
}

impl Flash {
    pub fn error(msg: impl Into<String>) -> Flash {
        Flash {
            error: Some(msg.into()),
            notice: None,
        }
    }

    pub fn notice(msg: impl Into<String>) -> Flash {
        Flash {
            error: None,
            notice: Some(msg.into()),
        }
    }
}

app_page!(DashboardPage, "dashboard.html" {});

/// The 2FA part of the security page.
#[derive(Debug, Clone)]
pub enum TotpState {
    Enabled {
        recovery_left: i64,
    },
    Enrolling {
        secret: String,
        qr_svg: String,
        uri: String,
    },
}

app_page!(SecurityPage, "account_security.html" {
    totp: TotpState,
    must_enroll: bool,
    flash: Flash,
});

app_page!(RecoveryCodesPage, "recovery_codes.html" { codes: Vec<String> });

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub public_id: String,
    pub created: String,
    pub last_seen: String,
    pub ip: String,
    pub user_agent: String,
    pub current: bool,
}

app_page!(SessionsPage, "account_sessions.html" { sessions: Vec<SessionRow>, flash: Flash });

#[derive(Debug, Clone)]
pub struct SshKeyRow {
    pub id: String,
    pub name: String,
    pub fingerprint: String,
    pub created: String,
    pub last_used: String,
}

app_page!(SshKeysPage, "account_ssh_keys.html" { username: String, keys: Vec<SshKeyRow>, flash: Flash });

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub active: bool,
    pub totp: bool,
    pub created: String,
}

app_page!(UsersPage, "admin_users.html" {
    users: Vec<UserRow>,
    roles: Vec<String>,
    can_edit: bool,
    flash: Flash,
});

app_page!(UserPage, "admin_user.html" {
    user: UserRow,
    roles: Vec<String>,
    can_edit: bool,
    flash: Flash,
});

#[derive(Debug, Clone)]
pub struct RoleRow {
    pub name: String,
    pub scopes: Vec<&'static str>,
    pub builtin: bool,
}

app_page!(RolesPage, "admin_roles.html" {
    roles: Vec<RoleRow>,
    all_scopes: Vec<&'static str>,
    flash: Flash,
});

#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub event_type: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub result: String,
    pub ip: String,
    pub request_id: String,
    pub extra: String,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilters {
    pub actor: String,
    pub event_type: String,
    pub target: String,
    pub since: String,
    pub until: String,
}

app_page!(AuditPage, "admin_audit.html" {
    rows: Vec<AuditRow>,
    filters: AuditFilters,
    event_types: Vec<&'static str>,
    next_before: Option<i64>,
    next_query: String,
    flash: Flash,
});

#[derive(Template)]
#[template(path = "login_2fa.html")]
pub struct SecondFactorPage<'a> {
    pub csrf: &'a str,
    pub error: Option<&'a str>,
}

impl SecondFactorPage<'_> {
    fn v(&self) -> &'static str {
        v()
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
    pub setup_pending: bool,
}

impl LoginPage<'_> {
    fn v(&self) -> &'static str {
        v()
    }
}

#[derive(Template)]
#[template(path = "setup.html")]
pub struct SetupPage<'a> {
    pub csrf: &'a str,
    pub token: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
}

impl SetupPage<'_> {
    fn v(&self) -> &'static str {
        v()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: &'static str,
    pub message: &'static str,
    pub request_id: String,
}

impl ErrorPage {
    fn v(&self) -> &'static str {
        v()
    }

    pub fn for_status(status: StatusCode, request_id: String) -> ErrorPage {
        let (title, message) = match status.as_u16() {
            400 | 411 | 413 | 414 | 415 | 422 | 431 => (
                "Bad request",
                "The request could not be understood. Check what you sent and try again.",
            ),
            401 => ("Sign-in required", "You need to sign in to see this page."),
            403 => (
                "Forbidden",
                "This request was refused. If you followed a link or an old form, go back, reload the page and try again.",
            ),
            404 => ("Page not found", "There is nothing here."),
            405 => (
                "Method not allowed",
                "This page does not accept that kind of request.",
            ),
            429 => ("Too many requests", "Slow down and try again in a moment."),
            503 => (
                "Service unavailable",
                "Rampart is not ready right now. Try again shortly.",
            ),
            s if s >= 500 => (
                "Something went wrong",
                "An internal error occurred. It has been logged; quote the request id to your administrator.",
            ),
            _ => ("Request failed", "The request could not be completed."),
        };
        ErrorPage {
            status: status.as_u16(),
            title,
            message,
            request_id,
        }
    }
}

/// A short page with a message (e.g. an expired setup link).
#[derive(Template)]
#[template(path = "notice.html")]
pub struct NoticePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

impl NoticePage<'_> {
    fn v(&self) -> &'static str {
        v()
    }
}

#[derive(Debug, Clone)]
pub struct ClientRow {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub scopes: String,
    pub allowlist: String,
    pub created: String,
    pub expires: String,
    pub state: &'static str,
    pub last_used: String,
    pub last_ip: String,
    pub requests: i64,
}

app_page!(ApiClientsPage, "api_clients.html" {
    clients: Vec<ClientRow>,
    own_scopes: Vec<&'static str>,
    new_secret: Option<(String, String)>,
    admin_view: bool,
    flash: Flash,
});

#[derive(Debug, Clone)]
pub struct NodeRow {
    pub id: String,
    pub name: String,
    pub online: bool,
    pub last_seen: String,
    pub agent: String,
    pub os: String,
    pub cpu: String,
    pub memory: String,
    pub disk: String,
    pub docker: String,
    pub state: &'static str,
}

app_page!(NodesPage, "nodes.html" {
    nodes: Vec<NodeRow>,
    can_edit: bool,
    enrollment: Option<(String, String)>,
    panel_url: String,
    flash: Flash,
});

pub struct ServerRow {
    pub id: String,
    pub name: String,
    pub state: &'static str,
    pub node: String,
    pub memory_mb: u64,
    pub cpu_percent: u32,
    pub disk_mb: u64,
    pub ports: String,
    pub image: String,
    pub last_error: String,
}

app_page!(ServersPage, "servers.html" {
    servers: Vec<ServerRow>,
    can_create: bool,
    templates: Vec<(String, String)>,
    nodes: Vec<(String, String)>,
    flash: Flash,
});

pub struct VariableRow {
    pub name: String,
    pub description: String,
    pub value: String,
    pub editable: bool,
}

pub struct GrantRow {
    pub user_id: i64,
    pub username: String,
    pub scopes: String,
}

app_page!(ServerPage, "server.html" {
    server: ServerRow,
    can_power: bool,
    can_console: bool,
    can_edit: bool,
    read_only_node: bool,
    grants: Vec<GrantRow>,
    grantable: Vec<&'static str>,
    powers: [(&'static str, &'static str, &'static str); 4],
    variables: Vec<VariableRow>,
    flash: Flash,
});

pub struct FileRow {
    pub name: String,
    pub kind: String,
    pub size: u64,
    pub mode: String,
    pub modified: String,
    /// `path=…` (encoded) of the entry, for links into directories.
    pub path: String,
}

app_page!(FilesPage, "files.html" {
    server_id: String,
    server_name: String,
    here: String,
    can_edit: bool,
    sftp_command: String,
    sftp_fingerprint: String,
    crumbs: Vec<(String, String)>,
    files: Vec<FileRow>,
    flash: Flash,
});
