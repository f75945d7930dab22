use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;

/// Alive: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready: the store answers and the knowledge-base index is loaded.
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
        .body(state.metrics.render(queue, online)))
}
