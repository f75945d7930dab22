use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;

/// Alive: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "ops_healthz",
    tag = "operations",
    description = "Liveness. No authentication.",
    responses((status = 200, description = "The process answers", body = super::openapi::Health))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready: the store answers and the knowledge-base index is loaded.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "ops_readyz",
    tag = "operations",
    description = "Readiness. No authentication.",
    responses(
        (status = 200, description = "Ready", body = super::openapi::Readiness),
        (status = 503, description = "The store does not answer", body = super::openapi::Readiness),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.get_meta("schema").await.is_ok();
    let articles = state.bot.knowledge_base().len();
    let body = json!({"status": if store { "ready" } else { "not_ready" }, "store": store, "kb_articles": articles});
    if store {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus text: this process's routing counters and the shared queue's gauges.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "ops_metrics",
    tag = "operations",
    description = "Prometheus text exposition. No authentication (keep it off the public \
                   network at the proxy).",
    responses(
        (status = 200, description = "Metrics", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 503, description = "The store cannot be reached (`unavailable`)", body = super::openapi::ErrorResponse),
    )
)]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, crate::error::ApiError> {
    let queue = state.store.queue().await?.len();
    let online = state
        .store
        .list_agents()
        .await?
        .iter()
        .filter(|a| a.presence == router::Presence::Online)
        .count();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(
            state
                .metrics
                .render(queue, online, state.store.writer_stats()),
        ))
}
