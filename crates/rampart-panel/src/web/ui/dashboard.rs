//! The signed-in home page.

use axum::http::StatusCode;
use axum::response::Response;

use super::chrome;
use super::pages::{DashboardPage, render};
use crate::web::session::SignedIn;

pub async fn show(signed_in: SignedIn) -> Response {
    render(
        StatusCode::OK,
        &DashboardPage {
            chrome: chrome(&signed_in.session, Some(&signed_in.principal), "dashboard"),
        },
    )
}
