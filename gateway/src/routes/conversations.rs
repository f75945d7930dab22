use crate::auth::Principal;
use crate::domain::{
    Channel, ClientMessageId, Locale, MessageText, PageContext, RatingReason, RatingValue,
};
use crate::error::ApiError;
use crate::routing::{TransferTarget, MAX_NOTE_CHARS};
use crate::service::{NewConversation, Outcome, MAX_PAGE};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CustomerIn {
    external_id: Option<String>,
    name: Option<String>,
    locale: Option<Locale>,
    vip: Option<bool>,
    signature: Option<String>,
}

#[derive(Deserialize)]
pub struct CreateIn {
    #[serde(default)]
    customer: CustomerIn,
    channel: Option<Channel>,
    #[serde(default)]
    context: PageContext,
}

pub async fn create(
    state: web::Data<AppState>,
    request: actix_web::HttpRequest,
    body: web::Json<CreateIn>,
) -> Result<HttpResponse, ApiError> {
    // New conversations per client address: the peer's own address, unless the gateway is
    // told it sits behind a proxy (a header is a claim any direct client could forge).
    let address = if state.settings.trust_forwarded {
        request
            .connection_info()
            .realip_remote_addr()
            .map(str::to_owned)
            .unwrap_or_default()
    } else {
        request
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default()
    };
    state
        .check_conversation_rate(&address)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let body = body.into_inner();
    for (field, value, max) in [
        ("customer.external_id", &body.customer.external_id, 128),
        ("customer.name", &body.customer.name, 128),
        ("context.order_id", &body.context.order_id, 64),
        ("context.page_url", &body.context.page_url, 2048),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > max) {
            return Err(ApiError::Invalid(format!(
                "{field} is longer than {max} characters"
            )));
        }
    }
    // A signed customer is verified: linked to their history, and their `vip` counts.
    let verified = match (&body.customer.signature, &body.customer.external_id) {
        (None, _) => false,
        (Some(_), None) => {
            return Err(ApiError::Invalid(
                "customer.signature needs customer.external_id".into(),
            ))
        }
        (Some(signature), Some(external_id)) => {
            let Some(secret) = state.settings.shop_secret.as_deref() else {
                return Err(ApiError::Unauthorized(
                    "customer signatures cannot be checked: the shop secret is not set",
                ));
            };
            if !crate::auth::verify_customer(secret, external_id, signature) {
                return Err(ApiError::Unauthorized("invalid customer signature"));
            }
            true
        }
    };
    let (conversation, token) = state
        .start_conversation(NewConversation {
            verified,
            vip: verified && body.customer.vip.unwrap_or(false),
            external_id: body.customer.external_id,
            name: body.customer.name,
            locale: body.customer.locale,
            channel: body.channel.unwrap_or(Channel::Widget),
            context: body.context,
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({"conversation": conversation, "token": token})))
}

pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let conversation = state.conversation(&id).await?;
    state.may_read(&principal, &conversation)?;
    Ok(HttpResponse::Ok().json(state.view(conversation).await?))
}

#[derive(Deserialize)]
pub struct MessageIn {
    text: MessageText,
    /// Required to send; a draft checked with `check_only` needs none.
    client_message_id: Option<ClientMessageId>,
}

/// A customer's message, or the reply of the agent holding the conversation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostQuery {
    /// Lint an agent's draft with quality inspection; nothing is stored or sent.
    #[serde(default)]
    check_only: bool,
}

pub async fn post_message(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    query: web::Query<PostQuery>,
    body: web::Json<MessageIn>,
) -> Result<HttpResponse, ApiError> {
    let MessageIn {
        text,
        client_message_id,
    } = body.into_inner();
    if query.check_only {
        let Principal::Agent { agent_id, .. } = &principal else {
            return Err(ApiError::Forbidden(
                "only the agent holding the conversation may check a draft",
            ));
        };
        let warnings = state.check_agent_draft(agent_id, &id, &text).await?;
        return Ok(HttpResponse::Ok().json(json!({"warnings": warnings})));
    }
    let client_message_id = client_message_id.ok_or_else(|| {
        ApiError::Invalid("missing field `client_message_id`: every message needs one".into())
    })?;
    let posted = match &principal {
        Principal::Customer { .. } => {
            state.require_customer(&principal, &id)?;
            state.customer_message(&id, text, client_message_id).await?
        }
        Principal::Agent { agent_id, .. } => {
            state
                .agent_message(agent_id, &id, text, client_message_id)
                .await?
        }
        Principal::Admin | Principal::Supervisor { .. } | Principal::Integrator { .. } => {
            return Err(ApiError::Forbidden(
                "only the customer and the agent holding it write in a conversation",
            ))
        }
    };
    Ok(HttpResponse::Created().json(posted))
}

