//! Text analysis: the two tantivy tokenizers, the analyzers built on them, and the term sets
//! used to compute calibrated similarity scores.
//!
//! Every path (indexing, querying, scoring) analyzes text through [`words_analyzer`] and
//! [`bigrams_analyzer`], so the terms looked up in the index and the terms compared by the
//! scorer are always produced the same way.

use std::collections::HashSet;
use std::sync::OnceLock;

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};
use tantivy_jieba::jieba_rs::{Jieba, TokenizeMode};

use crate::normalize::normalize;

/// Name under which the jieba word analyzer is registered in the index.
pub(crate) const WORDS_TOKENIZER: &str = "kb_words";
/// Name under which the CJK bigram analyzer is registered in the index.
pub(crate) const BIGRAMS_TOKENIZER: &str = "kb_cjk_bigrams";

/// Tokens longer than this many bytes are dropped (they are noise such as pasted hashes, and
/// tantivy limits term length anyway).
const MAX_TOKEN_BYTES: usize = 40;

/// Prefix of word terms in a [`TermSet`], so a word and a bigram with the same text stay distinct.
pub(crate) const WORD_PREFIX: &str = "w:";
/// Prefix of bigram terms in a [`TermSet`].
pub(crate) const BIGRAM_PREFIX: &str = "b:";

/// Builds the word analyzer: normalization, jieba segmentation (search mode), removal of
/// punctuation/emoji-only tokens, lowercasing and English stemming.
pub(crate) fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(JiebaWordTokenizer)
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Builds the CJK bigram analyzer: normalization, then overlapping character bigrams over every
/// run of CJK characters (a run of a single character yields that character).
pub(crate) fn bigrams_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(CjkBigramTokenizer).build()
}

/// Runs an analyzer and collects the token texts (in order, duplicates kept).
pub(crate) fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
    }
    out
}

/// A token stream over tokens computed up front (our tokenizers normalize the text first, so
/// they own the text the tokens come from).
///
/// Token offsets refer to the normalized text; the index records no offsets, so they are only
/// informative.
pub(crate) struct VecTokenStream {
    tokens: std::vec::IntoIter<Token>,
    current: Token,
}

impl VecTokenStream {
    fn new(tokens: Vec<Token>) -> Self {
        Self {
            tokens: tokens.into_iter(),
            current: Token::default(),
        }
    }
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        match self.tokens.next() {
            Some(token) => {
                self.current = token;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &Token {
        &self.current
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

/// E-commerce words missing from jieba's general dictionary. Without them jieba cuts
/// "满多少钱包邮" as "钱包|邮" and "退货运费" as "退|货运|运费"; with them the word field carries
/// the terms customers actually mean. Each gets the frequency jieba suggests to keep it whole.
const DOMAIN_WORDS: &[&str] = &[
    "包邮",
    "运费险",
    "邮费",
    "专票",
    "普票",
    "电子发票",
    "开发票",
    "满减",
    "花呗",
    "白条",
    "到账",
    "原路退回",
    "顺丰",
    "中通",
    "圆通",
    "韵达",
    "申通",
    "京东",
    "菜鸟",
    "充电宝",
    "无理由",
    "七天无理由",
    "7天无理由",
    "领券",
    "催单",
    "催发货",
    "机洗",
    "偏小",
    "偏大",
    "大一码",
    "小一码",
    "大半码",
    "尺码表",
    "鞋码",
    "价保",
    "保价",
    "退差价",
    "补差价",
    "微信支付",
    "自提",
    "人工客服",
    "转人工",
    "真人",
    "差评",
    "漏发",
    "错发",
    "少发",
    "丢件",
    "补发",
    "改地址",
    "收货地址",
    "待发货",
    "待付款",
    "已签收",
    "已发货",
    "未发货",
    "退换货",
    "售后",
    "快递员",
    "物流信息",
    "运单号",
    "订单号",
    "拍错",
    "拍下",
    "下单",
    "合并发货",
    "在吗",
    "哈喽",
    "亲亲",
    "么么哒",
];

/// The shared jieba instance: the default dictionary plus [`DOMAIN_WORDS`], loaded once.
fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(|| {
        let mut jieba = Jieba::new();
        for word in DOMAIN_WORDS {
            jieba.add_word(word, None, None);
        }
        jieba
    })
}

/// Jieba word segmentation over normalized text, keeping only tokens that contain at least one
/// letter or digit (so spaces, punctuation and emoji never become terms).
///
/// It uses the jieba-rs re-exported by `tantivy_jieba` (the engine of its `JiebaTokenizer`)
/// directly, through one shared instance with a domain dictionary, because
/// `JiebaTokenizer::with_jieba` would copy the whole dictionary every time an analyzer is
/// built. Jieba runs in search mode (long words also yield their dictionary sub-words) without
/// HMM new-word discovery: on short customer questions the HMM invents words across real word
/// boundaries ("订单能改" -> "单能", "能改"), while unknown words split into characters are
/// still matched through the bigram field.
#[derive(Clone, Copy, Default)]
pub(crate) struct JiebaWordTokenizer;

impl Tokenizer for JiebaWordTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let normalized = normalize(text);
        let mut tokens = Vec::new();
        for word in jieba().tokenize(&normalized, TokenizeMode::Search, false) {
            if word.word.chars().any(char::is_alphanumeric) {
                tokens.push(Token {
                    offset_from: word.byte_start,
                    offset_to: word.byte_end,
                    position: tokens.len(),
                    text: word.word.to_string(),
                    position_length: 1,
                });
            }
        }
        VecTokenStream::new(tokens)
    }
}

/// Emits overlapping bigrams of CJK characters over normalized text, so that a query still
/// matches when jieba segments it differently from the indexed phrasing. A CJK run of a single
/// character emits that character. Non-CJK text is ignored (the word field covers it).
#[derive(Clone, Copy, Default)]
pub(crate) struct CjkBigramTokenizer;

impl Tokenizer for CjkBigramTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let normalized = normalize(text);
        let mut tokens = Vec::new();
        // The current CJK run as (byte offset, char) pairs.
        let mut run: Vec<(usize, char)> = Vec::new();
        for (offset, c) in normalized.char_indices() {
            if is_cjk(c) {
                run.push((offset, c));
            } else {
                flush_run(&run, &mut tokens);
                run.clear();
            }
        }
        flush_run(&run, &mut tokens);
        VecTokenStream::new(tokens)
    }
}

