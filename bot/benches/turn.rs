//! A whole bot turn, benchmarked (not a timed test): normalise, intent and sentiment models,
//! knowledge-base search over 1 000 articles, decide. Run with
//! `cargo bench -p bot --bench turn`; prints p50 / p99 / mean per turn on one thread.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// The demo articles plus product-specific variants, up to `n` articles.
fn articles(n: usize) -> Result<Vec<kb::Article>, kb::KbError> {
    let demo = kb::demo_articles()?;
    let products_zh = [
        "纯棉T恤",
        "运动鞋",
        "蓝牙耳机",
        "充电宝",
        "羽绒服",
        "牛仔裤",
        "智能手表",
        "双肩包",
        "连衣裙",
        "数据线",
    ];
    let products_en = [
        "cotton tee",
        "running shoes",
        "earbuds",
        "power bank",
        "down jacket",
        "jeans",
        "smartwatch",
        "backpack",
        "dress",
        "usb cable",
    ];
    let mut out = demo.clone();
    let mut round = 0;
    while out.len() < n {
        for a in &demo {
            if out.len() >= n {
                break;
            }
            let zh = a.locale.starts_with("zh");
            let product = if zh {
                products_zh[round % 10]
            } else {
                products_en[round % 10]
            };
            let phrase = |q: &str| {
                if zh {
                    format!("{product}{q}")
                } else {
                    format!("{q} ({product})")
                }
            };
            out.push(kb::Article {
                id: format!("{}-v{round}", a.id),
                question: phrase(&a.question),
                similar: a.similar.iter().map(|s| phrase(s)).collect(),
                ..a.clone()
            });
        }
        round += 1;
    }
    Ok(out)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = !std::env::args().any(|a| a == "--bench");
    let kb = Arc::new(kb::KnowledgeBase::from_articles(articles(1000)?)?);
    let nlu = Arc::new(models::Nlu::shipped()?);
    let bot = bot::Bot::new(kb, nlu, bot::BotConfig::default());
    let scenarios = bot::scenarios::shipped()?;
    let turns: Vec<(String, bot::CustomerInfo)> = scenarios
        .iter()
        .flat_map(|s| {
            let info = bot::CustomerInfo {
                language: models::Language::from_locale(&s.locale),
                vip: s.vip,
            };
            s.turns.iter().map(move |t| (t.customer.clone(), info))
        })
        .collect();
    let rounds = if quick { 1 } else { 20 };
    // Warm-up.
    for (text, info) in &turns {
        std::hint::black_box(bot.turn(&[], text, *info));
    }
    let mut times = Vec::with_capacity(turns.len() * rounds);
    for _ in 0..rounds {
        for (text, info) in &turns {
            let start = Instant::now();
            std::hint::black_box(bot.turn(&[], text, *info));
            times.push(start.elapsed());
        }
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "bot turn, 1 000 articles, {} turns: p50 {:?}  p99 {:?}  mean {:?}  (goal p99 <= 1 ms)",
        times.len(),
        percentile(&times, 0.50),
        percentile(&times, 0.99),
        mean
    );
    Ok(())
}
