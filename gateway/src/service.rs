//! What the gateway does, apart from HTTP: the conversation lifecycle.
//!
//! Handlers parse a request and call one method here; these methods call the store (the
//! truth), the bot (decisions), the router (assignment) and the hub (live events). Every state
//! change is stored before it is announced, so what a client sees live it can always read
//! again.

use crate::auth::{self, Principal};
use crate::domain::{
    Agent, AgentPatch, AgentRole, Author, AuthorRole, Channel, ClientMessageId, Conversation,
    ConversationState, Customer, GapReason, Locale, Message, MessageText, NewMessage, PageContext,
    Rating, RatingReason, RatingValue, StoredContext, TokenOwner,
};
use crate::error::ApiError;
use crate::events::{ContextCustomer, ContextView, ConversationView, Event};
use crate::hub::{Publication, Topic};
use crate::qa;
use crate::state::{lock, AppState};
use crate::store::{CustomerTurn, TurnRead};
use std::collections::BTreeSet;

/// The most messages a transcript read or replay returns at once.
pub const MAX_PAGE: usize = 500;
/// How much of the conversation the bot reads on a turn: far more than one bot session.
const BOT_HISTORY: usize = 200;

/// A new conversation as the widget asks for it.
#[derive(Debug, Clone)]
pub struct NewConversation {
    /// The shop signed `external_id`: the customer is who they say.
    pub verified: bool,
    /// Only a verified customer can be VIP.
    pub vip: bool,
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub locale: Option<Locale>,
    pub channel: Channel,
    pub context: PageContext,
}

/// The answer to a posted message: the stored message and what the bot replied.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Posted {
    pub message: Message,
    pub replies: Vec<Message>,
    pub conversation: ConversationView,
    /// Quality inspection of an agent's message (empty for customers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::qa::Flag>,
}

/// A new agent account.
#[derive(Debug, Clone)]
pub struct NewAgent {
    pub name: String,
    pub skills: BTreeSet<String>,
    pub max_concurrent: u32,
    pub role: AgentRole,
}

/// How an agent ends a conversation.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Resolved,
    FollowUp,
}

/// The customer of a conversation as the author of their messages.
fn customer_author(conversation: &Conversation) -> Author {
    Author {
        role: AuthorRole::Customer,
        id: Some(conversation.customer.id.clone()),
        name: conversation.customer.name.clone(),
    }
}

fn lines(messages: &[Message]) -> Vec<bot::Line> {
    messages
        .iter()
        .map(|m| bot::Line {
            role: match m.author.role {
                AuthorRole::Customer => bot::Role::Customer,
                AuthorRole::Bot => bot::Role::Bot,
                AuthorRole::Agent => bot::Role::Agent,
                AuthorRole::System => bot::Role::System,
            },
            text: m.text.clone(),
            bot: m.bot.clone(),
            analyzed: None,
        })
        .collect()
}

/// The conversation as the bot reads it: [`lines`], each customer line with the analysis its
/// own turn made when this process keeps it ([`AppState::line_analyses`]).
fn transcript(
    kept: &std::sync::Mutex<lru::LruCache<String, std::sync::Arc<bot::AnalyzedLine>>>,
    messages: &[Message],
) -> Vec<bot::Line> {
    let mut transcript = lines(messages);
    let mut kept = lock(kept);
    for (line, message) in transcript.iter_mut().zip(messages) {
        if line.role == bot::Role::Customer {
            line.analyzed = kept.get(&message.id).cloned();
        }
    }
    transcript
}

/// Whether a customer's message takes a conversation in this state back to the bot
/// ([`AppState::back_to_the_bot`]).
fn returns_to_the_bot(state: ConversationState) -> bool {
    matches!(
        state,
        ConversationState::Resolved | ConversationState::FollowUp
    )
}

/// The customer as the bot sees them: their language, and VIP only when verified.
fn customer_info(conversation: &Conversation) -> bot::CustomerInfo {
    bot::CustomerInfo {
        language: conversation.customer.locale.language(),
        vip: conversation.customer.vip && conversation.customer.verified,
    }
}

/// A new message to a closed conversation.
fn conversation_ended() -> ApiError {
    ApiError::conflict(
        "conversation_ended",
        "this conversation was closed; start a new one",
    )
}

pub(crate) fn system_author() -> Author {
    Author {
        role: AuthorRole::System,
        id: None,
        name: None,
    }
}

impl AppState {
    pub async fn conversation(&self, id: &str) -> Result<Conversation, ApiError> {
        self.store
            .get_conversation(id)
            .await?
            .ok_or(ApiError::NotFound("conversation"))
    }

    /// Who may read a conversation: its customer, the agent holding it, overseers.
    pub fn may_read(
        &self,
        principal: &Principal,
        conversation: &Conversation,
    ) -> Result<(), ApiError> {
        let allowed = match principal {
            Principal::Admin | Principal::Supervisor { .. } | Principal::Integrator { .. } => true,
            Principal::Customer { conversation_id } => conversation_id == &conversation.id,
            Principal::Agent { agent_id, role } => {
                *role == AgentRole::Supervisor
                    || conversation
                        .assignee
                        .as_ref()
                        .is_some_and(|a| &a.id == agent_id)
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiError::Forbidden("not your conversation"))
        }
    }

    /// Only the conversation's own customer.
    pub fn require_customer(
        &self,
        principal: &Principal,
        conversation_id: &str,
    ) -> Result<(), ApiError> {
        match principal {
            Principal::Customer {
                conversation_id: own,
            } if own == conversation_id => Ok(()),
            _ => Err(ApiError::Forbidden(
                "only this conversation's customer may do this",
            )),
        }
    }

