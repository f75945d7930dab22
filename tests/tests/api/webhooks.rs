//! Webhooks: registration rules, Standard Webhooks signatures checked independently (HMAC
//! here, not the gateway's code), retries with the same event id, the delivery log, and an
//! outbox that survives a restart. The receivers are plain HTTP/1.1 servers on loopback.

use crate::helpers::*;
use anyhow::{anyhow, Context, Result};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }
}

/// A webhook receiver answering each request with the next status of `statuses` (the last
/// one from then on).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(statuses: Vec<u16>) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        Self::on(listener, statuses)
    }

    fn on(listener: TcpListener, statuses: Vec<u16>) -> Result<Self> {
        let url = format!("http://{}/hooks/shop", listener.local_addr()?);
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = Arc::clone(&got);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                let statuses = statuses.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    let n = {
                        let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                        seen.push(request);
                        seen.len()
                    };
                    let status = statuses
                        .get(n - 1)
                        .or(statuses.last())
                        .copied()
                        .unwrap_or(200);
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok(Self { url, got, task })
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until `pred` holds for what was received.
    async fn until(&self, pred: impl Fn(&[Received]) -> bool) -> Result<Vec<Received>> {
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        loop {
            let got = self.received();
            if pred(&got) {
                return Ok(got);
            }
            if tokio::time::Instant::now() > deadline {
                let types: Vec<Value> = got.iter().map(|r| r.json()["type"].clone()).collect();
                return Err(anyhow!("receiver waited in vain; got {types:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buffer[header_end..header_end + length]).to_string();
    Some(Received { headers, body })
}

/// Checks a delivery the way a receiver following Standard Webhooks would.
fn verify(secret: &str, received: &Received) -> Result<()> {
    let id = received.header("webhook-id");
    let timestamp = received.header("webhook-timestamp");
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .context("the secret is whsec_ + base64")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)?;
    mac.update(format!("{id}.{timestamp}.{}", received.body).as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    let signatures = received.header("webhook-signature");
    if !signatures.split(' ').any(|s| s == expected) {
        return Err(anyhow!("bad signature {signatures:?}, expected {expected}"));
    }
    let sent: i64 = timestamp
        .parse()
        .context("webhook-timestamp is Unix seconds")?;
    let now = chrono::Utc::now().timestamp();
    if (now - sent).abs() > 300 {
        return Err(anyhow!("timestamp {sent} is not now ({now})"));
    }
    if received.json()["id"] != id {
        return Err(anyhow!(
            "the body's id is not webhook-id: {}",
            received.body
        ));
    }
    Ok(())
}

async fn register(app: &TestApp, url: &str, events: &[&str]) -> Result<(String, String)> {
    let created = expect_status(
        app.post(
            "/v1/webhooks",
            Some(ADMIN_KEY),
            &json!({"url": url, "events": events, "description": "订单系统"}),
        )
        .await?,
        201,
    )
    .await?;
    Ok((
        str_at(&created, "/webhook/id")?,
        str_at(&created, "/secret")?,
    ))
}

async fn log(app: &TestApp, webhook: &str) -> Result<Vec<Value>> {
    let body = expect_status(
        app.get(
            &format!("/v1/webhooks/{webhook}/deliveries"),
            Some(ADMIN_KEY),
        )
        .await?,
        200,
    )
    .await?;
    Ok(body["items"].as_array().cloned().unwrap_or_default())
}

/// A gateway whose retries come quickly.
async fn spawn_fast_retries(attempts: usize) -> Result<TestApp> {
    spawn_with(tempfile::tempdir()?, move |s| {
        s.webhook_retry_schedule = std::iter::once(Duration::ZERO)
            .chain(std::iter::repeat_n(
                Duration::from_millis(100),
                attempts - 1,
            ))
            .collect();
    })
    .await
}

#[tokio::test]
async fn every_event_of_a_conversation_arrives_signed() -> Result<()> {
    let app = spawn_gateway().await?;
    let receiver = Receiver::start(vec![204]).await?;
    let all = [
        "conversation.created",
        "conversation.handed_off",
        "conversation.assigned",
        "message.created",
        "conversation.resolved",
        "rating.created",
    ];
    let (_, secret) = register(&app, &receiver.url, &all).await?;
    let (agent_id, agent) = app
        .create_agent("小王", &["zh", "logistics", "orders"], 3)
        .await?;
    app.set_presence(&agent, "online").await?;

    let (conv, token) = app.start_conversation("zh-CN").await?;
    let faq = demo_article("shipping", "zh-CN")?;
    app.say(&conv, &token, &faq.question).await?;
    app.say(&conv, &token, "转人工").await?;
    expect_status(
        app.post(
            &format!("/v1/conversations/{conv}/messages"),
            Some(&agent),
            &json!({"text": "您好，我来帮您", "client_message_id": uuid_like()}),
        )
        .await?,
        201,
    )
    .await?;
    expect_status(
        app.post(
            &format!("/v1/conversations/{conv}/resolve"),
            Some(&agent),
            &json!({"outcome": "resolved"}),
        )
        .await?,
        200,
    )
    .await?;
    expect_status(
        app.post(
            &format!("/v1/conversations/{conv}/rating"),
            Some(&token),
            &json!({"rating": "satisfied"}),
        )
        .await?,
        201,
    )
    .await?;

    let got = receiver
        .until(|got| got.iter().any(|r| r.json()["type"] == "rating.created"))
        .await?;
    let mut seen: HashMap<String, Vec<Value>> = HashMap::new();
    for received in &got {
        verify(&secret, received)?;
        assert_eq!(received.header("content-type"), "application/json");
        let event = received.json();
        assert_eq!(event["data"]["conversation_id"], conv.as_str(), "{event}");
        seen.entry(event["type"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(event);
    }
    for kind in all {
        assert!(seen.contains_key(kind), "{kind} missing: {:?}", seen.keys());
    }
    // Messages: the question, the bot's answer, the customer's 转人工 and the bot's handoff
    // reply, the system's "agent joined" notice, the agent's reply.
    let texts: Vec<&str> = seen["message.created"]
        .iter()
        .filter_map(|e| e["data"]["message"]["text"].as_str())
        .collect();
    assert!(texts.contains(&faq.question.as_str()), "{texts:?}");
    assert!(texts.contains(&"您好，我来帮您"), "{texts:?}");
    assert_eq!(
        seen["conversation.assigned"][0]["data"]["agent"]["id"],
        agent_id.as_str()
    );
    assert_eq!(
        seen["conversation.handed_off"][0]["data"]["reasons"],
        json!(["explicit_request"])
    );
    assert_eq!(
        seen["rating.created"][0]["data"]["rating"]["rating"],
        "satisfied"
    );
    // Each event once (the receiver answered 204 every time), each with its own id.
    let ids: std::collections::HashSet<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), got.len());
    Ok(())
}

#[tokio::test]
async fn a_failing_receiver_gets_the_same_event_until_it_answers() -> Result<()> {
    let app = spawn_fast_retries(5).await?;
    let receiver = Receiver::start(vec![500, 503, 200]).await?;
    let (webhook, secret) = register(&app, &receiver.url, &["conversation.created"]).await?;
    let (conv, _) = app.start_conversation("zh-CN").await?;

    let got = receiver.until(|got| got.len() >= 3).await?;
    for received in &got {
        verify(&secret, received)?;
    }
    let ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one event id: {ids:?}");
    assert_eq!(got[0].json()["data"]["conversation_id"], conv.as_str());
    assert!(
        got.iter().all(|r| r.body == got[0].body),
        "every attempt sends the same body"
    );

    // The log, newest first: delivered on the third attempt after two failures.
    let mut entries = Vec::new();
    for _ in 0..100 {
        entries = log(&app, &webhook).await?;
        if entries.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let summary: Vec<(Value, Value, Value)> = entries
        .iter()
        .map(|e| {
            (
                e["attempt"].clone(),
                e["status"].clone(),
                e["response_status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (json!(3), json!("delivered"), json!(200)),
            (json!(2), json!("retrying"), json!(503)),
            (json!(1), json!("retrying"), json!(500)),
        ]
    );
    assert!(entries.iter().all(|e| e["event_id"] == ids[0]));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.received().len(), 3, "nothing after the delivery");

    let metrics = app.metrics_text().await?;
    assert!(
        metrics.contains("gateway_webhook_attempts_total{outcome=\"delivered\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("gateway_webhook_attempts_total{outcome=\"retrying\"} 2"));
    Ok(())
}

#[tokio::test]
async fn out_of_attempts_a_delivery_is_failed_and_logged() -> Result<()> {
    let app = spawn_fast_retries(3).await?;
    let receiver = Receiver::start(vec![500]).await?;
    let (webhook, _) = register(&app, &receiver.url, &["conversation.created"]).await?;
    app.start_conversation("en").await?;
    receiver.until(|got| got.len() >= 3).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 3, "three attempts, no more");
    let entries = log(&app, &webhook).await?;
    let statuses: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["status"].as_str())
        .collect();
    assert_eq!(statuses, ["failed", "retrying", "retrying"]);
    assert_eq!(entries[0]["response_body"], "ok");
    assert!(entries[0].get("next_attempt_at").is_none());
    Ok(())
}

#[tokio::test]
async fn the_outbox_survives_a_restart() -> Result<()> {
    // A port with nobody listening yet: the first attempt is refused.
    let parked = TcpListener::bind("127.0.0.1:0").await?;
    let address = parked.local_addr()?;
    drop(parked);
    let url = format!("http://{address}/hooks/shop");
    let tune = |s: &mut gateway::Settings| {
        s.webhook_retry_schedule = std::iter::once(Duration::ZERO)
            .chain(std::iter::repeat_n(Duration::from_millis(300), 50))
            .collect();
    };
    let app = spawn_with(tempfile::tempdir()?, tune).await?;
    let (webhook, secret) = register(&app, &url, &["conversation.created"]).await?;
    let (conv, _) = app.start_conversation("zh-CN").await?;
    let mut first = Vec::new();
    for _ in 0..250 {
        first = log(&app, &webhook).await?;
        if !first.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        first.first().map(|e| e["status"].clone()),
        Some(json!("retrying")),
        "{first:?}"
    );
    assert!(first[0]["error"].as_str().is_some_and(|e| !e.is_empty()));
    let event_id = str_at(&first[0], "/event_id")?;
    let dir = app.stop().await?;

    // The receiver comes up while the gateway is down; the restarted gateway delivers.
    let receiver = Receiver::on(TcpListener::bind(address).await?, vec![200])?;
    let app = spawn_with(dir, tune).await?;
    let got = receiver.until(|got| !got.is_empty()).await?;
    verify(&secret, &got[0])?;
    assert_eq!(got[0].header("webhook-id"), event_id);
    assert_eq!(got[0].json()["data"]["conversation_id"], conv.as_str());
    let entries = log(&app, &webhook).await?;
    assert_eq!(entries[0]["status"], "delivered", "{entries:?}");
    Ok(())
}

#[tokio::test]
async fn registration_refuses_internal_targets_and_bad_fields() -> Result<()> {
    let app = spawn_with(tempfile::tempdir()?, |s| s.webhook_allow_private = false).await?;
    for url in [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "ftp://example.com/hook",
    ] {
        expect_error(
            app.post(
                "/v1/webhooks",
                Some(ADMIN_KEY),
                &json!({"url": url, "events": ["message.created"]}),
            )
            .await?,
            422,
            "invalid_url",
        )
        .await
        .with_context(|| url.to_owned())?;
    }
    for body in [
        json!({"url": "https://8.8.8.8/hook", "events": []}),
        json!({"url": "https://8.8.8.8/hook", "events": ["order.paid"]}),
        json!({"url": "https://8.8.8.8/hook", "events": ["message.created"], "secret": "short"}),
        json!({"url": "https://8.8.8.8/hook"}),
    ] {
        let res = app.post("/v1/webhooks", Some(ADMIN_KEY), &body).await?;
        assert_eq!(res.status().as_u16(), 422, "{body}");
    }

    // A public target is accepted; its secret is shown once, never listed.
    let created = expect_status(
        app.post(
            "/v1/webhooks",
            Some(ADMIN_KEY),
            &json!({"url": "https://8.8.8.8/hook", "events": ["message.created", "message.created"], "secret": "a-long-enough-shared-secret"}),
        )
        .await?,
        201,
    )
    .await?;
    assert_eq!(created["secret"], "a-long-enough-shared-secret");
    assert_eq!(created["webhook"]["events"], json!(["message.created"]));
    let id = str_at(&created, "/webhook/id")?;
    let listed = expect_status(app.get("/v1/webhooks", Some(ADMIN_KEY)).await?, 200).await?;
    assert_eq!(listed["items"][0]["id"], id.as_str());
    assert!(listed["items"][0].get("secret").is_none(), "{listed}");

    // Only admins and integrator keys manage webhooks.
    let (_, agent) = app.create_agent("小王", &["zh"], 3).await?;
    let (_, customer) = app.start_conversation("zh-CN").await?;
    for token in [agent.as_str(), customer.as_str()] {
        let res = app.get("/v1/webhooks", Some(token)).await?;
        assert_eq!(res.status().as_u16(), 403);
    }
    let key = expect_status(
        app.post(
            "/v1/api-keys",
            Some(ADMIN_KEY),
            &json!({"name": "ERP", "role": "integrator"}),
        )
        .await?,
        201,
    )
    .await?;
    let key = str_at(&key, "/key")?;
    expect_status(app.get("/v1/webhooks", Some(&key)).await?, 200).await?;

    let path = format!("/v1/webhooks/{id}");
    let res = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&key)
        .send()
        .await?;
    assert_eq!(res.status().as_u16(), 204);
    let res = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&key)
        .send()
        .await?;
    assert_eq!(res.status().as_u16(), 404);
    expect_error(
        app.get(&format!("{path}/deliveries"), Some(ADMIN_KEY))
            .await?,
        404,
        "not_found",
    )
    .await?;
    Ok(())
}
