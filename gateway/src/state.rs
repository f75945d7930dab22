//! The application state every handler shares.

use crate::domain::Author;
use crate::hub::Hub;
use crate::settings::Settings;
use crate::store::Store;
use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How many stripes the per-conversation locks have. Turns of one conversation run one at a
/// time (the bot must see a consistent transcript); different conversations rarely share a
/// stripe.
const CONVERSATION_LOCK_STRIPES: usize = 256;

/// Bot turns allowed to run at once, per core. Turns are CPU work, so running every waiting
/// turn at once would only make them all finish late; but one per core leaves the cores idle
/// while a finished turn's answer travels back and the next turn is handed its slot, and keeps
/// the store's group commit from filling its batches. The bot-turn benchmark's load (wrk, 64
/// connections, 2 cores): one per core gave about 3 300–3 500 requests/s, four per core about
/// 3 800–4 800, eight and thirty-two no better than four.
pub const BOT_SLOTS_PER_CORE: usize = 4;
/// How many customer tokens and conversation authors each process remembers. Both never
/// change once made, so a remembered one is never stale; the least recently used go first.
const IDENTITY_CACHE_SIZE: NonZeroUsize = match NonZeroUsize::new(100_000) {
    Some(size) => size,
    None => NonZeroUsize::MIN,
};

/// How many customer lines' analyses each process keeps for the bot's repeat check (about
/// 850 bytes each): a bot session's earlier lines, for some 2 000 conversations of ten lines in
/// a bot session at once. A line no longer kept is analysed again (the same result, only
/// slower).
const LINE_ANALYSIS_CACHE_SIZE: NonZeroUsize = match NonZeroUsize::new(20_000) {
    Some(size) => size,
    None => NonZeroUsize::MIN,
};

pub struct AppState {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub hub: Arc<Hub>,
    pub bot: Arc<bot::Bot>,
    /// Serialises routing passes in this process; each claim is also atomic in the store.
    pub routing_lock: tokio::sync::Mutex<()>,
    /// Serialises knowledge-base changes so the store and this process's index change in the
    /// same order.
    pub kb_lock: tokio::sync::Mutex<()>,
    conversation_locks: Vec<tokio::sync::Mutex<()>>,
    rate: Mutex<HashMap<String, (Instant, u32)>>,
    pub metrics: crate::metrics::Metrics,
    /// Recent handle times (assignment to resolution), seconds, newest last: the ETA's base.
    pub handle_times: Mutex<VecDeque<f64>>,
    /// The queue place and ETA last pushed to each waiting customer, so only changes are sent.
    pub announced: Mutex<HashMap<String, (usize, u64)>>,
    /// Customer token hash → the conversation it opens (customer tokens are never revoked),
    /// so a customer's request costs no store read to authenticate.
    pub customer_tokens: Mutex<lru::LruCache<String, String>>,
    /// Conversation id → its customer as a message author (fixed when the conversation
    /// starts), so storing a customer's message needs no read first.
    pub customer_authors: Mutex<lru::LruCache<String, Author>>,
    /// Customer message id → the bot's analysis of that line ([`bot::AnalyzedLine`]), made on
    /// the line's own turn: later turns of the conversation compare with it instead of
    /// analysing every earlier line again. Messages never change, so a kept one is never stale.
    pub line_analyses: Arc<Mutex<lru::LruCache<String, Arc<bot::AnalyzedLine>>>>,
    /// The registered webhooks and when they were read (see [`crate::webhooks`]).
    pub webhook_cache: Mutex<Option<(Instant, Vec<crate::webhooks::Webhook>)>>,
    /// Wakes the webhook worker when an event was written here.
    pub webhook_wake: tokio::sync::Notify,
    /// Bot turns running at once ([`BOT_SLOTS_PER_CORE`] per core); the others wait in arrival
    /// order.
    pub bot_slots: Arc<tokio::sync::Semaphore>,
}

/// Locks a mutex; a panic elsewhere while it was held leaves data that is still usable here
/// (caches and counters), so poisoning is ignored.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AppState {
    pub fn new(settings: Settings, store: Arc<dyn Store>, bot: Arc<bot::Bot>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            bot_slots: Arc::new(tokio::sync::Semaphore::new(BOT_SLOTS_PER_CORE * cores)),
            settings,
            store,
            hub: Arc::new(Hub::default()),
            bot,
            routing_lock: tokio::sync::Mutex::new(()),
            kb_lock: tokio::sync::Mutex::new(()),
            conversation_locks: (0..CONVERSATION_LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            rate: Mutex::new(HashMap::new()),
            metrics: crate::metrics::Metrics::default(),
            handle_times: Mutex::new(VecDeque::new()),
            announced: Mutex::new(HashMap::new()),
            customer_tokens: Mutex::new(lru::LruCache::new(IDENTITY_CACHE_SIZE)),
            customer_authors: Mutex::new(lru::LruCache::new(IDENTITY_CACHE_SIZE)),
            line_analyses: Arc::new(Mutex::new(lru::LruCache::new(LINE_ANALYSIS_CACHE_SIZE))),
            webhook_cache: Mutex::new(None),
            webhook_wake: tokio::sync::Notify::new(),
        }
    }

    /// The gateway's time (see [`crate::clock`]).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.settings.clock.now()
    }

    /// The lock for one conversation's turns.
    pub async fn lock_conversation(&self, id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut hasher);
        let stripe = (hasher.finish() as usize) % self.conversation_locks.len();
        self.conversation_locks[stripe].lock().await
    }

    /// Counts one request against `key`'s fixed window; `Err(seconds)` says how long to wait.
    pub fn check_rate(&self, key: &str) -> Result<(), u64> {
        self.check_rate_of(key, self.settings.limits.messages_per_window)
    }

    /// Counts one request of an API key against its window.
    pub fn check_key_rate(&self, key_id: &str) -> Result<(), u64> {
        self.check_rate_of(
            &format!("key:{key_id}"),
            self.settings.limits.api_key_requests_per_window,
        )
    }

    /// Counts one new conversation from a client address against its window.
    pub fn check_conversation_rate(&self, address: &str) -> Result<(), u64> {
        self.check_rate_of(
            &format!("new:{address}"),
            self.settings.limits.conversations_per_address_per_window,
        )
    }

    /// Counts one request against `key`'s fixed window of `limit` requests.
    fn check_rate_of(&self, key: &str, limit: u32) -> Result<(), u64> {
        let limits = &self.settings.limits;
        let window = Duration::from_secs(limits.message_window_secs);
        let now = Instant::now();
        let mut rate = self.rate.lock().unwrap_or_else(|p| p.into_inner());
        if rate.len() > 100_000 {
            rate.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = rate.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let left = window.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}
