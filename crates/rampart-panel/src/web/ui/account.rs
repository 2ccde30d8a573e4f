//! The signed-in user's own account: 2FA, password, sessions.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::chrome;
use super::pages::{
    Flash, RecoveryCodesPage, SecurityPage, SessionRow, SessionsPage, TotpState, render,
};
use crate::Services;
use crate::audit::{AuditNote, EventType};
use crate::auth::{ActiveSession, PasswordChangeError};
use crate::web::session::{Enrolling, SignedIn};
use crate::web::{WebError, csrf};

fn qr_svg(uri: &str) -> Result<String, WebError> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| WebError::Internal(Box::new(e)))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

async fn security_page(
    services: &Services,
    session: &ActiveSession,
    status: StatusCode,
    flash: Flash,
) -> Result<Response, WebError> {
    let user = &session.user;
    let must_enroll = services.must_enroll_2fa(user);
    let principal = if must_enroll {
        None
    } else {
        Some(services.principal_of(user).await?)
    };
    let totp = if user.totp.is_some() {
        TotpState::Enabled {
            recovery_left: services.store.recovery_codes_left(user.id).await?,
        }
    } else {
        let enrollment = services.begin_totp(user).await?;
        TotpState::Enrolling {
            secret: enrollment.secret.to_base32(),
            qr_svg: qr_svg(&enrollment.uri)?,
            uri: enrollment.uri,
        }
    };
    Ok(render(
        status,
        &SecurityPage {
            chrome: chrome(session, principal.as_ref(), "account"),
            totp,
            must_enroll,
            flash,
        },
    ))
}

