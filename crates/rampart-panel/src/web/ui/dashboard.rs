//! The signed-in home page.

use axum::http::StatusCode;
use axum::response::Response;

use super::pages::{DashboardPage, render};
use crate::web::session::SignedIn;

pub async fn show(SignedIn(session): SignedIn) -> Response {
    render(
        StatusCode::OK,
        &DashboardPage {
            csrf: &session.csrf_token(),
            username: session.user.username.as_str(),
            role: session.user.role.as_str(),
        },
    )
}
