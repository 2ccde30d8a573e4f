//! Logs go to stderr: human-readable in a terminal, JSON with
//! `--log-format json`. Level filter from `RAMPART_LOG` (default `info`).
//! Nothing secret is ever passed to a log macro: handlers log ids, never
//! passwords, tokens or cookies, and the access log has no query strings.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("RAMPART_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .init(),
        LogFormat::Json => builder.json().with_current_span(true).init(),
    }
}
