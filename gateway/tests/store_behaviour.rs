//! What every [`Store`] backend does. Each behaviour below is one async fn taking a store; the
//! `behaviours!` list runs every one of them against both backends:
//!
//! - `on_embedded::…`: [`EmbeddedStore`] in a fresh temporary directory;
//! - `on_redis::…`: [`RedisStore`] on the server at `GATEWAY_TEST_REDIS_URL` (default
//!   `redis://127.0.0.1:6379/`) under a fresh `test-{uuid}` key prefix, whose keys are deleted
//!   when the test ends, pass or fail.
//!
//! A few tests at the end look at how the Redis store lays out its keys.

use chrono::{DateTime, Duration, Utc};
use gateway::domain::{
    Agent, AgentPatch, AgentRole, Assignee, Author, AuthorRole, Channel, Conversation,
    ConversationState, Customer, GapReason, GapRecord, HandoverNote, Locale, Message, NewMessage,
    PageContext, Rating, RatingReason, RatingValue, RoutingEvent, RoutingRecord, StoredContext,
    TokenOwner,
};
use gateway::store::{
    Appended, Claim, CustomerTurn, EmbeddedStore, QueueEntry, RedisStore, Store, TurnRead,
};

mod support;
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

type Shared = Arc<dyn Store>;

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

fn redis_url() -> String {
    std::env::var("GATEWAY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// Deletes every key under a prefix when dropped, so a failing test cleans up too.
struct RedisKeys {
    url: String,
    prefix: String,
}

impl RedisKeys {
    fn fresh() -> Self {
        Self {
            url: redis_url(),
            prefix: format!("test-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    fn delete_all(&self) -> redis::RedisResult<usize> {
        use redis::Commands;
        let mut connection = redis::Client::open(self.url.as_str())?.get_connection()?;
        let keys: Vec<String> = connection
            .scan_match::<_, String>(format!("{}:*", self.prefix))?
            .collect::<redis::RedisResult<_>>()?;
        for chunk in keys.chunks(500) {
            redis::cmd("DEL").arg(chunk).query::<()>(&mut connection)?;
        }
        Ok(keys.len())
    }
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        if let Err(e) = self.delete_all() {
            eprintln!("could not delete the keys under {}: {e}", self.prefix);
        }
    }
}

/// A store under test and what keeps its data alive (and cleans it up afterwards).
struct Backend {
    store: Shared,
    _dir: Option<tempfile::TempDir>,
    _keys: Option<RedisKeys>,
}

impl Backend {
    fn embedded() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let store = EmbeddedStore::open(dir.path())?;
        Ok(Self {
            store: Arc::new(store),
            _dir: Some(dir),
            _keys: None,
        })
    }

    async fn redis() -> anyhow::Result<Self> {
        let keys = RedisKeys::fresh();
        let store = RedisStore::connect(&keys.url, &keys.prefix).await?;
        Ok(Self {
            store: Arc::new(store),
            _dir: None,
            _keys: Some(keys),
        })
    }
}

/// Runs each listed behaviour once per backend: `on_embedded::name` and `on_redis::name`.
macro_rules! behaviours {
    ($($name:ident),+ $(,)?) => {
        mod on_embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() -> anyhow::Result<()> {
                    let backend = super::Backend::embedded()?;
                    super::$name(std::sync::Arc::clone(&backend.store)).await
                }
            )+
        }

        mod on_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() -> anyhow::Result<()> {
                    let backend = super::Backend::redis().await?;
                    super::$name(std::sync::Arc::clone(&backend.store)).await
                }
            )+
        }

        /// Every behaviour with its name, for the Redis Cluster run.
        fn every_behaviour() -> Vec<(&'static str, Behaviour)> {
            vec![$((stringify!($name), |store: Shared| -> Run { Box::pin($name(store)) })),+]
        }
    };
}

type Run = std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>;
type Behaviour = fn(Shared) -> Run;

/// Every behaviour once more on a Redis Cluster of three nodes started by the test: the
/// scripts' keys share the shop's hash tag, so each script runs in one slot, and the client
/// follows the slot map. One cluster for all of them (starting one takes a few seconds).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_behaviour_holds_on_a_redis_cluster() -> anyhow::Result<()> {
    use anyhow::Context;
    let cluster = support::RedisCluster::start(3).await?;
    for (name, behaviour) in every_behaviour() {
        let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
        let store = RedisStore::connect(&cluster.url(), &prefix).await?;
        behaviour(Arc::new(store))
            .await
            .with_context(|| format!("{name} on the Redis Cluster"))?;
    }
    Ok(())
}

behaviours!(
    meta_values_are_read_back_and_overwritten,
    tokens_are_found_by_their_hash_with_their_owner,
    conversations_round_trip_with_every_field,
    missing_records_read_as_none_and_empty,
    append_message_numbers_each_conversation_from_one_without_gaps,
    append_message_with_a_seen_client_message_id_returns_the_original,
    fifty_concurrent_appends_to_one_conversation_take_seqs_one_to_fifty,
    concurrent_retries_of_one_client_message_id_store_one_message,
    customer_turn_appends_and_returns_the_conversation_with_its_recent_history,
    customer_turn_with_a_seen_client_message_id_returns_the_original_and_its_replies,
    customer_turn_stores_nothing_in_a_closed_or_unknown_conversation,
    read_turn_finds_what_customer_turn_would_and_stores_nothing,
    bot_exchange_stores_the_message_and_the_answer_in_order,
    bot_exchange_with_a_seen_client_message_id_stores_nothing_new,
    bot_exchange_keeps_the_message_but_drops_the_answer_once_people_hold_the_conversation,
    bot_exchange_stores_nothing_in_a_closed_or_unknown_conversation,
    messages_are_paged_after_a_seq_with_a_limit,
    messages_keep_their_author_client_id_and_bot_meta,
    note_repeat_counts_up_and_leaves_the_rest_of_the_conversation,
    note_repeat_on_an_unknown_conversation_is_zero,
    contexts_are_kept_per_conversation,
    routing_records_are_kept_in_the_order_pushed,
    agents_round_trip_and_are_listed,
    patch_agent_changes_only_the_given_fields_and_keeps_the_load,
    patch_agent_can_empty_the_skills,
    patch_agent_on_an_unknown_agent_is_none,
    delete_idle_agent_refuses_an_agent_holding_conversations,
    enqueue_moves_a_bot_conversation_to_the_queue,
    enqueue_leaves_a_conversation_that_is_not_with_the_bot,
    queue_is_served_by_score_then_id,
    claim_gives_a_queued_conversation_to_an_online_agent_with_room,
    claim_is_stale_unless_the_conversation_is_queued,
    claim_is_stale_when_the_agent_cannot_take_the_conversation,
    twenty_agents_racing_for_one_conversation_leave_exactly_one_claim,
    concurrent_claims_never_exceed_an_agents_capacity,
    requeue_takes_a_conversation_back_from_its_agent_into_the_queue,
    requeue_does_nothing_unless_the_agent_still_holds_the_conversation,
    concurrent_requeues_of_one_conversation_take_it_back_once,
    note_agent_reply_stops_the_accept_timeout_once,
    finish_ends_an_assigned_conversation_and_releases_its_agent,
    finish_keeps_the_agents_other_conversations,
    finish_takes_a_queued_conversation_off_the_queue,
    finish_ends_a_conversation_still_with_the_bot,
    finish_does_nothing_to_an_ended_or_unknown_conversation,
    gaps_are_listed_newest_first_up_to_the_limit,
    logs_keep_the_newest_records_up_to_their_cap_each,
    idempotency_keys_are_claimed_once_completed_and_released,
    articles_are_stored_listed_and_deleted,
    write_articles_without_replace_adds_and_updates,
    write_articles_with_replace_deletes_every_other_article,
    conversations_created_lists_a_period_oldest_first,
    webhooks_are_stored_listed_and_deleted,
    deliveries_are_claimed_once_per_lease_and_settled,
    concurrent_claims_take_a_due_delivery_once,
);

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// A time with nanoseconds, so round trips must keep them.
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T21:46:04.131789162Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

fn customer(tags: &[&str]) -> Customer {
    Customer {
        id: "cus_1".into(),
        external_id: None,
        name: None,
        locale: Locale::ZhCn,
        vip: false,
        verified: false,
        tags: tags.iter().map(|t| (*t).into()).collect(),
    }
}

/// A conversation with the bot: no tags, an empty page context, nothing optional.
fn conversation(id: &str) -> Conversation {
    Conversation {
        id: id.into(),
        state: ConversationState::Bot,
        customer: customer(&[]),
        channel: Channel::Widget,
        context: PageContext::default(),
        assignee: None,
        created_at: t0(),
        updated_at: t0(),
        handed_off_at: None,
        rating: None,
        repeats_after_handoff: 0,
        assigned_at: None,
        accepted_at: None,
        first_response_at: None,
        ended_at: None,
    }
}

fn conversation_in(id: &str, state: ConversationState) -> Conversation {
    Conversation {
        state,
        ..conversation(id)
    }
}

/// A conversation with every optional field set.
fn full_conversation(id: &str) -> Conversation {
    Conversation {
        id: id.into(),
        state: ConversationState::Resolved,
        customer: Customer {
            id: "cus_2".into(),
            external_id: Some("shop-user-42".into()),
            name: Some("王小明 \"Ming\" \\ /".into()),
            locale: Locale::ZhTw,
            vip: true,
            verified: true,
            tags: vec!["vip".into(), "returning".into()],
        },
        channel: Channel::Api,
        context: PageContext {
            order_id: Some("20231122-8842".into()),
            page_url: Some("https://shop.example/orders/8842?x=1&y=2".into()),
        },
        assignee: Some(Assignee {
            id: "agt_1".into(),
            name: "Alice".into(),
        }),
        created_at: t0(),
        updated_at: at(600),
        handed_off_at: Some(at(60)),
        rating: Some(Rating {
            rating: RatingValue::Disappointed,
            reasons: vec![RatingReason::Slow, RatingReason::Other],
            comment: Some("too slow\nreally".into()),
            created_at: at(700),
        }),
        repeats_after_handoff: 3,
        assigned_at: Some(at(70)),
        accepted_at: Some(at(80)),
        first_response_at: Some(at(80)),
        ended_at: Some(at(650)),
    }
}