    /// The conversation as the contract shows it, with its queue place when queued.
    pub async fn view(&self, conversation: Conversation) -> Result<ConversationView, ApiError> {
        let queue = if conversation.state == ConversationState::Queued {
            self.queue_view(&conversation.id).await?
        } else {
            None
        };
        Ok(ConversationView {
            conversation,
            queue,
        })
    }

    pub async fn start_conversation(
        &self,
        new: NewConversation,
    ) -> Result<(ConversationView, String), ApiError> {
        let now = self.now();
        // Time-ordered (UUID v7): the conversations active at one time sit next to each other in
        // the embedded store's B-trees, so a group commit writes fewer pages (measured: 93-101
        // instead of 168-179 KB per commit under the bot-turn benchmark).
        let id = format!("conv_{}", uuid::Uuid::now_v7().simple());
        // A verified customer keeps one id, so their tags and history follow them.
        let customer_id = match (&new.external_id, new.verified) {
            (Some(external_id), true) => crate::customers::verified_customer_id(external_id),
            _ => format!("cust_{}", uuid::Uuid::new_v4().simple()),
        };
        let tags = if new.verified {
            self.customer_tags(&customer_id).await?
        } else {
            Vec::new()
        };
        let conversation = Conversation {
            id: id.clone(),
            state: ConversationState::Bot,
            customer: Customer {
                id: customer_id,
                external_id: new.external_id,
                name: new.name,
                locale: new.locale.unwrap_or(Locale::ZhCn),
                vip: new.verified && new.vip,
                verified: new.verified,
                tags,
            },
            channel: new.channel,
            context: new.context,
            assignee: None,
            created_at: now,
            updated_at: now,
            handed_off_at: None,
            rating: None,
            repeats_after_handoff: 0,
            assigned_at: None,
            accepted_at: None,
            first_response_at: None,
            ended_at: None,
        };
        let token = auth::new_token("cus");
        self.store.create_conversation(&conversation).await?;
        self.note_customer_conversation(&conversation).await?;
        self.store
            .put_token(
                &auth::hash_token(&token),
                &TokenOwner::Customer {
                    conversation_id: id,
                },
            )
            .await?;
        tracing::info!(conversation_id = %conversation.id, "conversation started");
        self.emit(
            "conversation.created",
            serde_json::json!({"conversation_id": conversation.id, "conversation": conversation}),
        )
        .await;
        lock(&self.customer_authors).put(conversation.id.clone(), customer_author(&conversation));
        Ok((
            ConversationView {
                conversation,
                queue: None,
            },
            token,
        ))
    }

    /// Stores a message and announces it to everyone listening to the conversation.
    pub(crate) async fn append(
        &self,
        conversation: &Conversation,
        message: NewMessage,
    ) -> Result<(Message, bool), ApiError> {
        let appended = self.store.append_message(&conversation.id, message).await?;
        if appended.created {
            self.announce_message(conversation, &appended.message);
            self.emit_messages(&[&appended.message]).await;
        }
        Ok((appended.message, appended.created))
    }

    /// `message.created` for integrators, one event per message.
    async fn emit_messages(&self, messages: &[&Message]) {
        if !self.wants_event("message.created").await {
            return;
        }
        for message in messages {
            self.emit(
                "message.created",
                serde_json::json!({"conversation_id": message.conversation_id, "message": message}),
            )
            .await;
        }
    }

    fn announce_message(&self, conversation: &Conversation, message: &Message) {
        self.hub
            .publish_all(std::iter::once(self.message_event(conversation, message)));
    }

    /// A message's event with the topics it goes to: the conversation and its agent.
    fn message_event(&self, conversation: &Conversation, message: &Message) -> Publication {
        let mut topics = vec![Topic::Conversation(conversation.id.clone())];
        if let Some(assignee) = &conversation.assignee {
            topics.push(Topic::Agent(assignee.id.clone()));
        }
        Publication {
            topics,
            event: Event::Message {
                conversation_id: conversation.id.clone(),
                message: message.clone(),
            },
            key: Some((conversation.id.clone(), message.seq)),
        }
    }

    pub(crate) fn announce_state(&self, conversation: &Conversation) {
        self.hub.publish(
            &Topic::Conversation(conversation.id.clone()),
            &Event::State {
                conversation_id: conversation.id.clone(),
                state: conversation.state,
                assignee: conversation.assignee.clone(),
            },
        );
    }

