//! Servers (SPEC R50–R55): templates as data, the create/power/delete
//! services, the console hub fed by agents' events, and sub-user grants.

pub mod console;
mod service;
pub mod sftp;
pub mod templates;

pub use console::{ConsoleHub, ConsoleItem};
pub use service::{CreateRequest, DEFAULT_LIMITS, ServerError, spec_of, state_of};
pub use templates::TemplateDoc;

impl crate::Services {
    /// Inserts or refreshes the built-in templates (at every start).
    pub async fn seed_templates(&self) -> Result<(), crate::store::StoreError> {
        templates::seed_builtins(&self.store, self.clock.now()).await
    }
}