fn agent(id: &str, max_concurrent: u32, presence: router::Presence) -> Agent {
    Agent {
        id: id.into(),
        name: format!("Agent {id}"),
        role: AgentRole::Agent,
        skills: ["zh", "aftersales"].into_iter().map(String::from).collect(),
        max_concurrent,
        presence,
        active: Vec::new(),
        last_assigned_at: None,
        missed_accepts: 0,
        created_at: t0(),
    }
}

fn online(id: &str, max_concurrent: u32) -> Agent {
    agent(id, max_concurrent, router::Presence::Online)
}

fn holding(mut agent: Agent, conversations: &[&str]) -> Agent {
    agent.active = conversations.iter().map(|c| (*c).into()).collect();
    agent
}

fn customer_message(text: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        created_at: t0(),
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

fn bot_message(text: &str) -> NewMessage {
    NewMessage {
        created_at: t0(),
        author: Author {
            role: AuthorRole::Bot,
            id: Some("bot".into()),
            name: Some("小助手".into()),
        },
        text: text.into(),
        client_message_id: None,
        bot: Some(bot_meta()),
    }
}

/// The bot crate's records are built from JSON, so that fields it adds later (with serde
/// defaults) do not break these fixtures.
fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    match serde_json::from_value(value) {
        Ok(record) => record,
        Err(e) => panic!("fixture does not fit the bot's record: {e}"),
    }
}

/// Floats, enums, optional fields and lists: what the bot stores on its messages.
fn bot_meta() -> bot::BotMeta {
    from_json(serde_json::json!({
        "decision": "clarify",
        "article_id": "kb-zh-shipping-1",
        "intent": "shipping",
        "confidence": 0.731_234_5,
        "reasons": ["repeated_question"],
        "options": ["kb-zh-shipping-1", "kb-zh-shipping-2"],
        "sentiment": "negative",
        "negativity": 0.812_345_6,
    }))
}

fn handoff_context(priority: i64) -> bot::HandoffContext {
    from_json(serde_json::json!({
        "summary": "wants a refund; asked twice",
        "questions": ["退款多久到账？", "退款呢"],
        "intents": ["return_refund"],
        "entities": {
            "order_ids": ["20231122-8842"],
            "phones": [],
            "amounts": ["¥199.00"],
            "emails": [],
            "tracking_numbers": [],
        },
        "bot_attempts": [
            {"question": "退款多久到账？", "article_id": null, "answer": "3-5 个工作日"},
        ],
        "handoff_reasons": ["repeated_question"],
        "required_skills": ["zh", "aftersales"],
        "priority": priority,
        "sentiment_trend": [0.1, 0.93, 0.999_999],
        "sentiment": "negative",
        "vip": true,
        "completeness": 0.75,
        "language": "zh",
    }))
}

/// A queue entry whose fixed score part is `boost` seconds (through its SLA: a tighter SLA
/// counts as having waited longer), at most the reference SLA.
fn entry(id: &str, boost: i64, enqueued_at: DateTime<Utc>) -> QueueEntry {
    let mut entry = QueueEntry::new(id, ["zh".to_string()].into_iter().collect(), enqueued_at);
    entry.sla_secs = u32::try_from(i64::from(router::REFERENCE_SLA_SECS) - boost).unwrap_or(0);
    entry
}

fn article(id: &str, answer: &str) -> kb::Article {
    kb::Article {
        id: id.into(),
        question: format!("question {id}?"),
        similar: Vec::new(),
        answer: answer.into(),
        category: "shipping".into(),
        locale: "zh-CN".into(),
        tags: Vec::new(),
        enabled: true,
    }
}

fn seqs(messages: &[Message]) -> Vec<u64> {
    messages.iter().map(|m| m.seq).collect()
}

fn ids(articles: &[kb::Article]) -> Vec<&str> {
    articles.iter().map(|a| a.id.as_str()).collect()
}

/// Puts a conversation with the bot and moves it to the queue.
async fn queued(store: &Shared, id: &str, priority: i64) -> anyhow::Result<Conversation> {
    store.put_conversation(&conversation(id)).await?;
    store
        .enqueue(&entry(id, priority, at(10)), at(10))
        .await?
        .ok_or_else(|| anyhow::anyhow!("{id} was not enqueued"))
}

/// Queues `id` and claims it for a new online agent with two seats, at `at(60)`.
async fn assigned_to_new_agent(
    store: &Shared,
    id: &str,
    agent_id: &str,
) -> anyhow::Result<(Conversation, Agent)> {
    queued(store, id, 0).await?;
    store.put_agent(&online(agent_id, 2)).await?;
    claimed(store.claim(id, agent_id, at(60)).await?)
}

fn claimed(claim: Claim) -> anyhow::Result<(Conversation, Agent)> {
    match claim {
        Claim::Claimed {
            conversation,
            agent,
        } => Ok((*conversation, *agent)),
        Claim::Stale => anyhow::bail!("the claim was stale"),
    }
}

// ---------------------------------------------------------------------------------------------
// Meta, tokens, conversations
// ---------------------------------------------------------------------------------------------

async fn meta_values_are_read_back_and_overwritten(store: Shared) -> anyhow::Result<()> {
    assert_eq!(store.get_meta("schema").await?, None);
    store.put_meta("schema", "1").await?;
    store.put_meta("seeded", "").await?;
    assert_eq!(store.get_meta("schema").await?.as_deref(), Some("1"));
    assert_eq!(store.get_meta("seeded").await?.as_deref(), Some(""));
    store.put_meta("schema", "2 — 二").await?;
    assert_eq!(store.get_meta("schema").await?.as_deref(), Some("2 — 二"));
    Ok(())
}

async fn tokens_are_found_by_their_hash_with_their_owner(store: Shared) -> anyhow::Result<()> {
    let owners = [
        ("h-admin", TokenOwner::Admin),
        (
            "h-agent",
            TokenOwner::Agent {
                agent_id: "agt_1".into(),
            },
        ),
        (
            "h-customer",
            TokenOwner::Customer {
                conversation_id: "c1".into(),
            },
        ),
    ];
    for (hash, owner) in &owners {
        store.put_token(hash, owner).await?;
    }
    for (hash, owner) in &owners {
        assert_eq!(store.get_token(hash).await?.as_ref(), Some(owner));
    }
    assert_eq!(store.get_token("h-unknown").await?, None);
    Ok(())
}

async fn conversations_round_trip_with_every_field(store: Shared) -> anyhow::Result<()> {
    let plain = conversation("c-plain");
    let full = full_conversation("c-full");
    store.put_conversation(&plain).await?;
    store.put_conversation(&full).await?;
    assert_eq!(
        store.get_conversation("c-plain").await?,
        Some(plain.clone())
    );
    assert_eq!(store.get_conversation("c-full").await?, Some(full));

    let replaced = Conversation {
        state: ConversationState::Closed,
        updated_at: at(5),
        ended_at: Some(at(5)),
        ..plain
    };
    store.put_conversation(&replaced).await?;
    assert_eq!(store.get_conversation("c-plain").await?, Some(replaced));
    Ok(())
}

