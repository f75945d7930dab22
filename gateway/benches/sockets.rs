//! Idle WebSockets and relay latency on one gateway process.
//!
//! ```sh
//! cargo bench -p gateway --bench sockets          # 10 000 idle customer sockets
//! SOCKETS=2000 cargo bench -p gateway --bench sockets
//! ```
//!
//! 1. **Memory per socket, all in**: starts the release gateway (embedded store), opens
//!    `SOCKETS` customer conversations, reads the process's resident memory (`VmRSS`), opens
//!    one WebSocket per conversation, waits for the count in `/metrics`, reads `VmRSS` again:
//!    (after − before) ÷ sockets is what one idle socket costs the server (its task, buffers,
//!    hub entry, TCP state in user space). The conversations exist in both readings, so their
//!    records are not counted.
//! 2. **Relay latency under load, with the idle sockets still open**: `RELAY_PAIRS` (100)
//!    customers handed to `RELAY_AGENTS` (10) agents, each customer posting a message every
//!    `RELAY_INTERVAL_MS` (1 000) for 2 × `RELAY_SECONDS` (20); the time from the customer's
//!    POST leaving to the `message` event arriving on the agent's socket, p50/p99/max — in the
//!    first window alone, and in the second beside a flood (12 clients: one customer posting as
//!    fast as it can, past its rate limit → 429; 80 KB bodies → 413; forged tokens → 401).
//!    The flood is a process of its own at the lowest CPU priority (`FLOOD_NICE`, default
//!    19), standing in for attackers on other machines; `FLOOD_NICE=0` lets it compete with
//!    the server for the two cores as an equal.
//!
//! The load generator shares the machine's cores with the server; the figures are a floor.

#[path = "../tests/support/mod.rs"]
mod support;

use anyhow::{anyhow, ensure, Result};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{client_id, Gateway};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The gateway's resident memory, bytes.
fn rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS"))?;
    Ok(kb * 1024)
}

