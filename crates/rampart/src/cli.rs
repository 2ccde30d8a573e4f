//! Command-line interface. Every option also reads a `RAMPART_*` variable;
//! a flag beats the variable, which beats the TOML file, which beats the
//! built-in default.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "rampart",
    version,
    about = "Rampart: a secure, self-hosted control panel for servers in isolated containers",
    long_about = None
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Default)]
pub struct GlobalArgs {
    /// TOML configuration file (unknown keys are an error).
    #[arg(long, global = true, env = "RAMPART_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory for the embedded SQLite store and other state [default: ./rampart-data].
    #[arg(long, global = true, env = "RAMPART_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Address the panel listens on [default: 127.0.0.1:8080].
    #[arg(long, global = true, env = "RAMPART_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,

    /// PostgreSQL URL (postgres://…) instead of the embedded SQLite store.
    #[arg(
        long,
        global = true,
        env = "RAMPART_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL",
        conflicts_with = "database_url_file"
    )]
    pub database_url: Option<String>,

    /// File holding the database URL (e.g. a secret under /run/secrets).
    #[arg(
        long,
        global = true,
        env = "RAMPART_DATABASE_URL_FILE",
        value_name = "FILE"
    )]
    pub database_url_file: Option<PathBuf>,

    /// The panel's public origin, e.g. https://panel.example.com (required with --behind-proxy).
    #[arg(long, global = true, env = "RAMPART_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Serve plain HTTP to a TLS-terminating reverse proxy (allows a non-loopback --listen).
    #[arg(long, global = true, env = "RAMPART_BEHIND_PROXY")]
    pub behind_proxy: bool,

    /// Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR networks, comma-separated).
    #[arg(
        long,
        global = true,
        env = "RAMPART_TRUSTED_PROXIES",
        value_name = "NETS",
        value_delimiter = ','
    )]
    pub trusted_proxies: Option<Vec<String>>,

    /// Serve the panel over TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(
        long,
        global = true,
        env = "RAMPART_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) for --tls-cert.
    #[arg(
        long,
        global = true,
        env = "RAMPART_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Serve the agent endpoints over TLS on this address (for agents on other machines).
    #[arg(
        long,
        global = true,
        env = "RAMPART_AGENT_LISTEN",
        value_name = "ADDR:PORT"
    )]
    pub agent_listen: Option<SocketAddr>,

    /// Accept unencrypted agent links from other machines (discouraged; use --agent-listen).
    #[arg(long, global = true, env = "RAMPART_INSECURE_AGENT_LINK")]
    pub insecure_agent_link: bool,

    /// The address servers' ports are published on, on this node [default: 0.0.0.0].
    #[arg(long, global = true, env = "RAMPART_BIND_ADDRESS", value_name = "IP")]
    pub bind_address: Option<std::net::IpAddr>,

    /// Log format on stderr [default: text].
    #[arg(long, global = true, env = "RAMPART_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start Rampart on this machine: the panel with its embedded store, printing a one-time setup link while no admin exists.
    Up,
    /// Run the panel role only.
    Panel,
    /// Break-glass administration directly on the store.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run the agent role on this node: enroll once with a token, then keep a link to the panel.
    Agent(AgentArgs),
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The panel's URL, e.g. http://127.0.0.1:8080 (needed to enroll).
    #[arg(long, env = "RAMPART_PANEL_URL", value_name = "URL")]
    pub panel_url: Option<String>,
    /// One-time enrollment token from the panel (first start only).
    #[arg(
        long,
        env = "RAMPART_ENROLL_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        conflicts_with = "enroll_token_file"
    )]
    pub enroll_token: Option<String>,
    /// File holding the enrollment token (e.g. under /run/secrets).
    #[arg(long, env = "RAMPART_AGENT_TOKEN_FILE", value_name = "FILE")]
    pub enroll_token_file: Option<PathBuf>,
    /// Report and stream only; refuse every command that would change the node.
    #[arg(long, env = "RAMPART_READ_ONLY")]
    pub read_only: bool,
    /// Where the node's SFTP server listens ("off" for none).
    #[arg(
        long,
        env = "RAMPART_SFTP_LISTEN",
        value_name = "ADDR",
        default_value = "0.0.0.0:5657"
    )]
    pub sftp_listen: String,
    /// An address "pull from URL" may reach although it is not public (an
    /// internal mirror); repeat or separate with commas. Exact addresses only.
    #[arg(
        long,
        env = "RAMPART_PULL_ALLOW",
        value_name = "IP",
        value_delimiter = ','
    )]
    pub pull_allow: Vec<std::net::IpAddr>,
}

/// `off` → no SFTP server; anything else must be an address with a port.
pub fn parse_sftp_listen(value: &str) -> anyhow::Result<Option<std::net::SocketAddr>> {
    if value == "off" {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| anyhow::anyhow!("--sftp-listen: expected ADDRESS:PORT or off, got {value:?}"))
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; names the first broken record and exits 1 if any.
    Verify,
    /// Write records as JSON lines on standard output.
    Export {
        /// First day to include (YYYY-MM-DD, UTC) [default: everything].
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user (an admin closes first-admin setup). Prints the user as JSON.
    CreateUser(CreateUserArgs),
    /// Turn off a user's two-factor authentication (lost device) and end their sessions.
    #[command(name = "reset-2fa")]
    Reset2fa {
        #[arg(long)]
        username: String,
    },
    /// Deactivate a user and end their sessions at once.
    DisableUser {
        #[arg(long)]
        username: String,
    },
    /// Create an API client for a user; prints {"client_id","client_secret"} as JSON.
    CreateClient {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
        /// Comma-separated scopes, each held by the user.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
    },
    /// Create a node; prints {"node_id","enroll_token"} as JSON (the token works once, for one hour).
    CreateNode {
        #[arg(long)]
        name: String,
        /// Address users reach the node's services at.
        #[arg(long, default_value = "")]
        public_address: String,
    },
    /// Revoke every API access token (clients stay; they must ask for new tokens).
    RevokeAllTokens,
    /// Give every API client a new random secret nobody knows and revoke all tokens:
    /// owners regenerate their secrets to use the clients again.
    RotateClientSecrets,
    /// End sessions: every session of every user with --all, or one user's with --username.
    RevokeSessions {
        #[arg(
            long,
            conflicts_with = "username",
            required_unless_present = "username"
        )]
        all: bool,
        #[arg(long)]
        username: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    #[arg(long)]
    pub username: String,
    /// admin, operator, developer, viewer, or a custom role.
    #[arg(long)]
    pub role: String,
    /// File holding the password ("-" reads standard input); one trailing newline is dropped.
    #[arg(long, value_name = "FILE")]
    pub password_file: PathBuf,
}