async fn missing_records_read_as_none_and_empty(store: Shared) -> anyhow::Result<()> {
    assert_eq!(store.get_conversation("nope").await?, None);
    assert_eq!(store.get_context("nope").await?, None);
    assert_eq!(store.get_agent("nope").await?, None);
    assert_eq!(store.get_article("nope").await?, None);
    assert!(store.messages("nope", 0, 10).await?.is_empty());
    assert!(store.routing("nope").await?.is_empty());
    assert!(store.list_agents().await?.is_empty());
    assert!(store.list_articles().await?.is_empty());
    assert!(store.queue().await?.is_empty());
    assert!(store.gaps(10).await?.is_empty());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

async fn append_message_numbers_each_conversation_from_one_without_gaps(
    store: Shared,
) -> anyhow::Result<()> {
    let mut got = Vec::new();
    for (conversation, text) in [
        ("c1", "a"),
        ("c2", "b"),
        ("c1", "c"),
        ("c1", "d"),
        ("c2", "e"),
    ] {
        let appended = store
            .append_message(conversation, customer_message(text, None))
            .await?;
        assert!(appended.created);
        assert_eq!(appended.message.conversation_id, conversation);
        assert_eq!(appended.message.text, text);
        got.push((conversation, appended.message.seq));
    }
    assert_eq!(got, [("c1", 1), ("c2", 1), ("c1", 2), ("c1", 3), ("c2", 2)]);
    assert_eq!(seqs(&store.messages("c1", 0, 10).await?), [1, 2, 3]);
    assert_eq!(seqs(&store.messages("c2", 0, 10).await?), [1, 2]);
    let ids: HashSet<String> = store
        .messages("c1", 0, 10)
        .await?
        .into_iter()
        .chain(store.messages("c2", 0, 10).await?)
        .map(|m| m.id)
        .collect();
    assert_eq!(ids.len(), 5, "every message has its own id");
    Ok(())
}

async fn customer_turn_appends_and_returns_the_conversation_with_its_recent_history(
    store: Shared,
) -> anyhow::Result<()> {
    let stored = conversation("c1");
    store.put_conversation(&stored).await?;
    let CustomerTurn::Appended {
        conversation: seen,
        message,
        earlier,
    } = store
        .customer_turn("c1", customer_message("first", Some("cm-1")), 3)
        .await?
    else {
        anyhow::bail!("the first message was not appended");
    };
    assert_eq!(*seen, stored);
    assert_eq!(message.seq, 1);
    assert!(earlier.is_empty());
    for i in 2..=5 {
        store
            .append_message("c1", bot_message(&format!("reply {i}")))
            .await?;
    }
    let CustomerTurn::Appended {
        message, earlier, ..
    } = store
        .customer_turn("c1", customer_message("sixth", Some("cm-6")), 3)
        .await?
    else {
        anyhow::bail!("the sixth message was not appended");
    };
    assert_eq!(message.seq, 6);
    assert_eq!(message.text, "sixth");
    assert_eq!(seqs(&earlier), [3, 4, 5], "the last three, oldest first");
    assert_eq!(store.messages("c1", 0, 10).await?.last(), Some(&message));
    Ok(())
}

async fn customer_turn_with_a_seen_client_message_id_returns_the_original_and_its_replies(
    store: Shared,
) -> anyhow::Result<()> {
    store.put_conversation(&conversation("c1")).await?;
    store
        .customer_turn("c1", customer_message("hello", Some("cm-1")), 10)
        .await?;
    let reply = store.append_message("c1", bot_message("hi")).await?.message;
    let retry = store
        .customer_turn("c1", customer_message("hello, edited", Some("cm-1")), 10)
        .await?;
    let CustomerTurn::Repeat {
        original,
        following,
        ..
    } = retry
    else {
        anyhow::bail!("a retry was not recognised: {retry:?}");
    };
    assert_eq!((original.seq, original.text.as_str()), (1, "hello"));
    assert_eq!(following, [reply]);
    assert_eq!(store.messages("c1", 0, 10).await?.len(), 2, "nothing new");
    Ok(())
}

async fn customer_turn_stores_nothing_in_a_closed_or_unknown_conversation(
    store: Shared,
) -> anyhow::Result<()> {
    store.put_conversation(&conversation("c1")).await?;
    store
        .customer_turn("c1", customer_message("before", Some("cm-1")), 10)
        .await?;
    store
        .put_conversation(&conversation_in("c1", ConversationState::Closed))
        .await?;
    let closed = store
        .customer_turn("c1", customer_message("after", Some("cm-2")), 10)
        .await?;
    assert!(matches!(closed, CustomerTurn::Closed(c) if c.state == ConversationState::Closed));
    let retry = store
        .customer_turn("c1", customer_message("before", Some("cm-1")), 10)
        .await?;
    assert!(
        matches!(&retry, CustomerTurn::Repeat { original, .. } if original.seq == 1),
        "a retry of a message stored before the close is still answered: {retry:?}"
    );
    assert_eq!(seqs(&store.messages("c1", 0, 10).await?), [1]);
    let unknown = store
        .customer_turn("nope", customer_message("hello", Some("cm-1")), 10)
        .await?;
    assert_eq!(unknown, CustomerTurn::Missing);
    assert!(store.messages("nope", 0, 10).await?.is_empty());
    Ok(())
}

/// [`Store::read_turn_blocking`] on the blocking pool; it answers exactly when the store says
/// it reads turns ([`Store::reads_turns_blocking`]).
async fn read_turn(
    store: &Shared,
    conversation_id: &str,
    client_message_id: Option<&str>,
    history: usize,
) -> anyhow::Result<Option<TurnRead>> {
    let (for_read, cid) = (Shared::clone(store), conversation_id.to_owned());
    let client = client_message_id.map(str::to_owned);
    let read = tokio::task::spawn_blocking(move || {
        for_read.read_turn_blocking(&cid, client.as_deref(), history)
    })
    .await?
    .transpose()?;
    assert_eq!(read.is_some(), store.reads_turns_blocking());
    Ok(read)
}

async fn read_turn_finds_what_customer_turn_would_and_stores_nothing(
    store: Shared,
) -> anyhow::Result<()> {
    let stored = conversation("c1");
    store.put_conversation(&stored).await?;
    let Some(first) = read_turn(&store, "c1", Some("cm-1"), 3).await? else {
        // A store without a read half (Redis) takes the turn with `customer_turn`.
        return Ok(());
    };
    assert_eq!(
        first,
        TurnRead::Open {
            conversation: Box::new(stored.clone()),
            earlier: Vec::new()
        }
    );
    store
        .append_message("c1", customer_message("first", Some("cm-1")))
        .await?;
    for i in 2..=5 {
        store
            .append_message("c1", bot_message(&format!("reply {i}")))
            .await?;
    }
    let Some(TurnRead::Open { earlier, .. }) = read_turn(&store, "c1", Some("cm-6"), 3).await?
    else {
        anyhow::bail!("an open conversation was not read as open");
    };
    assert_eq!(seqs(&earlier), [3, 4, 5], "the last three, oldest first");
    let Some(TurnRead::Repeat {
        original,
        following,
        ..
    }) = read_turn(&store, "c1", Some("cm-1"), 2).await?
    else {
        anyhow::bail!("a retry was not recognised");
    };
    assert_eq!((original.seq, original.text.as_str()), (1, "first"));
    assert_eq!(
        seqs(&following),
        [2, 3],
        "what followed, at most the history"
    );
    store
        .put_conversation(&conversation_in("c1", ConversationState::Closed))
        .await?;
    assert!(matches!(
        read_turn(&store, "c1", Some("cm-7"), 3).await?,
        Some(TurnRead::Closed(c)) if c.state == ConversationState::Closed
    ));
    assert!(
        matches!(
            read_turn(&store, "c1", Some("cm-1"), 3).await?,
            Some(TurnRead::Repeat { .. })
        ),
        "a retry of a message stored before the close is still answered"
    );
    assert_eq!(
        read_turn(&store, "nope", Some("cm-1"), 3).await?,
        Some(TurnRead::Missing)
    );
    assert_eq!(
        store.messages("c1", 0, 10).await?.len(),
        5,
        "nothing stored"
    );
    Ok(())
}

async fn bot_exchange_stores_the_message_and_the_answer_in_order(
    store: Shared,
) -> anyhow::Result<()> {
    let stored = conversation("c1");
    store.put_conversation(&stored).await?;
    let welcome = store
        .append_message("c1", bot_message("welcome"))
        .await?
        .message;
    let exchange = store
        .bot_exchange(
            "c1",
            customer_message("where is my parcel", Some("cm-1")),
            bot_message("on its way"),
            10,
        )
        .await?;
    let CustomerTurn::Appended {
        conversation: seen,
        message,
        ..
    } = exchange.turn
    else {
        anyhow::bail!("the message was not appended: {exchange:?}");
    };
    assert_eq!(*seen, stored);
    assert_eq!(
        (message.seq, message.text.as_str()),
        (2, "where is my parcel")
    );
    let Some(reply) = exchange.reply else {
        anyhow::bail!("the answer was not stored");
    };
    assert_eq!((reply.seq, reply.text.as_str()), (3, "on its way"));
    assert_eq!(reply.author.role, AuthorRole::Bot);
    assert_eq!(
        store.messages("c1", 0, 10).await?,
        [welcome, message, reply]
    );
    Ok(())
}

async fn bot_exchange_with_a_seen_client_message_id_stores_nothing_new(
    store: Shared,
) -> anyhow::Result<()> {
    store.put_conversation(&conversation("c1")).await?;
    let first = store
        .bot_exchange(
            "c1",
            customer_message("hello", Some("cm-1")),
            bot_message("hi"),
            10,
        )
        .await?;
    let retry = store
        .bot_exchange(
            "c1",
            customer_message("hello, edited", Some("cm-1")),
            bot_message("hi again"),
            10,
        )
        .await?;
    let CustomerTurn::Repeat {
        original,
        following,
        ..
    } = retry.turn
    else {
        anyhow::bail!("a retry was not recognised: {retry:?}");
    };
    assert_eq!((original.seq, original.text.as_str()), (1, "hello"));
    assert_eq!(Some(following), first.reply.map(|r| vec![r]));
    assert_eq!(retry.reply, None);
    assert_eq!(
        seqs(&store.messages("c1", 0, 10).await?),
        [1, 2],
        "nothing new"
    );
    Ok(())
}

async fn bot_exchange_keeps_the_message_but_drops_the_answer_once_people_hold_the_conversation(
    store: Shared,
) -> anyhow::Result<()> {
    store
        .put_conversation(&conversation_in("c1", ConversationState::Queued))
        .await?;
    let exchange = store
        .bot_exchange(
            "c1",
            customer_message("still there?", Some("cm-1")),
            bot_message("a late answer"),
            10,
        )
        .await?;
    assert!(
        matches!(&exchange.turn, CustomerTurn::Appended { message, .. } if message.seq == 1),
        "the customer's message is kept: {exchange:?}"
    );
    assert_eq!(exchange.reply, None);
    let stored = store.messages("c1", 0, 10).await?;
    assert_eq!(
        stored.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["still there?"]
    );
    Ok(())
}

async fn bot_exchange_stores_nothing_in_a_closed_or_unknown_conversation(
    store: Shared,
) -> anyhow::Result<()> {
    store
        .put_conversation(&conversation_in("c1", ConversationState::Closed))
        .await?;
    let closed = store
        .bot_exchange(
            "c1",
            customer_message("after", Some("cm-1")),
            bot_message("never"),
            10,
        )
        .await?;
    assert!(matches!(closed.turn, CustomerTurn::Closed(_)), "{closed:?}");
    assert_eq!(closed.reply, None);
    let unknown = store
        .bot_exchange(
            "nope",
            customer_message("hello", Some("cm-1")),
            bot_message("never"),
            10,
        )
        .await?;
    assert_eq!(unknown.turn, CustomerTurn::Missing);
    assert!(store.messages("c1", 0, 10).await?.is_empty());
    assert!(store.messages("nope", 0, 10).await?.is_empty());
    Ok(())
}

async fn append_message_with_a_seen_client_message_id_returns_the_original(
    store: Shared,
) -> anyhow::Result<()> {
    let first = store
        .append_message("c1", customer_message("hello", Some("cm-1")))
        .await?;
    let second = store
        .append_message("c1", customer_message("again", Some("cm-2")))
        .await?;
    let retry = store
        .append_message("c1", customer_message("hello, edited", Some("cm-1")))
        .await?;
    assert!(first.created && second.created);
    assert_eq!(
        retry,
        Appended {
            message: first.message.clone(),
            created: false
        }
    );
    let next = store
        .append_message("c1", customer_message("third", None))
        .await?;
    assert_eq!(next.message.seq, 3, "a retry takes no seq");

    let elsewhere = store
        .append_message("c2", customer_message("hello", Some("cm-1")))
        .await?;
    assert!(elsewhere.created, "client ids are per conversation");
    assert_eq!(elsewhere.message.seq, 1);

    let stored = store.messages("c1", 0, 10).await?;
    assert_eq!(seqs(&stored), [1, 2, 3]);
    assert_eq!(stored[0], first.message);
    Ok(())
}

async fn fifty_concurrent_appends_to_one_conversation_take_seqs_one_to_fifty(
    store: Shared,
) -> anyhow::Result<()> {
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let client_id = (i % 2 == 0).then(|| format!("cm-{i}"));
                store
                    .append_message(
                        "c1",
                        customer_message(&format!("m{i}"), client_id.as_deref()),
                    )
                    .await
            })
        })
        .collect();
    let mut got = Vec::new();
    for task in tasks {
        let appended = task.await??;
        assert!(appended.created);
        got.push(appended.message.seq);
    }
    got.sort_unstable();
    assert_eq!(got, (1..=50).collect::<Vec<u64>>());

    let stored = store.messages("c1", 0, 100).await?;
    assert_eq!(seqs(&stored), (1..=50).collect::<Vec<u64>>());
    let texts: HashSet<&str> = stored.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts.len(), 50);
    Ok(())
}

