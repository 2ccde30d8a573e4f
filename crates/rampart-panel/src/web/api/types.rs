//! Request and response bodies of the REST API (with their OpenAPI schemas).

use rampart_core::{Scope, UnixTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::{ApiClientRecord, SessionSummary, UserRecord};

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `insufficient_scope`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub role: String,
    /// Effective scopes of this request (a token's are narrowed to what the user holds).
    pub scopes: Vec<String>,
    pub totp_enabled: bool,
    /// `session` or `token`.
    pub via: String,
    pub client_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub active: bool,
    pub totp_enabled: bool,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<&UserRecord> for User {
    fn from(u: &UserRecord) -> Self {
        User {
            id: u.id.0,
            username: u.username.to_string(),
            role: u.role.to_string(),
            active: u.active,
            totp_enabled: u.totp.is_some(),
            created_at: u.created_at.0,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<User>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub role: Option<String>,
    pub active: Option<bool>,
    /// How many servers the user may own; `null` for the installation's default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub max_servers: Option<Option<i64>>,
    /// The user's plan; `null` for none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub plan: Option<Option<String>>,
}

/// A field that is present (possibly `null`) becomes `Some`.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Role {
    pub name: String,
    pub builtin: bool,
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    pub items: Vec<Role>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    pub name: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub current: bool,
}

impl Session {
    pub fn from_summary(s: SessionSummary, current: Option<&str>) -> Session {
        Session {
            current: current == Some(s.public_id.as_str()),
            id: s.public_id,
            created_at: s.created_at.0,
            last_seen_at: s.last_seen_at.0,
            ip: s.ip,
            user_agent: s.user_agent,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<Session>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiClient {
    pub client_id: String,
    pub owner: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub ip_allowlist: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked: bool,
    pub last_used_at: Option<i64>,
    pub last_ip: Option<String>,
    pub request_count: i64,
}

impl From<&ApiClientRecord> for ApiClient {
    fn from(c: &ApiClientRecord) -> Self {
        ApiClient {
            client_id: c.id.clone(),
            owner: c.owner.clone(),
            name: c.name.clone(),
            scopes: scope_names(c.scopes.iter()),
            ip_allowlist: c
                .ip_allowlist
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            created_at: c.created_at.0,
            expires_at: c.expires_at.map(|t: UnixTime| t.0),
            revoked: c.revoked_at.is_some(),
            last_used_at: c.last_used_at.map(|t| t.0),
            last_ip: c.last_ip.clone(),
            request_count: c.request_count,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiClientList {
    pub items: Vec<ApiClient>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiClient {
    pub name: String,
    pub scopes: Vec<String>,
    /// Days until the client stops working (1–3650); none = no expiry.
    pub expires_in_days: Option<i64>,
    /// Networks allowed to use the client; empty = anywhere.
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
}

/// The secret is shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub event_type: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub result: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// JSON object with typed, redacted details.
    pub extra: String,
    pub hash: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

pub fn scope_names(scopes: impl Iterator<Item = Scope>) -> Vec<String> {
    scopes.map(|s| s.as_str().to_owned()).collect()
}
