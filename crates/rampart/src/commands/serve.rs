//! `rampart up` and `rampart panel`: open the store, print the setup link
//! while no admin exists, serve until SIGINT/SIGTERM.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use rampart_core::{OsRandom, SystemClock};
use rampart_panel::store::Store;
use rampart_panel::{PanelSettings, Services};
use secrecy::ExposeSecret;

use crate::config::Config;

/// How often expired sessions and audit records past retention are purged.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = match &config.database_url {
        Some(url) => Store::connect(url.expose_secret())
            .await
            .context("cannot open the database given by --database-url")?,
        None => Store::open_sqlite_in(&config.data_dir)
            .await
            .with_context(|| {
                format!(
                    "cannot open the SQLite store in {}",
                    config.data_dir.display()
                )
            })?,
    };
    Ok(store)
}

/// Services for commands run on the store; with `--agent-listen`, enrollment
/// tokens they make carry the agent certificate's fingerprint.
pub fn services(config: &Config, store: Store) -> anyhow::Result<Arc<Services>> {
    let fingerprint = agent_certificate(config)?.map(|c| c.fingerprint);
    services_with(config, store, fingerprint)
}

/// The agent endpoint's certificate when `--agent-listen` is set (made on
/// first use, in `<data dir>/agent-tls/`).
fn agent_certificate(
    config: &Config,
) -> anyhow::Result<Option<rampart_panel::agents::tls::AgentCertificate>> {
    if config.agent_listen.is_none() {
        return Ok(None);
    }
    let names: Vec<String> = config
        .public_url
        .as_deref()
        .and_then(|u| u.split("://").nth(1))
        .map(|h| vec![h.split(':').next().unwrap_or(h).to_owned()])
        .unwrap_or_default();
    Ok(Some(
        rampart_panel::agents::tls::load_or_create(&config.data_dir.join("agent-tls"), &names)
            .context("agent endpoint certificate")?,
    ))
}

fn services_with(
    config: &Config,
    store: Store,
    agent_fingerprint: Option<String>,
) -> anyhow::Result<Arc<Services>> {
    let settings = PanelSettings {
        agent_tls_fingerprint: agent_fingerprint,
        insecure_agent_link: config.insecure_agent_link,
        public_origin: config.public_url.clone(),
        https: config.https(),
        session_idle_secs: config.session_idle_secs,
        session_lifetime_secs: config.session_lifetime_secs,
        trusted_proxies: config.trusted_proxies.clone(),
        require_2fa_for: config.require_2fa_for.clone(),
        sftp_password_with_2fa: config.sftp_password_with_2fa,
        password_policy: config.password_policy.clone(),
        login_limits: config.login_limits.clone(),
        audit_retention_days: config.audit_retention_days,
        api: config.api.clone(),
        ..PanelSettings::default()
    };
    let services = Services::new(store, Arc::new(SystemClock), Arc::new(OsRandom), settings)
        .context("cannot initialise the panel")?;
    Ok(Arc::new(services))
}