    /// A customer's message: stored first, then, while the bot holds the conversation, the
    /// bot's turn. A repeated `client_message_id` returns the original and what followed it.
    ///
    /// On Redis a bot turn costs three commands: one script stores the message and reads the
    /// conversation with its recent history, one stores the bot's answer, one PUBLISH carries
    /// both events (the customer's token and name are remembered in-process).
    pub async fn customer_message(
        &self,
        conversation_id: &str,
        text: MessageText,
        client_message_id: ClientMessageId,
    ) -> Result<Posted, ApiError> {
        let _turn = self.lock_conversation(conversation_id).await;
        let new = NewMessage {
            created_at: self.now(),
            author: self.customer_author(conversation_id).await?,
            text: text.as_str().to_owned(),
            client_message_id: Some(client_message_id.as_str().to_owned()),
            bot: None,
        };
        // A retry of a stored message is answered before any limit or state check: the
        // client must learn its message is safe. Over the limit, only a retry gets through.
        if let Err(retry_after) = self.check_rate(&format!("msg:{conversation_id}")) {
            let existing = self.store.messages(conversation_id, 0, usize::MAX).await?;
            let Some(at) = existing
                .iter()
                .position(|m| m.client_message_id == new.client_message_id)
            else {
                return Err(ApiError::RateLimited { retry_after });
            };
            let conversation = self.conversation(conversation_id).await?;
            return self
                .repeat_posted(conversation, existing[at].clone(), &existing[at + 1..])
                .await;
        }
        // A store that can read the turn first (the embedded one) stores the customer's message
        // together with the bot's answer: one write and one fsync per bot turn, and the writer
        // never waits on the bot or does its reading.
        let read = self
            .read_turn(conversation_id, new.client_message_id.as_deref(), &text)
            .await?;
        match read {
            None => {}
            Some((TurnRead::Missing, _)) => return Err(ApiError::NotFound("conversation")),
            Some((TurnRead::Closed(_), _)) => return Err(conversation_ended()),
            Some((
                TurnRead::Repeat {
                    conversation,
                    original,
                    following,
                },
                _,
            )) => {
                return self
                    .repeat_posted(*conversation, *original, &following)
                    .await
            }
            Some((TurnRead::Open { conversation, .. }, thought)) => {
                let conversation = self.back_to_the_bot(*conversation).await?;
                if let (ConversationState::Bot, Some(outcome)) = (conversation.state, thought) {
                    return self.bot_exchange(conversation, new, text, outcome).await;
                }
                // With people: stored alone, below.
            }
        }
        let (conversation, message, earlier) = match self
            .store
            .customer_turn(conversation_id, new, BOT_HISTORY)
            .await?
        {
            CustomerTurn::Missing => return Err(ApiError::NotFound("conversation")),
            CustomerTurn::Closed(_) => return Err(conversation_ended()),
            CustomerTurn::Repeat {
                conversation,
                original,
                following,
            } => {
                return self
                    .repeat_posted(*conversation, original, &following)
                    .await
            }
            CustomerTurn::Appended {
                conversation,
                message,
                earlier,
            } => (*conversation, message, earlier),
        };
        let conversation = self.back_to_the_bot(conversation).await?;
        if conversation.state != ConversationState::Bot {
            return self.posted_to_people(conversation, message, &text).await;
        }
        // Stored already (a store without `read_turn_blocking`): the bot answers, then its reply
        // follows.
        let outcome = self.run_bot(&conversation, &earlier, &text).await?;
        let reply = self
            .store
            .append_message(&conversation.id, self.bot_reply(&outcome))
            .await?
            .message;
        self.bot_answered(conversation, message, reply, outcome, &text)
            .await
    }

    /// A bot turn stored in one write ([`Store::bot_exchange`]): the bot's `outcome` on what
    /// [`AppState::read_turn`] read, then the customer's message and the answer are stored
    /// together. Nothing of the turn is acknowledged or announced before that write.
    async fn bot_exchange(
        &self,
        conversation: Conversation,
        new: NewMessage,
        text: MessageText,
        outcome: bot::Outcome,
    ) -> Result<Posted, ApiError> {
        let exchange = self
            .store
            .bot_exchange(&conversation.id, new, self.bot_reply(&outcome), BOT_HISTORY)
            .await?;
        match (exchange.turn, exchange.reply) {
            (CustomerTurn::Missing, _) => Err(ApiError::NotFound("conversation")),
            // Closed while the bot was thinking: the message was not stored.
            (CustomerTurn::Closed(_), _) => Err(conversation_ended()),
            (
                CustomerTurn::Repeat {
                    conversation,
                    original,
                    following,
                },
                _,
            ) => {
                self.repeat_posted(*conversation, original, &following)
                    .await
            }
            (
                CustomerTurn::Appended {
                    conversation,
                    message,
                    ..
                },
                Some(reply),
            ) => {
                self.bot_answered(*conversation, message, reply, outcome, &text)
                    .await
            }
            // A person took the conversation while the bot was thinking: the answer was dropped.
            (
                CustomerTurn::Appended {
                    conversation,
                    message,
                    ..
                },
                None,
            ) => self.posted_to_people(*conversation, message, &text).await,
        }
    }

    /// A customer coming back to a resolved conversation starts with the bot again; the
    /// transcript and the earlier handoff context stay attached. Any other state is kept.
    async fn back_to_the_bot(
        &self,
        mut conversation: Conversation,
    ) -> Result<Conversation, ApiError> {
        if returns_to_the_bot(conversation.state) {
            conversation.state = ConversationState::Bot;
            conversation.assignee = None;
            conversation.ended_at = None;
            conversation.updated_at = self.now();
            self.store.put_conversation(&conversation).await?;
            self.announce_state(&conversation);
        }
        Ok(conversation)
    }

    /// [`Store::read_turn_blocking`] for a customer's message, and the bot's turn on what it read
    /// when the conversation is (or will be again, see [`AppState::back_to_the_bot`]) the
    /// bot's: both in one task on the blocking pool, holding one bot slot (as
    /// [`AppState::run_bot`]), one thread hop per turn fewer. `None` for a store without that
    /// read (Redis), whose turn starts with [`Store::customer_turn`].
    async fn read_turn(
        &self,
        conversation_id: &str,
        client_message_id: Option<&str>,
        text: &MessageText,
    ) -> Result<Option<(TurnRead, Option<bot::Outcome>)>, ApiError> {
        if !self.store.reads_turns_blocking() {
            return Ok(None);
        }
        let store = std::sync::Arc::clone(&self.store);
        let bot = std::sync::Arc::clone(&self.bot);
        let kept = std::sync::Arc::clone(&self.line_analyses);
        let conversation_id = conversation_id.to_owned();
        let client_message_id = client_message_id.map(str::to_owned);
        let turn_text = text.as_str().to_owned();
        let slot = std::sync::Arc::clone(&self.bot_slots)
            .acquire_owned()
            .await
            .map_err(|e| ApiError::Internal(e.into()))?;
        let read = tokio::task::spawn_blocking(move || {
            let read = store
                .read_turn_blocking(&conversation_id, client_message_id.as_deref(), BOT_HISTORY)
                .transpose()?;
            let thought = match &read {
                Some(TurnRead::Open {
                    conversation,
                    earlier,
                }) if conversation.state == ConversationState::Bot
                    || returns_to_the_bot(conversation.state) =>
                {
                    let transcript = transcript(&kept, earlier);
                    Some(bot.turn(&transcript, &turn_text, customer_info(conversation)))
                }
                _ => None,
            };
            drop(slot);
            Ok::<_, crate::store::StoreError>(read.map(|read| (read, thought)))
        })
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;
        Ok(read)
    }

