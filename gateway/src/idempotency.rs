//! `Idempotency-Key` on POSTs: a client that retries a request (a timeout, a dropped
//! connection) with the same key gets the first response again instead of a second
//! conversation, agent or article.
//!
//! - The same key and the same request (path and body) replays the first response, with
//!   `Idempotency-Replayed: true`, for [`KEEP_FOR`].
//! - The same key with another request is a 422 (`idempotency_key_reused`).
//! - A key whose first request is still running is a 409 (`request_in_progress`); a claim that
//!   was never completed (a process that died mid-request) lapses after [`IN_FLIGHT_FOR`].
//! - A 5xx response is not kept, so the retry runs again.
//!
//! Keys are scoped to the caller: the bearer token (by hash) or, without one, the client
//! address, so one caller can never replay another's response (a customer token, say).
//! The claim, completion and release are store steps, so every process of a shop agrees.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::body::{to_bytes, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a completed response is replayed.
pub const KEEP_FOR: Duration = Duration::hours(24);
/// How long an unfinished claim blocks the key.
pub const IN_FLIGHT_FOR: Duration = Duration::seconds(60);
/// The longest key accepted.
pub const MAX_KEY_CHARS: usize = 255;
/// The header a replayed response carries.
pub const REPLAYED: &str = "idempotency-replayed";

/// A completed request as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// SHA-256 of the request's path, query and body.
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
}

/// What a claim on a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key was free (or lapsed): this request runs.
    Claimed,
    /// Another request with this key is running; its fingerprint.
    InFlight { fingerprint: String },
    /// The key's request completed.
    Done(StoredResponse),
}

/// One stored key: a running claim or a completed response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Record {
    InFlight { fingerprint: String },
    Done(StoredResponse),
}

impl Record {
    pub fn into_claim(self) -> Claim {
        match self {
            Record::InFlight { fingerprint } => Claim::InFlight { fingerprint },
            Record::Done(response) => Claim::Done(response),
        }
    }
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

fn error(req: ServiceRequest, error: ApiError) -> ServiceResponse<BoxBody> {
    req.error_response(error)
}

/// The middleware (on the `/v1` scope): acts on POSTs that carry the header.
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_owned));
    let (Method::POST, Some(key)) = (req.method().clone(), key) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let key = match key {
        Ok(key) if !key.trim().is_empty() && key.chars().count() <= MAX_KEY_CHARS => key,
        _ => {
            let message =
                format!("Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible characters");
            return Ok(error(req, ApiError::Invalid(message)));
        }
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let body = req.extract::<web::Bytes>().await?;
    let caller = match req.headers().get(header::AUTHORIZATION) {
        Some(token) => sha256_hex(&[b"token", token.as_bytes()]),
        None => {
            let address = req
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            sha256_hex(&[b"address", address.as_bytes()])
        }
    };
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let store_key = sha256_hex(&[caller.as_bytes(), path.as_bytes(), key.as_bytes()]);
    let fingerprint = sha256_hex(&[path.as_bytes(), query.as_bytes(), &body]);

    let claim = state
        .store
        .claim_idempotency_key(&store_key, &fingerprint, IN_FLIGHT_FOR)
        .await
        .map_err(ApiError::from);
    match claim {
        Err(e) => return Ok(error(req, e)),
        Ok(Claim::Done(stored)) if stored.fingerprint == fingerprint => {
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            let response = HttpResponse::build(status)
                .content_type("application/json")
                .insert_header((REPLAYED, "true"))
                .body(stored.body);
            return Ok(req.into_response(response));
        }
        Ok(Claim::Done(_)) => {
            return Ok(error(
                req,
                ApiError::unprocessable(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for another request",
                ),
            ))
        }
        Ok(Claim::InFlight { fingerprint: other }) => {
            let e = if other == fingerprint {
                ApiError::conflict(
                    "request_in_progress",
                    "a request with this Idempotency-Key is still running; retry later",
                )
            } else {
                ApiError::unprocessable(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for another request",
                )
            };
            return Ok(error(req, e));
        }
        Ok(Claim::Claimed) => {}
    }

    let (_, mut payload) = actix_http::h1::Payload::create(true);
    payload.unread_data(body);
    req.set_payload(payload.into());
    let response = match next.call(req).await {
        Ok(response) => response,
        Err(e) => {
            release(&state, &store_key).await;
            return Err(e);
        }
    };
    let status = response.status();
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = match to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            release(&state, &store_key).await;
            return Ok(ServiceResponse::new(
                request,
                HttpResponse::InternalServerError().finish(),
            ));
        }
    };
    if status.is_server_error() {
        release(&state, &store_key).await;
    } else {
        let stored = StoredResponse {
            fingerprint,
            status: status.as_u16(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        if let Err(e) = state
            .store
            .complete_idempotency_key(&store_key, &stored, KEEP_FOR)
            .await
        {
            // The request itself succeeded; a retry will find the claim lapsed and run again.
            tracing::warn!(error = %e, "an idempotent response could not be kept");
        }
    }
    Ok(ServiceResponse::new(
        request,
        head.set_body(bytes).map_into_boxed_body(),
    ))
}

async fn release(state: &AppState, store_key: &str) {
    if let Err(e) = state.store.release_idempotency_key(store_key).await {
        tracing::warn!(error = %e, "an idempotency key could not be released; it lapses");
    }
}
