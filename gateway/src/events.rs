//! What goes over the wire: WebSocket frames and the views of records the contract promises.
//!
//! Only the gateway knows these shapes; the domain crates return plain Rust values and the
//! conversions live here.

use crate::domain::{Assignee, AuthorRole, Conversation, ConversationState, Customer, Message};
use serde::{Deserialize, Serialize};

/// A queued conversation's place, as the customer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct QueueView {
    pub position: usize,
    pub eta_seconds: u64,
}

/// A conversation as the contract shows it: the record plus its live queue place.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConversationView {
    #[serde(flatten)]
    pub conversation: Conversation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueView>,
}

/// The customer's part of the handoff package.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ContextCustomer {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub tags: Vec<String>,
    pub vip: bool,
    pub locale: String,
    pub verified: bool,
    /// Earlier conversations of a verified customer (linked by `external_id`), newest first.
    pub previous_conversations: Vec<crate::customers::PreviousConversation>,
}

impl From<&Customer> for ContextCustomer {
    fn from(c: &Customer) -> Self {
        ContextCustomer {
            id: c.id.clone(),
            name: c.name.clone(),
            tags: c.tags.clone(),
            vip: c.vip,
            locale: c.locale.as_str().to_owned(),
            verified: c.verified,
            previous_conversations: Vec::new(),
        }
    }
}

/// The handoff context an agent reads (`GET /v1/conversations/{id}/context`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ContextView {
    pub conversation_id: String,
    pub summary: String,
    pub customer: ContextCustomer,
    /// The customer's messages while the bot held the conversation.
    pub questions: Vec<String>,
    /// Intent labels (`order_status`, `return_refund`, ...).
    #[schema(value_type = Vec<String>)]
    pub intents: Vec<models::Intent>,
    /// `order_ids`, `phones`, `amounts`, `emails`, `tracking_numbers`.
    #[schema(value_type = Object)]
    pub entities: bot::Entities,
    /// `{"question", "article_id", "answer"}` for each answer the bot gave.
    #[schema(value_type = Vec<Object>)]
    pub bot_attempts: Vec<bot::BotAttempt>,
    /// Why it went to a person (`explicit_request`, `customer_button`, `anger`, ...).
    #[schema(value_type = Vec<String>)]
    pub handoff_reasons: Vec<bot::HandoffReason>,
    pub required_skills: Vec<String>,
    pub priority: i64,
    /// `zh` or `en`.
    #[schema(value_type = String)]
    pub language: models::Language,
    pub handed_off_at: chrono::DateTime<chrono::Utc>,
    /// Notes left by earlier agents with a transfer or an escalation, oldest first.
    pub notes: Vec<crate::domain::HandoverNote>,
    /// Where the customer was when they started, as the page said.
    pub page: crate::domain::PageContext,
    pub transcript: Vec<Message>,
}

/// Server → client WebSocket events. Every one names its conversation.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Message {
        conversation_id: String,
        message: Message,
    },
    State {
        conversation_id: String,
        state: ConversationState,
        #[serde(skip_serializing_if = "Option::is_none")]
        assignee: Option<Assignee>,
    },
    Queue {
        conversation_id: String,
        position: usize,
        eta_seconds: u64,
    },
    Typing {
        conversation_id: String,
        role: AuthorRole,
    },
    RatingRequest {
        conversation_id: String,
    },
    /// To an agent: a conversation is now theirs, with everything they need.
    Assigned {
        conversation_id: String,
        conversation: ConversationView,
        context: Box<ContextView>,
    },
    /// To an agent: a conversation is no longer theirs.
    Unassigned {
        conversation_id: String,
        reason: &'static str,
    },
    /// A frame the client sent could not be processed; the socket stays open.
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        conversation_id: Option<String>,
        error: ErrorBody,
    },
}

/// An error: a stable snake_case `code` integrators match on, and a human `message`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// The largest WebSocket frame (and aggregated message) a client may send; a larger one
/// closes the socket with 1009.
pub const MAX_WS_FRAME_BYTES: usize = 64 * 1024;

/// Client → server WebSocket frames.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Message {
        /// Agents name the conversation; a customer's socket has only one.
        #[serde(default)]
        conversation_id: Option<String>,
        text: crate::domain::MessageText,
        client_message_id: crate::domain::ClientMessageId,
    },
    Typing {
        #[serde(default)]
        conversation_id: Option<String>,
    },
}

impl ClientFrame {
    /// Reads one text frame: the JSON shape, and the text and `client_message_id` limits of
    /// [`crate::domain::MessageText`] and [`crate::domain::ClientMessageId`].
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}
