//! `POST /v1/nlu/analyze`: what the bot reads in a message.

use crate::auth::Principal;
use crate::domain::MessageText;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeIn {
    text: MessageText,
    /// The customer's locale, for text with no language of its own (digits, emoji).
    locale: Option<crate::domain::Locale>,
}

#[derive(Serialize)]
struct Scored {
    label: String,
    confidence: f32,
}

#[derive(Serialize)]
struct SentimentOut {
    label: models::Sentiment,
    score: f32,
    probabilities: models::SentimentProbabilities,
}

#[derive(Serialize)]
struct AnalyzeOut {
    language: models::Language,
    normalized: String,
    intent: Scored,
    intents: Vec<Scored>,
    /// The intent the bot acts on: `other` below the confidence threshold.
    resolved_intent: models::Intent,
    sentiment: SentimentOut,
    entities: bot::Entities,
}

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
