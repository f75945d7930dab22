//! Live connections: who is listening to which conversation or agent.
//!
//! Each WebSocket subscribes to one topic and gets a bounded channel of pre-serialised
//! events. Publishing never waits: a subscriber whose channel is full is dropped, its socket
//! closes, and the client reconnects with `after_seq` to replay from the store, which holds
//! every message. So a slow client can never slow the server or lose a message.
//!
//! With Redis, several processes serve one shop and a socket may live in another process
//! than the one where its event happened: every publish is then also handed to the
//! [`Relay`](crate::bus::Relay), which carries it to the other processes over pub/sub, and the
//! bus delivers their events here with [`Hub::deliver`]. Pub/sub may drop events; messages
//! carry a gap-free `seq`, so a socket that sees a gap, or is told to [`Hub::resync`], reads
//! what it missed from the store.

use crate::bus::Relay;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::mpsc;

/// How many events may wait for one socket before it counts as too slow.
pub const SUBSCRIBER_BUFFER: usize = 256;

/// What a socket listens to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    Conversation(String),
    Agent(String),
}

/// One serialised event on its way to a socket.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The message's `(conversation id, seq)` when the event carries a message, so that a
    /// socket which just replayed from the store can skip what it already sent.
    pub message_key: Option<(Arc<str>, u64)>,
    pub json: Arc<str>,
}

impl Outgoing {
    /// Whether the event is a `message` event: its key is then one message, and a `seq`
    /// beyond the next one means messages in between were missed. Other keyed events (an
    /// agent's `assigned`) carry the transcript up to their `seq` themselves.
    ///
    /// Events are internally tagged enums (`#[serde(tag = "type")]`), whose serialisation
    /// always starts with the tag.
    pub fn carries_message(&self) -> bool {
        self.json.starts_with(r#"{"type":"message""#)
    }
}

/// What a socket receives from the hub.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// Shared by every subscriber: the channel slot is one pointer, which keeps an idle
    /// socket's channel small (its first block of slots is allocated up front).
    Event(Arc<Outgoing>),
    /// Events may have been missed (the link between processes was down): read the store
    /// after the last `seq` sent.
    Resync,
}

type Subscribers = HashMap<Topic, Vec<(u64, mpsc::Sender<Delivery>)>>;

/// An event to publish, the topics it goes to, and the message it carries, if any.
pub struct Publication {
    pub topics: Vec<Topic>,
    pub event: crate::events::Event,
    /// `(conversation id, seq)` of the message the event carries.
    pub key: Option<(String, u64)>,
}

/// An event serialised once for every subscriber; `None` (logged) when it cannot be.
fn outgoing<E: Serialize>(event: &E, message_key: Option<(&str, u64)>) -> Option<Outgoing> {
    match serde_json::to_string(event) {
        Ok(json) => Some(Outgoing {
            message_key: message_key.map(|(c, s)| (Arc::from(c), s)),
            json: json.into(),
        }),
        Err(error) => {
            tracing::error!(%error, "an event could not be serialised");
            None
        }
    }
}

#[derive(Default)]
pub struct Hub {
    subscribers: Mutex<Subscribers>,
    next_id: AtomicU64,
    /// The way to the other processes, when there are any (Redis); set once at start.
    relay: OnceLock<Relay>,
}

/// A live subscription; dropping it unsubscribes.
pub struct Subscription {
    hub: Arc<Hub>,
    topic: Topic,
    id: u64,
    pub events: mpsc::Receiver<Delivery>,
}

impl Subscription {
    pub fn topic(&self) -> &Topic {
        &self.topic
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(&self.topic, self.id);
    }
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, Subscribers> {
        // A panic while holding this lock cannot leave the map inconsistent (every change is
        // one insert or retain), so a poisoned lock is still safe to use.
        self.subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends every later publish to the other processes too. Only the first call counts.
    pub fn attach_relay(&self, relay: Relay) {
        if self.relay.set(relay).is_err() {
            tracing::warn!("the hub already has a relay; keeping the first");
        }
    }

    /// The relay to the other processes, when there is one.
    pub fn relay(&self) -> Option<&Relay> {
        self.relay.get()
    }

    /// Subscribes to `topic`, unless it already has `limit` subscribers.
    pub fn subscribe(self: &Arc<Self>, topic: Topic, limit: usize) -> Option<Subscription> {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_BUFFER);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut subs = self.lock();
        let list = subs.entry(topic.clone()).or_default();
        list.retain(|(_, tx)| !tx.is_closed());
        if list.len() >= limit {
            return None;
        }
        list.push((id, tx));
        Some(Subscription {
            hub: Arc::clone(self),
            topic,
            id,
            events: rx,
        })
    }

    fn unsubscribe(&self, topic: &Topic, id: u64) {
        let mut subs = self.lock();
        if let Some(list) = subs.get_mut(topic) {
            list.retain(|(sub, _)| *sub != id);
            if list.is_empty() {
                subs.remove(topic);
            }
        }
    }

    /// Sends an event to every subscriber of `topic`; slow subscribers are dropped.
    pub fn publish<E: Serialize>(&self, topic: &Topic, event: &E) {
        self.publish_keyed(topic, event, None);
    }

