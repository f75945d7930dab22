//! Customer messages per second through one gateway process and through two on one Redis,
//! and Redis commands per message.
//!
//! ```sh
//! cargo bench -p gateway --bench throughput
//! ```
//!
//! Starts a redis-server of its own (AOF on, `appendfsync everysec`, or the value of
//! `BENCH_APPENDFSYNC`), then for one and for two gateway processes: creates conversations,
//! and for `BENCH_SECONDS` (10) has `BENCH_CLIENTS` (64) concurrent clients post FAQ
//! questions over HTTP, spread over the processes, ten distinct questions per conversation
//! (under the per-conversation rate limit, and never a loop the bot would hand off). Every
//! message is a bot turn: stored, answered by the bot, the answer stored, both announced.
//! Redis commands are counted with `INFO commandstats` around the measured window. The load
//! generator runs on the same machine, so the figures are a floor, not a ceiling.

#[path = "../tests/support/mod.rs"]
mod support;

use anyhow::{ensure, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{client_id, Gateway, RedisServer};

const QUESTIONS_PER_CONVERSATION: usize = 10;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Total calls per command since the last `CONFIG RESETSTAT`.
async fn command_stats(redis: &RedisServer) -> Result<BTreeMap<String, u64>> {
    let info = match redis.command(&["INFO", "commandstats"]).await? {
        redis::Value::BulkString(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        redis::Value::VerbatimString { text, .. } => text,
        other => anyhow::bail!("unexpected INFO reply {other:?}"),
    };
    let mut stats = BTreeMap::new();
    for line in info.lines() {
        let Some((name, rest)) = line
            .strip_prefix("cmdstat_")
            .and_then(|l| l.split_once(':'))
        else {
            continue;
        };
        let calls = rest
            .split(',')
            .find_map(|kv| kv.strip_prefix("calls="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        stats.insert(name.to_owned(), calls);
    }
    Ok(stats)
}

struct Run {
    messages: usize,
    bot_replies: usize,
    seconds: f64,
    commands: BTreeMap<String, u64>,
}

async fn run(redis: &RedisServer, processes: usize, questions: &[String]) -> Result<Run> {
    let seconds: u64 = env_or("BENCH_SECONDS", 10);
    let clients: usize = env_or("BENCH_CLIENTS", 64);
    let prefix = support::unique_prefix(&format!("bench{processes}"));
    let mut gateways = Vec::new();
    for i in 0..processes {
        gateways.push(Gateway::start(&format!("g{i}"), &redis.url(), &prefix).await?);
    }
    let gateways = Arc::new(gateways);

    // Enough conversations that the clients never run out within the window.
    let conversations: usize = env_or("BENCH_CONVERSATIONS", 3_000);
    let mut started = Vec::with_capacity(conversations);
    for i in 0..conversations {
        started.push(gateways[i % processes].start_conversation("zh-CN").await?);
    }
    let started = Arc::new(started);

    redis.command(&["CONFIG", "RESETSTAT"]).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let t0 = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|w| {
            let (gateways, started, next) = (
                Arc::clone(&gateways),
                Arc::clone(&started),
                Arc::clone(&next),
            );
            let questions = questions.to_vec();
            tokio::spawn(async move {
                let (mut messages, mut replies) = (0usize, 0usize);
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((id, token)) = started.get(i) else {
                        break;
                    };
                    let gateway = &gateways[(i + w) % gateways.len()];
                    for q in 0..QUESTIONS_PER_CONVERSATION {
                        if Instant::now() >= deadline {
                            break;
                        }
                        let text =
                            &questions[(i * QUESTIONS_PER_CONVERSATION + q) % questions.len()];
                        let res = gateway.send(id, token, text, &client_id()).await?;
                        ensure!(res.status().as_u16() == 201, "status {}", res.status());
                        let body: Value = res.json().await?;
                        messages += 1;
                        replies += body["replies"].as_array().map_or(0, Vec::len);
                    }
                }
                anyhow::Ok((messages, replies))
            })
        })
        .collect();
    let (mut messages, mut bot_replies) = (0, 0);
    for worker in workers {
        let (m, r) = worker.await??;
        messages += m;
        bot_replies += r;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let mut commands = command_stats(redis).await?;
    // The measurement's own commands.
    commands.remove("info");
    commands.remove("config|resetstat");
    commands.remove("config");
    drop(gateways);
    Ok(Run {
        messages,
        bot_replies,
        seconds: elapsed,
        commands,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let appendfsync = std::env::var("BENCH_APPENDFSYNC").unwrap_or_else(|_| "everysec".into());
    let redis = RedisServer::start_with(&appendfsync).await?;
    let questions: Vec<String> = kb::demo_articles()?
        .into_iter()
        .filter(|a| a.locale == "zh-CN" && a.enabled)
        .map(|a| a.question)
        .collect();
    println!("appendfsync {appendfsync}");
    let turns = 200;
    let (per_turn, counted) =
        support::commands_per_turn(&redis, &questions, turns, QUESTIONS_PER_CONVERSATION).await?;
    println!(
        "client commands per bot turn (MONITOR, {turns} sequential turns, one process): {per_turn:.2} {counted:?}"
    );
    for processes in [1, 2] {
        let r = run(&redis, processes, &questions).await?;
        let total: u64 = r.commands.values().sum();
        let mut top: Vec<(&String, &u64)> = r.commands.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1));
        let per_message: Vec<String> = top
            .iter()
            .take(8)
            .map(|(name, calls)| format!("{name} {:.2}", **calls as f64 / r.messages as f64))
            .collect();
        println!(
            "{processes} process(es): {} customer messages in {:.1} s = {:.0} messages/s ({} bot replies); \
             Redis commands per message, counting those Lua scripts run inside, {:.2} ({})",
            r.messages,
            r.seconds,
            r.messages as f64 / r.seconds,
            r.bot_replies,
            total as f64 / r.messages as f64,
            per_message.join(", ")
        );
    }
    Ok(())
}
