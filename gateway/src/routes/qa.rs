//! Quality inspection: the flagged agent messages and the forbidden-phrase list.

use crate::auth::Principal;
use crate::error::ApiError;
use crate::qa::Phrase;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagsQuery {
    agent_id: Option<String>,
    conversation_id: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/qa/flags` (admins and supervisors): flagged agent messages, newest first.
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
pub async fn phrases(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    principal.require_overseer()?;
    Ok(HttpResponse::Ok().json(json!({"items": state.qa_phrases().await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhrasesIn {
    items: Vec<Phrase>,
}

/// `PUT /v1/qa/phrases` (admins): replaces the list.
pub async fn replace_phrases(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<PhrasesIn>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let items = state.set_qa_phrases(body.into_inner().items).await?;
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}
