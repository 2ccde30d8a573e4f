//! `rampart admin …`: break-glass commands run directly on the store.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use rampart_core::{Password, Role, Username};
use rampart_panel::auth::AuthError;
use rampart_panel::store::StoreError;

use super::serve::{open_store, services};
use crate::cli::{AdminCommand, CreateUserArgs};
use crate::config::Config;

pub async fn run(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::CreateUser(args) => create_user(config, args).await,
    }
}

fn read_password(path: &Path) -> anyhow::Result<String> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the password from standard input")?;
    } else {
        text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read password file {}", path.display()))?;
    }
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    Ok(text.to_owned())
}

async fn create_user(config: Config, args: CreateUserArgs) -> anyhow::Result<()> {
    let username = Username::parse(&args.username).context("invalid --username")?;
    let role = Role::parse(&args.role).context("invalid --role")?;
    let password_text = read_password(&args.password_file)?;
    let password =
        Password::parse_new(&password_text, username.as_str()).context("password refused")?;
    let store = open_store(&config).await?;
    let services = services(&config, store)?;
    let id = match services.create_user(&username, &password, role).await {
        Ok(id) => id,
        Err(AuthError::Store(StoreError::UsernameTaken)) => {
            bail!("a user named {username} already exists")
        }
        Err(e) => return Err(e).context("cannot create the user"),
    };
    let out =
        serde_json::json!({ "id": id.0, "username": username.as_str(), "role": role.as_str() });
    println!("{out}");
    Ok(())
}
