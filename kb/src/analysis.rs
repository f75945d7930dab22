//! Text analysis: the two tantivy tokenizers, the analyzers built on them, and the term sets
//! used to compute calibrated similarity scores.
//!
//! Every path (indexing, querying, scoring) analyzes text through [`Analyzers`], which gives
//! the tokens of [`words_analyzer`] and [`bigrams_analyzer`] while preparing the text only once,
//! so the terms indexed, the terms looked up in the index and the terms compared by the scorer
//! are always produced the same way.

use std::collections::HashSet;
use std::sync::OnceLock;

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};
use tantivy_jieba::jieba_rs::{Jieba, TokenizeMode};

use crate::normalize::normalize;

/// Tokens longer than this many bytes are dropped (they are noise such as pasted hashes, and
/// tantivy limits term length anyway).
const MAX_TOKEN_BYTES: usize = 40;

/// Prefix of word terms in a [`TermSet`], so a word and a bigram with the same text stay distinct.
pub(crate) const WORD_PREFIX: &str = "w:";
/// Prefix of bigram terms in a [`TermSet`].
pub(crate) const BIGRAM_PREFIX: &str = "b:";
/// Prefix of CJK single-character terms in a [`TermSet`].
pub(crate) const UNIGRAM_PREFIX: &str = "u:";

/// Builds the word analyzer: normalization and vocabulary mapping ([`prepare`]), jieba
/// segmentation (search mode), removal of punctuation/emoji-only tokens, English synonym
/// folding, lowercasing and English stemming.
pub(crate) fn words_analyzer() -> TextAnalyzer {
    with_word_filters(JiebaWordTokenizer)
}

