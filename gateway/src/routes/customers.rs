//! Customers: their tags (which follow them to every agent) and their conversations.

use super::openapi as doc;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

/// Agents and overseers see and tag customers; customers and integrators do not.
fn require_service_team(principal: &Principal) -> Result<(), ApiError> {
    match principal {
        Principal::Admin | Principal::Agent { .. } | Principal::Supervisor { .. } => Ok(()),
        Principal::Customer { .. } | Principal::Integrator { .. } => Err(ApiError::Forbidden(
            "customer records are for the service team",
        )),
    }
}

/// `GET /v1/customers/{id}`: tags and conversations, newest first.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}",
    operation_id = "customers_get",
    tag = "customers",
    description = "A customer's tags and conversations, newest first. The service team: admins, agents and supervisors (accounts or supervisor keys); not customers or integrator keys.",
    params(
        ("id" = String, Path, description = "The customer id (`customer.id` of a conversation)"),
    ),
    responses(
        (status = 200, description = "The customer", body = crate::customers::CustomerView),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_service_team(&principal)?;
    Ok(HttpResponse::Ok().json(state.customer_view(&id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = SetTags)]
#[serde(deny_unknown_fields)]
pub struct TagsIn {
    tags: Vec<String>,
}

/// `PUT /v1/customers/{id}/tags`: replaces the customer's tags.
#[utoipa::path(
    put,
    path = "/v1/customers/{id}/tags",
    operation_id = "customers_put_tags",
    tag = "customers",
    description = "Replaces a customer's tags, which follow them to every agent. The service team (see `GET /v1/customers/{id}`).",
    params(
        ("id" = String, Path, description = "The customer id (`customer.id` of a conversation)"),
    ),
    request_body = TagsIn,
    responses(
        (status = 200, description = "The customer's tags", body = doc::CustomerTags),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn put_tags(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: web::Json<TagsIn>,
) -> Result<HttpResponse, ApiError> {
    require_service_team(&principal)?;
    let tags = state.set_customer_tags(&id, body.into_inner().tags).await?;
    Ok(HttpResponse::Ok().json(json!({"id": id.as_str(), "tags": tags})))
}
