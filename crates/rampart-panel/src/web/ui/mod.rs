//! Server-rendered pages (askama templates in `templates/`, one CSS and one
//! JS file in `assets/`).

pub mod account;
pub mod admin;
pub mod api_clients;
pub mod assets;
pub mod dashboard;
pub mod login;
pub mod nodes;
pub mod pages;
pub mod servers;
pub mod setup;
pub mod ssh_keys;

use rampart_core::{Principal, Resource, Scope, authorize};

use crate::auth::ActiveSession;
use pages::Chrome;

/// The frame of a signed-in page for this session.
pub fn chrome(
    session: &ActiveSession,
    principal: Option<&Principal>,
    current: &'static str,
) -> Chrome {
    let can = |scope| principal.is_some_and(|p| authorize(p, scope, Resource::Global).is_some());
    Chrome {
        username: session.user.username.to_string(),
        role: session.user.role.to_string(),
        csrf: session.csrf_token(),
        nav_users: can(Scope::UsersView),
        nav_roles: can(Scope::Admin),
        nav_audit: can(Scope::AuditView),
        nav_nodes: can(Scope::NodesView),
        current,
    }
}