/// Turns one run of CJK characters into bigram tokens (or a unigram for a run of one).
fn flush_run(run: &[(usize, char)], tokens: &mut Vec<Token>) {
    let mut push = |from: usize, to: usize, text: String| {
        let position = tokens.len();
        tokens.push(Token {
            offset_from: from,
            offset_to: to,
            position,
            text,
            position_length: 1,
        });
    };
    match run {
        [] => {}
        [(offset, c)] => push(*offset, offset + c.len_utf8(), c.to_string()),
        _ => {
            for pair in run.windows(2) {
                if let [(from, a), (b_offset, b)] = pair {
                    push(*from, b_offset + b.len_utf8(), [*a, *b].iter().collect());
                }
            }
        }
    }
}

/// Whether a character is a CJK ideograph (or kana/hangul, which are treated the same way).
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(
        c,
        '\u{3040}'..='\u{30FF}'   // Hiragana and Katakana.
        | '\u{3400}'..='\u{4DBF}' // CJK Extension A.
        | '\u{4E00}'..='\u{9FFF}' // CJK Unified Ideographs.
        | '\u{AC00}'..='\u{D7AF}' // Hangul syllables.
        | '\u{F900}'..='\u{FAFF}' // CJK Compatibility Ideographs.
        | '\u{20000}'..='\u{3134F}' // CJK Extensions B..G.
    )
}

/// The analyzed form of one piece of text: its distinct word terms and CJK bigram terms, and
/// the prefixed term keys used for scoring.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TermSet {
    /// Distinct word terms (jieba words, stemmed English words), sorted.
    pub words: Vec<String>,
    /// Distinct CJK bigrams (or lone CJK characters), sorted.
    pub bigrams: Vec<String>,
    /// Every term as a prefixed key (`w:` or `b:`) with its local weight factor: 1.0, or
    /// [`BRIDGE_WEIGHT`] for a bigram that only straddles a word boundary in this text. Sorted
    /// by key, keys distinct.
    pub keys: Vec<(String, f32)>,
}

/// A token's text and byte span in the normalized text.
struct Span {
    text: String,
    from: usize,
    to: usize,
}

/// Runs an analyzer and collects the tokens with their spans.
fn spans(analyzer: &mut TextAnalyzer, text: &str) -> Vec<Span> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(token) = stream.next() {
        out.push(Span {
            text: token.text.clone(),
            from: token.offset_from,
            to: token.offset_to,
        });
    }
    out
}

/// Whether a bigram straddles a word boundary: no word of the text contains both of its
/// characters ("看看|包裹" -> "看包").
///
/// This also holds for an unknown word that jieba split into single characters; it is then
/// downweighted on both sides alike (query and phrasing), and its characters still match as
/// words.
fn is_bridge(bigram: &Span, words: &[Span]) -> bool {
    !words
        .iter()
        .any(|w| w.from <= bigram.from && bigram.to <= w.to)
}

impl TermSet {
    /// Analyzes `text` with fresh analyzers.
    pub fn analyze(text: &str) -> Self {
        Self::analyze_with(&mut words_analyzer(), &mut bigrams_analyzer(), text)
    }

