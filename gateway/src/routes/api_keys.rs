//! API keys for integrators and automation (admins only): created with a role, shown once,
//! kept as a SHA-256 hash, listed without the secret, deleted to revoke.

use super::openapi as doc;
use crate::auth::{self, Principal};
use crate::domain::{ApiKey, ApiKeyRole, TokenOwner};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

/// The longest key name.
const MAX_NAME_CHARS: usize = 100;
/// How many keys a shop may hold.
const MAX_KEYS: usize = 100;

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = CreateApiKey)]
#[serde(deny_unknown_fields)]
pub struct CreateIn {
    /// 1 to 100 characters.
    name: String,
    role: ApiKeyRole,
}

/// `POST /v1/api-keys {"name", "role": "admin" | "supervisor" | "integrator"}` → 201 with the
/// key's record and the key itself (the only time it is shown).
#[utoipa::path(
    post,
    path = "/v1/api-keys",
    operation_id = "api_keys_create",
    tag = "api keys",
    description = "Admins create a key with a role; the key is shown only here and kept as a hash. 409 `too_many_keys` past 100. Honours `Idempotency-Key` (409 `request_in_progress`, 422 `idempotency_key_reused`).",
    params(
        doc::IdempotencyKey,
    ),
    request_body = CreateIn,
    responses(
        (status = 201, description = "The key's record and the key (shown once)", body = doc::ApiKeyCreated),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 409, description = "`too_many_keys` or `request_in_progress`", body = doc::ErrorResponse),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateIn>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let CreateIn { name, role } = body.into_inner();
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::Invalid(format!(
            "name must have 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if state.store.list_api_keys().await?.len() >= MAX_KEYS {
        return Err(ApiError::conflict(
            "too_many_keys",
            format!("a shop holds at most {MAX_KEYS} API keys; delete one first"),
        ));
    }
    let token = auth::new_token("key");
    let key = ApiKey {
        id: format!("key_{}", uuid::Uuid::new_v4().simple()),
        name,
        role,
        prefix: token.chars().take(12).collect(),
        created_at: state.now(),
    };
    state.store.put_api_key(&key).await?;
    state
        .store
        .put_token(
            &auth::hash_token(&token),
            &TokenOwner::ApiKey {
                key_id: key.id.clone(),
            },
        )
        .await?;
    tracing::info!(key_id = %key.id, role = ?key.role, "API key created");
    Ok(HttpResponse::Created().json(json!({"api_key": key, "key": token})))
}

/// `GET /v1/api-keys`: every key's record, never the secret.
#[utoipa::path(
    get,
    path = "/v1/api-keys",
    operation_id = "api_keys_list",
    tag = "api keys",
    description = "Admins only.",
    responses(
        (status = 200, description = "Every key's record", body = doc::Page<crate::domain::ApiKey>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let items = state.store.list_api_keys().await?;
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": null})))
}

/// `DELETE /v1/api-keys/{id}`: the key stops working at once.
#[utoipa::path(
    delete,
    path = "/v1/api-keys/{id}",
    operation_id = "api_keys_delete",
    tag = "api keys",
    description = "Admins only.",
    params(
        ("id" = String, Path, description = "The key's id (`key_...`)"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    if !state.store.delete_api_key(&id).await? {
        return Err(ApiError::NotFound("api key"));
    }
    tracing::info!(key_id = %id, "API key deleted");
    Ok(HttpResponse::NoContent().finish())
}