async fn concurrent_retries_of_one_client_message_id_store_one_message(
    store: Shared,
) -> anyhow::Result<()> {
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .append_message("c1", customer_message("once", Some("cm-retry")))
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await??);
    }
    assert_eq!(results.iter().filter(|a| a.created).count(), 1);
    let original = &results[0].message;
    assert!(results.iter().all(|a| &a.message == original));
    assert_eq!(store.messages("c1", 0, 100).await?, vec![original.clone()]);
    assert_eq!(original.seq, 1);
    Ok(())
}

async fn messages_are_paged_after_a_seq_with_a_limit(store: Shared) -> anyhow::Result<()> {
    let mut appended = Vec::new();
    for i in 1..=5 {
        appended.push(
            store
                .append_message("c1", customer_message(&format!("m{i}"), None))
                .await?
                .message,
        );
    }
    assert_eq!(store.messages("c1", 0, 2).await?, appended[0..2]);
    assert_eq!(store.messages("c1", 2, 2).await?, appended[2..4]);
    assert_eq!(store.messages("c1", 4, 10).await?, appended[4..]);
    assert_eq!(store.messages("c1", 0, usize::MAX).await?, appended);
    assert!(store.messages("c1", 5, 10).await?.is_empty());
    assert!(store.messages("c1", 0, 0).await?.is_empty());
    assert!(store.messages("c1", u64::MAX, 10).await?.is_empty());
    Ok(())
}

async fn messages_keep_their_author_client_id_and_bot_meta(store: Shared) -> anyhow::Result<()> {
    let from_bot = store
        .append_message("c1", bot_message("您是想问哪一项？回复 1 或 2。"))
        .await?;
    let from_agent = store
        .append_message(
            "c1",
            NewMessage {
                created_at: t0(),
                author: Author {
                    role: AuthorRole::Agent,
                    id: Some("agt_1".into()),
                    name: Some("Alice".into()),
                },
                text: "quotes \" backslash \\ newline \n tab \t emoji 🚚 {\"seq\":9}".into(),
                client_message_id: Some("cm-\"odd\"/id".into()),
                bot: None,
            },
        )
        .await?;
    let stored = store.messages("c1", 0, 10).await?;
    assert_eq!(
        stored,
        vec![from_bot.message.clone(), from_agent.message.clone()]
    );
    assert_eq!(from_bot.message.bot, Some(bot_meta()));
    assert_eq!(
        from_agent.message.client_message_id.as_deref(),
        Some("cm-\"odd\"/id")
    );
    assert_eq!(from_agent.message.seq, 2);
    Ok(())
}

async fn note_repeat_counts_up_and_leaves_the_rest_of_the_conversation(
    store: Shared,
) -> anyhow::Result<()> {
    // Empty tags and an empty page context: the rewrite must keep `[]` and `{}` apart.
    let plain = conversation_in("c1", ConversationState::Assigned);
    let mut full = full_conversation("c2");
    if let Some(rating) = full.rating.as_mut() {
        rating.reasons.clear();
    }
    store.put_conversation(&plain).await?;
    store.put_conversation(&full).await?;

    assert_eq!(store.note_repeat("c1").await?, 1);
    assert_eq!(store.note_repeat("c1").await?, 2);
    assert_eq!(store.note_repeat("c2").await?, 4);
    assert_eq!(
        store.get_conversation("c1").await?,
        Some(Conversation {
            repeats_after_handoff: 2,
            ..plain
        })
    );
    assert_eq!(
        store.get_conversation("c2").await?,
        Some(Conversation {
            repeats_after_handoff: 4,
            ..full
        })
    );
    Ok(())
}