async fn open_sockets(gateway: &Gateway) -> Result<u64> {
    let text = gateway
        .client
        .get(gateway.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("gateway_websockets_open"))
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Set in the flood process: "port conversation token milliseconds".
const FLOOD_ROLE: &str = "SOCKETS_BENCH_FLOOD";

/// The flood process: 12 clients for the given time, then the answers by status as JSON.
async fn flood(spec: &str) -> Result<()> {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    let [port, conversation, token, millis] = parts[..] else {
        return Err(anyhow!("bad {FLOOD_ROLE}: {spec}"));
    };
    let base = format!("http://127.0.0.1:{port}/v1/conversations/{conversation}/messages");
    let end = Instant::now() + Duration::from_millis(millis.parse()?);
    let client = reqwest::Client::new();
    let statuses: Arc<Mutex<std::collections::BTreeMap<u16, u64>>> = Arc::default();
    let mut flooders = Vec::new();
    for f in 0..12 {
        let (client, statuses, base) = (client.clone(), Arc::clone(&statuses), base.clone());
        let token = token.to_owned();
        flooders.push(tokio::spawn(async move {
            let big = "洪".repeat(40_000);
            while Instant::now() < end {
                let (text, token) = match f % 3 {
                    0 => ("刷屏".to_owned(), token.clone()),
                    1 => (big.clone(), token.clone()),
                    _ => (
                        "伪造".to_owned(),
                        "cus_forged0000000000000000000000".to_owned(),
                    ),
                };
                let sent = client
                    .post(&base)
                    .bearer_auth(&token)
                    .json(&json!({"text": text, "client_message_id": client_id()}))
                    .send()
                    .await;
                let Ok(response) = sent else {
                    continue;
                };
                *statuses
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(response.status().as_u16())
                    .or_default() += 1;
            }
        }));
    }
    for flooder in flooders {
        flooder.await?;
    }
    let statuses = statuses.lock().unwrap_or_else(|p| p.into_inner()).clone();
    println!("{}", serde_json::to_string(&statuses)?);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    if let Ok(spec) = std::env::var(FLOOD_ROLE) {
        return flood(&spec).await;
    }
    let sockets: usize = env_or("SOCKETS", 10_000);
    let gateway = Gateway::start_embedded(
        "sockets",
        &[
            ("GATEWAY_CONVERSATIONS_PER_ADDRESS_PER_WINDOW", "100000000"),
            ("GATEWAY_ACCEPT_TIMEOUT_SECS", "3600"),
            ("RUST_LOG", "warn"),
        ],
    )
    .await?;
    let pid = gateway.pid().ok_or_else(|| anyhow!("no gateway process"))?;

    let mut conversations = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        conversations.push(gateway.start_conversation("zh-CN").await?);
    }
    // Let allocations from the setup settle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = rss(pid)?;
    let mut idle = Vec::with_capacity(sockets);
    for (id, token) in &conversations {
        idle.push(gateway.customer_ws(id, token, None).await?);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while open_sockets(&gateway).await? < sockets as u64 {
        ensure!(Instant::now() < deadline, "the sockets never all opened");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss(pid)?;
    let per_socket = (after.saturating_sub(before)) as f64 / sockets as f64;
    println!(
        "{sockets} idle customer sockets: server RSS {:.1} MiB → {:.1} MiB, {:.1} KiB per socket",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        per_socket / 1024.0
    );

    // Relay latency, the idle sockets still open.
    let pairs: usize = env_or("RELAY_PAIRS", 100);
    let agents: usize = env_or("RELAY_AGENTS", 10);
    let seconds: u64 = env_or("RELAY_SECONDS", 20);
    let interval = Duration::from_millis(env_or("RELAY_INTERVAL_MS", 1_000));
    let skills = [
        "zh",
        "presales",
        "orders",
        "logistics",
        "aftersales",
        "complaints",
    ];
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    // (when sent, latency ms)
    let latencies: Arc<Mutex<Vec<(Instant, f64)>>> = Arc::default();
    // Two windows of `seconds`: normal traffic, then the same with a flood beside it.
    let stop = Instant::now() + Duration::from_secs(2 * seconds + 60);
    let mut readers = Vec::new();
    for i in 0..agents {
        let (_, token) = gateway
            .create_agent(&format!("relay{i}"), &skills, (pairs / agents + 1) as u32)
            .await?;
        gateway.set_presence(&token, "online").await?;
        let mut socket = gateway.agent_ws(&token).await?;
        let (sent_at, latencies) = (Arc::clone(&sent_at), Arc::clone(&latencies));
        readers.push(tokio::spawn(async move {
            while Instant::now() < stop {
                // Bounded by `stop`: server pings alone would keep a read waiting forever.
                let read = tokio::time::timeout_at(stop.into(), socket.next_event()).await;
                let Ok(Ok(event)) = read else {
                    continue;
                };
                if event["type"] != "message" {
                    continue;
                }
                let Some(client) = event["message"]["client_message_id"].as_str() else {
                    continue;
                };
                let started = sent_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(client);
                if let Some(started) = started {
                    latencies
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((started, started.elapsed().as_secs_f64() * 1e3));
                }
            }
        }));
    }
    let gateway = Arc::new(gateway);
    let mut handed = Vec::new();
    for _ in 0..pairs {
        let (id, token) = gateway.start_conversation("zh-CN").await?;
        let response = gateway
            .post(
                &format!("/v1/conversations/{id}/handoff"),
                &token,
                &json!({}),
            )
            .await?;
        ensure!(
            response.status().as_u16() == 200,
            "handoff {}",
            response.status()
        );
        handed.push((id, token));
    }
    let begin = Instant::now();
    let middle = begin + Duration::from_secs(seconds);
    let end = middle + Duration::from_secs(seconds);
    let mut talkers = Vec::new();
    for (id, token) in handed {
        let (gateway, sent_at) = (Arc::clone(&gateway), Arc::clone(&sent_at));
        talkers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                let client = client_id();
                sent_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(client.clone(), Instant::now());
                let _ = gateway
                    .send(&id, &token, &format!("第{n}条消息"), &client)
                    .await;
                n += 1;
                tokio::time::sleep(interval).await;
            }
            n
        }));
    }
    // The flood, in the second window: one customer posting as fast as it can (429 past the
    // per-conversation limit), oversized bodies (413), and forged tokens (401). It runs as a
    // process of its own at the lowest CPU priority (`FLOOD_NICE`, 19): it stands in for
    // attackers on other machines, whose CPU is not the server's, on a machine where the
    // generator and the server share two cores. What the server spends answering it counts.
    tokio::time::sleep_until(middle.into()).await;
    let (flood_conversation, flood_token) = gateway.start_conversation("zh-CN").await?;
    let nice: i32 = env_or("FLOOD_NICE", 19);
    let flood = tokio::process::Command::new("nice")
        .arg("-n")
        .arg(nice.to_string())
        .arg(std::env::current_exe()?)
        .env(
            FLOOD_ROLE,
            format!(
                "{} {flood_conversation} {flood_token} {}",
                gateway.port,
                end.saturating_duration_since(Instant::now()).as_millis()
            ),
        )
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut sent = 0;
    for talker in talkers {
        sent += talker.await?;
    }
    let flood = flood.wait_with_output().await?;
    ensure!(flood.status.success(), "the flood process failed");
    let statuses = String::from_utf8_lossy(&flood.stdout).trim().to_owned();
    for reader in readers {
        reader.await?;
    }
    let all = latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let window = |from: Instant, to: Instant| {
        let mut v: Vec<f64> = all
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, ms)| *ms)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    // The first two seconds are left out: all talkers start at once.
    let normal = window(begin + Duration::from_secs(2), middle);
    // The flood's first second is left out: it is the flooders' connection set-up.
    let flooded = window(middle + Duration::from_secs(1), end);
    println!(
        "relay customer → agent with {sockets} idle sockets open, {pairs} customers at 1 message/{} ms to {agents} agents: {} of {sent} messages relayed",
        interval.as_millis(),
        all.len(),
    );
    println!(
        "  normal ({} s): n {}, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        seconds - 2,
        normal.len(),
        percentile(&normal, 0.5),
        percentile(&normal, 0.99),
        normal.last().copied().unwrap_or(f64::NAN),
    );
    println!(
        "  beside a flood ({seconds} s, 12 clients in a process at nice {nice}; answers by status {statuses}): n {}, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; ratio to normal: p50 {:.2}, p99 {:.2}",
        flooded.len(),
        percentile(&flooded, 0.5),
        percentile(&flooded, 0.99),
        flooded.last().copied().unwrap_or(f64::NAN),
        percentile(&flooded, 0.5) / percentile(&normal, 0.5),
        percentile(&flooded, 0.99) / percentile(&normal, 0.99),
    );
    drop(idle);
    Ok(())
}
