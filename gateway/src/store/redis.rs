//! The Redis store: the same [`Store`] semantics as the embedded one, on a Redis server.
//!
//! # Keys
//!
//! Every key starts with the configured prefix and the shop as a hash tag, so that all keys of
//! a shop live in one Redis Cluster slot and every multi-key script runs there too
//! (`gw:{demo}:conv:c1`). After that comes the record kind, and the record's id comes last, so
//! that no id can make one kind's key collide with another's:
//!
//! | key                          | type       | content                                       |
//! |------------------------------|------------|-----------------------------------------------|
//! | `P:{shop}:meta`              | hash       | key → value                                   |
//! | `P:{shop}:token:{hash}`      | string     | [`TokenOwner`] JSON                           |
//! | `P:{shop}:conv:{id}`         | string     | [`Conversation`] JSON                         |
//! | `P:{shop}:seq:{id}`          | string     | the conversation's last `seq` (INCR)          |
//! | `P:{shop}:msgs:{id}`         | sorted set | [`Message`] JSON, score = `seq`               |
//! | `P:{shop}:cmid:{id}`         | hash       | `client_message_id` → `seq`                   |
//! | `P:{shop}:ctx:{id}`          | string     | [`StoredContext`] JSON                        |
//! | `P:{shop}:routing:{id}`      | list       | [`RoutingRecord`] JSON, oldest first          |
//! | `P:{shop}:agents`            | hash       | agent id → [`Agent`] JSON                     |
//! | `P:{shop}:queue:order`       | sorted set | ranks (score 0, so ordered by bytes)          |
//! | `P:{shop}:queue:entries`     | hash       | conversation id → [`QueueEntry`] JSON         |
//! | `P:{shop}:queue:ranks`       | hash       | conversation id → its rank in `queue:order`   |
//! | `P:{shop}:gaps`              | list       | [`GapRecord`] JSON, newest first, capped      |
//! | `P:{shop}:articles`          | hash       | article id → [`kb::Article`] JSON             |
//! | `P:{shop}:api_keys`          | hash       | key id → [`ApiKey`] JSON                      |
//! | `P:{shop}:idem:{hash}`       | string     | idempotency claim or response JSON, with TTL  |
//! | `P:{shop}:log:{name}`        | list       | JSON records, newest first, capped            |
//! | `P:{shop}:conv_by_time`      | sorted set | conversation ids, score = creation time (ms)  |
//! | `P:{shop}:webhooks`          | hash       | webhook id → [`Webhook`] JSON                 |
//! | `P:{shop}:outbox`            | hash       | delivery id → [`Delivery`] JSON               |
//! | `P:{shop}:outbox:due`        | sorted set | delivery ids, score = when due (ms)           |
//!
//! A queue rank is 16 hex digits and the conversation id: the router's rank (the handoff time
//! less the fixed part of the priority score, milliseconds, ascending), order-preserving and
//! fixed-width, so the byte order of ranks is exactly [`router::queue_order`].
//!
//! # Atomicity
//!
//! Every method the trait describes as one step is one Lua script (`scripts/*.lua`, sent with
//! EVALSHA); Redis runs a script without interleaving any other command, so nothing is ever
//! read in Rust and written back. Records stay JSON; scripts decode them with `cjson` and
//! encode them with their own encoder (`scripts/json.lua`), since Redis 7.0's `cjson` turns
//! empty arrays into `{}` and large integers into floats. Times are passed in already
//! serialised by chrono, so they are stored exactly as the embedded store stores them.
//!
//! # Durability
//!
//! A write is acknowledged when Redis has applied it; whether it survives a crash is the
//! server's persistence setting (`appendonly yes` with `appendfsync always` for the embedded
//! store's guarantee).

use super::{Appended, Claim, CustomerTurn, QueueEntry, Store, StoreError};
use crate::domain::{
    Agent, AgentPatch, ApiKey, Conversation, ConversationState, GapRecord, Message, NewMessage,
    RoutingRecord, StoredContext, TokenOwner,
};
use crate::idempotency::{Claim as Claim_, Record, StoredResponse};
use crate::webhooks::{Delivery, Webhook};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, Script, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// The one shop there is for now; its name is the hash tag of every key.
const SHOP: &str = "demo";
/// The most gap records kept; older ones are dropped.
const MAX_GAPS: usize = 10_000;
/// How long one connection attempt may take.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a command may take before the call fails. Longer than the client's default
/// (500 ms): a script that timed out may still have run, so a timeout is worth avoiding.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Reconnection attempts after the first, and the longest wait between two.
const RECONNECT_RETRIES: usize = 1;
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(200);
/// The fixed-width part of a queue rank, before the conversation id.
const RANK_LEN: usize = 16;