pub async fn security(
    State(services): State<Arc<Services>>,
    Enrolling(session): Enrolling,
) -> Result<Response, WebError> {
    security_page(&services, &session, StatusCode::OK, Flash::default()).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn totp_confirm(
    State(services): State<Arc<Services>>,
    Enrolling(session): Enrolling,
    Form(form): Form<CodeForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    let Some(codes) = services.confirm_totp(&session.user, &form.code).await? else {
        let mut res = security_page(
            &services,
            &session,
            StatusCode::BAD_REQUEST,
            Flash::error(
                "That code is not valid. Check the time on your device and try the next code.",
            ),
        )
        .await?;
        res.extensions_mut()
            .insert(AuditNote::new(EventType::AuthFailed, "2fa.enable"));
        return Ok(res);
    };
    // 2FA changed: this session continues, every other one ends.
    services
        .store
        .delete_other_sessions(session.user.id, &session.token.hash())
        .await?;
    let principal = services.principal_of(&session.user).await?;
    let mut res = render(
        StatusCode::OK,
        &RecoveryCodesPage {
            chrome: chrome(&session, Some(&principal), "account"),
            codes: codes.iter().map(|c| c.expose().to_owned()).collect(),
        },
    );
    res.extensions_mut().insert(
        AuditNote::new(EventType::Security, "2fa.enable")
            .target(format!("user:{}", session.user.id)),
    );
    Ok(res)
}

#[derive(Deserialize)]
pub struct DisableForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn totp_disable(
    State(services): State<Arc<Services>>,
    SignedIn { session, .. }: SignedIn,
    Form(form): Form<DisableForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    let target = format!("user:{}", session.user.id);
    if !services
        .disable_totp(&session.user, &form.password, &form.code)
        .await?
    {
        let mut res = security_page(
            &services,
            &session,
            StatusCode::BAD_REQUEST,
            Flash::error("Wrong password or code: two-factor authentication stays on."),
        )
        .await?;
        res.extensions_mut()
            .insert(AuditNote::new(EventType::AuthFailed, "2fa.disable").target(target));
        return Ok(res);
    }
    // 2FA changed: this session continues, every other one ends.
    services
        .store
        .delete_other_sessions(session.user.id, &session.token.hash())
        .await?;
    let mut res = Redirect::to("/account/security").into_response();
    res.extensions_mut()
        .insert(AuditNote::new(EventType::Security, "2fa.disable").target(target));
    Ok(res)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    password: String,
    password_confirm: Option<String>,
    #[serde(default)]
    csrf_token: String,
}

pub async fn change_password(
    State(services): State<Arc<Services>>,
    SignedIn { session, .. }: SignedIn,
    Form(form): Form<PasswordForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    let target = format!("user:{}", session.user.id);
    let refuse = |msg: String| async {
        let mut res = security_page(
            &services,
            &session,
            StatusCode::BAD_REQUEST,
            Flash::error(msg),
        )
        .await?;
        res.extensions_mut()
            .insert(AuditNote::new(EventType::Audit, "password.change").target(target.clone()));
        Ok::<_, WebError>(res)
    };
    if form
        .password_confirm
        .as_deref()
        .is_some_and(|c| c != form.password)
    {
        return refuse("The two new passwords differ.".into()).await;
    }
    match services
        .change_password(&session, &form.current_password, &form.password)
        .await
    {
        Ok(()) => {
            let mut res = security_page(
                &services,
                &session,
                StatusCode::OK,
                Flash::notice("Password changed. Your other sessions were signed out."),
            )
            .await?;
            res.extensions_mut().insert(
                AuditNote::new(EventType::Security, "password.change").target(target.clone()),
            );
            Ok(res)
        }
        Err(PasswordChangeError::WrongCurrent) => {
            refuse("The current password is wrong.".into()).await
        }
        Err(PasswordChangeError::Policy(e)) => refuse(e.to_string()).await,
        Err(PasswordChangeError::Auth(e)) => Err(e.into()),
    }
}

async fn sessions_page(
    services: &Services,
    signed_in: &SignedIn,
    flash: Flash,
) -> Result<Response, WebError> {
    let session = &signed_in.session;
    let rows = services
        .store
        .list_user_sessions(session.user.id)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            current: s.public_id == session.public_id,
            public_id: s.public_id,
            created: s.created_at.to_utc_string(),
            last_seen: s.last_seen_at.to_utc_string(),
            ip: s.ip.unwrap_or_else(|| "unknown".into()),
            user_agent: s.user_agent.unwrap_or_default(),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &SessionsPage {
            chrome: chrome(session, Some(&signed_in.principal), "account"),
            sessions: rows,
            flash,
        },
    ))
}

pub async fn sessions(
    State(services): State<Arc<Services>>,
    signed_in: SignedIn,
) -> Result<Response, WebError> {
    sessions_page(&services, &signed_in, Flash::default()).await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

pub async fn revoke_one(
    State(services): State<Arc<Services>>,
    signed_in: SignedIn,
    Path(public_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&signed_in.session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    // Only the caller's own sessions can match: another user's id is unknown.
    if !services
        .store
        .delete_user_session(signed_in.session.user.id, &public_id)
        .await?
    {
        return Err(WebError::NotFound);
    }
    let mut res = Redirect::to("/account/sessions").into_response();
    res.extensions_mut().insert(
        AuditNote::new(EventType::Security, "session.revoke")
            .target(format!("user:{}", signed_in.session.user.id)),
    );
    Ok(res)
}

pub async fn revoke_others(
    State(services): State<Arc<Services>>,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    if !csrf::session_valid(&signed_in.session, &form.csrf_token) {
        return Err(WebError::Forbidden);
    }
    let n = services
        .store
        .delete_other_sessions(signed_in.session.user.id, &signed_in.session.token.hash())
        .await?;
    let mut res = sessions_page(
        &services,
        &signed_in,
        Flash::notice(format!("Signed out {n} other session(s).")),
    )
    .await?;
    res.extensions_mut().insert(
        AuditNote::new(EventType::Security, "session.revoke_others")
            .target(format!("user:{}", signed_in.session.user.id))
            .extra("count", &n),
    );
    Ok(res)
}
