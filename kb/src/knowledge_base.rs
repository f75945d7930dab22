//! The in-memory knowledge base: a tantivy RAM index of article phrasings plus the articles
//! themselves, with calibrated rescoring of the tantivy candidates.

use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, Value,
    STORED, STRING,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::analysis::{
    bigrams_analyzer, is_cjk, is_stopword, words_analyzer, TermSet, BIGRAMS_TOKENIZER,
    UNIGRAM_PREFIX, WORDS_TOKENIZER,
};
use crate::scoring::{calibrated, Stats, Weighted};
use crate::{Article, Hit, KbError};

/// Memory budget of the (single-threaded) index writer. Tantivy's minimum is 15 MB; a FAQ index
/// is tiny, so this is ample.
const WRITER_MEMORY_BYTES: usize = 20_000_000;

/// How many phrasings tantivy retrieves for rescoring (at least; more when `limit` is large).
const RETRIEVAL_DEPTH: usize = 50;

/// Queries are cut to this many characters before analysis. Customer questions are short; this
/// bounds the cost of pathological input (a pasted 10 KB log is still answered quickly).
const MAX_QUERY_CHARS: usize = 500;

/// The tantivy fields of the phrasing index (built by [`schema`]).
#[derive(Clone, Copy)]
struct Fields {
    /// The article id (raw, stored): used to delete and to join with the article map.
    article_id: Field,
    /// The phrasing's position among the article's phrasings (0 = standard question), stored.
    phrasing: Field,
    /// The language group ("zh", "en", ...) derived from the locale, for filtering.
    lang: Field,
    /// The phrasing analyzed into words (normalization, jieba, lowercase, English stemming).
    words: Field,
    /// The phrasing analyzed into CJK bigrams and characters.
    bigrams: Field,
    /// The answer analyzed into words (answer documents only).
    answer_words: Field,
    /// The answer analyzed into CJK bigrams and characters (answer documents only).
    answer_bigrams: Field,
}

/// The `phrasing` value of an article's answer document.
const ANSWER_DOC: u64 = u64::MAX;

/// Boost of the answer fields in the retrieval query: an answer's words are weaker evidence
/// than a phrasing's (they only make an article a candidate; scoring decides).
const ANSWER_BOOST: f32 = 0.3;

/// The one schema of the phrasing index: one document per phrasing of an enabled article, plus
/// one document for its answer.
fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let article_id = builder.add_text_field("article_id", STRING | STORED);
    let phrasing = builder.add_u64_field("phrasing", NumericOptions::default().set_stored());
    let lang = builder.add_text_field("lang", STRING);
    let analyzed = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
    };
    let words = builder.add_text_field("words", analyzed(WORDS_TOKENIZER));
    let bigrams = builder.add_text_field("bigrams", analyzed(BIGRAMS_TOKENIZER));
    let answer_words = builder.add_text_field("answer_words", analyzed(WORDS_TOKENIZER));
    let answer_bigrams = builder.add_text_field("answer_bigrams", analyzed(BIGRAMS_TOKENIZER));
    let fields = Fields {
        article_id,
        phrasing,
        lang,
        words,
        bigrams,
        answer_words,
        answer_bigrams,
    };
    (builder.build(), fields)
}