    /// The bot's turn on the blocking pool, first come first served, a few turns per core at
    /// once (see `AppState::bot_slots`).
    async fn run_bot(
        &self,
        conversation: &Conversation,
        earlier: &[Message],
        text: &MessageText,
    ) -> Result<bot::Outcome, ApiError> {
        let transcript = transcript(&self.line_analyses, earlier);
        let bot = std::sync::Arc::clone(&self.bot);
        let customer = customer_info(conversation);
        let turn_text = text.as_str().to_owned();
        let slot = std::sync::Arc::clone(&self.bot_slots)
            .acquire_owned()
            .await
            .map_err(|e| ApiError::Internal(e.into()))?;
        tokio::task::spawn_blocking(move || {
            let outcome = bot.turn(&transcript, &turn_text, customer);
            // The next turn may start while this one's answer travels back.
            drop(slot);
            outcome
        })
        .await
        .map_err(|e| ApiError::Internal(e.into()))
    }

    /// The bot's answer as a message to store.
    fn bot_reply(&self, outcome: &bot::Outcome) -> NewMessage {
        NewMessage {
            created_at: self.now(),
            author: bot_author(),
            text: outcome.reply.clone(),
            client_message_id: None,
            bot: Some(outcome.meta.clone()),
        }
    }

    /// After a stored bot turn: announce both messages, note a knowledge gap, hand off when the
    /// bot decided so.
    async fn bot_answered(
        &self,
        mut conversation: Conversation,
        message: Message,
        reply: Message,
        outcome: bot::Outcome,
        text: &MessageText,
    ) -> Result<Posted, ApiError> {
        self.metrics.count_bot_turn(outcome.decision());
        if let Some(analyzed) = &outcome.analyzed {
            lock(&self.line_analyses).put(message.id.clone(), std::sync::Arc::clone(analyzed));
        }
        // Both in one batch, so another process gets them in one PUBLISH.
        self.hub.publish_all(
            [&message, &reply]
                .into_iter()
                .map(|m| self.message_event(&conversation, m)),
        );
        self.emit_messages(&[&message, &reply]).await;
        if outcome.decision() == bot::DecisionKind::Clarify {
            self.record_gap(&conversation.id, text.as_str(), GapReason::Unanswered)
                .await;
        }
        if outcome.decision() == bot::DecisionKind::Handoff {
            self.hand_off(&conversation, &outcome.meta.reasons).await?;
            // The handoff may have been assigned at once: read where it stands now.
            conversation = self.conversation(&conversation.id).await?;
        }
        let conversation = self.view(conversation).await?;
        Ok(Posted {
            message,
            replies: vec![reply],
            conversation,
            warnings: Vec::new(),
        })
    }

    /// A customer's message to a conversation people hold: announced, checked for a question
    /// the customer already asked the bot.
    async fn posted_to_people(
        &self,
        mut conversation: Conversation,
        message: Message,
        text: &MessageText,
    ) -> Result<Posted, ApiError> {
        self.announce_message(&conversation, &message);
        self.emit_messages(&[&message]).await;
        if self
            .repeats_earlier_question(&conversation, text.as_str())
            .await?
        {
            let count = self.store.note_repeat(&conversation.id).await?;
            tracing::info!(conversation_id = %conversation.id, count, "customer repeated a question after the handoff");
            conversation.repeats_after_handoff = count;
        }
        let conversation = self.view(conversation).await?;
        Ok(Posted {
            message,
            replies: Vec::new(),
            conversation,
            warnings: Vec::new(),
        })
    }

    /// The answer to a retried customer message: the original and the bot's replies to it.
    async fn repeat_posted(
        &self,
        conversation: Conversation,
        original: Message,
        following: &[Message],
    ) -> Result<Posted, ApiError> {
        let replies = following
            .iter()
            .take_while(|m| m.author.role == AuthorRole::Bot)
            .cloned()
            .collect();
        Ok(Posted {
            message: original,
            replies,
            conversation: self.view(conversation).await?,
            warnings: Vec::new(),
        })
    }

    /// The customer of a conversation as a message author; read once per process.
    async fn customer_author(&self, conversation_id: &str) -> Result<Author, ApiError> {
        if let Some(author) = lock(&self.customer_authors).get(conversation_id) {
            return Ok(author.clone());
        }
        let conversation = self.conversation(conversation_id).await?;
        let author = customer_author(&conversation);
        lock(&self.customer_authors).put(conversation_id.to_owned(), author.clone());
        Ok(author)
    }

    /// Whether a message after the handoff asks again what the customer asked the bot before:
    /// the failure the handoff package exists to prevent.
    async fn repeats_earlier_question(
        &self,
        conversation: &Conversation,
        text: &str,
    ) -> Result<bool, ApiError> {
        let Some(context) = self.store.get_context(&conversation.id).await? else {
            return Ok(false);
        };
        let text = kb::normalize(text);
        let threshold = self.bot.config().repeat_similarity;
        Ok(context
            .bot
            .questions
            .iter()
            .any(|q| kb::similarity(&kb::normalize(q), &text) >= threshold))
    }

