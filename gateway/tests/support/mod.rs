//! Real gateway processes and real Redis servers, for the multi-process tests and the
//! throughput benchmark. Every child process is killed when its guard is dropped, so a
//! failing test leaves nothing running.

#![allow(dead_code)] // Each user takes what it needs.

use anyhow::{anyhow, bail, ensure, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const ADMIN_KEY: &str = "multiprocess-admin-key";
/// How long a test waits for an event that must come.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a gateway may take to start (a debug build indexes the demo KB and loads models).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Every skill there is, so that any conversation fits any test agent.
pub const ALL_SKILLS: &[&str] = &[
    "zh",
    "en",
    "presales",
    "orders",
    "logistics",
    "aftersales",
    "complaints",
    "vip",
];

/// The Redis every test shares (its keys under a prefix of its own).
pub fn shared_redis_url() -> String {
    std::env::var("GATEWAY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// A key prefix no other test or run uses.
pub fn unique_prefix(name: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "mp-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A unique `client_message_id`.
pub fn client_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "mp-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Deletes every key under `prefix` (best effort; the shared Redis outlives the tests).
pub async fn delete_keys(url: &str, prefix: &str) -> Result<()> {
    let client = redis::Client::open(url)?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut connection)
            .await?;
        if !keys.is_empty() {
            redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<()>(&mut connection)
                .await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn kill(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        // SIGKILL on Unix: nothing is flushed, nothing is shut down gracefully.
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A redis-server of the test's own (so that it may be stopped, restarted or paused),
/// with the append-only file on and fsynced at every write.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    appendfsync: String,
}

impl RedisServer {
    pub async fn start() -> Result<Self> {
        Self::start_with("always").await
    }

    /// With `appendfsync` `always`, `everysec` or `no`.
    pub async fn start_with(appendfsync: &str) -> Result<Self> {
        let mut server = Self {
            child: None,
            port: free_port()?,
            dir: tempfile::tempdir()?,
            appendfsync: appendfsync.to_owned(),
        };
        server.run().await?;
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    async fn run(&mut self) -> Result<()> {
        let log = std::fs::File::create(self.dir.path().join("redis.log"))?;
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--appendonly", "yes", "--appendfsync", &self.appendfsync])
            .args(["--save", ""])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting redis-server (is it installed?)")?;
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if self.ping().await.is_ok() {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!("redis-server on port {} did not answer", self.port);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn ping(&self) -> Result<()> {
        let client = redis::Client::open(self.url())?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await?;
        Ok(())
    }

    /// Kills the server (SIGKILL: only what the append-only file holds survives).
    pub fn kill(&mut self) {
        kill(&mut self.child);
    }

    /// Starts it again on the same port and directory, so it reloads the append-only file.
    pub async fn restart(&mut self) -> Result<()> {
        self.kill();
        self.run().await
    }

    /// Sends one command to the server.
    pub async fn command(&self, args: &[&str]) -> Result<redis::Value> {
        let client = redis::Client::open(self.url())?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        Ok(cmd.query_async(&mut connection).await?)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Cluster of the test's own: `n` redis-server primaries (no replicas, nothing on
/// disk) with the slots spread over them by `redis-cli --cluster create`.
pub struct RedisCluster {
    children: Vec<Child>,
    pub ports: Vec<u16>,
    dir: tempfile::TempDir,
}

impl RedisCluster {
    pub async fn start(n: usize) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut cluster = Self {
            children: Vec::new(),
            ports: Vec::new(),
            dir,
        };
        for _ in 0..n {
            // A node also listens on its port + 10000 (the cluster bus).
            let port = loop {
                let port = free_port()?;
                if port < 55_000
                    && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()
                {
                    break port;
                }
            };
            let log = std::fs::File::create(cluster.dir.path().join(format!("redis-{port}.log")))?;
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string()])
                .args(["--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--appendonly", "no", "--save", ""])
                .arg("--dir")
                .arg(cluster.dir.path())
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(Stdio::from(log))
                .spawn()
                .context("starting redis-server (is it installed?)")?;
            cluster.children.push(child);
            cluster.ports.push(port);
        }
        for port in &cluster.ports {
            wait_for_ping(&format!("redis://127.0.0.1:{port}/")).await?;
        }
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .context("running redis-cli --cluster create")?;
        ensure!(
            created.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&created.stdout),
            String::from_utf8_lossy(&created.stderr)
        );
        // Every node must agree the cluster is up before clients use it.
        let started = Instant::now();
        for port in &cluster.ports {
            loop {
                let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
                let mut connection = client.get_multiplexed_async_connection().await?;
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut connection)
                    .await?;
                if info.contains("cluster_state:ok") {
                    break;
                }
                if started.elapsed() > Duration::from_secs(30) {
                    bail!("the cluster did not come up: {info}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(cluster)
    }

    /// Every node, as `GATEWAY_REDIS_URL` takes a cluster.
    pub fn url(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}/"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in self.children.drain(..) {
            kill(&mut Some(child));
        }
    }
}

async fn wait_for_ping(url: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let pong: Result<String> = async {
            let client = redis::Client::open(url)?;
            let mut connection = client.get_multiplexed_async_connection().await?;
            Ok(redis::cmd("PING").query_async(&mut connection).await?)
        }
        .await;
        if pong.is_ok() {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(20) {
            bail!("redis-server at {url} did not answer");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The port of the "gateway listening … port=N" line of a gateway's log, once it is there.
pub fn port_in_log(log: &str) -> Option<u16> {
    log.lines()
        .filter(|l| l.contains("gateway listening"))
        .find_map(|l| l.split("port=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|port| port.parse().ok())
}

/// One gateway process, started from the built binary.
pub struct Gateway {
    child: Option<Child>,
    pub name: String,
    pub port: u16,
    pub client: reqwest::Client,
    dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Gateway {
    /// Starts a gateway on `redis_url` with the keys under `prefix`, the demo knowledge base
    /// (seeded by the first process only) and no demo agents; waits until it listens.
    pub async fn start(name: &str, redis_url: &str, prefix: &str) -> Result<Self> {
        Self::start_with(
            name,
            &[
                ("GATEWAY_REDIS_URL", redis_url),
                ("GATEWAY_REDIS_PREFIX", prefix),
            ],
        )
        .await
    }

    /// Starts a gateway on its own data directory (the embedded store).
    pub async fn start_embedded(name: &str, extra: &[(&str, &str)]) -> Result<Self> {
        Self::start_with(name, extra).await
    }

    /// Starts a gateway with these extra environment variables.
    pub async fn start_with(name: &str, extra: &[(&str, &str)]) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let log_path = dir.path().join("gateway.log");
        let log = std::fs::File::create(&log_path)?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
        for (key, value) in extra {
            command.env(key, value);
        }
        let child = command
            .env("GATEWAY_BIND", "127.0.0.1:0")
            .env("GATEWAY_DATA_DIR", dir.path())
            .env("GATEWAY_ADMIN_KEY", ADMIN_KEY)
            .env("GATEWAY_DEMO", "kb")
            // Test agents never accept explicitly; nothing may move while a test counts.
            .env("GATEWAY_ACCEPT_TIMEOUT_SECS", "3600")
            // Every test customer comes from 127.0.0.1.
            .env("GATEWAY_CONVERSATIONS_PER_ADDRESS_PER_WINDOW", "1000000")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting the gateway binary")?;
        let mut gateway = Self {
            child: Some(child),
            name: name.to_owned(),
            port: 0,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                // Shorter than the server's keep-alive (5 s), so a pooled connection is never
                // one the server is closing at that moment.
                .pool_idle_timeout(Duration::from_secs(2))
                .build()?,
            dir,
        };
        gateway.port = gateway.wait_for_port(&log_path).await?;
        Ok(gateway)
    }

    async fn wait_for_port(&mut self, log_path: &Path) -> Result<u16> {
        let started = Instant::now();
        loop {
            let log = std::fs::read_to_string(log_path).unwrap_or_default();
            if let Some(port) = port_in_log(&log) {
                return Ok(port);
            }
            let exited = self
                .child
                .as_mut()
                .map(|c| c.try_wait())
                .transpose()?
                .flatten();
            if exited.is_some() || started.elapsed() > START_TIMEOUT {
                bail!("gateway {} did not start:\n{log}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The gateway's process id, while it runs.
    #[allow(dead_code)]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// What the process logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gateway.log")).unwrap_or_default()
    }

    /// SIGKILL: the process gets no chance to flush or say goodbye.
    pub fn kill(&mut self) {
        kill(&mut self.child);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Result<reqwest::Response> {
        Ok(self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await?)
    }

    pub async fn get(&self, path: &str, token: &str) -> Result<reqwest::Response> {
        Ok(self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await?)
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Result<reqwest::Response> {
        Ok(self
            .client
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await?)
    }

    /// Starts a conversation; returns (conversation id, customer token).
    pub async fn start_conversation(&self, locale: &str) -> Result<(String, String)> {
        let res = self
            .client
            .post(self.url("/v1/conversations"))
            .json(&json!({"customer": {"name": "顾客", "locale": locale}}))
            .send()
            .await?;
        let body = expect_status(res, 201).await?;
        Ok((str_at(&body, "/conversation/id")?, str_at(&body, "/token")?))
    }

    /// Posts a customer message; returns the response as it came.
    pub async fn send(
        &self,
        conversation: &str,
        token: &str,
        text: &str,
        client_message_id: &str,
    ) -> Result<reqwest::Response> {
        self.post(
            &format!("/v1/conversations/{conversation}/messages"),
            token,
            &json!({"text": text, "client_message_id": client_message_id}),
        )
        .await
    }

    /// Creates an agent; returns (agent id, agent token).
    pub async fn create_agent(
        &self,
        name: &str,
        skills: &[&str],
        max_concurrent: u32,
    ) -> Result<(String, String)> {
        let res = self
            .post(
                "/v1/agents",
                ADMIN_KEY,
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
                agent_token,
                &json!({"status": status}),
            )
            .await?;
        expect_status(res, 200).await
    }

    /// The whole transcript, read as the admin.
    pub async fn transcript(&self, conversation: &str) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let res = self
                .get(
                    &format!(
                        "/v1/conversations/{conversation}/messages?after_seq={after}&limit=500"
                    ),
                    ADMIN_KEY,
                )
                .await?;
            let page = expect_status(res, 200).await?;
            let items = page["items"].as_array().cloned().unwrap_or_default();
            let Some(last) = items.last().and_then(|m| m["seq"].as_u64()) else {
                return Ok(all);
            };
            all.extend(items);
            if page["next_cursor"].is_null() {
                return Ok(all);
            }
            after = last;
        }
    }

    pub fn customer_ws_url(
        &self,
        conversation: &str,
        token: &str,
        after_seq: Option<u64>,
    ) -> String {
        let mut url = format!(
            "ws://127.0.0.1:{}/v1/conversations/{conversation}/ws?token={token}",
            self.port
        );
        if let Some(after) = after_seq {
            url.push_str(&format!("&after_seq={after}"));
        }
        url
    }

    pub async fn customer_ws(
        &self,
        conversation: &str,
        token: &str,
        after_seq: Option<u64>,
    ) -> Result<WsClient> {
        WsClient::connect(&self.customer_ws_url(conversation, token, after_seq)).await
    }

    pub async fn agent_ws(&self, token: &str) -> Result<WsClient> {
        WsClient::connect(&format!(
            "ws://127.0.0.1:{}/v1/agents/me/ws?token={token}",
            self.port
        ))
        .await
    }
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

    /// Collects `message` events until one satisfies `pred`; returns all seen.
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
}

/// A question the demo knowledge base answers.
pub fn demo_question(category: &str, locale: &str) -> Result<String> {
    kb::demo_articles()?
        .into_iter()
        .find(|a| a.category == category && a.locale == locale && a.enabled)
        .map(|a| a.question)
        .ok_or_else(|| anyhow!("no demo article for {category} in {locale}"))
}

/// The `seq` of each message, in the order given.
pub fn seqs(messages: &[Value]) -> Vec<u64> {
    messages.iter().filter_map(|m| m["seq"].as_u64()).collect()
}

/// Client commands (what the gateway sends, not what its Lua scripts run inside Redis) per
/// bot turn, counted with MONITOR over `turns` sequential turns through one process.
/// `per_conversation` questions are asked in each conversation (keep it under the message
/// rate limit). Returns the commands per turn and the count of each command.
pub async fn commands_per_turn(
    redis: &RedisServer,
    questions: &[String],
    turns: usize,
    per_conversation: usize,
) -> Result<(f64, std::collections::BTreeMap<String, usize>)> {
    let prefix = unique_prefix("monitor");
    let gateway = Gateway::start("m", &redis.url(), &prefix).await?;
    let mut conversations = Vec::new();
    for _ in 0..turns.div_ceil(per_conversation) {
        conversations.push(gateway.start_conversation("zh-CN").await?);
    }
    let client = redis::Client::open(redis.url())?;
    let mut monitor = client
        .get_async_monitor()
        .await?
        .into_on_message::<String>();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let collected = std::sync::Arc::clone(&lines);
    let collector = tokio::spawn(async move {
        while let Some(line) = futures_util::StreamExt::next(&mut monitor).await {
            collected.lock().map(|mut l| l.push(line)).ok();
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start_marker = format!("bench-start-{prefix}");
    redis.command(&["ECHO", &start_marker]).await?;
    let mut bot_turns = 0;
    for n in 0..turns {
        let (id, token) = &conversations[n / per_conversation];
        let res = gateway
            .send(id, token, &questions[n % questions.len()], &client_id())
            .await?;
        let body: Value = res.json().await?;
        bot_turns += body["replies"].as_array().map_or(0, Vec::len);
    }
    // Let the last publishes land.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let end_marker = format!("bench-end-{prefix}");
    redis.command(&["ECHO", &end_marker]).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    collector.abort();
    let lines = lines.lock().map(|l| l.clone()).unwrap_or_default();
    let mut counted = std::collections::BTreeMap::<String, usize>::new();
    let mut inside = false;
    for line in &lines {
        if line.contains(&start_marker) {
            inside = true;
            continue;
        }
        if line.contains(&end_marker) {
            break;
        }
        // Commands a script runs show as `[0 lua]`; the gateway's own as `[0 ip:port]`.
        if !inside || line.contains(" lua]") {
            continue;
        }
        let command = line
            .split('"')
            .nth(1)
            .unwrap_or_default()
            .to_ascii_lowercase();
        *counted.entry(command).or_default() += 1;
    }
    let total: usize = counted.values().sum();
    ensure!(bot_turns > 0, "no bot turn");
    Ok((total as f64 / bot_turns as f64, counted))
}
