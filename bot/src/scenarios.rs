//! The scenario suite: multi-turn conversations with the decision expected at each turn,
//! played through the bot, and the figures the product promises on them.
//!
//! Run `cargo run --release -p bot --example scenarios` to print the report; a test holds the
//! figures so a regression fails CI.

use crate::{Bot, CustomerInfo, DecisionKind, HandoffReason, Line, Role};
use models::Language;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One conversation of the suite.
#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    pub id: String,
    pub locale: String,
    #[serde(default)]
    pub vip: bool,
    pub turns: Vec<Turn>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Turn {
    pub customer: String,
    pub expect: Expect,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Expect {
    pub decision: DecisionKind,
    #[serde(default)]
    pub article_id: Option<String>,
    #[serde(default)]
    pub reason: Option<HandoffReason>,
    #[serde(default)]
    pub entities: Option<BTreeMap<String, Vec<String>>>,
}

/// A turn whose decision differed from the expectation.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    pub scenario: String,
    pub customer: String,
    pub expected: String,
    pub got: String,
}

/// The suite's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub scenarios: usize,
    pub turns: usize,
    /// Expected answers given with the right article.
    pub answer_accuracy: f64,
    /// Of the bot's answers, the share that were wrong (another article, or it should have
    /// asked or handed off).
    pub wrong_answer_rate: f64,
    pub handoff_precision: f64,
    pub handoff_recall: f64,
    /// Of the turns that must not go to a person, the share that did.
    pub false_handoff_rate: f64,
    /// Of the correct handoffs, the share with the expected reason.
    pub reason_accuracy: f64,
    pub average_completeness: f64,
    /// Expected entities found.
    pub entity_recall: f64,
    pub misses: Vec<Miss>,
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        1.0
    } else {
        n as f64 / d as f64
    }
}

fn describe(decision: DecisionKind, article: Option<&str>, reasons: &[HandoffReason]) -> String {
    match decision {
        DecisionKind::Answer => format!("answer {}", article.unwrap_or("(small talk)")),
        DecisionKind::Clarify => "clarify".to_owned(),
        DecisionKind::Handoff => format!("handoff {reasons:?}"),
    }
}