/// The language group of a locale: its primary subtag, lowercased ("zh-TW" -> "zh").
fn lang_of(locale: &str) -> String {
    locale
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

/// One phrasing of an article, with its analyzed terms for rescoring.
#[derive(Debug, Clone)]
struct Phrasing {
    text: String,
    terms: TermSet,
}

/// An article with its phrasings: the standard question first, then the similar ones, without
/// duplicates (after normalization) or blank ones; and its answer's term keys.
#[derive(Debug, Clone)]
struct Entry {
    article: Article,
    phrasings: Vec<Phrasing>,
    /// The prefixed term keys of the answer, sorted: weak evidence for the words a customer
    /// uses that no phrasing has ("visa", "杭州").
    answer_keys: Vec<String>,
}

impl Entry {
    /// Validates an article and analyzes its phrasings.
    fn build(
        article: Article,
        words: &mut TextAnalyzer,
        bigrams: &mut TextAnalyzer,
    ) -> Result<Self, KbError> {
        validate(&article)?;
        let mut phrasings = Vec::new();
        let mut seen = HashSet::new();
        for text in std::iter::once(&article.question).chain(&article.similar) {
            let normalized = crate::normalize(text);
            if normalized.is_empty() || !seen.insert(normalized) {
                continue;
            }
            phrasings.push(Phrasing {
                text: text.clone(),
                terms: TermSet::analyze_with(words, bigrams, text),
            });
        }
        let answer = TermSet::analyze_with(words, bigrams, &article.answer);
        let answer_keys = answer.key_names().map(str::to_string).collect();
        Ok(Self {
            article,
            phrasings,
            answer_keys,
        })
    }

    /// The phrasings that take part in search (none when the article is disabled).
    fn searchable(&self) -> &[Phrasing] {
        if self.article.enabled {
            &self.phrasings
        } else {
            &[]
        }
    }
}

/// Rejects articles that cannot be served.
fn validate(article: &Article) -> Result<(), KbError> {
    let invalid = |reason: &str| KbError::InvalidArticle {
        id: article.id.clone(),
        reason: reason.to_string(),
    };
    if article.id.trim().is_empty() {
        return Err(invalid("the id is empty"));
    }
    if crate::normalize(&article.question).is_empty() {
        return Err(invalid("the question is empty"));
    }
    if article.answer.trim().is_empty() {
        return Err(invalid("the answer is empty"));
    }
    if article.category.trim().is_empty() {
        return Err(invalid("the category is empty"));
    }
    if lang_of(&article.locale).is_empty() {
        return Err(invalid("the locale is empty"));
    }
    Ok(())
}

/// Everything behind the lock: the index writer and reader, the articles and the term
/// statistics, always changed together.
struct Inner {
    writer: IndexWriter,
    reader: IndexReader,
    fields: Fields,
    entries: HashMap<String, Entry>,
    stats: Stats,
}

impl Inner {
    /// Adds the tantivy documents of an entry (one per searchable phrasing, and one for the answer
    /// of an enabled article).
    fn add_documents(&self, entry: &Entry) -> Result<(), KbError> {
        let f = self.fields;
        let lang = lang_of(&entry.article.locale);
        for (ix, p) in entry.searchable().iter().enumerate() {
            let mut doc = TantivyDocument::default();
            doc.add_text(f.article_id, &entry.article.id);
            doc.add_u64(f.phrasing, ix as u64);
            doc.add_text(f.lang, &lang);
            doc.add_text(f.words, &p.text);
            doc.add_text(f.bigrams, &p.text);
            self.writer.add_document(doc)?;
        }
        if entry.article.enabled {
            let mut doc = TantivyDocument::default();
            doc.add_text(f.article_id, &entry.article.id);
            doc.add_u64(f.phrasing, ANSWER_DOC);
            doc.add_text(f.lang, &lang);
            doc.add_text(f.answer_words, &entry.article.answer);
            doc.add_text(f.answer_bigrams, &entry.article.answer);
            self.writer.add_document(doc)?;
        }
        Ok(())
    }

    /// Commits pending changes and makes them visible to searches. On failure the pending
    /// changes are rolled back, so the index keeps matching the article map.
    fn commit(&mut self) -> Result<(), KbError> {
        if let Err(err) = self.writer.commit() {
            self.rollback();
            return Err(err.into());
        }
        self.reader.reload()?;
        Ok(())
    }

    /// Drops uncommitted changes (after an error half-way through an update).
    fn rollback(&mut self) {
        if let Err(err) = self.writer.rollback() {
            tracing::error!(error = %err, "kb: index rollback failed");
        }
    }

    /// Runs `stage` (which adds and deletes documents) then commits, rolling back on error.
    fn apply(&mut self, stage: impl FnOnce(&Self) -> Result<(), KbError>) -> Result<(), KbError> {
        if let Err(err) = stage(self) {
            self.rollback();
            return Err(err);
        }
        self.commit()
    }

    /// Replaces the entry with the same id in the map and the statistics.
    fn put_entry(&mut self, entry: Entry) {
        self.forget_entry(&entry.article.id);
        for p in entry.searchable() {
            self.stats.add(&p.terms);
        }
        self.entries.insert(entry.article.id.clone(), entry);
    }

    /// Removes an entry from the map and the statistics.
    fn forget_entry(&mut self, id: &str) {
        if let Some(old) = self.entries.remove(id) {
            for p in old.searchable() {
                self.stats.remove(&p.terms);
            }
        }
    }
}

/// The searchable FAQ knowledge base.
///
/// It holds a tantivy RAM index with one document per phrasing (the standard question and each
/// similar question) of every enabled article, and the articles themselves. It is `Send + Sync`:
/// share it in an `Arc`; updates take `&self` (an internal `RwLock` serializes them against
/// searches) and are visible to searches as soon as they return.
///
/// The store owns the articles; this index is built from it with
/// [`KnowledgeBase::replace_all`] and kept in step with [`KnowledgeBase::upsert`] and
/// [`KnowledgeBase::remove`].
pub struct KnowledgeBase {
    inner: RwLock<Inner>,
}

impl std::fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeBase")
            .field("articles", &self.len())
            .finish_non_exhaustive()
    }
}