pub async fn run(config: Config, with_local_agent: bool) -> anyhow::Result<()> {
    config.check_listen_policy()?;
    let store = open_store(&config).await?;
    let agent_cert = agent_certificate(&config)?;
    let services = services_with(
        &config,
        store,
        agent_cert.as_ref().map(|c| c.fingerprint.clone()),
    )?;
    if let (Some(addr), Some(cert)) = (config.agent_listen, agent_cert) {
        super::agent_tls::spawn(addr, cert, services.clone()).await?;
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr().context("listener address")?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let origin = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{local}"));
    let tls = match &config.tls {
        Some((cert, key)) => {
            let (chain, key) = super::tls_server::load_pem(cert, key)?;
            Some(super::tls_server::acceptor(chain, key)?)
        }
        None => None,
    };
    tracing::info!(listen = %local, backend = ?services.store.backend(), "panel listening");
    if config.insecure_agent_link {
        tracing::warn!(
            "--insecure-agent-link: agents on other machines may connect without encryption; \
             their credentials and commands cross the network in clear text. Use --agent-listen."
        );
    }

    services.seed_templates().await?;
    if let Some(token) = services.issue_setup_token().await? {
        // The one place the token is shown: stdout, not the log.
        let mut out = std::io::stdout().lock();
        writeln!(out, "Setup URL: {origin}/setup?token={}", token.expose())?;
        out.flush()?;
        tracing::info!("no administrator yet: open the setup URL printed on standard output");
    }

    if with_local_agent {
        match local_agent_state(&services, &config, local).await {
            Ok(Some(state)) => {
                let options = rampart_agent::AgentOptions {
                    data_dir: config.data_dir.join("agent"),
                    read_only: false,
                    bind_ip: config.bind_address,
                    rng: std::sync::Arc::new(OsRandom),
                    // The local agent's SFTP answers on loopback only.
                    sftp_listen: Some(std::net::SocketAddr::from((
                        std::net::Ipv4Addr::LOCALHOST,
                        5657,
                    ))),
                    pull_allow: Vec::new(),
                };
                tokio::spawn(rampart_agent::run(
                    state,
                    options,
                    std::future::pending::<()>(),
                ));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "the local agent could not start"),
        }
    }

    let usage = services.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            tick.tick().await;
            if let Err(e) = usage.flush_api_usage().await {
                tracing::warn!(error = %e, "writing API usage failed");
            }
        }
    });

    let purger = services.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_EVERY);
        loop {
            tick.tick().await;
            let now = purger.clock.now();
            if let Err(e) = purger.store.purge_expired_sessions(now).await {
                tracing::warn!(error = %e, "purging expired sessions failed");
            }
            if let Err(e) = purger.store.purge_expired_api_tokens(now).await {
                tracing::warn!(error = %e, "purging expired API tokens failed");
            }
            match purger.apply_audit_retention().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(records = n, "pruned audit records past retention"),
                Err(e) => tracing::warn!(error = %e, "audit retention failed"),
            }
        }
    });

    match tls {
        Some(acceptor) => {
            let router = rampart_panel::web::router(services);
            super::tls_server::serve(listener, acceptor, router, shutdown_signal()).await;
        }
        None => rampart_panel::web::serve(listener, services, shutdown_signal())
            .await
            .context("server failed")?,
    }
    tracing::info!("panel stopped");
    Ok(())
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// The local agent's identity for `rampart up`: enrolled on first start as
/// node `local` (in process, no token leaves it), reused afterwards. `None`
/// when a `local` node exists without this data dir's agent (e.g. it was
/// revoked or belongs to another install): then nothing is started.
async fn local_agent_state(
    services: &Services,
    config: &Config,
    listen: std::net::SocketAddr,
) -> anyhow::Result<Option<rampart_agent::AgentState>> {
    let dir = config.data_dir.join("agent");
    // The agent dials the panel over loopback, whatever the public address;
    // when the panel serves TLS, it pins the panel's own certificate.
    let port = listen.port();
    let (panel_url, fingerprint) = match &config.tls {
        Some((cert, key)) => {
            let (chain, _) = super::tls_server::load_pem(cert, key)?;
            let leaf = chain.first().context("no certificate")?;
            (
                format!("https://127.0.0.1:{port}"),
                Some(rampart_panel::agents::tls::fingerprint(leaf.as_ref())),
            )
        }
        None => (format!("http://127.0.0.1:{port}"), None),
    };
    if let Some(mut state) = rampart_agent::AgentState::load(&dir)? {
        if state.panel_url != panel_url || state.panel_fingerprint != fingerprint {
            state.panel_url = panel_url;
            state.panel_fingerprint = fingerprint;
            state.save(&dir)?;
        }
        return Ok(Some(state));
    }
    let name = rampart_core::NodeName::parse("local").context("node name")?;
    let created = match services
        .create_node_unchecked(&name, "127.0.0.1", 5657, "local")
        .await
    {
        Ok(c) => c,
        Err(rampart_panel::agents::NodeError::NameTaken) => {
            tracing::warn!(
                "a node named local exists but this data dir holds no agent for it; not starting a local agent"
            );
            return Ok(None);
        }
        Err(e) => return Err(e).context("cannot create the local node"),
    };
    let (node_id, credential) = services
        .enroll_agent(&created.enroll_token)
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let state = rampart_agent::AgentState {
        panel_url,
        node_id: node_id.to_string(),
        credential: credential.expose().to_owned(),
        panel_fingerprint: fingerprint,
    };
    state.save(&dir)?;
    tracing::info!(node = %node_id, "local node enrolled");
    Ok(Some(state))
}
