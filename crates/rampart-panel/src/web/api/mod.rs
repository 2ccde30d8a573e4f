//! The REST API under `/api/v1` (SPEC R30): JSON only, errors as
//! `{"error":{"code","message"}}`, cursor pagination, OpenAPI 3.1.

pub mod caller;
pub mod console;
pub mod error;
pub mod file_content;
pub mod files;
pub mod handlers;
pub mod json;
pub mod nodes;
pub mod openapi;
pub mod plans;
pub mod servers;
pub mod ssh_keys;
pub mod templates;
pub mod types;

pub use caller::ApiCaller;
pub use error::ApiError;
