//! Password login with failure limits (SPEC R15): per source IP and per
//! submitted account name, whether or not that account exists, so the
//! answer never tells which names are real.

use rampart_core::Username;

use super::AuthError;
use crate::Services;
use crate::store::UserRecord;

#[derive(Debug)]
pub enum LoginOutcome {
    /// Too many recent failures: retry after this many seconds.
    Limited(i64),
    Failed,
    /// Password accepted; the second factor is still due.
    SecondFactor(UserRecord),
    Success(UserRecord),
}

fn account_key(username: &str) -> String {
    // Normalised and bounded: the key is the name as typed, real or not.
    let mut s: String = username.trim().to_lowercase();
    s.truncate(64);
    format!("account:{s}")
}

impl Services {
    pub async fn attempt_login(
        &self,
        username: &str,
        password: &str,
        ip: Option<&str>,
    ) -> Result<LoginOutcome, AuthError> {
        let now = self.clock.now();
        let limits = &self.settings.login_limits;
        let ip_key = ip.map(|i| format!("ip:{i}"));
        let acct_key = account_key(username);
        let mut retry = None;
        if let Some(k) = &ip_key {
            retry = self.limiter.check(k, limits.per_ip, now).err();
        }
        if let Err(r) = self.limiter.check(&acct_key, limits.per_account, now) {
            retry = Some(retry.map_or(r, |x: i64| x.max(r)));
        }
        if let Some(after) = retry {
            return Ok(LoginOutcome::Limited(after));
        }
        let user = self.check_password(username, password).await?;
        let user = match user {
            Some(u) if u.active => u,
            _ => {
                if let Some(k) = &ip_key {
                    self.limiter.record_failure(k, limits.per_ip, now);
                }
                self.limiter
                    .record_failure(&acct_key, limits.per_account, now);
                return Ok(LoginOutcome::Failed);
            }
        };
        if user.totp.is_some() {
            Ok(LoginOutcome::SecondFactor(user))
        } else {
            Ok(LoginOutcome::Success(user))
        }
    }

    /// Counts a failed second-factor attempt against the account and IP.
    pub fn record_second_factor_failure(&self, user: &UserRecord, ip: Option<&str>) {
        let now = self.clock.now();
        let limits = &self.settings.login_limits;
        if let Some(i) = ip {
            self.limiter
                .record_failure(&format!("ip:{i}"), limits.per_ip, now);
        }
        self.limiter.record_failure(
            &account_key(user.username.as_str()),
            limits.per_account,
            now,
        );
    }

    /// `Err(retry_after)` when the account or IP is over its limit.
    pub fn second_factor_allowed(&self, user: &UserRecord, ip: Option<&str>) -> Result<(), i64> {
        let now = self.clock.now();
        let limits = &self.settings.login_limits;
        if let Some(i) = ip {
            self.limiter.check(&format!("ip:{i}"), limits.per_ip, now)?;
        }
        self.limiter.check(
            &account_key(user.username.as_str()),
            limits.per_account,
            now,
        )
    }

    /// `Err(retry_after)` when the account named `username` or the IP is
    /// over its failed-login limit (a key login is refused then too).
    pub fn login_allowed(&self, username: &str, ip: Option<&str>) -> Result<(), i64> {
        let now = self.clock.now();
        let limits = &self.settings.login_limits;
        if let Some(i) = ip {
            self.limiter.check(&format!("ip:{i}"), limits.per_ip, now)?;
        }
        self.limiter
            .check(&account_key(username), limits.per_account, now)
    }

    /// Checks a username and password. Costs the same for unknown users,
    /// malformed usernames and wrong passwords; never says which it was.
    pub async fn check_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<UserRecord>, AuthError> {
        let user = match Username::parse(username) {
            Ok(name) => self.store.find_user_by_username(&name).await?,
            Err(_) => None,
        };
        let ok = self
            .hasher
            .verify(user.as_ref().map(|u| u.password_hash.as_str()), password)
            .await?;
        Ok(if ok { user } else { None })
    }
}
