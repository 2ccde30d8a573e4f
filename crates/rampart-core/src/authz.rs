//! The authorization policy: one pure function (SPEC R17/R18).
//!
//! `authorize(principal, scope, resource)` answers Allow or Deny; services
//! that do privileged work take a [`Granted`] that only a successful
//! [`authorize`] can produce, so forgetting the check does not compile.

use crate::ids::UserId;
use crate::scope::{Scope, ScopeSet};

/// Who is asking: an active or deactivated user with their effective scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user: UserId,
    pub scopes: ScopeSet,
    pub active: bool,
}

/// What the request concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// The installation as a whole (lists, settings, audit).
    Global,
    /// One user account (admin user management).
    User(UserId),
    /// One server: its owner and what the principal was granted on it as a
    /// sub-user (empty when none).
    Server { owner: UserId, grant: ScopeSet },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

/// Proof that `principal` may use `scope` on `resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    principal: Principal,
    scope: Scope,
    resource: Resource,
}

impl Granted {
    pub fn principal(&self) -> Principal {
        self.principal
    }

    pub fn scope(&self) -> Scope {
        self.scope
    }

    pub fn resource(&self) -> Resource {
        self.resource
    }
}

/// The policy. Deactivated principals get nothing; `admin` implies every
/// scope; otherwise the scope must be held. A user's own account is not a
/// matter for this function (every signed-in user manages their own).
pub fn decide(principal: &Principal, scope: Scope, resource: &Resource) -> Decision {
    if !principal.active {
        return Decision::Deny;
    }
    let holds = principal.scopes.contains(Scope::Admin) || principal.scopes.contains(scope);
    let fits = match (scope, resource) {
        // Account and global scopes apply to users and the installation.
        (Scope::UsersView | Scope::UsersEdit | Scope::Admin, Resource::User(_)) => true,
        (_, Resource::Global) => true,
        // Server, node and audit scopes say nothing about a user account.
        (_, Resource::User(_)) => false,
        // A server: admins reach every one; anyone else their own servers,
        // or the scopes an owner granted them on this one.
        (s, Resource::Server { owner, grant }) => {
            s.is_server_scope()
                && (principal.scopes.contains(Scope::Admin)
                    || *owner == principal.user
                    || grant.contains(s))
        }
    };
    if holds && fits {
        Decision::Allow
    } else {
        Decision::Deny
    }
}

/// Whether `principal` may know that `resource` exists at all: a refusal
/// for a resource it may not see must look like a missing id (404).
pub fn is_visible(principal: &Principal, resource: &Resource) -> bool {
    match resource {
        Resource::Global => true,
        Resource::User(_) => decide(principal, Scope::UsersView, resource) == Decision::Allow,
        Resource::Server { .. } => {
            decide(principal, Scope::ServerView, resource) == Decision::Allow
        }
    }
}

/// [`decide`], returning the capability on Allow.
pub fn authorize(principal: &Principal, scope: Scope, resource: Resource) -> Option<Granted> {
    (decide(principal, scope, &resource) == Decision::Allow).then_some(Granted {
        principal: *principal,
        scope,
        resource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Role;

    fn principal(scopes: ScopeSet, active: bool) -> Principal {
        Principal {
            user: UserId(1),
            scopes,
            active,
        }
    }

    /// Every role × every scope × every resource kind × active/inactive.
    #[test]
    fn exhaustive_over_roles_scopes_resources() {
        let some_grant = ScopeSet::of(&[Scope::ServerView, Scope::ServerConsole]);
        let resources = [
            Resource::Global,
            Resource::User(UserId(1)),
            Resource::User(UserId(2)),
            Resource::Server {
                owner: UserId(1),
                grant: ScopeSet::EMPTY,
            },
            Resource::Server {
                owner: UserId(2),
                grant: ScopeSet::EMPTY,
            },
            Resource::Server {
                owner: UserId(2),
                grant: some_grant,
            },
        ];
        for role in Role::ALL {
            for active in [true, false] {
                let p = principal(role.scopes(), active);
                for scope in Scope::ALL {
                    for resource in resources {
                        let expected = active
                            && (role == Role::Admin || role.scopes().contains(scope))
                            && match resource {
                                Resource::Global => true,
                                Resource::User(_) => {
                                    matches!(
                                        scope,
                                        Scope::UsersView | Scope::UsersEdit | Scope::Admin
                                    )
                                }
                                Resource::Server { owner, grant } => {
                                    scope.as_str().starts_with("server.")
                                        && (role == Role::Admin
                                            || owner == UserId(1)
                                            || grant.contains(scope))
                                }
                            };
                        let got = decide(&p, scope, &resource) == Decision::Allow;
                        assert_eq!(got, expected, "{role} active={active} {scope} {resource:?}");
                        assert_eq!(authorize(&p, scope, resource).is_some(), expected);
                    }
                }
            }
        }
    }

    #[test]
    fn admin_scope_implies_every_scope_and_empty_gets_nothing() {
        let admin = principal(ScopeSet::of(&[Scope::Admin]), true);
        let nobody = principal(ScopeSet::EMPTY, true);
        for scope in Scope::ALL {
            assert_eq!(decide(&admin, scope, &Resource::Global), Decision::Allow);
            assert_eq!(decide(&nobody, scope, &Resource::Global), Decision::Deny);
        }
    }

    #[test]
    fn a_grant_gives_only_its_scopes_and_only_within_the_role() {
        let dev = principal(Role::Developer.scopes(), true);
        let theirs = Resource::Server {
            owner: UserId(2),
            grant: ScopeSet::of(&[Scope::ServerView, Scope::ServerConsole]),
        };
        assert_eq!(decide(&dev, Scope::ServerConsole, &theirs), Decision::Allow);
        assert_eq!(decide(&dev, Scope::ServerStart, &theirs), Decision::Deny);
        let viewer = principal(Role::Viewer.scopes(), true);
        assert_eq!(
            decide(&viewer, Scope::ServerConsole, &theirs),
            Decision::Deny,
            "a grant never exceeds the grantee's role"
        );
        assert_eq!(
            decide(&dev, Scope::NodesView, &theirs),
            Decision::Deny,
            "a server is not a node"
        );
    }

    #[test]
    fn granted_remembers_what_was_checked() {
        let p = principal(Role::Operator.scopes(), true);
        let g = authorize(&p, Scope::UsersView, Resource::User(UserId(9))).unwrap();
        assert_eq!(
            (g.scope(), g.resource(), g.principal()),
            (Scope::UsersView, Resource::User(UserId(9)), p)
        );
        assert!(authorize(&p, Scope::UsersEdit, Resource::User(UserId(9))).is_none());
    }
}