impl KnowledgeBase {
    /// Creates an empty knowledge base backed by a fresh RAM index.
    pub fn new() -> Result<Self, KbError> {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        index
            .tokenizers()
            .register(WORDS_TOKENIZER, words_analyzer());
        index
            .tokenizers()
            .register(BIGRAMS_TOKENIZER, bigrams_analyzer());
        let writer: IndexWriter = index.writer_with_num_threads(1, WRITER_MEMORY_BYTES)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            inner: RwLock::new(Inner {
                writer,
                reader,
                fields,
                entries: HashMap::new(),
                stats: Stats::default(),
            }),
        })
    }

    /// Creates a knowledge base holding `articles` (see [`KnowledgeBase::replace_all`]).
    pub fn from_articles(articles: impl IntoIterator<Item = Article>) -> Result<Self, KbError> {
        let kb = Self::new()?;
        kb.replace_all(articles)?;
        Ok(kb)
    }

    /// Takes the read lock. A panic while the lock was held cannot leave a half-applied change
    /// behind (changes are staged, committed, then recorded), so poisoning is ignored.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the write lock (poisoning ignored, see [`KnowledgeBase::read`]).
    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the whole content with `articles`; when two articles share an id, the last wins.
    ///
    /// All articles are validated first: on error nothing changes.
    pub fn replace_all(&self, articles: impl IntoIterator<Item = Article>) -> Result<(), KbError> {
        let (mut words, mut bigrams) = (words_analyzer(), bigrams_analyzer());
        let mut entries: HashMap<String, Entry> = HashMap::new();
        for article in articles {
            let entry = Entry::build(article, &mut words, &mut bigrams)?;
            entries.insert(entry.article.id.clone(), entry);
        }

        let mut inner = self.write();
        inner.apply(|inner| {
            inner.writer.delete_all_documents()?;
            for entry in entries.values() {
                inner.add_documents(entry)?;
            }
            Ok(())
        })?;
        inner.entries.clear();
        inner.stats = Stats::default();
        for entry in entries.into_values() {
            inner.put_entry(entry);
        }
        tracing::debug!(articles = inner.entries.len(), "kb: index rebuilt");
        Ok(())
    }

    /// Inserts an article, or replaces the article with the same id (its old phrasings stop
    /// matching). The change is searchable when this returns.
    pub fn upsert(&self, article: Article) -> Result<(), KbError> {
        let entry = Entry::build(article, &mut words_analyzer(), &mut bigrams_analyzer())?;
        let mut inner = self.write();
        inner.apply(|inner| {
            let id = Term::from_field_text(inner.fields.article_id, &entry.article.id);
            inner.writer.delete_term(id);
            inner.add_documents(&entry)
        })?;
        inner.put_entry(entry);
        Ok(())
    }

    /// Removes the article with this id; removing an unknown id is not an error.
    pub fn remove(&self, id: &str) -> Result<(), KbError> {
        let mut inner = self.write();
        if !inner.entries.contains_key(id) {
            return Ok(());
        }
        inner.apply(|inner| {
            inner
                .writer
                .delete_term(Term::from_field_text(inner.fields.article_id, id));
            Ok(())
        })?;
        inner.forget_entry(id);
        Ok(())
    }

    /// The number of articles held, disabled ones included.
    pub fn len(&self) -> usize {
        self.read().entries.len()
    }

    /// Whether no article is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The article with this id, if held (disabled ones included).
    pub fn get(&self, id: &str) -> Option<Article> {
        self.read().entries.get(id).map(|e| e.article.clone())
    }

    /// Searches the knowledge base for the articles answering `query`.
    ///
    /// Returns the best hit per article, sorted by `score` descending (ties: higher bm25 first,
    /// then article id), at most `limit` of them. `locale`: `Some("zh-CN" | "zh-TW")` searches
    /// only zh-* articles, `Some("en")` only en articles (any locale filters on its language
    /// subtag), `None` (or a blank locale) searches all. Disabled articles are never returned.
    /// An empty or blank query, or one without letters or digits ("🙂", "。。。"), returns an
    /// empty vec. Any text is accepted: it is analyzed, never parsed as query syntax, and only
    /// its first 500 characters are used.
    ///
    /// Candidates are the articles of the best-matching phrasings and answers (BM25); each is
    /// scored on its best phrasing and its whole vocabulary (see [`Hit::score`]), its answer
    /// counting as weaker evidence. With `locale` `None`, an article written in another script
    /// than the query (English for a Chinese question, or the other way round) scores 0.8 of
    /// its similarity, so the customer's language wins when both match.
    ///
    /// `score` is a calibrated confidence in 0..=1 (see [`Hit::score`]): 1.0 for a stored
    /// phrasing itself (up to normalization), typically 0.5 and above for close paraphrases,
    /// and below 0.35 for unrelated text on the demo knowledge base.
    pub fn search(
        &self,
        query: &str,
        locale: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Hit>, KbError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
        let terms = TermSet::analyze(&query);
        if terms.is_empty() {
            return Ok(Vec::new());
        }

        let inner = self.read();
        let f = inner.fields;
        let tantivy_query = build_query(f, &terms, locale);
        let depth = RETRIEVAL_DEPTH.max(limit.saturating_mul(5));
        let searcher = inner.reader.searcher();
        let top = searcher.search(
            &*tantivy_query,
            &TopDocs::with_limit(depth).order_by_score(),
        )?;

        // Candidate articles, with the best BM25 of their retrieved documents.
        let mut candidates: HashMap<&str, f32> = HashMap::new();
        for (bm25, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let Some(id) = doc.get_first(f.article_id).and_then(|v| v.as_str()) else {
                continue;
            };
            let Some((id, _)) = inner.entries.get_key_value(id) else {
                continue;
            };
            let best = candidates.entry(id.as_str()).or_insert(bm25);
            *best = best.max(bm25);
        }

        // The script prior only arbitrates between languages when no locale filter chose one.
        let query_script = if locale.map(lang_of).is_some_and(|lang| !lang.is_empty()) {
            None
        } else {
            Script::of_text(&query)
        };
        let query = Weighted::new(&terms, &inner.stats);
        let mut hits: Vec<Hit> = Vec::with_capacity(candidates.len());
        for (id, bm25) in candidates {
            let Some(entry) = inner.entries.get(id) else {
                continue;
            };
            let (phrasings, vocabulary) = weigh_article(entry, &inner.stats);
            // The best phrasing by Dice (the first one on ties: the standard question).
            let mut matched: Option<(usize, f32)> = None;
            for (ix, weighted) in phrasings.iter().enumerate() {
                let dice = query.dice(weighted);
                if matched.is_none_or(|(_, best)| dice > best) {
                    matched = Some((ix, dice));
                }
            }
            let Some((ix, dice)) = matched else {
                continue;
            };
            let Some(phrasing) = entry.searchable().get(ix) else {
                continue;
            };
            let coverage = query.coverage_with_answer(&vocabulary, &entry.answer_keys);
            let mut score = calibrated(dice, coverage);
            if query_script.is_some_and(|s| s != Script::of_locale(&entry.article.locale)) {
                score *= CROSS_SCRIPT_FACTOR;
            }
            hits.push(Hit {
                article_id: entry.article.id.clone(),
                question: entry.article.question.clone(),
                matched: phrasing.text.clone(),
                answer: entry.article.answer.clone(),
                category: entry.article.category.clone(),
                score,
                bm25,
            });
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.bm25.total_cmp(&a.bm25))
                .then_with(|| a.article_id.cmp(&b.article_id))
        });
        hits.truncate(limit);
        Ok(hits)
    }
}

