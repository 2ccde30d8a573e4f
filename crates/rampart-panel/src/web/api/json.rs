//! `ApiJson<T>`: a JSON body that must be `application/json` (else 415) and
//! match `T` exactly (unknown fields are refused: no mass assignment).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE))
            }
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::bad_request(format!(
                "invalid body: {}",
                e.body_text()
            ))),
            Err(JsonRejection::JsonSyntaxError(_)) => {
                Err(ApiError::bad_request("invalid body: malformed JSON"))
            }
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::for_status(StatusCode::PAYLOAD_TOO_LARGE))
            }
            Err(_) => Err(ApiError::bad_request("invalid body")),
        }
    }
}
