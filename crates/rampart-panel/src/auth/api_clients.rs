//! API clients and tokens (SPEC R31; RFC 6749 §4.4 client credentials,
//! RFC 6750 bearer tokens, RFC 7009 revocation).
//!
//! A client belongs to a user and holds a subset of the scopes its creator
//! had (a token can never mint a client with more than the token itself).
//! Its secret and every token are 256 random bits stored as SHA-256. At
//! token time and again at every use, the token's scopes shrink to what the
//! user holds right now, so a user who loses a scope loses it in their
//! clients' tokens. Regenerating a secret bumps the client's generation:
//! tokens of the old one die with it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use rampart_core::secret_token::constant_time_eq;
use rampart_core::{IpNet, Principal, Scope, ScopeSet, SecretToken, UnixTime, UserId};

use super::AuthError;
use crate::Services;
use crate::store::{ApiClientRecord, NewApiClient, UserRecord};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientError {
    #[error("name must be 1 to 64 printable characters")]
    BadName,
    #[error("choose at least one scope")]
    NoScopes,
    #[error("a client cannot have scope {0}, which you do not hold")]
    ScopeNotHeld(Scope),
    #[error("not an IP address or network: {0}")]
    BadNetwork(String),
    #[error("expiry must be between 1 and 3650 days")]
    BadExpiry,
}

/// What a new client or a regenerated secret gives back, once.
#[derive(Debug)]
pub struct ClientSecret {
    pub client_id: String,
    pub secret: SecretToken,
}

/// Why the token endpoint refuses (RFC 6749 §5.2 codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    InvalidClient,
    InvalidScope,
}

#[derive(Debug)]
pub struct IssuedToken {
    pub token: SecretToken,
    pub expires_in: i64,
    pub scopes: ScopeSet,
}

/// A request authenticated by a bearer token.
#[derive(Debug, Clone)]
pub struct BearerAuth {
    pub principal: Principal,
    pub user: Arc<UserRecord>,
    pub client_id: String,
}

/// Requests, last use and last IP of one client since the last flush.
type Usage = (i64, UnixTime, Option<String>);

/// A bearer token's resolution, reused while the store's authentication
/// epoch is unchanged and for at most [`CACHE_TTL_SECS`].
#[derive(Debug)]
struct CachedToken {
    epoch: u64,
    fetched: UnixTime,
    scopes: ScopeSet,
    secret_generation: i64,
    expires_at: UnixTime,
    client: ApiClientRecord,
    allowlist: Vec<IpNet>,
    user: Arc<UserRecord>,
    held: ScopeSet,
}

/// How long a cached resolution may be used: the bound on how late a change
/// made by another process (the CLI, another replica) is noticed. Changes
/// made by this process invalidate the cache at once (auth epoch).
pub const CACHE_TTL_SECS: i64 = 1;
const CACHE_MAX: usize = 50_000;

#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, Arc<CachedToken>>>,
}

impl TokenCache {
    fn get(&self, hash: &str, epoch: u64, now: UnixTime) -> Option<Arc<CachedToken>> {
        let map = self.entries.lock().ok()?;
        map.get(hash)
            .filter(|e| {
                e.epoch == epoch && now.secs_since(e.fetched) < CACHE_TTL_SECS && now >= e.fetched
            })
            .cloned()
    }

    fn put(&self, hash: String, entry: Arc<CachedToken>) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(hash, entry);
        }
    }
}

/// Per-client usage counted in memory and flushed to the store.
#[derive(Debug, Default)]
pub struct UsageLog {
    pending: Mutex<HashMap<String, Usage>>,
}

impl UsageLog {
    fn record(&self, client: &str, now: UnixTime, ip: Option<&str>) {
        if let Ok(mut map) = self.pending.lock() {
            if !map.contains_key(client) {
                map.insert(client.to_owned(), (0, now, None));
            }
            if let Some(entry) = map.get_mut(client) {
                entry.0 += 1;
                entry.1 = now;
                if entry.2.as_deref() != ip {
                    entry.2 = ip.map(str::to_owned);
                }
            }
        }
    }

    fn take(&self) -> HashMap<String, Usage> {
        match self.pending.lock() {
            Ok(mut map) => std::mem::take(&mut *map),
            Err(_) => HashMap::new(),
        }
    }
}

