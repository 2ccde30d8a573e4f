//! `rampart`: one binary for the panel, the agent and break-glass admin work.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod config;
mod logging;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::config::Config;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::resolve(&cli.global) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    logging::init(config.log_format);
    // One TLS crypto provider for the whole process (ring; see ARCHITECTURE).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Up => commands::serve::run(config, true).await,
            Command::Panel => commands::serve::run(config, false).await,
            Command::Admin(admin) => commands::admin::run(config, admin).await,
            Command::Audit(audit) => commands::audit::run(config, audit).await,
            Command::Agent(args) => commands::agent::run(config, args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
