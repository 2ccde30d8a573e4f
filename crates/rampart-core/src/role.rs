//! Built-in roles. Scopes and custom roles build on these (SPEC R17).

/// A user's built-in role.
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
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert_eq!(Role::parse("Admin"), Err(UnknownRole));
        assert_eq!(Role::parse("root"), Err(UnknownRole));
    }
}
