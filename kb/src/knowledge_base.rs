//! The in-memory knowledge base: a tantivy RAM index of article phrasings plus the articles
//! themselves, with calibrated rescoring of the tantivy candidates.
//!
//! How a search stays fast (a tenth of a millisecond on 1 000 articles, a few tenths at
//! 100 000, query analysis included):
//! - each text is analyzed once, when its article is stored: the index receives the tokens
//!   ready-made ([`token_list`]), and the article keeps only the interned ids of its
//!   phrasing and answer terms (see [`crate::scoring`]); rescoring a candidate is a merge of
//!   sorted `u32` lists with weights from a table, with no string, hash or allocation;
//! - the language filter is part of the indexed terms: every token carries a one-character
//!   prefix naming its article's language group, so a search for `zh` looks up `zh` terms only.
//!   The retrieval query is then a flat disjunction of term queries, which tantivy runs with
//!   block-WAND (skipping documents that cannot enter the top 50) instead of a filtered,
//!   nested boolean query that visits every document of every query term. The BM25 document
//!   frequencies are summed over the language groups ([`LangStats`]), so scores are those of
//!   an unprefixed index;
//! - a document names its article by a fast field (the article's slot), not a stored field
//!   that would have to be decompressed for each of the 50 candidates;
//! - [`KnowledgeBase::replace_all`] builds a fresh index and merges it into one segment before
//!   swapping it in, so searches are not blocked while it runs and scan a single segment.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::sync::{mpsc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tantivy::collector::TopDocs;
use tantivy::columnar::Column;
use tantivy::merge_policy::{LogMergePolicy, NoMergePolicy};
use tantivy::query::{Bm25StatisticsProvider, BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use crate::analysis::{
    is_cjk, is_stopword, Analysis, Analyzers, TermSet, BIGRAM_PREFIX, UNIGRAM_PREFIX, WORD_PREFIX,
};
use crate::scoring::{calibrated, FxHashMap, Packed, Stats, TermId, Weighted};
use crate::{Article, Hit, KbError};

/// Memory budget of the (single-threaded) index writer. Tantivy's minimum is 15 MB; a FAQ index
/// is tiny, so this is ample.
const WRITER_MEMORY_BYTES: usize = 20_000_000;

/// How many phrasings tantivy retrieves for rescoring (at least; more when `limit` is large).
const RETRIEVAL_DEPTH: usize = 50;

/// Queries are cut to this many characters before analysis. Customer questions are short; this
/// bounds the cost of pathological input (a pasted 10 KB log is still answered quickly).
const MAX_QUERY_CHARS: usize = 500;

/// The name of the slot field (fast fields are read by name).
const SLOT_FIELD: &str = "slot";

/// The tantivy fields of the phrasing index (built by [`schema`]).
#[derive(Clone, Copy)]
struct Fields {
    /// The article's slot in [`Inner::slots`] (indexed, to delete an article's documents, and a
    /// fast field, to find the article of a hit).
    slot: Field,
    /// The phrasing analyzed into words (normalization, jieba, lowercase, English stemming).
    words: Field,
    /// The phrasing analyzed into CJK bigrams and characters.
    bigrams: Field,
    /// The answer analyzed into words (answer documents only).
    answer_words: Field,
}

/// Boost of the answer fields in the retrieval query: an answer's words are weaker evidence
/// than a phrasing's (they only make an article a candidate; scoring decides).
const ANSWER_BOOST: f32 = 0.3;

/// The one schema of the phrasing index: one document per phrasing of an enabled article, plus
/// one document for its answer. Every indexed token starts with its article's language prefix
/// ([`Langs`]); the text fields receive the analyzed tokens as a [`token_list`].
fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let slot = builder.add_u64_field(
        SLOT_FIELD,
        NumericOptions::default().set_indexed().set_fast(),
    );
    let analyzed = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
    };
    let words = builder.add_text_field("words", analyzed(TOKEN_LIST_TOKENIZER));
    let bigrams = builder.add_text_field("bigrams", analyzed(TOKEN_LIST_TOKENIZER));
    let answer_words = builder.add_text_field("answer_words", analyzed(TOKEN_LIST_TOKENIZER));
    let fields = Fields {
        slot,
        words,
        bigrams,
        answer_words,
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

/// The language groups of an index, each with the one-character prefix of its tokens.
///
/// Prefixes are private-use characters handed out in order of appearance and never reused in
/// the same index, so a term of one group never matches another group's.
#[derive(Debug, Default)]
struct Langs {
    /// Language group -> its index in `prefixes`.
    codes: FxHashMap<String, usize>,
    /// The prefix of each group.
    prefixes: Vec<char>,
    /// The number of enabled articles of each group.
    live: Vec<usize>,
}

impl Langs {
    /// The code of a language group, registering it when new.
    fn code(&mut self, lang: &str) -> Result<usize, String> {
        if let Some(&code) = self.codes.get(lang) {
            return Ok(code);
        }
        let code = self.prefixes.len();
        let prefix = u32::try_from(code)
            .ok()
            .and_then(|c| {
                // The BMP private use area, then the supplementary one (A).
                if c < 0x1900 {
                    char::from_u32(0xE000 + c)
                } else {
                    char::from_u32(0xF0000 + (c - 0x1900)).filter(|&p| p <= '\u{FFFFD}')
                }
            })
            .ok_or_else(|| "too many locales".to_string())?;
        self.codes.insert(lang.to_string(), code);
        self.prefixes.push(prefix);
        self.live.push(0);
        Ok(code)
    }

    /// The prefix of a code.
    fn prefix(&self, code: usize) -> char {
        self.prefixes.get(code).copied().unwrap_or('\u{E000}')
    }

    /// Counts an enabled article in or out of its group.
    fn count(&mut self, code: usize, enabled: bool, delta: isize) {
        if let (true, Some(live)) = (enabled, self.live.get_mut(code)) {
            *live = live.saturating_add_signed(delta);
        }
    }
}

/// One phrasing of an article, with its interned terms for rescoring.
#[derive(Debug)]
struct Phrasing {
    /// Which text of the article: 0 for the standard question, `i` for `similar[i - 1]`.
    source: usize,
    terms: Packed,
}

/// An article with its phrasings: the standard question first, then the similar ones, without
/// duplicates (after normalization) or blank ones; and its answer's term ids.
#[derive(Debug)]
struct Entry {
    article: Article,
    /// The code of the article's language group ([`Langs`]).
    lang: usize,
    /// The script of the article's locale, for [`CROSS_SCRIPT_FACTOR`].
    script: Script,
    /// The phrasings (none when the article is disabled).
    phrasings: Vec<Phrasing>,
    /// The term ids of the answer, sorted: weak evidence for the words a customer uses that no
    /// phrasing has ("visa", "杭州").
    answer: Box<[TermId]>,
}

impl Entry {
    /// The text of a phrasing.
    fn text(&self, phrasing: &Phrasing) -> &str {
        match phrasing.source.checked_sub(1) {
            None => &self.article.question,
            Some(i) => self
                .article
                .similar
                .get(i)
                .map_or(&self.article.question, |s| s),
        }
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

/// A validated article with its texts analyzed, ready to be interned and indexed.
struct Analyzed {
    article: Article,
    lang: String,
    /// (source, analysis) of each phrasing; empty for a disabled article.
    phrasings: Vec<(usize, Analysis)>,
    answer: Analysis,
}

impl Analyzed {
    /// Validates an article and analyzes its phrasings and answer (none for a disabled
    /// article, which takes no part in search).
    fn build(article: Article, analyzers: &mut Analyzers) -> Result<Self, KbError> {
        validate(&article)?;
        let lang = lang_of(&article.locale);
        let mut phrasings = Vec::new();
        let mut answer = Analysis::default();
        if article.enabled {
            let mut seen = HashSet::new();
            for (source, text) in std::iter::once(&article.question)
                .chain(&article.similar)
                .enumerate()
            {
                let normalized = crate::normalize(text);
                if normalized.is_empty() || !seen.insert(normalized) {
                    continue;
                }
                phrasings.push((source, analyzers.run(text)));
            }
            answer = analyzers.run(&article.answer);
        }
        Ok(Self {
            article,
            lang,
            phrasings,
            answer,
        })
    }
}

/// Articles analyzed per chunk by [`analyze_all`]'s workers.
const ANALYSIS_CHUNK: usize = 64;

/// Validates and analyzes `articles` (text analysis is most of the cost of indexing) on every
/// core, handing them to `f` one by one in their order, so the index is the same whatever the
/// number of threads. Stops at the first error.
fn analyze_all(
    articles: Vec<Article>,
    mut f: impl FnMut(Analyzed) -> Result<(), KbError>,
) -> Result<(), KbError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(8);
    if workers < 2 || articles.len() < 4 * ANALYSIS_CHUNK {
        let mut analyzers = Analyzers::new();
        for article in articles {
            f(Analyzed::build(article, &mut analyzers)?)?;
        }
        return Ok(());
    }
    let mut chunks: Vec<Vec<Article>> = Vec::new();
    let mut articles = articles.into_iter().peekable();
    while articles.peek().is_some() {
        chunks.push(articles.by_ref().take(ANALYSIS_CHUNK).collect());
    }
    let queue = Mutex::new(chunks.into_iter().enumerate());
    std::thread::scope(|scope| {
        // Bounded, so the workers stay a few chunks ahead of the indexing.
        let (sender, receiver) =
            mpsc::sync_channel::<(usize, Result<Vec<Analyzed>, KbError>)>(2 * workers);
        for _ in 0..workers {
            let sender = sender.clone();
            let queue = &queue;
            scope.spawn(move || {
                let mut analyzers = Analyzers::new();
                loop {
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some((ix, chunk)) = next else {
                        break;
                    };
                    let analyzed = chunk
                        .into_iter()
                        .map(|article| Analyzed::build(article, &mut analyzers))
                        .collect();
                    // The receiver is gone after an error: stop.
                    if sender.send((ix, analyzed)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        // Chunks arrive in any order; hand them on in theirs. On an early return the receiver
        // is dropped, which stops the workers before the scope joins them.
        let mut pending: BTreeMap<usize, Result<Vec<Analyzed>, KbError>> = BTreeMap::new();
        let mut next = 0;
        for (ix, analyzed) in receiver {
            pending.insert(ix, analyzed);
            while let Some(analyzed) = pending.remove(&next) {
                next += 1;
                for article in analyzed? {
                    f(article)?;
                }
            }
        }
        Ok(())
    })
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

/// Name under which [`TokenListTokenizer`] is registered: the tokenizer of every text field.
const TOKEN_LIST_TOKENIZER: &str = "kb_token_list";

/// Separates the tokens of a [`token_list`].
const TOKEN_SEPARATOR: char = '\u{1}';

/// Appends one indexed term: the language prefix, then the token (any [`TOKEN_SEPARATOR`] in it,
/// which jieba never produces, replaced so the list stays well-formed). Queries build their terms
/// the same way.
fn push_term(out: &mut String, prefix: char, token: &str) {
    out.push(prefix);
    if token.contains(TOKEN_SEPARATOR) {
        out.extend(token.chars().map(|c| {
            if c == TOKEN_SEPARATOR {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        }));
    } else {
        out.push_str(token);
    }
}

/// The text given to the index for a field: the already analyzed tokens, each behind the
/// language prefix, joined by [`TOKEN_SEPARATOR`]; [`TokenListTokenizer`] splits it back.
///
/// (Cheaper than tantivy's `PreTokenizedString`, which a `TantivyDocument` keeps as JSON.)
fn token_list<'a>(prefix: char, tokens: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for token in tokens {
        if !out.is_empty() {
            out.push(TOKEN_SEPARATOR);
        }
        push_term(&mut out, prefix, token);
    }
    out
}

/// Splits a [`token_list`] back into its tokens.
#[derive(Clone, Copy, Default)]
struct TokenListTokenizer;

impl Tokenizer for TokenListTokenizer {
    type TokenStream<'a> = TokenListStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> TokenListStream<'a> {
        TokenListStream {
            parts: text.split(TOKEN_SEPARATOR),
            token: Token::default(),
            position: 0,
        }
    }
}

/// The token stream of [`TokenListTokenizer`].
struct TokenListStream<'a> {
    parts: std::str::Split<'a, char>,
    token: Token,
    position: usize,
}

impl TokenStream for TokenListStream<'_> {
    fn advance(&mut self) -> bool {
        for part in self.parts.by_ref() {
            if part.is_empty() {
                continue;
            }
            self.token.text.clear();
            self.token.text.push_str(part);
            self.token.position = self.position;
            self.position += 1;
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Everything behind the lock: the index writer and reader, the articles and the term
/// statistics, always changed together.
struct Inner {
    writer: IndexWriter,
    reader: IndexReader,
    fields: Fields,
    langs: Langs,
    /// Article id -> slot.
    ids: FxHashMap<String, u32>,
    /// The articles by slot (the slot field of their documents); `None` for a free slot.
    slots: Vec<Option<Entry>>,
    /// Free slots, reused by later articles.
    free: Vec<u32>,
    stats: Stats,
}

impl Inner {
    /// An empty knowledge base backed by a fresh RAM index.
    fn create() -> Result<Self, KbError> {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        index
            .tokenizers()
            .register(TOKEN_LIST_TOKENIZER, TokenListTokenizer);
        let writer: IndexWriter = index.writer_with_num_threads(1, WRITER_MEMORY_BYTES)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            writer,
            reader,
            fields,
            langs: Langs::default(),
            ids: FxHashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            stats: Stats::default(),
        })
    }

    /// The slot of an article id: its current one, else a free one.
    fn slot_for(&self, id: &str) -> u32 {
        if let Some(&slot) = self.ids.get(id) {
            return slot;
        }
        match self.free.last() {
            Some(&slot) => slot,
            None => u32::try_from(self.slots.len()).unwrap_or(u32::MAX),
        }
    }

    /// Interns an analyzed article into an entry and queues its documents in the writer (one
    /// per phrasing, and one for the answer of an enabled article), under `slot`.
    fn stage(&mut self, analyzed: Analyzed, slot: u32) -> Result<Entry, KbError> {
        let Analyzed {
            article,
            lang,
            phrasings,
            answer,
        } = analyzed;
        let code = self
            .langs
            .code(&lang)
            .map_err(|reason| KbError::InvalidArticle {
                id: article.id.clone(),
                reason,
            })?;
        let prefix = self.langs.prefix(code);
        let f = self.fields;
        let mut interned = Vec::with_capacity(phrasings.len());
        for (source, analysis) in &phrasings {
            let mut doc = TantivyDocument::default();
            doc.add_u64(f.slot, u64::from(slot));
            doc.add_text(f.words, token_list(prefix, analysis.word_tokens()));
            doc.add_text(f.bigrams, token_list(prefix, analysis.cjk_tokens()));
            self.writer.add_document(doc)?;
            interned.push(Phrasing {
                source: *source,
                terms: self.stats.intern_packed(analysis),
            });
        }
        if article.enabled {
            let mut doc = TantivyDocument::default();
            doc.add_u64(f.slot, u64::from(slot));
            doc.add_text(f.answer_words, token_list(prefix, answer.word_tokens()));
            self.writer.add_document(doc)?;
        }
        let script = Script::of_locale(&article.locale);
        Ok(Entry {
            article,
            lang: code,
            script,
            phrasings: interned,
            answer: self.stats.intern_ids(&answer),
        })
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

    /// Records a committed entry in `slot` (replacing the article of the same id) in the maps,
    /// the language counts and the statistics; [`Stats::refresh`] is left to the caller.
    fn put_entry(&mut self, slot: u32, entry: Entry) {
        self.forget_entry(&entry.article.id);
        for p in entry.searchable() {
            self.stats.add(&p.terms);
        }
        self.langs.count(entry.lang, entry.article.enabled, 1);
        if let Some(pos) = self.free.iter().rposition(|&s| s == slot) {
            self.free.swap_remove(pos);
        }
        let ix = slot as usize;
        if self.slots.len() <= ix {
            self.slots.resize_with(ix + 1, || None);
        }
        self.ids.insert(entry.article.id.clone(), slot);
        if let Some(place) = self.slots.get_mut(ix) {
            *place = Some(entry);
        }
    }

    /// Removes an entry from the maps, the language counts and the statistics, freeing its
    /// slot; [`Stats::refresh`] is left to the caller.
    fn forget_entry(&mut self, id: &str) {
        let Some(slot) = self.ids.remove(id) else {
            return;
        };
        let old = self.slots.get_mut(slot as usize).and_then(Option::take);
        if let Some(old) = old {
            for p in old.searchable() {
                self.stats.remove(&p.terms);
            }
            self.langs.count(old.lang, old.article.enabled, -1);
        }
        self.free.push(slot);
    }

    /// The entry in a slot.
    fn entry(&self, slot: u32) -> Option<&Entry> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// The term of a slot, to delete its documents.
    fn slot_term(&self, slot: u32) -> Term {
        Term::from_field_u64(self.fields.slot, u64::from(slot))
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
        Ok(Self {
            inner: RwLock::new(Inner::create()?),
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
    /// All articles are validated first: on error nothing changes. The new content is indexed
    /// on the side (searches keep running on the old one) and swapped in at the end.
    pub fn replace_all(&self, articles: impl IntoIterator<Item = Article>) -> Result<(), KbError> {
        let articles: Vec<Article> = articles.into_iter().collect();
        articles.iter().try_for_each(validate)?;
        // The last article of each id wins.
        let mut last: FxHashMap<&str, usize> = FxHashMap::default();
        for (i, article) in articles.iter().enumerate() {
            last.insert(&article.id, i);
        }
        let keep: Vec<bool> = articles
            .iter()
            .enumerate()
            .map(|(i, a)| last.get(a.id.as_str()) == Some(&i))
            .collect();
        drop(last);

        let mut fresh = Inner::create()?;
        // Bulk load: one segment merge at the end instead of merges along the way.
        fresh.writer.set_merge_policy(Box::new(NoMergePolicy));
        let kept: Vec<Article> = articles
            .into_iter()
            .zip(keep)
            .filter_map(|(article, keep)| keep.then_some(article))
            .collect();
        analyze_all(kept, |analyzed| {
            let slot = fresh.slot_for(&analyzed.article.id);
            let entry = fresh.stage(analyzed, slot)?;
            fresh.put_entry(slot, entry);
            Ok(())
        })?;
        fresh.writer.commit()?;
        let segments = fresh.writer.index().searchable_segment_ids()?;
        if segments.len() > 1 {
            fresh.writer.merge(&segments).wait()?;
        }
        fresh
            .writer
            .set_merge_policy(Box::new(LogMergePolicy::default()));
        fresh.reader.reload()?;
        fresh.stats.refresh();

        let old = {
            let mut inner = self.write();
            tracing::debug!(articles = fresh.ids.len(), "kb: index rebuilt");
            std::mem::replace(&mut *inner, fresh)
        };
        // The old index (and its writer's threads) go away outside the lock.
        drop(old);
        Ok(())
    }

    /// Inserts an article, or replaces the article with the same id (its old phrasings stop
    /// matching). The change is searchable when this returns.
    pub fn upsert(&self, article: Article) -> Result<(), KbError> {
        let analyzed = Analyzers::with_local(|analyzers| Analyzed::build(article, analyzers))?;
        let mut inner = self.write();
        let slot = inner.slot_for(&analyzed.article.id);
        let delete = inner.slot_term(slot);
        inner.writer.delete_term(delete);
        let entry = match inner.stage(analyzed, slot) {
            Ok(entry) => entry,
            Err(err) => {
                inner.rollback();
                return Err(err);
            }
        };
        inner.commit()?;
        inner.put_entry(slot, entry);
        inner.stats.refresh();
        Ok(())
    }

    /// Removes the article with this id; removing an unknown id is not an error.
    pub fn remove(&self, id: &str) -> Result<(), KbError> {
        let mut inner = self.write();
        let Some(&slot) = inner.ids.get(id) else {
            return Ok(());
        };
        let delete = inner.slot_term(slot);
        inner.writer.delete_term(delete);
        inner.commit()?;
        inner.forget_entry(id);
        inner.stats.refresh();
        Ok(())
    }

    /// The number of articles held, disabled ones included.
    pub fn len(&self) -> usize {
        self.read().ids.len()
    }

    /// Whether no article is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The article with this id, if held (disabled ones included).
    pub fn get(&self, id: &str) -> Option<Article> {
        let inner = self.read();
        let slot = *inner.ids.get(id)?;
        inner.entry(slot).map(|e| e.article.clone())
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
        let query = match query.char_indices().nth(MAX_QUERY_CHARS) {
            Some((cut, _)) => &query[..cut],
            None => query,
        };
        let terms = TermSet::analyze(query);
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let lang = locale.map(lang_of).filter(|lang| !lang.is_empty());

        let inner = self.read();
        // The language groups searched: the locale's, or every group with articles.
        let prefixes: Vec<char> = match &lang {
            Some(lang) => match inner.langs.codes.get(lang) {
                Some(&code) => vec![inner.langs.prefix(code)],
                None => Vec::new(),
            },
            None => (0..inner.langs.prefixes.len())
                .filter(|&code| inner.langs.live.get(code).is_some_and(|&n| n > 0))
                .map(|code| inner.langs.prefix(code))
                .collect(),
        };
        if prefixes.is_empty() {
            return Ok(Vec::new());
        }
        let depth = RETRIEVAL_DEPTH.max(limit.saturating_mul(5));
        let candidates = retrieve(&inner, &terms, &prefixes, depth)?;
        if candidates.is_empty() {
            return Ok(Vec::new());
        }

        // The script prior only arbitrates between languages when no locale filter chose one.
        let query_script = if lang.is_some() {
            None
        } else {
            Script::of_text(query)
        };
        let query = Weighted::new(&terms, &inner.stats);
        let mut scratch = Weighted::default();
        let mut in_vocabulary = vec![false; query.len()];
        // (score, bm25, slot, phrasing index)
        let mut scored: Vec<(f32, f32, u32, usize)> = Vec::with_capacity(candidates.len());
        for (slot, bm25) in candidates {
            let Some(entry) = inner.entry(slot) else {
                continue;
            };
            in_vocabulary.fill(false);
            // The best phrasing by Dice (the first one on ties: the standard question).
            let mut matched: Option<(usize, f32)> = None;
            for (ix, p) in entry.searchable().iter().enumerate() {
                let dice =
                    query.dice_packed(&p.terms, &inner.stats, &mut in_vocabulary, &mut scratch);
                if matched.is_none_or(|(_, best)| dice > best) {
                    matched = Some((ix, dice));
                }
            }
            let Some((ix, dice)) = matched else {
                continue;
            };
            let coverage = query.coverage_with_answer(&in_vocabulary, &entry.answer);
            let mut score = calibrated(dice, coverage);
            if query_script.is_some_and(|s| s != entry.script) {
                score *= CROSS_SCRIPT_FACTOR;
            }
            scored.push((score, bm25, slot, ix));
        }
        let id_of = |slot: u32| inner.entry(slot).map_or("", |e| e.article.id.as_str());
        scored.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then(b.1.total_cmp(&a.1))
                .then_with(|| id_of(a.2).cmp(id_of(b.2)))
        });
        let hits = scored
            .into_iter()
            .take(limit)
            .filter_map(|(score, bm25, slot, ix)| {
                let entry = inner.entry(slot)?;
                let phrasing = entry.searchable().get(ix)?;
                Some(Hit {
                    article_id: entry.article.id.clone(),
                    question: entry.article.question.clone(),
                    matched: entry.text(phrasing).to_string(),
                    answer: entry.article.answer.clone(),
                    category: entry.article.category.clone(),
                    score,
                    bm25,
                })
            })
            .collect();
        Ok(hits)
    }
}

/// Retrieves the candidate articles of a query with tantivy: the slots of the articles of the
/// `depth` best documents, each with the best BM25 of its documents.
///
/// The query is one flat disjunction of term queries (so tantivy runs it with block-WAND), in
/// the language groups of `prefixes`: the query's words, CJK bigrams and characters in the
/// phrasing fields, and (with a lower boost) the words no phrasing has in the answer fields:
/// an answer is evidence for the words customers use that no phrasing has ("visa", "杭州").
///
/// Terms that only matter for rescoring stay out, since on a large index their long postings
/// cost much and move no candidate that counts: function words and function-word bigrams
/// ("怎么", "吗", "了吗"; a query made only of them keeps them), characters of a bigram the
/// query has and some phrasing has ("快递" stands for "快" and "递"; characters still catch
/// typos such as "发获"), and bigrams or characters no phrasing has.
fn retrieve(
    inner: &Inner,
    terms: &TermSet,
    prefixes: &[char],
    depth: usize,
) -> Result<Vec<(u32, f32)>, KbError> {
    let f = inner.fields;
    let stats = &inner.stats;
    // (field, term text, whether it is a content term) of each candidate clause.
    let mut planned: Vec<(Field, &str, bool)> = Vec::with_capacity(terms.keys.len());
    for (key, _) in &terms.keys {
        let id = stats.lookup(key);
        let content = !id.map_or_else(|| is_stopword(key), |id| stats.is_stopword(id));
        let in_phrasings = id.is_some_and(|id| stats.df(id) > 0);
        if let Some(word) = key.strip_prefix(WORD_PREFIX) {
            let field = if in_phrasings {
                f.words
            } else {
                f.answer_words
            };
            planned.push((field, word, content));
        } else if !in_phrasings {
            continue;
        } else if let Some(bigram) = key.strip_prefix(BIGRAM_PREFIX) {
            planned.push((f.bigrams, bigram, content));
        } else if let Some(unigram) = key.strip_prefix(UNIGRAM_PREFIX) {
            // Function-word characters ("的", "吗") are left out in any case.
            if content {
                planned.push((f.bigrams, unigram, true));
            }
        }
    }
    let any_content = planned.iter().any(|p| p.2);
    // Whether a character is part of a content bigram of the query that some phrasing has.
    let covered = |unigram: &str| {
        planned.iter().any(|&(field, text, content)| {
            content && field == f.bigrams && text.len() > unigram.len() && text.contains(unigram)
        })
    };
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut text = String::new();
    for &(field, term_text, content) in &planned {
        if any_content && !content {
            continue;
        }
        let unigram = field == f.bigrams && term_text.chars().nth(1).is_none();
        if unigram && covered(term_text) {
            continue;
        }
        for &prefix in prefixes {
            text.clear();
            push_term(&mut text, prefix, term_text);
            let query = Box::new(TermQuery::new(
                Term::from_field_text(field, &text),
                IndexRecordOption::WithFreqs,
            ));
            if field == f.answer_words {
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(query, ANSWER_BOOST)),
                ));
            } else {
                clauses.push((Occur::Should, query));
            }
        }
    }
    if clauses.is_empty() {
        return Ok(Vec::new());
    }
    let query = BooleanQuery::new(clauses);
    let searcher = inner.reader.searcher();
    let stats = LangStats {
        searcher: &searcher,
        prefixes: &inner.langs.prefixes,
        cache: RefCell::new(FxHashMap::default()),
    };
    let top = searcher.search_with_statistics_provider(
        &query,
        &TopDocs::with_limit(depth).order_by_score(),
        &stats,
    )?;

    // The slot of each document, read from the fast field of its segment.
    let mut columns: Vec<Option<Column<u64>>> = Vec::new();
    let mut candidates: Vec<(u32, f32)> = Vec::with_capacity(top.len());
    for (bm25, address) in top {
        let ord = address.segment_ord as usize;
        if columns.len() <= ord {
            columns.resize_with(ord + 1, || None);
        }
        let Some(column) = columns.get_mut(ord) else {
            continue;
        };
        if column.is_none() {
            *column = Some(
                searcher
                    .segment_reader(address.segment_ord)
                    .fast_fields()
                    .u64(SLOT_FIELD)?,
            );
        }
        let slot = column
            .as_ref()
            .and_then(|c| c.first(address.doc_id))
            .and_then(|s| u32::try_from(s).ok());
        if let Some(slot) = slot {
            candidates.push((slot, bm25));
        }
    }
    // One candidate per article, with its best BM25.
    candidates.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    candidates.dedup_by_key(|c| c.0);
    Ok(candidates)
}

/// BM25 statistics as if the index had no language prefixes: the document frequency of a
/// prefixed term is the sum over every language group, like the frequency of the bare term in
/// an index without prefixes. Document and token counts are the searcher's.
struct LangStats<'a> {
    searcher: &'a Searcher,
    prefixes: &'a [char],
    /// (field, bare term text) -> summed document frequency, for this query.
    cache: RefCell<FxHashMap<(Field, String), u64>>,
}

impl Bm25StatisticsProvider for LangStats<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        Bm25StatisticsProvider::total_num_tokens(self.searcher, field)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Bm25StatisticsProvider::total_num_docs(self.searcher)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let field = term.field();
        let value = term.value();
        let Some(bare) = value.as_str().and_then(|t| {
            let mut chars = t.chars();
            chars.next().map(|_| chars.as_str())
        }) else {
            return self.searcher.doc_freq(term);
        };
        let key = (field, bare.to_string());
        if let Some(&df) = self.cache.borrow().get(&key) {
            return Ok(df);
        }
        let mut df = 0;
        let mut text = String::with_capacity(bare.len() + 4);
        for &prefix in self.prefixes {
            text.clear();
            text.push(prefix);
            text.push_str(bare);
            df += self
                .searcher
                .doc_freq(&Term::from_field_text(field, &text))?;
        }
        self.cache.borrow_mut().insert(key, df);
        Ok(df)
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

    #[test]
    fn language_groups_get_distinct_prefixes() {
        let mut langs = Langs::default();
        let zh = langs.code("zh").expect("code");
        let en = langs.code("en").expect("code");
        assert_eq!(langs.code("zh").expect("code"), zh);
        assert_ne!(langs.prefix(zh), langs.prefix(en));
        for code in 0..7000 {
            let lang = format!("l{code}");
            let c = langs.code(&lang).expect("code");
            assert!(!langs.prefix(c).is_alphanumeric());
        }
        let prefixes: HashSet<char> = langs.prefixes.iter().copied().collect();
        assert_eq!(prefixes.len(), langs.prefixes.len());
    }
}
