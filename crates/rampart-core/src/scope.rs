//! Scopes, the unit of permission (SPEC R17), and sets of them.

/// One permission. A closed set: adding one is a code change, reviewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
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
    UsersEdit,
    NodesView,
    NodesEdit,
    AuditView,
    /// Everything, including roles and settings.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 15] = [
        Scope::ServerView,
        Scope::ServerEdit,
        Scope::ServerStart,
        Scope::ServerConsole,
        Scope::ServerFilesView,
        Scope::ServerFilesEdit,
        Scope::ServerBackups,
        Scope::ServerSchedules,
        Scope::ServerDomains,
        Scope::UsersView,
        Scope::UsersEdit,
        Scope::NodesView,
        Scope::NodesEdit,
        Scope::AuditView,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ServerView => "server.view",
            Scope::ServerEdit => "server.edit",
            Scope::ServerStart => "server.start",
            Scope::ServerConsole => "server.console",
            Scope::ServerFilesView => "server.files.view",
            Scope::ServerFilesEdit => "server.files.edit",
            Scope::ServerBackups => "server.backups",
            Scope::ServerSchedules => "server.schedules",
            Scope::ServerDomains => "server.domains",
            Scope::UsersView => "users.view",
            Scope::UsersEdit => "users.edit",
            Scope::NodesView => "nodes.view",
            Scope::NodesEdit => "nodes.edit",
            Scope::AuditView => "audit.view",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|sc| sc.as_str() == s)
    }

    /// Whether the scope concerns one server (and can be granted on it).
    pub fn is_server_scope(self) -> bool {
        matches!(
            self,
            Scope::ServerView
                | Scope::ServerEdit
                | Scope::ServerStart
                | Scope::ServerConsole
                | Scope::ServerFilesView
                | Scope::ServerFilesEdit
                | Scope::ServerBackups
                | Scope::ServerSchedules
                | Scope::ServerDomains
        )
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ScopeSet(u32);

impl ScopeSet {
    pub const EMPTY: ScopeSet = ScopeSet(0);

    pub fn of(scopes: &[Scope]) -> ScopeSet {
        ScopeSet(scopes.iter().fold(0, |acc, s| acc | s.bit()))
    }

    pub fn all() -> ScopeSet {
        ScopeSet::of(&Scope::ALL)
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
    }

    pub fn is_subset_of(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The scopes of `self` that `holder` has: all of them when `holder`
    /// has `admin`, else the intersection. How a token's scopes shrink to
    /// what its user holds right now.
    pub fn granted_by(self, holder: ScopeSet) -> ScopeSet {
        if holder.contains(Scope::Admin) {
            self
        } else {
            ScopeSet(self.0 & holder.0)
        }
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// `"server.view,users.view"`: the stored form.
    pub fn to_list(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(",")
    }

    /// Parses the stored or submitted form; `Err` names the first unknown scope.
    pub fn parse_list(list: &str) -> Result<ScopeSet, String> {
        let mut set = ScopeSet::EMPTY;
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            set.insert(Scope::parse(item).ok_or_else(|| item.to_owned())?);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        let set = ScopeSet::all();
        assert_eq!(set.iter().count(), Scope::ALL.len());
        assert_eq!(ScopeSet::parse_list(&set.to_list()), Ok(set));
        assert_eq!(
            ScopeSet::parse_list("server.view, bogus"),
            Err("bogus".into())
        );
        assert_eq!(ScopeSet::parse_list(""), Ok(ScopeSet::EMPTY));
    }

    #[test]
    fn granted_by_respects_admin_and_intersects_otherwise() {
        let token = ScopeSet::of(&[Scope::UsersView, Scope::AuditView]);
        assert_eq!(token.granted_by(ScopeSet::of(&[Scope::Admin])), token);
        assert_eq!(
            token.granted_by(ScopeSet::of(&[Scope::UsersView, Scope::ServerView])),
            ScopeSet::of(&[Scope::UsersView])
        );
        assert!(token.granted_by(ScopeSet::EMPTY).is_empty());
    }

    #[test]
    fn subset() {
        let a = ScopeSet::of(&[Scope::ServerView]);
        let b = ScopeSet::of(&[Scope::ServerView, Scope::UsersView]);
        assert!(a.is_subset_of(b) && !b.is_subset_of(a) && ScopeSet::EMPTY.is_subset_of(a));
    }
}
