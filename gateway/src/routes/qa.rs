//! Quality inspection: the flagged agent messages and the forbidden-phrase list.

use super::openapi as doc;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::qa::Phrase;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FlagsQuery {
    /// Only this agent's messages.
    agent_id: Option<String>,
    /// Only this conversation's messages.
    conversation_id: Option<String>,
    /// 1 to 1000; 100 when absent.
    limit: Option<usize>,
}

/// `GET /v1/qa/flags` (admins and supervisors): flagged agent messages, newest first.
#[utoipa::path(
    get,
    path = "/v1/qa/flags",
    operation_id = "qa_flags",
    tag = "quality",
    description = "Agent messages flagged by quality inspection (forbidden phrases, the same canned reply repeated), newest first. Admins and supervisors (accounts or keys).",
    params(
        FlagsQuery,
    ),
    responses(
        (status = 200, description = "The flagged messages", body = doc::Page<crate::qa::FlagRecord>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn flags(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<FlagsQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_overseer()?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1_000);
    let items = state
        .qa_flags(
            query.agent_id.as_deref(),
            query.conversation_id.as_deref(),
            limit,
        )
        .await?;
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": null})))
}

/// `GET /v1/qa/phrases` (admins and supervisors): the list in force.
#[utoipa::path(
    get,
    path = "/v1/qa/phrases",
    operation_id = "qa_phrases",
    tag = "quality",
    description = "The forbidden-phrase list in force. Admins and supervisors (accounts or keys).",
    responses(
        (status = 200, description = "The phrases", body = doc::Items<crate::qa::Phrase>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn phrases(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    principal.require_overseer()?;
    Ok(HttpResponse::Ok().json(json!({"items": state.qa_phrases().await?})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = SetPhrases)]
#[serde(deny_unknown_fields)]
pub struct PhrasesIn {
    items: Vec<Phrase>,
}

/// `PUT /v1/qa/phrases` (admins): replaces the list.
#[utoipa::path(
    put,
    path = "/v1/qa/phrases",
    operation_id = "qa_replace_phrases",
    tag = "quality",
    description = "Admins replace the forbidden-phrase list (each phrase not blank and short, no duplicates).",
    request_body = PhrasesIn,
    responses(
        (status = 200, description = "The phrases now in force", body = doc::Items<crate::qa::Phrase>),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn replace_phrases(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<PhrasesIn>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let items = state.set_qa_phrases(body.into_inner().items).await?;
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}