async fn note_repeat_on_an_unknown_conversation_is_zero(store: Shared) -> anyhow::Result<()> {
    assert_eq!(store.note_repeat("nope").await?, 0);
    assert_eq!(store.get_conversation("nope").await?, None);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Contexts, routing records
// ---------------------------------------------------------------------------------------------

async fn contexts_are_kept_per_conversation(store: Shared) -> anyhow::Result<()> {
    let context = StoredContext {
        bot: handoff_context(9_007_199_254_740_993),
        handed_off_at: at(30),
        notes: vec![HandoverNote {
            at: at(40),
            from_agent_id: "agt_1".into(),
            from_agent_name: "小王".into(),
            kind: "transfer".into(),
            target: "skill:aftersales".into(),
            note: "客户要退货".into(),
        }],
    };
    store.put_context("c1", &context).await?;
    assert_eq!(store.get_context("c1").await?, Some(context.clone()));
    assert_eq!(store.get_context("c2").await?, None);

    let mut replaced = context;
    replaced.bot.priority = -2;
    store.put_context("c1", &replaced).await?;
    assert_eq!(store.get_context("c1").await?, Some(replaced));
    Ok(())
}

async fn routing_records_are_kept_in_the_order_pushed(store: Shared) -> anyhow::Result<()> {
    let candidate = |id: &str, load: u32, rejected: Option<router::Rejection>| router::Candidate {
        agent_id: id.into(),
        load,
        max_concurrent: 3,
        load_ratio: f64::from(load) / 3.0,
        idle_secs: (load > 0).then_some(12.5),
        sticky: id == "agt_0",
        rejected,
    };
    let records: Vec<RoutingRecord> = (0..3)
        .map(|i| RoutingRecord {
            at: at(i),
            event: if i == 1 {
                RoutingEvent::Transferred
            } else {
                RoutingEvent::Assigned
            },
            agent_id: format!("agt_{i}"),
            rule: (i != 1).then_some(router::Rule::LowestLoad),
            score: Some(router::Waiting::new("c1", Default::default(), at(0)).score(at(i))),
            relaxed: vec!["vip".into()],
            target: (i == 1).then(|| "skill:aftersales".into()),
            note: (i == 1).then(|| "转给售后 \"quoted\"".into()),
            candidates: vec![
                candidate("agt_0", 1, None),
                candidate("agt_1", 0, Some(router::Rejection::NotOnline)),
                candidate(
                    "agt_2",
                    2,
                    Some(router::Rejection::MissingSkills(vec!["en".into()])),
                ),
                candidate("agt_3", 3, Some(router::Rejection::AtCapacity)),
            ],
        })
        .collect();
    for record in &records {
        store.push_routing("c1", record).await?;
    }
    store.push_routing("c2", &records[0]).await?;
    assert_eq!(store.routing("c1").await?, records);
    assert_eq!(store.routing("c2").await?, records[..1]);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------------------------

async fn agents_round_trip_and_are_listed(store: Shared) -> anyhow::Result<()> {
    let bare = Agent {
        skills: BTreeSet::new(),
        ..agent("agt_b", 0, router::Presence::Offline)
    };
    let busy = Agent {
        role: AgentRole::Supervisor,
        last_assigned_at: Some(at(3)),
        ..holding(online("agt_a", 4_000_000_000), &["c1", "c2"])
    };
    store.put_agent(&bare).await?;
    store.put_agent(&busy).await?;
    assert_eq!(store.get_agent("agt_b").await?, Some(bare.clone()));
    assert_eq!(store.get_agent("agt_a").await?, Some(busy.clone()));

    let mut listed = store.list_agents().await?;
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, vec![busy.clone(), bare.clone()]);

    let renamed = Agent {
        name: "Bob".into(),
        ..bare
    };
    store.put_agent(&renamed).await?;
    assert_eq!(store.get_agent("agt_b").await?, Some(renamed));
    assert_eq!(store.list_agents().await?.len(), 2);
    Ok(())
}

async fn patch_agent_changes_only_the_given_fields_and_keeps_the_load(
    store: Shared,
) -> anyhow::Result<()> {
    let original = Agent {
        last_assigned_at: Some(at(7)),
        ..holding(online("agt_1", 3), &["c1", "c2"])
    };
    store.put_agent(&original).await?;

    let away = AgentPatch {
        presence: Some(router::Presence::Away),
        ..AgentPatch::default()
    };
    let mut expected = original.clone();
    away.clone().apply(&mut expected);
    assert_eq!(
        store.patch_agent("agt_1", away).await?,
        Some(expected.clone())
    );
    assert_eq!(store.get_agent("agt_1").await?, Some(expected.clone()));

    let everything = AgentPatch {
        name: Some("Alice «A»".into()),
        skills: Some(["en", "vip"].into_iter().map(String::from).collect()),
        max_concurrent: Some(4_294_967_295),
        role: Some(AgentRole::Supervisor),
        presence: Some(router::Presence::Online),
    };
    everything.clone().apply(&mut expected);
    assert_eq!(
        store.patch_agent("agt_1", everything).await?,
        Some(expected.clone())
    );
    assert_eq!(expected.active, ["c1", "c2"]);

    assert_eq!(
        store.patch_agent("agt_1", AgentPatch::default()).await?,
        Some(expected.clone())
    );
    assert_eq!(store.get_agent("agt_1").await?, Some(expected));
    Ok(())
}

async fn patch_agent_can_empty_the_skills(store: Shared) -> anyhow::Result<()> {
    let original = online("agt_1", 2);
    store.put_agent(&original).await?;
    let patch = AgentPatch {
        skills: Some(BTreeSet::new()),
        ..AgentPatch::default()
    };
    let expected = Agent {
        skills: BTreeSet::new(),
        ..original
    };
    assert_eq!(
        store.patch_agent("agt_1", patch).await?,
        Some(expected.clone())
    );
    assert_eq!(store.get_agent("agt_1").await?, Some(expected));
    Ok(())
}

async fn patch_agent_on_an_unknown_agent_is_none(store: Shared) -> anyhow::Result<()> {
    let patch = AgentPatch {
        name: Some("ghost".into()),
        ..AgentPatch::default()
    };
    assert_eq!(store.patch_agent("nope", patch).await?, None);
    assert_eq!(store.get_agent("nope").await?, None);
    Ok(())
}

async fn delete_idle_agent_refuses_an_agent_holding_conversations(
    store: Shared,
) -> anyhow::Result<()> {
    let busy = holding(online("agt_busy", 3), &["c1", "c2"]);
    store.put_agent(&busy).await?;
    store.put_agent(&online("agt_idle", 3)).await?;

    assert_eq!(store.delete_idle_agent("agt_busy").await?, Err(2));
    assert_eq!(store.get_agent("agt_busy").await?, Some(busy));
    assert_eq!(store.delete_idle_agent("agt_idle").await?, Ok(true));
    assert_eq!(store.get_agent("agt_idle").await?, None);
    assert_eq!(store.delete_idle_agent("agt_idle").await?, Ok(false));
    assert_eq!(store.list_agents().await?.len(), 1);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Queue
// ---------------------------------------------------------------------------------------------

async fn enqueue_moves_a_bot_conversation_to_the_queue(store: Shared) -> anyhow::Result<()> {
    let original = conversation("c1");
    store.put_conversation(&original).await?;
    let waiting = entry("c1", 5, at(20));

    let updated = store.enqueue(&waiting, at(21)).await?;
    let expected = Conversation {
        state: ConversationState::Queued,
        handed_off_at: Some(at(21)),
        updated_at: at(21),
        ..original
    };
    assert_eq!(updated, Some(expected.clone()));
    assert_eq!(store.get_conversation("c1").await?, Some(expected));
    assert_eq!(store.queue().await?, vec![waiting]);
    Ok(())
}

async fn enqueue_leaves_a_conversation_that_is_not_with_the_bot(
    store: Shared,
) -> anyhow::Result<()> {
    let first = queued(&store, "c-queued", 0).await?;
    let queue_before = store.queue().await?;
    assert_eq!(
        store.enqueue(&entry("c-queued", 9, at(50)), at(50)).await?,
        None,
        "enqueueing twice does nothing"
    );
    assert_eq!(store.get_conversation("c-queued").await?, Some(first));

    for (id, state) in [
        ("c-assigned", ConversationState::Assigned),
        ("c-resolved", ConversationState::Resolved),
        ("c-follow-up", ConversationState::FollowUp),
        ("c-closed", ConversationState::Closed),
    ] {
        let original = conversation_in(id, state);
        store.put_conversation(&original).await?;
        assert_eq!(store.enqueue(&entry(id, 0, at(50)), at(50)).await?, None);
        assert_eq!(store.get_conversation(id).await?, Some(original));
    }
    assert_eq!(
        store
            .enqueue(&entry("c-unknown", 0, at(50)), at(50))
            .await?,
        None
    );
    assert_eq!(store.get_conversation("c-unknown").await?, None);
    assert_eq!(store.queue().await?, queue_before);
    Ok(())
}

async fn queue_is_served_by_score_then_id(store: Shared) -> anyhow::Result<()> {
    let entries = vec![
        entry("c-late", 0, at(30)),
        entry("c-early", 0, at(10)),
        entry("c-vip", 60, at(40)),
        entry("c-tie-b", 0, at(20)),
        entry("c-tie-a", 0, at(20)),
        entry("c-low", -50, at(0)),
        entry("c-top", 180, at(99)),
        entry("c-bottom", -5_000, at(-99)),
    ];
    for waiting in &entries {
        store
            .put_conversation(&conversation(&waiting.conversation_id))
            .await?;
        assert!(store.enqueue(waiting, at(100)).await?.is_some());
    }
    let queue = store.queue().await?;
    let listed: HashSet<String> = queue.iter().map(|w| format!("{w:?}")).collect();
    let expected: HashSet<String> = entries.iter().map(|w| format!("{w:?}")).collect();
    assert_eq!(listed, expected, "every entry is listed as enqueued");
    let order: Vec<&str> = router::queue_order(&queue)
        .into_iter()
        .map(|w| w.conversation_id.as_str())
        .collect();
    assert_eq!(
        order,
        ["c-top", "c-vip", "c-early", "c-tie-a", "c-tie-b", "c-late", "c-low", "c-bottom"]
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Claim
// ---------------------------------------------------------------------------------------------

async fn claim_gives_a_queued_conversation_to_an_online_agent_with_room(
    store: Shared,
) -> anyhow::Result<()> {
    let waiting = queued(&store, "c1", 0).await?;
    queued(&store, "c-other", 0).await?;
    let before = holding(online("agt_1", 2), &["c-old"]);
    store.put_agent(&before).await?;

    let (conversation, agent) = claimed(store.claim("c1", "agt_1", at(60)).await?)?;
    assert_eq!(
        conversation,
        Conversation {
            state: ConversationState::Assigned,
            assignee: Some(Assignee {
                id: "agt_1".into(),
                name: "Agent agt_1".into(),
            }),
            updated_at: at(60),
            assigned_at: Some(at(60)),
            ..waiting
        }
    );
    assert_eq!(
        agent,
        Agent {
            last_assigned_at: Some(at(60)),
            ..holding(before, &["c-old", "c1"])
        }
    );
    assert_eq!(store.get_conversation("c1").await?, Some(conversation));
    assert_eq!(store.get_agent("agt_1").await?, Some(agent));
    let left: Vec<String> = store
        .queue()
        .await?
        .into_iter()
        .map(|w| w.conversation_id)
        .collect();
    assert_eq!(left, ["c-other"]);
    Ok(())
}

async fn requeue_takes_a_conversation_back_from_its_agent_into_the_queue(
    store: Shared,
) -> anyhow::Result<()> {
    let (assigned, _) = assigned_to_new_agent(&store, "c1", "agt_1").await?;
    let mut back = entry("c1", 0, at(10));
    back.returned = true;
    back.excluded_agents = vec!["agt_1".into()];
    back.excluded_until = Some(at(400));

    let (conversation, agent) = store
        .requeue(&back, "agt_1", true, at(125))
        .await?
        .ok_or_else(|| anyhow::anyhow!("not requeued"))?;
    assert_eq!(
        conversation,
        Conversation {
            state: ConversationState::Queued,
            assignee: None,
            assigned_at: None,
            accepted_at: None,
            updated_at: at(125),
            ..assigned
        }
    );
    assert_eq!(agent.active, Vec::<String>::new());
    assert_eq!(agent.missed_accepts, 1);
    assert_eq!(store.get_agent("agt_1").await?, Some(agent));
    assert_eq!(store.get_conversation("c1").await?, Some(conversation));
    assert_eq!(store.queue().await?, vec![back]);
    Ok(())
}

async fn requeue_does_nothing_unless_the_agent_still_holds_the_conversation(
    store: Shared,
) -> anyhow::Result<()> {
    queued(&store, "c1", 0).await?;
    store.put_agent(&online("agt_1", 2)).await?;
    store.put_agent(&online("agt_2", 2)).await?;
    let back = entry("c1", 0, at(10));
    // Queued, not held: nothing to take back.
    assert_eq!(store.requeue(&back, "agt_1", false, at(20)).await?, None);
    claimed(store.claim("c1", "agt_1", at(30)).await?)?;
    let before = (
        store.get_conversation("c1").await?,
        store.get_agent("agt_2").await?,
    );
    assert_eq!(store.requeue(&back, "agt_2", true, at(40)).await?, None);
    assert_eq!(
        store.requeue(&back, "agt_unknown", true, at(40)).await?,
        None
    );
    assert_eq!(
        (
            store.get_conversation("c1").await?,
            store.get_agent("agt_2").await?
        ),
        before
    );
    assert!(store.queue().await?.is_empty());
    store
        .finish("c1", ConversationState::Resolved, at(50))
        .await?;
    assert_eq!(store.requeue(&back, "agt_1", false, at(60)).await?, None);
    assert!(store.queue().await?.is_empty());
    Ok(())
}

async fn concurrent_requeues_of_one_conversation_take_it_back_once(
    store: Shared,
) -> anyhow::Result<()> {
    assigned_to_new_agent(&store, "c1", "agt_1").await?;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .requeue(&entry("c1", 0, at(10)), "agt_1", true, at(70))
                    .await
            })
        })
        .collect();
    let mut taken = 0;
    for task in tasks {
        if task.await??.is_some() {
            taken += 1;
        }
    }
    assert_eq!(taken, 1);
    let agent = store
        .get_agent("agt_1")
        .await?
        .ok_or_else(|| anyhow::anyhow!("agent gone"))?;
    assert_eq!((agent.missed_accepts, agent.active.len()), (1, 0));
    assert_eq!(store.queue().await?.len(), 1);
    Ok(())
}

