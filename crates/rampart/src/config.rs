//! Configuration: defaults → TOML file → `RAMPART_*` environment → flags.
//!
//! clap already merges flags over environment variables (each option names
//! its variable), so this module layers that result over the TOML file and
//! the defaults, validates the whole, and reads `*_FILE` secrets.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use secrecy::SecretString;
use serde::Deserialize;

use rampart_core::{IpNet, PasswordPolicy, RoleName};
use rampart_panel::auth::Limit;
use rampart_panel::settings::{ApiSettings, LoginLimits};

use crate::cli::{GlobalArgs, LogFormat};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "rampart-data";

/// The TOML file. Every key is optional; unknown keys are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub database_url_file: Option<PathBuf>,
    pub public_url: Option<String>,
    pub behind_proxy: Option<bool>,
    pub log_format: Option<LogFormat>,
    pub trusted_proxies: Option<Vec<String>>,
    pub agent_listen: Option<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub insecure_agent_link: Option<bool>,
    pub bind_address: Option<std::net::IpAddr>,
    #[serde(default)]
    pub session: SessionFileConfig,
    #[serde(default)]
    pub auth: AuthFileConfig,
    #[serde(default)]
    pub audit: AuditFileConfig,
    #[serde(default)]
    pub api: ApiFileConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiFileConfig {
    /// Lifetime of access tokens in seconds [default: 3600].
    pub token_lifetime_secs: Option<u32>,
    /// Requests per minute per principal by role, e.g. { viewer = 100, ci = 50 }.
    pub rate_limits: Option<std::collections::BTreeMap<String, u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFileConfig {
    /// Roles whose members must enrol in TOTP [default: ["admin"]].
    pub require_2fa_for: Option<Vec<String>>,
    /// Minimum password length [default: 12, at least 8].
    pub password_min_length: Option<usize>,
    /// Require 3 of 4 character classes (discouraged by NIST) [default: false].
    pub password_character_classes: Option<bool>,
    /// Failed logins per IP per minute [default: 5].
    pub ip_failures_per_minute: Option<usize>,
    /// Failed logins per account per 15 minutes [default: 10].
    pub account_failures_per_15_minutes: Option<usize>,
    /// Let users with 2FA log in to SFTP with their password alone (which
    /// bypasses the second factor) [default: false: SSH key only].
    pub sftp_password_with_2fa: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFileConfig {
    /// Days audit records are kept [default: 90].
    pub retention_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionFileConfig {
    /// Minutes without activity after which a session ends [default: 30].
    pub idle_timeout_minutes: Option<u32>,
    /// Hours after login after which a session ends regardless [default: 8].
    pub lifetime_hours: Option<u32>,
}

/// The effective configuration.
#[derive(Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub database_url: Option<SecretString>,
    pub public_url: Option<String>,
    pub behind_proxy: bool,
    pub log_format: LogFormat,
    pub session_idle_secs: i64,
    pub session_lifetime_secs: i64,
    pub trusted_proxies: Vec<IpNet>,
    pub require_2fa_for: Vec<RoleName>,
    pub sftp_password_with_2fa: bool,
    pub password_policy: PasswordPolicy,
    pub login_limits: LoginLimits,
    pub audit_retention_days: i64,
    pub api: ApiSettings,
    pub agent_listen: Option<SocketAddr>,
    /// Certificate chain and key files when the panel serves TLS itself.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub insecure_agent_link: bool,
    /// Where the node's servers publish their ports.
    pub bind_address: std::net::IpAddr,
}

fn read_secret_file(path: &Path) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read secret file {}", path.display()))?;
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        bail!("secret file {} is empty", path.display());
    }
    Ok(SecretString::from(value.to_owned()))
}

/// Checks a public URL: `http(s)://host[:port]`, nothing after it.
pub fn validate_public_url(url: &str) -> anyhow::Result<String> {
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .context("public URL must start with https:// or http://")?;
    let ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if !ok {
        bail!("public URL must be scheme://host[:port] with no path, query or spaces");
    }
    Ok(trimmed.to_owned())
}

