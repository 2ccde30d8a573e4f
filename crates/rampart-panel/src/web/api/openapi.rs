//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! served at `/api/v1/openapi.json`. A test compares its paths with the
//! router's `/api/v1` and `/oauth` routes.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::handlers;
use super::types;
use crate::web::oauth;

#[derive(OpenApi)]
#[openapi(
    info(title = "Rampart API", description = "Rampart's REST API. Authenticate with an OAuth2 client-credentials token (`POST /oauth/token`) sent as `Authorization: Bearer …`, or from a signed-in browser session with the `X-CSRF-Token` header on changes."),
    paths(
        handlers::me,
        handlers::users_list, handlers::users_create, handlers::user_get, handlers::user_patch,
        handlers::user_delete, handlers::user_password,
        handlers::roles_list, handlers::roles_create, handlers::roles_delete,
        handlers::sessions_list, handlers::session_delete,
        handlers::clients_list, handlers::clients_create, handlers::client_get, handlers::client_revoke,
        handlers::client_regenerate,
        handlers::audit_list,
        super::nodes::list, super::nodes::create, super::nodes::get, super::nodes::revoke, super::nodes::describe, super::nodes::rotate_credential,
        super::servers::list, super::servers::create, super::servers::get, super::servers::delete,
        super::servers::patch,
        super::servers::power, super::servers::command, super::servers::reinstall,
        super::servers::suspend, super::servers::unsuspend, super::servers::stats,
        super::servers::sub_users, super::servers::grant, super::servers::revoke_grant,
        super::console::console, super::files::list,
        super::file_content::read, super::file_content::write, super::files::search,
        super::files::mkdir, super::files::rename, super::files::copy, super::files::delete,
        super::files::chmod, super::files::extract, super::files::archive,
        super::files::pull, super::ssh_keys::list, super::ssh_keys::add, super::ssh_keys::delete,
        super::templates::list, super::templates::export, super::templates::import,
        super::plans::list, super::plans::put, super::plans::delete,
        oauth::token, oauth::revoke, openapi_json,
    ),
    components(schemas(
        types::ErrorBody, types::ErrorDetail, types::Me, types::User, types::UserPage, types::NewUser,
        types::UserPatch, types::PasswordReset, types::Role, types::RoleList, types::NewRole,
        types::Session, types::SessionList, types::ApiClient, types::ApiClientList, types::NewApiClient,
        types::ClientCredentials, types::AuditEntry, types::AuditPage,
        oauth::TokenResponse, oauth::OAuthError,
        super::ssh_keys::SshKey, super::ssh_keys::SshKeyList, super::ssh_keys::NewSshKey,
        super::nodes::Node, super::nodes::NodeList, super::nodes::NewNode, super::nodes::NodeEnrollment,
        super::servers::Server, super::servers::ServerList, super::servers::NewServer, super::servers::ServerPatch,
        super::servers::Limits, super::servers::SftpInfo, super::servers::Power, super::servers::Accepted,
        super::servers::ConsoleCommand, super::servers::StatsSample, super::servers::StatsHistory,
        super::servers::SubUser, super::servers::SubUserList,
        super::templates::TemplateSummary, super::templates::TemplateList,
        super::plans::Plan, super::plans::PlanList, super::files::FileItem, super::files::FileList,
        super::files::PathBody, super::files::FromTo, super::files::ChmodBody,
        super::files::ExtractBody, super::files::ArchiveBody,
        crate::servers::templates::TemplateDoc, crate::servers::templates::VariableDoc,
        crate::servers::templates::RuleDoc, crate::servers::templates::StopDoc,
        crate::servers::templates::InstallDoc, crate::servers::templates::RegistryDoc, crate::servers::templates::ConfigFileDoc,
    )),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("rampart_session"))),
        );
    }
}

/// The document itself.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
