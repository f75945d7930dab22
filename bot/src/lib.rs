//! One customer turn in, one decision out.
//!
//! The bot reads the customer's text (normalised by [`kb::normalize`]), the conversation so far
//! and the knowledge base's candidates, and decides: **answer** with an article when it is
//! confident, **clarify** by offering the few questions the customer might mean, or **hand
//! off** to a person with named reasons. On handoff it builds the [`HandoffContext`] an agent
//! reads so that the customer never has to repeat themselves.
//!
//! The bot knows nothing of HTTP, storage or agents: the gateway hands it the transcript and
//! stores what it decides. It is synchronous and CPU-bound (an index search), so callers run
//! it off the async executor.

mod entities;
mod triggers;

pub use entities::{extract_entities, extract_entities_with, mask, Entities, EntityConfig};
use triggers::{asks_for_human, human_only_action, says_not_helpful};

use kb::{Hit, KnowledgeBase};
use models::{Intent, Language};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;

/// What the bot decided for one turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Answer,
    Clarify,
    Handoff,
}

/// Why a conversation goes to a person. Each is named so that admins can count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    /// The customer asked for a person in words ("转人工", "human", ...).
    ExplicitRequest,
    /// The customer pressed the widget's "talk to a person" button (`POST .../handoff`).
    CustomerButton,
    /// The bot failed to answer several turns in a row (no confident answer, or the
    /// customer said the answer did not help).
    RepeatedFailure,
    /// The customer asked the same question again: the earlier answer did not do.
    RepeatedQuestion,
    /// Something only a person may do: a shipped order's address, compensation, a double
    /// charge, allergies or safety.
    HumanOnlyAction,
}

/// The bot's tunable thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct BotConfig {
    /// A top hit at or above this calibrated score is answered directly.
    pub answer_threshold: f32,
    /// Hits at or above this score are offered as "did you mean"; below it nothing matched.
    pub clarify_threshold: f32,
    /// How many options a clarifying question offers at most.
    pub clarify_options: usize,
    /// Unanswered turns in a row (no match, or a clarification) that trigger a handoff.
    pub max_failed_turns: usize,
    /// A customer message at least this similar to one they sent earlier to the bot is the
    /// same question asked again.
    pub repeat_similarity: f32,
    /// Whether actions only a person may take hand off at once.
    pub hand_off_human_only_actions: bool,
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            answer_threshold: 0.6,
            clarify_threshold: 0.35,
            clarify_options: 3,
            max_failed_turns: 2,
            repeat_similarity: 0.8,
            hand_off_human_only_actions: true,
        }
    }
}

/// Who wrote a line of the transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Bot,
    Agent,
    System,
}

/// What the bot recorded about one of its own replies; the gateway stores it with the message
/// and hands it back in later turns, which is how the bot remembers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotMeta {
    pub decision: DecisionKind,
    /// The answered article, for `answer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article_id: Option<String>,
    pub intent: Intent,
    /// The calibrated score of the best knowledge-base hit (1.0 for keyword handoffs).
    pub confidence: f32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<HandoffReason>,
    /// The article ids offered, in order, for `clarify`: the customer may answer "2".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// One line of the conversation so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub role: Role,
    pub text: String,
    /// Present on the bot's own replies.
    pub bot: Option<BotMeta>,
}

/// The result of one turn: the decision, the reply to send and what to remember.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub meta: BotMeta,
    /// The text the bot says to the customer.
    pub reply: String,
    pub language: Language,
    /// The clarifying options with their questions, for `clarify`.
    pub options: Vec<Hit>,
}

impl Outcome {
    pub fn decision(&self) -> DecisionKind {
        self.meta.decision
    }
}

/// The bot: a knowledge base and thresholds.
pub struct Bot {
    kb: Arc<KnowledgeBase>,
    config: BotConfig,
}

impl Bot {
    pub fn new(kb: Arc<KnowledgeBase>, config: BotConfig) -> Self {
        Self { kb, config }
    }

    pub fn config(&self) -> &BotConfig {
        &self.config
    }

    pub fn knowledge_base(&self) -> &Arc<KnowledgeBase> {
        &self.kb
    }

