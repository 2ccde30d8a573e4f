//! The panel's service object: store, injected clock and randomness, the
//! password hasher and settings. Web handlers get it from the router state.

use std::sync::Arc;

use rampart_core::{Clock, Random};

use crate::auth::{
    ApiRateLimiter, AuthError, InMemoryLimiter, KeyedLimiter, PasswordHasher, UsageLog,
};
use crate::settings::PanelSettings;
use crate::store::Store;

pub struct Services {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Random>,
    pub hasher: PasswordHasher,
    pub limiter: Arc<dyn KeyedLimiter>,
    pub api_rate: ApiRateLimiter,
    pub usage: UsageLog,
    pub settings: PanelSettings,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("store", &self.store)
            .field("settings", &self.settings)
            .finish()
    }
}

impl Services {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Random>,
        settings: PanelSettings,
    ) -> Result<Services, AuthError> {
        let hasher = PasswordHasher::new(settings.hash_concurrency, rng.as_ref())?;
        Ok(Services {
            store,
            clock,
            rng,
            hasher,
            limiter: Arc::new(InMemoryLimiter::default()),
            api_rate: ApiRateLimiter::default(),
            usage: UsageLog::default(),
            settings,
        })
    }
}
