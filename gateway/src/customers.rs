//! Customers across conversations: tags that follow them to every agent, and their earlier
//! conversations in the handoff package.
//!
//! A verified customer (the shop signed their `external_id`) keeps one id for life,
//! derived from the `external_id`, so their tags and history are found again in every new
//! conversation. An anonymous customer's id is new with each conversation, so their tags
//! stay with that conversation. Tags are one stored record per customer (replaced whole by
//! `PUT /v1/customers/{id}/tags`); conversations are appended to a per-customer log, so two
//! conversations starting at once both land.

use crate::domain::{Conversation, ConversationState};
use crate::error::ApiError;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The most tags a customer has, and the longest tag.
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 32;
/// How many earlier conversations the package shows, and how many are remembered.
pub const PREVIOUS_SHOWN: usize = 5;
const REMEMBERED: usize = 50;

fn tags_key(customer_id: &str) -> String {
    format!("customer_tags:{customer_id}")
}

fn conversations_log(customer_id: &str) -> String {
    format!("customer_conversations:{customer_id}")
}

/// The lifelong id of a verified customer: the same `external_id` gives the same id.
pub fn verified_customer_id(external_id: &str) -> String {
    let digest = Sha256::digest(external_id.as_bytes());
    format!("cust_v{}", &hex::encode(digest)[..24])
}

/// Trims, drops empties and duplicates, and checks the bounds.
pub fn clean_tags(tags: Vec<String>) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_owned();
        if tag.is_empty() || out.contains(&tag) {
            continue;
        }
        if tag.chars().count() > MAX_TAG_CHARS {
            return Err(format!("a tag has at most {MAX_TAG_CHARS} characters"));
        }
        out.push(tag);
    }
    if out.len() > MAX_TAGS {
        return Err(format!("a customer has at most {MAX_TAGS} tags"));
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Started {
    conversation_id: String,
    at: DateTime<Utc>,
}

/// An earlier conversation as the handoff package shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PreviousConversation {
    pub id: String,
    pub state: ConversationState,
    pub created_at: DateTime<Utc>,
    /// The bot's summary of the earlier handoff, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Who last held it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// A customer as `GET /v1/customers/{id}` shows them.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    pub id: String,
    pub tags: Vec<String>,
    pub conversations: Vec<PreviousConversation>,
}

impl AppState {
    /// The customer's tags: their stored record, or none yet.
    pub async fn customer_tags(&self, customer_id: &str) -> Result<Vec<String>, ApiError> {
        match self.store.get_meta(&tags_key(customer_id)).await? {
            Some(json) => serde_json::from_str(&json).map_err(|e| ApiError::Internal(e.into())),
            None => Ok(Vec::new()),
        }
    }

    /// Replaces a customer's tags (agents and overseers). The customer must exist: some
    /// conversation was started by them.
    pub async fn set_customer_tags(
        &self,
        customer_id: &str,
        tags: Vec<String>,
    ) -> Result<Vec<String>, ApiError> {
        let tags = clean_tags(tags).map_err(ApiError::Invalid)?;
        if self
            .store
            .read_log(&conversations_log(customer_id), 1)
            .await?
            .is_empty()
        {
            return Err(ApiError::NotFound("customer"));
        }
        let json = serde_json::to_string(&tags).map_err(|e| ApiError::Internal(e.into()))?;
        self.store.put_meta(&tags_key(customer_id), &json).await?;
        tracing::info!(customer_id, tags = tags.len(), "customer tags replaced");
        Ok(tags)
    }

    /// Remembers that a customer started a conversation.
    pub(crate) async fn note_customer_conversation(
        &self,
        conversation: &Conversation,
    ) -> Result<(), ApiError> {
        let started = Started {
            conversation_id: conversation.id.clone(),
            at: conversation.created_at,
        };
        let json = serde_json::to_string(&started).map_err(|e| ApiError::Internal(e.into()))?;
        self.store
            .push_log(
                &conversations_log(&conversation.customer.id),
                &json,
                REMEMBERED,
            )
            .await?;
        Ok(())
    }

    /// The customer's conversations, newest first, except `except`; at most `limit`.
    pub async fn customer_conversations(
        &self,
        customer_id: &str,
        except: Option<&str>,
        limit: usize,
    ) -> Result<Vec<PreviousConversation>, ApiError> {
        let mut out = Vec::new();
        for json in self
            .store
            .read_log(&conversations_log(customer_id), REMEMBERED)
            .await?
        {
            let started: Started =
                serde_json::from_str(&json).map_err(|e| ApiError::Internal(e.into()))?;
            if Some(started.conversation_id.as_str()) == except {
                continue;
            }
            let Some(conversation) = self
                .store
                .get_conversation(&started.conversation_id)
                .await?
            else {
                continue;
            };
            let summary = self
                .store
                .get_context(&conversation.id)
                .await?
                .map(|c| c.bot.summary);
            out.push(PreviousConversation {
                id: conversation.id,
                state: conversation.state,
                created_at: conversation.created_at,
                summary,
                agent: conversation.assignee.map(|a| a.name),
            });
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    pub async fn customer_view(&self, customer_id: &str) -> Result<CustomerView, ApiError> {
        let conversations = self
            .customer_conversations(customer_id, None, REMEMBERED)
            .await?;
        if conversations.is_empty() {
            return Err(ApiError::NotFound("customer"));
        }
        Ok(CustomerView {
            id: customer_id.to_owned(),
            tags: self.customer_tags(customer_id).await?,
            conversations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verified_customer_keeps_one_id() {
        assert_eq!(verified_customer_id("u-42"), verified_customer_id("u-42"));
        assert_ne!(verified_customer_id("u-42"), verified_customer_id("u-43"));
        assert!(verified_customer_id("u-42").starts_with("cust_v"));
    }

    #[test]
    fn tags_are_trimmed_deduplicated_and_bounded() {
        assert_eq!(
            clean_tags(vec![
                " VIP ".into(),
                "VIP".into(),
                "".into(),
                "退货多".into()
            ]),
            Ok(vec!["VIP".to_owned(), "退货多".to_owned()])
        );
        assert!(clean_tags(vec!["x".repeat(MAX_TAG_CHARS + 1)]).is_err());
        assert!(clean_tags((0..=MAX_TAGS).map(|i| i.to_string()).collect()).is_err());
    }
}
