//! Layers every request passes (see `web::router` for their order).

pub mod audit;
pub mod error_pages;
pub mod origin_check;
pub mod request_context;
pub mod security_headers;
