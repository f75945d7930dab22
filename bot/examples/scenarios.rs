//! Plays the scenario suite through the bot with the demo knowledge base and the shipped
//! models, and prints the figures of each set and of their union:
//! `cargo run --release -p bot --example scenarios`. With `-- --explain`, every miss also
//! shows what the models and the knowledge base read in the message.

use models::Language;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let explain = std::env::args().any(|a| a == "--explain");
    let kb = Arc::new(kb::KnowledgeBase::from_articles(kb::demo_articles()?)?);
    let nlu = Arc::new(models::Nlu::shipped()?);
    let bot = bot::Bot::new(kb, nlu, bot::BotConfig::default());
    let sets = bot::scenarios::shipped_sets()?;
    let union: Vec<bot::scenarios::Scenario> =
        sets.iter().flat_map(|(_, s)| s.iter().cloned()).collect();
    let mut reports: Vec<(&str, bot::scenarios::Report)> = sets
        .iter()
        .map(|(name, scenarios)| (*name, bot::scenarios::run(&bot, scenarios)))
        .collect();
    reports.push(("union", bot::scenarios::run(&bot, &union)));

    let row = |label: &str, goal: &str, value: &dyn Fn(&bot::scenarios::Report) -> String| {
        let mut line = format!("{label:<22}");
        for (_, report) in &reports {
            line.push_str(&format!("{:>10}", value(report)));
        }
        println!("{line}   {goal}");
    };
    let mut header = format!("{:<22}", "");
    for (name, _) in &reports {
        header.push_str(&format!("{name:>10}"));
    }
    println!("{header}");
    row("scenarios", "", &|r| r.scenarios.to_string());
    row("turns", "", &|r| r.turns.to_string());
    row("answer accuracy", "", &|r| {
        format!("{:.3}", r.answer_accuracy)
    });
    row("wrong-answer rate", "(goal <= 0.03)", &|r| {
        format!("{:.3}", r.wrong_answer_rate)
    });
    row("handoff precision", "", &|r| {
        format!("{:.3}", r.handoff_precision)
    });
    row("handoff recall", "(goal >= 0.95)", &|r| {
        format!("{:.3}", r.handoff_recall)
    });
    row("false handoffs", "(goal <= 0.05)", &|r| {
        format!("{:.3}", r.false_handoff_rate)
    });
    row("handoff reason right", "", &|r| {
        format!("{:.3}", r.reason_accuracy)
    });
    row("average completeness", "(goal >= 0.95)", &|r| {
        format!("{:.3}", r.average_completeness)
    });
    row("entity recall", "", &|r| format!("{:.3}", r.entity_recall));

    let (_, union_report) = reports.last().expect("the union is always reported");
    println!("\nmisses ({}):", union_report.misses.len());
    for m in &union_report.misses {
        println!(
            "  [{}] {:?}\n      expected {} / got {}",
            m.scenario, m.customer, m.expected, m.got
        );
        if explain {
            let language = if m.scenario.starts_with("en") {
                Language::En
            } else {
                Language::Zh
            };
            let seen = bot.understand(&m.customer, language);
            let p = seen.sentiment.probabilities;
            println!(
                "      intent {} {:.2}; negative {:.2} neutral {:.2} positive {:.2}",
                seen.intent.label.label(),
                seen.intent.confidence,
                p.negative,
                p.neutral,
                p.positive
            );
            let locale = if seen.language == Language::En {
                "en"
            } else {
                "zh-CN"
            };
            for hit in bot
                .knowledge_base()
                .search(&seen.normalized, Some(locale), 3)
                .unwrap_or_default()
            {
                println!(
                    "      {:.3} {} ({}) via {:?}",
                    hit.score, hit.article_id, hit.category, hit.matched
                );
            }
        }
    }
    Ok(())
}