/// The word analyzer's filters over a tokenizer: long-token removal, lowercasing, English
/// stemming.
fn with_word_filters<T: Tokenizer>(tokenizer: T) -> TextAnalyzer {
    TextAnalyzer::builder(tokenizer)
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Builds the CJK character analyzer: normalization and vocabulary mapping ([`prepare`]), then
/// every CJK character (unigram) and overlapping character bigrams over every run of CJK
/// characters. (The reference for [`Analyzers`], which prepares the text once for both.)
#[cfg(test)]
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

/// Taiwan and Hong Kong shopping words, after Traditional -> Simplified folding, mapped to the
/// mainland words of the knowledge base (the character table turns "出貨" into "出货", but the
/// mainland customer writes "发货"). Longest first, so a longer phrase wins over its parts.
const REGIONAL_WORDS: &[(&str, &str)] = &[
    ("超商取货", "自提"),
    ("统一编号", "税号"),
    ("客服专线", "客服电话"),
    ("折价券", "优惠券"),
    ("优惠代码", "优惠券"),
    ("出货", "发货"),
    ("到帐", "到账"),
    ("帐号", "账号"),
    ("帐户", "账户"),
    ("保固", "保修"),
    ("客诉", "投诉"),
    ("宅配", "快递"),
    ("统编", "税号"),
    ("退费", "退款"),
    ("品质", "质量"),
    ("订购", "下单"),
];

/// English shopping words typed inside Chinese text ("coupon怎么用", "能开invoice吗"), with the
/// Chinese word of the knowledge base that is added after them. Keys are lowercase; two-word
/// keys are matched before one-word ones.
const CODE_MIXED_WORDS: &[(&str, &str)] = &[
    ("credit card", "信用卡"),
    ("customer service", "客服"),
    ("real person", "人工"),
    ("power bank", "充电宝"),
    ("price protection", "价保"),
    ("wechat pay", "微信支付"),
    ("sf express", "顺丰"),
    ("size chart", "尺码表"),
    ("order", "订单"),
    ("orders", "订单"),
    ("coupon", "优惠券"),
    ("coupons", "优惠券"),
    ("voucher", "优惠券"),
    ("discount", "优惠"),
    ("discounts", "优惠"),
    ("promo", "优惠"),
    ("sale", "活动"),
    ("refund", "退款"),
    ("refunds", "退款"),
    ("return", "退货"),
    ("returns", "退货"),
    ("exchange", "换货"),
    ("invoice", "发票"),
    ("invoices", "发票"),
    ("receipt", "发票"),
    ("fapiao", "发票"),
    ("tracking", "物流"),
    ("logistics", "物流"),
    ("package", "包裹"),
    ("parcel", "包裹"),
    ("express", "快递"),
    ("courier", "快递"),
    ("shipping", "发货"),
    ("delivery", "配送"),
    ("sf", "顺丰"),
    ("zto", "中通"),
    ("size", "尺码"),
    ("sizes", "尺码"),
    ("color", "颜色"),
    ("colour", "颜色"),
    ("address", "地址"),
    ("cancel", "取消"),
    ("pay", "付款"),
    ("payment", "付款"),
    ("alipay", "支付宝"),
    ("wechat", "微信"),
    ("huabei", "花呗"),
    ("agent", "人工"),
    ("human", "人工"),
    ("warranty", "保修"),
    ("repair", "维修"),
    ("stock", "现货"),
    ("vip", "会员"),
    ("member", "会员"),
    ("membership", "会员"),
    ("points", "积分"),
    ("price", "价格"),
    ("gift", "赠品"),
    ("bluetooth", "蓝牙"),
    ("earbuds", "耳机"),
    ("earphones", "耳机"),
    ("headphones", "耳机"),
    ("smartwatch", "手表"),
    ("watch", "手表"),
    ("powerbank", "充电宝"),
    ("charger", "充电器"),
    ("shoes", "鞋子"),
    ("sneakers", "运动鞋"),
    ("jacket", "外套"),
    ("hoodie", "卫衣"),
    ("pants", "裤子"),
    ("jeans", "牛仔裤"),
    ("android", "安卓"),
    ("iphone", "苹果手机"),
    ("ok", "好的"),
    ("okay", "好的"),
    ("thanks", "谢谢"),
    ("thx", "谢谢"),
    ("hi", "你好"),
    ("hello", "你好"),
    ("bye", "再见"),
];

/// English word forms folded onto one form before stemming, so "send it to singapore" meets
/// "ship to the us" and "my parcel" meets "my package".
const EN_SYNONYMS: &[(&str, &str)] = &[
    ("parcel", "package"),
    ("parcels", "packages"),
    ("send", "ship"),
    ("sends", "ship"),
    ("sent", "shipped"),
    ("sending", "shipping"),
    ("dispatch", "ship"),
    ("dispatched", "shipped"),
    ("guarantee", "warranty"),
];

/// The folded form of an English word (see [`EN_SYNONYMS`]), if it has one.
fn english_synonym(word: &str) -> Option<&'static str> {
    EN_SYNONYMS
        .iter()
        .find(|(from, _)| *from == word)
        .map(|(_, to)| *to)
}

/// Normalizes text (see [`normalize`]), then, in text with Chinese, maps regional words to
/// mainland ones and adds the Chinese word after each English shopping word. Every analysis
/// path goes through it.
pub(crate) fn prepare(text: &str) -> String {
    let mut text = normalize(text);
    if !text.chars().any(is_cjk) {
        return text;
    }
    for (from, to) in REGIONAL_WORDS {
        if text.contains(from) {
            text = text.replace(from, to);
        }
    }
    if text.bytes().any(|b| b.is_ascii_alphabetic()) {
        text = translate_code_mixed(&text);
    }
    text
}

