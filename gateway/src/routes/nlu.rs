//! `POST /v1/nlu/analyze`: what the bot reads in a message.

use super::openapi as doc;
use crate::auth::Principal;
use crate::domain::MessageText;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = Analyze)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeIn {
    text: MessageText,
    /// The customer's locale, for text with no language of its own (digits, emoji):
    /// `zh-CN`, `zh-TW` or `en`.
    #[schema(value_type = Option<String>, example = "zh-CN")]
    locale: Option<crate::domain::Locale>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Scored {
    /// An intent label.
    label: String,
    confidence: f32,
}

#[derive(Serialize, utoipa::ToSchema)]
struct SentimentOut {
    /// `negative`, `neutral` or `positive`.
    #[schema(value_type = String, example = "neutral")]
    label: models::Sentiment,
    score: f32,
    /// `negative`, `neutral`, `positive`.
    #[schema(value_type = Object)]
    probabilities: models::SentimentProbabilities,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Analysis)]
struct AnalyzeOut {
    /// `zh` or `en`.
    #[schema(value_type = String, example = "zh")]
    language: models::Language,
    normalized: String,
    intent: Scored,
    /// The top intents.
    intents: Vec<Scored>,
    /// The intent the bot acts on: `other` below the confidence threshold.
    #[schema(value_type = String, example = "order_status")]
    resolved_intent: models::Intent,
    sentiment: SentimentOut,
    /// Order ids, phones, amounts, ... found in the text.
    #[schema(value_type = Object)]
    entities: bot::Entities,
}

#[utoipa::path(
    post,
    path = "/v1/nlu/analyze",
    operation_id = "nlu_analyze",
    tag = "nlu",
    description = "Language, normalized text, intent with confidence, the top intents, sentiment and entities of a message. Anyone but customers (agents, supervisors, admins, API keys). Honours `Idempotency-Key` (409 `request_in_progress`, 422 `idempotency_key_reused`).",
    params(
        doc::IdempotencyKey,
    ),
    request_body = AnalyzeIn,
    responses(
        (status = 200, description = "The analysis", body = AnalyzeOut),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 409, description = "`request_in_progress` (Idempotency-Key)", body = doc::ErrorResponse),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn analyze(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<AnalyzeIn>,
) -> Result<HttpResponse, ApiError> {
    if matches!(principal, Principal::Customer { .. }) {
        return Err(ApiError::Forbidden(
            "analysis is for staff and integrations",
        ));
    }
    let AnalyzeIn { text, locale } = body.into_inner();
    let fallback = locale.map_or(models::Language::Zh, |l| l.language());
    let bot = std::sync::Arc::clone(&state.bot);
    let seen = web::block(move || bot.understand(text.as_str(), fallback))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(HttpResponse::Ok().json(AnalyzeOut {
        language: seen.language,
        intent: Scored {
            label: seen.intent.label.label().to_owned(),
            confidence: seen.intent.confidence,
        },
        intents: seen
            .intent
            .top
            .iter()
            .map(|(label, confidence)| Scored {
                label: label.label().to_owned(),
                confidence: *confidence,
            })
            .collect(),
        resolved_intent: seen.intent.resolved(),
        sentiment: SentimentOut {
            label: seen.sentiment.label,
            score: seen.sentiment.score,
            probabilities: seen.sentiment.probabilities,
        },
        entities: seen.entities,
        normalized: seen.normalized,
    }))
}
