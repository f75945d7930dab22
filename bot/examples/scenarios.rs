//! Plays the scenario suite through the bot with the demo knowledge base and the shipped
//! models, and prints the figures: `cargo run --release -p bot --example scenarios`.

use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kb = Arc::new(kb::KnowledgeBase::from_articles(kb::demo_articles()?)?);
    let nlu = Arc::new(models::Nlu::shipped()?);
    let bot = bot::Bot::new(kb, nlu, bot::BotConfig::default());
    let report = bot::scenarios::run(&bot, &bot::scenarios::shipped()?);
    println!("scenarios              {}", report.scenarios);
    println!("turns                  {}", report.turns);
    println!("answer accuracy        {:.3}", report.answer_accuracy);
    println!(
        "wrong-answer rate      {:.3}   (goal <= 0.03)",
        report.wrong_answer_rate
    );
    println!("handoff precision      {:.3}", report.handoff_precision);
    println!(
        "handoff recall         {:.3}   (goal >= 0.95)",
        report.handoff_recall
    );
    println!(
        "false handoffs         {:.3}   (goal <= 0.05)",
        report.false_handoff_rate
    );
    println!("handoff reason right   {:.3}", report.reason_accuracy);
    println!(
        "average completeness   {:.3}   (goal >= 0.95)",
        report.average_completeness
    );
    println!("entity recall          {:.3}", report.entity_recall);
    println!("\nmisses ({}):", report.misses.len());
    for m in &report.misses {
        println!(
            "  [{}] {:?}\n      expected {} / got {}",
            m.scenario, m.customer, m.expected, m.got
        );
    }
    Ok(())
}
