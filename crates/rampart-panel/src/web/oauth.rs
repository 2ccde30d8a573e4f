//! OAuth 2.0 endpoints: `POST /oauth/token` (client credentials, RFC 6749
//! §4.4) and `POST /oauth/revoke` (RFC 7009). Client authentication by HTTP
//! Basic or `client_secret_post`; errors as RFC 6749 §5.2 JSON.

use std::sync::Arc;

use axum::Form;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Services;
use crate::audit::{AuditNote, EventType};
use crate::auth::TokenError;
use crate::store::ApiClientRecord;
use crate::web::client::Client;

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    pub expires_in: i64,
    /// Space-separated scopes granted.
    pub scope: String,
}

/// RFC 6749 §5.2 error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    pub error: String,
    pub error_description: String,
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    token: Option<String>,
    #[allow(dead_code)] // accepted per RFC 7009; every token kind is looked up the same way
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Client id and secret if any were sent, and whether HTTP Basic carried them.
type Credentials = (Option<(String, String)>, bool);

fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

fn oauth_error(status: StatusCode, error: &str, description: &str, basic: bool) -> Response {
    let mut res = (
        status,
        Json(OAuthError {
            error: error.to_owned(),
            error_description: description.to_owned(),
        }),
    )
        .into_response();
    if basic && status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"rampart\", charset=\"UTF-8\""),
        );
    }
    no_store(res)
}

/// Percent-decoding of `application/x-www-form-urlencoded` values inside
/// the Basic credentials (RFC 6749 §2.3.1).
fn form_decode(s: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
        .ok()
        .and_then(|v| v.into_iter().next())
        .map(|(_, v)| v)
}

/// Client credentials from Basic or the body; `Err` for both at once or a
/// malformed header. The bool says whether Basic was used.
fn credentials(
    headers: &HeaderMap,
    id: &Option<String>,
    secret: &Option<String>,
) -> Result<Credentials, &'static str> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""))
        .map(|v| v.strip_prefix("Basic ").unwrap_or(""));
    match (basic, id, secret) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err("use one client authentication method")
        }
        (Some(encoded), None, None) => {
            let decoded = base64_decode(encoded.trim()).ok_or("malformed Basic credentials")?;
            let text = String::from_utf8(decoded).map_err(|_| "malformed Basic credentials")?;
            let (user, pass) = text.split_once(':').ok_or("malformed Basic credentials")?;
            let user = form_decode(user).ok_or("malformed Basic credentials")?;
            let pass = form_decode(pass).ok_or("malformed Basic credentials")?;
            Ok((Some((user, pass)), true))
        }
        (None, Some(i), Some(s)) => Ok((Some((i.clone(), s.clone())), false)),
        (None, None, None) => Ok((None, false)),
        _ => Err("client_id and client_secret go together"),
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    const ALPHA: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = ALPHA.iter().position(|&a| a == c)? as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((buf >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// Authenticates the client or answers `invalid_client` (failures are
/// limited per IP like logins).
async fn client_of(
    services: &Services,
    headers: &HeaderMap,
    ip: Option<&str>,
    id: &Option<String>,
    secret: &Option<String>,
) -> Result<ApiClientRecord, Response> {
    let (creds, basic) = credentials(headers, id, secret)
        .map_err(|d| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", d, false))?;
    let Some((id, secret)) = creds else {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication required",
            true,
        ));
    };
    let limits = &services.settings.login_limits;
    let key = format!("oauth-ip:{}", ip.unwrap_or("unknown"));
    if let Err(retry) = services
        .limiter
        .check(&key, limits.per_ip, services.clock.now())
    {
        let mut res = oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "slow_down",
            "too many failed client authentications",
            false,
        );
        if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Err(res);
    }
    match services.authenticate_client(&id, &secret, ip).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => {
            services
                .limiter
                .record_failure(&key, limits.per_ip, services.clock.now());
            let status = if basic {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_REQUEST
            };
            let mut res = oauth_error(
                status,
                "invalid_client",
                "client authentication failed",
                basic,
            );
            res.extensions_mut()
                .insert(AuditNote::new(EventType::AuthFailed, "oauth.client_auth"));
            Err(res)
        }
        Err(e) => {
            tracing::error!(error = %crate::web::error_chain(&e), "client authentication failed internally");
            Err(oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
                false,
            ))
        }
    }
}

#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "grant_type=client_credentials[&scope=…]; client auth by HTTP Basic or client_id/client_secret"),
    responses((status = 200, body = TokenResponse), (status = 400, body = OAuthError), (status = 401, body = OAuthError)))]
pub async fn token(
    State(services): State<Arc<Services>>,
    Client(client_info): Client,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let client = match client_of(
        &services,
        &headers,
        client_info.ip.as_deref(),
        &form.client_id,
        &form.client_secret,
    )
    .await
    {
        Ok(c) => c,
        Err(res) => return res,
    };
    match form.grant_type.as_deref() {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
                false,
            );
        }
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
                false,
            );
        }
    }
    match services
        .issue_api_token(&client, form.scope.as_deref())
        .await
    {
        Ok(Ok(issued)) => {
            let scope = issued
                .scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let mut res = no_store(
                Json(TokenResponse {
                    access_token: issued.token.expose().to_owned(),
                    token_type: "Bearer".into(),
                    expires_in: issued.expires_in,
                    scope,
                })
                .into_response(),
            );
            res.extensions_mut().insert(
                AuditNote::new(EventType::Auth, "oauth.token")
                    .actor(format!(
                        "client:{}:user:{}:{}",
                        client.id, client.user_id, client.owner
                    ))
                    .target(format!("client:{}", client.id)),
            );
            res
        }
        Ok(Err(TokenError::InvalidScope)) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "the requested scope is unknown, empty or beyond the client's",
            false,
        ),
        Ok(Err(TokenError::InvalidClient)) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
            true,
        ),
        Err(e) => {
            tracing::error!(error = %crate::web::error_chain(&e), "token issuance failed");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
                false,
            )
        }
    }
}

#[utoipa::path(post, path = "/oauth/revoke", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "token=…; client auth as for /oauth/token"),
    responses((status = 200, description = "revoked, or unknown (RFC 7009 §2.2)"), (status = 401, body = OAuthError)))]
pub async fn revoke(
    State(services): State<Arc<Services>>,
    Client(client_info): Client,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Response {
    let client = match client_of(
        &services,
        &headers,
        client_info.ip.as_deref(),
        &form.client_id,
        &form.client_secret,
    )
    .await
    {
        Ok(c) => c,
        Err(res) => return res,
    };
    let Some(token) = form.token.as_deref() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
            false,
        );
    };
    if let Err(e) = services.revoke_api_token(&client, token).await {
        tracing::error!(error = %crate::web::error_chain(&e), "token revocation failed");
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
            false,
        );
    }
    let mut res = no_store(StatusCode::OK.into_response());
    res.extensions_mut().insert(
        AuditNote::new(EventType::Security, "oauth.revoke").target(format!("client:{}", client.id)),
    );
    res
}
