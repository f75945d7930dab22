//! The embedded store: one redb file in the data directory.
//!
//! redb is a pure-Rust, ACID, copy-on-write B-tree store: a write transaction is durable when
//! `commit` returns (fsync, `Durability::Immediate`), so a message is on disk before the
//! gateway acknowledges it, and a crash never leaves a half-written transaction.
//!
//! **Group commit.** Every write goes to one writer thread, which takes whatever writes are
//! waiting (at most [`MAX_BATCH`]), runs them one after another in a single write transaction
//! and commits it with one fsync; each caller is answered only after that commit. Writes of a
//! batch run in the order they arrived and each sees the ones before it, exactly as if each had
//! its own transaction, so every multi-record method of [`Store`] stays atomic. One failing
//! write never takes the others with it: when a write of a batch fails, the batch is aborted
//! and each of its writes runs again alone (which is why a write is a `Fn`, not a `FnOnce`).
//! Under load the fsync — the cost of a durable write — is shared by every write waiting for
//! it; alone, a write is committed at once, as before. Reads run on tokio's blocking pool.
//!
//! **A bot turn is one write.** [`Store::read_turn_blocking`] reads the conversation and its history in a
//! read transaction on the blocking pool, the bot answers, and [`Store::bot_exchange`] stores the
//! customer's message and the answer in one write job: the writer thread, the one thing every
//! turn passes through, does one small job per turn and never the history's reading.

use super::{
    Appended, Claim, CustomerTurn, Exchange, QueueEntry, Store, StoreError, TurnRead, WriterStats,
};
use crate::domain::{
    Agent, AgentPatch, ApiKey, Conversation, ConversationState, GapRecord, Message, NewMessage,
    RoutingRecord, StoredContext, TokenOwner,
};
use crate::webhooks::{Delivery, Webhook};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
const CONVERSATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("conversations");
/// (creation time in Unix milliseconds, conversation id): the KPIs' cohort index.
const CONVERSATIONS_BY_TIME: TableDefinition<(i64, &str), ()> =
    TableDefinition::new("conversations_by_time");
const MESSAGES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("messages");
/// (conversation id, client message id) → seq of the stored message.
const CLIENT_IDS: TableDefinition<(&str, &str), u64> = TableDefinition::new("client_message_ids");
const CONTEXTS: TableDefinition<&str, &[u8]> = TableDefinition::new("contexts");
/// (conversation id, n) → routing record.
const ROUTING: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("routing");
const AGENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("agents");
const QUEUE: TableDefinition<&str, &[u8]> = TableDefinition::new("queue");
const ARTICLES: TableDefinition<&str, &[u8]> = TableDefinition::new("kb_articles");
/// n (increasing) → gap record.
const GAPS: TableDefinition<u64, &[u8]> = TableDefinition::new("kb_gaps");
/// (log name, n increasing) → JSON record.
const LOGS: TableDefinition<(&str, u64), &str> = TableDefinition::new("logs");
const API_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_keys");
const WEBHOOKS: TableDefinition<&str, &[u8]> = TableDefinition::new("webhooks");
/// Delivery id → [`Delivery`]: the webhook outbox.
const OUTBOX: TableDefinition<&str, &[u8]> = TableDefinition::new("webhook_outbox");
/// (due time in Unix milliseconds, delivery id): what the outbox sends next.
const OUTBOX_DUE: TableDefinition<(i64, &str), ()> = TableDefinition::new("webhook_outbox_due");
/// Scoped key hash → (expiry as Unix milliseconds, idempotency record JSON).
const IDEMPOTENCY: TableDefinition<&str, (i64, &str)> = TableDefinition::new("idempotency");

/// The most writes one transaction (one fsync) takes: enough to share an fsync among every
/// request a busy process has in flight, few enough that one batch stays a short transaction.
const MAX_BATCH: usize = 256;

/// How long opening waits for a previous owner of the file (a server that is stopping in the
/// same process, as in restart tests) to let go of its lock.
const OPEN_RETRY_FOR: Duration = Duration::from_secs(10);

macro_rules! backend_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Backend(e.into())
            }
        }
    )*};
}
backend_errors!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    Ok(serde_json::to_vec(value)?)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    Ok(serde_json::from_slice(bytes)?)
}

/// A write waiting for the writer thread: its work, then its answer after the commit.
trait Job: Send {
    /// Runs the write in `txn`; false when it failed (its batch must not commit its changes).
    fn run(&mut self, txn: &WriteTransaction) -> bool;
    /// Answers the caller: its own failure, else the commit's failure, else its result.
    fn answer(self: Box<Self>, committed: Result<(), String>);
}

struct Pending<T, F> {
    work: F,
    result: Option<Result<T, StoreError>>,
    reply: tokio::sync::oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: Fn(&WriteTransaction) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, txn: &WriteTransaction) -> bool {
        // A panicking write must not take the writer thread (and every later write) with it.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| (self.work)(txn)))
            .unwrap_or_else(|_| Err(StoreError::Task("a write panicked".into())));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, committed: Result<(), String>) {
        let result = match (self.result, committed) {
            (Some(Err(e)), _) => Err(e),
            (_, Err(e)) => Err(StoreError::Task(e)),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (None, Ok(())) => Err(StoreError::Task("a write was never run".into())),
        };
        // The caller may have gone (a dropped request); the write stands either way.
        let _ = self.reply.send(result);
    }
}

/// The writer thread: batches of waiting writes, one transaction and one fsync each. It ends
/// when every handle to the store is gone, and lets go of the database file then.
fn write_batches(db: Arc<Database>, jobs: mpsc::Receiver<Box<dyn Job>>, counts: Arc<Counts>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let writes = batch.len();
        let transactions = commit_batch(&db, batch);
        counts.record(transactions, writes, started.elapsed());
    }
}

