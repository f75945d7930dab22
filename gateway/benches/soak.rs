//! Soak: many customers and agents chatting for minutes, then a count of what was lost.
//!
//! ```sh
//! cargo bench -p gateway --bench soak                      # 1 000 customers, 100 agents, 3 min per backend
//! SOAK_SECONDS=1800 cargo bench -p gateway --bench soak    # the long profile
//! SOAK_BACKENDS=embedded cargo bench -p gateway --bench soak  # one backend (or "redis")
//! ```
//!
//! For each backend (the embedded store, then a redis-server of its own), one gateway process
//! (the release binary) serves `SOAK_CUSTOMERS` customers and `SOAK_AGENTS` agents for
//! `SOAK_SECONDS`. Every customer holds a WebSocket open and posts a message every 2–8 s (FAQ
//! questions; about a third ask for a person after their first answers); every agent holds its
//! socket and answers each customer message in its conversations over HTTP, and resolves a
//! conversation after a few exchanges. Each acknowledged message (201) is recorded with its
//! `client_message_id` and `seq`. Afterwards every transcript is read back and checked:
//!
//! - **lost**: acknowledged, but not in the transcript;
//! - **duplicated**: one `client_message_id` stored more than once;
//! - **seq gaps**: a transcript whose `seq` is not exactly 1..n;
//! - **socket gaps**: a customer socket that saw seq k+2 without k+1 (the socket repairs gaps
//!   from the store, so this must be zero too).
//!
//! The load generator runs on the same machine; the latencies are a floor, not a promise.

#[path = "../tests/support/mod.rs"]
mod support;

use anyhow::{ensure, Result};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{client_id, Gateway, RedisServer, WsClient};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one side had acknowledged: conversation → client_message_id → seq.
type Acked = Arc<Mutex<HashMap<String, HashMap<String, u64>>>>;

fn note(acked: &Acked, conversation: &str, client: String, seq: u64) {
    acked
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(conversation.to_owned())
        .or_default()
        .insert(client, seq);
}

#[derive(Default)]
struct Report {
    backend: String,
    customers: usize,
    agents: usize,
    seconds: f64,
    /// Messages acknowledged with 201, customers' and agents'.
    acknowledged: usize,
    /// Agent messages in the transcripts.
    agent_messages: usize,
    stored: usize,
    lost: usize,
    duplicated: usize,
    seq_gaps: usize,
    socket_gaps: usize,
    errors: usize,
    latencies_ms: Vec<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Posts a message and records it when acknowledged; returns the response body.
async fn post(
    gateway: &Gateway,
    conversation: &str,
    token: &str,
    text: &str,
    acked: &Acked,
    latencies: &Mutex<Vec<f64>>,
) -> Result<Option<Value>> {
    let client = client_id();
    let started = Instant::now();
    let response = gateway
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            token,
            &json!({"text": text, "client_message_id": client}),
        )
        .await?;
    let status = response.status().as_u16();
    if status != 201 {
        // A conflict (the conversation ended meanwhile) or a limit: not acknowledged.
        return Ok(None);
    }
    let body: Value = response.json().await?;
    latencies
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(started.elapsed().as_secs_f64() * 1e3);
    if let Some(seq) = body["message"]["seq"].as_u64() {
        note(acked, conversation, client, seq);
    }
    Ok(Some(body))
}

