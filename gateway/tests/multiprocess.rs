//! Several gateway processes on one Redis, as the test starts them: real binaries, real
//! HTTP and WebSocket, real pub/sub between them. The first tests share the Redis at
//! 127.0.0.1:6379 (or `GATEWAY_TEST_REDIS_URL`), each under a key prefix of its own; the
//! fault tests start a redis-server of their own so they can stop, restart or pause it.

mod support;

use anyhow::{anyhow, ensure, Context, Result};
use futures_util::future::join_all;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

/// The bound: after Redis returns, the gateways serve again within this.
const SERVES_AGAIN_WITHIN: Duration = Duration::from_secs(5);

fn role(message: &Value) -> &str {
    message["author"]["role"].as_str().unwrap_or_default()
}

/// Asserts that `seqs` is exactly 1, 2, 3, … with nothing missing and nothing twice.
fn assert_gap_free(seqs: &[u64], what: &str) -> Result<()> {
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    ensure!(
        seqs == expected,
        "{what}: seqs {seqs:?} are not 1..={}",
        seqs.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_on_one_process_and_an_agent_on_another_talk_normally() -> Result<()> {
    let redis = shared_redis_url();
    let prefix = unique_prefix("talk");
    talk(&redis, &prefix).await?;
    delete_keys(&redis, &prefix).await
}

/// The same code runs on a Redis Cluster: every key of a shop carries the shop's hash tag, so
/// each script's keys are in one slot, wherever that slot lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_a_redis_cluster_processes_talk_and_handoffs_fill_the_seats_once_each() -> Result<()> {
    let cluster = RedisCluster::start(3).await?;
    talk(&cluster.url(), &unique_prefix("cluster-talk")).await?;
    fill_the_seats(&cluster.url(), &unique_prefix("cluster-seats"), 300, 10, 5).await
}

/// The budget is five Redis commands per bot turn. The gateway sends three: one
/// script stores the customer's message and reads the conversation with its recent history,
/// one stores the bot's answer, one PUBLISH carries both events (plus one token read per
/// conversation and process). Counted with MONITOR on a server of the test's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bot_turn_costs_at_most_five_redis_commands() -> Result<()> {
    let redis = RedisServer::start_with("no").await?;
    let questions: Vec<String> = kb::demo_articles()?
        .into_iter()
        .filter(|a| a.locale == "zh-CN" && a.enabled)
        .map(|a| a.question)
        .collect();
    let (per_turn, counted) = commands_per_turn(&redis, &questions, 40, 10).await?;
    println!("Redis commands per bot turn: {per_turn:.2} {counted:?}");
    ensure!(
        per_turn <= 5.0,
        "{per_turn:.2} Redis commands per bot turn: {counted:?}"
    );
    Ok(())
}

