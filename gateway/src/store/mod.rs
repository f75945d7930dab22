//! Where the gateway's state lives.
//!
//! [`Store`] is the one seam between the gateway's logic and its storage. The embedded
//! implementation ([`EmbeddedStore`], on redb) is the default; a Redis implementation with the
//! same semantics comes later and must pass the same behavioural tests. Every operation that
//! changes more than one record (assigning a conversation, releasing it, queueing it) is one
//! method here, so that each backend can make it atomic: one redb write transaction, or one
//! Lua script in Redis. Callers never read-then-write across two calls.

mod embedded;
mod redis;

pub use embedded::EmbeddedStore;
pub use redis::{Connection, RedisStore, RedisTarget, Timeouts};

use crate::domain::{
    Agent, AgentPatch, ApiKey, Conversation, ConversationState, GapRecord, Message, NewMessage,
    RoutingRecord, StoredContext, TokenOwner,
};
use crate::webhooks::{Delivery, Webhook};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage backend failed")]
    Backend(#[from] redb::Error),
    #[error("redis failed")]
    Redis(#[from] ::redis::RedisError),
    #[error("a stored record could not be decoded")]
    Codec(#[from] serde_json::Error),
    #[error("the storage task failed: {0}")]
    Task(String),
    #[error("the data directory is unusable")]
    Io(#[from] std::io::Error),
}

/// The result of appending a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    pub message: Message,
    /// False when the `client_message_id` was seen before and `message` is the original.
    pub created: bool,
}

/// What [`Store::customer_turn`] found and did.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomerTurn {
    /// No such conversation: nothing stored.
    Missing,
    /// The conversation was closed and the message is new: nothing stored.
    Closed(Box<Conversation>),
    /// The `client_message_id` was seen before: `original` is the stored message and
    /// `following` what came after it (at most the history asked for), oldest first.
    Repeat {
        conversation: Box<Conversation>,
        original: Message,
        following: Vec<Message>,
    },
    /// The message was appended with the next `seq`; `earlier` holds the messages before it
    /// (at most the history asked for), oldest first.
    Appended {
        conversation: Box<Conversation>,
        message: Message,
        earlier: Vec<Message>,
    },
}

/// What a customer's new message meets, read before anything is stored
/// ([`Store::read_turn_blocking`]):
/// the first half of a bot turn that is stored in one write ([`Store::bot_exchange`]).
#[derive(Debug, Clone, PartialEq)]
pub enum TurnRead {
    /// No such conversation.
    Missing,
    /// The conversation was closed and the message is new.
    Closed(Box<Conversation>),
    /// The `client_message_id` was seen before: as in [`CustomerTurn::Repeat`].
    Repeat {
        conversation: Box<Conversation>,
        original: Box<Message>,
        following: Vec<Message>,
    },
    /// The conversation is open and the message new; `earlier` holds its last messages (at most
    /// the history asked for), oldest first. Nothing is stored.
    Open {
        conversation: Box<Conversation>,
        earlier: Vec<Message>,
    },
}

/// What [`Store::bot_exchange`] found and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// The customer's message, as [`Store::customer_turn`] stores it (`earlier` may be empty:
    /// the turn read it before).
    pub turn: CustomerTurn,
    /// The bot's answer, stored right after the customer's message; `None` when the message was
    /// not appended or the conversation had left the bot (a person took it meanwhile).
    pub reply: Option<Message>,
}

/// What a store's single writer has done since the store was opened ([`Store::writer_stats`]):
/// the embedded store's group commit, for `GET /metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WriterStats {
    /// Write transactions run (each committed with one fsync, or aborted).
    pub transactions: u64,
    /// Writes run in them; `writes / transactions` is the mean batch size.
    pub writes: u64,
    /// Time the writer spent running batches, from the first write to the durable commit.
    pub busy_seconds: f64,
}

/// A conversation waiting in the queue.
pub type QueueEntry = router::Waiting;