async fn soak(gateway: Gateway, backend: &str, questions: &[String]) -> Result<Report> {
    let customers: usize = env_or("SOAK_CUSTOMERS", 1_000);
    let agents: usize = env_or("SOAK_AGENTS", 100);
    let seconds: u64 = env_or("SOAK_SECONDS", 180);
    let gateway = Arc::new(gateway);
    let acked: Acked = Arc::default();
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Everyone connects first; the clock starts when all are in.
    let (start, gate) = tokio::sync::watch::channel(None::<Instant>);
    let connecting = Arc::new(tokio::sync::Semaphore::new(32));

    // Agents: online, one socket each, answering every customer message in their conversations.
    let skills = [
        "zh",
        "presales",
        "orders",
        "logistics",
        "aftersales",
        "complaints",
    ];
    let mut agent_tasks = Vec::new();
    for i in 0..agents {
        let (_, token) = gateway
            .create_agent(&format!("坐席{i}"), &skills, 10)
            .await?;
        gateway.set_presence(&token, "online").await?;
        let mut socket = gateway.agent_ws(&token).await?;
        let (gateway, acked, latencies, errors) = (
            Arc::clone(&gateway),
            Arc::clone(&acked),
            Arc::clone(&latencies),
            Arc::clone(&errors),
        );
        let gate = gate.clone();
        agent_tasks.push(tokio::spawn(async move {
            let deadline = started(gate).await;
            let mut exchanges: HashMap<String, usize> = HashMap::new();
            while Instant::now() < deadline {
                // Bounded by the deadline: pings alone would keep a read waiting.
                let read = tokio::time::timeout_at(deadline.into(), socket.next_event()).await;
                let Ok(Ok(event)) = read else {
                    continue;
                };
                if event["type"] != "message" || event["message"]["author"]["role"] != "customer" {
                    continue;
                }
                let conversation = event["conversation_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let n = exchanges.entry(conversation.clone()).or_default();
                *n += 1;
                let answered = post(
                    &gateway,
                    &conversation,
                    &token,
                    &format!("收到，第{n}次回复您"),
                    &acked,
                    &latencies,
                )
                .await;
                if answered.is_err() {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                if *n >= 4 {
                    let _ = gateway
                        .post(
                            &format!("/v1/conversations/{conversation}/resolve"),
                            &token,
                            &json!({"outcome": "resolved"}),
                        )
                        .await;
                }
            }
        }));
    }

    // Customers: a socket each, a message every 2–8 s.
    let mut customer_tasks = Vec::new();
    let (ready, mut all_ready) = tokio::sync::mpsc::channel::<Result<()>>(customers.max(1));
    for i in 0..customers {
        let (gateway, acked, latencies, errors, connecting, ready) = (
            Arc::clone(&gateway),
            Arc::clone(&acked),
            Arc::clone(&latencies),
            Arc::clone(&errors),
            Arc::clone(&connecting),
            ready.clone(),
        );
        let questions = questions.to_vec();
        let gate = gate.clone();
        customer_tasks.push(tokio::spawn(async move {
            let connected = async {
                let _permit = connecting.acquire().await?;
                let (conversation, token) = gateway.start_conversation("zh-CN").await?;
                let socket = gateway.customer_ws(&conversation, &token, None).await?;
                anyhow::Ok((conversation, token, socket))
            }
            .await;
            let (conversation, token, socket) = match connected {
                Ok(c) => {
                    let _ = ready.send(Ok(())).await;
                    c
                }
                Err(e) => {
                    let _ = ready.send(Err(e)).await;
                    return (String::new(), Vec::new());
                }
            };
            drop(ready);
            let deadline = started(gate).await;
            // The socket's reader: every seq it sees, in order.
            let seen = Arc::new(Mutex::new(Vec::<u64>::new()));
            let reader_seen = Arc::clone(&seen);
            let reader = tokio::spawn(read_seqs(socket, reader_seen, deadline));
            let wants_person = i % 3 == 0;
            let mut sent = 0usize;
            // Spread the first messages over the first seconds.
            tokio::time::sleep(Duration::from_millis((i as u64 * 7919) % 5_000)).await;
            while Instant::now() < deadline {
                let text = if wants_person && sent == 2 {
                    "转人工".to_owned()
                } else {
                    questions[(i * 7 + sent) % questions.len()].clone()
                };
                if post(&gateway, &conversation, &token, &text, &acked, &latencies)
                    .await
                    .is_err()
                {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                sent += 1;
                let pause = 2_000 + ((i * 31 + sent * 17) % 6_000) as u64;
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            let _ = reader.await;
            let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
            (conversation, seen)
        }));
    }
    drop(ready);
    for _ in 0..customers {
        match all_ready.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e.context("connecting a customer")),
            None => break,
        }
    }
    let began = Instant::now();
    start.send(Some(began + Duration::from_secs(seconds)))?;
    let mut sockets = Vec::new();
    for task in customer_tasks {
        sockets.push(task.await?);
    }
    for task in agent_tasks {
        task.await?;
    }
    let elapsed = began.elapsed().as_secs_f64();
    // Let the last events settle before reading back.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let acked = acked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut report = Report {
        backend: backend.to_owned(),
        customers,
        agents,
        seconds: elapsed,
        errors: errors.load(std::sync::atomic::Ordering::Relaxed),
        ..Report::default()
    };
    for (conversation, seen) in &sockets {
        let transcript = gateway.transcript(conversation).await?;
        report.stored += transcript.len();
        report.agent_messages += transcript
            .iter()
            .filter(|m| m["author"]["role"] == "agent")
            .count();
        let seqs: Vec<u64> = transcript
            .iter()
            .filter_map(|m| m["seq"].as_u64())
            .collect();
        if seqs != (1..=seqs.len() as u64).collect::<Vec<_>>() {
            report.seq_gaps += 1;
        }
        let mut stored: HashMap<String, usize> = HashMap::new();
        for message in &transcript {
            if let Some(client) = message["client_message_id"].as_str() {
                *stored.entry(client.to_owned()).or_default() += 1;
            }
        }
        report.duplicated += stored.values().filter(|n| **n > 1).count();
        if let Some(mine) = acked.get(conversation) {
            report.lost += mine.keys().filter(|c| !stored.contains_key(*c)).count();
        }
        report.socket_gaps += seen.windows(2).filter(|w| w[1] > w[0] + 1).count();
    }
    // Every acknowledged message belongs to one of the customers' conversations.
    report.acknowledged = acked.values().map(HashMap::len).sum();
    report.lost += acked
        .iter()
        .filter(|(c, _)| !sockets.iter().any(|(s, _)| s == *c))
        .map(|(_, m)| m.len())
        .sum::<usize>();
    let mut latencies = latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    latencies.sort_by(f64::total_cmp);
    report.latencies_ms = latencies;
    Ok(report)
}

/// Waits until the run starts; returns its end.
async fn started(mut gate: tokio::sync::watch::Receiver<Option<Instant>>) -> Instant {
    loop {
        if let Some(deadline) = *gate.borrow_and_update() {
            return deadline;
        }
        if gate.changed().await.is_err() {
            return Instant::now();
        }
    }
}

/// Records the `seq` of every message event a customer socket receives until the deadline.
async fn read_seqs(mut socket: WsClient, seen: Arc<Mutex<Vec<u64>>>, deadline: Instant) {
    let end = deadline + Duration::from_secs(1);
    while Instant::now() < end {
        // Bounded: pings alone would keep a read waiting.
        let Ok(Ok(event)) = tokio::time::timeout_at(end.into(), socket.next_event()).await else {
            continue;
        };
        if event["type"] == "message" {
            if let Some(seq) = event["message"]["seq"].as_u64() {
                seen.lock().unwrap_or_else(|p| p.into_inner()).push(seq);
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let questions: Vec<String> = kb::demo_articles()?
        .into_iter()
        .filter(|a| a.locale == "zh-CN" && a.enabled)
        .map(|a| a.question)
        .collect();
    let limits = [
        ("GATEWAY_CONVERSATIONS_PER_ADDRESS_PER_WINDOW", "1000000"),
        ("GATEWAY_ACCEPT_TIMEOUT_SECS", "3600"),
        ("RUST_LOG", "warn"),
    ];
    // SOAK_BACKENDS: "embedded,redis" (both, the default), "embedded" or "redis".
    let backends = std::env::var("SOAK_BACKENDS").unwrap_or_else(|_| "embedded,redis".into());
    let wanted = |name: &str| backends.split(',').any(|b| b.trim() == name);
    let mut reports = Vec::new();
    if wanted("embedded") {
        let embedded = Gateway::start_embedded("soak-embedded", &limits).await?;
        reports.push(soak(embedded, "embedded (redb)", &questions).await?);
    }
    if wanted("redis") {
        let redis = RedisServer::start().await?;
        let prefix = support::unique_prefix("soak");
        let mut on_redis = limits.to_vec();
        let url = redis.url();
        on_redis.push(("GATEWAY_REDIS_URL", &url));
        on_redis.push(("GATEWAY_REDIS_PREFIX", &prefix));
        let gateway = Gateway::start_with("soak-redis", &on_redis).await?;
        reports.push(soak(gateway, "Redis", &questions).await?);
    }
    ensure!(
        !reports.is_empty(),
        "SOAK_BACKENDS names no backend: {backends}"
    );

    println!(
        "| backend | customers | agents | seconds | acknowledged | agent replies | stored (with bot and system) | lost | duplicated | seq gaps | socket gaps | errors | ack p50 / p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut clean = true;
    for r in &reports {
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} / {:.1} |",
            r.backend,
            r.customers,
            r.agents,
            r.seconds,
            r.acknowledged,
            r.agent_messages,
            r.stored,
            r.lost,
            r.duplicated,
            r.seq_gaps,
            r.socket_gaps,
            r.errors,
            percentile(&r.latencies_ms, 0.5),
            percentile(&r.latencies_ms, 0.99),
        );
        clean &= r.lost == 0 && r.duplicated == 0 && r.seq_gaps == 0 && r.socket_gaps == 0;
    }
    let by_backend: BTreeMap<&str, bool> = reports
        .iter()
        .map(|r| (r.backend.as_str(), r.lost == 0 && r.duplicated == 0))
        .collect();
    ensure!(
        clean,
        "messages were lost, duplicated or out of sequence: {by_backend:?}"
    );
    Ok(())
}
