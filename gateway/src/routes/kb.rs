//! Knowledge-base administration (admin role; supervisors may read and search).

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

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    locale: Option<crate::domain::Locale>,
    limit: Option<usize>,
}

/// What the bot would see for a question.
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

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<usize>,
    cursor: Option<String>,
    category: Option<String>,
    locale: Option<String>,
}

/// Articles sorted by id, paged with `cursor` (the last id of the previous page).
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

pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_staff()?;
    Ok(HttpResponse::Ok().json(state.article(&id).await?))
}

pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<ArticleIn>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let article = parse_article(body.into_inner(), None).map_err(ApiError::Invalid)?;
    Ok(HttpResponse::Created().json(state.create_article(article).await?))
}

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

pub async fn delete(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    state.delete_article(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Upsert,
    Replace,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Json,
    Csv,
}

#[derive(Deserialize)]
pub struct ImportQuery {
    mode: Option<Mode>,
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

#[derive(Deserialize)]
pub struct ExportQuery {
    format: Option<Format>,
}

/// Every article, as JSON (the import's format) or CSV.
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

#[derive(Deserialize)]
pub struct GapsQuery {
    limit: Option<usize>,
}

/// Questions the bot could not answer, grouped, most frequent first.
pub async fn gaps(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<GapsQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_overseer()?;
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    Ok(HttpResponse::Ok().json(json!({"items": state.gaps(limit).await?})))
}