    /// The customer pressed "talk to a person".
    pub async fn request_handoff(
        &self,
        conversation_id: &str,
    ) -> Result<ConversationView, ApiError> {
        let _turn = self.lock_conversation(conversation_id).await;
        let conversation = self.conversation(conversation_id).await?;
        match conversation.state {
            ConversationState::Bot => {}
            ConversationState::Queued | ConversationState::Assigned => {
                return self.view(conversation).await
            }
            _ => {
                return Err(ApiError::conflict(
                    "conversation_ended",
                    "this conversation has ended",
                ))
            }
        }
        let existing = self.store.messages(conversation_id, 0, usize::MAX).await?;
        let outcome = self
            .bot
            .handoff_requested(&lines(&existing), customer_info(&conversation));
        self.append(
            &conversation,
            NewMessage {
                created_at: self.now(),
                author: bot_author(),
                text: outcome.reply.clone(),
                client_message_id: None,
                bot: Some(outcome.meta.clone()),
            },
        )
        .await?;
        self.hand_off(&conversation, &outcome.meta.reasons).await?;
        // The handoff may have been assigned at once: read where it stands now.
        self.view(self.conversation(conversation_id).await?).await
    }

    /// Builds the context package, queues the conversation and tries to assign it.
    async fn hand_off(
        &self,
        conversation: &Conversation,
        reasons: &[bot::HandoffReason],
    ) -> Result<(), ApiError> {
        let now = self.now();
        let transcript = self.store.messages(&conversation.id, 0, usize::MAX).await?;
        if let Some(open) = open_question(&transcript) {
            self.record_gap(&conversation.id, &open, GapReason::HandedOff)
                .await;
        }
        let context = bot::build_context(&lines(&transcript), reasons, customer_info(conversation));
        let entry = self.queue_entry(conversation, &context, now, now).await?;
        self.store
            .put_context(
                &conversation.id,
                &StoredContext {
                    bot: context,
                    handed_off_at: now,
                    notes: Vec::new(),
                },
            )
            .await?;
        let Some(queued) = self.store.enqueue(&entry, now).await? else {
            return Ok(());
        };
        self.metrics.count_handoff(reasons);
        tracing::info!(conversation_id = %queued.id, ?reasons, "handed off");
        self.emit(
            "conversation.handed_off",
            serde_json::json!({
                "conversation_id": queued.id,
                "reasons": reasons,
                "conversation": queued,
            }),
        )
        .await;
        self.announce_state(&queued);
        self.dispatch().await?;
        self.announce_queue().await?;
        Ok(())
    }

    /// The handoff package of a conversation, completed with its transcript and customer.
    pub async fn context(&self, conversation: &Conversation) -> Result<ContextView, ApiError> {
        let stored = self
            .store
            .get_context(&conversation.id)
            .await?
            .ok_or(ApiError::NotFound(
                "handoff context (the conversation was never handed off)",
            ))?;
        let transcript = self.store.messages(&conversation.id, 0, usize::MAX).await?;
        let ctx = stored.bot;
        // Tags as they are now (an agent may have changed them since the handoff), and the
        // customer's earlier conversations.
        let mut customer = ContextCustomer::from(&conversation.customer);
        customer.tags = self.customer_tags(&customer.id).await?;
        customer.previous_conversations = self
            .customer_conversations(
                &customer.id,
                Some(&conversation.id),
                crate::customers::PREVIOUS_SHOWN,
            )
            .await?;
        Ok(ContextView {
            conversation_id: conversation.id.clone(),
            summary: ctx.summary,
            customer,
            questions: ctx.questions,
            intents: ctx.intents,
            entities: ctx.entities,
            bot_attempts: ctx.bot_attempts,
            handoff_reasons: ctx.handoff_reasons,
            required_skills: ctx.required_skills,
            priority: ctx.priority,
            language: ctx.language,
            handed_off_at: stored.handed_off_at,
            notes: stored.notes,
            page: conversation.context.clone(),
            transcript,
        })
    }

    /// The conversation an agent may write in: theirs and still assigned.
    async fn held_by(
        &self,
        agent_id: &str,
        conversation_id: &str,
    ) -> Result<(Conversation, Agent), ApiError> {
        let conversation = self.conversation(conversation_id).await?;
        let agent = self
            .store
            .get_agent(agent_id)
            .await?
            .ok_or(ApiError::Unauthorized("invalid token"))?;
        if conversation.assignee.as_ref().map(|a| a.id.as_str()) != Some(agent_id) {
            return Err(ApiError::Forbidden(
                "this conversation is not assigned to you",
            ));
        }
        if conversation.state != ConversationState::Assigned {
            return Err(ApiError::conflict(
                "not_assigned",
                "this conversation is no longer assigned",
            ));
        }
        Ok((conversation, agent))
    }

    /// Quality inspection of a draft: forbidden phrases, and the same reply sent again in
    /// this conversation.
    /// A retried message (`client_message_id` seen) is not compared with itself.
    async fn inspect_draft(
        &self,
        conversation_id: &str,
        text: &str,
        client_message_id: Option<&str>,
    ) -> Result<Vec<qa::Flag>, ApiError> {
        let phrases = self.qa_phrases().await?;
        let transcript = self.store.messages(conversation_id, 0, usize::MAX).await?;
        let earlier: Vec<(u64, &str)> = transcript
            .iter()
            .filter(|m| m.author.role == AuthorRole::Agent)
            .filter(|m| {
                client_message_id.is_none() || m.client_message_id.as_deref() != client_message_id
            })
            .map(|m| (m.seq, m.text.as_str()))
            .collect();
        Ok(qa::inspect(&phrases, text, &earlier))
    }

