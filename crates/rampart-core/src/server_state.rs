//! The server lifecycle (SPEC R51) as a pure state machine: which power
//! actions and events are allowed in which state, and where they lead.
//! The agent reports what Docker says (events); people and schedules ask
//! for actions. Anything not listed is refused, so a suspended server can
//! never be started and an installing one never stopped half-way.

/// A server's state, as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerState {
    Installing,
    Offline,
    Starting,
    Running,
    Stopping,
    Suspended,
}

/// What someone asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PowerAction {
    Start,
    Stop,
    Restart,
    Kill,
}

/// What the runtime reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuntimeEvent {
    InstallFinished,
    InstallFailed,
    ContainerStarted,
    ContainerExited,
}

/// Administrative changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminChange {
    Suspend,
    Unsuspend,
    Reinstall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not allowed while the server is {state}")]
pub struct NotAllowed {
    pub state: ServerState,
}

impl PowerAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PowerAction::Start => "start",
            PowerAction::Stop => "stop",
            PowerAction::Restart => "restart",
            PowerAction::Kill => "kill",
        }
    }

    pub fn parse(s: &str) -> Option<PowerAction> {
        [
            PowerAction::Start,
            PowerAction::Stop,
            PowerAction::Restart,
            PowerAction::Kill,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

impl ServerState {
    pub const ALL: [ServerState; 6] = [
        ServerState::Installing,
        ServerState::Offline,
        ServerState::Starting,
        ServerState::Running,
        ServerState::Stopping,
        ServerState::Suspended,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Installing => "installing",
            ServerState::Offline => "offline",
            ServerState::Starting => "starting",
            ServerState::Running => "running",
            ServerState::Stopping => "stopping",
            ServerState::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<ServerState> {
        ServerState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The state a power action leads to (the runtime confirms it later).
    pub fn on_action(self, action: PowerAction) -> Result<ServerState, NotAllowed> {
        use PowerAction::*;
        use ServerState::*;
        let next = match (self, action) {
            (Offline, Start | Restart) => Starting,
            (Running, Stop) | (Starting, Stop) => Stopping,
            (Running, Restart) => Stopping,
            (Running | Starting | Stopping, Kill) => Offline,
            _ => return Err(NotAllowed { state: self }),
        };
        Ok(next)
    }

    /// The state after what the runtime reports; events that do not fit are
    /// taken as the truth from Docker (reconciliation), except that a
    /// suspended server stays suspended.
    pub fn on_event(self, event: RuntimeEvent) -> ServerState {
        use RuntimeEvent::*;
        use ServerState::*;
        match (self, event) {
            (Suspended, _) => Suspended,
            (Installing, InstallFinished | InstallFailed) => Offline,
            (_, ContainerStarted) => Running,
            (_, ContainerExited) => Offline,
            (state, InstallFinished | InstallFailed) => state,
        }
    }

    pub fn on_admin(self, change: AdminChange) -> Result<ServerState, NotAllowed> {
        use AdminChange::*;
        use ServerState::*;
        match (self, change) {
            (Suspended, Unsuspend) => Ok(Offline),
            (Suspended, _) | (_, Unsuspend) => Err(NotAllowed { state: self }),
            (_, Suspend) => Ok(Suspended),
            (Offline, Reinstall) => Ok(Installing),
            (_, Reinstall) => Err(NotAllowed { state: self }),
        }
    }

    /// Whether people may use the console and files (not while suspended).
    pub fn allows_access(self) -> bool {
        self != ServerState::Suspended
    }
}

impl std::fmt::Display for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PowerAction::*;
    use ServerState::*;

    #[test]
    fn names_round_trip() {
        for s in ServerState::ALL {
            assert_eq!(ServerState::parse(s.as_str()), Some(s));
        }
        assert_eq!(ServerState::parse("exploded"), None);
    }

    /// Every state × every action, against the table.
    #[test]
    fn power_actions_exhaustively() {
        let expected = |s: ServerState, a: PowerAction| -> Option<ServerState> {
            match (s, a) {
                (Offline, Start) | (Offline, Restart) => Some(Starting),
                (Starting, Stop) | (Running, Stop) | (Running, Restart) => Some(Stopping),
                (Starting, Kill) | (Running, Kill) | (Stopping, Kill) => Some(Offline),
                _ => None,
            }
        };
        for s in ServerState::ALL {
            for a in [Start, Stop, Restart, Kill] {
                assert_eq!(s.on_action(a).ok(), expected(s, a), "{s} {a:?}");
            }
        }
        assert_eq!(
            Suspended.on_action(Start),
            Err(NotAllowed { state: Suspended })
        );
        assert_eq!(
            Installing.on_action(Stop),
            Err(NotAllowed { state: Installing })
        );
    }

    #[test]
    fn runtime_events_reconcile_but_never_lift_a_suspension() {
        use RuntimeEvent::*;
        for s in ServerState::ALL {
            if s == Suspended {
                for e in [
                    InstallFinished,
                    InstallFailed,
                    ContainerStarted,
                    ContainerExited,
                ] {
                    assert_eq!(s.on_event(e), Suspended);
                }
                continue;
            }
            assert_eq!(s.on_event(ContainerStarted), Running, "{s}");
            assert_eq!(s.on_event(ContainerExited), Offline, "{s}");
        }
        assert_eq!(Installing.on_event(InstallFinished), Offline);
        assert_eq!(Running.on_event(InstallFinished), Running);
    }

    #[test]
    fn suspension_and_reinstall() {
        use AdminChange::*;
        for s in ServerState::ALL {
            match s {
                Suspended => {
                    assert_eq!(s.on_admin(Unsuspend), Ok(Offline));
                    assert!(s.on_admin(Suspend).is_err() && s.on_admin(Reinstall).is_err());
                    assert!(!s.allows_access());
                }
                _ => {
                    assert_eq!(s.on_admin(Suspend), Ok(Suspended));
                    assert!(s.on_admin(Unsuspend).is_err());
                    assert_eq!(s.on_admin(Reinstall).is_ok(), s == Offline, "{s}");
                    assert!(s.allows_access());
                }
            }
        }
    }
}