const JSON_PRELUDE: &str = include_str!("scripts/json.lua");
/// The message-appending functions the append scripts share.
const APPEND_PRELUDE: &str = include_str!("scripts/append.lua");

fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_string(value)?)
}

fn decode<T: DeserializeOwned>(json: &str) -> Result<T, StoreError> {
    Ok(serde_json::from_str(json)?)
}

/// A time as chrono's serde writes it, so scripts store what the embedded store would.
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The queue rank of an entry: its bytes order as [`router::queue_order`] orders entries
/// (the router's rank, ascending, then the conversation id).
fn queue_rank(entry: &QueueEntry) -> String {
    const SIGN: u64 = 1 << 63;
    // Flipping the sign bit maps i64 order onto u64 order.
    let rank = (entry.rank() as u64) ^ SIGN;
    format!("{rank:016x}{}", entry.conversation_id)
}

/// Where Redis is: one server, or seed nodes of a Redis Cluster (the client finds the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisTarget {
    pub nodes: Vec<String>,
    pub cluster: bool,
}

impl RedisTarget {
    /// `url` is one URL or a comma-separated list of a cluster's nodes; a list always means a
    /// cluster, and `cluster` says that one URL is a cluster node too.
    pub fn new(url: &str, cluster: bool) -> Self {
        let nodes: Vec<String> = url
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        Self {
            cluster: cluster || nodes.len() > 1,
            nodes,
        }
    }
}

/// How long connecting and answering may take, and how a lost connection is retried.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub response: Duration,
    pub retries: usize,
    pub max_delay: Duration,
}

/// A connection to a server (a manager that reconnects by itself) or to a Redis Cluster (one
/// that follows the slot map, redirections included, and reconnects by itself). Cloning
/// shares it.
#[derive(Clone)]
pub enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connection {
    pub async fn open(target: &RedisTarget, timeouts: Timeouts) -> redis::RedisResult<Self> {
        if target.cluster {
            let client = ClusterClientBuilder::new(target.nodes.clone())
                .connection_timeout(timeouts.connect)
                .response_timeout(timeouts.response)
                .retries(u32::try_from(timeouts.retries).unwrap_or(u32::MAX))
                .max_retry_wait(u64::try_from(timeouts.max_delay.as_millis()).unwrap_or(u64::MAX))
                .build()?;
            return Ok(Self::Cluster(client.get_async_connection().await?));
        }
        let url = target.nodes.first().map(String::as_str).unwrap_or_default();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeouts.connect))
            .set_response_timeout(Some(timeouts.response))
            .set_number_of_retries(timeouts.retries)
            .set_max_delay(timeouts.max_delay);
        let manager = ConnectionManager::new_with_config(redis::Client::open(url)?, config).await?;
        Ok(Self::Single(manager))
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// A new message as the append scripts take it: its `client_message_id`, and its JSON without
/// `seq` (the script numbers the message and puts `seq` first).
fn unnumbered(
    conversation_id: &str,
    message: NewMessage,
) -> Result<(Option<String>, String), StoreError> {
    let stored = Message {
        id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
        conversation_id: conversation_id.to_owned(),
        seq: 0,
        author: message.author,
        text: message.text,
        created_at: message.created_at,
        client_message_id: message.client_message_id,
        bot: message.bot,
    };
    let mut body = serde_json::to_value(&stored)?;
    if let Some(fields) = body.as_object_mut() {
        fields.remove("seq");
    }
    Ok((stored.client_message_id, serde_json::to_string(&body)?))
}

/// The scripts, each prepared once (its SHA-1 computed) and sent with EVALSHA.
struct Scripts {
    append_message: Script,
    customer_turn: Script,
    note_repeat: Script,
    enqueue: Script,
    queue: Script,
    claim: Script,
    finish: Script,
    requeue: Script,
    note_agent_reply: Script,
    patch_agent: Script,
    delete_idle_agent: Script,
    write_articles: Script,
    claim_deliveries: Script,
}

