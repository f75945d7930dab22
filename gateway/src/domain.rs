//! The gateway's records: conversations, messages, agents, customers and the queue.
//!
//! These are what the store keeps; the wire shapes the contract promises are built from them
//! in `routes::dto`. Values that arrive from outside are parsed into the newtypes here
//! ([`MessageText`], [`Locale`]), so a handler body never sees an invalid one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The longest customer or agent message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// The longest `client_message_id`.
pub const MAX_CLIENT_ID_CHARS: usize = 128;

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    /// The bot holds it.
    Bot,
    /// Handed off, waiting for an agent.
    Queued,
    /// An agent holds it.
    Assigned,
    /// An agent resolved it.
    Resolved,
    /// An agent ended it with something still to do.
    FollowUp,
    /// The customer closed it.
    Closed,
}

impl ConversationState {
    /// Whether the conversation is over: no more messages, ratings allowed when resolved.
    pub fn is_ended(self) -> bool {
        matches!(self, Self::Resolved | Self::FollowUp | Self::Closed)
    }
}

/// A shop locale: `zh-CN`, `zh-TW` or `en`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Locale {
    ZhCn,
    ZhTw,
    En,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::ZhTw => "zh-TW",
            Locale::En => "en",
        }
    }

    pub fn language(self) -> models::Language {
        models::Language::from_locale(self.as_str())
    }
}

impl TryFrom<String> for Locale {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.to_ascii_lowercase().as_str() {
            "zh-cn" | "zh" | "zh-hans" => Ok(Locale::ZhCn),
            "zh-tw" | "zh-hk" | "zh-hant" => Ok(Locale::ZhTw),
            "en" | "en-us" | "en-gb" => Ok(Locale::En),
            _ => Err(format!(
                "unsupported locale {value:?}: use zh-CN, zh-TW or en"
            )),
        }
    }
}

impl From<Locale> for String {
    fn from(value: Locale) -> Self {
        value.as_str().to_owned()
    }
}

/// A message body: trimmed, not empty, at most [`MAX_MESSAGE_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(
    value_type = String,
    description = "A message body: trimmed, not empty, at most 4000 characters.",
    example = "Where is my order?"
)]
pub struct MessageText(String);

impl MessageText {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MessageText {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err("text must not be empty".into());
        }
        let chars = trimmed.chars().count();
        if chars > MAX_MESSAGE_CHARS {
            return Err(format!(
                "text has {chars} characters; the limit is {MAX_MESSAGE_CHARS}"
            ));
        }
        Ok(MessageText(trimmed.to_owned()))
    }
}

impl From<MessageText> for String {
    fn from(value: MessageText) -> Self {
        value.0
    }
}

/// A client's id for a message it sends, so that a retry never stores it twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(
    value_type = String,
    description = "The client's id for a message (1 to 128 characters): a retry with the same id never stores it twice.",
    example = "c-1f3a"
)]
pub struct ClientMessageId(String);

impl ClientMessageId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientMessageId {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.is_empty() || value.chars().count() > MAX_CLIENT_ID_CHARS {
            return Err(format!(
                "client_message_id must have 1 to {MAX_CLIENT_ID_CHARS} characters"
            ));
        }
        Ok(ClientMessageId(value))
    }
}

impl From<ClientMessageId> for String {
    fn from(value: ClientMessageId) -> Self {
        value.0
    }
}

/// The customer of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `zh-CN`, `zh-TW` or `en`.
    #[schema(value_type = String, example = "zh-CN")]
    pub locale: Locale,
    /// Only a verified customer can be VIP; anonymous customers never are.
    pub vip: bool,
    pub verified: bool,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The agent holding a conversation, as customers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assignee {
    pub id: String,
    pub name: String,
}

/// A customer's rating of a resolved conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rating {
    pub rating: RatingValue,
    #[serde(default)]
    pub reasons: Vec<RatingReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RatingValue {
    Satisfied,
    Neutral,
    Disappointed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RatingReason {
    Attitude,
    Unresolved,
    Slow,
    Other,
}

/// Where a conversation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Widget,
    Api,
}

/// What the page told us when the conversation started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PageContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
}

/// A conversation between one customer and the shop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Conversation {
    pub id: String,
    pub state: ConversationState,
    pub customer: Customer,
    pub channel: Channel,
    #[serde(default)]
    pub context: PageContext,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<Assignee>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the bot handed the conversation to people; first response time counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_off_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
    /// Messages after the handoff that repeated a question the customer had asked the bot.
    #[serde(default)]
    pub repeats_after_handoff: u32,
    /// When the current agent was given the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_at: Option<DateTime<Utc>>,
    /// When the current agent first answered; until then the accept timeout runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<DateTime<Utc>>,
    /// The first human response after the handoff (the SLA's measure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_at: Option<DateTime<Utc>>,
    /// When it ended (resolved, follow-up or closed by the customer); a later rating does not
    /// move it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthorRole {
    Customer,
    Bot,
    Agent,
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Author {
    pub role: AuthorRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One message of a conversation; `seq` is gap-free per conversation, starting at 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    pub seq: u64,
    pub author: Author,
    pub text: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_message_id: Option<String>,
    /// What the bot decided, on the bot's own messages: `decision`, `article_id`, `intent`,
    /// `confidence`, `sentiment`, `reasons` (the bot crate's `BotMeta`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub bot: Option<bot::BotMeta>,
}

/// A message before the store gives it an id and a `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub author: Author,
    /// When it was written (the gateway's clock).
    pub created_at: DateTime<Utc>,
    pub text: String,
    pub client_message_id: Option<String>,
    pub bot: Option<bot::BotMeta>,
}

