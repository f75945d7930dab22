//! Bot turns in whole sessions, as the HTTP bot-turn benchmark plays them: conversations of ten
//! questions (those of `scripts/bench/bot_turn.lua`, on the demo knowledge base), each turn
//! seeing the session so far. For counting instructions, which is repeatable where wall-clock
//! time on a shared machine is not:
//!
//! ```text
//! cargo build --release -p bot --example session_turns
//! valgrind --tool=callgrind target/release/examples/session_turns 2    # setup + 20 turns
//! valgrind --tool=callgrind target/release/examples/session_turns 12   # setup + 120 turns
//! ```
//!
//! The difference of the two totals over 100 is the instructions of one turn. By default each
//! customer line carries the analysis its own turn made ([`bot::Outcome::analyzed`]), as the
//! gateway keeps it; with `FRESH=1` every turn analyses the session's earlier lines again.

use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kb = Arc::new(kb::KnowledgeBase::from_articles(kb::demo_articles()?)?);
    let nlu = Arc::new(models::Nlu::shipped()?);
    let bot = bot::Bot::new(kb, nlu, bot::BotConfig::default());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/bench/bot_turn.lua");
    // Lines such as `  {"kb-zh-shipping-1", "亲，什么时候发货呀"},`.
    let questions: Vec<String> = std::fs::read_to_string(script)?
        .lines()
        .filter(|l| l.trim_start().starts_with("{\"kb-"))
        .filter_map(|l| {
            let (_, question) = l.split_once("\", \"")?;
            Some(question.trim_end_matches("\"},").to_owned())
        })
        .collect();
    if questions.is_empty() {
        return Err(format!("no questions in {script}").into());
    }
    let conversations: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 5,
    };
    let keep = std::env::var_os("FRESH").is_none();
    let customer = bot::CustomerInfo {
        language: models::Language::Zh,
        vip: false,
    };
    let mut decisions = std::collections::BTreeMap::new();
    for c in 0..conversations {
        let mut transcript: Vec<bot::Line> = Vec::new();
        for k in 0..10 {
            let question = &questions[(c + k) % questions.len()];
            let outcome = bot.turn(&transcript, question, customer);
            *decisions
                .entry(format!("{:?}", outcome.decision()))
                .or_insert(0) += 1;
            transcript.push(bot::Line {
                role: bot::Role::Customer,
                text: question.clone(),
                bot: None,
                analyzed: outcome.analyzed.clone().filter(|_| keep),
            });
            transcript.push(bot::Line {
                role: bot::Role::Bot,
                text: outcome.reply.clone(),
                bot: Some(outcome.meta.clone()),
                analyzed: None,
            });
        }
    }
    println!("{} turns: {decisions:?}", conversations * 10);
    Ok(())
}
