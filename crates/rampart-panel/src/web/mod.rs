//! The HTTP face of the panel (axum).
//!
//! Layers, outermost first: security headers → request id, span and access
//! log → generic error pages → CSRF Origin check → routes. Every response,
//! errors included, passes the first three.

pub mod client;
pub mod cookies;
pub mod csrf;
mod error;
mod health;
pub mod middleware;
pub mod session;
pub mod ui;

pub use error::WebError;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::Services;

/// Largest request body the UI accepts (forms are small).
const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// Builds the panel's router with every layer in place.
pub fn router(services: Arc<Services>) -> Router {
    Router::new()
        .route("/", get(ui::dashboard::show))
        .route("/login", get(ui::login::show).post(ui::login::submit))
        .route("/logout", post(ui::login::logout))
        .route("/setup", get(ui::setup::show).post(ui::setup::submit))
        .route("/static/{file}", get(ui::assets::serve))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            services.clone(),
            middleware::origin_check::origin_check,
        ))
        .layer(axum::middleware::from_fn(
            middleware::error_pages::error_pages,
        ))
        .layer(axum::middleware::from_fn_with_state(
            services.clone(),
            middleware::request_context::request_context,
        ))
        .layer(axum::middleware::from_fn_with_state(
            services.clone(),
            middleware::security_headers::security_headers,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .with_state(services)
}

/// Serves the panel on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    services: Arc<Services>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(services).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