    /// `POST .../messages?check_only=true`: what quality inspection says of a draft; nothing
    /// is stored or sent.
    pub async fn check_agent_draft(
        &self,
        agent_id: &str,
        conversation_id: &str,
        text: &MessageText,
    ) -> Result<Vec<qa::Flag>, ApiError> {
        self.held_by(agent_id, conversation_id).await?;
        self.inspect_draft(conversation_id, text.as_str(), None)
            .await
    }

    /// An agent's reply to a conversation they hold. It goes out whatever quality inspection
    /// says; the warnings come back with it and are kept for `GET /v1/qa/flags`.
    pub async fn agent_message(
        &self,
        agent_id: &str,
        conversation_id: &str,
        text: MessageText,
        client_message_id: ClientMessageId,
    ) -> Result<Posted, ApiError> {
        let _turn = self.lock_conversation(conversation_id).await;
        let (conversation, agent) = self.held_by(agent_id, conversation_id).await?;
        self.check_rate(&format!("agent:{agent_id}"))
            .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        let warnings = self
            .inspect_draft(
                conversation_id,
                text.as_str(),
                Some(client_message_id.as_str()),
            )
            .await?;
        let (message, created) = self
            .append(
                &conversation,
                NewMessage {
                    created_at: self.now(),
                    author: Author {
                        role: AuthorRole::Agent,
                        id: Some(agent.id.clone()),
                        name: Some(agent.name.clone()),
                    },
                    text: text.as_str().to_owned(),
                    client_message_id: Some(client_message_id.as_str().to_owned()),
                    bot: None,
                },
            )
            .await?;
        if created && !warnings.is_empty() {
            let record = qa::FlagRecord {
                conversation_id: conversation.id.clone(),
                agent_id: agent.id.clone(),
                agent_name: agent.name.clone(),
                message_id: message.id.clone(),
                seq: message.seq,
                text: message.text.clone(),
                flags: warnings.clone(),
                at: message.created_at,
            };
            let json = serde_json::to_string(&record).map_err(|e| ApiError::Internal(e.into()))?;
            self.store
                .push_log(qa::FLAGS_LOG, &json, qa::MAX_FLAGS)
                .await?;
            tracing::info!(conversation_id = %conversation.id, agent_id = %agent.id, flags = warnings.len(), "quality inspection flagged an agent message");
        }
        if conversation.accepted_at.is_none() {
            // The agent's first answer since the assignment stops the accept timeout.
            self.store
                .note_agent_reply(conversation_id, agent_id, message.created_at)
                .await?;
        }
        let conversation = self.view(conversation).await?;
        Ok(Posted {
            message,
            replies: Vec::new(),
            conversation,
            warnings,
        })
    }

    /// The forbidden-phrase list in force: the shop's own, or the shipped one.
    pub async fn qa_phrases(&self) -> Result<Vec<qa::Phrase>, ApiError> {
        match self.store.get_meta(qa::PHRASES_META).await? {
            Some(json) => serde_json::from_str(&json).map_err(|e| ApiError::Internal(e.into())),
            None => Ok(qa::default_phrases()),
        }
    }

    /// Replaces the forbidden-phrase list (admins).
    pub async fn set_qa_phrases(
        &self,
        phrases: Vec<qa::Phrase>,
    ) -> Result<Vec<qa::Phrase>, ApiError> {
        let phrases = qa::validate_phrases(phrases).map_err(ApiError::Invalid)?;
        let json = serde_json::to_string(&phrases).map_err(|e| ApiError::Internal(e.into()))?;
        self.store.put_meta(qa::PHRASES_META, &json).await?;
        Ok(phrases)
    }

