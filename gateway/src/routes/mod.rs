//! HTTP routes: each handler parses, makes one call into `service`, and maps the result.

mod agents;
mod api_keys;
mod conversations;
mod customers;
mod kb;
mod nlu;
pub mod openapi;
mod ops;
mod pages;
mod qa;
mod stats;
mod webhooks;
mod ws;

use crate::error::ApiError;
use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route("/metrics", web::get().to(ops::metrics))
        .route("/", page().to(pages::shop))
        .route("/widget.js", page().to(pages::widget))
        .route("/console", page().to(pages::console))
        .route("/admin", page().to(pages::admin))
        .route("/assets/{name}", page().to(pages::asset))
        .service(
            web::scope("/v1")
                .wrap(actix_web::middleware::from_fn(
                    crate::idempotency::middleware,
                ))
                .route("/openapi.json", web::get().to(openapi::document))
                .route("/conversations", web::post().to(conversations::create))
                .route("/conversations/{id}", web::get().to(conversations::get))
                .route(
                    "/conversations/{id}/messages",
                    web::post().to(conversations::post_message),
                )
                .route(
                    "/conversations/{id}/messages",
                    web::get().to(conversations::list_messages),
                )
                .route("/conversations/{id}/ws", web::get().to(ws::customer))
                .route(
                    "/conversations/{id}/handoff",
                    web::post().to(conversations::handoff),
                )
                .route(
                    "/conversations/{id}/context",
                    web::get().to(conversations::context),
                )
                .route(
                    "/conversations/{id}/routing",
                    web::get().to(conversations::routing),
                )
                .route(
                    "/conversations/{id}/resolve",
                    web::post().to(conversations::resolve),
                )
                .route(
                    "/conversations/{id}/transfer",
                    web::post().to(conversations::transfer),
                )
                .route(
                    "/conversations/{id}/escalate",
                    web::post().to(conversations::escalate),
                )
                .route(
                    "/conversations/{id}/rating",
                    web::post().to(conversations::rating),
                )
                .route(
                    "/conversations/{id}/close",
                    web::post().to(conversations::close),
                )
                .route("/agents", web::post().to(agents::create))
                .route("/agents", web::get().to(agents::list))
                .route("/agents/me/ws", web::get().to(ws::agent))
                .route("/agents/{id}", web::get().to(agents::get))
                .route("/agents/{id}", web::patch().to(agents::update))
                .route("/agents/{id}", web::delete().to(agents::delete))
                .route("/agents/{id}/presence", web::put().to(agents::presence))
                .route(
                    "/agents/{id}/conversations",
                    web::get().to(agents::conversations),
                )
                .route("/kb/search", web::get().to(kb::search))
                .route("/kb/articles", web::get().to(kb::list))
                .route("/kb/articles", web::post().to(kb::create))
                .route("/kb/articles/{id}", web::get().to(kb::get))
                .route("/kb/articles/{id}", web::put().to(kb::replace))
                .route("/kb/articles/{id}", web::delete().to(kb::delete))
                .route("/kb/import", web::post().to(kb::import))
                .route("/kb/export", web::get().to(kb::export))
                .route("/kb/gaps", web::get().to(kb::gaps))
                .route("/nlu/analyze", web::post().to(nlu::analyze))
                .route("/customers/{id}", web::get().to(customers::get))
                .route("/customers/{id}/tags", web::put().to(customers::put_tags))
                .route("/api-keys", web::post().to(api_keys::create))
                .route("/api-keys", web::get().to(api_keys::list))
                .route("/api-keys/{id}", web::delete().to(api_keys::delete))
                .route("/qa/flags", web::get().to(qa::flags))
                .route("/qa/phrases", web::get().to(qa::phrases))
                .route("/qa/phrases", web::put().to(qa::replace_phrases))
                .route("/stats", web::get().to(stats::get))
                .route("/webhooks", web::post().to(webhooks::create))
                .route("/webhooks", web::get().to(webhooks::list))
                .route("/webhooks/{id}", web::delete().to(webhooks::delete))
                .route(
                    "/webhooks/{id}/deliveries",
                    web::get().to(webhooks::deliveries),
                ),
        )
        .default_service(web::to(not_found));
}

/// A page or asset answers GET and HEAD (link checkers and monitors ask with HEAD).
fn page() -> actix_web::Route {
    use actix_web::guard;
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("route"))
}
