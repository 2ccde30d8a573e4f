//! The panel's service object: store, injected clock and randomness, the
//! password hasher and settings. Web handlers get it from the router state.

use std::sync::Arc;

use rampart_core::{Clock, Random};

use crate::auth::TokenCache;
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
    pub token_cache: TokenCache,
    pub hub: crate::agents::AgentHub,
    pub transfers: Arc<crate::agents::Transfers>,
    pub consoles: crate::servers::ConsoleHub,
    pub console_slots: crate::web::api::console::ConsoleSlots,
    pub metrics: crate::metrics::Metrics,
    /// Request ids: a random per-process prefix and a counter (ids are
    /// correlation handles, not secrets; no syscall per request).
    request_ids: (String, std::sync::atomic::AtomicU32),
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
    /// A fresh request id: 16 hex digits, unique within this process.
    pub fn next_request_id(&self) -> String {
        let n = self
            .request_ids
            .1
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{}{n:08x}", self.request_ids.0)
    }

    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Random>,
        settings: PanelSettings,
    ) -> Result<Services, AuthError> {
        let hasher = PasswordHasher::new(settings.hash_concurrency, rng.as_ref())?;
        let mut id_prefix = [0u8; 4];
        rng.fill(&mut id_prefix);
        let prefix = hex::encode(id_prefix);
        Ok(Services {
            store,
            clock,
            rng,
            hasher,
            limiter: Arc::new(InMemoryLimiter::default()),
            api_rate: ApiRateLimiter::default(),
            usage: UsageLog::default(),
            token_cache: TokenCache::default(),
            hub: crate::agents::AgentHub::default(),
            transfers: Arc::default(),
            consoles: crate::servers::ConsoleHub::default(),
            console_slots: Default::default(),
            metrics: crate::metrics::Metrics::default(),
            request_ids: (prefix, std::sync::atomic::AtomicU32::new(0)),
            settings,
        })
    }
}