/// The outcome of trying to claim a queued conversation for an agent.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    Claimed {
        conversation: Box<Conversation>,
        agent: Box<Agent>,
    },
    /// The conversation is no longer queued, or the agent no longer fits: nothing changed.
    Stale,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn put_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Tokens are kept by their SHA-256 hash only.
    async fn put_token(&self, token_hash: &str, owner: &TokenOwner) -> Result<(), StoreError>;
    async fn get_token(&self, token_hash: &str) -> Result<Option<TokenOwner>, StoreError>;

    async fn put_conversation(&self, conversation: &Conversation) -> Result<(), StoreError>;
    /// Stores a new conversation and indexes it by its creation time, in one step.
    async fn create_conversation(&self, conversation: &Conversation) -> Result<(), StoreError>;
    /// Conversations created at or after `from` and before `to`, oldest first, at most
    /// `limit` (the KPIs' cohort).
    async fn conversations_created(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Conversation>, StoreError>;
    async fn get_conversation(&self, id: &str) -> Result<Option<Conversation>, StoreError>;

    /// Appends a message with the next `seq`, durably, unless its `client_message_id` was
    /// seen in this conversation before, in which case the original comes back.
    async fn append_message(
        &self,
        conversation_id: &str,
        message: NewMessage,
    ) -> Result<Appended, StoreError>;
    /// A customer's message in one step, with what the bot's turn needs to read: the
    /// conversation and the last `history` messages before it. A repeated
    /// `client_message_id` finds the original (even in a closed conversation); a new message
    /// to a closed conversation is not stored.
    ///
    /// The default reads and appends in separate steps, which is enough when one process
    /// owns the store (the gateway holds the conversation's lock around the turn); the Redis
    /// store does it in one script, one round trip.
    async fn customer_turn(
        &self,
        conversation_id: &str,
        message: NewMessage,
        history: usize,
    ) -> Result<CustomerTurn, StoreError> {
        let Some(conversation) = self.get_conversation(conversation_id).await? else {
            return Ok(CustomerTurn::Missing);
        };
        let conversation = Box::new(conversation);
        if conversation.state == ConversationState::Closed {
            if let Some(client_id) = &message.client_message_id {
                let all = self.messages(conversation_id, 0, usize::MAX).await?;
                if let Some(at) = all
                    .iter()
                    .position(|m| m.client_message_id.as_ref() == Some(client_id))
                {
                    let original = all[at].clone();
                    let following = all.into_iter().skip(at + 1).take(history).collect();
                    return Ok(CustomerTurn::Repeat {
                        conversation,
                        original,
                        following,
                    });
                }
            }
            return Ok(CustomerTurn::Closed(conversation));
        }
        let appended = self.append_message(conversation_id, message).await?;
        let seq = appended.message.seq;
        if !appended.created {
            let following = self.messages(conversation_id, seq, history).await?;
            return Ok(CustomerTurn::Repeat {
                conversation,
                original: appended.message,
                following,
            });
        }
        // Seqs have no gaps, so the `history` messages before `seq` start right after this.
        let start = seq.saturating_sub(1).saturating_sub(history as u64);
        let earlier = self
            .messages(conversation_id, start, history.min((seq - 1) as usize))
            .await?;
        Ok(CustomerTurn::Appended {
            conversation,
            message: appended.message,
            earlier,
        })
    }

    /// What the store's single writer has done, for a store with one (the embedded store);
    /// `None` for a store whose writes go to a server (Redis).
    fn writer_stats(&self) -> Option<WriterStats> {
        None
    }

    /// The read half of a bot turn, for a store that stores the turn in one write: what
    /// [`Store::customer_turn`] would find for a message with `client_message_id`, without
    /// storing anything. It runs on the calling thread, which must be allowed to block (tokio's
    /// blocking pool), so the caller goes on with the bot's turn on the same thread. `None` (the
    /// default, and [`Store::reads_turns_blocking`] false) when the store has no cheaper way
    /// than `customer_turn` and then [`Store::append_message`] for the answer (the Redis store:
    /// two scripts, two round trips, either way).
    fn read_turn_blocking(
        &self,
        _conversation_id: &str,
        _client_message_id: Option<&str>,
        _history: usize,
    ) -> Option<Result<TurnRead, StoreError>> {
        None
    }

    /// Whether [`Store::read_turn_blocking`] answers.
    fn reads_turns_blocking(&self) -> bool {
        false
    }

    /// A customer's message and the bot's answer to it, stored together: the customer's message
    /// exactly as [`Store::customer_turn`] stores it (a retry finds its original, a closed or
    /// missing conversation stores nothing), then `reply` right after it when the message was
    /// new and the conversation is still the bot's. Nothing of it is stored unless all of it is
    /// (the embedded store: one write transaction, one fsync per bot turn).
    ///
    /// The default takes two steps, `customer_turn` then `append_message`.
    async fn bot_exchange(
        &self,
        conversation_id: &str,
        message: NewMessage,
        reply: NewMessage,
        history: usize,
    ) -> Result<Exchange, StoreError> {
        let turn = self
            .customer_turn(conversation_id, message, history)
            .await?;
        let reply = match &turn {
            CustomerTurn::Appended { conversation, .. }
                if conversation.state == ConversationState::Bot =>
            {
                Some(self.append_message(conversation_id, reply).await?.message)
            }
            _ => None,
        };
        Ok(Exchange { turn, reply })
    }

    /// Messages with `seq > after_seq`, oldest first, at most `limit`.
    async fn messages(
        &self,
        conversation_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError>;

    /// Counts one repeated question after the handoff; returns the new count.
    async fn note_repeat(&self, conversation_id: &str) -> Result<u32, StoreError>;

    async fn put_context(
        &self,
        conversation_id: &str,
        context: &StoredContext,
    ) -> Result<(), StoreError>;
    async fn get_context(&self, conversation_id: &str)
        -> Result<Option<StoredContext>, StoreError>;

    async fn push_routing(
        &self,
        conversation_id: &str,
        record: &RoutingRecord,
    ) -> Result<(), StoreError>;
    async fn routing(&self, conversation_id: &str) -> Result<Vec<RoutingRecord>, StoreError>;

    async fn put_agent(&self, agent: &Agent) -> Result<(), StoreError>;
    async fn get_agent(&self, id: &str) -> Result<Option<Agent>, StoreError>;
    async fn list_agents(&self) -> Result<Vec<Agent>, StoreError>;
    /// Changes an agent in one step; `None` when there is no such agent.
    async fn patch_agent(&self, id: &str, patch: AgentPatch) -> Result<Option<Agent>, StoreError>;
    /// Deletes an agent that holds no conversation. `Err(n)` inside: it holds `n`.
    async fn delete_idle_agent(&self, id: &str) -> Result<Result<bool, usize>, StoreError>;

    /// Moves a conversation from the bot to the queue: state `queued`, the handoff time and
    /// the queue entry, in one step. Returns the updated conversation, or `None` when it was
    /// not with the bot (already handed off or ended).
    async fn enqueue(
        &self,
        entry: &QueueEntry,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Conversation>, StoreError>;
    async fn queue(&self) -> Result<Vec<QueueEntry>, StoreError>;

    /// Assigns a queued conversation to an agent in one step: the conversation is still
    /// queued, the agent is online with room, then queue removal, state change and load.
    async fn claim(
        &self,
        conversation_id: &str,
        agent_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Claim, StoreError>;

    /// Puts an assigned conversation back in the queue in one step, if `agent_id` still holds
    /// it: off the agent's load (counting a missed accept when `missed`), state `queued`, no
    /// assignee, the queue `entry`. Returns the updated conversation and agent, or `None` when
    /// the agent no longer holds it (nothing changed).
    async fn requeue(
        &self,
        entry: &QueueEntry,
        agent_id: &str,
        missed: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<(Conversation, Agent)>, StoreError>;

    /// Records that the agent holding a conversation answered: the accept timeout stops, and
    /// the first human response is kept. Returns the conversation when this was the agent's
    /// first answer since the assignment, `None` otherwise.
    async fn note_agent_reply(
        &self,
        conversation_id: &str,
        agent_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Conversation>, StoreError>;

    /// Ends a conversation in one step: its new state, off the queue, off its agent's load.
    /// Returns the updated conversation and the agent that held it, or `None` when the
    /// conversation does not exist or has ended already.
    async fn finish(
        &self,
        conversation_id: &str,
        state: ConversationState,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<(Conversation, Option<Agent>)>, StoreError>;

    /// Records a question the bot could not answer well; the newest are kept first.
    async fn push_gap(&self, gap: &GapRecord) -> Result<(), StoreError>;
    /// The newest `limit` gap records, newest first.
    async fn gaps(&self, limit: usize) -> Result<Vec<GapRecord>, StoreError>;

    async fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError>;
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;
    /// True when the key existed.
    async fn delete_api_key(&self, id: &str) -> Result<bool, StoreError>;

    /// Claims an `Idempotency-Key` (already scoped and hashed) for a request with
    /// `fingerprint`, unless the key holds a running claim or a completed response, which
    /// comes back instead. A claim lapses after `in_flight_for`.
    async fn claim_idempotency_key(
        &self,
        key: &str,
        fingerprint: &str,
        in_flight_for: chrono::Duration,
    ) -> Result<crate::idempotency::Claim, StoreError>;
    /// Keeps the response of a claimed key for `keep_for`.
    async fn complete_idempotency_key(
        &self,
        key: &str,
        response: &crate::idempotency::StoredResponse,
        keep_for: chrono::Duration,
    ) -> Result<(), StoreError>;
    /// Forgets a claim (the request failed; a retry runs again).
    async fn release_idempotency_key(&self, key: &str) -> Result<(), StoreError>;

    /// Appends a JSON record to the named log (`qa_flags`, ...); only the newest `cap` are
    /// kept.
    async fn push_log(&self, log: &str, record: &str, cap: usize) -> Result<(), StoreError>;
    /// The newest `limit` records of the named log, newest first.
    async fn read_log(&self, log: &str, limit: usize) -> Result<Vec<String>, StoreError>;

    async fn put_webhook(&self, webhook: &Webhook) -> Result<(), StoreError>;
    async fn list_webhooks(&self) -> Result<Vec<Webhook>, StoreError>;
    /// True when it existed.
    async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError>;

    /// Adds deliveries to the outbox, due at their `next_at`, all in one step.
    async fn enqueue_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StoreError>;
    /// Takes up to `limit` deliveries due at `now` (oldest due first) and holds them until
    /// `lease_until`: meanwhile no other claim returns them; unsettled, they are due again
    /// after it. One step.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Stores a claimed delivery's new state and makes it due at `next_at`, or, with
    /// `None`, removes it from the outbox (delivered, out of attempts, or its webhook gone).
    async fn settle_delivery(
        &self,
        delivery: &Delivery,
        next_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    async fn put_article(&self, article: &kb::Article) -> Result<(), StoreError>;
    async fn get_article(&self, id: &str) -> Result<Option<kb::Article>, StoreError>;
    /// Writes many articles in one step; with `replace`, every other article is deleted.
    /// Returns the ids deleted.
    async fn write_articles(
        &self,
        articles: &[kb::Article],
        replace: bool,
    ) -> Result<Vec<String>, StoreError>;
    async fn delete_article(&self, id: &str) -> Result<bool, StoreError>;
    async fn list_articles(&self) -> Result<Vec<kb::Article>, StoreError>;
}
