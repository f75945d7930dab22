//! Knowledge-base administration: articles in the store (the truth) and in this process's
//! index, kept in step; imports, exports and the gaps list.

use crate::domain::{GapReason, GapRecord};
use crate::error::ApiError;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Limits of one article, so one entry cannot bloat the index or a reply.
pub const MAX_QUESTION_CHARS: usize = 500;
pub const MAX_ANSWER_CHARS: usize = 5000;
pub const MAX_SIMILAR: usize = 50;
pub const MAX_TAGS: usize = 20;
/// The most articles one import may carry.
pub const MAX_IMPORT_ROWS: usize = 10_000;
/// How many recent gap records the gaps list groups.
pub const GAPS_WINDOW: usize = 5_000;
/// How many example wordings and conversations a gap group shows.
pub const GAP_EXAMPLES: usize = 5;

/// An article as clients send it; `id` is generated when absent.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleIn {
    pub id: Option<String>,
    pub question: Option<String>,
    #[serde(default)]
    pub similar: Vec<String>,
    pub answer: Option<String>,
    pub category: Option<String>,
    pub locale: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub enabled: Option<bool>,
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), String> {
    let n = value.chars().count();
    if n > max {
        return Err(format!("{field} has {n} characters; the limit is {max}"));
    }
    Ok(())
}

fn required(field: &str, value: Option<String>, max: usize) -> Result<String, String> {
    let value = value.map(|v| v.trim().to_owned()).unwrap_or_default();
    if value.is_empty() {
        return Err(format!("{field} is required"));
    }
    check_len(field, &value, max)?;
    Ok(value)
}

/// Parses an article: trimmed, required fields present, lengths capped, category a v1
/// intent, locale a supported one. `id` is used when the input has none.
pub fn parse_article(input: ArticleIn, id: Option<&str>) -> Result<kb::Article, String> {
    let id = match (
        input
            .id
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        id,
    ) {
        (Some(given), Some(path)) if given != path => {
            return Err(format!("id {given:?} does not match the path's {path:?}"))
        }
        (Some(given), _) => given,
        (None, Some(path)) => path.to_owned(),
        (None, None) => format!("kb-{}", uuid::Uuid::new_v4().simple()),
    };
    if id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "id {id:?} must be 1 to 64 of A-Z, a-z, 0-9, - or _"
        ));
    }
    let question = required("question", input.question, MAX_QUESTION_CHARS)?;
    let answer = required("answer", input.answer, MAX_ANSWER_CHARS)?;
    let mut similar = Vec::new();
    for s in input.similar {
        let s = s.trim().to_owned();
        if s.is_empty() || s == question || similar.contains(&s) {
            continue;
        }
        check_len("similar question", &s, MAX_QUESTION_CHARS)?;
        similar.push(s);
    }
    if similar.len() > MAX_SIMILAR {
        return Err(format!(
            "an article has at most {MAX_SIMILAR} similar questions"
        ));
    }
    let category = input
        .category
        .map(|c| c.trim().to_owned())
        .unwrap_or_else(|| "other".into());
    if category.parse::<models::Intent>().is_err() {
        return Err(format!(
            "category {category:?} is not a v1 intent (greeting, shipping, return_refund, ...)"
        ));
    }
    let locale = match input.locale {
        Some(l) => crate::domain::Locale::try_from(l)?.as_str().to_owned(),
        None => "zh-CN".to_owned(),
    };
    let mut tags: Vec<String> = Vec::new();
    for t in input.tags {
        let t = t.trim().to_owned();
        if t.is_empty() || tags.contains(&t) {
            continue;
        }
        check_len("tag", &t, 32)?;
        tags.push(t);
    }
    if tags.len() > MAX_TAGS {
        return Err(format!("an article has at most {MAX_TAGS} tags"));
    }
    Ok(kb::Article {
        id,
        question,
        similar,
        answer,
        category,
        locale,
        tags,
        enabled: input.enabled.unwrap_or(true),
    })
}

/// One broken row of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// The line of the input where the row starts (1-based).
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub message: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub errors: Vec<RowError>,
}

/// A gap group as the admin sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GapView {
    /// The most recent wording of this question.
    pub question: String,
    pub count: usize,
    /// Distinct wordings, most recent first.
    pub examples: Vec<String>,
    pub reasons: BTreeMap<GapReason, usize>,
    pub conversation_ids: Vec<String>,
    pub last_seen_at: DateTime<Utc>,
}

impl AppState {
    async fn index<F>(&self, change: F) -> Result<(), ApiError>
    where
        F: FnOnce(&kb::KnowledgeBase) -> Result<(), kb::KbError> + Send + 'static,
    {
        let kb = Arc::clone(self.bot.knowledge_base());
        tokio::task::spawn_blocking(move || change(&kb))
            .await
            .map_err(|e| ApiError::Internal(e.into()))?
            .map_err(|e| ApiError::Internal(e.into()))
    }

    /// Tells the other processes (with Redis) to rebuild their index from the store.
    fn knowledge_base_changed(&self) {
        if let Some(relay) = self.hub.relay() {
            relay.knowledge_base_changed();
        }
    }

    /// Rebuilds this process's index from the store, because another process changed the
    /// knowledge base. Returns how many articles were indexed.
    pub async fn reload_knowledge_base(&self) -> Result<usize, ApiError> {
        let _kb = self.kb_lock.lock().await;
        let articles = self.store.list_articles().await?;
        let count = articles.len();
        self.index(move |kb| kb.replace_all(articles)).await?;
        Ok(count)
    }