/// Adds the Chinese word after each English word of [`CODE_MIXED_WORDS`] in (lowercase) text.
fn translate_code_mixed(text: &str) -> String {
    let lookup = |key: &str| {
        CODE_MIXED_WORDS
            .iter()
            .find(|(from, _)| *from == key)
            .map(|(_, to)| *to)
    };
    // The text split into runs of ASCII letters and runs of anything else.
    let mut runs: Vec<(bool, &str)> = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let letter = c.is_ascii_alphabetic();
        if i > start && runs_differ(text, start, letter) {
            runs.push((!letter, &text[start..i]));
            start = i;
        }
    }
    if start < text.len() {
        let letter = text[start..].starts_with(|c: char| c.is_ascii_alphabetic());
        runs.push((letter, &text[start..]));
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    while let Some(&(letter, run)) = runs.get(i) {
        if letter {
            // A two-word phrase: word, one space, word.
            if let (Some((false, " ")), Some((true, next))) = (runs.get(i + 1), runs.get(i + 2)) {
                if let Some(to) = lookup(&format!("{run} {next}")) {
                    push_translated(&mut out, &format!("{run} {next}"), to);
                    i += 3;
                    continue;
                }
            }
            match lookup(run) {
                Some(to) => push_translated(&mut out, run, to),
                None => out.push_str(run),
            }
        } else {
            out.push_str(run);
        }
        i += 1;
    }
    out
}

/// Writes an English word followed by its Chinese word: the English one still matches English
/// phrasings, the Chinese one the Chinese phrasings.
fn push_translated(out: &mut String, english: &str, chinese: &str) {
    out.push_str(english);
    out.push(' ');
    out.push_str(chinese);
}

/// Whether the run starting at `start` is of the other kind (letters or not) than `letter`.
fn runs_differ(text: &str, start: usize, letter: bool) -> bool {
    text[start..].starts_with(|c: char| c.is_ascii_alphabetic()) != letter
}

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
        VecTokenStream::new(jieba_tokens(&prepare(text)))
    }
}

/// [`JiebaWordTokenizer`] over text that already went through [`prepare`] (so one analysis
/// prepares the text once for both analyzers).
#[derive(Clone, Copy, Default)]
struct PreparedWordTokenizer;

impl Tokenizer for PreparedWordTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream::new(jieba_tokens(text))
    }
}

/// The word tokens of prepared text (see [`JiebaWordTokenizer`]).
fn jieba_tokens(normalized: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for word in jieba().tokenize(normalized, TokenizeMode::Search, false) {
        if word.word.chars().any(char::is_alphanumeric) {
            tokens.push(Token {
                offset_from: word.byte_start,
                offset_to: word.byte_end,
                position: tokens.len(),
                text: english_synonym(word.word).unwrap_or(word.word).to_string(),
                position_length: 1,
            });
        }
    }
    tokens
}

/// Emits every CJK character and the overlapping bigrams of CJK characters over normalized text,
/// so that a query still matches when jieba segments it differently from the indexed phrasing
/// (bigrams), or when a word is abbreviated, split differently or mistyped on one character
/// ("领 券" vs "领券", "报修" vs "维修", "发获" vs "发货": unigrams). Non-CJK text is ignored (the
/// word field covers it).
#[cfg(test)]
#[derive(Clone, Copy, Default)]
pub(crate) struct CjkBigramTokenizer;

#[cfg(test)]
impl Tokenizer for CjkBigramTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream::new(cjk_tokens(&prepare(text)))
    }
}

/// The CJK character and bigram tokens of prepared text (see [`CjkBigramTokenizer`]).
#[cfg(test)]
fn cjk_tokens(normalized: &str) -> Vec<Token> {
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
    tokens
}

