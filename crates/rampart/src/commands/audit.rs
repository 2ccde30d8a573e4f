//! `rampart audit verify` and `rampart audit export`.

use std::io::Write;

use anyhow::{Context, bail};
use rampart_core::UnixTime;

use super::serve::open_store;
use crate::cli::AuditCommand;
use crate::config::Config;

pub async fn run(config: Config, command: AuditCommand) -> anyhow::Result<()> {
    let since = match &command {
        AuditCommand::Export { since: Some(d) } => {
            Some(UnixTime::parse_date(d).context("--since must be a date YYYY-MM-DD")?)
        }
        _ => None,
    };
    let store = open_store(&config).await?;
    match command {
        AuditCommand::Verify => {
            let report = store.verify_audit().await?;
            match report.first_broken {
                None => {
                    println!("audit chain ok: {} records verified", report.checked);
                    Ok(())
                }
                Some(id) => bail!(
                    "audit chain broken at record {id} ({} records before it verified)",
                    report.checked
                ),
            }
        }
        AuditCommand::Export { .. } => {
            let mut out = std::io::stdout().lock();
            let mut after = i64::MIN;
            loop {
                let page = store
                    .audit_since(since.map_or(i64::MIN, |t| t.0), after, 1000)
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for record in &page {
                    serde_json::to_writer(&mut out, record)?;
                    out.write_all(b"\n")?;
                }
            }
            out.flush()?;
            Ok(())
        }
    }
}