/// Builds the tantivy query: any analyzed term of the query in the phrasing fields or (with a
/// lower boost) the answer fields (`Should` term queries), restricted to the locale's language
/// group when one is given.
fn build_query(f: Fields, terms: &TermSet, locale: Option<&str>) -> Box<dyn Query> {
    let mut phrasing_clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut answer_clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    // Function-word characters ("的", "吗") only matter for scoring: leaving them out of the
    // query keeps the retrieval cheap on large indexes.
    let unigrams: Vec<String> = terms
        .unigrams
        .iter()
        .filter(|u| !is_stopword(&format!("{UNIGRAM_PREFIX}{u}")))
        .cloned()
        .collect();
    let term_query = |field: Field, text: &str| -> (Occur, Box<dyn Query>) {
        let term = Term::from_field_text(field, text);
        (
            Occur::Should,
            Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
        )
    };
    for (field, answer_field, texts) in [
        (f.words, f.answer_words, &terms.words),
        (f.bigrams, f.answer_bigrams, &terms.bigrams),
        (f.bigrams, f.answer_bigrams, &unigrams),
    ] {
        for text in texts {
            phrasing_clauses.push(term_query(field, text));
            answer_clauses.push(term_query(answer_field, text));
        }
    }
    let answers: Box<dyn Query> = Box::new(BoostQuery::new(
        Box::new(BooleanQuery::new(answer_clauses)),
        ANSWER_BOOST,
    ));
    let any_term: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
        (Occur::Should, Box::new(BooleanQuery::new(phrasing_clauses))),
        (Occur::Should, answers),
    ]));
    match locale.map(lang_of).filter(|lang| !lang.is_empty()) {
        None => any_term,
        Some(lang) => {
            let lang = TermQuery::new(
                Term::from_field_text(f.lang, &lang),
                IndexRecordOption::Basic,
            );
            // The filter must not change the BM25 score, hence the zero constant score.
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, any_term),
                (
                    Occur::Must,
                    Box::new(ConstScoreQuery::new(Box::new(lang), 0.0)),
                ),
            ]))
        }
    }
}