async fn note_agent_reply_stops_the_accept_timeout_once(store: Shared) -> anyhow::Result<()> {
    queued(&store, "c1", 0).await?;
    store.put_agent(&online("agt_1", 2)).await?;
    assert_eq!(store.note_agent_reply("c1", "agt_1", at(20)).await?, None);
    claimed(store.claim("c1", "agt_1", at(30)).await?)?;
    assert_eq!(store.note_agent_reply("c1", "agt_2", at(35)).await?, None);
    let noted = store
        .note_agent_reply("c1", "agt_1", at(40))
        .await?
        .ok_or_else(|| anyhow::anyhow!("not noted"))?;
    assert_eq!(noted.accepted_at, Some(at(40)));
    assert_eq!(noted.first_response_at, Some(at(40)));
    assert_eq!(store.note_agent_reply("c1", "agt_1", at(50)).await?, None);
    assert_eq!(store.get_conversation("c1").await?, Some(noted.clone()));

    // Handed to another agent: their first answer counts again, the first response stays.
    store.put_agent(&online("agt_2", 2)).await?;
    store
        .requeue(&entry("c1", 0, at(10)), "agt_1", false, at(60))
        .await?;
    claimed(store.claim("c1", "agt_2", at(70)).await?)?;
    let again = store
        .note_agent_reply("c1", "agt_2", at(80))
        .await?
        .ok_or_else(|| anyhow::anyhow!("not noted"))?;
    assert_eq!(again.accepted_at, Some(at(80)));
    assert_eq!(again.first_response_at, Some(at(40)));
    Ok(())
}

async fn claim_is_stale_unless_the_conversation_is_queued(store: Shared) -> anyhow::Result<()> {
    let with_bot = conversation("c-bot");
    store.put_conversation(&with_bot).await?;
    let first = online("agt_1", 5);
    let second = online("agt_2", 5);
    store.put_agent(&first).await?;
    store.put_agent(&second).await?;

    assert_eq!(store.claim("c-bot", "agt_1", at(60)).await?, Claim::Stale);
    assert_eq!(
        store.claim("c-unknown", "agt_1", at(60)).await?,
        Claim::Stale
    );
    assert_eq!(store.get_conversation("c-bot").await?, Some(with_bot));
    assert_eq!(store.get_conversation("c-unknown").await?, None);

    queued(&store, "c1", 0).await?;
    let (taken, first_after) = claimed(store.claim("c1", "agt_1", at(60)).await?)?;
    assert_eq!(store.claim("c1", "agt_2", at(61)).await?, Claim::Stale);
    assert_eq!(store.claim("c1", "agt_1", at(61)).await?, Claim::Stale);
    assert_eq!(store.get_conversation("c1").await?, Some(taken));
    assert_eq!(store.get_agent("agt_1").await?, Some(first_after));
    assert_eq!(store.get_agent("agt_2").await?, Some(second));
    Ok(())
}

async fn claim_is_stale_when_the_agent_cannot_take_the_conversation(
    store: Shared,
) -> anyhow::Result<()> {
    let waiting = queued(&store, "c1", 0).await?;
    let unfit = [
        agent("agt_offline", 3, router::Presence::Offline),
        agent("agt_away", 3, router::Presence::Away),
        holding(online("agt_full", 2), &["x", "y"]),
        online("agt_zero", 0),
        // Holds c1 already (a record out of step with the conversation): never twice.
        holding(online("agt_holds_it", 3), &["c1"]),
    ];
    for agent in &unfit {
        store.put_agent(agent).await?;
    }
    for agent in &unfit {
        assert_eq!(
            store.claim("c1", &agent.id, at(60)).await?,
            Claim::Stale,
            "{}",
            agent.id
        );
    }
    assert_eq!(
        store.claim("c1", "agt_unknown", at(60)).await?,
        Claim::Stale
    );

    assert_eq!(store.get_conversation("c1").await?, Some(waiting));
    assert_eq!(store.queue().await?.len(), 1);
    for agent in &unfit {
        assert_eq!(store.get_agent(&agent.id).await?.as_ref(), Some(agent));
    }

    store.put_agent(&online("agt_ok", 1)).await?;
    claimed(store.claim("c1", "agt_ok", at(61)).await?)?;
    Ok(())
}

async fn twenty_agents_racing_for_one_conversation_leave_exactly_one_claim(
    store: Shared,
) -> anyhow::Result<()> {
    queued(&store, "c1", 0).await?;
    for i in 0..20 {
        store.put_agent(&online(&format!("agt_{i:02}"), 3)).await?;
    }
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.claim("c1", &format!("agt_{i:02}"), at(60)).await })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        if let Claim::Claimed { agent, .. } = task.await?? {
            winners.push(agent.id);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let winner = &winners[0];

    let conversation = store
        .get_conversation("c1")
        .await?
        .ok_or_else(|| anyhow::anyhow!("c1 is gone"))?;
    assert_eq!(conversation.state, ConversationState::Assigned);
    assert_eq!(conversation.assignee.map(|a| a.id).as_ref(), Some(winner));
    for agent in store.list_agents().await? {
        let expected: &[&str] = if &agent.id == winner { &["c1"] } else { &[] };
        assert_eq!(agent.active, expected, "{}", agent.id);
    }
    assert!(store.queue().await?.is_empty());
    Ok(())
}

async fn concurrent_claims_never_exceed_an_agents_capacity(store: Shared) -> anyhow::Result<()> {
    for i in 0..10 {
        queued(&store, &format!("c{i}"), 0).await?;
    }
    store.put_agent(&online("agt_1", 3)).await?;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.claim(&format!("c{i}"), "agt_1", at(60)).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        if matches!(task.await??, Claim::Claimed { .. }) {
            won += 1;
        }
    }
    assert_eq!(won, 3);
    let agent = store
        .get_agent("agt_1")
        .await?
        .ok_or_else(|| anyhow::anyhow!("agt_1 is gone"))?;
    assert_eq!(agent.active.len(), 3);
    assert_eq!(store.queue().await?.len(), 7);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Finish
// ---------------------------------------------------------------------------------------------

async fn finish_ends_an_assigned_conversation_and_releases_its_agent(
    store: Shared,
) -> anyhow::Result<()> {
    queued(&store, "c1", 0).await?;
    store.put_agent(&online("agt_1", 1)).await?;
    let (assigned, holder) = claimed(store.claim("c1", "agt_1", at(60)).await?)?;

    let finished = store
        .finish("c1", ConversationState::Resolved, at(120))
        .await?;
    let expected_conversation = Conversation {
        state: ConversationState::Resolved,
        updated_at: at(120),
        ended_at: Some(at(120)),
        ..assigned
    };
    // The agent holds nothing now: an empty `active` list must come back as a list.
    let expected_agent = holding(holder, &[]);
    assert_eq!(
        finished,
        Some((expected_conversation.clone(), Some(expected_agent.clone())))
    );
    assert_eq!(
        store.get_conversation("c1").await?,
        Some(expected_conversation)
    );
    assert_eq!(
        store.get_agent("agt_1").await?,
        Some(expected_agent.clone())
    );
    assert_eq!(store.list_agents().await?, vec![expected_agent]);

    // The released room is usable at once.
    queued(&store, "c2", 0).await?;
    claimed(store.claim("c2", "agt_1", at(130)).await?)?;
    Ok(())
}

async fn finish_keeps_the_agents_other_conversations(store: Shared) -> anyhow::Result<()> {
    queued(&store, "c1", 0).await?;
    queued(&store, "c2", 0).await?;
    store.put_agent(&online("agt_1", 2)).await?;
    claimed(store.claim("c1", "agt_1", at(60)).await?)?;
    claimed(store.claim("c2", "agt_1", at(61)).await?)?;

    let finished = store
        .finish("c1", ConversationState::FollowUp, at(90))
        .await?;
    let released = finished.and_then(|(_, agent)| agent);
    assert_eq!(released.map(|a| a.active), Some(vec!["c2".to_string()]));
    assert_eq!(
        store.get_agent("agt_1").await?.map(|a| a.active),
        Some(vec!["c2".to_string()])
    );
    Ok(())
}