    /// Like [`Hub::publish`], for an event carrying the message `(conversation id, seq)`.
    pub fn publish_keyed<E: Serialize>(
        &self,
        topic: &Topic,
        event: &E,
        message_key: Option<(&str, u64)>,
    ) {
        let relay = self.relay.get();
        if relay.is_none() && !self.lock().contains_key(topic) {
            return;
        }
        let Some(outgoing) = outgoing(event, message_key) else {
            return;
        };
        if let Some(relay) = relay {
            relay.send(vec![(topic.clone(), outgoing.clone())]);
        }
        self.deliver(topic, outgoing);
    }

    /// Publishes several events, each to its topics; other processes get them all in one
    /// batch (one PUBLISH), in this order.
    pub fn publish_all(&self, publications: impl IntoIterator<Item = Publication>) {
        let relay = self.relay.get();
        let mut relayed = Vec::new();
        for publication in publications {
            let key = publication.key.as_ref().map(|(c, s)| (c.as_str(), *s));
            let Some(outgoing) = outgoing(&publication.event, key) else {
                continue;
            };
            for topic in publication.topics {
                if relay.is_some() {
                    relayed.push((topic.clone(), outgoing.clone()));
                }
                self.deliver(&topic, outgoing.clone());
            }
        }
        if let Some(relay) = relay {
            relay.send(relayed);
        }
    }

    /// Hands an already serialised event to this process's subscribers of `topic` only (the
    /// bus delivers other processes' events with it).
    pub fn deliver(&self, topic: &Topic, outgoing: Outgoing) {
        let mut subs = self.lock();
        let Some(list) = subs.get_mut(topic) else {
            return;
        };
        let outgoing = Arc::new(outgoing);
        list.retain(
            |(id, tx)| match tx.try_send(Delivery::Event(outgoing.clone())) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(
                        subscriber = id,
                        ?topic,
                        "dropping a slow subscriber; it will replay on reconnect"
                    );
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            },
        );
    }

    /// Tells every subscriber that events may have been missed, so each reads the store
    /// after what it last sent. A subscriber too full to take the notice is dropped and
    /// replays on reconnect, as for a missed event.
    pub fn resync(&self) {
        let mut subs = self.lock();
        for list in subs.values_mut() {
            list.retain(|(_, tx)| tx.try_send(Delivery::Resync).is_ok());
        }
        subs.retain(|_, list| !list.is_empty());
    }

    /// How many sockets listen to `topic` now.
    pub fn listeners(&self, topic: &Topic) -> usize {
        self.lock()
            .get(topic)
            .map_or(0, |l| l.iter().filter(|(_, tx)| !tx.is_closed()).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn publish_reaches_subscribers_of_the_topic_only() {
        let hub = Arc::new(Hub::default());
        let mut a = hub
            .subscribe(Topic::Conversation("a".into()), 5)
            .expect("room");
        let mut b = hub
            .subscribe(Topic::Conversation("b".into()), 5)
            .expect("room");
        hub.publish(
            &Topic::Conversation("a".into()),
            &serde_json::json!({"n": 1}),
        );
        assert_eq!(
            a.events
                .recv()
                .await
                .and_then(|d| match d {
                    Delivery::Event(o) => Some(o.json.clone()),
                    Delivery::Resync => None,
                })
                .as_deref(),
            Some(r#"{"n":1}"#)
        );
        assert!(b.events.try_recv().is_err());
    }

    #[test]
    fn subscriptions_are_limited_and_released_on_drop() {
        let hub = Arc::new(Hub::default());
        let topic = Topic::Agent("x".into());
        let first = hub.subscribe(topic.clone(), 1);
        assert!(first.is_some());
        assert!(hub.subscribe(topic.clone(), 1).is_none());
        drop(first);
        assert_eq!(hub.listeners(&topic), 0);
        assert!(hub.subscribe(topic, 1).is_some());
    }

    #[test]
    fn resync_reaches_every_subscriber_and_only_message_events_count_as_messages() {
        let hub = Arc::new(Hub::default());
        let mut a = hub
            .subscribe(Topic::Conversation("a".into()), 5)
            .expect("room");
        let mut b = hub.subscribe(Topic::Agent("b".into()), 5).expect("room");
        hub.resync();
        assert!(matches!(a.events.try_recv(), Ok(Delivery::Resync)));
        assert!(matches!(b.events.try_recv(), Ok(Delivery::Resync)));
        let message = crate::events::Event::Typing {
            conversation_id: "a".into(),
            role: crate::domain::AuthorRole::Customer,
        };
        hub.publish_keyed(&Topic::Conversation("a".into()), &message, Some(("a", 3)));
        let Ok(Delivery::Event(typing)) = a.events.try_recv() else {
            panic!("no event");
        };
        assert!(!typing.carries_message());
        // Tagged like `events::Event`, whose `Message` needs a whole stored message.
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Tagged {
            Message { conversation_id: String },
        }
        let tagged = Tagged::Message {
            conversation_id: "a".into(),
        };
        hub.publish_keyed(&Topic::Conversation("a".into()), &tagged, Some(("a", 4)));
        let Ok(Delivery::Event(message)) = a.events.try_recv() else {
            panic!("no event");
        };
        assert!(message.carries_message());
    }

    #[test]
    fn a_full_subscriber_is_dropped_not_waited_for() {
        let hub = Arc::new(Hub::default());
        let topic = Topic::Agent("slow".into());
        let _slow = hub.subscribe(topic.clone(), 5).expect("room");
        for n in 0..=SUBSCRIBER_BUFFER {
            hub.publish(&topic, &n);
        }
        assert_eq!(hub.listeners(&topic), 0);
    }
}