impl Config {
    /// Layers `args` (flags and environment) over the TOML file and defaults.
    pub fn resolve(args: &GlobalArgs) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        Config::layer(args, file)
    }

    fn layer(args: &GlobalArgs, file: FileConfig) -> anyhow::Result<Config> {
        let database_url = if let Some(url) = &args.database_url {
            Some(SecretString::from(url.clone()))
        } else if let Some(path) = &args.database_url_file {
            Some(read_secret_file(path)?)
        } else if let Some(url) = file.database_url {
            if file.database_url_file.is_some() {
                bail!("config file sets both database_url and database_url_file");
            }
            Some(SecretString::from(url))
        } else if let Some(path) = &file.database_url_file {
            Some(read_secret_file(path)?)
        } else {
            None
        };
        let listen = match args.listen.or(file.listen) {
            Some(l) => l,
            None => DEFAULT_LISTEN.parse().context("default listen address")?,
        };
        let public_url = args
            .public_url
            .clone()
            .or(file.public_url)
            .map(|u| validate_public_url(&u))
            .transpose()?;
        let behind_proxy = args.behind_proxy || file.behind_proxy.unwrap_or(false);
        if behind_proxy
            && !public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
        {
            bail!(
                "--behind-proxy needs --public-url https://… (the address users reach through the proxy)"
            );
        }
        let idle_minutes = file.session.idle_timeout_minutes.unwrap_or(30);
        let lifetime_hours = file.session.lifetime_hours.unwrap_or(8);
        if idle_minutes == 0 || lifetime_hours == 0 {
            bail!("session.idle_timeout_minutes and session.lifetime_hours must be at least 1");
        }
        let trusted_proxies = args
            .trusted_proxies
            .clone()
            .or(file.trusted_proxies)
            .unwrap_or_default()
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| IpNet::parse(s).map_err(anyhow::Error::from))
            .collect::<anyhow::Result<Vec<_>>>()
            .context("trusted_proxies")?;
        let require_2fa_for = file
            .auth
            .require_2fa_for
            .unwrap_or_else(|| vec!["admin".to_owned()])
            .iter()
            .map(|r| {
                RoleName::parse(r).map_err(|e| anyhow::anyhow!("auth.require_2fa_for: {r:?}: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut password_policy = PasswordPolicy::default();
        if let Some(min) = file.auth.password_min_length {
            if !(8..=128).contains(&min) {
                bail!("auth.password_min_length must be between 8 and 128");
            }
            password_policy.min_chars = min;
        }
        if let Some(classes) = file.auth.password_character_classes {
            password_policy.require_character_classes = classes;
        }
        let mut login_limits = LoginLimits::default();
        if let Some(n) = file.auth.ip_failures_per_minute {
            login_limits.per_ip = Limit {
                max: n.max(1),
                window_secs: 60,
            };
        }
        if let Some(n) = file.auth.account_failures_per_15_minutes {
            login_limits.per_account = Limit {
                max: n.max(1),
                window_secs: 900,
            };
        }
        let audit_retention_days = i64::from(file.audit.retention_days.unwrap_or(90));
        if audit_retention_days < 1 {
            bail!("audit.retention_days must be at least 1");
        }
        let mut api = ApiSettings::default();
        if let Some(secs) = file.api.token_lifetime_secs {
            if !(60..=86_400).contains(&secs) {
                bail!("api.token_lifetime_secs must be between 60 and 86400");
            }
            api.token_lifetime_secs = i64::from(secs);
        }
        for (role, limit) in file.api.rate_limits.unwrap_or_default() {
            let name = RoleName::parse(&role)
                .map_err(|e| anyhow::anyhow!("api.rate_limits: {role:?}: {e}"))?;
            if limit == 0 {
                bail!("api.rate_limits: {role} must allow at least 1 request per minute");
            }
            api.rate_limits.retain(|(n, _)| *n != name);
            api.rate_limits.push((name, limit));
        }
        let tls = match (
            args.tls_cert.clone().or(file.tls_cert),
            args.tls_key.clone().or(file.tls_key),
        ) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => bail!("tls_cert and tls_key go together"),
        };
        Ok(Config {
            bind_address: args
                .bind_address
                .or(file.bind_address)
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()),
            insecure_agent_link: args.insecure_agent_link
                || file.insecure_agent_link.unwrap_or(false),
            tls,
            agent_listen: args.agent_listen.or(file.agent_listen),
            api,
            trusted_proxies,
            require_2fa_for,
            sftp_password_with_2fa: file.auth.sftp_password_with_2fa.unwrap_or(false),
            password_policy,
            login_limits,
            audit_retention_days,
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            listen,
            database_url,
            public_url,
            behind_proxy,
            log_format: args
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
            session_idle_secs: i64::from(idle_minutes) * 60,
            session_lifetime_secs: i64::from(lifetime_hours) * 3600,
        })
    }

    /// SPEC R3: plain HTTP only on loopback, unless a TLS-terminating proxy
    /// sits in front (`--behind-proxy`).
    pub fn check_listen_policy(&self) -> anyhow::Result<()> {
        if self.listen.ip().is_loopback() || self.behind_proxy || self.tls.is_some() {
            return Ok(());
        }
        bail!(
            "refusing to serve plain HTTP on {}: a non-loopback address needs TLS. \
             Pass --tls-cert and --tls-key, or put Rampart behind a TLS-terminating reverse \
             proxy and pass --behind-proxy --public-url https://your.host, or listen on 127.0.0.1",
            self.listen
        )
    }

    /// Whether users reach the panel over HTTPS.
    pub fn https(&self) -> bool {
        self.tls.is_some()
            || self
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(toml_text: &str) -> anyhow::Result<FileConfig> {
        Ok(toml::from_str(toml_text)?)
    }

    #[test]
    fn defaults_apply_without_any_layer() {
        let c = Config::layer(&GlobalArgs::default(), FileConfig::default()).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(c.session_idle_secs, 1800);
        assert_eq!(c.session_lifetime_secs, 28_800);
        assert!(c.database_url.is_none());
    }

    #[test]
    fn file_beats_defaults_and_args_beat_file() {
        let f = file("listen = \"127.0.0.2:9000\"\ndata_dir = \"/tmp/x\"\n[session]\nidle_timeout_minutes = 5\n")
            .unwrap();
        let args = GlobalArgs {
            listen: Some("127.0.0.3:9001".parse().unwrap()),
            ..GlobalArgs::default()
        };
        let c = Config::layer(&args, f).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.3:9001");
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.session_idle_secs, 300);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = file("lisen = \"127.0.0.1:1\"").unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
        assert!(file("[session]\nidle = 3").is_err());
    }

    #[test]
    fn auth_and_proxy_settings_are_parsed_and_checked() {
        let f = file(
            "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n[auth]\nrequire_2fa_for = [\"admin\", \"operator\"]\n\
             password_min_length = 14\npassword_character_classes = true\nip_failures_per_minute = 3\n[audit]\nretention_days = 30\n",
        )
        .unwrap();
        let c = Config::layer(&GlobalArgs::default(), f).unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(c.require_2fa_for.len(), 2);
        assert_eq!(c.password_policy.min_chars, 14);
        assert!(c.password_policy.require_character_classes);
        assert_eq!(c.login_limits.per_ip.max, 3);
        assert_eq!(c.audit_retention_days, 30);
        assert!(
            Config::layer(
                &GlobalArgs::default(),
                file("trusted_proxies = [\"nonsense\"]").unwrap()
            )
            .is_err()
        );
        assert!(
            Config::layer(
                &GlobalArgs::default(),
                file("[auth]\npassword_min_length = 4").unwrap()
            )
            .is_err()
        );
        assert!(file("[auth]\nrequire_2fa = []").is_err());
    }

    #[test]
    fn behind_proxy_needs_https_public_url() {
        let args = GlobalArgs {
            behind_proxy: true,
            ..GlobalArgs::default()
        };
        assert!(Config::layer(&args, FileConfig::default()).is_err());
        let args = GlobalArgs {
            behind_proxy: true,
            public_url: Some("https://panel.example.com/".into()),
            listen: Some("0.0.0.0:8080".parse().unwrap()),
            ..GlobalArgs::default()
        };
        let c = Config::layer(&args, FileConfig::default()).unwrap();
        assert_eq!(c.public_url.as_deref(), Some("https://panel.example.com"));
        assert!(c.https());
        c.check_listen_policy().unwrap();
    }

    #[test]
    fn public_address_without_proxy_is_refused() {
        for addr in ["0.0.0.0:8080", "[::]:8080", "192.0.2.1:8080"] {
            let args = GlobalArgs {
                listen: Some(addr.parse().unwrap()),
                ..GlobalArgs::default()
            };
            let c = Config::layer(&args, FileConfig::default()).unwrap();
            let err = c.check_listen_policy().unwrap_err().to_string();
            assert!(err.contains("--behind-proxy"), "{err}");
        }
        for addr in ["127.0.0.1:8080", "[::1]:8080"] {
            let args = GlobalArgs {
                listen: Some(addr.parse().unwrap()),
                ..GlobalArgs::default()
            };
            Config::layer(&args, FileConfig::default())
                .unwrap()
                .check_listen_policy()
                .unwrap();
        }
    }

    #[test]
    fn public_url_refuses_paths_and_line_breaks() {
        assert!(validate_public_url("https://a.example/x").is_err());
        assert!(validate_public_url("https://a.example\r\nX: y").is_err());
        assert!(validate_public_url("ftp://a.example").is_err());
        assert_eq!(
            validate_public_url("http://[::1]:8080/").unwrap(),
            "http://[::1]:8080"
        );
    }

    #[test]
    fn database_url_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        std::fs::write(&path, "postgres://u:p@127.0.0.1/db\n").unwrap();
        let args = GlobalArgs {
            database_url_file: Some(path),
            ..GlobalArgs::default()
        };
        let c = Config::layer(&args, FileConfig::default()).unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(
            c.database_url.unwrap().expose_secret(),
            "postgres://u:p@127.0.0.1/db"
        );
    }
}
