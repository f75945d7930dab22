//! Customers: their tags (which follow them to every agent) and their conversations.

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
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_service_team(&principal)?;
    Ok(HttpResponse::Ok().json(state.customer_view(&id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsIn {
    tags: Vec<String>,
}

/// `PUT /v1/customers/{id}/tags`: replaces the customer's tags.
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