/// Turns one run of CJK characters into unigram tokens (one per character) and bigram tokens
/// (one per pair of neighbours).
#[cfg(test)]
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
    for (offset, c) in run {
        push(*offset, offset + c.len_utf8(), c.to_string());
    }
    for pair in run.windows(2) {
        if let [(from, a), (b_offset, b)] = pair {
            push(*from, b_offset + b.len_utf8(), [*a, *b].iter().collect());
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

/// The analyzed form of one piece of text: its distinct prefixed term keys (words, CJK bigrams
/// and CJK characters) with their local weight factors.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TermSet {
    /// Every term as a prefixed key (`w:`, `b:` or `u:`) with its local weight factor: 1.0, or
    /// [`BRIDGE_WEIGHT`] for a bigram that only straddles a word boundary in this text. Sorted
    /// by key, keys distinct.
    pub keys: Vec<(String, f32)>,
}

/// A word token's text and byte span in the prepared text.
#[derive(Debug, Clone)]
struct Span {
    text: String,
    from: usize,
    to: usize,
}

/// Runs an analyzer and collects the tokens with their spans into `out`.
fn spans(analyzer: &mut TextAnalyzer, text: &str, out: &mut Vec<Span>) {
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        let token = stream.token_mut();
        out.push(Span {
            text: std::mem::take(&mut token.text),
            from: token.offset_from,
            to: token.offset_to,
        });
    }
}

/// The CJK tokens of prepared text (see [`CjkBigramTokenizer`]) as byte spans: for each run of
/// CJK characters, every character, then every pair of neighbours.
fn cjk_spans(prepared: &str, out: &mut Vec<(usize, usize)>) {
    let mut run_start = out.len();
    let flush = |out: &mut Vec<(usize, usize)>, run_start: usize| {
        let run_end = out.len();
        for i in run_start + 1..run_end {
            if let (Some(&(from, _)), Some(&(_, to))) = (out.get(i - 1), out.get(i)) {
                out.push((from, to));
            }
        }
    };
    for (offset, c) in prepared.char_indices() {
        if is_cjk(c) {
            out.push((offset, offset + c.len_utf8()));
        } else {
            flush(out, run_start);
            run_start = out.len();
        }
    }
    flush(out, run_start);
}

/// Whether a bigram (byte span) straddles a word boundary: no word of the text contains both
/// of its characters ("看看|包裹" -> "看包").
///
/// This also holds for an unknown word that jieba split into single characters; it is then
/// downweighted on both sides alike (query and phrasing), and its characters still match as
/// words.
fn is_bridge((from, to): (usize, usize), words: &[Span]) -> bool {
    !words.iter().any(|w| w.from <= from && to <= w.to)
}

/// The analyzers of every analysis path (indexing, querying, scoring): [`prepare`], then the
/// word analyzer (jieba and its filters) and the CJK character / bigram tokenizer over the
/// prepared text, so one analysis prepares its text once for both.
///
/// They give exactly the tokens of [`words_analyzer`] and [`bigrams_analyzer`].
pub(crate) struct Analyzers {
    words: TextAnalyzer,
}

impl Default for Analyzers {
    fn default() -> Self {
        Self::new()
    }
}

/// One analyzed text: its prepared form, its word tokens and its CJK tokens (in order,
/// duplicates kept: what the index records).
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    prepared: String,
    words: Vec<Span>,
    /// Byte spans in `prepared`: characters, then bigrams, run by run.
    cjk: Vec<(usize, usize)>,
}

/// The kind of a term key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// A word (`w:`).
    Word,
    /// A CJK bigram (`b:`).
    Bigram,
    /// A CJK character (`u:`).
    Unigram,
}

impl KeyKind {
    /// The key prefix of the kind.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Word => WORD_PREFIX,
            Self::Bigram => BIGRAM_PREFIX,
            Self::Unigram => UNIGRAM_PREFIX,
        }
    }
}

