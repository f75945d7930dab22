//! Spawns a real gateway on a random port with a fresh data directory, and offers one
//! helper per endpoint. Every test gets its own server, so tests run in parallel.

use anyhow::{anyhow, Context, Result};
use futures_util::{SinkExt, StreamExt};
use gateway::{Application, DemoSeed, Settings};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const ADMIN_KEY: &str = "test-admin-key";
/// How long a test waits for an event that must come.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    handle: gateway::ServerHandle,
    join: tokio::task::JoinHandle<std::io::Result<()>>,
}

fn settings(dir: &Path) -> Settings {
    // The same suite runs on both backends: the `api` binary on the embedded store, the
    // `api_redis` binary on a real Redis, with a key prefix per data directory so tests run
    // in parallel on one server and a restart on the same directory finds its data again.
    let storage = if crate::backend::REDIS {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().replace(['{', '}'], ""))
            .unwrap_or_default();
        gateway::Storage::Redis {
            url: std::env::var("GATEWAY_TEST_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379/".into()),
            prefix: format!("test-api-{}-{name}", std::process::id()),
            cluster: false,
        }
    } else {
        gateway::Storage::Embedded
    };
    Settings {
        bind: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        admin_key: Some(ADMIN_KEY.into()),
        demo: DemoSeed::KnowledgeBase,
        workers: 2,
        storage,
        // Every test customer comes from 127.0.0.1; the test of this limit lowers it.
        limits: gateway::Limits {
            conversations_per_address_per_window: 1_000,
            ..gateway::Limits::default()
        },
        // Test receivers listen on loopback.
        webhook_allow_private: true,
        webhook_poll_ms: 50,
        ..Settings::default()
    }
}

/// A gateway with the demo knowledge base and no agents.
pub async fn spawn_gateway() -> Result<TestApp> {
    spawn_in(tempfile::tempdir()?).await
}

/// The value of one series (a name, with its labels if any) in Prometheus text; -1.0 when the
/// series is missing.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1.0)
}

/// A gateway on an existing data directory (for restarts).
pub async fn spawn_in(data_dir: tempfile::TempDir) -> Result<TestApp> {
    spawn_with(data_dir, |_| {}).await
}

pub async fn spawn_with(
    data_dir: tempfile::TempDir,
    tune: impl FnOnce(&mut Settings),
) -> Result<TestApp> {
    let mut s = settings(data_dir.path());
    tune(&mut s);
    let app = Application::build(s).await?;
    let port = app.port();
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    Ok(TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::new(),
        data_dir,
        handle,
        join,
    })
}