/// What the writer thread has done since the store was opened ([`Store::writer_stats`]).
#[derive(Default)]
struct Counts {
    transactions: AtomicU64,
    writes: AtomicU64,
    busy_micros: AtomicU64,
}

impl Counts {
    fn record(&self, transactions: usize, writes: usize, busy: Duration) {
        let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        self.transactions
            .fetch_add(as_u64(transactions), Ordering::Relaxed);
        self.writes.fetch_add(as_u64(writes), Ordering::Relaxed);
        let micros = u64::try_from(busy.as_micros()).unwrap_or(u64::MAX);
        self.busy_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// Runs a batch; returns how many write transactions that took (one, or one more per write
/// when a write failed and each ran again alone).
fn commit_batch(db: &Database, mut batch: Vec<Box<dyn Job>>) -> usize {
    if batch.len() == 1 {
        batch.into_iter().for_each(|job| commit_alone(db, job));
        return 1;
    }
    let writes = batch.len();
    let outcome = (|| -> Result<bool, StoreError> {
        let txn = db.begin_write()?;
        // Stop at the first failure: its partial changes must not be committed.
        if batch.iter_mut().all(|job| job.run(&txn)) {
            txn.commit()?;
            Ok(true)
        } else {
            txn.abort()?;
            Ok(false)
        }
    })();
    match outcome {
        Ok(true) => {
            batch.into_iter().for_each(|job| job.answer(Ok(())));
            1
        }
        // One write failed: each runs again alone, so only the failing one fails.
        Ok(false) => {
            batch.into_iter().for_each(|job| commit_alone(db, job));
            1 + writes
        }
        Err(e) => {
            let e = format!("committing a batch of writes: {}", crate::error::chain(&e));
            batch.into_iter().for_each(|job| job.answer(Err(e.clone())));
            1
        }
    }
}

fn commit_alone(db: &Database, mut job: Box<dyn Job>) {
    let committed = (|| -> Result<(), StoreError> {
        let txn = db.begin_write()?;
        if job.run(&txn) {
            txn.commit()?;
        } else {
            txn.abort()?;
        }
        Ok(())
    })();
    job.answer(committed.map_err(|e| format!("committing a write: {}", crate::error::chain(&e))));
}

/// The embedded store. Cloning shares the database and its writer thread.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    writer: mpsc::Sender<Box<dyn Job>>,
    counts: Arc<Counts>,
}

impl EmbeddedStore {
    /// Opens (or creates) `gateway.redb` in `dir`, creating the directory and every table.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("gateway.redb");
        let started = std::time::Instant::now();
        let db = loop {
            match Database::create(&path) {
                Ok(db) => break db,
                Err(redb::DatabaseError::DatabaseAlreadyOpen)
                    if started.elapsed() < OPEN_RETRY_FOR =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let txn = db.begin_write()?;
        txn.open_table(META)?;
        txn.open_table(TOKENS)?;
        txn.open_table(CONVERSATIONS)?;
        txn.open_table(CONVERSATIONS_BY_TIME)?;
        txn.open_table(MESSAGES)?;
        txn.open_table(CLIENT_IDS)?;
        txn.open_table(CONTEXTS)?;
        txn.open_table(ROUTING)?;
        txn.open_table(AGENTS)?;
        txn.open_table(QUEUE)?;
        txn.open_table(ARTICLES)?;
        txn.open_table(GAPS)?;
        txn.open_table(LOGS)?;
        txn.open_table(API_KEYS)?;
        txn.open_table(WEBHOOKS)?;
        txn.open_table(OUTBOX)?;
        txn.open_table(OUTBOX_DUE)?;
        txn.open_table(IDEMPOTENCY)?;
        txn.commit()?;
        let db = Arc::new(db);
        let (writer, jobs) = mpsc::channel();
        let for_writer = Arc::clone(&db);
        let counts = Arc::new(Counts::default());
        let counted = Arc::clone(&counts);
        std::thread::Builder::new()
            .name("redb-writer".into())
            .spawn(move || write_batches(for_writer, jobs, counted))?;
        Ok(Self { db, writer, counts })
    }

    /// Runs a write on the writer thread, in the next batch's transaction; answers after the
    /// batch is committed (durably). `work` may run twice (see the module's docs): it must
    /// not change anything outside `txn`.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || StoreError::Task("the store's writer has stopped".into());
        self.writer
            .send(Box::new(Pending {
                work,
                result: None,
                reply,
            }))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs blocking database work on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    async fn put_json<T: Serialize>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let key = key.to_owned();
        let bytes = encode(value)?;
        self.write(move |txn| {
            txn.open_table(table)?
                .insert(key.as_str(), bytes.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn get_json<T: DeserializeOwned + Send + 'static>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let key = key.to_owned();
        self.run(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(table)?;
            let value = table.get(key.as_str())?;
            value.map(|v| decode(v.value())).transpose()
        })
        .await
    }

    async fn list_json<T: DeserializeOwned + Send + 'static>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
    ) -> Result<Vec<T>, StoreError> {
        self.run(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(table)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (_, v) = entry?;
                out.push(decode(v.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn delete_key(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        key: &str,
    ) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.write(move |txn| {
            let existed = txn.open_table(table)?.remove(key.as_str())?.is_some();
            Ok(existed)
        })
        .await
    }
}

fn read_in<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<T>, StoreError> {
    table.get(key)?.map(|v| decode(v.value())).transpose()
}

/// Messages of a conversation with `seq > after_seq`, oldest first, at most `limit`.
fn messages_in(
    table: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    conversation_id: &str,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<Message>, StoreError> {
    let mut out = Vec::new();
    if after_seq == u64::MAX || limit == 0 {
        return Ok(out);
    }
    for entry in table
        .range((conversation_id, after_seq + 1)..=(conversation_id, u64::MAX))?
        .take(limit)
    {
        let (_, v) = entry?;
        out.push(decode(v.value())?);
    }
    Ok(out)
}

/// The stored message with `message`'s `client_message_id` in this conversation, if any.
fn original_of(
    txn: &WriteTransaction,
    conversation_id: &str,
    message: &NewMessage,
) -> Result<Option<Message>, StoreError> {
    let Some(client_id) = &message.client_message_id else {
        return Ok(None);
    };
    let seen = txn
        .open_table(CLIENT_IDS)?
        .get((conversation_id, client_id.as_str()))?
        .map(|v| v.value());
    let Some(seq) = seen else {
        return Ok(None);
    };
    txn.open_table(MESSAGES)?
        .get((conversation_id, seq))?
        .map(|v| decode::<Message>(v.value()))
        .transpose()
}

/// Appends a message with the next `seq`, or finds the original of a repeated
/// `client_message_id`.
fn append_in(
    txn: &WriteTransaction,
    conversation_id: &str,
    message: &NewMessage,
) -> Result<Appended, StoreError> {
    if let Some(original) = original_of(txn, conversation_id, message)? {
        return Ok(Appended {
            message: original,
            created: false,
        });
    }
    let mut messages = txn.open_table(MESSAGES)?;
    let mut client_ids = txn.open_table(CLIENT_IDS)?;
    let cid = conversation_id;
    let last = messages
        .range((cid, 0)..=(cid, u64::MAX))?
        .next_back()
        .transpose()?
        .map(|(k, _)| k.value().1)
        .unwrap_or(0);
    let stored = Message {
        id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
        conversation_id: conversation_id.to_owned(),
        seq: last + 1,
        author: message.author.clone(),
        text: message.text.clone(),
        created_at: message.created_at,
        client_message_id: message.client_message_id.clone(),
        bot: message.bot.clone(),
    };
    messages.insert((cid, stored.seq), encode(&stored)?.as_slice())?;
    if let Some(client_id) = &stored.client_message_id {
        client_ids.insert((cid, client_id.as_str()), stored.seq)?;
    }
    Ok(Appended {
        message: stored,
        created: true,
    })
}

/// A customer's message in `txn`: the conversation, the append (or the original of a retry)
/// and the last `history` messages before it ([`Store::customer_turn`]).
fn turn_in(
    txn: &WriteTransaction,
    cid: &str,
    message: &NewMessage,
    history: usize,
) -> Result<CustomerTurn, StoreError> {
    let conversation = read_in::<Conversation>(&txn.open_table(CONVERSATIONS)?, cid)?;
    let Some(conversation) = conversation.map(Box::new) else {
        return Ok(CustomerTurn::Missing);
    };
    if conversation.state == ConversationState::Closed {
        // A retry of a message stored before the close still finds its original.
        return Ok(match original_of(txn, cid, message)? {
            Some(original) => CustomerTurn::Repeat {
                following: messages_in(&txn.open_table(MESSAGES)?, cid, original.seq, history)?,
                conversation,
                original,
            },
            None => CustomerTurn::Closed(conversation),
        });
    }
    let appended = append_in(txn, cid, message)?;
    let seq = appended.message.seq;
    let messages = txn.open_table(MESSAGES)?;
    if !appended.created {
        return Ok(CustomerTurn::Repeat {
            conversation,
            original: appended.message,
            following: messages_in(&messages, cid, seq, history)?,
        });
    }
    // Seqs have no gaps, so the `history` messages before `seq` start right after this.
    let start = seq.saturating_sub(1).saturating_sub(history as u64);
    let earlier = messages_in(&messages, cid, start, history.min((seq - 1) as usize))?;
    Ok(CustomerTurn::Appended {
        conversation,
        message: appended.message,
        earlier,
    })
}

/// [`Store::read_turn_blocking`] in one read transaction.
fn read_turn_in(
    db: &Database,
    cid: &str,
    client_message_id: Option<&str>,
    history: usize,
) -> Result<TurnRead, StoreError> {
    let txn = db.begin_read()?;
    let conversation = read_in::<Conversation>(&txn.open_table(CONVERSATIONS)?, cid)?;
    let Some(conversation) = conversation.map(Box::new) else {
        return Ok(TurnRead::Missing);
    };
    let messages = txn.open_table(MESSAGES)?;
    if let Some(client_id) = client_message_id {
        let seen = txn
            .open_table(CLIENT_IDS)?
            .get((cid, client_id))?
            .map(|v| v.value());
        if let Some(seq) = seen {
            if let Some(original) = messages.get((cid, seq))? {
                return Ok(TurnRead::Repeat {
                    original: Box::new(decode(original.value())?),
                    following: messages_in(&messages, cid, seq, history)?,
                    conversation,
                });
            }
        }
    }
    if conversation.state == ConversationState::Closed {
        return Ok(TurnRead::Closed(conversation));
    }
    let mut earlier = Vec::with_capacity(history.min(64));
    for entry in messages
        .range((cid, 0)..=(cid, u64::MAX))?
        .rev()
        .take(history)
    {
        earlier.push(decode::<Message>(entry?.1.value())?);
    }
    earlier.reverse();
    Ok(TurnRead::Open {
        conversation,
        earlier,
    })
}

#[async_trait]
impl Store for EmbeddedStore {
    fn writer_stats(&self) -> Option<WriterStats> {
        let counts = &self.counts;
        Some(WriterStats {
            transactions: counts.transactions.load(Ordering::Relaxed),
            writes: counts.writes.load(Ordering::Relaxed),
            busy_seconds: counts.busy_micros.load(Ordering::Relaxed) as f64 / 1e6,
        })
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_owned();
        self.run(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(META)?;
            let value = table.get(key.as_str())?.map(|v| v.value().to_owned());
            Ok(value)
        })
        .await
    }

    async fn put_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |txn| {
            txn.open_table(META)?.insert(key.as_str(), value.as_str())?;
            Ok(())
        })
        .await
    }

    async fn put_token(&self, token_hash: &str, owner: &TokenOwner) -> Result<(), StoreError> {
        self.put_json(TOKENS, token_hash, owner).await
    }

    async fn get_token(&self, token_hash: &str) -> Result<Option<TokenOwner>, StoreError> {
        self.get_json(TOKENS, token_hash).await
    }

    async fn put_conversation(&self, conversation: &Conversation) -> Result<(), StoreError> {
        self.put_json(CONVERSATIONS, &conversation.id, conversation)
            .await
    }

    async fn create_conversation(&self, conversation: &Conversation) -> Result<(), StoreError> {
        let id = conversation.id.clone();
        let at = conversation.created_at.timestamp_millis();
        let bytes = encode(conversation)?;
        self.write(move |txn| {
            txn.open_table(CONVERSATIONS)?
                .insert(id.as_str(), bytes.as_slice())?;
            txn.open_table(CONVERSATIONS_BY_TIME)?
                .insert((at, id.as_str()), ())?;
            Ok(())
        })
        .await
    }

    async fn conversations_created(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Conversation>, StoreError> {
        let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
        self.run(move |db| {
            let txn = db.begin_read()?;
            let index = txn.open_table(CONVERSATIONS_BY_TIME)?;
            let conversations = txn.open_table(CONVERSATIONS)?;
            let mut out = Vec::new();
            if from >= to {
                return Ok(out);
            }
            for entry in index.range((from, "")..(to, ""))?.take(limit) {
                let (key, _) = entry?;
                let (_, id) = key.value();
                if let Some(conversation) = read_in::<Conversation>(&conversations, id)? {
                    out.push(conversation);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn get_conversation(&self, id: &str) -> Result<Option<Conversation>, StoreError> {
        self.get_json(CONVERSATIONS, id).await
    }

    async fn append_message(
        &self,
        conversation_id: &str,
        message: NewMessage,
    ) -> Result<Appended, StoreError> {
        let conversation_id = conversation_id.to_owned();
        self.write(move |txn| append_in(txn, &conversation_id, &message))
            .await
    }

    /// One write: the conversation, the append and the history the bot reads.
    async fn customer_turn(
        &self,
        conversation_id: &str,
        message: NewMessage,
        history: usize,
    ) -> Result<CustomerTurn, StoreError> {
        let conversation_id = conversation_id.to_owned();
        self.write(move |txn| turn_in(txn, &conversation_id, &message, history))
            .await
    }

    /// One read transaction on the calling thread (the blocking pool): the writer thread never
    /// does a bot turn's reading (see [`EmbeddedStore::bot_exchange`]).
    fn read_turn_blocking(
        &self,
        conversation_id: &str,
        client_message_id: Option<&str>,
        history: usize,
    ) -> Option<Result<TurnRead, StoreError>> {
        Some(read_turn_in(
            &self.db,
            conversation_id,
            client_message_id,
            history,
        ))
    }

    fn reads_turns_blocking(&self) -> bool {
        true
    }

    /// One write job, one commit with its fsync, and nothing read in it but the conversation
    /// and the customer's `client_message_id`: the history was read by [`Store::read_turn_blocking`]
    /// beside the writer. Writes that wait together share the fsync (group commit).
    async fn bot_exchange(
        &self,
        conversation_id: &str,
        message: NewMessage,
        reply: NewMessage,
        history: usize,
    ) -> Result<Exchange, StoreError> {
        let conversation_id = conversation_id.to_owned();
        self.write(move |txn| {
            let cid = conversation_id.as_str();
            let turn = turn_in(txn, cid, &message, 0)?;
            let turn = match turn {
                // A retry, found only now: its replies, as `customer_turn` gives them.
                CustomerTurn::Repeat {
                    conversation,
                    original,
                    following: _,
                } => CustomerTurn::Repeat {
                    following: messages_in(&txn.open_table(MESSAGES)?, cid, original.seq, history)?,
                    conversation,
                    original,
                },
                other => other,
            };
            let reply = match &turn {
                CustomerTurn::Appended { conversation, .. }
                    if conversation.state == ConversationState::Bot =>
                {
                    Some(append_in(txn, cid, &reply)?.message)
                }
                _ => None,
            };
            Ok(Exchange { turn, reply })
        })
        .await
    }

    async fn messages(
        &self,
        conversation_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let conversation_id = conversation_id.to_owned();
        self.run(move |db| {
            let txn = db.begin_read()?;
            messages_in(
                &txn.open_table(MESSAGES)?,
                &conversation_id,
                after_seq,
                limit,
            )
        })
        .await
    }

    async fn note_repeat(&self, conversation_id: &str) -> Result<u32, StoreError> {
        let conversation_id = conversation_id.to_owned();
        self.write(move |txn| {
            let count = {
                let mut conversations = txn.open_table(CONVERSATIONS)?;
                let Some(mut conversation) =
                    read_in::<Conversation>(&conversations, &conversation_id)?
                else {
                    return Ok(0);
                };
                conversation.repeats_after_handoff += 1;
                conversations
                    .insert(conversation_id.as_str(), encode(&conversation)?.as_slice())?;
                conversation.repeats_after_handoff
            };
            Ok(count)
        })
        .await
    }

    async fn put_context(
        &self,
        conversation_id: &str,
        context: &StoredContext,
    ) -> Result<(), StoreError> {
        self.put_json(CONTEXTS, conversation_id, context).await
    }

    async fn get_context(
        &self,
        conversation_id: &str,
    ) -> Result<Option<StoredContext>, StoreError> {
        self.get_json(CONTEXTS, conversation_id).await
    }

    async fn push_routing(
        &self,
        conversation_id: &str,
        record: &RoutingRecord,
    ) -> Result<(), StoreError> {
        let conversation_id = conversation_id.to_owned();
        let bytes = encode(record)?;
        self.write(move |txn| {
            {
                let mut table = txn.open_table(ROUTING)?;
                let cid = conversation_id.as_str();
                let next = table
                    .range((cid, 0)..=(cid, u64::MAX))?
                    .next_back()
                    .transpose()?
                    .map_or(0, |(k, _)| k.value().1 + 1);
                table.insert((cid, next), bytes.as_slice())?;
            }
            Ok(())
        })
        .await
    }

    async fn routing(&self, conversation_id: &str) -> Result<Vec<RoutingRecord>, StoreError> {
        let conversation_id = conversation_id.to_owned();
        self.run(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(ROUTING)?;
            let cid = conversation_id.as_str();
            let mut out = Vec::new();
            for entry in table.range((cid, 0)..=(cid, u64::MAX))? {
                let (_, v) = entry?;
                out.push(decode(v.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn put_agent(&self, agent: &Agent) -> Result<(), StoreError> {
        self.put_json(AGENTS, &agent.id, agent).await
    }

    async fn get_agent(&self, id: &str) -> Result<Option<Agent>, StoreError> {
        self.get_json(AGENTS, id).await
    }

    async fn list_agents(&self) -> Result<Vec<Agent>, StoreError> {
        self.list_json(AGENTS).await
    }

    async fn patch_agent(&self, id: &str, patch: AgentPatch) -> Result<Option<Agent>, StoreError> {
        let id = id.to_owned();
        self.write(move |txn| {
            let patched = {
                let mut agents = txn.open_table(AGENTS)?;
                let Some(mut agent) = read_in::<Agent>(&agents, &id)? else {
                    return Ok(None);
                };
                patch.clone().apply(&mut agent);
                agents.insert(id.as_str(), encode(&agent)?.as_slice())?;
                agent
            };
            Ok(Some(patched))
        })
        .await
    }

    async fn delete_idle_agent(&self, id: &str) -> Result<Result<bool, usize>, StoreError> {
        let id = id.to_owned();
        self.write(move |txn| {
            let outcome = {
                let mut agents = txn.open_table(AGENTS)?;
                match read_in::<Agent>(&agents, &id)? {
                    None => Ok(false),
                    Some(agent) if !agent.active.is_empty() => Err(agent.active.len()),
                    Some(_) => {
                        agents.remove(id.as_str())?;
                        Ok(true)
                    }
                }
            };
            Ok(outcome)
        })
        .await
    }

    async fn enqueue(
        &self,
        entry: &QueueEntry,
        now: DateTime<Utc>,
    ) -> Result<Option<Conversation>, StoreError> {
        let entry = entry.clone();
        self.write(move |txn| {
            let updated = {
                let mut conversations = txn.open_table(CONVERSATIONS)?;
                let id = entry.conversation_id.as_str();
                let Some(mut conversation) = read_in::<Conversation>(&conversations, id)? else {
                    return Ok(None);
                };
                if conversation.state != ConversationState::Bot {
                    return Ok(None);
                }
                conversation.state = ConversationState::Queued;
                conversation.handed_off_at = Some(now);
                conversation.updated_at = now;
                conversations.insert(id, encode(&conversation)?.as_slice())?;
                txn.open_table(QUEUE)?
                    .insert(id, encode(&entry)?.as_slice())?;
                conversation
            };
            Ok(Some(updated))
        })
        .await
    }

    async fn queue(&self) -> Result<Vec<QueueEntry>, StoreError> {
        self.list_json(QUEUE).await
    }

    async fn claim(
        &self,
        conversation_id: &str,
        agent_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let (conversation_id, agent_id) = (conversation_id.to_owned(), agent_id.to_owned());
        self.write(move |txn| {
            let claimed = {
                let mut queue = txn.open_table(QUEUE)?;
                let mut conversations = txn.open_table(CONVERSATIONS)?;
                let mut agents = txn.open_table(AGENTS)?;
                let queued = queue.get(conversation_id.as_str())?.is_some();
                let conversation = read_in::<Conversation>(&conversations, &conversation_id)?;
                let agent = read_in::<Agent>(&agents, &agent_id)?;
                let (Some(mut conversation), Some(mut agent)) = (conversation, agent) else {
                    return Ok(Claim::Stale);
                };
                let fits = agent.presence == router::Presence::Online
                    && agent.active.len() < agent.max_concurrent as usize
                    && !agent.active.contains(&conversation_id);
                if !queued || conversation.state != ConversationState::Queued || !fits {
                    return Ok(Claim::Stale);
                }
                queue.remove(conversation_id.as_str())?;
                conversation.state = ConversationState::Assigned;
                conversation.assignee = Some(agent.assignee());
                conversation.updated_at = now;
                conversation.assigned_at = Some(now);
                conversation.accepted_at = None;
                agent.active.push(conversation_id.clone());
                agent.last_assigned_at = Some(now);
                conversations
                    .insert(conversation_id.as_str(), encode(&conversation)?.as_slice())?;
                agents.insert(agent_id.as_str(), encode(&agent)?.as_slice())?;
                Claim::Claimed {
                    conversation: Box::new(conversation),
                    agent: Box::new(agent),
                }
            };
            Ok(claimed)
        })
        .await
    }

    async fn requeue(
        &self,
        entry: &QueueEntry,
        agent_id: &str,
        missed: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<(Conversation, Agent)>, StoreError> {
        let (entry, agent_id) = (entry.clone(), agent_id.to_owned());
        self.write(move |txn| {
            let requeued = {
                let mut conversations = txn.open_table(CONVERSATIONS)?;
                let mut agents = txn.open_table(AGENTS)?;
                let id = entry.conversation_id.as_str();
                let conversation = read_in::<Conversation>(&conversations, id)?;
                let agent = read_in::<Agent>(&agents, &agent_id)?;
                let (Some(mut conversation), Some(mut agent)) = (conversation, agent) else {
                    return Ok(None);
                };
                let held = conversation.state == ConversationState::Assigned
                    && conversation.assignee.as_ref().map(|a| a.id.as_str())
                        == Some(agent_id.as_str());
                if !held {
                    return Ok(None);
                }
                agent.active.retain(|c| c != id);
                if missed {
                    agent.missed_accepts += 1;
                }
                conversation.state = ConversationState::Queued;
                conversation.assignee = None;
                conversation.assigned_at = None;
                conversation.accepted_at = None;
                conversation.updated_at = now;
                conversations.insert(id, encode(&conversation)?.as_slice())?;
                agents.insert(agent_id.as_str(), encode(&agent)?.as_slice())?;
                txn.open_table(QUEUE)?
                    .insert(id, encode(&entry)?.as_slice())?;
                (conversation, agent)
            };
            Ok(Some(requeued))
        })
        .await
    }

    async fn note_agent_reply(
        &self,
        conversation_id: &str,
        agent_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Conversation>, StoreError> {
        let (conversation_id, agent_id) = (conversation_id.to_owned(), agent_id.to_owned());
        self.write(move |txn| {
            let noted = {
                let mut conversations = txn.open_table(CONVERSATIONS)?;
                let Some(mut conversation) =
                    read_in::<Conversation>(&conversations, &conversation_id)?
                else {
                    return Ok(None);
                };
                let holder = conversation.assignee.as_ref().map(|a| a.id.as_str());
                if conversation.state != ConversationState::Assigned
                    || holder != Some(agent_id.as_str())
                    || conversation.accepted_at.is_some()
                {
                    return Ok(None);
                }
                conversation.accepted_at = Some(now);
                conversation.first_response_at.get_or_insert(now);
                conversations
                    .insert(conversation_id.as_str(), encode(&conversation)?.as_slice())?;
                conversation
            };
            Ok(Some(noted))
        })
        .await
    }

    async fn finish(
        &self,
        conversation_id: &str,
        state: ConversationState,
        now: DateTime<Utc>,
    ) -> Result<Option<(Conversation, Option<Agent>)>, StoreError> {
        let conversation_id = conversation_id.to_owned();
        self.write(move |txn| {
            let finished = {
                let mut conversations = txn.open_table(CONVERSATIONS)?;
                let Some(mut conversation) =
                    read_in::<Conversation>(&conversations, &conversation_id)?
                else {
                    return Ok(None);
                };
                if conversation.state.is_ended() {
                    return Ok(None);
                }
                txn.open_table(QUEUE)?.remove(conversation_id.as_str())?;
                let mut released = None;
                if let Some(assignee) = &conversation.assignee {
                    let mut agents = txn.open_table(AGENTS)?;
                    if let Some(mut agent) = read_in::<Agent>(&agents, &assignee.id)? {
                        agent.active.retain(|c| c != &conversation_id);
                        agents.insert(agent.id.as_str(), encode(&agent)?.as_slice())?;
                        released = Some(agent);
                    }
                }
                conversation.state = state;
                conversation.updated_at = now;
                conversation.ended_at = Some(now);
                conversations
                    .insert(conversation_id.as_str(), encode(&conversation)?.as_slice())?;
                (conversation, released)
            };
            Ok(Some(finished))
        })
        .await
    }

    async fn push_gap(&self, gap: &GapRecord) -> Result<(), StoreError> {
        let bytes = encode(gap)?;
        self.write(move |txn| {
            {
                let mut table = txn.open_table(GAPS)?;
                let next = table.last()?.map_or(0, |(k, _)| k.value() + 1);
                table.insert(next, bytes.as_slice())?;
            }
            Ok(())
        })
        .await
    }

    async fn gaps(&self, limit: usize) -> Result<Vec<GapRecord>, StoreError> {
        self.run(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(GAPS)?;
            let mut out = Vec::new();
            for entry in table.iter()?.rev().take(limit) {
                let (_, v) = entry?;
                out.push(decode(v.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.put_json(API_KEYS, &key.id, key).await
    }

    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        self.get_json(API_KEYS, id).await
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.list_json(API_KEYS).await
    }

    async fn delete_api_key(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_key(API_KEYS, id).await
    }

    async fn claim_idempotency_key(
        &self,
        key: &str,
        fingerprint: &str,
        in_flight_for: chrono::Duration,
    ) -> Result<crate::idempotency::Claim, StoreError> {
        use crate::idempotency::{Claim, Record};
        let key = key.to_owned();
        let claim = serde_json::to_string(&Record::InFlight {
            fingerprint: fingerprint.to_owned(),
        })?;
        self.write(move |txn| {
            let now = Utc::now().timestamp_millis();
            let found = {
                let mut table = txn.open_table(IDEMPOTENCY)?;
                let current = table.get(key.as_str())?.and_then(|v| {
                    let (expires, json) = v.value();
                    (expires > now).then(|| json.to_owned())
                });
                match current {
                    Some(json) => Some(serde_json::from_str::<Record>(&json)?.into_claim()),
                    None => {
                        let expires = now + in_flight_for.num_milliseconds();
                        table.insert(key.as_str(), (expires, claim.as_str()))?;
                        None
                    }
                }
            };
            Ok(found.unwrap_or(Claim::Claimed))
        })
        .await
    }

    async fn complete_idempotency_key(
        &self,
        key: &str,
        response: &crate::idempotency::StoredResponse,
        keep_for: chrono::Duration,
    ) -> Result<(), StoreError> {
        let key = key.to_owned();
        let record = serde_json::to_string(&crate::idempotency::Record::Done(response.clone()))?;
        self.write(move |txn| {
            let expires = Utc::now().timestamp_millis() + keep_for.num_milliseconds();
            txn.open_table(IDEMPOTENCY)?
                .insert(key.as_str(), (expires, record.as_str()))?;
            Ok(())
        })
        .await
    }

    async fn release_idempotency_key(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.write(move |txn| {
            txn.open_table(IDEMPOTENCY)?.remove(key.as_str())?;
            Ok(())
        })
        .await
    }

    async fn push_log(&self, log: &str, record: &str, cap: usize) -> Result<(), StoreError> {
        let (log, record) = (log.to_owned(), record.to_owned());
        self.write(move |txn| {
            {
                let mut table = txn.open_table(LOGS)?;
                let range = (log.as_str(), 0)..=(log.as_str(), u64::MAX);
                let next = table
                    .range(range.clone())?
                    .next_back()
                    .transpose()?
                    .map_or(0, |(k, _)| k.value().1 + 1);
                table.insert((log.as_str(), next), record.as_str())?;
                let oldest_kept = (next + 1).saturating_sub(cap as u64);
                let dropped: Vec<u64> = table
                    .range((log.as_str(), 0)..(log.as_str(), oldest_kept))?
                    .map(|entry| entry.map(|(k, _)| k.value().1))
                    .collect::<Result<_, _>>()?;
                for n in dropped {
                    table.remove((log.as_str(), n))?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn read_log(&self, log: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let log = log.to_owned();
        self.run(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(LOGS)?;
            let mut out = Vec::new();
            for entry in table
                .range((log.as_str(), 0)..=(log.as_str(), u64::MAX))?
                .rev()
                .take(limit)
            {
                let (_, v) = entry?;
                out.push(v.value().to_owned());
            }
            Ok(out)
        })
        .await
    }

    async fn put_webhook(&self, webhook: &Webhook) -> Result<(), StoreError> {
        self.put_json(WEBHOOKS, &webhook.id, webhook).await
    }

    async fn list_webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        self.list_json(WEBHOOKS).await
    }

    async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_key(WEBHOOKS, id).await
    }

    async fn enqueue_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        let rows: Vec<(String, i64, Vec<u8>)> = deliveries
            .iter()
            .map(|d| Ok((d.id.clone(), d.next_at.timestamp_millis(), encode(d)?)))
            .collect::<Result<_, StoreError>>()?;
        self.write(move |txn| {
            {
                let mut outbox = txn.open_table(OUTBOX)?;
                let mut due = txn.open_table(OUTBOX_DUE)?;
                for (id, at, bytes) in &rows {
                    outbox.insert(id.as_str(), bytes.as_slice())?;
                    due.insert((*at, id.as_str()), ())?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (now, lease) = (now.timestamp_millis(), lease_until);
        self.write(move |txn| {
            let mut claimed = Vec::new();
            {
                let mut outbox = txn.open_table(OUTBOX)?;
                let mut due = txn.open_table(OUTBOX_DUE)?;
                let mut keys = Vec::new();
                for entry in due.range(..(now + 1, ""))?.take(limit) {
                    let (key, _) = entry?;
                    let (at, id) = key.value();
                    keys.push((at, id.to_owned()));
                }
                for (at, id) in keys {
                    due.remove((at, id.as_str()))?;
                    let Some(mut delivery) = read_in::<Delivery>(&outbox, &id)? else {
                        continue;
                    };
                    delivery.next_at = lease;
                    outbox.insert(id.as_str(), encode(&delivery)?.as_slice())?;
                    due.insert((lease.timestamp_millis(), id.as_str()), ())?;
                    claimed.push(delivery);
                }
            }
            Ok(claimed)
        })
        .await
    }

    async fn settle_delivery(
        &self,
        delivery: &Delivery,
        next_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let delivery = delivery.clone();
        self.write(move |txn| {
            {
                let mut delivery = delivery.clone();
                let mut outbox = txn.open_table(OUTBOX)?;
                let mut due = txn.open_table(OUTBOX_DUE)?;
                // Whatever due time the stored record holds (the lease) goes.
                if let Some(stored) = read_in::<Delivery>(&outbox, &delivery.id)? {
                    due.remove((stored.next_at.timestamp_millis(), delivery.id.as_str()))?;
                }
                match next_at {
                    Some(at) => {
                        delivery.next_at = at;
                        outbox.insert(delivery.id.as_str(), encode(&delivery)?.as_slice())?;
                        due.insert((at.timestamp_millis(), delivery.id.as_str()), ())?;
                    }
                    None => {
                        outbox.remove(delivery.id.as_str())?;
                    }
                }
            }
            Ok(())
        })
        .await
    }

    async fn put_article(&self, article: &kb::Article) -> Result<(), StoreError> {
        self.put_json(ARTICLES, &article.id, article).await
    }

    async fn get_article(&self, id: &str) -> Result<Option<kb::Article>, StoreError> {
        self.get_json(ARTICLES, id).await
    }

    async fn write_articles(
        &self,
        articles: &[kb::Article],
        replace: bool,
    ) -> Result<Vec<String>, StoreError> {
        let encoded: Vec<(String, Vec<u8>)> = articles
            .iter()
            .map(|a| Ok((a.id.clone(), encode(a)?)))
            .collect::<Result<_, StoreError>>()?;
        self.write(move |txn| {
            let deleted = {
                let mut table = txn.open_table(ARTICLES)?;
                let mut deleted = Vec::new();
                if replace {
                    let keep: std::collections::HashSet<&str> =
                        encoded.iter().map(|(id, _)| id.as_str()).collect();
                    for entry in table.iter()? {
                        let (k, _) = entry?;
                        if !keep.contains(k.value()) {
                            deleted.push(k.value().to_owned());
                        }
                    }
                    for id in &deleted {
                        table.remove(id.as_str())?;
                    }
                }
                for (id, bytes) in &encoded {
                    table.insert(id.as_str(), bytes.as_slice())?;
                }
                deleted
            };
            Ok(deleted)
        })
        .await
    }

    async fn delete_article(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_key(ARTICLES, id).await
    }

    async fn list_articles(&self) -> Result<Vec<kb::Article>, StoreError> {
        self.list_json(ARTICLES).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Author, AuthorRole};

    fn customer_message(text: &str, client_id: Option<&str>) -> NewMessage {
        NewMessage {
            created_at: Utc::now(),
            author: Author {
                role: AuthorRole::Customer,
                id: None,
                name: None,
            },
            text: text.into(),
            client_message_id: client_id.map(Into::into),
            bot: None,
        }
    }

    /// Holds the writer thread with a write that waits for the returned sender, so that the
    /// writes made meanwhile queue up into one batch.
    async fn hold_writer(
        store: &EmbeddedStore,
    ) -> anyhow::Result<(
        tokio::task::JoinHandle<Result<(), StoreError>>,
        std::sync::mpsc::Sender<()>,
    )> {
        let (started, wait_started) = std::sync::mpsc::channel::<()>();
        let (release, wait_release) = std::sync::mpsc::channel::<()>();
        let held = spawn_write(store, move |_txn| {
            let _ = started.send(());
            let _ = wait_release.recv();
            Ok(())
        });
        tokio::task::spawn_blocking(move || wait_started.recv()).await??;
        Ok((held, release))
    }

    /// Sends a write from a task of its own (it queues while the writer is held).
    fn spawn_write<T, F>(
        store: &EmbeddedStore,
        work: F,
    ) -> tokio::task::JoinHandle<Result<T, StoreError>>
    where
        T: Send + 'static,
        F: Fn(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let store = store.clone();
        tokio::spawn(async move { store.write(work).await })
    }

    fn put(key: &'static str) -> impl Fn(&WriteTransaction) -> Result<(), StoreError> {
        move |txn| {
            txn.open_table(META)?.insert(key, "v")?;
            Ok(())
        }
    }

    /// Writes of one batch share a transaction: each sees the ones before it, and readers see
    /// none of them before the batch commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_waiting_together_commit_as_one_batch() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let store = EmbeddedStore::open(dir.path())?;
        let (held, release) = hold_writer(&store).await?;
        let b = spawn_write(&store, put("b"));
        let db = Arc::clone(&store.db);
        let d = spawn_write(&store, move |txn| -> Result<(bool, bool), StoreError> {
            let in_batch = txn.open_table(META)?.get("b")?.is_some();
            let committed = db.begin_read()?.open_table(META)?.get("b")?.is_some();
            txn.open_table(META)?.insert("d", "v")?;
            Ok((in_batch, committed))
        });
        // Let both writes reach the queue (in this order), then let the writer go.
        tokio::time::sleep(Duration::from_millis(200)).await;
        release.send(())?;
        held.await??;
        b.await??;
        let (in_batch, committed_before) = d.await??;
        assert!(in_batch, "d did not see b's write");
        assert!(
            !committed_before,
            "b was committed before d ran: not one batch"
        );
        assert_eq!(store.get_meta("d").await?.as_deref(), Some("v"));
        Ok(())
    }

    /// A failing or panicking write in a batch fails alone: the batch runs again write by
    /// write, the others are committed, its changes are not, and the writer lives on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_fails_alone() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let store = EmbeddedStore::open(dir.path())?;
        let (held, release) = hold_writer(&store).await?;
        let b = spawn_write(&store, put("b"));
        let failing = spawn_write(&store, |txn| -> Result<(), StoreError> {
            txn.open_table(META)?.insert("failed", "v")?;
            Err(StoreError::Task("this write fails".into()))
        });
        let panicking = spawn_write(&store, |txn| -> Result<(), StoreError> {
            txn.open_table(META)?.insert("panicked", "v")?;
            panic!("this write panics")
        });
        let d = spawn_write(&store, put("d"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        release.send(())?;
        held.await??;
        b.await??;
        d.await??;
        assert!(matches!(failing.await?, Err(StoreError::Task(m)) if m == "this write fails"));
        assert!(matches!(panicking.await?, Err(StoreError::Task(m)) if m == "a write panicked"));
        for (key, kept) in [
            ("b", true),
            ("d", true),
            ("failed", false),
            ("panicked", false),
        ] {
            assert_eq!(store.get_meta(key).await?.is_some(), kept, "{key}");
        }
        store.put_meta("after", "v").await?;
        assert_eq!(store.get_meta("after").await?.as_deref(), Some("v"));
        Ok(())
    }

    /// Many writers at once on one conversation: every acknowledged message is stored once,
    /// with gap-free `seq`s, and is there after reopening.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_appends_are_all_kept_with_gap_free_seqs() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        {
            let store = EmbeddedStore::open(dir.path())?;
            let mut tasks = Vec::new();
            for i in 0..400 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    let id = format!("m{}", i % 300);
                    store
                        .append_message("c1", customer_message(&id, Some(&id)))
                        .await
                }));
            }
            let mut created = 0;
            for task in tasks {
                created += usize::from(task.await??.created);
            }
            assert_eq!(created, 300, "a repeated client_message_id stores nothing");
        }
        let store = EmbeddedStore::open(dir.path())?;
        let messages = store.messages("c1", 0, usize::MAX).await?;
        let seqs: Vec<u64> = messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=300).collect::<Vec<u64>>());
        let mut ids: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 300);
        Ok(())
    }

    #[tokio::test]
    async fn data_survives_reopening() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        {
            let store = EmbeddedStore::open(dir.path())?;
            store
                .append_message("c1", customer_message("kept", None))
                .await?;
            store.put_meta("k", "v").await?;
        }
        let store = EmbeddedStore::open(dir.path())?;
        assert_eq!(store.messages("c1", 0, 10).await?[0].text, "kept");
        assert_eq!(store.get_meta("k").await?.as_deref(), Some("v"));
        Ok(())
    }
}
