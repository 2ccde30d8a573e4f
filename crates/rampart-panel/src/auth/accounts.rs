//! Account and administration services. Privileged ones take a [`Granted`]
//! capability, which only a successful authorization check produces, and
//! check that it is for the right scope.

use rampart_core::{
    Granted, PasswordError, Resource, Role, RoleName, Scope, ScopeSet, UserId, Username,
};

use super::{ActiveSession, AuthError};
use crate::Services;
use crate::store::{AdminGuard, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("the current password is wrong")]
    WrongCurrent,
    #[error("{0}")]
    Policy(#[from] PasswordError),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("not found")]
    NotFound,
    #[error("this would leave no active administrator")]
    LastAdmin,
    #[error("a user with that username already exists")]
    UsernameTaken,
    #[error("that role name is taken")]
    RoleNameTaken,
    #[error("built-in roles cannot be changed")]
    BuiltinRole,
    #[error("the role is held by at least one user")]
    RoleInUse,
    #[error("unknown role")]
    UnknownRole,
    #[error("{0}")]
    Policy(#[from] PasswordError),
    /// The capability was for another scope or resource: a programming error.
    #[error("capability does not cover this operation")]
    WrongCapability,
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UsernameTaken => AdminError::UsernameTaken,
            StoreError::NameTaken => AdminError::RoleNameTaken,
            StoreError::RoleInUse => AdminError::RoleInUse,
            other => AdminError::Auth(AuthError::Store(other)),
        }
    }
}

fn guard(result: AdminGuard) -> Result<(), AdminError> {
    match result {
        AdminGuard::Done => Ok(()),
        AdminGuard::LastAdmin => Err(AdminError::LastAdmin),
        AdminGuard::NotFound => Err(AdminError::NotFound),
    }
}

/// The capability must be for `scope` on `resource`.
fn expect(granted: &Granted, scope: Scope, resource: Resource) -> Result<(), AdminError> {
    let scope_ok = granted.scope() == scope || granted.scope() == Scope::Admin;
    if scope_ok && granted.resource() == resource {
        Ok(())
    } else {
        Err(AdminError::WrongCapability)
    }
}

impl Services {
    /// Changes the signed-in user's password (needs the current one) and
    /// ends every other session of theirs.
    pub async fn change_password(
        &self,
        session: &ActiveSession,
        current: &str,
        new: &str,
    ) -> Result<(), PasswordChangeError> {
        let user = &session.user;
        if !self
            .hasher
            .verify(Some(user.password_hash.as_str()), current)
            .await?
        {
            return Err(PasswordChangeError::WrongCurrent);
        }
        let password = self
            .settings
            .password_policy
            .check(new, user.username.as_str())?;
        let hash = self.hasher.hash(&password, self.rng.as_ref()).await?;
        self.store
            .set_password_hash(user.id, &hash)
            .await
            .map_err(AuthError::from)?;
        self.store
            .delete_other_sessions(user.id, &session.token.hash())
            .await
            .map_err(AuthError::from)?;
        Ok(())
    }

    /// Whether `role` names a built-in role or an existing custom one.
    pub async fn role_exists(&self, role: &RoleName) -> Result<bool, AuthError> {
        Ok(role.builtin().is_some() || self.store.get_role(role).await?.is_some())
    }

    /// Creates a user (admin pages, CLI through [`Self::create_user_unchecked`]).
    pub async fn admin_create_user(
        &self,
        granted: &Granted,
        username: &Username,
        password: &str,
        role: &RoleName,
    ) -> Result<UserId, AdminError> {
        expect(granted, Scope::UsersEdit, Resource::Global)?;
        self.create_user_unchecked(username, password, role).await
    }

    /// Creates a user without an authorization check: only for the
    /// break-glass CLI, which runs with the store owner's rights.
    pub async fn create_user_unchecked(
        &self,
        username: &Username,
        password: &str,
        role: &RoleName,
    ) -> Result<UserId, AdminError> {
        if !self.role_exists(role).await? {
            return Err(AdminError::UnknownRole);
        }
        let password = self
            .settings
            .password_policy
            .check(password, username.as_str())?;
        let hash = self.hasher.hash(&password, self.rng.as_ref()).await?;
        Ok(self
            .store
            .create_user(&crate::store::NewUser {
                username,
                password_hash: &hash,
                role,
                created_at: self.clock.now(),
            })
            .await?)
    }

    pub async fn admin_set_role(
        &self,
        granted: &Granted,
        user: UserId,
        role: &RoleName,
    ) -> Result<(), AdminError> {
        expect(granted, Scope::UsersEdit, Resource::User(user))?;
        if !self.role_exists(role).await? {
            return Err(AdminError::UnknownRole);
        }
        guard(self.store.set_user_role(user, role).await?)?;
        // A privilege change starts over: the user signs in again.
        self.store.delete_user_sessions(user).await?;
        Ok(())
    }

    /// Deactivating ends the user's sessions at once (same transaction).
    pub async fn admin_set_active(
        &self,
        granted: &Granted,
        user: UserId,
        active: bool,
    ) -> Result<(), AdminError> {
        expect(granted, Scope::UsersEdit, Resource::User(user))?;
        guard(self.store.set_user_active(user, active).await?)
    }

    pub async fn admin_delete_user(
        &self,
        granted: &Granted,
        user: UserId,
    ) -> Result<(), AdminError> {
        expect(granted, Scope::UsersEdit, Resource::User(user))?;
        guard(self.store.delete_user(user).await?)
    }

    /// Sets a new password for another user and ends their sessions.
    pub async fn admin_reset_password(
        &self,
        granted: &Granted,
        user: UserId,
        new: &str,
    ) -> Result<(), AdminError> {
        expect(granted, Scope::UsersEdit, Resource::User(user))?;
        let record = self
            .store
            .get_user(user)
            .await?
            .ok_or(AdminError::NotFound)?;
        let password = self
            .settings
            .password_policy
            .check(new, record.username.as_str())?;
        let hash = self.hasher.hash(&password, self.rng.as_ref()).await?;
        self.store.set_password_hash(user, &hash).await?;
        self.store.delete_user_sessions(user).await?;
        Ok(())
    }

    pub async fn admin_create_role(
        &self,
        granted: &Granted,
        name: &RoleName,
        scopes: ScopeSet,
    ) -> Result<(), AdminError> {
        expect(granted, Scope::Admin, Resource::Global)?;
        if name.builtin().is_some() {
            return Err(AdminError::BuiltinRole);
        }
        self.store
            .create_role(name, scopes, self.clock.now())
            .await?;
        Ok(())
    }

    pub async fn admin_delete_role(
        &self,
        granted: &Granted,
        name: &RoleName,
    ) -> Result<(), AdminError> {
        expect(granted, Scope::Admin, Resource::Global)?;
        if name.builtin().is_some() {
            return Err(AdminError::BuiltinRole);
        }
        if self.store.delete_role(name).await? {
            Ok(())
        } else {
            Err(AdminError::NotFound)
        }
    }

    /// Break-glass (CLI): remove a user's 2FA.
    pub async fn reset_2fa_unchecked(&self, user: UserId) -> Result<bool, AuthError> {
        let done = self.store.disable_totp(user).await?;
        self.store.delete_user_sessions(user).await?;
        Ok(done)
    }

    /// Scopes of a built-in role, for pages that list them.
    pub fn builtin_roles() -> [(Role, ScopeSet); 4] {
        Role::ALL.map(|r| (r, r.scopes()))
    }
}
