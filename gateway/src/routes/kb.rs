use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub struct SearchQuery {
    q: String,
    locale: Option<crate::domain::Locale>,
    limit: Option<usize>,
}

/// What the bot would see for a question.
pub async fn search(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_overseer()?;
    let SearchQuery { q, locale, limit } = query.into_inner();
    let limit = limit.unwrap_or(5).clamp(1, 50);
    let kb = std::sync::Arc::clone(state.bot.knowledge_base());
    let hits = web::block(move || kb.search(&q, locale.map(|l| l.as_str()), limit))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(HttpResponse::Ok().json(json!({ "items": hits })))
}
