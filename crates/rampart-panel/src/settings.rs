//! Runtime settings of the panel, already validated by the binary's config
//! layer.

use rampart_core::{IpNet, PasswordPolicy, Role, RoleName};

use crate::auth::Limit;

/// Failed-login limits (SPEC R15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_ip: Limit,
    pub per_account: Limit,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_ip: Limit {
                max: 5,
                window_secs: 60,
            },
            per_account: Limit {
                max: 10,
                window_secs: 15 * 60,
            },
        }
    }
}

/// The REST API's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// Lifetime of access tokens from `/oauth/token`.
    pub token_lifetime_secs: i64,
    /// Requests per minute per principal, by role name; roles not listed
    /// (custom ones) get the `viewer` figure.
    pub rate_limits: Vec<(RoleName, u32)>,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            token_lifetime_secs: 3600,
            rate_limits: vec![
                (RoleName::from(Role::Viewer), 100),
                (RoleName::from(Role::Developer), 200),
                (RoleName::from(Role::Operator), 500),
                (RoleName::from(Role::Admin), 1000),
            ],
        }
    }
}

impl ApiSettings {
    /// Requests per minute for a member of `role`.
    pub fn rate_limit_for(&self, role: &RoleName) -> u32 {
        let find = |r: &RoleName| {
            self.rate_limits
                .iter()
                .find(|(n, _)| n == r)
                .map(|(_, l)| *l)
        };
        find(role)
            .or_else(|| find(&RoleName::from(Role::Viewer)))
            .unwrap_or(100)
    }
}

/// How the panel behaves; built by `rampart` from its configuration.
#[derive(Debug, Clone)]
pub struct PanelSettings {
    /// The panel's own origin (`https://panel.example.com`), used by the CSRF
    /// Origin check and in printed links. When `None`, the origin is taken
    /// from the request's `Host` with the scheme the panel is served on.
    pub public_origin: Option<String>,
    /// Served over TLS (natively or behind a TLS-terminating proxy): cookies
    /// get `Secure` and the `__Host-` prefix, responses carry HSTS.
    pub https: bool,
    pub session_idle_secs: i64,
    pub session_lifetime_secs: i64,
    pub setup_token_ttl_secs: i64,
    /// How many argon2 hashes may run at once.
    pub hash_concurrency: usize,
    pub password_policy: PasswordPolicy,
    /// Roles whose members must enrol in TOTP before anything else.
    pub require_2fa_for: Vec<RoleName>,
    /// Users with 2FA may log in to SFTP with a password alone (off: SSH
    /// keys only for them, since a password would bypass the second factor).
    pub sftp_password_with_2fa: bool,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    pub login_limits: LoginLimits,
    /// Audit records older than this are pruned.
    pub audit_retention_days: i64,
    pub api: ApiSettings,
    /// SHA-256 of the agent endpoint's TLS certificate, when the panel
    /// serves one; enrollment tokens carry it for agents to pin.
    pub agent_tls_fingerprint: Option<String>,
    /// Accept plain (unencrypted) agent links from any peer. Discouraged;
    /// logged as a warning at every start.
    pub insecure_agent_link: bool,
    pub servers: ServerSettings,
}

/// Server defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSettings {
    /// Servers a user may own when their account sets no cap of its own.
    pub max_per_user: i64,
    /// Ports allocated to servers on every node (inclusive).
    pub port_range: (u16, u16),
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            max_per_user: 10,
            port_range: (30000, 30999),
        }
    }
}

impl Default for PanelSettings {
    fn default() -> Self {
        PanelSettings {
            public_origin: None,
            https: false,
            session_idle_secs: 30 * 60,
            session_lifetime_secs: 8 * 60 * 60,
            setup_token_ttl_secs: 60 * 60,
            hash_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            password_policy: PasswordPolicy::default(),
            require_2fa_for: vec![RoleName::from(Role::Admin)],
            sftp_password_with_2fa: false,
            trusted_proxies: Vec::new(),
            login_limits: LoginLimits::default(),
            audit_retention_days: 90,
            api: ApiSettings::default(),
            agent_tls_fingerprint: None,
            insecure_agent_link: false,
            servers: ServerSettings::default(),
        }
    }
}

impl PanelSettings {
    /// Name of the session cookie (`__Host-` prefixed under TLS).
    pub fn session_cookie(&self) -> &'static str {
        if self.https {
            "__Host-rampart_session"
        } else {
            "rampart_session"
        }
    }

    /// Name of the pre-login CSRF cookie (double-submit for login and setup).
    pub fn csrf_cookie(&self) -> &'static str {
        if self.https {
            "__Host-rampart_csrf"
        } else {
            "rampart_csrf"
        }
    }
}
