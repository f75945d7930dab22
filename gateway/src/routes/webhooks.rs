//! Webhooks (admins and integrator keys): register a URL for some events, list, delete, and
//! read each webhook's delivery log. See [`crate::webhooks`] for signing and retries.

use super::openapi as doc;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::webhooks::{self, Attempt, Webhook, EVENT_TYPES, MAX_WEBHOOKS};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

const MAX_URL_CHARS: usize = 2_000;
const MAX_DESCRIPTION_CHARS: usize = 200;
const MIN_SECRET_CHARS: usize = 16;
const MAX_SECRET_CHARS: usize = 200;

/// Admins and integrators wire systems together; agents and supervisors do not.
fn require_integrator(principal: &Principal) -> Result<(), ApiError> {
    match principal {
        Principal::Admin | Principal::Integrator { .. } => Ok(()),
        _ => Err(ApiError::Forbidden(
            "webhooks are for admins and integrator keys",
        )),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = CreateWebhook)]
#[serde(deny_unknown_fields)]
pub struct CreateIn {
    /// The target; loopback and private addresses are refused unless the gateway allows them.
    url: String,
    /// At least one of `conversation.created`, `conversation.handed_off`,
    /// `conversation.assigned`, `message.created`, `conversation.resolved`, `rating.created`.
    events: Vec<String>,
    /// Generated (`whsec_…`) when absent.
    secret: Option<String>,
    description: Option<String>,
}

/// `POST /v1/webhooks {"url", "events", "secret"?, "description"?}` → 201 with the webhook and
/// its secret (shown only here).
#[utoipa::path(
    post,
    path = "/v1/webhooks",
    operation_id = "webhooks_create",
    tag = "webhooks",
    description = "Admins and integrator keys register a URL for some events. Deliveries follow Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). 422 `invalid_field` or `invalid_url`; 409 `too_many_webhooks`. Honours `Idempotency-Key` (409 `request_in_progress`, 422 `idempotency_key_reused`).",
    params(
        doc::IdempotencyKey,
    ),
    request_body = CreateIn,
    responses(
        (status = 201, description = "The webhook and its secret (shown once)", body = doc::WebhookCreated),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 409, description = "`too_many_webhooks` or `request_in_progress`", body = doc::ErrorResponse),
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
    require_integrator(&principal)?;
    let CreateIn {
        url,
        events,
        secret,
        description,
    } = body.into_inner();
    let url = url.trim().to_owned();
    if url.is_empty() || url.chars().count() > MAX_URL_CHARS {
        return Err(ApiError::Invalid(format!(
            "url must have 1 to {MAX_URL_CHARS} characters"
        )));
    }
    if let Err(why) = webhooks::check_target(&url, state.settings.webhook_allow_private).await {
        return Err(ApiError::unprocessable("invalid_url", why));
    }
    if events.is_empty() {
        return Err(ApiError::Invalid(format!(
            "events must name at least one of {}",
            EVENT_TYPES.join(", ")
        )));
    }
    let mut wanted: Vec<String> = Vec::new();
    for event in events {
        if !EVENT_TYPES.contains(&event.as_str()) {
            return Err(ApiError::Invalid(format!(
                "unknown event {event:?}: use {}",
                EVENT_TYPES.join(", ")
            )));
        }
        if !wanted.contains(&event) {
            wanted.push(event);
        }
    }
    let secret = match secret {
        Some(secret) => {
            let chars = secret.chars().count();
            if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&chars) {
                return Err(ApiError::Invalid(format!(
                    "secret must have {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters"
                )));
            }
            secret
        }
        None => webhooks::new_secret(),
    };
    let description = description
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
    {
        return Err(ApiError::Invalid(format!(
            "description has at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    if state.store.list_webhooks().await?.len() >= MAX_WEBHOOKS {
        return Err(ApiError::conflict(
            "too_many_webhooks",
            format!("a shop holds at most {MAX_WEBHOOKS} webhooks; delete one first"),
        ));
    }
    let webhook = Webhook {
        id: format!("wh_{}", uuid::Uuid::new_v4().simple()),
        url,
        events: wanted,
        secret: secret.clone(),
        description,
        created_at: state.now(),
    };
    state.store.put_webhook(&webhook).await?;
    state.webhooks_changed();
    tracing::info!(webhook_id = %webhook.id, events = ?webhook.events, "webhook registered");
    Ok(HttpResponse::Created().json(json!({"webhook": webhook.view(), "secret": secret})))
}

/// `GET /v1/webhooks`: every webhook, without secrets.
#[utoipa::path(
    get,
    path = "/v1/webhooks",
    operation_id = "webhooks_list",
    tag = "webhooks",
    description = "Admins and integrator keys.",
    responses(
        (status = 200, description = "Every webhook, without its secret", body = doc::Page<crate::webhooks::Webhook>),
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
    require_integrator(&principal)?;
    let items: Vec<Webhook> = state
        .store
        .list_webhooks()
        .await?
        .iter()
        .map(Webhook::view)
        .collect();
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": null})))
}

/// `DELETE /v1/webhooks/{id}`: nothing more is sent to it, pending retries included.
#[utoipa::path(
    delete,
    path = "/v1/webhooks/{id}",
    operation_id = "webhooks_delete",
    tag = "webhooks",
    description = "Admins and integrator keys.",
    params(
        ("id" = String, Path, description = "The webhook id (`wh_...`)"),
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
    require_integrator(&principal)?;
    if !state.store.delete_webhook(&id).await? {
        return Err(ApiError::NotFound("webhook"));
    }
    state.webhooks_changed();
    tracing::info!(webhook_id = %id, "webhook deleted");
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// 1 to the log's size; 100 when absent.
    limit: Option<usize>,
}

/// `GET /v1/webhooks/{id}/deliveries?limit=`: the delivery log, newest attempt first.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}/deliveries",
    operation_id = "webhooks_deliveries",
    tag = "webhooks",
    description = "Admins and integrator keys.",
    params(
        ("id" = String, Path, description = "The webhook id (`wh_...`)"),
        DeliveriesQuery,
    ),
    responses(
        (status = 200, description = "The delivery attempts", body = doc::Page<crate::webhooks::Attempt>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn deliveries(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    require_integrator(&principal)?;
    if !state
        .store
        .list_webhooks()
        .await?
        .iter()
        .any(|w| w.id == *id)
    {
        return Err(ApiError::NotFound("webhook"));
    }
    let limit = query.limit.unwrap_or(100).clamp(1, webhooks::LOG_CAP);
    let items: Vec<Attempt> = state
        .store
        .read_log(&webhooks::log_name(&id), limit)
        .await?
        .iter()
        .filter_map(|json| serde_json::from_str(json).ok())
        .collect();
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": null})))
}