fn parse_allowlist(list: &str) -> Result<Vec<IpNet>, ClientError> {
    list.split([',', '\n', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| IpNet::parse(s).map_err(|_| ClientError::BadNetwork(s.chars().take(64).collect())))
        .collect()
}

fn ip_allowed(allowlist: &str, ip: Option<&str>) -> bool {
    let Ok(nets) = parse_allowlist(allowlist) else {
        return false;
    };
    if nets.is_empty() {
        return true;
    }
    let Some(ip) = ip.and_then(|i| i.parse::<IpAddr>().ok()) else {
        return false;
    };
    nets.iter().any(|n| n.contains(ip))
}

/// `rc_` and 24 hex digits: its own namespace, never a user id.
fn new_client_id(services: &Services) -> String {
    let mut bytes = [0u8; 12];
    services.rng.fill(&mut bytes);
    format!("rc_{}", hex::encode(bytes))
}

impl ApiClientRecord {
    /// Usable for new tokens at `now`.
    pub fn is_live(&self, now: UnixTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

impl Services {
    /// Creates a client for `owner` with `scopes`, which must all be held by
    /// `creator` (the caller's effective scopes: a token's, or a session's).
    pub async fn create_api_client(
        &self,
        creator: &Principal,
        owner: UserId,
        name: &str,
        scopes: ScopeSet,
        expires_in_days: Option<i64>,
        ip_allowlist: &str,
    ) -> Result<Result<ClientSecret, ClientError>, AuthError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Ok(Err(ClientError::BadName));
        }
        if scopes.is_empty() {
            return Ok(Err(ClientError::NoScopes));
        }
        if let Some(missing) = scopes.iter().find(|s| !scopes_hold(creator.scopes, *s)) {
            return Ok(Err(ClientError::ScopeNotHeld(missing)));
        }
        let nets = match parse_allowlist(ip_allowlist) {
            Ok(n) => n,
            Err(e) => return Ok(Err(e)),
        };
        let expires_at = match expires_in_days {
            None => None,
            Some(d) if (1..=3650).contains(&d) => Some(self.clock.now().plus_secs(d * 86_400)),
            Some(_) => return Ok(Err(ClientError::BadExpiry)),
        };
        let id = new_client_id(self);
        let secret = SecretToken::generate(self.rng.as_ref());
        let allowlist = nets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        self.store
            .create_api_client(&NewApiClient {
                id: &id,
                user_id: owner,
                name,
                scopes,
                secret_hash: secret.hash().as_str(),
                ip_allowlist: &allowlist,
                now: self.clock.now(),
                expires_at,
            })
            .await?;
        Ok(Ok(ClientSecret {
            client_id: id,
            secret,
        }))
    }

    /// A new secret for the client; the old one and all its tokens die.
    pub async fn regenerate_client_secret(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientSecret>, AuthError> {
        let secret = SecretToken::generate(self.rng.as_ref());
        if self
            .store
            .set_api_client_secret(client_id, secret.hash().as_str())
            .await?
        {
            Ok(Some(ClientSecret {
                client_id: client_id.to_owned(),
                secret,
            }))
        } else {
            Ok(None)
        }
    }

    /// Checks client credentials: live client, right secret, allowed IP,
    /// active owner. Same work for unknown ids (no enumeration by timing).
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: &str,
        ip: Option<&str>,
    ) -> Result<Option<ApiClientRecord>, AuthError> {
        let client = if client_id.starts_with("rc_") && client_id.len() <= 64 {
            self.store.get_api_client(client_id).await?
        } else {
            None
        };
        let presented = SecretToken::parse(secret).map(|s| s.hash());
        let stored = client
            .as_ref()
            .map(|c| c.secret_hash.as_str())
            .unwrap_or("");
        let secret_ok = presented.is_some_and(|p| constant_time_eq(p.as_str(), stored));
        let Some(client) = client else {
            return Ok(None);
        };
        if !secret_ok || !client.is_live(self.clock.now()) || !ip_allowed(&client.ip_allowlist, ip)
        {
            return Ok(None);
        }
        match self.store.get_user(client.user_id).await? {
            Some(u) if u.active => Ok(Some(client)),
            _ => Ok(None),
        }
    }

    /// Issues a token for an authenticated client; `requested` narrows the
    /// client's scopes (space-separated, RFC 6749 §3.3).
    pub async fn issue_api_token(
        &self,
        client: &ApiClientRecord,
        requested: Option<&str>,
    ) -> Result<Result<IssuedToken, TokenError>, AuthError> {
        let wanted = match requested.map(str::trim).filter(|s| !s.is_empty()) {
            None => client.scopes,
            Some(list) => match ScopeSet::parse_list(&list.replace(' ', ",")) {
                Ok(set) if !set.is_empty() && set.is_subset_of(client.scopes) => set,
                _ => return Ok(Err(TokenError::InvalidScope)),
            },
        };
        let Some(user) = self.store.get_user(client.user_id).await? else {
            return Ok(Err(TokenError::InvalidClient));
        };
        let held = self.principal_of(&user).await?.scopes;
        let scopes = wanted.granted_by(held);
        if scopes.is_empty() {
            return Ok(Err(TokenError::InvalidScope));
        }
        let token = SecretToken::generate(self.rng.as_ref());
        let now = self.clock.now();
        let lifetime = self.settings.api.token_lifetime_secs;
        self.store
            .insert_api_token(
                &token.hash(),
                &client.id,
                scopes,
                client.secret_generation,
                now,
                now.plus_secs(lifetime),
            )
            .await?;
        Ok(Ok(IssuedToken {
            token,
            expires_in: lifetime,
            scopes,
        }))
    }

    /// Resolves a bearer token; `None` for unknown, expired, revoked,
    /// superseded (old secret), disallowed IP or deactivated owner.
    pub async fn authenticate_bearer(
        &self,
        presented: &str,
        ip: Option<&str>,
    ) -> Result<Option<BearerAuth>, AuthError> {
        let Some(token) = SecretToken::parse(presented) else {
            return Ok(None);
        };
        let hash = token.hash();
        let now = self.clock.now();
        let epoch = self.store.auth_epoch();
        let entry = match self.token_cache.get(hash.as_str(), epoch, now) {
            Some(e) => e,
            None => {
                let Some(record) = self.store.find_api_token(&hash).await? else {
                    return Ok(None);
                };
                let held = self.principal_of(&record.user).await?.scopes;
                let entry = Arc::new(CachedToken {
                    epoch,
                    fetched: now,
                    scopes: record.scopes,
                    secret_generation: record.secret_generation,
                    expires_at: record.expires_at,
                    allowlist: parse_allowlist(&record.client.ip_allowlist).unwrap_or_default(),
                    client: record.client,
                    user: Arc::new(record.user),
                    held,
                });
                self.token_cache.put(hash.0, entry.clone());
                entry
            }
        };
        let ip_ok = entry.allowlist.is_empty()
            || ip
                .and_then(|i| i.parse::<IpAddr>().ok())
                .is_some_and(|i| entry.allowlist.iter().any(|n| n.contains(i)));
        if now >= entry.expires_at
            || entry.secret_generation != entry.client.secret_generation
            || !entry.client.is_live(now)
            || !entry.user.active
            || !ip_ok
        {
            return Ok(None);
        }
        self.usage.record(&entry.client.id, now, ip);
        Ok(Some(BearerAuth {
            principal: Principal {
                user: entry.user.id,
                scopes: entry.scopes.granted_by(entry.held),
                active: entry.user.active,
            },
            user: entry.user.clone(),
            client_id: entry.client.id.clone(),
        }))
    }

    /// RFC 7009: revokes `token` if it belongs to `client`; unknown tokens
    /// are not an error.
    pub async fn revoke_api_token(
        &self,
        client: &ApiClientRecord,
        token: &str,
    ) -> Result<(), AuthError> {
        if let Some(t) = SecretToken::parse(token) {
            self.store.delete_api_token(&t.hash(), &client.id).await?;
        }
        Ok(())
    }

    /// Writes usage counted since the last flush.
    pub async fn flush_api_usage(&self) -> Result<(), AuthError> {
        for (client, (count, last, ip)) in self.usage.take() {
            self.store
                .add_api_client_usage(&client, count, last, ip.as_deref())
                .await?;
        }
        Ok(())
    }
}

fn scopes_hold(holder: ScopeSet, scope: Scope) -> bool {
    holder.contains(Scope::Admin) || holder.contains(scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_parsing_and_matching() {
        assert!(ip_allowed("", Some("203.0.113.1")));
        assert!(ip_allowed("", None));
        assert!(ip_allowed("10.0.0.0/8, 127.0.0.1", Some("127.0.0.1")));
        assert!(!ip_allowed("10.0.0.0/8", Some("127.0.0.1")));
        assert!(!ip_allowed("10.0.0.0/8", None));
        assert_eq!(
            parse_allowlist("10.0.0.0/8 x"),
            Err(ClientError::BadNetwork("x".into()))
        );
    }
}