/// A customer on one process and an agent on another: bot answer, handoff, both ways.
async fn talk(redis: &str, prefix: &str) -> Result<()> {
    let a = Gateway::start("a", redis, prefix).await?;
    let b = Gateway::start("b", redis, prefix).await?;

    let (_, agent_token) = a.create_agent("王", ALL_SKILLS, 5).await?;
    let mut agent_ws = b.agent_ws(&agent_token).await?;
    b.set_presence(&agent_token, "online").await?;

    let (conversation, token) = a.start_conversation("zh-CN").await?;
    let mut customer_ws = a.customer_ws(&conversation, &token, Some(0)).await?;
    customer_ws
        .send_json(&json!({"type": "message", "text": demo_question("shipping", "zh-CN")?, "client_message_id": "c1"}))
        .await?;
    let mut seen = customer_ws.messages_until(|m| role(m) == "bot").await?;

    // The handoff happens on A; the agent's socket on B hears of it through pub/sub.
    let res = a
        .post(
            &format!("/v1/conversations/{conversation}/handoff"),
            &token,
            &json!({}),
        )
        .await?;
    expect_status(res, 200).await?;
    let assigned = agent_ws.next_of("assigned").await?;
    assert_eq!(assigned["conversation_id"], conversation.as_str());

    // The agent answers on B; the customer's socket on A gets it.
    agent_ws
        .send_json(&json!({"type": "message", "conversation_id": conversation, "text": "您好，我来帮您查一下", "client_message_id": "a1"}))
        .await?;
    seen.extend(customer_ws.messages_until(|m| role(m) == "agent").await?);
    // The customer answers on A; the agent's socket on B gets it.
    customer_ws
        .send_json(&json!({"type": "message", "text": "好的，谢谢", "client_message_id": "c2"}))
        .await?;
    let to_agent = agent_ws
        .messages_until(|m| m["client_message_id"] == "c2")
        .await?;
    seen.extend(
        customer_ws
            .messages_until(|m| m["client_message_id"] == "c2")
            .await?,
    );

    assert_gap_free(&seqs(&seen), "the customer's socket")?;
    let transcript = b.transcript(&conversation).await?;
    assert_eq!(seqs(&transcript), seqs(&seen));
    assert_eq!(
        to_agent.last().map(|m| &m["text"]),
        Some(&json!("好的，谢谢"))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_knowledge_base_change_on_one_process_is_searchable_on_the_other() -> Result<()> {
    let redis = shared_redis_url();
    let prefix = unique_prefix("kb");
    let a = Gateway::start("a", &redis, &prefix).await?;
    let b = Gateway::start("b", &redis, &prefix).await?;
    let question = "独角兽牌飞行扫帚什么时候到货";
    let search = format!("/v1/kb/search?q={question}");
    let top = |body: &Value| body["items"][0]["article_id"].as_str().map(str::to_owned);

    let before = expect_status(b.get(&search, ADMIN_KEY).await?, 200).await?;
    assert_ne!(top(&before).as_deref(), Some("broom-1"));
    let res = a
        .post(
            "/v1/kb/articles",
            ADMIN_KEY,
            &json!({"id": "broom-1", "question": question, "answer": "下单后三天内发货。", "category": "shipping", "locale": "zh-CN"}),
        )
        .await?;
    expect_status(res, 201).await?;

    // B rebuilds its index when the notice arrives; allow it a generous moment.
    let started = Instant::now();
    loop {
        let found = expect_status(b.get(&search, ADMIN_KEY).await?, 200).await?;
        if top(&found).as_deref() == Some("broom-1") {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(10),
            "B never found the article A created: {found}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    delete_keys(&redis, &prefix).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_handoffs_fill_exactly_the_150_seats_once_each() -> Result<()> {
    let redis = shared_redis_url();
    let prefix = unique_prefix("seats");
    fill_the_seats(&redis, &prefix, 1_000, 30, 5).await?;
    delete_keys(&redis, &prefix).await
}

/// `conversations` concurrent handoffs over three processes against `agents` agents of
/// `seats` seats: every seat is filled once, no conversation twice, every socket told.
async fn fill_the_seats(
    redis: &str,
    prefix: &str,
    conversations: usize,
    agents: usize,
    seats: u32,
) -> Result<()> {
    let (conversation_count, agent_count) = (conversations, agents);
    let gateways = [
        Gateway::start("a", redis, prefix).await?,
        Gateway::start("b", redis, prefix).await?,
        Gateway::start("c", redis, prefix).await?,
    ];
    let at = |i: usize| &gateways[i % gateways.len()];

    // 30 agents of 5 seats, their sockets and presence spread over the processes.
    let mut agents = Vec::new();
    let mut sockets = Vec::new();
    for i in 0..agent_count {
        let (id, token) = at(0)
            .create_agent(&format!("agent{i}"), ALL_SKILLS, seats)
            .await?;
        sockets.push(at(i).agent_ws(&token).await?);
        at(i + 1).set_presence(&token, "online").await?;
        agents.push(id);
    }

    let started: Vec<(String, String)> = futures_util::stream::iter(0..conversation_count)
        .map(|i| at(i).start_conversation("zh-CN"))
        .buffered(50)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;

    // Every handoff at once, spread over the processes.
    let handoffs = started
        .iter()
        .enumerate()
        .map(|(i, (id, token))| async move {
            let res = at(i)
                .post(
                    &format!("/v1/conversations/{id}/handoff"),
                    token,
                    &json!({}),
                )
                .await?;
            expect_status(res, 200).await
        });
    for result in join_all(handoffs).await {
        result?;
    }

    // Where every conversation stands, as the store says.
    let mut by_agent: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut queued = 0;
    for (i, (id, _)) in started.iter().enumerate() {
        let view = expect_status(
            at(i)
                .get(&format!("/v1/conversations/{id}"), ADMIN_KEY)
                .await?,
            200,
        )
        .await?;
        match view["state"].as_str() {
            Some("assigned") => by_agent
                .entry(str_at(&view, "/assignee/id")?)
                .or_default()
                .push(id.clone()),
            Some("queued") => queued += 1,
            other => return Err(anyhow!("conversation {id} is {other:?}")),
        }
        let routing = expect_status(
            at(i)
                .get(&format!("/v1/conversations/{id}/routing"), ADMIN_KEY)
                .await?,
            200,
        )
        .await?;
        let decisions = routing["items"].as_array().map_or(0, Vec::len);
        let assigned = usize::from(view["state"] == "assigned");
        ensure!(
            decisions == assigned,
            "conversation {id} has {decisions} routing decisions: {routing}"
        );
    }
    let assigned: usize = by_agent.values().map(Vec::len).sum();
    assert_eq!(assigned, agent_count * seats as usize);
    assert_eq!(queued, conversation_count - assigned);
    assert_eq!(by_agent.len(), agent_count);
    assert!(by_agent.values().all(|held| held.len() == seats as usize));

    // Every agent's socket, wherever it is, was told of exactly the conversations it holds.
    for (i, socket) in sockets.iter_mut().enumerate() {
        let mut told = BTreeSet::new();
        while told.len() < seats as usize {
            let event = socket.next_of("assigned").await?;
            ensure!(
                told.insert(str_at(&event, "/conversation_id")?),
                "agent {i} was told of a conversation twice"
            );
        }
        let held: BTreeSet<String> = by_agent[&agents[i]].iter().cloned().collect();
        assert_eq!(told, held, "agent {i}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_process_loses_nothing_acknowledged_and_its_customers_continue_on_another(
) -> Result<()> {
    const CUSTOMERS: usize = 6;
    let redis = shared_redis_url();
    let prefix = unique_prefix("kill");
    let mut a = Gateway::start("a", &redis, &prefix).await?;
    let b = Gateway::start("b", &redis, &prefix).await?;
    let (_, agent_token) = b.create_agent("李", ALL_SKILLS, CUSTOMERS as u32).await?;
    let mut agent_ws = b.agent_ws(&agent_token).await?;
    b.set_presence(&agent_token, "online").await?;

    // Customers on A, handed off to the agent on B, each with a socket on A.
    let mut customers = Vec::new();
    for _ in 0..CUSTOMERS {
        let (id, token) = a.start_conversation("zh-CN").await?;
        let mut ws = a.customer_ws(&id, &token, Some(0)).await?;
        let res = a
            .post(
                &format!("/v1/conversations/{id}/handoff"),
                &token,
                &json!({}),
            )
            .await?;
        expect_status(res, 200).await?;
        let seen = ws.messages_until(|m| role(m) == "system").await?;
        customers.push((id, token, ws, seen));
    }
    for _ in 0..CUSTOMERS {
        agent_ws.next_of("assigned").await?;
    }

    // Each customer keeps writing to A; A is killed while they do.
    let a_client = a.client.clone();
    let a_url = a.url("");
    let writers: Vec<_> = customers
        .iter()
        .map(|(id, token, _, _)| {
            let (client, url, id, token) =
                (a_client.clone(), a_url.clone(), id.clone(), token.clone());
            tokio::spawn(async move {
                // client_message_id → seq of every message A acknowledged.
                let mut acked: HashMap<String, u64> = HashMap::new();
                for n in 0.. {
                    let cmid = client_id();
                    let sent = client
                        .post(format!("{url}/v1/conversations/{id}/messages"))
                        .bearer_auth(&token)
                        .json(
                            &json!({"text": format!("第{n}条补充说明"), "client_message_id": cmid}),
                        )
                        .send()
                        .await;
                    let Ok(res) = sent else { break };
                    if res.status().as_u16() != 201 {
                        break;
                    }
                    let Ok(body) = res.json::<Value>().await else {
                        break;
                    };
                    if let Some(seq) = body["message"]["seq"].as_u64() {
                        acked.insert(cmid, seq);
                    }
                    // Within the per-conversation rate limit (20 per 10 s).
                    tokio::time::sleep(Duration::from_millis(600)).await;
                }
                acked
            })
        })
        .collect();
    // Let every writer get a few messages acknowledged, then kill A.
    tokio::time::sleep(Duration::from_secs(2)).await;
    a.kill();
    let mut acked = Vec::new();
    for writer in writers {
        acked.push(writer.await?);
    }
    ensure!(
        acked.iter().all(|a| !a.is_empty()),
        "a writer got nothing acknowledged"
    );

    // While the customers are away, the agent (on B) writes to each.
    for (id, _, _, _) in &customers {
        agent_ws
            .send_json(&json!({"type": "message", "conversation_id": id, "text": "还在吗？我看到了", "client_message_id": format!("away-{id}")}))
            .await?;
    }

    for ((id, token, mut old_ws, mut seen), acked) in customers.into_iter().zip(acked) {
        // The old socket died with A; read what it delivered before, then reconnect to B.
        while let Ok(event) = old_ws.next_event().await {
            if event["type"] == "message" {
                seen.push(event["message"].clone());
            }
        }
        let last = seqs(&seen).last().copied().unwrap_or(0);
        let mut ws = b.customer_ws(&id, &token, Some(last)).await?;
        let cmid = format!("away-{id}");
        seen.extend(
            ws.messages_until(|m| m["client_message_id"] == cmid.as_str())
                .await?,
        );
        // And continues on B.
        ws.send_json(&json!({"type": "message", "text": "收到，谢谢", "client_message_id": format!("back-{id}")}))
            .await?;
        let back = format!("back-{id}");
        seen.extend(
            ws.messages_until(|m| m["client_message_id"] == back.as_str())
                .await?,
        );

        assert_gap_free(&seqs(&seen), "a customer's sockets, before and after")?;
        let transcript = b.transcript(&id).await?;
        assert_eq!(seqs(&transcript), seqs(&seen));
        for (cmid, seq) in &acked {
            let stored = transcript
                .iter()
                .find(|m| m["client_message_id"] == cmid.as_str())
                .with_context(|| format!("acknowledged message {cmid} was lost"))?;
            assert_eq!(stored["seq"].as_u64(), Some(*seq));
        }
    }
    // The agent, on B all along, saw each customer's message after the move.
    let mut backs = 0;
    while backs < CUSTOMERS {
        let event = agent_ws.next_of("message").await?;
        if event["message"]["client_message_id"]
            .as_str()
            .is_some_and(|c| c.starts_with("back-"))
        {
            backs += 1;
        }
    }
    delete_keys(&redis, &prefix).await
}

/// What one customer saw and was told during a fault test.
#[derive(Default)]
struct Tally {
    /// client_message_id → seq of every acknowledged message.
    acked: HashMap<String, u64>,
    unavailable: usize,
}

/// Writes to alternating gateways until `stop`; every answer must be 201, or 503 with
/// `Retry-After`; no request may hang past the client's timeout.
async fn write_until(
    gateways: Arc<Vec<(reqwest::Client, String)>>,
    id: String,
    token: String,
    stop: Arc<tokio::sync::Notify>,
) -> Result<Tally> {
    let mut tally = Tally::default();
    let stopped = stop.notified();
    tokio::pin!(stopped);
    for n in 0usize.. {
        let (client, url) = &gateways[n % gateways.len()];
        let cmid = client_id();
        let res = client
            .post(format!("{url}/v1/conversations/{id}/messages"))
            .bearer_auth(&token)
            .timeout(Duration::from_secs(15))
            .json(&json!({"text": format!("第{n}条"), "client_message_id": cmid}))
            .send()
            .await
            .with_context(|| format!("request {n} hung or failed"))?;
        match res.status().as_u16() {
            201 => {
                let body: Value = res.json().await?;
                let seq = body["message"]["seq"].as_u64().context("no seq")?;
                tally.acked.insert(cmid, seq);
            }
            503 => {
                ensure!(
                    res.headers().contains_key("retry-after"),
                    "a 503 without Retry-After"
                );
                let body: Value = res.json().await?;
                ensure!(body["error"]["code"] == "unavailable", "{body}");
                tally.unavailable += 1;
            }
            other => return Err(anyhow!("status {other}: {}", res.text().await?)),
        }
        tokio::select! {
            _ = &mut stopped => return Ok(tally),
            // Within the per-conversation rate limit (20 per 10 s, counted per process).
            _ = tokio::time::sleep(Duration::from_millis(400)) => {}
        }
    }
    Ok(tally)
}

/// Polls `gateway` with a new message until it is acknowledged; returns how long it took.
async fn until_served(gateway: &Gateway, id: &str, token: &str) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let res = gateway.send(id, token, "恢复了吗", &client_id()).await?;
        match res.status().as_u16() {
            201 => return Ok(started.elapsed()),
            503 => {}
            other => return Err(anyhow!("status {other}: {}", res.text().await?)),
        }
        ensure!(
            started.elapsed() < Duration::from_secs(60),
            "never served again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How a fault test breaks Redis, and mends it.
enum Fault {
    /// SIGKILL, a few seconds down, then a restart that reads the append-only file back.
    KillAndRestart,
    /// `CLIENT PAUSE ALL` for longer than the store's response timeout.
    Pause,
}

impl Fault {
    async fn strike(&self, redis: &mut RedisServer) -> Result<()> {
        match self {
            Fault::KillAndRestart => {
                redis.kill();
                tokio::time::sleep(Duration::from_secs(3)).await;
                redis.restart().await
            }
            Fault::Pause => {
                redis.command(&["CLIENT", "PAUSE", "8000", "ALL"]).await?;
                tokio::time::sleep(Duration::from_millis(8_000)).await;
                Ok(())
            }
        }
    }
}

/// The fault scenario both fault tests share: two gateways on `redis`, customers writing
/// to both, a customer socket on B fed by A's messages, while `fault` strikes.
async fn survive(redis: &mut RedisServer, fault: Fault) -> Result<()> {
    const CUSTOMERS: usize = 4;
    let prefix = unique_prefix("fault");
    let a = Gateway::start("a", &redis.url(), &prefix).await?;
    let b = Gateway::start("b", &redis.url(), &prefix).await?;
    let targets = Arc::new(vec![
        (a.client.clone(), a.url("")),
        (b.client.clone(), b.url("")),
    ]);
    let mut customers = Vec::new();
    for _ in 0..CUSTOMERS {
        customers.push(a.start_conversation("zh-CN").await?);
    }
    // A socket on B listening to a conversation that only A writes to.
    let (watched, watched_token) = customers[0].clone();
    let mut ws = b.customer_ws(&watched, &watched_token, Some(0)).await?;

    let stop = Arc::new(tokio::sync::Notify::new());
    let writers: Vec<_> = customers
        .iter()
        .skip(1)
        .map(|(id, token)| {
            tokio::spawn(write_until(
                Arc::clone(&targets),
                id.clone(),
                token.clone(),
                Arc::clone(&stop),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    fault.strike(redis).await?;

    // Within the bound, both gateways serve again.
    for gateway in [&a, &b] {
        let took = until_served(gateway, &watched, &watched_token).await?;
        ensure!(
            took < SERVES_AGAIN_WITHIN,
            "{} served again only after {took:?}",
            gateway.name
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.notify_waiters();
    let mut tallies = Vec::new();
    for writer in writers {
        tallies.push(writer.await??);
    }
    ensure!(
        tallies.iter().any(|t| t.unavailable > 0),
        "no request saw the outage"
    );

    // Nothing acknowledged was lost, and every transcript is gap-free.
    for ((id, _), tally) in customers.iter().skip(1).zip(&tallies) {
        let transcript = b.transcript(id).await?;
        assert_gap_free(&seqs(&transcript), "a transcript")?;
        for (cmid, seq) in &tally.acked {
            let stored = transcript
                .iter()
                .find(|m| m["client_message_id"] == cmid.as_str())
                .with_context(|| format!("acknowledged message {cmid} was lost"))?;
            assert_eq!(stored["seq"].as_u64(), Some(*seq));
        }
    }

    // The socket on B still gets A's messages (the subscriber resubscribed), and what it
    // got, with a replay after any reconnect, is the transcript: nothing lost, nothing twice.
    let cmid = client_id();
    expect_status(
        a.send(&watched, &watched_token, "最后一条", &cmid).await?,
        201,
    )
    .await?;
    let mut seen = Vec::new();
    let mut reconnects = 0;
    loop {
        match ws.next_event().await {
            Ok(event) if event["type"] == "message" => {
                let done = event["message"]["client_message_id"] == cmid.as_str();
                seen.push(event["message"].clone());
                if done {
                    break;
                }
            }
            Ok(_) => {}
            // B closed the socket (it could not read the store during the outage): the
            // client reconnects after what it has, as the widget does.
            Err(error) => {
                reconnects += 1;
                ensure!(
                    reconnects <= 3,
                    "the watching socket keeps failing: {error}"
                );
                let last = seqs(&seen).last().copied().unwrap_or(0);
                ws = b.customer_ws(&watched, &watched_token, Some(last)).await?;
            }
        }
    }
    assert_gap_free(&seqs(&seen), "the watching socket")?;
    assert_eq!(seqs(&b.transcript(&watched).await?), seqs(&seen));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_stopped_and_restarted_under_load_loses_nothing_acknowledged() -> Result<()> {
    let mut redis = RedisServer::start().await?;
    survive(&mut redis, Fault::KillAndRestart).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_redis_is_survived_the_same_way() -> Result<()> {
    let mut redis = RedisServer::start().await?;
    survive(&mut redis, Fault::Pause).await
}