impl Analysis {
    /// Whether the text produced no term at all (blank, punctuation, emoji...).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.cjk.is_empty()
    }

    /// The word tokens.
    pub fn word_tokens(&self) -> impl Iterator<Item = &str> + '_ {
        self.words.iter().map(|w| w.text.as_str())
    }

    /// The CJK tokens (characters, then bigrams, run by run).
    pub fn cjk_tokens(&self) -> impl Iterator<Item = &str> + '_ {
        self.cjk
            .iter()
            .map(|&(from, to)| self.prepared.get(from..to).unwrap_or_default())
    }

    /// Every term key of the text, duplicates included, as (kind, text, bridge): `bridge` for
    /// a bigram that straddles a word boundary (local factor [`BRIDGE_WEIGHT`]).
    pub fn keys(&self) -> impl Iterator<Item = (KeyKind, &str, bool)> + '_ {
        let words = self
            .words
            .iter()
            .map(|w| (KeyKind::Word, w.text.as_str(), false));
        let cjk = self.cjk.iter().map(|&(from, to)| {
            let text = self.prepared.get(from..to).unwrap_or_default();
            if text.chars().nth(1).is_some() {
                (KeyKind::Bigram, text, is_bridge((from, to), &self.words))
            } else {
                (KeyKind::Unigram, text, false)
            }
        });
        words.chain(cjk)
    }

    /// The term set of the text.
    pub fn term_set(&self) -> TermSet {
        let mut keys: Vec<(String, f32)> = Vec::with_capacity(self.words.len() + self.cjk.len());
        for (kind, text, bridge) in self.keys() {
            let factor = if bridge { BRIDGE_WEIGHT } else { 1.0 };
            let mut key = String::with_capacity(kind.prefix().len() + text.len());
            key.push_str(kind.prefix());
            key.push_str(text);
            keys.push((key, factor));
        }
        // Sort by key, highest factor first, so dedup keeps the highest factor of each key.
        keys.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        keys.dedup_by(|later, earlier| later.0 == earlier.0);
        TermSet { keys }
    }
}

impl Analyzers {
    /// Builds the analyzers.
    pub fn new() -> Self {
        Self {
            words: with_word_filters(PreparedWordTokenizer),
        }
    }

    /// Runs `f` with this thread's analyzers (built once per thread), so a search does not
    /// rebuild them.
    pub fn with_local<R>(f: impl FnOnce(&mut Self) -> R) -> R {
        thread_local! {
            static LOCAL: std::cell::RefCell<Analyzers> = std::cell::RefCell::new(Analyzers::new());
        }
        LOCAL.with(|cell| match cell.try_borrow_mut() {
            Ok(mut analyzers) => f(&mut analyzers),
            // Only reachable from a nested call; fresh analyzers give the same result.
            Err(_) => f(&mut Self::new()),
        })
    }

    /// Analyzes `text`.
    pub fn run(&mut self, text: &str) -> Analysis {
        let prepared = prepare(text);
        let mut words = Vec::new();
        spans(&mut self.words, &prepared, &mut words);
        let mut cjk = Vec::new();
        cjk_spans(&prepared, &mut cjk);
        Analysis {
            prepared,
            words,
            cjk,
        }
    }

    /// Analyzes `text` into its term set.
    pub fn analyze(&mut self, text: &str) -> TermSet {
        self.run(text).term_set()
    }
}

impl TermSet {
    /// Analyzes `text` (with this thread's [`Analyzers`]).
    pub fn analyze(text: &str) -> Self {
        Analyzers::with_local(|a| a.analyze(text))
    }