impl Scripts {
    fn new() -> Self {
        let with_prelude = |body: &str| Script::new(&format!("{JSON_PRELUDE}\n{body}"));
        let with_append = |body: &str| Script::new(&format!("{APPEND_PRELUDE}\n{body}"));
        Self {
            append_message: with_append(include_str!("scripts/append_message.lua")),
            customer_turn: with_append(include_str!("scripts/customer_turn.lua")),
            note_repeat: with_prelude(include_str!("scripts/note_repeat.lua")),
            enqueue: with_prelude(include_str!("scripts/enqueue.lua")),
            queue: Script::new(include_str!("scripts/queue.lua")),
            claim: with_prelude(include_str!("scripts/claim.lua")),
            finish: with_prelude(include_str!("scripts/finish.lua")),
            requeue: with_prelude(include_str!("scripts/requeue.lua")),
            note_agent_reply: with_prelude(include_str!("scripts/note_agent_reply.lua")),
            patch_agent: with_prelude(include_str!("scripts/patch_agent.lua")),
            delete_idle_agent: Script::new(include_str!("scripts/delete_idle_agent.lua")),
            claim_deliveries: Script::new(include_str!("scripts/claim_deliveries.lua")),
            write_articles: Script::new(include_str!("scripts/write_articles.lua")),
        }
    }
}