/// Plays every scenario through `bot` and scores it.
pub fn run(bot: &Bot, scenarios: &[Scenario]) -> Report {
    let kb = bot.knowledge_base();
    let social = |id: &str| {
        kb.get(id)
            .is_some_and(|a| matches!(a.category.as_str(), "greeting" | "thanks_goodbye"))
    };
    let (mut expected_answers, mut right_answers) = (0, 0);
    let (mut bot_answers, mut wrong_answers) = (0, 0);
    let (mut bot_handoffs, mut right_handoffs, mut expected_handoffs, mut right_reasons) =
        (0, 0, 0, 0);
    let (mut must_not_handoff, mut false_handoffs) = (0, 0);
    let (mut completeness_sum, mut completeness_n) = (0.0, 0);
    let (mut entities_expected, mut entities_found) = (0, 0);
    let mut misses = Vec::new();
    let mut turns = 0;

    for scenario in scenarios {
        let customer = CustomerInfo {
            language: Language::from_locale(&scenario.locale),
            vip: scenario.vip,
        };
        let mut transcript: Vec<Line> = Vec::new();
        let mut handed_off = false;
        for turn in &scenario.turns {
            turns += 1;
            let expect = &turn.expect;
            if let Some(expected) = &expect.entities {
                let found = serde_json::to_value(crate::extract_entities(&turn.customer))
                    .unwrap_or_default();
                for (kind, values) in expected {
                    for value in values {
                        entities_expected += 1;
                        let got = found[kind.as_str()]
                            .as_array()
                            .is_some_and(|list| list.iter().any(|v| v == value));
                        entities_found += usize::from(got);
                    }
                }
            }
            if expect.decision == DecisionKind::Answer {
                expected_answers += 1;
            }
            if expect.decision == DecisionKind::Handoff {
                expected_handoffs += 1;
            } else {
                must_not_handoff += 1;
            }
            if handed_off {
                // The bot gave the conversation away early: nothing after it was served.
                misses.push(Miss {
                    scenario: scenario.id.clone(),
                    customer: turn.customer.clone(),
                    expected: describe(
                        expect.decision,
                        expect.article_id.as_deref(),
                        &expect.reason.into_iter().collect::<Vec<_>>(),
                    ),
                    got: "(after an early handoff)".to_owned(),
                });
                continue;
            }
            let outcome = bot.turn(&transcript, &turn.customer, customer);
            // As the gateway does: the customer's message and the bot's reply (with what the
            // bot read in the message) are stored before anything else, a handoff's package
            // included.
            transcript.push(Line {
                role: Role::Customer,
                text: turn.customer.clone(),
                bot: None,
                analyzed: outcome.analyzed.clone(),
            });
            transcript.push(Line {
                role: Role::Bot,
                text: outcome.reply.clone(),
                bot: Some(outcome.meta.clone()),
                analyzed: None,
            });
            let meta = &outcome.meta;
            let got = describe(meta.decision, meta.article_id.as_deref(), &meta.reasons);
            let mut correct = meta.decision == expect.decision;
            match meta.decision {
                DecisionKind::Answer => {
                    bot_answers += 1;
                    let article_ok = match (&expect.article_id, &meta.article_id) {
                        (Some(want), Some(have)) => want == have,
                        (Some(want), None) => social(want),
                        (None, _) => true,
                    };
                    correct &= article_ok;
                    if correct {
                        right_answers += 1;
                    } else {
                        wrong_answers += 1;
                    }
                }
                DecisionKind::Handoff => {
                    bot_handoffs += 1;
                    handed_off = true;
                    if expect.decision == DecisionKind::Handoff {
                        right_handoffs += 1;
                        if expect.reason.is_none_or(|r| meta.reasons.contains(&r)) {
                            right_reasons += 1;
                        } else {
                            correct = false;
                        }
                    } else {
                        false_handoffs += 1;
                    }
                    let context = crate::build_context(&transcript, &meta.reasons, customer);
                    completeness_sum += f64::from(context.completeness);
                    completeness_n += 1;
                }
                DecisionKind::Clarify => {}
            }
            if !correct {
                misses.push(Miss {
                    scenario: scenario.id.clone(),
                    customer: turn.customer.clone(),
                    expected: describe(
                        expect.decision,
                        expect.article_id.as_deref(),
                        &expect.reason.into_iter().collect::<Vec<_>>(),
                    ),
                    got,
                });
            }
        }
    }
    Report {
        scenarios: scenarios.len(),
        turns,
        answer_accuracy: ratio(right_answers, expected_answers),
        wrong_answer_rate: ratio(wrong_answers, bot_answers.max(1))
            * f64::from(u8::from(bot_answers > 0)),
        handoff_precision: ratio(right_handoffs, bot_handoffs),
        handoff_recall: ratio(right_handoffs, expected_handoffs),
        false_handoff_rate: ratio(false_handoffs, must_not_handoff.max(1))
            * f64::from(u8::from(must_not_handoff > 0)),
        reason_accuracy: ratio(right_reasons, right_handoffs),
        average_completeness: if completeness_n == 0 {
            1.0
        } else {
            completeness_sum / completeness_n as f64
        },
        entity_recall: ratio(entities_found, entities_expected),
        misses,
    }
}

/// The suite shipped in the repository: every named set together.
pub fn shipped() -> Result<Vec<Scenario>, serde_json::Error> {
    Ok(shipped_sets()?
        .into_iter()
        .flat_map(|(_, scenarios)| scenarios)
        .collect())
}

/// The suite's sets by name: `original` (`scenarios.json`, the set the bot was first tuned
/// on), `holdout` (`holdout.json`, written before the second round of tuning, to check that
/// the changes generalise) and `blind` (`blind.json`, written after that round and run once
/// without tuning against it).
pub fn shipped_sets() -> Result<Vec<(&'static str, Vec<Scenario>)>, serde_json::Error> {
    Ok(vec![
        (
            "original",
            serde_json::from_str(include_str!("../scenarios/scenarios.json"))?,
        ),
        (
            "holdout",
            serde_json::from_str(include_str!("../scenarios/holdout.json"))?,
        ),
        (
            "blind",
            serde_json::from_str(include_str!("../scenarios/blind.json"))?,
        ),
    ])
}
