//! API keys for integrators and automation (admins only): created with a role, shown once,
//! kept as a SHA-256 hash, listed without the secret, deleted to revoke.

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIn {
    name: String,
    role: ApiKeyRole,
}

/// `POST /v1/api-keys {"name", "role": "admin" | "supervisor" | "integrator"}` → 201 with the
/// key's record and the key itself (the only time it is shown).
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
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let items = state.store.list_api_keys().await?;
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": null})))
}

/// `DELETE /v1/api-keys/{id}`: the key stops working at once.
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
