//! Events between gateway processes: Redis pub/sub, one channel per shop.
//!
//! With Redis, a customer's socket may be held by one process while the agent who answers
//! talks to another. Every event a process publishes in its [`Hub`] is also handed to the
//! [`Relay`], and one task per process sends them, in order and in batches, on the shop's
//! channel (`PREFIX:{shop}:events`), each batch tagged with the process's origin id. Another
//! task subscribes to the channel and delivers other processes' events to this process's
//! sockets; its own come back too and are ignored (they were delivered locally already).
//!
//! Pub/sub delivers at most once: a message published while a subscriber is disconnected is
//! gone. That is safe because the store holds every message with a gap-free `seq`:
//!
//! - a socket that receives a message whose `seq` jumps ahead reads the missing ones from
//!   the store first (`routes/ws.rs`);
//! - a subscriber that reconnects resubscribes, then tells every local socket to
//!   [`Hub::resync`] (read the store after the last `seq` it sent) and reloads the
//!   knowledge-base index, which may have changed meanwhile;
//! - a process that could not publish (Redis down, outbox full) owes the others a resync
//!   and sends one as soon as Redis answers again.
//!
//! Knowledge-base changes travel on the same channel as a notice; every other process then
//! rebuilds its index from the store, which is the source of truth.

use crate::hub::{Hub, Outgoing, Topic};
use crate::store::{Connection, RedisTarget, Timeouts};
use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use serde::Deserialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

/// Events waiting to be published. Past this the newest are dropped and the other processes
/// are told to resync: a burst can never make a request wait for Redis.
pub const OUTBOX: usize = 65_536;
/// The most events one PUBLISH carries. Under load a batch forms by itself while the
/// previous PUBLISH is on its way, so Redis sees far fewer commands than events.
const MAX_BATCH: usize = 512;
/// How long connecting (and subscribing) may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a PUBLISH may take. Short: events wait behind it, and a late one is repaired.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the subscriber checks that its connection is alive; a connection can die
/// without the socket noticing (a peer that vanished), and then no event would ever arrive.
const PING_INTERVAL: Duration = Duration::from_secs(5);
/// How long that check may take.
const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// Reconnection waits grow from the first to the last, doubling.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_LAST: Duration = Duration::from_secs(2);

/// The sending half of the bus, held by the [`Hub`]. Sending never waits.
pub struct Relay {
    outbox: mpsc::Sender<Outbound>,
    /// Set when an event could not even be queued; the publisher then owes a resync.
    overflowed: Arc<AtomicBool>,
}

enum Outbound {
    /// Events that go out in one PUBLISH (one batch may hold several of these).
    Events(Vec<(Topic, Outgoing)>),
    KnowledgeBaseChanged,
}

impl Relay {
    /// Queues events for the other processes; they travel together, in one PUBLISH.
    pub fn send(&self, events: Vec<(Topic, Outgoing)>) {
        if !events.is_empty() {
            self.queue(Outbound::Events(events));
        }
    }

    /// Tells the other processes to rebuild their knowledge-base index from the store.
    pub fn knowledge_base_changed(&self) {
        self.queue(Outbound::KnowledgeBaseChanged);
    }

    fn queue(&self, outbound: Outbound) {
        if self.outbox.try_send(outbound).is_err() && !self.overflowed.swap(true, Ordering::AcqRel)
        {
            tracing::warn!(
                capacity = OUTBOX,
                "the pub/sub outbox is full; dropping events, other processes will resync"
            );
        }
    }
}