#[derive(Deserialize)]
pub struct PageQuery {
    after_seq: Option<u64>,
    limit: Option<usize>,
}

pub async fn list_messages(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let conversation = state.conversation(&id).await?;
    state.may_read(&principal, &conversation)?;
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let after = query.after_seq.unwrap_or(0);
    // One more than asked tells whether there is a next page.
    let mut items = state.store.messages(&id, after, limit + 1).await?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|m| m.seq.to_string())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": next_cursor})))
}

pub async fn handoff(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.conversation(&id).await?;
    state.require_customer(&principal, &id)?;
    Ok(HttpResponse::Ok().json(state.request_handoff(&id).await?))
}

pub async fn context(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let conversation = state.conversation(&id).await?;
    if matches!(principal, Principal::Customer { .. }) {
        return Err(ApiError::Forbidden("the handoff context is for agents"));
    }
    state.may_read(&principal, &conversation)?;
    Ok(HttpResponse::Ok().json(state.context(&conversation).await?))
}

pub async fn routing(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_overseer()?;
    state.conversation(&id).await?;
    Ok(HttpResponse::Ok().json(json!({"items": state.store.routing(&id).await?})))
}

#[derive(Deserialize)]
pub struct ResolveIn {
    outcome: Outcome,
    #[allow(dead_code)]
    note: Option<String>,
}

pub async fn resolve(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: web::Json<ResolveIn>,
) -> Result<HttpResponse, ApiError> {
    if matches!(principal, Principal::Customer { .. }) {
        return Err(ApiError::Forbidden(
            "customers close conversations with /close",
        ));
    }
    state.conversation(&id).await?;
    Ok(HttpResponse::Ok().json(state.resolve(&principal, &id, body.outcome).await?))
}

#[derive(Deserialize)]
pub struct RatingIn {
    rating: RatingValue,
    #[serde(default)]
    reasons: Vec<RatingReason>,
    comment: Option<String>,
}

pub async fn rating(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: web::Json<RatingIn>,
) -> Result<HttpResponse, ApiError> {
    state.conversation(&id).await?;
    state.require_customer(&principal, &id)?;
    let RatingIn {
        rating,
        reasons,
        comment,
    } = body.into_inner();
    if comment.as_ref().is_some_and(|c| c.chars().count() > 1000) {
        return Err(ApiError::Invalid(
            "comment is longer than 1000 characters".into(),
        ));
    }
    Ok(HttpResponse::Created().json(state.rate(&id, rating, reasons, comment).await?))
}

pub async fn close(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.conversation(&id).await?;
    state.require_customer(&principal, &id)?;
    Ok(HttpResponse::Ok().json(state.close(&id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferIn {
    skill: Option<String>,
    agent_id: Option<String>,
    note: String,
}

/// A transfer or escalation note: trimmed, not empty, at most [`MAX_NOTE_CHARS`].
fn note(text: &str) -> Result<String, ApiError> {
    let note = text.trim();
    if note.is_empty() {
        return Err(ApiError::Invalid(
            "note must say what the next agent should know".into(),
        ));
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::Invalid(format!(
            "note is longer than {MAX_NOTE_CHARS} characters"
        )));
    }
    Ok(note.to_owned())
}

pub async fn transfer(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: web::Json<TransferIn>,
) -> Result<HttpResponse, ApiError> {
    if matches!(principal, Principal::Customer { .. }) {
        return Err(ApiError::Forbidden(
            "customers cannot transfer conversations",
        ));
    }
    state.conversation(&id).await?;
    let TransferIn {
        skill,
        agent_id,
        note: text,
    } = body.into_inner();
    let target = match (skill, agent_id) {
        (Some(skill), None) if !skill.trim().is_empty() => {
            TransferTarget::Skill(skill.trim().to_owned())
        }
        (None, Some(agent)) if !agent.trim().is_empty() => {
            TransferTarget::Agent(agent.trim().to_owned())
        }
        _ => {
            return Err(ApiError::Invalid(
                "give exactly one of skill or agent_id".into(),
            ))
        }
    };
    let note = note(&text)?;
    Ok(HttpResponse::Ok().json(state.transfer(&principal, &id, target, note).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalateIn {
    note: String,
}

pub async fn escalate(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: web::Json<EscalateIn>,
) -> Result<HttpResponse, ApiError> {
    if matches!(principal, Principal::Customer { .. }) {
        return Err(ApiError::Forbidden(
            "customers cannot escalate conversations",
        ));
    }
    state.conversation(&id).await?;
    let note = note(&body.note)?;
    Ok(HttpResponse::Ok().json(state.escalate(&principal, &id, note).await?))
}