/// The role an agent account has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentRole {
    Agent,
    Supervisor,
}

/// An agent account, its skills, capacity, presence and current conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub role: AgentRole,
    pub skills: BTreeSet<String>,
    pub max_concurrent: u32,
    pub presence: router::Presence,
    /// The conversations the agent holds now; its load is their number.
    #[serde(default)]
    pub active: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_assigned_at: Option<DateTime<Utc>>,
    /// Conversations the agent let pass the accept timeout.
    #[serde(default)]
    pub missed_accepts: u32,
    pub created_at: DateTime<Utc>,
}

impl Agent {
    pub fn assignee(&self) -> Assignee {
        Assignee {
            id: self.id.clone(),
            name: self.name.clone(),
        }
    }

    /// The agent as the router sees it.
    pub fn router_state(&self) -> router::AgentState {
        router::AgentState {
            id: self.id.clone(),
            skills: self.skills.clone(),
            max_concurrent: self.max_concurrent,
            load: u32::try_from(self.active.len()).unwrap_or(u32::MAX),
            presence: self.presence,
            role: match self.role {
                AgentRole::Agent => router::Role::Agent,
                AgentRole::Supervisor => router::Role::Supervisor,
            },
            last_assigned_at: self.last_assigned_at,
        }
    }
}

/// Who a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TokenOwner {
    Admin,
    Agent {
        agent_id: String,
    },
    Customer {
        conversation_id: String,
    },
    /// An API key; its role is read from the key's record, so a deleted key stops working.
    ApiKey {
        key_id: String,
    },
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyRole {
    /// Everything an admin may do.
    Admin,
    /// Oversee conversations and agents, like a supervisor without a seat.
    Supervisor,
    /// A shop's own systems: read conversations, transcripts, context and the knowledge base.
    Integrator,
}

/// An API key's record; the key itself is shown once and kept only as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub role: ApiKeyRole,
    /// The key's first characters, to tell keys apart in a list.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
}

/// What happened in one routing record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoutingEvent {
    /// The router gave the conversation to `agent_id`.
    #[default]
    Assigned,
    /// `agent_id` did not answer in time; the conversation went back to the queue.
    AcceptTimeout,
    /// `agent_id`'s connection stayed away past the grace period.
    AgentLost,
    /// `agent_id` transferred it (to `target`: a skill or an agent).
    Transferred,
    /// `agent_id` escalated it to a supervisor.
    Escalated,
}

impl RoutingEvent {
    /// The event's wire name, also the `reason` of the agent's `unassigned` event.
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingEvent::Assigned => "assigned",
            RoutingEvent::AcceptTimeout => "accept_timeout",
            RoutingEvent::AgentLost => "agent_lost",
            RoutingEvent::Transferred => "transferred",
            RoutingEvent::Escalated => "escalated",
        }
    }
}

/// One routing decision or event, kept for `GET /v1/conversations/{id}/routing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoutingRecord {
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub event: RoutingEvent,
    pub agent_id: String,
    /// Which rule chose the agent (assignments): `target`, `sticky`, `only_candidate`,
    /// `lowest_load`, `longest_idle` or `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub rule: Option<router::Rule>,
    /// The conversation's priority score in its parts when it was served (assignments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub score: Option<router::ScoreParts>,
    /// Preferred skills dropped by waiting (assignments).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relaxed: Vec<String>,
    /// The agents considered, with the parts of their scores.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub candidates: Vec<router::Candidate>,
    /// Where a transfer went: `skill:NAME` or `agent:ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A note an agent left with a transfer or an escalation, shown to the next agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HandoverNote {
    pub at: DateTime<Utc>,
    pub from_agent_id: String,
    pub from_agent_name: String,
    /// `transfer` or `escalate`.
    pub kind: String,
    /// Where it went: `skill:NAME`, `agent:ID` or `supervisor`.
    pub target: String,
    pub note: String,
}

/// The handoff package as stored: the bot's part, completed with the transcript and the
/// customer's profile when an agent reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredContext {
    pub bot: bot::HandoffContext,
    pub handed_off_at: DateTime<Utc>,
    /// Notes from transfers and escalations, oldest first.
    #[serde(default)]
    pub notes: Vec<HandoverNote>,
}

/// Why a customer question counts as a knowledge-base gap.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// The bot found no confident answer.
    Unanswered,
    /// The conversation went to a person while this question was open.
    HandedOff,
    /// The bot answered it, and the customer later rated the conversation badly.
    RatedBadly,
}

/// One customer question the bot could not answer well.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapRecord {
    pub question: String,
    pub reason: GapReason,
    pub conversation_id: String,
    pub at: DateTime<Utc>,
}

/// A change to an agent's profile or presence; `None` leaves a field as it is. Applied in
/// one store step so it never undoes a concurrent assignment or release.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentPatch {
    pub name: Option<String>,
    pub skills: Option<BTreeSet<String>>,
    pub max_concurrent: Option<u32>,
    pub role: Option<AgentRole>,
    pub presence: Option<router::Presence>,
}

impl AgentPatch {
    pub fn apply(self, agent: &mut Agent) {
        if let Some(name) = self.name {
            agent.name = name;
        }
        if let Some(skills) = self.skills {
            agent.skills = skills;
        }
        if let Some(max) = self.max_concurrent {
            agent.max_concurrent = max;
        }
        if let Some(role) = self.role {
            agent.role = role;
        }
        if let Some(presence) = self.presence {
            agent.presence = presence;
        }
    }
}
