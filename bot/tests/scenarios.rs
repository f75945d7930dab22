//! The scenario suite as a regression guard: the figures may only get better. The goals of
//! the issue (wrong answers <= 3 %, handoff recall >= 0.95, false handoffs <= 5 %,
//! completeness >= 0.95) are printed by `cargo run --release -p bot --example scenarios`.

use std::sync::Arc;

#[test]
fn the_scenario_suite_does_not_regress() {
    let kb = Arc::new(
        kb::KnowledgeBase::from_articles(kb::demo_articles().expect("demo KB")).expect("index"),
    );
    let nlu = Arc::new(models::Nlu::shipped().expect("shipped models"));
    let bot = bot::Bot::new(kb, nlu, bot::BotConfig::default());
    let scenarios = bot::scenarios::shipped().expect("scenario file parses");
    assert!(scenarios.len() >= 80);
    let report = bot::scenarios::run(&bot, &scenarios);
    assert!(
        report.answer_accuracy >= 0.78,
        "answer accuracy {}",
        report.answer_accuracy
    );
    assert!(
        report.wrong_answer_rate <= 0.06,
        "wrong answers {}",
        report.wrong_answer_rate
    );
    assert!(
        report.handoff_recall >= 0.86,
        "handoff recall {}",
        report.handoff_recall
    );
    assert!(
        report.false_handoff_rate <= 0.05,
        "false handoffs {}",
        report.false_handoff_rate
    );
    assert!(
        report.average_completeness >= 0.95,
        "completeness {}",
        report.average_completeness
    );
    assert!(
        report.entity_recall >= 0.99,
        "entity recall {}",
        report.entity_recall
    );
}
