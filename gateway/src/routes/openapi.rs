//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of every route, generated from the
//! handlers' `#[utoipa::path]` annotations and the types' `ToSchema` derives, built once.
//!
//! The tests below read the routes from `mod.rs` itself and fail when a routed method and
//! path is missing from the document, or the document lists one that is not routed.

use super::{
    agents, api_keys, conversations, customers, kb, nlu, ops, pages, qa, stats, webhooks, ws,
};
use actix_web::HttpResponse;
use std::sync::OnceLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToResponse, ToSchema};

/// The document, every route with its parameters, bodies, answers and who may call it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Customer-service chat gateway",
        description = "REST and WebSocket API of the chat gateway: customers (the widget), agents \
(the console), admins, integrators and operations. JSON in and out, UTF-8; times are RFC 3339 \
UTC; ids are opaque strings. Authentication is `Authorization: Bearer <token>` (the `bearer` \
scheme): an admin key, an API key (role admin, supervisor or integrator), an agent token, or the \
customer token `POST /v1/conversations` returns. Every error is \
`{\"error\": {\"code\", \"message\"}}` (`ErrorResponse`). Besides the statuses each operation \
lists, any operation that reads the store may answer 503 `unavailable` (with `Retry-After`) \
while the store cannot be reached, and 500 `internal`. Creating POSTs under `/v1` honour \
`Idempotency-Key`. Pages (`/`, `/widget.js`, `/console`, `/admin`, `/assets/{name}`) answer \
HEAD as well as GET."
    ),
    paths(
        ops::healthz,
        ops::readyz,
        ops::metrics,
        pages::shop,
        pages::widget,
        pages::console,
        pages::admin,
        pages::asset,
        document,
        conversations::create,
        conversations::get,
        conversations::post_message,
        conversations::list_messages,
        ws::customer,
        conversations::handoff,
        conversations::context,
        conversations::routing,
        conversations::resolve,
        conversations::transfer,
        conversations::escalate,
        conversations::rating,
        conversations::close,
        agents::create,
        agents::list,
        ws::agent,
        agents::get,
        agents::update,
        agents::delete,
        agents::presence,
        agents::conversations,
        kb::search,
        kb::list,
        kb::create,
        kb::get,
        kb::replace,
        kb::delete,
        kb::import,
        kb::export,
        kb::gaps,
        nlu::analyze,
        customers::get,
        customers::put_tags,
        api_keys::create,
        api_keys::list,
        api_keys::delete,
        qa::flags,
        qa::phrases,
        qa::replace_phrases,
        stats::get,
        webhooks::create,
        webhooks::list,
        webhooks::delete,
        webhooks::deliveries,
    ),
    components(
        schemas(ErrorResponse, crate::events::ErrorBody, Presence, Article),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            PayloadTooLarge,
            Unprocessable,
            TooManyRequests
        )
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this document."),
        (name = "pages", description = "The demo shop, the widget script and the consoles."),
        (name = "conversations", description = "Customers' conversations and agents' actions on them."),
        (name = "agents", description = "Agent accounts, presence and their sockets."),
        (name = "knowledge base", description = "Articles, search, import and export, gaps."),
        (name = "nlu", description = "What the bot reads in a message."),
        (name = "customers", description = "Customer records and tags."),
        (name = "api keys", description = "Keys for integrators and automation."),
        (name = "quality", description = "Quality inspection of agent messages."),
        (name = "stats", description = "Service KPIs."),
        (name = "webhooks", description = "Event deliveries to the shop's systems."),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme the operations name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some(
            "`Authorization: Bearer <token>`: the admin key, an API key (`key_…`, role admin, \
             supervisor or integrator), an agent token (from `POST /v1/agents`) or a customer \
             token (from `POST /v1/conversations`). WebSockets also take `?token=`."
                .to_owned(),
        );
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document as JSON, built on first use.
fn document_json() -> &'static Result<String, String> {
    static DOCUMENT: OnceLock<Result<String, String>> = OnceLock::new();
    DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().map_err(|e| e.to_string()))
}