    /// Decides one customer turn. `transcript` is the conversation before `text`;
    /// `locale_language` is the customer's declared language, used when the text has none.
    pub fn turn(&self, transcript: &[Line], text: &str, locale_language: Language) -> Outcome {
        let normalized = kb::normalize(text);
        let language = Language::detect(&normalized).unwrap_or(locale_language);

        if asks_for_human(&normalized) {
            return handoff(
                vec![HandoffReason::ExplicitRequest],
                Intent::HumanAgent,
                1.0,
                language,
            );
        }

        if let Some(hit) = self.chosen_option(transcript, &normalized) {
            return answer(hit, language);
        }

        let hits = self
            .kb
            .search(&normalized, Some(locale_for(language)), self.config.clarify_options.max(1))
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "knowledge-base search failed; treating the turn as unmatched");
                Vec::new()
            });
        let top_score = hits.first().map_or(0.0, |h| h.score);
        let intent = hits
            .first()
            .filter(|h| h.score >= self.config.clarify_threshold)
            .and_then(|h| h.category.parse().ok())
            .unwrap_or(Intent::Other);

        if self.config.hand_off_human_only_actions && human_only_action(&normalized).is_some() {
            return handoff(vec![HandoffReason::HumanOnlyAction], intent, 1.0, language);
        }
        if !matches!(intent, Intent::Greeting | Intent::ThanksGoodbye)
            && self.asked_before(transcript, &normalized)
        {
            return handoff(
                vec![HandoffReason::RepeatedQuestion],
                intent,
                top_score,
                language,
            );
        }

        let confident = hits
            .first()
            .filter(|h| h.score >= self.config.answer_threshold);
        let not_helpful = says_not_helpful(&normalized);
        if let Some(top) = confident {
            // "That didn't help" matching the answer just given is a complaint about it, not
            // a request for it again.
            if !(not_helpful && last_answered(transcript) == Some(top.article_id.as_str())) {
                return answer(top.clone(), language);
            }
        }

        let failed_before = failed_turns_in_a_row(transcript, not_helpful);
        if failed_before + 1 >= self.config.max_failed_turns {
            return handoff(
                vec![HandoffReason::RepeatedFailure],
                intent,
                top_score,
                language,
            );
        }

        let options: Vec<Hit> = if not_helpful {
            Vec::new()
        } else {
            hits.into_iter()
                .filter(|h| h.score >= self.config.clarify_threshold)
                .take(self.config.clarify_options)
                .collect()
        };
        let reply = clarify_text(&options, language, not_helpful);
        Outcome {
            meta: BotMeta {
                decision: DecisionKind::Clarify,
                article_id: None,
                intent,
                confidence: top_score,
                reasons: Vec::new(),
                options: options.iter().map(|h| h.article_id.clone()).collect(),
            },
            reply,
            language,
            options,
        }
    }

    /// Whether the customer sent this question to the bot before, in this bot session.
    fn asked_before(&self, transcript: &[Line], normalized: &str) -> bool {
        let session = transcript
            .iter()
            .rposition(|l| matches!(l.role, Role::Agent | Role::System))
            .map_or(transcript, |i| &transcript[i + 1..]);
        session
            .iter()
            .filter(|l| l.role == Role::Customer)
            .map(|l| kb::normalize(&l.text))
            // A bare number picks a clarifying option; picking the same one twice is no repeat.
            .filter(|earlier| {
                !earlier
                    .chars()
                    .all(|c| c.is_ascii_digit() || c.is_whitespace())
            })
            .any(|earlier| kb::similarity(&earlier, normalized) >= self.config.repeat_similarity)
    }

    /// The customer pressed "talk to a person".
    pub fn handoff_requested(&self, transcript: &[Line], locale_language: Language) -> Outcome {
        let language = last_customer_language(transcript).unwrap_or(locale_language);
        handoff(
            vec![HandoffReason::CustomerButton],
            Intent::HumanAgent,
            1.0,
            language,
        )
    }

    /// When the previous bot reply offered options and the customer answers with a number
    /// ("2", "第2个") or with one option's exact question, that option is the answer.
    fn chosen_option(&self, transcript: &[Line], normalized: &str) -> Option<Hit> {
        let last_bot = transcript.iter().rev().find(|l| l.role == Role::Bot)?;
        let meta = last_bot.bot.as_ref()?;
        if meta.decision != DecisionKind::Clarify || meta.options.is_empty() {
            return None;
        }
        let digits: String = normalized.chars().filter(|c| c.is_ascii_digit()).collect();
        let rest: String = normalized
            .chars()
            .filter(|c| !c.is_ascii_digit() && !c.is_whitespace())
            .collect();
        let picked = if !digits.is_empty()
            && digits.len() <= 2
            && ["", "第", "第个", "个", "no.", "#", "option"].contains(&rest.as_str())
        {
            digits
                .parse::<usize>()
                .ok()
                .and_then(|n| meta.options.get(n.checked_sub(1)?))
        } else {
            None
        }?;
        let article = self.kb.get(picked)?;
        Some(Hit {
            article_id: article.id,
            matched: article.question.clone(),
            question: article.question,
            answer: article.answer,
            category: article.category,
            score: 1.0,
            bm25: 0.0,
        })
    }
}