async fn finish_takes_a_queued_conversation_off_the_queue(store: Shared) -> anyhow::Result<()> {
    let waiting = queued(&store, "c1", 0).await?;
    queued(&store, "c2", 0).await?;
    store.put_agent(&online("agt_1", 3)).await?;

    let finished = store
        .finish("c1", ConversationState::Closed, at(90))
        .await?;
    let expected = Conversation {
        state: ConversationState::Closed,
        updated_at: at(90),
        ended_at: Some(at(90)),
        ..waiting
    };
    assert_eq!(finished, Some((expected.clone(), None)));
    assert_eq!(store.get_conversation("c1").await?, Some(expected));
    let left: Vec<String> = store
        .queue()
        .await?
        .into_iter()
        .map(|w| w.conversation_id)
        .collect();
    assert_eq!(left, ["c2"]);
    assert_eq!(store.claim("c1", "agt_1", at(91)).await?, Claim::Stale);
    Ok(())
}

async fn finish_ends_a_conversation_still_with_the_bot(store: Shared) -> anyhow::Result<()> {
    let with_bot = conversation("c1");
    store.put_conversation(&with_bot).await?;
    let finished = store.finish("c1", ConversationState::Closed, at(5)).await?;
    let expected = Conversation {
        state: ConversationState::Closed,
        updated_at: at(5),
        ended_at: Some(at(5)),
        ..with_bot
    };
    assert_eq!(finished, Some((expected.clone(), None)));
    assert_eq!(store.get_conversation("c1").await?, Some(expected));
    Ok(())
}

