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