fn locale_for(language: Language) -> &'static str {
    match language {
        Language::Zh => "zh-CN",
        Language::En => "en",
    }
}

/// Counts the bot's unanswered replies (clarify) at the end of the transcript, looking back
/// until an answer, a handoff or a human took part. When the customer says the last answer did
/// not help, that answer counts as a failure too.
fn failed_turns_in_a_row(transcript: &[Line], not_helpful: bool) -> usize {
    let mut count = 0;
    for (i, line) in transcript.iter().enumerate().rev() {
        match (line.role, &line.bot) {
            (Role::Bot, Some(meta)) if meta.decision == DecisionKind::Clarify => count += 1,
            (Role::Bot, Some(meta))
                if not_helpful
                    && meta.decision == DecisionKind::Answer
                    && i + 1 == transcript.len() =>
            {
                count += 1
            }
            (Role::Bot, _) | (Role::Agent, _) => break,
            _ => {}
        }
    }
    count
}

/// The article the bot answered last, if its last reply was an answer.
fn last_answered(transcript: &[Line]) -> Option<&str> {
    let meta = transcript
        .iter()
        .rev()
        .find(|l| l.role == Role::Bot)?
        .bot
        .as_ref()?;
    (meta.decision == DecisionKind::Answer)
        .then_some(meta.article_id.as_deref())
        .flatten()
}

fn last_customer_language(transcript: &[Line]) -> Option<Language> {
    transcript
        .iter()
        .rev()
        .filter(|l| l.role == Role::Customer)
        .find_map(|l| Language::detect(&l.text))
}

fn answer(hit: Hit, language: Language) -> Outcome {
    Outcome {
        meta: BotMeta {
            decision: DecisionKind::Answer,
            article_id: Some(hit.article_id.clone()),
            intent: hit.category.parse().unwrap_or(Intent::Other),
            confidence: hit.score,
            reasons: Vec::new(),
            options: Vec::new(),
        },
        reply: hit.answer.clone(),
        language,
        options: Vec::new(),
    }
}

fn handoff(
    reasons: Vec<HandoffReason>,
    intent: Intent,
    confidence: f32,
    language: Language,
) -> Outcome {
    let reply = match language {
        Language::Zh => "好的，正在为您转接人工客服，请稍候。您之前说过的内容客服都能看到，无需重复。",
        Language::En => "Sure, I'm connecting you to a person now. They will see everything you've told me, so you won't need to repeat yourself.",
    };
    Outcome {
        meta: BotMeta {
            decision: DecisionKind::Handoff,
            article_id: None,
            intent,
            confidence,
            reasons,
            options: Vec::new(),
        },
        reply: reply.to_owned(),
        language,
        options: Vec::new(),
    }
}

fn clarify_text(options: &[Hit], language: Language, not_helpful: bool) -> String {
    if not_helpful {
        return match language {
            Language::Zh => "抱歉没能帮到您。能再具体说说您遇到的问题吗？也可以输入「转人工」，由人工客服为您处理。".to_owned(),
            Language::En => "Sorry that didn't help. Could you tell me a bit more? You can also type \"human\" to talk to a person.".to_owned(),
        };
    }
    if options.is_empty() {
        return match language {
            Language::Zh => "抱歉，这个问题我暂时回答不了。我可以帮您查询订单和物流、修改或取消订单、退换货和退款、支付、发票、优惠活动和商品信息。您可以换个说法再问，或输入「转人工」联系人工客服。".to_owned(),
            Language::En => "Sorry, I can't help with that one. I can help with orders and delivery, changing or cancelling an order, returns and refunds, payment, invoices, promotions and product questions. Try asking another way, or type \"human\" to talk to a person.".to_owned(),
        };
    }
    let mut text = match language {
        Language::Zh => "您是想问以下哪个问题？请回复序号：".to_owned(),
        Language::En => "Did you mean one of these? Reply with its number:".to_owned(),
    };
    for (i, hit) in options.iter().enumerate() {
        text.push_str(&format!("\n{}. {}", i + 1, hit.question));
    }
    text
}

/// Everything an agent needs at the moment a conversation arrives, so the customer never
/// repeats themselves. The gateway adds the stored transcript and the customer's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffContext {
    /// One line: what the customer wants and why the bot handed off.
    pub summary: String,
    /// The customer's messages while the bot held the conversation, oldest first.
    pub questions: Vec<String>,
    /// Intents the bot recognised, oldest first, without repeats.
    pub intents: Vec<Intent>,
    pub entities: Entities,
    /// What the bot already answered, so the agent does not offer it again.
    pub bot_attempts: Vec<BotAttempt>,
    pub handoff_reasons: Vec<HandoffReason>,
    /// Skills an agent needs: the language skill, and the specialty of the latest intent.
    pub required_skills: Vec<String>,
    /// Higher is served first.
    pub priority: i64,
    pub language: Language,
}

