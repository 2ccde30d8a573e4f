//! Server-rendered pages (askama templates in `templates/`, one CSS and one
//! JS file in `assets/`).

pub mod assets;
pub mod dashboard;
pub mod login;
pub mod pages;
pub mod setup;