/// Multiplier of the score of an article written in another script than the query (a Chinese
/// question matching an English article through "iPhone" or "coupon", or the other way round):
/// the customer reads the language they write, so such an article only wins when nothing in
/// their language comes close.
const CROSS_SCRIPT_FACTOR: f32 = 0.8;

/// The writing system of a query or an article, for [`CROSS_SCRIPT_FACTOR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    /// Chinese (and Japanese or Korean) text.
    Cjk,
    /// Latin-alphabet text (English).
    Latin,
}

impl Script {
    /// The script of a query: CJK when it has any CJK character, Latin when it has ASCII
    /// letters only, none when it has neither (digits, emoji).
    fn of_text(text: &str) -> Option<Self> {
        if text.chars().any(is_cjk) {
            Some(Self::Cjk)
        } else if text.chars().any(|c| c.is_ascii_alphabetic()) {
            Some(Self::Latin)
        } else {
            None
        }
    }

    /// The script of an article's locale: CJK for zh, ja and ko, Latin otherwise.
    fn of_locale(locale: &str) -> Self {
        match lang_of(locale).as_str() {
            "zh" | "ja" | "ko" => Self::Cjk,
            _ => Self::Latin,
        }
    }
}

/// Weighs every searchable phrasing of an article and collects its vocabulary.
fn weigh_article(entry: &Entry, stats: &Stats) -> (Vec<Weighted>, Vec<String>) {
    let phrasings: Vec<Weighted> = entry
        .searchable()
        .iter()
        .map(|p| Weighted::new(&p.terms, stats))
        .collect();
    let mut vocabulary: Vec<String> = phrasings
        .iter()
        .flat_map(|w| w.keys().map(str::to_string))
        .collect();
    vocabulary.sort_unstable();
    vocabulary.dedup();
    (phrasings, vocabulary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knowledge_base_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<KnowledgeBase>();
    }

    #[test]
    fn locales_map_to_language_groups() {
        assert_eq!(lang_of("zh-CN"), "zh");
        assert_eq!(lang_of("zh-TW"), "zh");
        assert_eq!(lang_of("en"), "en");
        assert_eq!(lang_of(" EN_us "), "en");
        assert_eq!(lang_of(""), "");
    }
}