impl TestApp {
    /// Stops the server and waits for it, handing back the data directory.
    pub async fn stop(self) -> Result<tempfile::TempDir> {
        self.handle.stop(true).await;
        self.join.await??;
        Ok(self.data_dir)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// `GET /metrics`: the Prometheus text.
    pub async fn metrics_text(&self) -> Result<String> {
        Ok(self
            .client
            .get(self.url("/metrics"))
            .send()
            .await?
            .text()
            .await?)
    }

    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<reqwest::Response> {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        Ok(req.send().await?)
    }

    pub async fn put(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<reqwest::Response> {
        let mut req = self.client.put(self.url(path)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        Ok(req.send().await?)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<reqwest::Response> {
        let mut req = self.client.get(self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        Ok(req.send().await?)
    }

    /// Starts a conversation; returns (conversation id, customer token).
    pub async fn start_conversation(&self, locale: &str) -> Result<(String, String)> {
        let res = self
            .post(
                "/v1/conversations",
                None,
                &json!({"customer": {"name": "测试顾客", "locale": locale}}),
            )
            .await?;
        let body = expect_status(res, 201).await?;
        Ok((str_at(&body, "/conversation/id")?, str_at(&body, "/token")?))
    }

    pub async fn send(
        &self,
        conversation: &str,
        token: &str,
        text: &str,
        client_id: &str,
    ) -> Result<reqwest::Response> {
        self.post(
            &format!("/v1/conversations/{conversation}/messages"),
            Some(token),
            &json!({"text": text, "client_message_id": client_id}),
        )
        .await
    }

    /// Sends and expects 201; returns the body.
    pub async fn say(&self, conversation: &str, token: &str, text: &str) -> Result<Value> {
        let client_id = uuid_like();
        expect_status(self.send(conversation, token, text, &client_id).await?, 201).await
    }

    /// Creates an agent as admin; returns (agent id, agent token).
    pub async fn create_agent(
        &self,
        name: &str,
        skills: &[&str],
        max_concurrent: u32,
    ) -> Result<(String, String)> {
        let res = self
            .post(
                "/v1/agents",
                Some(ADMIN_KEY),
                &json!({"name": name, "skills": skills, "max_concurrent": max_concurrent, "role": "agent"}),
            )
            .await?;
        let body = expect_status(res, 201).await?;
        Ok((str_at(&body, "/agent/id")?, str_at(&body, "/token")?))
    }

    pub async fn set_presence(&self, agent_token: &str, status: &str) -> Result<Value> {
        let res = self
            .put(
                "/v1/agents/me/presence",
                Some(agent_token),
                &json!({"status": status}),
            )
            .await?;
        expect_status(res, 200).await
    }

    pub async fn conversation(&self, id: &str, token: &str) -> Result<Value> {
        expect_status(
            self.get(&format!("/v1/conversations/{id}"), Some(token))
                .await?,
            200,
        )
        .await
    }

    pub async fn customer_ws(
        &self,
        conversation: &str,
        token: &str,
        after_seq: Option<u64>,
    ) -> Result<WsClient> {
        let mut url = format!(
            "ws://127.0.0.1:{}/v1/conversations/{conversation}/ws?token={token}",
            self.port
        );
        if let Some(after) = after_seq {
            url.push_str(&format!("&after_seq={after}"));
        }
        WsClient::connect(&url).await
    }

    pub async fn agent_ws(&self, token: &str) -> Result<WsClient> {
        WsClient::connect(&format!(
            "ws://127.0.0.1:{}/v1/agents/me/ws?token={token}",
            self.port
        ))
        .await
    }
}

/// A unique id for client_message_id.
pub fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "cm-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Checks the status and returns the JSON body (or Null for an empty body).
pub async fn expect_status(res: reqwest::Response, status: u16) -> Result<Value> {
    let got = res.status().as_u16();
    let text = res.text().await?;
    if got != status {
        return Err(anyhow!("expected status {status}, got {got}: {text}"));
    }
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).with_context(|| format!("body is not JSON: {text}"))
}

/// Checks an error response: status and `{"error": {"code", "message"}}`.
/// The `Retry-After` seconds of a response, when it has a valid one.
pub fn retry_after(res: &reqwest::Response) -> Option<u64> {
    res.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

pub async fn expect_error(res: reqwest::Response, status: u16, code: &str) -> Result<Value> {
    let body = expect_status(res, status).await?;
    let got = body
        .pointer("/error/code")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if got != code {
        return Err(anyhow!("expected error code {code}, got {body}"));
    }
    if body
        .pointer("/error/message")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(anyhow!("error without a message: {body}"));
    }
    Ok(body)
}

pub fn str_at(value: &Value, pointer: &str) -> Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no string at {pointer} in {value}"))
}

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    pub async fn connect(url: &str) -> Result<Self> {
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .with_context(|| format!("connecting {url}"))?;
        Ok(Self { stream })
    }

    pub async fn send_json(&mut self, value: &Value) -> Result<()> {
        self.stream.send(WsMessage::text(value.to_string())).await?;
        Ok(())
    }

    /// The next JSON event, waiting at most [`EVENT_TIMEOUT`].
    pub async fn next_event(&mut self) -> Result<Value> {
        loop {
            let frame = tokio::time::timeout(EVENT_TIMEOUT, self.stream.next())
                .await
                .context("no event within the timeout")?
                .ok_or_else(|| anyhow!("socket closed"))??;
            match frame {
                WsMessage::Text(text) => return Ok(serde_json::from_str(text.as_str())?),
                WsMessage::Close(_) => return Err(anyhow!("socket closed")),
                _ => continue,
            }
        }
    }

    /// Skips events until one of `kind` arrives; returns it.
    pub async fn next_of(&mut self, kind: &str) -> Result<Value> {
        loop {
            let event = self.next_event().await?;
            if event["type"] == kind {
                return Ok(event);
            }
        }
    }

    /// Collects `message` events until one whose text satisfies `pred`; returns all seen.
    pub async fn messages_until(&mut self, pred: impl Fn(&Value) -> bool) -> Result<Vec<Value>> {
        let mut seen = Vec::new();
        loop {
            let event = self.next_of("message").await?;
            let done = pred(&event["message"]);
            seen.push(event["message"].clone());
            if done {
                return Ok(seen);
            }
        }
    }

    pub async fn close(mut self) -> Result<()> {
        self.stream.close(None).await?;
        Ok(())
    }
}

/// A demo article by category and locale, to ask the bot a question it knows.
pub fn demo_article(category: &str, locale: &str) -> Result<kb::Article> {
    kb::demo_articles()?
        .into_iter()
        .find(|a| a.category == category && a.locale == locale && a.enabled)
        .ok_or_else(|| anyhow!("no demo article for {category} in {locale}"))
}