/// This document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "openapi_document",
    tag = "operations",
    description = "The OpenAPI 3.1 document of every route, generated from the code. No \
                   authentication.",
    responses(
        (status = 200, description = "The OpenAPI document", body = Object, content_type = "application/json"),
    )
)]
pub async fn document() -> Result<HttpResponse, crate::error::ApiError> {
    match document_json() {
        Ok(json) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(json.as_str())),
        Err(e) => Err(crate::error::ApiError::Internal(anyhow::anyhow!(
            "the OpenAPI document did not serialize: {e}"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Shapes only the document needs: the handlers build these bodies with `json!`, or they are
// another crate's types. They are described, never built (hence `dead_code`).

/// Every error: a 4xx or 5xx status with this body.
#[derive(ToSchema)]
#[schema(example = json!({"error": {"code": "not_found", "message": "conversation not found"}}))]
#[allow(dead_code)]
pub struct ErrorResponse {
    error: crate::events::ErrorBody,
}

/// The request is not JSON, or not `Content-Type: application/json` (`bad_request`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct BadRequest(ErrorResponse);

/// No bearer token, or one that is invalid or revoked (`unauthorized`).
#[derive(ToResponse)]
#[response(headers(("WWW-Authenticate" = String, description = "`Bearer`")))]
#[allow(dead_code)]
pub struct Unauthorized(ErrorResponse);

/// The token's role may not do this, or it is not the caller's conversation (`forbidden`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct Forbidden(ErrorResponse);

/// The resource named in the path does not exist (`not_found`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct NotFound(ErrorResponse);

/// The body is larger than the limit (`payload_too_large`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct PayloadTooLarge(ErrorResponse);

/// A field of the body or the query is invalid (`invalid_field`), or the request cannot be
/// processed (its own code, e.g. `idempotency_key_reused`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct Unprocessable(ErrorResponse);

/// Rate-limited (`rate_limited`): per API key, per conversation, per client address or per
/// socket subject.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait")))]
#[allow(dead_code)]
pub struct TooManyRequests(ErrorResponse);

/// `Idempotency-Key` on a POST: a retry with the same key and the same request gets the first
/// response again (with `Idempotency-Replayed: true`) for 24 hours; the same key with another
/// request is a 422 `idempotency_key_reused`, and while the first is still running a 409
/// `request_in_progress`.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyKey {
    /// 1 to 255 characters, chosen by the client, one per logical request.
    #[param(rename = "Idempotency-Key", max_length = 255)]
    idempotency_key: Option<String>,
}

/// Whether an agent takes new conversations (`router::Presence`).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum Presence {
    Online,
    Away,
    Offline,
    /// Finishes the conversations held, takes no new ones.
    Draining,
}

/// A knowledge-base article (`kb::Article`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Article {
    /// Unique id, e.g. `kb-zh-shipping-1`.
    id: String,
    /// The standard question.
    question: String,
    /// Other phrasings customers use for the same question.
    similar: Vec<String>,
    /// The answer sent to the customer.
    answer: String,
    /// The intent label this article answers, e.g. `shipping`.
    category: String,
    /// `zh-CN`, `zh-TW` or `en`.
    locale: String,
    tags: Vec<String>,
    /// Disabled articles are never returned by searches.
    enabled: bool,
}

/// A page of a list; `next_cursor` is null on the last page.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Page<T> {
    items: Vec<T>,
    /// The `cursor` of the next page; null on the last one (and on lists that are never paged).
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// A whole list.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Items<T> {
    items: Vec<T>,
}

/// `GET /healthz`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Health {
    /// `ok`.
    status: String,
}

/// `GET /readyz`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    status: String,
    /// Whether the store answers.
    store: bool,
    /// Articles in the loaded knowledge-base index.
    kb_articles: usize,
}

/// A new conversation and the customer's token (shown once).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ConversationCreated {
    conversation: crate::events::ConversationView,
    /// The customer token for this conversation's routes and socket.
    token: String,
}

/// What quality inspection says of an agent's draft (`check_only=true`); nothing is sent.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DraftCheck {
    warnings: Vec<crate::qa::Flag>,
}

/// A new agent and its token (shown once).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AgentCreated {
    agent: agents::AgentView,
    token: String,
}

/// A new API key's record and the key itself (shown once).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ApiKeyCreated {
    api_key: crate::domain::ApiKey,
    key: String,
}

/// A new webhook and its signing secret (shown once).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WebhookCreated {
    webhook: crate::webhooks::Webhook,
    /// `whsec_…` when generated.
    secret: String,
}