async fn finish_does_nothing_to_an_ended_or_unknown_conversation(
    store: Shared,
) -> anyhow::Result<()> {
    assert_eq!(
        store
            .finish("nope", ConversationState::Closed, at(5))
            .await?,
        None
    );
    assert_eq!(store.get_conversation("nope").await?, None);

    for (id, state) in [
        ("c-resolved", ConversationState::Resolved),
        ("c-follow-up", ConversationState::FollowUp),
        ("c-closed", ConversationState::Closed),
    ] {
        let ended = conversation_in(id, state);
        store.put_conversation(&ended).await?;
        assert_eq!(
            store.finish(id, ConversationState::Closed, at(5)).await?,
            None
        );
        assert_eq!(store.get_conversation(id).await?, Some(ended));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Knowledge base: gaps and articles
// ---------------------------------------------------------------------------------------------

async fn gaps_are_listed_newest_first_up_to_the_limit(store: Shared) -> anyhow::Result<()> {
    let reasons = [
        GapReason::Unanswered,
        GapReason::HandedOff,
        GapReason::RatedBadly,
    ];
    let pushed: Vec<GapRecord> = (0..5)
        .map(|i| GapRecord {
            question: format!("问题 {i}"),
            reason: reasons[i % 3],
            conversation_id: format!("c{i}"),
            at: at(i64::try_from(i).unwrap_or_default()),
        })
        .collect();
    for gap in &pushed {
        store.push_gap(gap).await?;
    }
    let newest_first: Vec<GapRecord> = pushed.iter().rev().cloned().collect();
    assert_eq!(store.gaps(3).await?, newest_first[..3]);
    assert_eq!(store.gaps(100).await?, newest_first);
    assert_eq!(store.gaps(usize::MAX).await?, newest_first);
    assert!(store.gaps(0).await?.is_empty());
    Ok(())
}

async fn logs_keep_the_newest_records_up_to_their_cap_each(store: Shared) -> anyhow::Result<()> {
    for i in 0..5 {
        store.push_log("a", &format!("{{\"n\":{i}}}"), 3).await?;
    }
    store.push_log("b", "{\"other\":true}", 3).await?;
    assert_eq!(
        store.read_log("a", 10).await?,
        [r#"{"n":4}"#, r#"{"n":3}"#, r#"{"n":2}"#],
        "newest first, capped"
    );
    assert_eq!(store.read_log("a", 2).await?, [r#"{"n":4}"#, r#"{"n":3}"#]);
    assert_eq!(store.read_log("b", 10).await?, [r#"{"other":true}"#]);
    assert!(store.read_log("a", 0).await?.is_empty());
    assert!(store.read_log("none", 10).await?.is_empty());
    Ok(())
}

async fn idempotency_keys_are_claimed_once_completed_and_released(
    store: Shared,
) -> anyhow::Result<()> {
    use gateway::idempotency::{Claim, StoredResponse};
    let minute = Duration::seconds(60);
    assert_eq!(
        store.claim_idempotency_key("k1", "fp", minute).await?,
        Claim::Claimed
    );
    assert_eq!(
        store.claim_idempotency_key("k1", "fp", minute).await?,
        Claim::InFlight {
            fingerprint: "fp".into()
        },
        "a second claim finds the first running"
    );
    let done = StoredResponse {
        fingerprint: "fp".into(),
        status: 201,
        body: r#"{"id":"a1"}"#.into(),
    };
    store
        .complete_idempotency_key("k1", &done, Duration::hours(24))
        .await?;
    assert_eq!(
        store.claim_idempotency_key("k1", "other", minute).await?,
        Claim::Done(done.clone())
    );
    // A released claim (the request failed) can be claimed again.
    assert_eq!(
        store.claim_idempotency_key("k2", "fp", minute).await?,
        Claim::Claimed
    );
    store.release_idempotency_key("k2").await?;
    assert_eq!(
        store.claim_idempotency_key("k2", "fp", minute).await?,
        Claim::Claimed
    );
    // A claim that was never completed lapses.
    let instant = Duration::milliseconds(1);
    assert_eq!(
        store.claim_idempotency_key("k3", "fp", instant).await?,
        Claim::Claimed
    );
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(
        store.claim_idempotency_key("k3", "fp", minute).await?,
        Claim::Claimed
    );
    Ok(())
}

async fn articles_are_stored_listed_and_deleted(store: Shared) -> anyhow::Result<()> {
    let plain = article("kb-b", "plain");
    let full = kb::Article {
        similar: vec!["快递到哪了".into(), "物流".into()],
        tags: vec!["faq".into()],
        enabled: false,
        locale: "zh-TW".into(),
        ..article("kb-a", "多久发货？48 小时内。")
    };
    store.put_article(&plain).await?;
    store.put_article(&full).await?;
    assert_eq!(store.get_article("kb-b").await?, Some(plain.clone()));
    assert_eq!(store.get_article("kb-a").await?, Some(full.clone()));
    let mut listed = store.list_articles().await?;
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, vec![full.clone(), plain]);

    assert!(store.delete_article("kb-b").await?);
    assert!(!store.delete_article("kb-b").await?);
    assert_eq!(store.get_article("kb-b").await?, None);
    assert_eq!(store.list_articles().await?, vec![full]);
    Ok(())
}

async fn write_articles_without_replace_adds_and_updates(store: Shared) -> anyhow::Result<()> {
    store.put_article(&article("kb-a", "a")).await?;
    store.put_article(&article("kb-b", "b")).await?;
    let deleted = store
        .write_articles(&[article("kb-b", "b2"), article("kb-c", "c")], false)
        .await?;
    assert!(deleted.is_empty());
    let mut listed = store.list_articles().await?;
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        listed,
        vec![
            article("kb-a", "a"),
            article("kb-b", "b2"),
            article("kb-c", "c")
        ]
    );
    assert!(store.write_articles(&[], false).await?.is_empty());
    assert_eq!(store.list_articles().await?.len(), 3);
    Ok(())
}

async fn write_articles_with_replace_deletes_every_other_article(
    store: Shared,
) -> anyhow::Result<()> {
    for id in ["kb-c", "kb-a", "kb-b", "kb-d"] {
        store.put_article(&article(id, id)).await?;
    }
    let mut deleted = store
        .write_articles(&[article("kb-b", "new b"), article("kb-e", "e")], true)
        .await?;
    deleted.sort();
    assert_eq!(deleted, ["kb-a", "kb-c", "kb-d"]);
    let mut listed = store.list_articles().await?;
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(ids(&listed), ["kb-b", "kb-e"]);
    assert_eq!(
        store.get_article("kb-b").await?,
        Some(article("kb-b", "new b"))
    );

    let mut deleted = store.write_articles(&[], true).await?;
    deleted.sort();
    assert_eq!(deleted, ["kb-b", "kb-e"]);
    assert!(store.list_articles().await?.is_empty());

    // Many at once, more than one script command's worth of arguments.
    let many: Vec<kb::Article> = (0..1500)
        .map(|i| article(&format!("kb-{i:04}"), "x"))
        .collect();
    assert!(store.write_articles(&many, true).await?.is_empty());
    let deleted = store.write_articles(&many[..1], true).await?;
    assert_eq!(deleted.len(), 1499);
    assert_eq!(ids(&store.list_articles().await?), ["kb-0000"]);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Redis only: key layout and encoding
// ---------------------------------------------------------------------------------------------

async fn raw_redis() -> anyhow::Result<redis::aio::MultiplexedConnection> {
    Ok(redis::Client::open(redis_url())?
        .get_multiplexed_async_connection()
        .await?)
}

async fn keys_under(prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut connection = raw_redis().await?;
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut connection)
            .await?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    Ok(keys)
}

/// Exercises every kind of record once.
async fn touch_everything(store: &Shared) -> anyhow::Result<()> {
    store.put_meta("k", "v").await?;
    store.put_token("h", &TokenOwner::Admin).await?;
    queued(store, "c1", 0).await?;
    store
        .append_message("c1", customer_message("hi", Some("cm")))
        .await?;
    store.put_context("c1", &contexts_fixture()).await?;
    store
        .push_routing(
            "c1",
            &RoutingRecord {
                at: t0(),
                event: RoutingEvent::Assigned,
                agent_id: "agt_1".into(),
                rule: None,
                score: None,
                relaxed: Vec::new(),
                candidates: Vec::new(),
                target: None,
                note: None,
            },
        )
        .await?;
    store.put_agent(&online("agt_1", 2)).await?;
    queued(store, "c2", 0).await?;
    store
        .push_gap(&GapRecord {
            question: "?".into(),
            reason: GapReason::Unanswered,
            conversation_id: "c1".into(),
            at: t0(),
        })
        .await?;
    store.put_article(&article("kb-a", "a")).await?;
    Ok(())
}

fn contexts_fixture() -> StoredContext {
    StoredContext {
        bot: handoff_context(0),
        handed_off_at: t0(),
        notes: Vec::new(),
    }
}

#[tokio::test]
async fn redis_keys_carry_the_prefix_and_the_shop_as_their_hash_tag() -> anyhow::Result<()> {
    let keys = RedisKeys::fresh();
    let store = RedisStore::connect(&keys.url, &keys.prefix).await?;
    assert_eq!(store.key_base(), format!("{}:{{demo}}:", keys.prefix));
    let store: Shared = Arc::new(store);
    touch_everything(&store).await?;
    let found = keys_under(&keys.prefix).await?;
    let base = format!("{}:{{demo}}:", keys.prefix);
    let expected: Vec<String> = [
        "agents",
        "articles",
        "cmid:c1",
        "conv:c1",
        "conv:c2",
        "ctx:c1",
        "gaps",
        "meta",
        "msgs:c1",
        "queue:entries",
        "queue:order",
        "queue:ranks",
        "routing:c1",
        "seq:c1",
        "token:h",
    ]
    .iter()
    .map(|k| format!("{base}{k}"))
    .collect();
    assert_eq!(found, expected);
    drop(store);
    assert_eq!(keys.delete_all()?, expected.len());
    assert!(keys_under(&keys.prefix).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn redis_connect_refuses_a_prefix_that_would_break_the_hash_tag() {
    for prefix in ["", "gw{x}", "a}b", "{"] {
        assert!(
            RedisStore::connect(&redis_url(), prefix).await.is_err(),
            "{prefix:?}"
        );
    }
}

#[tokio::test]
async fn redis_scripts_write_empty_lists_as_json_arrays() -> anyhow::Result<()> {
    let keys = RedisKeys::fresh();
    let store: Shared = Arc::new(RedisStore::connect(&keys.url, &keys.prefix).await?);
    queued(&store, "c1", 0).await?;
    store.put_agent(&online("agt_1", 1)).await?;
    claimed(store.claim("c1", "agt_1", at(1)).await?)?;
    store
        .finish("c1", ConversationState::Resolved, at(2))
        .await?;
    store.note_repeat("c1").await?;
    store
        .patch_agent(
            "agt_1",
            AgentPatch {
                skills: Some(BTreeSet::new()),
                ..AgentPatch::default()
            },
        )
        .await?;

    let mut connection = raw_redis().await?;
    let base = format!("{}:{{demo}}:", keys.prefix);
    let agent: String = redis::cmd("HGET")
        .arg(format!("{base}agents"))
        .arg("agt_1")
        .query_async(&mut connection)
        .await?;
    let conversation: String = redis::cmd("GET")
        .arg(format!("{base}conv:c1"))
        .query_async(&mut connection)
        .await?;
    let agent: serde_json::Value = serde_json::from_str(&agent)?;
    let conversation: serde_json::Value = serde_json::from_str(&conversation)?;
    assert_eq!(agent["active"], serde_json::json!([]));
    assert_eq!(agent["skills"], serde_json::json!([]));
    assert_eq!(agent["max_concurrent"], serde_json::json!(1));
    assert_eq!(conversation["customer"]["tags"], serde_json::json!([]));
    assert_eq!(conversation["context"], serde_json::json!({}));
    assert_eq!(conversation["repeats_after_handoff"], serde_json::json!(1));
    assert_eq!(
        conversation["updated_at"],
        serde_json::to_value(at(2))?,
        "times are stored as chrono writes them"
    );
    Ok(())
}

#[tokio::test]
async fn redis_queue_lists_entries_already_in_service_order() -> anyhow::Result<()> {
    let keys = RedisKeys::fresh();
    let store: Shared = Arc::new(RedisStore::connect(&keys.url, &keys.prefix).await?);
    let entries = [
        entry("c-3", -100, at(0)),
        entry("c-1", 20, at(5)),
        entry("c-2", 20, at(6)),
        entry("c-0", 30, at(9)),
    ];
    for waiting in &entries {
        store
            .put_conversation(&conversation(&waiting.conversation_id))
            .await?;
        store.enqueue(waiting, at(10)).await?;
    }
    let listed: Vec<String> = store
        .queue()
        .await?
        .into_iter()
        .map(|w| w.conversation_id)
        .collect();
    assert_eq!(listed, ["c-0", "c-1", "c-2", "c-3"]);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// KPI cohorts and the webhook outbox
// ---------------------------------------------------------------------------------------------

async fn conversations_created_lists_a_period_oldest_first(store: Shared) -> anyhow::Result<()> {
    for (id, seconds) in [("c3", 2), ("c1", 0), ("c2", 1), ("c4", 86_400)] {
        let mut c = conversation(id);
        c.created_at = at(seconds);
        store.create_conversation(&c).await?;
    }
    let ids = |cs: Vec<Conversation>| cs.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.conversations_created(at(0), at(2), 100).await?),
        ["c1", "c2"],
        "from inclusive, to exclusive"
    );
    assert_eq!(
        ids(store.conversations_created(at(0), at(90_000), 100).await?),
        ["c1", "c2", "c3", "c4"]
    );
    assert_eq!(
        ids(store.conversations_created(at(0), at(90_000), 1).await?),
        ["c1"]
    );
    assert!(store
        .conversations_created(at(5), at(5), 100)
        .await?
        .is_empty());
    // A later write of the record is what the listing returns.
    let mut c2 = conversation("c2");
    c2.created_at = at(1);
    c2.state = ConversationState::Closed;
    store.put_conversation(&c2).await?;
    let listed = store.conversations_created(at(1), at(2), 10).await?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, ConversationState::Closed);
    Ok(())
}

fn webhook(id: &str) -> gateway::webhooks::Webhook {
    gateway::webhooks::Webhook {
        id: id.into(),
        url: "https://example.com/hook".into(),
        events: vec!["message.created".into()],
        secret: "whsec_c2VjcmV0".into(),
        description: Some("订单系统".into()),
        created_at: t0(),
    }
}

async fn webhooks_are_stored_listed_and_deleted(store: Shared) -> anyhow::Result<()> {
    store.put_webhook(&webhook("wh_b")).await?;
    store.put_webhook(&webhook("wh_a")).await?;
    let listed = store.list_webhooks().await?;
    assert_eq!(listed, vec![webhook("wh_a"), webhook("wh_b")]);
    assert!(store.delete_webhook("wh_a").await?);
    assert!(!store.delete_webhook("wh_a").await?);
    assert_eq!(store.list_webhooks().await?, vec![webhook("wh_b")]);
    Ok(())
}

fn delivery(id: &str, due: DateTime<Utc>) -> gateway::webhooks::Delivery {
    gateway::webhooks::Delivery {
        id: id.into(),
        webhook_id: "wh_1".into(),
        event_id: format!("evt_{id}"),
        event_type: "message.created".into(),
        body: r#"{"id":"evt","data":{"text":"你好\n"}}"#.into(),
        attempts: 0,
        created_at: t0(),
        next_at: due,
    }
}

async fn deliveries_are_claimed_once_per_lease_and_settled(store: Shared) -> anyhow::Result<()> {
    store
        .enqueue_deliveries(&[
            delivery("d1", at(0)),
            delivery("d3", at(0)),
            delivery("d2", at(10)),
        ])
        .await?;
    let ids =
        |ds: &[gateway::webhooks::Delivery]| ds.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
    let first = store.claim_deliveries(at(0), at(60), 10).await?;
    assert_eq!(ids(&first), ["d1", "d3"], "what is due, oldest due first");
    assert_eq!(
        first[0].body,
        delivery("d1", at(0)).body,
        "the body unchanged"
    );
    assert_eq!(first[0].next_at, at(60), "held until the lease ends");
    assert!(store.claim_deliveries(at(0), at(60), 10).await?.is_empty());
    assert_eq!(
        ids(&store.claim_deliveries(at(10), at(70), 10).await?),
        ["d2"]
    );

    store.settle_delivery(&first[0], None).await?;
    let mut retry = first[1].clone();
    retry.attempts = 1;
    store.settle_delivery(&retry, Some(at(100))).await?;
    assert!(
        store
            .claim_deliveries(at(65), at(125), 10)
            .await?
            .is_empty(),
        "d2 is still leased, d3 not due yet, d1 gone"
    );
    assert_eq!(
        ids(&store.claim_deliveries(at(71), at(131), 10).await?),
        ["d2"],
        "an unsettled delivery is due again when its lease ends"
    );
    let again = store.claim_deliveries(at(100), at(160), 10).await?;
    assert_eq!(ids(&again), ["d3"]);
    assert_eq!(again[0].attempts, 1);
    store.settle_delivery(&again[0], None).await?;
    assert!(store
        .claim_deliveries(at(1_000), at(1_060), 10)
        .await?
        .iter()
        .all(|d| d.id == "d2"));
    Ok(())
}

async fn concurrent_claims_take_a_due_delivery_once(store: Shared) -> anyhow::Result<()> {
    store.enqueue_deliveries(&[delivery("d1", at(0))]).await?;
    let claims = (0..10).map(|_| {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.claim_deliveries(at(1), at(61), 5).await })
    });
    let mut taken = 0;
    for claim in futures_util::future::join_all(claims).await {
        taken += claim??.len();
    }
    assert_eq!(taken, 1);
    Ok(())
}