    /// Flagged agent messages, newest first, optionally of one agent or conversation.
    pub async fn qa_flags(
        &self,
        agent_id: Option<&str>,
        conversation_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<qa::FlagRecord>, ApiError> {
        let mut out = Vec::new();
        for json in self.store.read_log(qa::FLAGS_LOG, qa::MAX_FLAGS).await? {
            let record: qa::FlagRecord =
                serde_json::from_str(&json).map_err(|e| ApiError::Internal(e.into()))?;
            if agent_id.is_some_and(|a| a != record.agent_id)
                || conversation_id.is_some_and(|c| c != record.conversation_id)
            {
                continue;
            }
            out.push(record);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Typing indicators go to the other side only and are never stored.
    pub fn typing(&self, conversation: &Conversation, role: AuthorRole) {
        let event = Event::Typing {
            conversation_id: conversation.id.clone(),
            role,
        };
        match role {
            AuthorRole::Customer => {
                if let Some(assignee) = &conversation.assignee {
                    self.hub.publish(&Topic::Agent(assignee.id.clone()), &event);
                }
            }
            _ => self
                .hub
                .publish(&Topic::Conversation(conversation.id.clone()), &event),
        }
    }

    /// The agent holding a conversation (or an overseer) ends it; the customer may be invited
    /// to rate it.
    pub async fn resolve(
        &self,
        principal: &Principal,
        conversation_id: &str,
        outcome: Outcome,
    ) -> Result<ConversationView, ApiError> {
        let conversation = {
            let _turn = self.lock_conversation(conversation_id).await;
            let conversation = self.conversation(conversation_id).await?;
            let holder = conversation.assignee.as_ref().map(|a| a.id.as_str());
            if !(principal.is_overseer()
                || (principal.agent_id().is_some() && principal.agent_id() == holder))
            {
                return Err(ApiError::Forbidden(
                    "only the assigned agent or a supervisor may resolve",
                ));
            }
            if conversation.state != ConversationState::Assigned {
                return Err(ApiError::conflict(
                    "not_assigned",
                    "only an assigned conversation can be resolved",
                ));
            }
            let state = match outcome {
                Outcome::Resolved => ConversationState::Resolved,
                Outcome::FollowUp => ConversationState::FollowUp,
            };
            let Some((conversation, _agent)) = self
                .store
                .finish(conversation_id, state, self.now())
                .await?
            else {
                return Err(ApiError::conflict(
                    "not_assigned",
                    "the conversation changed meanwhile",
                ));
            };
            self.record_handle_time(&conversation, self.now());
            self.announce_state(&conversation);
            self.emit(
                "conversation.resolved",
                serde_json::json!({
                    "conversation_id": conversation.id,
                    "outcome": outcome,
                    "agent_id": conversation.assignee.as_ref().map(|a| a.id.clone()),
                    "conversation": conversation,
                }),
            )
            .await;
            if self.invites_rating(&conversation).await {
                self.hub.publish(
                    &Topic::Conversation(conversation.id.clone()),
                    &Event::RatingRequest {
                        conversation_id: conversation.id.clone(),
                    },
                );
            }
            conversation
        };
        // The agent has room again: someone waiting may get them now.
        self.dispatch().await?;
        self.announce_queue().await?;
        self.view(conversation).await
    }

    /// Whether a conversation an agent just ended invites the customer to rate it: only when
    /// resolved (not left for a follow-up), never twice (one rating per conversation), and not
    /// when the customer's last message reads negative (an angry customer is not asked).
    async fn invites_rating(&self, conversation: &Conversation) -> bool {
        if conversation.state != ConversationState::Resolved || conversation.rating.is_some() {
            return false;
        }
        let transcript = match self.store.messages(&conversation.id, 0, usize::MAX).await {
            Ok(transcript) => transcript,
            Err(error) => {
                // The conversation is resolved already; only the invitation is skipped.
                tracing::warn!(conversation_id = %conversation.id, %error, "no rating invitation: the transcript could not be read");
                return false;
            }
        };
        let Some(last) = transcript
            .iter()
            .rev()
            .find(|m| m.author.role == AuthorRole::Customer)
        else {
            return true;
        };
        // Negative only when the model says so with at least even odds: a three-way argmax
        // alone reads short goodbyes ("再见", P(negative) 0.39) as negative.
        const NEGATIVE_AT_LEAST: f32 = 0.5;
        let text = last.text.clone();
        let fallback = conversation.customer.locale.language();
        let bot = std::sync::Arc::clone(&self.bot);
        let sentiment =
            tokio::task::spawn_blocking(move || bot.understand(&text, fallback).sentiment).await;
        match sentiment {
            Ok(s) => {
                s.label != models::Sentiment::Negative
                    || s.probabilities.negative < NEGATIVE_AT_LEAST
            }
            Err(_) => false,
        }
    }

    /// The customer leaves. An agent holding the conversation is told and freed.
    pub async fn close(&self, conversation_id: &str) -> Result<ConversationView, ApiError> {
        let conversation = {
            let _turn = self.lock_conversation(conversation_id).await;
            let conversation = self.conversation(conversation_id).await?;
            if conversation.state.is_ended() {
                return self.view(conversation).await;
            }
            let Some((closed, agent)) = self
                .store
                .finish(conversation_id, ConversationState::Closed, self.now())
                .await?
            else {
                return self.view(conversation).await;
            };
            self.announce_state(&closed);
            if let Some(agent) = agent {
                self.hub.publish(
                    &Topic::Agent(agent.id.clone()),
                    &Event::Unassigned {
                        conversation_id: closed.id.clone(),
                        reason: "customer_closed",
                    },
                );
            }
            closed
        };
        self.dispatch().await?;
        self.announce_queue().await?;
        self.view(conversation).await
    }

    /// One rating per ended conversation that an agent handled.
    pub async fn rate(
        &self,
        conversation_id: &str,
        rating: RatingValue,
        reasons: Vec<RatingReason>,
        comment: Option<String>,
    ) -> Result<ConversationView, ApiError> {
        let _turn = self.lock_conversation(conversation_id).await;
        let mut conversation = self.conversation(conversation_id).await?;
        if !matches!(
            conversation.state,
            ConversationState::Resolved | ConversationState::FollowUp
        ) {
            return Err(ApiError::conflict(
                "not_resolved",
                "only a resolved conversation can be rated",
            ));
        }
        if conversation.rating.is_some() {
            return Err(ApiError::conflict(
                "already_rated",
                "this conversation was rated already",
            ));
        }
        conversation.rating = Some(Rating {
            rating,
            reasons,
            comment,
            created_at: self.now(),
        });
        conversation.updated_at = self.now();
        self.store.put_conversation(&conversation).await?;
        self.emit(
            "rating.created",
            serde_json::json!({
                "conversation_id": conversation.id,
                "agent_id": conversation.assignee.as_ref().map(|a| a.id.clone()),
                "rating": conversation.rating,
            }),
        )
        .await;
        if rating == RatingValue::Disappointed {
            // What the bot answered did not satisfy: those answers need another look.
            let transcript = self.store.messages(conversation_id, 0, usize::MAX).await?;
            for question in answered_questions(&transcript) {
                self.record_gap(conversation_id, &question, GapReason::RatedBadly)
                    .await;
            }
        }
        self.view(conversation).await
    }

    pub async fn create_agent(&self, new: NewAgent) -> Result<(Agent, String), ApiError> {
        let agent = Agent {
            id: format!("agt_{}", uuid::Uuid::new_v4().simple()),
            name: new.name,
            role: new.role,
            skills: new.skills,
            max_concurrent: new.max_concurrent,
            presence: router::Presence::Offline,
            active: Vec::new(),
            last_assigned_at: None,
            missed_accepts: 0,
            created_at: self.now(),
        };
        let token = auth::new_token("agt");
        self.store.put_agent(&agent).await?;
        self.store
            .put_token(
                &auth::hash_token(&token),
                &TokenOwner::Agent {
                    agent_id: agent.id.clone(),
                },
            )
            .await?;
        Ok((agent, token))
    }

    pub async fn agent(&self, id: &str) -> Result<Agent, ApiError> {
        self.store
            .get_agent(id)
            .await?
            .ok_or(ApiError::NotFound("agent"))
    }

    /// Changes an agent's profile or presence. New skills, room or presence may match someone
    /// waiting, so a routing pass follows.
    pub async fn update_agent(&self, agent_id: &str, patch: AgentPatch) -> Result<Agent, ApiError> {
        self.store
            .patch_agent(agent_id, patch)
            .await?
            .ok_or(ApiError::NotFound("agent"))?;
        self.dispatch().await?;
        self.announce_queue().await?;
        self.agent(agent_id).await
    }

    /// Changes an agent's presence; an agent coming online may take waiting conversations.
    pub async fn set_presence(
        &self,
        agent_id: &str,
        presence: router::Presence,
    ) -> Result<Agent, ApiError> {
        self.update_agent(
            agent_id,
            AgentPatch {
                presence: Some(presence),
                ..AgentPatch::default()
            },
        )
        .await
    }

    /// Deletes an agent holding no conversation; its tokens stop working.
    pub async fn delete_agent(&self, agent_id: &str) -> Result<(), ApiError> {
        match self.store.delete_idle_agent(agent_id).await? {
            Ok(true) => Ok(()),
            Ok(false) => Err(ApiError::NotFound("agent")),
            Err(held) => Err(ApiError::conflict(
                "agent_busy",
                format!("the agent holds {held} conversations; resolve or transfer them first"),
            )),
        }
    }

    /// The conversations an agent holds now, with their views.
    pub async fn agent_conversations(
        &self,
        agent: &Agent,
    ) -> Result<Vec<ConversationView>, ApiError> {
        let mut out = Vec::new();
        for id in &agent.active {
            if let Some(c) = self.store.get_conversation(id).await? {
                out.push(self.view(c).await?);
            }
        }
        Ok(out)
    }

    /// The `assigned` events an agent's socket replays on connect: one per held conversation.
    pub async fn assigned_events(&self, agent: &Agent) -> Result<Vec<Event>, ApiError> {
        let mut out = Vec::new();
        for view in self.agent_conversations(agent).await? {
            let context = self.context(&view.conversation).await?;
            out.push(Event::Assigned {
                conversation_id: view.conversation.id.clone(),
                conversation: view,
                context: Box::new(context),
            });
        }
        Ok(out)
    }
}

/// Each customer message with the bot's reply to it.
fn bot_replies(transcript: &[Message]) -> impl Iterator<Item = (&Message, &bot::BotMeta)> {
    transcript.windows(2).filter_map(|pair| {
        let (question, reply) = (&pair[0], &pair[1]);
        let meta = reply.bot.as_ref()?;
        (question.author.role == AuthorRole::Customer).then_some((question, meta))
    })
}

/// The last question the bot left open before a handoff: one it could not answer, leaving
/// out requests for a person, which are not questions for the knowledge base.
fn open_question(transcript: &[Message]) -> Option<String> {
    bot_replies(transcript)
        .filter(|(_, meta)| match meta.decision {
            bot::DecisionKind::Clarify => true,
            bot::DecisionKind::Handoff => meta.intent != models::Intent::HumanAgent,
            bot::DecisionKind::Answer => false,
        })
        .last()
        .map(|(q, _)| q.text.clone())
}

/// The questions the bot answered.
fn answered_questions(transcript: &[Message]) -> Vec<String> {
    bot_replies(transcript)
        .filter(|(_, meta)| meta.decision == bot::DecisionKind::Answer)
        .map(|(q, _)| q.text.clone())
        .collect()
}

fn bot_author() -> Author {
    Author {
        role: AuthorRole::Bot,
        id: None,
        name: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, role: AuthorRole, text: &str) -> Message {
        Message {
            id: id.to_owned(),
            conversation_id: "conv_1".to_owned(),
            seq: 1,
            author: Author {
                role,
                id: None,
                name: None,
            },
            text: text.to_owned(),
            created_at: chrono::Utc::now(),
            client_message_id: None,
            bot: None,
        }
    }

    #[test]
    fn the_transcript_carries_the_kept_analysis_of_each_customer_line() {
        let kept = std::sync::Mutex::new(lru::LruCache::new(
            std::num::NonZeroUsize::new(4).expect("non-zero"),
        ));
        let analyzed = std::sync::Arc::new(bot::AnalyzedLine::of("多久发货"));
        // Kept under message ids; a bot line's id never gets a customer's analysis.
        kept.lock()
            .expect("unpoisoned")
            .put("msg_a".to_owned(), std::sync::Arc::clone(&analyzed));
        kept.lock()
            .expect("unpoisoned")
            .put("msg_b".to_owned(), std::sync::Arc::clone(&analyzed));
        let messages = [
            message("msg_a", AuthorRole::Customer, "多久发货"),
            message("msg_b", AuthorRole::Bot, "48小时内"),
            message("msg_c", AuthorRole::Customer, "包邮吗"),
        ];
        let lines = transcript(&kept, &messages);
        assert_eq!(lines[0].analyzed.as_deref(), Some(analyzed.as_ref()));
        assert_eq!(lines[1].analyzed, None);
        assert_eq!(lines[2].analyzed, None, "not kept: analysed by the bot");
        assert_eq!(lines[2].text, "包邮吗");
    }
}