    pub async fn article(&self, id: &str) -> Result<kb::Article, ApiError> {
        self.store
            .get_article(id)
            .await?
            .ok_or(ApiError::NotFound("article"))
    }

    /// Creates an article; its id must be new.
    pub async fn create_article(&self, article: kb::Article) -> Result<kb::Article, ApiError> {
        let _kb = self.kb_lock.lock().await;
        if self.store.get_article(&article.id).await?.is_some() {
            return Err(ApiError::conflict(
                "article_exists",
                format!("article {} exists; use PUT to change it", article.id),
            ));
        }
        self.store.put_article(&article).await?;
        let indexed = article.clone();
        self.index(move |kb| kb.upsert(indexed)).await?;
        self.knowledge_base_changed();
        Ok(article)
    }

    /// Replaces an existing article.
    pub async fn replace_article(&self, article: kb::Article) -> Result<kb::Article, ApiError> {
        let _kb = self.kb_lock.lock().await;
        self.article(&article.id).await?;
        self.store.put_article(&article).await?;
        let indexed = article.clone();
        self.index(move |kb| kb.upsert(indexed)).await?;
        self.knowledge_base_changed();
        Ok(article)
    }

    pub async fn delete_article(&self, id: &str) -> Result<(), ApiError> {
        let _kb = self.kb_lock.lock().await;
        if !self.store.delete_article(id).await? {
            return Err(ApiError::NotFound("article"));
        }
        let id = id.to_owned();
        self.index(move |kb| kb.remove(&id)).await?;
        self.knowledge_base_changed();
        Ok(())
    }

    /// Every article, sorted by id.
    pub async fn articles(&self) -> Result<Vec<kb::Article>, ApiError> {
        let mut articles = self.store.list_articles().await?;
        articles.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(articles)
    }

    /// Writes the valid rows of an import in one store step, then updates the index. With
    /// `replace`, articles absent from the import are deleted, except those whose row was
    /// broken: a typo in a row never deletes the article it meant to change.
    pub async fn import_articles(
        &self,
        rows: Vec<kb::Article>,
        errors: Vec<RowError>,
        replace: bool,
    ) -> Result<ImportReport, ApiError> {
        let _kb = self.kb_lock.lock().await;
        let existing: std::collections::HashSet<String> = self
            .store
            .list_articles()
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect();
        // The last row wins when an import repeats an id.
        let mut by_id: BTreeMap<String, kb::Article> = BTreeMap::new();
        for article in rows {
            by_id.insert(article.id.clone(), article);
        }
        let mut write: Vec<kb::Article> = by_id.into_values().collect();
        let created = write.iter().filter(|a| !existing.contains(&a.id)).count();
        let updated = write.len() - created;
        if replace {
            // Keep the stored version of articles whose import row was broken.
            for id in errors.iter().filter_map(|e| e.id.as_ref()) {
                if !write.iter().any(|a| &a.id == id) {
                    if let Some(kept) = self.store.get_article(id).await? {
                        write.push(kept);
                    }
                }
            }
        }
        let deleted = self.store.write_articles(&write, replace).await?;
        let all = self.store.list_articles().await?;
        self.index(move |kb| kb.replace_all(all)).await?;
        self.knowledge_base_changed();
        tracing::info!(
            created,
            updated,
            deleted = deleted.len(),
            errors = errors.len(),
            replace,
            "knowledge base imported"
        );
        Ok(ImportReport {
            created,
            updated,
            deleted: deleted.len(),
            errors,
        })
    }

    /// Records a question the bot could not answer well. Failing to record a gap never fails
    /// the customer's turn.
    pub async fn record_gap(&self, conversation_id: &str, question: &str, reason: GapReason) {
        let record = GapRecord {
            question: question.chars().take(MAX_QUESTION_CHARS).collect(),
            reason,
            conversation_id: conversation_id.to_owned(),
            at: self.now(),
        };
        if let Err(error) = self.store.push_gap(&record).await {
            tracing::warn!(%error, "a knowledge-base gap could not be recorded");
        }
    }

    /// The gaps list: recent unanswered questions grouped by similarity, largest first.
    pub async fn gaps(&self, limit: usize) -> Result<Vec<GapView>, ApiError> {
        let records = self.store.gaps(GAPS_WINDOW).await?;
        let views = tokio::task::spawn_blocking(move || {
            let questions: Vec<&str> = records.iter().map(|r| r.question.as_str()).collect();
            kb::group_questions(&questions)
                .into_iter()
                .take(limit)
                .map(|group| {
                    let members: Vec<&GapRecord> =
                        group.members.iter().map(|&i| &records[i]).collect();
                    let mut examples: Vec<String> = Vec::new();
                    let mut conversation_ids: Vec<String> = Vec::new();
                    let mut reasons = BTreeMap::new();
                    for m in &members {
                        if examples.len() < GAP_EXAMPLES && !examples.contains(&m.question) {
                            examples.push(m.question.clone());
                        }
                        if conversation_ids.len() < GAP_EXAMPLES
                            && !conversation_ids.contains(&m.conversation_id)
                        {
                            conversation_ids.push(m.conversation_id.clone());
                        }
                        *reasons.entry(m.reason).or_insert(0) += 1;
                    }
                    GapView {
                        question: records[group.representative].question.clone(),
                        count: members.len(),
                        examples,
                        reasons,
                        conversation_ids,
                        last_seen_at: members.iter().map(|m| m.at).max().unwrap_or_else(Utc::now),
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
        Ok(views)
    }
}
