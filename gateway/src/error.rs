//! The one place where failures become HTTP responses.
//!
//! Every error leaves as `{"error": {"code", "message"}}` with a 4xx or 5xx status; the code
//! is a stable snake_case string integrators can match on. A 5xx logs its whole cause chain
//! and tells the client nothing internal.

use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A request that conflicts with the resource's current state.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Invalid(String),
    /// A well-formed request that cannot be processed, with its own code.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("too many requests; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    /// The store cannot be reached now (Redis down or paused); the client should retry.
    #[error("the service is temporarily unavailable; retry in {retry_after} s")]
    Unavailable { retry_after: u64 },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { code, .. } => code,
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Invalid(_) => "invalid_field",
            ApiError::Unprocessable { code, .. } => code,
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Redis(r)
                if r.is_io_error()
                    || r.is_timeout()
                    || r.is_connection_dropped()
                    || r.is_connection_refusal() =>
            {
                tracing::warn!(error = %r, "store unavailable");
                ApiError::Unavailable { retry_after: 1 }
            }
            _ => ApiError::Internal(e.into()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) | ApiError::Unprocessable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = ?cause, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        if let ApiError::RateLimited { retry_after } | ApiError::Unavailable { retry_after } = self
        {
            response.insert_header(("Retry-After", retry_after.to_string()));
        }
        if let ApiError::Unauthorized(_) = self {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(json!({"error": {"code": self.code(), "message": self.to_string()}}))
    }
}

/// Maps actix's JSON body errors: too large → 413, a field of the wrong shape → 422, text
/// that is not JSON → 400.
pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let api = match &err {
        E::OverflowKnownLength { limit, .. } | E::Overflow { limit } => {
            ApiError::PayloadTooLarge { limit: *limit }
        }
        E::ContentType => ApiError::BadRequest("expected Content-Type: application/json".into()),
        E::Deserialize(e) if e.is_data() => ApiError::Invalid(e.to_string()),
        E::Deserialize(e) => ApiError::BadRequest(format!("body is not valid JSON: {e}")),
        other => ApiError::BadRequest(other.to_string()),
    };
    api.into()
}

/// Query-string errors are invalid fields.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::Invalid(err.to_string()).into()
}

/// Path errors are invalid fields too.
pub fn path_error(
    err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::Invalid(err.to_string()).into()
}

/// An error with its causes, joined by ": " ("connection refused", not just "error sending
/// request"), for logs and answers that can only carry text.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