/// The running bus: its two tasks stop when this is dropped.
pub struct Bus {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Bus {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Where the bus runs and whom it tells.
pub struct BusConfig {
    /// The server, or the cluster's nodes (PUBLISH reaches every node of a cluster, so the
    /// subscriber listens on any one of them).
    pub target: RedisTarget,
    /// The shop's channel, e.g. `gw:{demo}:events`.
    pub channel: String,
    pub hub: Arc<Hub>,
    /// Notified when the knowledge base may have changed in another process.
    pub knowledge_base_changed: Arc<Notify>,
}

impl Bus {
    /// Subscribes to the shop's channel (so that nothing published after this returns is
    /// missed), starts the publisher and the subscriber, and attaches the relay to the hub.
    pub async fn start(config: BusConfig) -> redis::RedisResult<Self> {
        let clients = config
            .target
            .nodes
            .iter()
            .map(|url| redis::Client::open(url.as_str()))
            .collect::<redis::RedisResult<Vec<_>>>()?;
        let origin: Arc<str> = uuid::Uuid::new_v4().simple().to_string().into();
        let (mut node, mut last_error) = (0, None);
        let (sink, stream) = loop {
            let Some(client) = clients.get(node) else {
                return Err(last_error.unwrap_or_else(|| {
                    redis::RedisError::from(std::io::Error::other("no Redis node to subscribe on"))
                }));
            };
            match subscribe(client, &config.channel).await {
                Ok(connection) => break connection,
                Err(error) => {
                    last_error = Some(error);
                    node += 1;
                }
            }
        };
        let publisher = Connection::open(
            &config.target,
            Timeouts {
                connect: CONNECT_TIMEOUT,
                response: PUBLISH_TIMEOUT,
                retries: 1,
                max_delay: BACKOFF_FIRST,
            },
        )
        .await?;
        let (outbox, rx) = mpsc::channel(OUTBOX);
        let overflowed = Arc::new(AtomicBool::new(false));
        tracing::info!(channel = %config.channel, %origin, "pub/sub subscribed");
        let subscriber = Subscriber {
            clients,
            node,
            channel: config.channel.clone(),
            origin: Arc::clone(&origin),
            hub: Arc::clone(&config.hub),
            knowledge_base_changed: config.knowledge_base_changed,
        };
        let publisher = Publisher {
            connection: publisher,
            channel: config.channel,
            origin,
            overflowed: Arc::clone(&overflowed),
        };
        let tasks = vec![
            tokio::spawn(subscriber.run(sink, stream)),
            tokio::spawn(publisher.run(rx)),
        ];
        config.hub.attach_relay(Relay { outbox, overflowed });
        Ok(Self { tasks })
    }
}

async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> redis::RedisResult<(PubSubSink, PubSubStream)> {
    let timed_out = || redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
    let mut pubsub = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
        .await
        .map_err(|_| timed_out())??;
    tokio::time::timeout(CONNECT_TIMEOUT, pubsub.subscribe(channel))
        .await
        .map_err(|_| timed_out())??;
    Ok(pubsub.split())
}

fn next_backoff(backoff: Duration) -> Duration {
    (backoff * 2).min(BACKOFF_LAST)
}

/// One PUBLISH: `{"origin", "resync", "kb", "events": [{"topic", "key", "event"}]}`, where
/// `event` is the event's JSON exactly as the local sockets got it.
fn encode(origin: &str, resync: bool, batch: &[Outbound]) -> Result<Vec<u8>, serde_json::Error> {
    let kb = batch
        .iter()
        .any(|o| matches!(o, Outbound::KnowledgeBaseChanged));
    let mut out = Vec::with_capacity(64 + batch.len() * 256);
    out.extend_from_slice(br#"{"origin":"#);
    serde_json::to_writer(&mut out, origin)?;
    out.extend_from_slice(format!(r#","resync":{resync},"kb":{kb},"events":["#).as_bytes());
    let mut first = true;
    let events = batch.iter().flat_map(|outbound| match outbound {
        Outbound::Events(events) => events.as_slice(),
        Outbound::KnowledgeBaseChanged => &[],
    });
    for (topic, outgoing) in events {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(br#"{"topic":"#);
        serde_json::to_writer(&mut out, topic)?;
        out.extend_from_slice(br#","key":"#);
        let key = outgoing.message_key.as_ref().map(|(c, s)| (c.as_ref(), *s));
        serde_json::to_writer(&mut out, &key)?;
        out.extend_from_slice(br#","event":"#);
        out.extend_from_slice(outgoing.json.as_bytes());
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// Whether a batch was published by `origin`. Our own batches come back too; [`encode`]
/// writes the origin first (a hex id, which JSON leaves as it is), so they are recognised
/// without parsing them.
fn is_from(payload: &[u8], origin: &str) -> bool {
    payload
        .strip_prefix(br#"{"origin":""#.as_slice())
        .and_then(|rest| rest.strip_prefix(origin.as_bytes()))
        .is_some_and(|rest| rest.first() == Some(&b'"'))
}

#[derive(Deserialize)]
struct Batch {
    origin: String,
    #[serde(default)]
    resync: bool,
    #[serde(default)]
    kb: bool,
    #[serde(default)]
    events: Vec<WireEvent>,
}

#[derive(Deserialize)]
struct WireEvent {
    topic: Topic,
    #[serde(default)]
    key: Option<(String, u64)>,
    event: Box<serde_json::value::RawValue>,
}

struct Publisher {
    connection: Connection,
    channel: String,
    origin: Arc<str>,
    overflowed: Arc<AtomicBool>,
}

impl Publisher {
    async fn run(mut self, mut outbox: mpsc::Receiver<Outbound>) {
        // Whether the other processes may have missed something of ours.
        let mut owe_resync = false;
        let mut backoff = BACKOFF_FIRST;
        let mut batch: Vec<Outbound> = Vec::with_capacity(MAX_BATCH);
        loop {
            batch.clear();
            let first = if owe_resync {
                // Owing a resync, try again after a while even if nothing new comes.
                tokio::select! {
                    next = outbox.recv() => match next {
                        Some(next) => Some(next),
                        None => return,
                    },
                    _ = tokio::time::sleep(backoff) => None,
                }
            } else {
                match outbox.recv().await {
                    Some(next) => Some(next),
                    None => return,
                }
            };
            batch.extend(first);
            while batch.len() < MAX_BATCH {
                match outbox.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            owe_resync |= self.overflowed.swap(false, Ordering::AcqRel);
            let payload = match encode(&self.origin, owe_resync, &batch) {
                Ok(payload) => payload,
                Err(error) => {
                    tracing::error!(%error, "a pub/sub batch could not be encoded");
                    owe_resync = true;
                    continue;
                }
            };
            let published: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg(payload)
                .query_async(&mut self.connection)
                .await;
            match published {
                Ok(_) => {
                    if owe_resync {
                        tracing::info!("pub/sub publishing again; other processes resync");
                    }
                    owe_resync = false;
                    backoff = BACKOFF_FIRST;
                }
                Err(error) => {
                    if !owe_resync {
                        tracing::warn!(
                            %error,
                            dropped = batch.len(),
                            "events could not be published; other processes will resync"
                        );
                    }
                    owe_resync = true;
                    backoff = next_backoff(backoff);
                }
            }
        }
    }
}

struct Subscriber {
    /// One client per known node; the subscriber moves to the next when one fails.
    clients: Vec<redis::Client>,
    node: usize,
    channel: String,
    origin: Arc<str>,
    hub: Arc<Hub>,
    knowledge_base_changed: Arc<Notify>,
}

impl Subscriber {
    async fn run(mut self, mut sink: PubSubSink, mut stream: PubSubStream) {
        loop {
            self.serve(&mut sink, &mut stream).await;
            tracing::warn!(channel = %self.channel, "pub/sub connection lost; resubscribing");
            let mut backoff = BACKOFF_FIRST;
            (sink, stream) = loop {
                self.node = (self.node + 1) % self.clients.len().max(1);
                let Some(client) = self.clients.get(self.node) else {
                    return;
                };
                match subscribe(client, &self.channel).await {
                    Ok(connection) => break connection,
                    Err(error) => {
                        tracing::debug!(%error, "pub/sub resubscription failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = next_backoff(backoff);
                    }
                }
            };
            // Anything published while we were away is in the store: every socket reads
            // after what it last sent, and the index is rebuilt.
            tracing::info!(channel = %self.channel, "pub/sub resubscribed; sockets resync");
            self.hub.resync();
            self.knowledge_base_changed.notify_one();
        }
    }

    /// Delivers messages until the connection fails.
    async fn serve(&self, sink: &mut PubSubSink, stream: &mut PubSubStream) {
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.tick().await;
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else { return };
                    self.handle(message.get_payload_bytes());
                }
                _ = ping.tick() => {
                    let pong = tokio::time::timeout(PING_TIMEOUT, sink.ping::<redis::Value>()).await;
                    if !matches!(pong, Ok(Ok(_))) {
                        return;
                    }
                }
            }
        }
    }

    fn handle(&self, payload: &[u8]) {
        if is_from(payload, &self.origin) {
            return;
        }
        let batch: Batch = match serde_json::from_slice(payload) {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(%error, "an unreadable pub/sub message was ignored");
                return;
            }
        };
        if batch.resync {
            tracing::info!(origin = %batch.origin, "another process asks to resync");
            self.hub.resync();
        }
        if batch.kb || batch.resync {
            self.knowledge_base_changed.notify_one();
        }
        for event in batch.events {
            let outgoing = Outgoing {
                message_key: event.key.map(|(c, s)| (Arc::from(c), s)),
                json: Arc::from(event.event.get()),
            };
            self.hub.deliver(&event.topic, outgoing);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_reads_back_as_it_was_sent() -> Result<(), serde_json::Error> {
        let event = |json: &str, key: Option<(&str, u64)>| {
            Outbound::Events(vec![(
                Topic::Conversation("c1".into()),
                Outgoing {
                    message_key: key.map(|(c, s)| (Arc::from(c), s)),
                    json: Arc::from(json),
                },
            )])
        };
        let batch = vec![
            event(r#"{"type":"message","n":"引号\"x"}"#, Some(("c1", 7))),
            Outbound::KnowledgeBaseChanged,
            event(r#"{"type":"queue"}"#, None),
        ];
        let decoded: Batch = serde_json::from_slice(&encode("me", true, &batch)?)?;
        assert_eq!(decoded.origin, "me");
        assert!(decoded.resync && decoded.kb);
        assert_eq!(decoded.events.len(), 2);
        assert_eq!(decoded.events[0].topic, Topic::Conversation("c1".into()));
        assert_eq!(decoded.events[0].key, Some(("c1".into(), 7)));
        assert_eq!(
            decoded.events[0].event.get(),
            r#"{"type":"message","n":"引号\"x"}"#
        );
        assert_eq!(decoded.events[1].key, None);
        Ok(())
    }

    #[test]
    fn own_batches_are_recognised_by_their_origin() -> Result<(), serde_json::Error> {
        let payload = encode("abc123", false, &[])?;
        assert!(is_from(&payload, "abc123"));
        assert!(!is_from(&payload, "abc12"));
        assert!(!is_from(&payload, "abc1234"));
        Ok(())
    }

    #[test]
    fn an_empty_batch_is_still_a_notice() -> Result<(), serde_json::Error> {
        let decoded: Batch = serde_json::from_slice(&encode("me", false, &[])?)?;
        assert!(!decoded.resync && !decoded.kb && decoded.events.is_empty());
        Ok(())
    }
}