    /// Analyzes `text` with the given analyzers (avoids rebuilding them in loops).
    pub fn analyze_with(words: &mut TextAnalyzer, bigrams: &mut TextAnalyzer, text: &str) -> Self {
        // Both analyzers normalize the same way, so their offsets index the same string.
        let word_spans = spans(words, text);
        let bigram_spans = spans(bigrams, text);
        let mut keys: Vec<(String, f32)> = Vec::new();
        for w in &word_spans {
            keys.push((format!("{WORD_PREFIX}{}", w.text), 1.0));
        }
        for b in &bigram_spans {
            let factor = if is_bridge(b, &word_spans) {
                BRIDGE_WEIGHT
            } else {
                1.0
            };
            keys.push((format!("{BIGRAM_PREFIX}{}", b.text), factor));
        }
        // Sort by key, highest factor first, so dedup keeps the highest factor of each key.
        keys.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        keys.dedup_by(|later, earlier| later.0 == earlier.0);

        let mut words: Vec<String> = word_spans.into_iter().map(|s| s.text).collect();
        words.sort_unstable();
        words.dedup();
        let mut bigrams: Vec<String> = bigram_spans.into_iter().map(|s| s.text).collect();
        bigrams.sort_unstable();
        bigrams.dedup();
        Self {
            words,
            bigrams,
            keys,
        }
    }

    /// Whether the text produced no term at all (blank, punctuation, emoji...).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The prefixed term keys, sorted.
    pub fn key_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.keys.iter().map(|(k, _)| k.as_str())
    }
}

/// Weight multiplier for a CJK bigram that straddles a jieba word boundary in its text (the
/// "看包" of "看看包裹", see [`is_bridge`]): such bigrams are mostly noise, but they rescue
/// segmentation mistakes ("钱包|邮" still shares "包邮" with "满多少包邮"), so they count a
/// little.
pub(crate) const BRIDGE_WEIGHT: f32 = 0.3;

/// Weight multiplier for function words ("the", "how", "的", "吗", "怎么"...): they still count,
/// so a phrasing made only of them matches itself, but they barely move the score.
pub(crate) const STOPWORD_WEIGHT: f32 = 0.15;

/// English function words (analyzed with the word analyzer at first use, so they match the
/// stemmed terms).
const EN_STOPWORDS: &[&str] = &[
    "a", "an", "the", "i", "me", "my", "mine", "you", "your", "we", "our", "us", "it", "its",
    "they", "them", "their", "he", "she", "him", "her", "is", "are", "am", "was", "were", "be",
    "been", "being", "do", "does", "did", "done", "can", "could", "would", "will", "shall",
    "should", "may", "might", "must", "have", "has", "had", "to", "of", "in", "on", "at", "for",
    "with", "from", "by", "about", "into", "and", "or", "but", "if", "so", "not", "no", "what",
    "how", "when", "where", "why", "which", "who", "whom", "this", "that", "these", "those",
    "there", "here", "please", "pls", "plz", "just", "any", "some", "get", "got", "s", "t", "m",
    "re", "ve", "ll", "d", "im", "dont", "cant", "hey", "ok", "okay", "yes", "want", "need",
    "know", "tell", "like", "one", "much", "many", "long", "thing", "way", "also", "then", "than",
    "too", "very", "still", "yet", "now", "all", "up", "out", "as", "again",
];

/// Chinese function words and question particles.
const ZH_STOPWORDS: &[&str] = &[
    "的",
    "了",
    "吗",
    "呢",
    "吧",
    "啊",
    "呀",
    "哦",
    "嘛",
    "么",
    "啦",
    "哈",
    "嗯",
    "喔",
    "哇",
    "亲",
    "亲亲",
    "我",
    "你",
    "您",
    "我们",
    "你们",
    "他",
    "她",
    "它",
    "咱",
    "是",
    "有",
    "在",
    "能",
    "会",
    "要",
    "想",
    "可以",
    "可",
    "能不能",
    "可不可以",
    "是不是",
    "有没有",
    "请问",
    "请",
    "问",
    "问下",
    "问一下",
    "一下",
    "下",
    "怎么",
    "怎么样",
    "怎样",
    "咋",
    "咋样",
    "如何",
    "什么",
    "啥",
    "为什么",
    "为啥",
    "多少",
    "哪",
    "哪里",
    "哪儿",
    "这",
    "那",
    "这个",
    "那个",
    "个",
    "就",
    "都",
    "也",
    "还",
    "和",
    "跟",
    "给",
    "把",
    "被",
    "让",
    "一",
    "一个",
    "吗亲",
    "我的",
    "你的",
    "你们的",
    "现在",
    "然后",
    "还是",
    "或者",
    "么样",
    "不",
    "没",
    "得",
    "地",
    "着",
    "过",
    "对",
    "从",
    "到",
    "又",
    "再",
    "很",
    "太",
    "好像",
    "这样",
    "那样",
    "一般",
    "帮",
    "帮我",
    "帮忙",
    "看看",
    "看",
    "现在",
    "麻烦",
    "一些",
    "点",
    "自己",
    "东西",
];

