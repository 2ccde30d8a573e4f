//! `rampart agent`: enroll on first start, then keep the link to the panel
//! until SIGINT/SIGTERM.

use std::sync::Arc;

use anyhow::{Context, bail};
use rampart_agent::{AgentOptions, AgentState};
use rampart_core::OsRandom;

use super::serve::shutdown_signal;
use crate::cli::AgentArgs;
use crate::config::Config;

pub async fn run(config: Config, args: AgentArgs) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let token = match (&args.enroll_token, &args.enroll_token_file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        (None, None) => None,
    };
    let state = match (AgentState::load(&data_dir)?, token) {
        (Some(_), Some(_)) => bail!(
            "{} already holds an enrolled agent; remove --enroll-token (or use another --data-dir)",
            data_dir.display()
        ),
        (Some(state), None) => state,
        (None, Some(token)) => {
            let url = args
                .panel_url
                .as_deref()
                .context("--panel-url is needed to enroll")?;
            let state = rampart_agent::enroll(url, &token, &data_dir)
                .await
                .context("enrollment failed")?;
            tracing::info!(node = %state.node_id, "enrolled");
            state
        }
        (None, None) => bail!(
            "{} holds no enrolled agent: pass --panel-url and --enroll-token from the panel's Nodes page",
            data_dir.display()
        ),
    };
    let options = AgentOptions {
        data_dir,
        read_only: args.read_only,
        bind_ip: config.bind_address,
        rng: Arc::new(OsRandom),
        sftp_listen: crate::cli::parse_sftp_listen(&args.sftp_listen)?,
        pull_allow: args.pull_allow.clone(),
    };
    tracing::info!(node = %state.node_id, panel = %state.panel_url, read_only = options.read_only, "agent starting");
    rampart_agent::run(state, options, shutdown_signal()).await;
    Ok(())
}