/// One answer the bot gave before the handoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotAttempt {
    pub question: String,
    pub article_id: Option<String>,
    pub answer: String,
}

/// Builds the handoff package from the transcript (which includes the handoff turn itself).
pub fn build_context(
    transcript: &[Line],
    reasons: &[HandoffReason],
    locale_language: Language,
) -> HandoffContext {
    let questions: Vec<String> = transcript
        .iter()
        .filter(|l| l.role == Role::Customer)
        .map(|l| l.text.clone())
        .collect();
    let language = last_customer_language(transcript).unwrap_or(locale_language);

    let mut intents: Vec<Intent> = Vec::new();
    for meta in transcript.iter().filter_map(|l| l.bot.as_ref()) {
        if !matches!(meta.intent, Intent::Other | Intent::HumanAgent)
            && !intents.contains(&meta.intent)
        {
            intents.push(meta.intent);
        }
    }

    let mut bot_attempts = Vec::new();
    let mut last_question: Option<&str> = None;
    for line in transcript {
        match line.role {
            Role::Customer => last_question = Some(&line.text),
            Role::Bot => {
                if let Some(meta) = line
                    .bot
                    .as_ref()
                    .filter(|m| m.decision == DecisionKind::Answer)
                {
                    bot_attempts.push(BotAttempt {
                        question: last_question.unwrap_or_default().to_owned(),
                        article_id: meta.article_id.clone(),
                        answer: line.text.clone(),
                    });
                }
            }
            _ => {}
        }
    }

    let entities = extract_entities(&questions.join("\n"));
    let mut skills: BTreeSet<String> = BTreeSet::from([language.skill().to_owned()]);
    if let Some(skill) = intents.last().and_then(|i| i.skill()) {
        skills.insert(skill.to_owned());
    }

    let mut reasons: Vec<HandoffReason> = reasons.to_vec();
    reasons.sort();
    reasons.dedup();
    let summary = summarize(&questions, &intents, &entities, &reasons, language);
    HandoffContext {
        summary,
        questions,
        intents,
        entities,
        bot_attempts,
        handoff_reasons: reasons,
        required_skills: skills.into_iter().collect(),
        priority: 0,
        language,
    }
}

fn summarize(
    questions: &[String],
    intents: &[Intent],
    entities: &Entities,
    reasons: &[HandoffReason],
    language: Language,
) -> String {
    let topic = intents.last().map_or("other", |i| i.label());
    // The last substantive question, not the "转人工" that ended the bot's turn.
    let last = questions
        .iter()
        .rev()
        .find(|q| !asks_for_human(&kb::normalize(q)))
        .or(questions.last())
        .map(|q| q.chars().take(60).collect::<String>())
        .unwrap_or_default();
    let reasons: Vec<&str> = reasons.iter().map(|r| reason_text(*r, language)).collect();
    let orders = if entities.order_ids.is_empty() {
        String::new()
    } else {
        match language {
            Language::Zh => format!("；订单 {}", entities.order_ids.join("、")),
            Language::En => format!("; order {}", entities.order_ids.join(", ")),
        }
    };
    match language {
        Language::Zh => format!(
            "【{topic}】客户：「{last}」{orders}；转人工原因：{}",
            reasons.join("、")
        ),
        Language::En => format!(
            "[{topic}] Customer: \"{last}\"{orders}; handed off because: {}",
            reasons.join(", ")
        ),
    }
}

fn reason_text(reason: HandoffReason, language: Language) -> &'static str {
    match (reason, language) {
        (HandoffReason::ExplicitRequest, Language::Zh) => "客户要求人工",
        (HandoffReason::CustomerButton, Language::Zh) => "客户点击转人工",
        (HandoffReason::RepeatedFailure, Language::Zh) => "机器人连续未能解答",
        (HandoffReason::RepeatedQuestion, Language::Zh) => "客户重复提问",
        (HandoffReason::HumanOnlyAction, Language::Zh) => "需人工处理的事项",
        (HandoffReason::ExplicitRequest, Language::En) => "customer asked for a person",
        (HandoffReason::CustomerButton, Language::En) => "customer pressed talk-to-a-person",
        (HandoffReason::RepeatedFailure, Language::En) => "bot failed to answer repeatedly",
        (HandoffReason::RepeatedQuestion, Language::En) => "customer asked the same question again",
        (HandoffReason::HumanOnlyAction, Language::En) => "only a person may do this",
    }
}
