//! Knowledge-base administration (admin role; supervisors may read and search).

use super::openapi as doc;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::import::{self, ImportError};
use crate::knowledge::{parse_article, ArticleIn};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

/// The largest import body.
pub const MAX_IMPORT_BYTES: usize = 5 * 1024 * 1024;
/// The longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 500;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The question; required, at most 500 characters.
    q: Option<String>,
    /// `zh-CN`, `zh-TW` or `en`; every locale when absent.
    #[param(value_type = Option<String>)]
    locale: Option<crate::domain::Locale>,
    /// 1 to 50; 5 when absent.
    limit: Option<usize>,
}

/// What the bot would see for a question.
#[utoipa::path(
    get,
    path = "/v1/kb/search",
    operation_id = "kb_search",
    tag = "knowledge base",
    description = "The articles the bot would find for a question, best first. Anyone but customers (agents, supervisors, admins, API keys).",
    params(
        SearchQuery,
    ),
    responses(
        (status = 200, description = "The hits (`article_id`, `question`, `score`, `matched`, ...)", body = doc::Items<Object>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn search(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_staff()?;
    let SearchQuery { q, locale, limit } = query.into_inner();
    let q = q.map(|q| q.trim().to_owned()).unwrap_or_default();
    if q.is_empty() {
        return Err(ApiError::Invalid("q must not be empty".into()));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::Invalid(format!(
            "q is longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    let limit = limit.unwrap_or(5).clamp(1, 50);
    let kb = std::sync::Arc::clone(state.bot.knowledge_base());
    let hits = web::block(move || kb.search(&q, locale.map(|l| l.as_str()), limit))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(HttpResponse::Ok().json(json!({ "items": hits })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1 to 1000; 100 when absent.
    limit: Option<usize>,
    /// The previous page's `next_cursor` (the last id it showed).
    cursor: Option<String>,
    /// Only this category (an intent label).
    category: Option<String>,
    /// Only this locale.
    locale: Option<String>,
}

/// Articles sorted by id, paged with `cursor` (the last id of the previous page).
#[utoipa::path(
    get,
    path = "/v1/kb/articles",
    operation_id = "kb_list",
    tag = "knowledge base",
    description = "Anyone but customers (agents, supervisors, admins, API keys).",
    params(
        ListQuery,
    ),
    responses(
        (status = 200, description = "A page of articles", body = doc::Page<doc::Article>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_staff()?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let mut items: Vec<kb::Article> = state
        .articles()
        .await?
        .into_iter()
        .filter(|a| {
            query
                .cursor
                .as_ref()
                .is_none_or(|c| a.id.as_str() > c.as_str())
        })
        .filter(|a| query.category.as_ref().is_none_or(|c| &a.category == c))
        .filter(|a| query.locale.as_ref().is_none_or(|l| &a.locale == l))
        .take(limit + 1)
        .collect();
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|a| a.id.clone())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": next_cursor})))
}

#[utoipa::path(
    get,
    path = "/v1/kb/articles/{id}",
    operation_id = "kb_get",
    tag = "knowledge base",
    description = "One article. Anyone but customers.",
    params(
        ("id" = String, Path, description = "The article id"),
    ),
    responses(
        (status = 200, description = "The article", body = doc::Article),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_staff()?;
    Ok(HttpResponse::Ok().json(state.article(&id).await?))
}

#[utoipa::path(
    post,
    path = "/v1/kb/articles",
    operation_id = "kb_create",
    tag = "knowledge base",
    description = "Admins add an article (its `id` is generated when absent); searchable within a second. 409 `article_exists`. Honours `Idempotency-Key` (409 `request_in_progress`, 422 `idempotency_key_reused`).",
    params(
        doc::IdempotencyKey,
    ),
    request_body = crate::knowledge::ArticleIn,
    responses(
        (status = 201, description = "The article", body = doc::Article),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 409, description = "`article_exists` or `request_in_progress`", body = doc::ErrorResponse),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<ArticleIn>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let article = parse_article(body.into_inner(), None).map_err(ApiError::Invalid)?;
    Ok(HttpResponse::Created().json(state.create_article(article).await?))
}

#[utoipa::path(
    put,
    path = "/v1/kb/articles/{id}",
    operation_id = "kb_replace",
    tag = "knowledge base",
    description = "Admins replace an existing article (a body `id` must match the path).",
    params(
        ("id" = String, Path, description = "The article id"),
    ),
    request_body = crate::knowledge::ArticleIn,
    responses(
        (status = 200, description = "The article", body = doc::Article),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn replace(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: web::Json<ArticleIn>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let article = parse_article(body.into_inner(), Some(&id)).map_err(ApiError::Invalid)?;
    Ok(HttpResponse::Ok().json(state.replace_article(article).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/kb/articles/{id}",
    operation_id = "kb_delete",
    tag = "knowledge base",
    description = "Admins delete an article.",
    params(
        ("id" = String, Path, description = "The article id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    state.delete_article(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `upsert` (the default) keeps articles absent from the import; `replace` deletes them.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Upsert,
    Replace,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Json,
    Csv,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    #[param(inline)]
    mode: Option<Mode>,
    /// `json` or `csv`; from `Content-Type` when absent (`text/csv` is CSV).
    #[param(inline)]
    format: Option<Format>,
}

fn format_of(req: &HttpRequest, explicit: Option<Format>) -> Format {
    explicit.unwrap_or_else(|| {
        let content_type = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if content_type.starts_with("text/csv") {
            Format::Csv
        } else {
            Format::Json
        }
    })
}

/// Reads a body up to `limit` bytes; more is a 413, before anything is parsed or written.
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `POST /v1/kb/import?mode=upsert|replace[&format=json|csv]`: valid rows are written,
/// broken rows are reported with their line.
#[utoipa::path(
    post,
    path = "/v1/kb/import",
    operation_id = "kb_import",
    tag = "knowledge base",
    description = "Admins import articles: a JSON array of articles, or CSV with the same columns (`similar` separated by `|`), at most 5 MiB. Valid rows are written, broken rows reported with their line. Honours `Idempotency-Key` (409 `request_in_progress`, 422 `idempotency_key_reused`).",
    params(
        ImportQuery,
        doc::IdempotencyKey,
    ),
    request_body(content((Vec<crate::knowledge::ArticleIn> = "application/json"), (String = "text/csv"))),
    responses(
        (status = 200, description = "What the import did", body = crate::knowledge::ImportReport),
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
pub async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<ImportQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let body = read_body(payload, MAX_IMPORT_BYTES).await?;
    let parsed = match format_of(&req, query.format) {
        Format::Json => import::parse_json(&body),
        Format::Csv => import::parse_csv(&body),
    };
    let (articles, errors) = parsed.map_err(|e| match e {
        ImportError::TooManyRows => ApiError::PayloadTooLarge {
            limit: MAX_IMPORT_BYTES,
        },
        other => ApiError::Invalid(other.to_string()),
    })?;
    let replace = query.mode == Some(Mode::Replace);
    let report = state.import_articles(articles, errors, replace).await?;
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (the default, the import's format) or `csv`.
    #[param(inline)]
    format: Option<Format>,
}

/// Every article, as JSON (the import's format) or CSV.
#[utoipa::path(
    get,
    path = "/v1/kb/export",
    operation_id = "kb_export",
    tag = "knowledge base",
    description = "Admins and supervisors (accounts or keys).",
    params(
        ExportQuery,
    ),
    responses(
        (status = 200, description = "Every article", content((Vec<doc::Article> = "application/json"), (String = "text/csv; charset=utf-8"))),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn export(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_overseer()?;
    let articles = state.articles().await?;
    match query.format.unwrap_or(Format::Json) {
        Format::Json => Ok(HttpResponse::Ok().json(articles)),
        Format::Csv => {
            let csv = import::to_csv(&articles).map_err(|e| ApiError::Internal(e.into()))?;
            Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header(("Content-Disposition", "attachment; filename=\"kb.csv\""))
                .body(csv))
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GapsQuery {
    /// 1 to 500; 50 when absent.
    limit: Option<usize>,
}

/// Questions the bot could not answer, grouped, most frequent first.
#[utoipa::path(
    get,
    path = "/v1/kb/gaps",
    operation_id = "kb_gaps",
    tag = "knowledge base",
    description = "Customer questions the bot could not answer, handed off, or was rated badly on, grouped by similarity: the list to write new articles from. Admins and supervisors (accounts or keys).",
    params(
        GapsQuery,
    ),
    responses(
        (status = 200, description = "The gap groups", body = doc::Items<crate::knowledge::GapView>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn gaps(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<GapsQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_overseer()?;
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    Ok(HttpResponse::Ok().json(json!({"items": state.gaps(limit).await?})))
}