/// The set of stopword term keys (prefixed), built once.
fn stopword_keys() -> &'static HashSet<String> {
    static KEYS: OnceLock<HashSet<String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut words = words_analyzer();
        let mut set = HashSet::new();
        for w in EN_STOPWORDS {
            for t in tokens(&mut words, w) {
                set.insert(format!("{WORD_PREFIX}{t}"));
            }
        }
        for w in ZH_STOPWORDS {
            set.insert(format!("{WORD_PREFIX}{w}"));
            set.insert(format!("{BIGRAM_PREFIX}{w}"));
        }
        set
    })
}

/// Single characters that make a bigram a function-word bigram when both of its characters are
/// in this set (e.g. "我的", "了吗", "在吗").
const ZH_FUNCTION_CHARS: &str =
    "的了吗呢吧啊呀哦嘛么啦哈嗯亲我你您是有在能会要想可请问一下这那个就都也还和跟给把被让怎啥哪";

/// Sentence particles: a bigram containing one ("货啊", "么退") straddles a word boundary and
/// carries no meaning of its own.
const ZH_PARTICLES: &str = "吗呢吧啊呀哦嘛么啦哈嗯呗哇噢";

/// Whether a prefixed term key is a function word.
pub(crate) fn is_stopword(key: &str) -> bool {
    if stopword_keys().contains(key) {
        return true;
    }
    if let Some(bigram) = key.strip_prefix(BIGRAM_PREFIX) {
        return bigram.chars().count() == 2
            && (bigram.chars().all(|c| ZH_FUNCTION_CHARS.contains(c))
                || bigram.chars().any(|c| ZH_PARTICLES.contains(c)));
    }
    false
}

/// Weight multiplier for CJK bigrams relative to words: bigrams are the safety net for
/// segmentation mistakes, and half of them straddle word boundaries, so they count less.
pub(crate) const BIGRAM_WEIGHT: f32 = 0.5;

/// Whether a prefixed term key is a CJK bigram (including a lone CJK character).
pub(crate) fn is_bigram(key: &str) -> bool {
    key.starts_with(BIGRAM_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigram_tokenizer_emits_overlapping_cjk_bigrams_only() {
        let mut a = bigrams_analyzer();
        assert_eq!(
            tokens(&mut a, "快递到哪了"),
            vec!["快递", "递到", "到哪", "哪了"]
        );
        assert_eq!(
            tokens(&mut a, "亲, iPhone 充电器?"),
            vec!["亲", "充电", "电器"]
        );
        assert!(tokens(&mut a, "hello world 🙂 。。。").is_empty());
    }

    #[test]
    fn word_tokenizer_segments_chinese_and_stems_english() {
        let mut a = words_analyzer();
        let zh = tokens(&mut a, "我的快递到哪了？");
        assert!(zh.contains(&"快递".to_string()), "{zh:?}");
        assert!(zh.iter().all(|t| t != "?" && t != " "), "{zh:?}");
        let en = tokens(&mut a, "Returning ＳＨＯＥＳ, please!");
        assert_eq!(en, vec!["return", "shoe", "pleas"]);
    }

    #[test]
    fn word_tokenizer_drops_punctuation_and_emoji() {
        let mut a = words_analyzer();
        assert!(tokens(&mut a, "🙂 。。。 ?!:\"()").is_empty());
    }

    #[test]
    fn bigrams_across_word_boundaries_weigh_less() {
        let terms = TermSet::analyze("看看包裹");
        let factor = |key: &str| terms.keys.iter().find(|(k, _)| k == key).map(|(_, f)| *f);
        assert_eq!(factor("b:包裹"), Some(1.0));
        assert_eq!(factor("b:看包"), Some(BRIDGE_WEIGHT));
    }

    #[test]
    fn domain_words_stay_whole() {
        let mut a = words_analyzer();
        for (text, word) in [
            ("满多少包邮", "包邮"),
            ("有运费险吗", "运费险"),
            ("能开专票吗", "专票"),
        ] {
            assert!(tokens(&mut a, text).contains(&word.to_string()), "{text}");
        }
    }

    #[test]
    fn stopwords_are_recognised_after_stemming() {
        assert!(is_stopword("w:the"));
        assert!(is_stopword("w:pleas"));
        assert!(is_stopword("w:吗"));
        assert!(is_stopword("b:我的"));
        assert!(is_stopword("b:在吗"));
        assert!(!is_stopword("w:return"));
        assert!(!is_stopword("b:快递"));
    }
}