    /// Whether the text produced no term at all (blank, punctuation, emoji...).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The distinct texts of the keys of one kind, sorted.
    #[cfg(test)]
    pub fn texts(&self, kind: KeyKind) -> Vec<&str> {
        self.keys
            .iter()
            .filter_map(|(key, _)| key.strip_prefix(kind.prefix()))
            .collect()
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
            set.insert(format!("{UNIGRAM_PREFIX}{w}"));
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
    if let Some(unigram) = key.strip_prefix(UNIGRAM_PREFIX) {
        return unigram
            .chars()
            .all(|c| ZH_FUNCTION_CHARS.contains(c) || ZH_PARTICLES.contains(c));
    }
    false
}

/// Weight multiplier for CJK bigrams relative to words: bigrams are the safety net for
/// segmentation mistakes, and half of them straddle word boundaries, so they count less.
pub(crate) const BIGRAM_WEIGHT: f32 = 0.5;

/// Whether a prefixed term key is a CJK bigram.
pub(crate) fn is_bigram(key: &str) -> bool {
    key.starts_with(BIGRAM_PREFIX)
}

/// Weight multiplier for CJK characters relative to words, like [`BIGRAM_WEIGHT`]: one shared
/// character is weak evidence (its idf is low when many words share it, like "货" or "退"), but
/// several of them, or a rare one, still point to the right phrasing when the words and bigrams
/// miss.
pub(crate) const UNIGRAM_WEIGHT: f32 = 0.5;

/// Whether a prefixed term key is a single CJK character.
pub(crate) fn is_unigram(key: &str) -> bool {
    key.starts_with(UNIGRAM_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_tokenizer_emits_characters_and_overlapping_bigrams_only() {
        let mut a = bigrams_analyzer();
        assert_eq!(
            tokens(&mut a, "快递到哪了"),
            vec!["快", "递", "到", "哪", "了", "快递", "递到", "到哪", "哪了"]
        );
        assert_eq!(
            tokens(&mut a, "亲, USB 充电器?"),
            vec!["亲", "充", "电", "器", "充电", "电器"]
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

    #[test]
    fn characters_of_function_words_are_stopwords() {
        assert!(is_stopword("u:的"));
        assert!(is_stopword("u:吗"));
        assert!(!is_stopword("u:货"));
        let terms = TermSet::analyze("领券");
        assert_eq!(terms.texts(KeyKind::Unigram), vec!["券", "领"]);
        assert_eq!(terms.texts(KeyKind::Bigram), vec!["领券"]);
    }

    #[test]
    fn regional_words_become_mainland_words() {
        assert_eq!(prepare("請問多久會出貨"), "请问多久会发货");
        assert_eq!(prepare("耳機保固多久"), "耳机保修多久");
        assert_eq!(prepare("退款什麼時候到帳"), "退款什么时候到账");
        // English text is left alone.
        assert_eq!(prepare("Where is my parcel"), "where is my parcel");
    }

    #[test]
    fn english_words_in_chinese_text_become_chinese_words() {
        assert_eq!(prepare("coupon怎么用"), "coupon 优惠券怎么用");
        assert_eq!(prepare("能开Invoice吗"), "能开invoice 发票吗");
        assert_eq!(prepare("想找个real person聊"), "想找个real person 人工聊");
        assert_eq!(prepare("SF express 几天到"), "sf express 顺丰 几天到");
        // Unknown words stay, and so does text without Chinese.
        assert_eq!(prepare("充电宝20000mAh"), "充电宝20000mah");
        assert_eq!(prepare("coupon please"), "coupon please");
    }

    #[test]
    fn analyzers_give_the_tokens_of_the_reference_analyzers() {
        let mut analyzers = Analyzers::new();
        let (mut words, mut bigrams) = (words_analyzer(), bigrams_analyzer());
        for text in [
            "我的快递到哪了？",
            "請問多久會出貨",
            "coupon怎么用 SF express 几天到",
            "Returning ＳＨＯＥＳ, please!",
            "满多少钱包邮啊 🙂 。。。",
            "",
            "a",
        ] {
            let analysis = analyzers.run(text);
            let word_tokens: Vec<&str> = analysis.word_tokens().collect();
            let cjk_tokens: Vec<&str> = analysis.cjk_tokens().collect();
            assert_eq!(word_tokens, tokens(&mut words, text), "{text}");
            assert_eq!(cjk_tokens, tokens(&mut bigrams, text), "{text}");
            let terms = analysis.term_set();
            let mut sorted: Vec<String> = word_tokens.iter().map(|w| w.to_string()).collect();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(terms.texts(KeyKind::Word), sorted, "{text}");
        }
    }

    #[test]
    fn english_synonyms_are_folded_before_stemming() {
        let mut a = words_analyzer();
        assert_eq!(
            tokens(&mut a, "send my parcel"),
            tokens(&mut a, "ship my package")
        );
    }
}
