//! `rampart admin …`: break-glass commands run directly on the store. Each
//! change is recorded in the audit log with actor `cli`.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use rampart_core::{RoleName, UserId, Username};
use rampart_panel::Services;
use rampart_panel::audit::{AuditNote, EventType};
use rampart_panel::auth::AdminError;
use rampart_panel::store::AdminGuard;

use super::serve::{open_store, services};
use crate::cli::{AdminCommand, CreateUserArgs};
use crate::config::Config;

pub async fn run(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    // Validate arguments before touching the store.
    if let AdminCommand::CreateUser(args) = &command {
        Username::parse(&args.username).context("invalid --username")?;
        RoleName::parse(&args.role).context("invalid --role")?;
    }
    let password = match &command {
        AdminCommand::CreateUser(args) => {
            let text = read_password(&args.password_file)?;
            let username = args.username.as_str();
            config
                .password_policy
                .check(&text, username)
                .context("password refused")?;
            Some(text)
        }
        _ => None,
    };
    let store = open_store(&config).await?;
    let services = services(&config, store)?;
    match command {
        AdminCommand::CreateUser(args) => {
            create_user(&services, args, password.unwrap_or_default()).await
        }
        AdminCommand::Reset2fa { username } => {
            let id = find(&services, &username).await?;
            services.reset_2fa_unchecked(id).await?;
            record(&services, "user.reset_2fa", id).await?;
            println!("two-factor authentication removed for {username}; their sessions ended");
            Ok(())
        }
        AdminCommand::DisableUser { username } => {
            let id = find(&services, &username).await?;
            match services.store.set_user_active(id, false).await? {
                AdminGuard::Done => {}
                AdminGuard::LastAdmin => {
                    bail!("{username} is the last active admin; create another admin first")
                }
                AdminGuard::NotFound => bail!("no user named {username}"),
            }
            record(&services, "user.deactivate", id).await?;
            println!("{username} deactivated; their sessions ended");
            Ok(())
        }
        AdminCommand::CreateClient {
            username,
            name,
            scopes,
        } => {
            let id = find(&services, &username).await?;
            let scopes = rampart_core::ScopeSet::parse_list(&scopes.join(","))
                .map_err(|bad| anyhow::anyhow!("unknown scope: {bad}"))?;
            let user = services
                .store
                .get_user(id)
                .await?
                .context("user vanished")?;
            let creator = services.principal_of(&user).await?;
            let created = services
                .create_api_client(&creator, id, &name, scopes, None, "")
                .await?
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            services
                .record_event(
                    "cli",
                    AuditNote::new(EventType::Security, "api_client.create")
                        .target(format!("client:{}", created.client_id)),
                    "success",
                )
                .await?;
            let out = serde_json::json!({ "client_id": created.client_id, "client_secret": created.secret.expose() });
            println!("{out}");
            Ok(())
        }
        AdminCommand::CreateNode {
            name,
            public_address,
        } => {
            let name = rampart_core::NodeName::parse(&name).context("invalid --name")?;
            rampart_panel::web::api::nodes::validate_address(&public_address)
                .map_err(|e| anyhow::anyhow!("invalid --public-address: {e}"))?;
            let created = match services
                .create_node_unchecked(&name, &public_address, 5657, "")
                .await
            {
                Ok(c) => c,
                Err(rampart_panel::agents::NodeError::NameTaken) => {
                    bail!("a node named {name} already exists")
                }
                Err(e) => return Err(e).context("cannot create the node"),
            };
            services
                .record_event(
                    "cli",
                    AuditNote::new(EventType::Audit, "node.create")
                        .target(format!("node:{}", created.node_id)),
                    "success",
                )
                .await?;
            let out = serde_json::json!({ "node_id": created.node_id.as_str(), "enroll_token": created.enroll_token });
            println!("{out}");
            Ok(())
        }
        AdminCommand::RevokeAllTokens => {
            let n = services.store.delete_all_api_tokens().await?;
            services
                .record_event(
                    "cli",
                    AuditNote::new(EventType::Security, "api_tokens.revoke_all").extra("count", &n),
                    "success",
                )
                .await?;
            println!("{n} access token(s) revoked");
            Ok(())
        }
        AdminCommand::RotateClientSecrets => {
            let mut n = 0u64;
            for client in services.store.list_api_clients(None).await? {
                if client.revoked_at.is_none()
                    && services
                        .regenerate_client_secret(&client.id)
                        .await?
                        .is_some()
                {
                    n += 1;
                }
            }
            services
                .record_event(
                    "cli",
                    AuditNote::new(EventType::Security, "api_clients.rotate_all")
                        .extra("count", &n),
                    "success",
                )
                .await?;
            println!(
                "{n} client secret(s) rotated; owners must regenerate them to use the clients again"
            );
            Ok(())
        }
        AdminCommand::RevokeSessions { all, username } => {
            let n = if all {
                let n = services.store.delete_all_sessions().await?;
                services
                    .record_event(
                        "cli",
                        AuditNote::new(EventType::Security, "sessions.revoke_all")
                            .extra("count", &n),
                        "success",
                    )
                    .await?;
                n
            } else {
                let name = username.unwrap_or_default();
                let id = find(&services, &name).await?;
                let n = services.store.delete_user_sessions(id).await?;
                record(&services, "sessions.revoke", id).await?;
                n
            };
            println!("{n} session(s) ended");
            Ok(())
        }
    }
}

async fn find(services: &Services, username: &str) -> anyhow::Result<UserId> {
    let name = Username::parse(username).context("invalid --username")?;
    match services.store.find_user_by_username(&name).await? {
        Some(u) => Ok(u.id),
        None => bail!("no user named {username}"),
    }
}

async fn record(services: &Services, action: &'static str, id: UserId) -> anyhow::Result<()> {
    services
        .record_event(
            "cli",
            AuditNote::new(EventType::Security, action).target(format!("user:{id}")),
            "success",
        )
        .await?;
    Ok(())
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

async fn create_user(
    services: &Services,
    args: CreateUserArgs,
    password: String,
) -> anyhow::Result<()> {
    let username = Username::parse(&args.username).context("invalid --username")?;
    let role = RoleName::parse(&args.role).context("invalid --role")?;
    let id = match services
        .create_user_unchecked(&username, &password, &role)
        .await
    {
        Ok(id) => id,
        Err(AdminError::UsernameTaken) => bail!("a user named {username} already exists"),
        Err(AdminError::UnknownRole) => bail!("invalid --role: no role named {role}"),
        Err(e) => return Err(e).context("cannot create the user"),
    };
    services
        .record_event(
            "cli",
            AuditNote::new(EventType::Audit, "user.create")
                .target(format!("user:{id}"))
                .extra("username", &username)
                .extra("role", &role),
            "success",
        )
        .await?;
    let out =
        serde_json::json!({ "id": id.0, "username": username.as_str(), "role": role.as_str() });
    println!("{out}");
    Ok(())
}
