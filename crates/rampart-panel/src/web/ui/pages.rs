//! Page templates and the one function that turns them into responses.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::assets;

/// Marks a response whose body is a page we rendered on purpose, so the
/// error-pages layer leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct Rendered;

/// Renders `page` with `status`. If rendering fails (it cannot for these
/// templates, but it is a `Result`), the client gets a bare 500 page.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => {
            let mut res = (status, html).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            res.extensions_mut().insert(Rendered);
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            let mut res = (
                StatusCode::INTERNAL_SERVER_ERROR,
                "500 Internal Server Error",
            )
                .into_response();
            res.extensions_mut().insert(Rendered);
            res
        }
    }
}

/// Version string of the static assets, for cache busting.
fn v() -> &'static str {
    assets::version()
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
    pub setup_pending: bool,
}

impl LoginPage<'_> {
    fn v(&self) -> &'static str {
        v()
    }
}

#[derive(Template)]
#[template(path = "setup.html")]
pub struct SetupPage<'a> {
    pub csrf: &'a str,
    pub token: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
}

impl SetupPage<'_> {
    fn v(&self) -> &'static str {
        v()
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage<'a> {
    pub csrf: &'a str,
    pub username: &'a str,
    pub role: &'a str,
}

impl DashboardPage<'_> {
    fn v(&self) -> &'static str {
        v()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: &'static str,
    pub message: &'static str,
    pub request_id: String,
}

impl ErrorPage {
    fn v(&self) -> &'static str {
        v()
    }

    pub fn for_status(status: StatusCode, request_id: String) -> ErrorPage {
        let (title, message) = match status.as_u16() {
            400 | 411 | 413 | 414 | 415 | 422 | 431 => (
                "Bad request",
                "The request could not be understood. Check what you sent and try again.",
            ),
            401 => ("Sign-in required", "You need to sign in to see this page."),
            403 => (
                "Forbidden",
                "This request was refused. If you followed a link or an old form, go back, reload the page and try again.",
            ),
            404 => ("Page not found", "There is nothing here."),
            405 => (
                "Method not allowed",
                "This page does not accept that kind of request.",
            ),
            429 => ("Too many requests", "Slow down and try again in a moment."),
            503 => (
                "Service unavailable",
                "Rampart is not ready right now. Try again shortly.",
            ),
            s if s >= 500 => (
                "Something went wrong",
                "An internal error occurred. It has been logged; quote the request id to your administrator.",
            ),
            _ => ("Request failed", "The request could not be completed."),
        };
        ErrorPage {
            status: status.as_u16(),
            title,
            message,
            request_id,
        }
    }
}

/// A short page with a message (e.g. an expired setup link).
#[derive(Template)]
#[template(path = "notice.html")]
pub struct NoticePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

impl NoticePage<'_> {
    fn v(&self) -> &'static str {
        v()
    }
}
