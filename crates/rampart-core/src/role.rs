//! Roles group scopes (SPEC R17): four built-in roles with fixed scope sets,
//! and custom roles named by admins (their scopes live in the store).

use crate::scope::{Scope, ScopeSet};

/// A built-in role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Operator,
    Developer,
    Viewer,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown role (expected one of: admin, operator, developer, viewer)")]
pub struct UnknownRole;

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Operator, Role::Developer, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownRole)
    }

    /// The scopes of each built-in role (documented in README "Roles").
    pub fn scopes(self) -> ScopeSet {
        use Scope::*;
        match self {
            Role::Admin => ScopeSet::all(),
            Role::Operator => ScopeSet::of(&[
                ServerView,
                ServerEdit,
                ServerStart,
                ServerConsole,
                ServerFilesView,
                ServerFilesEdit,
                ServerBackups,
                ServerSchedules,
                ServerDomains,
                UsersView,
                NodesView,
                NodesEdit,
                AuditView,
            ]),
            Role::Developer => ScopeSet::of(&[
                ServerView,
                ServerStart,
                ServerConsole,
                ServerFilesView,
                ServerFilesEdit,
                ServerBackups,
                ServerSchedules,
                ServerDomains,
            ]),
            Role::Viewer => ScopeSet::of(&[ServerView, ServerFilesView, NodesView]),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role's name as stored on a user: a built-in role or a custom one.
/// Same shape as a username (3–32 of `a-z 0-9 _ -`, starting with a letter).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("role names are 3 to 32 characters of a-z, 0-9, '_' and '-', starting with a letter")]
pub struct BadRoleName;

impl RoleName {
    pub fn parse(s: &str) -> Result<RoleName, BadRoleName> {
        crate::username::Username::parse(s)
            .map(|u| RoleName(u.as_str().to_owned()))
            .map_err(|_| BadRoleName)
    }

    pub fn builtin(&self) -> Option<Role> {
        Role::parse(&self.0).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Role> for RoleName {
    fn from(r: Role) -> Self {
        RoleName(r.as_str().to_owned())
    }
}

impl std::fmt::Display for RoleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
            assert_eq!(RoleName::from(r).builtin(), Some(r));
        }
        assert_eq!(Role::parse("Admin"), Err(UnknownRole));
        assert_eq!(Role::parse("root"), Err(UnknownRole));
        assert_eq!(RoleName::parse("support").unwrap().builtin(), None);
        assert!(RoleName::parse("Sup port").is_err());
    }

    #[test]
    fn builtin_roles_nest() {
        assert!(Role::Viewer.scopes().is_subset_of(Role::Operator.scopes()));
        assert!(
            Role::Developer
                .scopes()
                .is_subset_of(Role::Operator.scopes())
        );
        assert!(Role::Operator.scopes().is_subset_of(Role::Admin.scopes()));
        assert!(!Role::Operator.scopes().contains(Scope::Admin));
        assert!(!Role::Operator.scopes().contains(Scope::UsersEdit));
        assert!(!Role::Developer.scopes().contains(Scope::ServerEdit));
    }
}