/// The Redis store. Cloning shares the connection, which reconnects by itself.
#[derive(Clone)]
pub struct RedisStore {
    connection: Connection,
    /// `{prefix}:{shop}:`, the start of every key.
    base: Arc<str>,
    scripts: Arc<Scripts>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379/`, or a comma-separated list of a
    /// Redis Cluster's nodes), keeping every key under `prefix`.
    ///
    /// The prefix must not be empty nor contain `{` or `}`: the shop is the keys' hash tag.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Self::connect_to(&RedisTarget::new(url, false), prefix).await
    }

    /// Connects to a server or a cluster, keeping every key under `prefix`.
    pub async fn connect_to(target: &RedisTarget, prefix: &str) -> Result<Self, StoreError> {
        if prefix.is_empty() || prefix.contains(['{', '}']) {
            return Err(StoreError::Task(format!(
                "redis key prefix {prefix:?} must be non-empty and free of '{{' and '}}'"
            )));
        }
        // One quick retry, then the call fails (503 with Retry-After): requests must not
        // wait behind the client's long default backoff while Redis is down, nor sleep
        // through a backoff once it is back.
        let connection = Connection::open(
            target,
            Timeouts {
                connect: CONNECTION_TIMEOUT,
                response: RESPONSE_TIMEOUT,
                retries: RECONNECT_RETRIES,
                max_delay: RECONNECT_MAX_DELAY,
            },
        )
        .await?;
        Ok(Self {
            connection,
            base: format!("{prefix}:{{{SHOP}}}:").into(),
            scripts: Arc::new(Scripts::new()),
        })
    }

    /// The prefix every key of this store starts with, hash tag included (`gw:{demo}:`).
    pub fn key_base(&self) -> &str {
        &self.base
    }

    fn key(&self, kind: &str) -> String {
        format!("{}{kind}", self.base)
    }

    fn id_key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.base)
    }

    /// An invocation of `script` on the keys every step between a conversation and its agent
    /// touches, in the scripts' order: the conversation, the agents, the queue's three keys.
    fn on_assignment_keys<'a>(
        &self,
        script: &'a Script,
        conversation_id: &str,
    ) -> redis::ScriptInvocation<'a> {
        let [order, entries, ranks] = self.queue_keys();
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.id_key("conv", conversation_id))
            .key(self.key("agents"))
            .key(order)
            .key(entries)
            .key(ranks);
        invocation
    }

    fn queue_keys(&self) -> [String; 3] {
        [
            self.key("queue:order"),
            self.key("queue:entries"),
            self.key("queue:ranks"),
        ]
    }

    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        Ok(cmd.query_async(&mut connection).await?)
    }

    async fn get_json<T: DeserializeOwned>(&self, cmd: &Cmd) -> Result<Option<T>, StoreError> {
        let raw: Option<String> = self.query(cmd).await?;
        raw.as_deref().map(decode).transpose()
    }

    /// Records kept in one hash per kind (`agents`, `api_keys`, `articles`), by id.
    async fn hash_put<T: Serialize>(
        &self,
        kind: &str,
        id: &str,
        record: &T,
    ) -> Result<(), StoreError> {
        self.query(
            redis::cmd("HSET")
                .arg(self.key(kind))
                .arg(id)
                .arg(encode(record)?),
        )
        .await
    }

    async fn hash_get<T: DeserializeOwned>(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        self.get_json(redis::cmd("HGET").arg(self.key(kind)).arg(id))
            .await
    }

    /// Every record of a kind, in the order `id` gives.
    async fn hash_values<T: DeserializeOwned>(
        &self,
        kind: &str,
        id: impl Fn(&T) -> &str,
    ) -> Result<Vec<T>, StoreError> {
        let mut records: Vec<T> = self
            .list_json(redis::cmd("HVALS").arg(self.key(kind)))
            .await?;
        records.sort_by(|a, b| id(a).cmp(id(b)));
        Ok(records)
    }

    /// True when the record existed.
    async fn hash_delete(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        let removed: u64 = self
            .query(redis::cmd("HDEL").arg(self.key(kind)).arg(id))
            .await?;
        Ok(removed > 0)
    }

    async fn list_json<T: DeserializeOwned>(&self, cmd: &Cmd) -> Result<Vec<T>, StoreError> {
        let raw: Vec<String> = self.query(cmd).await?;
        raw.iter().map(|json| decode(json)).collect()
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.query(redis::cmd("HGET").arg(self.key("meta")).arg(key))
            .await
    }

    async fn put_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.query(redis::cmd("HSET").arg(self.key("meta")).arg(key).arg(value))
            .await
    }

    async fn put_token(&self, token_hash: &str, owner: &TokenOwner) -> Result<(), StoreError> {
        let key = self.id_key("token", token_hash);
        self.query(redis::cmd("SET").arg(key).arg(encode(owner)?))
            .await
    }

    async fn get_token(&self, token_hash: &str) -> Result<Option<TokenOwner>, StoreError> {
        self.get_json(redis::cmd("GET").arg(self.id_key("token", token_hash)))
            .await
    }

    async fn put_conversation(&self, conversation: &Conversation) -> Result<(), StoreError> {
        let key = self.id_key("conv", &conversation.id);
        self.query(redis::cmd("SET").arg(key).arg(encode(conversation)?))
            .await
    }

    async fn create_conversation(&self, conversation: &Conversation) -> Result<(), StoreError> {
        // One MULTI: the record and its place in the time index land together (both keys
        // carry the shop's hash tag, so a cluster keeps them on one node).
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(self.id_key("conv", &conversation.id))
            .arg(encode(conversation)?)
            .ignore()
            .cmd("ZADD")
            .arg(self.key("conv_by_time"))
            .arg(conversation.created_at.timestamp_millis())
            .arg(&conversation.id)
            .ignore();
        let mut connection = self.connection.clone();
        let () = pipe.query_async(&mut connection).await?;
        Ok(())
    }

    async fn conversations_created(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Conversation>, StoreError> {
        let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
        if from >= to || limit == 0 {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = self
            .query(
                redis::cmd("ZRANGE")
                    .arg(self.key("conv_by_time"))
                    .arg(from)
                    .arg(format!("({to}"))
                    .arg("BYSCORE")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit),
            )
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let keys: Vec<String> = chunk.iter().map(|id| self.id_key("conv", id)).collect();
            let raws: Vec<Option<String>> = self.query(redis::cmd("MGET").arg(keys)).await?;
            for raw in raws.into_iter().flatten() {
                out.push(decode(&raw)?);
            }
        }
        Ok(out)
    }

    async fn get_conversation(&self, id: &str) -> Result<Option<Conversation>, StoreError> {
        self.get_json(redis::cmd("GET").arg(self.id_key("conv", id)))
            .await
    }

    async fn append_message(
        &self,
        conversation_id: &str,
        message: NewMessage,
    ) -> Result<Appended, StoreError> {
        let (client_id, body) = unnumbered(conversation_id, message)?;
        let mut connection = self.connection.clone();
        let (created, json): (i64, String) = self
            .scripts
            .append_message
            .key(self.id_key("seq", conversation_id))
            .key(self.id_key("msgs", conversation_id))
            .key(self.id_key("cmid", conversation_id))
            .arg(if client_id.is_some() { "1" } else { "0" })
            .arg(client_id.unwrap_or_default())
            .arg(body)
            .invoke_async(&mut connection)
            .await?;
        Ok(Appended {
            message: decode(&json)?,
            created: created == 1,
        })
    }

    async fn customer_turn(
        &self,
        conversation_id: &str,
        message: NewMessage,
        history: usize,
    ) -> Result<CustomerTurn, StoreError> {
        let (client_id, body) = unnumbered(conversation_id, message)?;
        let mut connection = self.connection.clone();
        let (code, conversation, message, messages): (i64, String, String, Vec<String>) = self
            .scripts
            .customer_turn
            .key(self.id_key("conv", conversation_id))
            .key(self.id_key("seq", conversation_id))
            .key(self.id_key("msgs", conversation_id))
            .key(self.id_key("cmid", conversation_id))
            .arg(if client_id.is_some() { "1" } else { "0" })
            .arg(client_id.unwrap_or_default())
            .arg(body)
            .arg(history)
            .invoke_async(&mut connection)
            .await?;
        let messages = || -> Result<Vec<Message>, StoreError> {
            messages.iter().map(|json| decode(json)).collect()
        };
        Ok(match code {
            0 => CustomerTurn::Missing,
            1 => {
                let mut earlier = messages()?;
                earlier.reverse();
                CustomerTurn::Appended {
                    conversation: decode(&conversation)?,
                    message: decode(&message)?,
                    earlier,
                }
            }
            2 => CustomerTurn::Repeat {
                conversation: decode(&conversation)?,
                original: decode(&message)?,
                following: messages()?,
            },
            _ => CustomerTurn::Closed(decode(&conversation)?),
        })
    }

    async fn messages(
        &self,
        conversation_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let count = i64::try_from(limit).unwrap_or(i64::MAX);
        self.list_json(
            redis::cmd("ZRANGEBYSCORE")
                .arg(self.id_key("msgs", conversation_id))
                .arg(format!("({after_seq}"))
                .arg("+inf")
                .arg("LIMIT")
                .arg(0)
                .arg(count),
        )
        .await
    }

    async fn note_repeat(&self, conversation_id: &str) -> Result<u32, StoreError> {
        let mut connection = self.connection.clone();
        Ok(self
            .scripts
            .note_repeat
            .key(self.id_key("conv", conversation_id))
            .invoke_async(&mut connection)
            .await?)
    }

    async fn put_context(
        &self,
        conversation_id: &str,
        context: &StoredContext,
    ) -> Result<(), StoreError> {
        let key = self.id_key("ctx", conversation_id);
        self.query(redis::cmd("SET").arg(key).arg(encode(context)?))
            .await
    }

    async fn get_context(
        &self,
        conversation_id: &str,
    ) -> Result<Option<StoredContext>, StoreError> {
        self.get_json(redis::cmd("GET").arg(self.id_key("ctx", conversation_id)))
            .await
    }

    async fn push_routing(
        &self,
        conversation_id: &str,
        record: &RoutingRecord,
    ) -> Result<(), StoreError> {
        let key = self.id_key("routing", conversation_id);
        let _length: u64 = self
            .query(redis::cmd("RPUSH").arg(key).arg(encode(record)?))
            .await?;
        Ok(())
    }

    async fn routing(&self, conversation_id: &str) -> Result<Vec<RoutingRecord>, StoreError> {
        let key = self.id_key("routing", conversation_id);
        self.list_json(redis::cmd("LRANGE").arg(key).arg(0).arg(-1))
            .await
    }

    async fn put_agent(&self, agent: &Agent) -> Result<(), StoreError> {
        self.hash_put("agents", &agent.id, agent).await
    }

    async fn get_agent(&self, id: &str) -> Result<Option<Agent>, StoreError> {
        self.hash_get("agents", id).await
    }

    async fn list_agents(&self) -> Result<Vec<Agent>, StoreError> {
        self.hash_values("agents", |a: &Agent| a.id.as_str()).await
    }

    async fn patch_agent(&self, id: &str, patch: AgentPatch) -> Result<Option<Agent>, StoreError> {
        // Destructured so that a new patch field fails to compile here until it is sent.
        let AgentPatch {
            name,
            skills,
            max_concurrent,
            role,
            presence,
        } = patch;
        let mut fields = serde_json::Map::new();
        if let Some(name) = name {
            fields.insert("name".into(), serde_json::to_value(name)?);
        }
        if let Some(skills) = skills {
            fields.insert("skills".into(), serde_json::to_value(skills)?);
        }
        if let Some(max_concurrent) = max_concurrent {
            fields.insert(
                "max_concurrent".into(),
                serde_json::to_value(max_concurrent)?,
            );
        }
        if let Some(role) = role {
            fields.insert("role".into(), serde_json::to_value(role)?);
        }
        if let Some(presence) = presence {
            fields.insert("presence".into(), serde_json::to_value(presence)?);
        }
        let mut connection = self.connection.clone();
        let json: Option<String> = self
            .scripts
            .patch_agent
            .key(self.key("agents"))
            .arg(id)
            .arg(serde_json::to_string(&fields)?)
            .invoke_async(&mut connection)
            .await?;
        json.as_deref().map(decode).transpose()
    }

    async fn delete_idle_agent(&self, id: &str) -> Result<Result<bool, usize>, StoreError> {
        let mut connection = self.connection.clone();
        let outcome: i64 = self
            .scripts
            .delete_idle_agent
            .key(self.key("agents"))
            .arg(id)
            .invoke_async(&mut connection)
            .await?;
        Ok(match outcome {
            -1 => Ok(false),
            0 => Ok(true),
            held => Err(usize::try_from(held).unwrap_or(usize::MAX)),
        })
    }

    async fn enqueue(
        &self,
        entry: &QueueEntry,
        now: DateTime<Utc>,
    ) -> Result<Option<Conversation>, StoreError> {
        let [order, entries, ranks] = self.queue_keys();
        let mut connection = self.connection.clone();
        let json: Option<String> = self
            .scripts
            .enqueue
            .key(self.id_key("conv", &entry.conversation_id))
            .key(order)
            .key(entries)
            .key(ranks)
            .arg(&entry.conversation_id)
            .arg(queue_rank(entry))
            .arg(encode(entry)?)
            .arg(rfc3339(now))
            .invoke_async(&mut connection)
            .await?;
        json.as_deref().map(decode).transpose()
    }

    async fn queue(&self) -> Result<Vec<QueueEntry>, StoreError> {
        let [order, entries, _] = self.queue_keys();
        let mut connection = self.connection.clone();
        let raw: Vec<String> = self
            .scripts
            .queue
            .key(order)
            .key(entries)
            .arg(RANK_LEN)
            .invoke_async(&mut connection)
            .await?;
        raw.iter().map(|json| decode(json)).collect()
    }

    async fn claim(
        &self,
        conversation_id: &str,
        agent_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let mut connection = self.connection.clone();
        let claimed: Option<(String, String)> = self
            .on_assignment_keys(&self.scripts.claim, conversation_id)
            .arg(conversation_id)
            .arg(agent_id)
            .arg(rfc3339(now))
            .invoke_async(&mut connection)
            .await?;
        Ok(match claimed {
            None => Claim::Stale,
            Some((conversation, agent)) => Claim::Claimed {
                conversation: Box::new(decode(&conversation)?),
                agent: Box::new(decode(&agent)?),
            },
        })
    }

    async fn requeue(
        &self,
        entry: &QueueEntry,
        agent_id: &str,
        missed: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<(Conversation, Agent)>, StoreError> {
        let mut connection = self.connection.clone();
        let requeued: Option<(String, String)> = self
            .on_assignment_keys(&self.scripts.requeue, &entry.conversation_id)
            .arg(&entry.conversation_id)
            .arg(agent_id)
            .arg(queue_rank(entry))
            .arg(encode(entry)?)
            .arg(rfc3339(now))
            .arg(if missed { "1" } else { "0" })
            .invoke_async(&mut connection)
            .await?;
        requeued
            .map(|(conversation, agent)| Ok((decode(&conversation)?, decode(&agent)?)))
            .transpose()
    }

    async fn note_agent_reply(
        &self,
        conversation_id: &str,
        agent_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Conversation>, StoreError> {
        let mut connection = self.connection.clone();
        let json: Option<String> = self
            .scripts
            .note_agent_reply
            .key(self.id_key("conv", conversation_id))
            .arg(agent_id)
            .arg(rfc3339(now))
            .invoke_async(&mut connection)
            .await?;
        json.as_deref().map(decode).transpose()
    }

    async fn finish(
        &self,
        conversation_id: &str,
        state: ConversationState,
        now: DateTime<Utc>,
    ) -> Result<Option<(Conversation, Option<Agent>)>, StoreError> {
        let state = serde_json::to_value(state)?;
        let Some(state) = state.as_str() else {
            return Err(StoreError::Task(format!(
                "conversation state {state} is not a string"
            )));
        };
        let mut connection = self.connection.clone();
        let finished: Option<Vec<String>> = self
            .on_assignment_keys(&self.scripts.finish, conversation_id)
            .arg(conversation_id)
            .arg(state)
            .arg(rfc3339(now))
            .invoke_async(&mut connection)
            .await?;
        let Some(finished) = finished else {
            return Ok(None);
        };
        let mut parts = finished.iter();
        let Some(conversation) = parts.next() else {
            return Err(StoreError::Task("finish script returned nothing".into()));
        };
        let agent = parts.next().map(|json| decode(json)).transpose()?;
        Ok(Some((decode(conversation)?, agent)))
    }

    async fn push_gap(&self, gap: &GapRecord) -> Result<(), StoreError> {
        let key = self.key("gaps");
        let mut connection = self.connection.clone();
        redis::pipe()
            .atomic()
            .cmd("LPUSH")
            .arg(&key)
            .arg(encode(gap)?)
            .ignore()
            .cmd("LTRIM")
            .arg(&key)
            .arg(0)
            .arg(MAX_GAPS - 1)
            .ignore()
            .query_async::<()>(&mut connection)
            .await?;
        Ok(())
    }

    async fn gaps(&self, limit: usize) -> Result<Vec<GapRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let stop = i64::try_from(limit - 1).unwrap_or(i64::MAX);
        self.list_json(redis::cmd("LRANGE").arg(self.key("gaps")).arg(0).arg(stop))
            .await
    }

    async fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.hash_put("api_keys", &key.id, key).await
    }

    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        self.hash_get("api_keys", id).await
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.hash_values("api_keys", |k: &ApiKey| k.id.as_str())
            .await
    }

    async fn delete_api_key(&self, id: &str) -> Result<bool, StoreError> {
        self.hash_delete("api_keys", id).await
    }

    async fn claim_idempotency_key(
        &self,
        key: &str,
        fingerprint: &str,
        in_flight_for: chrono::Duration,
    ) -> Result<Claim_, StoreError> {
        let key = self.id_key("idem", key);
        let claim = encode(&Record::InFlight {
            fingerprint: fingerprint.to_owned(),
        })?;
        let ttl = in_flight_for.num_milliseconds().max(1);
        // SET NX claims atomically; when the key is taken, its record says why. A record that
        // lapses between the two commands is claimed on the next round.
        for _ in 0..3 {
            let set: Option<String> = self
                .query(
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(&claim)
                        .arg("NX")
                        .arg("PX")
                        .arg(ttl),
                )
                .await?;
            if set.is_some() {
                return Ok(Claim_::Claimed);
            }
            if let Some(record) = self.get_json::<Record>(redis::cmd("GET").arg(&key)).await? {
                return Ok(record.into_claim());
            }
        }
        Ok(Claim_::InFlight {
            fingerprint: fingerprint.to_owned(),
        })
    }

    async fn complete_idempotency_key(
        &self,
        key: &str,
        response: &StoredResponse,
        keep_for: chrono::Duration,
    ) -> Result<(), StoreError> {
        let record = encode(&Record::Done(response.clone()))?;
        let ttl = keep_for.num_milliseconds().max(1);
        self.query(
            redis::cmd("SET")
                .arg(self.id_key("idem", key))
                .arg(record)
                .arg("PX")
                .arg(ttl),
        )
        .await
    }

    async fn release_idempotency_key(&self, key: &str) -> Result<(), StoreError> {
        let _removed: u64 = self
            .query(redis::cmd("DEL").arg(self.id_key("idem", key)))
            .await?;
        Ok(())
    }

    async fn push_log(&self, log: &str, record: &str, cap: usize) -> Result<(), StoreError> {
        let key = self.id_key("log", log);
        let mut connection = self.connection.clone();
        redis::pipe()
            .atomic()
            .cmd("LPUSH")
            .arg(&key)
            .arg(record)
            .ignore()
            .cmd("LTRIM")
            .arg(&key)
            .arg(0)
            .arg(cap.saturating_sub(1))
            .ignore()
            .query_async::<()>(&mut connection)
            .await?;
        Ok(())
    }

    async fn read_log(&self, log: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let stop = i64::try_from(limit - 1).unwrap_or(i64::MAX);
        self.query(
            redis::cmd("LRANGE")
                .arg(self.id_key("log", log))
                .arg(0)
                .arg(stop),
        )
        .await
    }

    async fn put_webhook(&self, webhook: &Webhook) -> Result<(), StoreError> {
        self.hash_put("webhooks", &webhook.id, webhook).await
    }

    async fn list_webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        self.hash_values("webhooks", |w: &Webhook| w.id.as_str())
            .await
    }

    async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError> {
        self.hash_delete("webhooks", id).await
    }

    async fn enqueue_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for delivery in deliveries {
            pipe.cmd("HSET")
                .arg(self.key("outbox"))
                .arg(&delivery.id)
                .arg(encode(delivery)?)
                .ignore()
                .cmd("ZADD")
                .arg(self.key("outbox:due"))
                .arg(delivery.next_at.timestamp_millis())
                .arg(&delivery.id)
                .ignore();
        }
        let mut connection = self.connection.clone();
        let () = pipe.query_async(&mut connection).await?;
        Ok(())
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut connection = self.connection.clone();
        let raws: Vec<String> = self
            .scripts
            .claim_deliveries
            .key(self.key("outbox:due"))
            .key(self.key("outbox"))
            .arg(now.timestamp_millis())
            .arg(lease_until.timestamp_millis())
            .arg(limit)
            .invoke_async(&mut connection)
            .await?;
        raws.iter()
            .map(|raw| {
                let mut delivery: Delivery = decode(raw)?;
                delivery.next_at = lease_until;
                Ok(delivery)
            })
            .collect()
    }

    async fn settle_delivery(
        &self,
        delivery: &Delivery,
        next_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        match next_at {
            Some(at) => {
                let mut delivery = delivery.clone();
                delivery.next_at = at;
                pipe.cmd("HSET")
                    .arg(self.key("outbox"))
                    .arg(&delivery.id)
                    .arg(encode(&delivery)?)
                    .ignore()
                    .cmd("ZADD")
                    .arg(self.key("outbox:due"))
                    .arg(at.timestamp_millis())
                    .arg(&delivery.id)
                    .ignore();
            }
            None => {
                pipe.cmd("HDEL")
                    .arg(self.key("outbox"))
                    .arg(&delivery.id)
                    .ignore()
                    .cmd("ZREM")
                    .arg(self.key("outbox:due"))
                    .arg(&delivery.id)
                    .ignore();
            }
        }
        let mut connection = self.connection.clone();
        let () = pipe.query_async(&mut connection).await?;
        Ok(())
    }

    async fn put_article(&self, article: &kb::Article) -> Result<(), StoreError> {
        self.hash_put("articles", &article.id, article).await
    }

    async fn get_article(&self, id: &str) -> Result<Option<kb::Article>, StoreError> {
        self.hash_get("articles", id).await
    }

    async fn write_articles(
        &self,
        articles: &[kb::Article],
        replace: bool,
    ) -> Result<Vec<String>, StoreError> {
        let key = self.key("articles");
        let mut invocation = self.scripts.write_articles.key(&key);
        invocation.arg(if replace { "1" } else { "0" });
        for article in articles {
            invocation.arg(&article.id).arg(encode(article)?);
        }
        let mut connection = self.connection.clone();
        let mut deleted: Vec<String> = invocation.invoke_async(&mut connection).await?;
        deleted.sort();
        Ok(deleted)
    }

    async fn delete_article(&self, id: &str) -> Result<bool, StoreError> {
        self.hash_delete("articles", id).await
    }

    async fn list_articles(&self) -> Result<Vec<kb::Article>, StoreError> {
        self.hash_values("articles", |a: &kb::Article| a.id.as_str())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// An entry whose fixed score part grows with `boost` (value tier, anger, return).
    fn entry(id: &str, boost: i64, at: DateTime<Utc>) -> QueueEntry {
        let mut entry = QueueEntry::new(id, Default::default(), at);
        entry.value_tier = u8::try_from(boost.clamp(0, 2)).unwrap_or(0);
        entry.anger = if boost > 2 { 1.0 } else { 0.0 };
        entry.returned = boost > 5;
        entry.sla_secs = if boost < 0 { 600 } else { 180 };
        entry
    }

    #[test]
    fn queue_ranks_sort_like_the_router_orders_the_queue() {
        let t = |s: i64, n: u32| Utc.timestamp_opt(s, n).single().expect("valid time");
        let entries = vec![
            entry("a", 0, t(1_000, 5)),
            entry("b", 0, t(1_000, 4)),
            entry("c", -3, t(-50, 0)),
            entry("d", 9, t(2_000, 0)),
            entry("e", -9, t(0, 0)),
            entry("f", 7, t(1_000, 0)),
            entry("g", 7, t(1_000, 0)),
            entry("f0", 7, t(1_000, 0)),
            entry("h", -1, t(-60, 999_999_999)),
            entry("i", 1, t(i64::from(u32::MAX) * 10, 1)),
        ];
        let expected: Vec<&str> = router::queue_order(&entries)
            .iter()
            .map(|w| w.conversation_id.as_str())
            .collect();
        let mut ranks: Vec<String> = entries.iter().map(queue_rank).collect();
        ranks.sort();
        let ranked: Vec<&str> = ranks.iter().map(|r| &r[RANK_LEN..]).collect();
        assert_eq!(ranked, expected);
    }

    #[test]
    fn times_are_written_as_chrono_serialises_them() -> Result<(), serde_json::Error> {
        for nanos in [0, 1_000, 131_789_162, 999_999_999] {
            let at = Utc
                .timestamp_opt(1_795_000_000, nanos)
                .single()
                .expect("valid time");
            assert_eq!(serde_json::to_value(at)?, rfc3339(at));
        }
        Ok(())
    }
}
