//! The one authorization check of the web layer: turns a principal, scope
//! and resource into a [`Granted`] or a refusal. A refusal for a resource
//! the caller may not even see answers 404, like a missing id (SPEC R18).

use rampart_core::{Granted, Principal, Resource, Scope, authorize};

use super::WebError;

/// Authorizes or refuses (the refusal is audited as AUTHZ_DENIED).
pub fn require(
    principal: &Principal,
    scope: Scope,
    resource: Resource,
) -> Result<Granted, WebError> {
    authorize(principal, scope, resource).ok_or_else(|| {
        let visible = rampart_core::is_visible(principal, &resource);
        WebError::Denied {
            scope,
            target: match resource {
                Resource::Global | Resource::Server { .. } => None,
                Resource::User(id) => Some(format!("user:{id}")),
            },
            hide: !visible,
        }
    })
}
