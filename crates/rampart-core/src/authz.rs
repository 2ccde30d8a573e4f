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
    };
    if holds && fits {
        Decision::Allow
    } else {
        Decision::Deny
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
        let resources = [
            Resource::Global,
            Resource::User(UserId(1)),
            Resource::User(UserId(2)),
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