/// A customer's tags after the change.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CustomerTags {
    id: String,
    tags: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeSet;

    /// A routed method and path, as OpenAPI writes them (`get`, `/v1/agents/{id}`).
    type Route = (String, String);

    /// Skips a string literal starting at `chars[i] == '"'`; returns its text and the index after it.
    fn string_at(chars: &[char], mut i: usize) -> (String, usize) {
        let mut out = String::new();
        i += 1;
        while i < chars.len() && chars[i] != '"' {
            if chars[i] == '\\' {
                i += 1;
            }
            if let Some(c) = chars.get(i) {
                out.push(*c);
            }
            i += 1;
        }
        (out, i + 1)
    }

    fn skip_space(chars: &[char], mut i: usize) -> usize {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        i
    }

    fn starts(chars: &[char], i: usize, text: &str) -> bool {
        text.chars()
            .enumerate()
            .all(|(k, c)| chars.get(i + k) == Some(&c))
    }

    /// Every `.route("PATH", web::METHOD()…)` and `.route("PATH", page()…)` in `source`, with
    /// the prefixes of the `web::scope("…")`s it sits in. Panics on a `.route(` it cannot read
    /// and on `web::resource(` (not understood yet), so a new style of registering routes fails
    /// the test instead of slipping past it.
    fn routes_in(source: &str) -> Vec<Route> {
        let chars: Vec<char> = source.chars().collect();
        let mut routes = Vec::new();
        // Open scopes: (prefix, the paren depth of the call the scope is an argument of, as
        // in `.service(web::scope("/v1").route(…))`: its routes are chained inside that call).
        let mut scopes: Vec<(String, usize)> = Vec::new();
        let mut depth = 0usize;
        let mut i = 0;
        while i < chars.len() {
            if starts(&chars, i, "//") {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            match chars[i] {
                '"' => {
                    i = string_at(&chars, i).1;
                    continue;
                }
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    while scopes.last().is_some_and(|(_, d)| depth < *d) {
                        scopes.pop();
                    }
                }
                _ => {}
            }
            assert!(
                !starts(&chars, i, "web::resource("),
                "the route parser does not read web::resource(...): extend it"
            );
            if starts(&chars, i, "web::scope(") {
                let outer = depth;
                i += "web::scope(".len();
                depth += 1;
                let at = skip_space(&chars, i);
                assert_eq!(
                    chars.get(at),
                    Some(&'"'),
                    "web::scope without a literal prefix"
                );
                let (prefix, next) = string_at(&chars, at);
                scopes.push((prefix, outer));
                i = next;
                continue;
            }
            if starts(&chars, i, ".route(") {
                i += ".route(".len();
                depth += 1;
                let at = skip_space(&chars, i);
                assert_eq!(
                    chars.get(at),
                    Some(&'"'),
                    "a .route( without a literal path"
                );
                let (path, next) = string_at(&chars, at);
                let mut j = skip_space(&chars, next);
                assert_eq!(
                    chars.get(j),
                    Some(&','),
                    "a .route({path:?} without a method"
                );
                j = skip_space(&chars, j + 1);
                let method = ["get", "post", "put", "patch", "delete", "head"]
                    .into_iter()
                    .find(|m| starts(&chars, j, &format!("web::{m}()")))
                    .or_else(|| starts(&chars, j, "page()").then_some("get"));
                let Some(method) = method else {
                    let found: String = chars[j..(j + 20).min(chars.len())].iter().collect();
                    panic!("the route parser does not know the method of {path:?}: {found:?}");
                };
                let prefix: String = scopes.iter().map(|(p, _)| p.as_str()).collect();
                routes.push((method.to_owned(), format!("{prefix}{path}")));
                i = j;
                continue;
            }
            i += 1;
        }
        routes
    }

    const METHODS: [&str; 8] = [
        "get", "post", "put", "patch", "delete", "head", "options", "trace",
    ];

    /// Every (method, path) operation of the generated document.
    fn documented(doc: &Value) -> BTreeSet<Route> {
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in METHODS {
                if item.get(method).is_some() {
                    out.insert((method.to_owned(), path.clone()));
                }
            }
        }
        out
    }

    fn generated() -> Value {
        serde_json::to_value(ApiDoc::openapi()).expect("the document serializes")
    }

    #[test]
    fn the_parser_reads_every_style_of_route() {
        let sample = r#"
            cfg.route("/healthz", web::get().to(ops::healthz))
                .route("/", page().to(pages::shop))
                // .route("/commented", web::get().to(x)) is not a route
                .service(
                    web::scope("/v1")
                        .wrap(actix_web::middleware::from_fn(
                            crate::idempotency::middleware,
                        ))
                        .route("/things", web::post().to(things::create))
                        .route(
                            "/things/{id}",
                            web::get().to(things::get),
                        )
                        .route(
                            "/things/{id}/parts",
                            web::patch().to(parts::update),
                        ),
                )
                .route("/after", web::delete().to(x::after))
        "#;
        let expected: Vec<Route> = [
            ("get", "/healthz"),
            ("get", "/"),
            ("post", "/v1/things"),
            ("get", "/v1/things/{id}"),
            ("patch", "/v1/things/{id}/parts"),
            ("delete", "/after"),
        ]
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
        assert_eq!(routes_in(sample), expected);
    }

    #[test]
    #[should_panic(expected = "does not know the method")]
    fn the_parser_refuses_a_route_it_cannot_read() {
        routes_in(r#"cfg.route("/x", web::route().guard(g).to(x))"#);
    }

    #[test]
    fn every_routed_path_is_documented_and_nothing_else() {
        let source = include_str!("mod.rs");
        let routed = routes_in(source);
        // Every `.route(` of mod.rs was read (outside comments).
        let calls = source
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .map(|l| l.matches(".route(").count())
            .sum::<usize>();
        assert_eq!(routed.len(), calls, "some .route( calls were not read");
        assert!(routed.len() > 50, "suspiciously few routes: {routed:?}");
        let routed: BTreeSet<Route> = routed.into_iter().collect();
        let documented = documented(&generated());
        let missing: Vec<_> = routed.difference(&documented).collect();
        assert!(
            missing.is_empty(),
            "routed but missing from the OpenAPI document: {missing:?}"
        );
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            unrouted.is_empty(),
            "documented but not routed: {unrouted:?}"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_with_the_bearer_scheme_and_the_error_body() {
        let doc = generated();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        let error = &doc["components"]["schemas"]["ErrorResponse"];
        assert_eq!(
            error["properties"]["error"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        // Every `$ref` points at a component that exists.
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/").skip(1) {
            let target = piece.split('"').next().unwrap_or_default();
            let mut parts = target.splitn(2, '/');
            let (kind, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            assert!(
                doc["components"][kind].get(name).is_some(),
                "dangling $ref #/components/{target}"
            );
        }
        // Authenticated operations name the scheme; the public ones do not.
        let public = [
            ("get", "/healthz"),
            ("get", "/readyz"),
            ("get", "/metrics"),
            ("get", "/v1/openapi.json"),
            ("post", "/v1/conversations"),
        ];
        let mut operation_ids = BTreeSet::new();
        for (method, path) in documented(&doc) {
            let operation = &doc["paths"][&path][&method];
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(
                !id.is_empty() && operation_ids.insert(id.clone()),
                "{method} {path}: operationId {id:?} missing or not unique"
            );
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            let is_public =
                public.contains(&(method.as_str(), path.as_str())) || !path.starts_with("/v1/");
            assert_eq!(secured, !is_public, "{method} {path}: security");
        }
    }

    #[test]
    fn the_mirrored_shapes_match_the_real_ones() {
        let doc = generated();
        let properties = |name: &str| -> BTreeSet<String> {
            doc["components"]["schemas"][name]["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default()
        };
        let article = ::kb::Article {
            id: "a".into(),
            question: "q".into(),
            similar: vec![],
            answer: "a".into(),
            category: "other".into(),
            locale: "en".into(),
            tags: vec![],
            enabled: true,
        };
        let keys: BTreeSet<String> = serde_json::to_value(article)
            .expect("an article serializes")
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(keys, properties("Article"));
        let presences: Vec<Value> = [
            router::Presence::Online,
            router::Presence::Away,
            router::Presence::Offline,
            router::Presence::Draining,
        ]
        .into_iter()
        .map(|p| serde_json::to_value(p).expect("a presence serializes"))
        .collect();
        assert_eq!(
            doc["components"]["schemas"]["Presence"]["enum"],
            Value::Array(presences)
        );
    }

    #[actix_web::test]
    async fn the_route_serves_the_document_without_a_token() {
        let app = actix_web::test::init_service(
            actix_web::App::new().route("/v1/openapi.json", actix_web::web::get().to(document)),
        )
        .await;
        let request = actix_web::test::TestRequest::get()
            .uri("/v1/openapi.json")
            .to_request();
        let response = actix_web::test::call_service(&app, request).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
        let body: Value = actix_web::test::read_body_json(response).await;
        assert_eq!(body["openapi"], "3.1.0");
    }
}
