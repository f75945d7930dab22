//! The FAQ knowledge base of the customer-service gateway: articles, Chinese + English text
//! analysis, and a tantivy search index that returns calibrated confidence scores.
//!
//! What kb is: the in-memory search index over the shop's FAQ [`Article`]s. Each article's
//! standard question and similar phrasings are analyzed (normalization, jieba word segmentation,
//! CJK character bigrams, English stemming) and indexed in a tantivy RAM index;
//! [`KnowledgeBase::search`] retrieves candidates with BM25 and rescores them with a calibrated
//! similarity in 0..=1 ([`Hit::score`]) that the bot can compare against fixed thresholds.
//!
//! What kb is not: it knows nothing of HTTP, sessions or storage. The store is the source of
//! truth for articles; this index is built from it (and kept in step through
//! [`KnowledgeBase::upsert`] / [`KnowledgeBase::remove`]) and can be rebuilt at any time with
//! [`KnowledgeBase::replace_all`]. Deciding what to do with a hit (answer, ask, hand over to a
//! human) belongs to the bot.
//!
//! Score calibration, measured on the demo knowledge base by `tests/demo_quality.rs`: every
//! stored phrasing returns its own article first with score 1.0; realistic paraphrases that are
//! not in the data return the right article first with 0.48 or more; unrelated questions
//! ("今天天气怎么样", "what is the capital of france", "🙂"...) return nothing or at most 0.32.
//! A runner-up article sharing the key noun ("my package") can reach about 0.6, so the bot
//! should act on the top hit and may also look at its lead over the second one.
//!
//! ```
//! let kb = kb::KnowledgeBase::from_articles(kb::demo_articles()?)?;
//! let hits = kb.search("我的快递到哪了", Some("zh-CN"), 3)?;
//! assert_eq!(hits[0].category, "order_status");
//! # Ok::<(), kb::KbError>(())
//! ```

mod analysis;
mod gaps;
mod knowledge_base;
mod normalize;
mod scoring;

pub use gaps::{group_questions, similarity, Group, LineTerms, GROUP_SIMILARITY};
pub use knowledge_base::KnowledgeBase;
pub use normalize::normalize;

/// One FAQ article: a standard question, the other ways customers phrase it, and the answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Article {
    /// Unique id, e.g. `kb-zh-shipping-1`.
    pub id: String,
    /// The standard question.
    pub question: String,
    /// Other phrasings customers use for the same question.
    #[serde(default)]
    pub similar: Vec<String>,
    /// The answer sent to the customer.
    pub answer: String,
    /// The intent label this article answers (one of the v1 intents, e.g. `shipping`);
    /// defaults to `other`.
    #[serde(default = "default_category")]
    pub category: String,
    /// The article's locale: `zh-CN`, `zh-TW` or `en`; defaults to `zh-CN`.
    #[serde(default = "default_locale")]
    pub locale: String,
    /// Free-form tags for editors.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Disabled articles stay in the knowledge base but are never returned by searches;
    /// defaults to `true`.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

fn default_category() -> String {
    "other".to_string()
}

fn default_locale() -> String {
    "zh-CN".to_string()
}

fn default_enabled() -> bool {
    true
}

/// One search result: the best-matching phrasing of one article.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    /// The matching article's id.
    pub article_id: String,
    /// The article's standard question.
    pub question: String,
    /// The phrasing (the standard question or one of the similar ones) that matched best.
    pub matched: String,
    /// The article's answer.
    pub answer: String,
    /// The article's category (intent label).
    pub category: String,
    /// Calibrated confidence in 0..=1 that the article answers the query; comparable across
    /// queries, so the bot can threshold it.
    pub score: f32,
    /// The raw tantivy BM25 score of the matched phrasing, for explanation only (not comparable
    /// across queries).
    pub bm25: f32,
}

/// Errors of the knowledge base.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    /// The search index failed.
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// An article cannot be indexed (empty id, question, answer, category or locale).
    #[error("invalid article {id:?}: {reason}")]
    InvalidArticle {
        /// The offending article's id (possibly empty).
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Article JSON could not be parsed.
    #[error("invalid article data: {0}")]
    Json(#[from] serde_json::Error),
}

/// The demo shop's knowledge base, shipped in the repository at `kb/demo/articles.json`.
///
/// A clothes, shoes and small-electronics shop with articles in Simplified Chinese and English
/// covering every v1 intent.
pub fn demo_articles() -> Result<Vec<Article>, KbError> {
    Ok(serde_json::from_str(include_str!("../demo/articles.json"))?)
}
