use super::openapi as doc;
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

/// Who the customer is; all optional (an anonymous customer sends nothing).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerIn {
    /// The shop's own customer id (at most 128 characters).
    external_id: Option<String>,
    name: Option<String>,
    /// `zh-CN`, `zh-TW` or `en`.
    #[schema(value_type = Option<String>, example = "zh-CN")]
    locale: Option<Locale>,
    /// Counts only for a verified (signed) customer.
    vip: Option<bool>,
    /// Hex HMAC-SHA256(shop secret, `external_id`): the customer is verified and linked to
    /// their history and tags.
    signature: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = CreateConversation)]
pub struct CreateIn {
    #[serde(default)]
    customer: CustomerIn,
    channel: Option<Channel>,
    #[serde(default)]
    context: PageContext,
}

#[utoipa::path(
    post,
    path = "/v1/conversations",
    operation_id = "conversations_create",
    tag = "conversations",
    description = "A customer starts a conversation (the widget, or a shop's server for `channel: api`). No authentication: the answer carries the customer token for the conversation's other routes. Rate-limited per client address. A `signature` that does not verify, or one sent while the shop secret is not set, is a 401. Honours `Idempotency-Key` (409 `request_in_progress`, 422 `idempotency_key_reused`).",
    params(
        doc::IdempotencyKey,
    ),
    request_body = CreateIn,
    responses(
        (status = 201, description = "The conversation and the customer token (shown once)", body = doc::ConversationCreated),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 409, description = "`request_in_progress` (Idempotency-Key)", body = doc::ErrorResponse),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    )
)]
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

#[utoipa::path(
    get,
    path = "/v1/conversations/{id}",
    operation_id = "conversations_get",
    tag = "conversations",
    description = "The conversation with its state, and its queue position and estimated wait when queued. Its own customer, the agent holding it, supervisors, admins, and supervisor or integrator keys.",
    params(
        ("id" = String, Path, description = "The conversation id"),
    ),
    responses(
        (status = 200, description = "The conversation", body = crate::events::ConversationView),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let conversation = state.conversation(&id).await?;
    state.may_read(&principal, &conversation)?;
    Ok(HttpResponse::Ok().json(state.view(conversation).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = NewMessage)]
pub struct MessageIn {
    text: MessageText,
    /// Required to send; a draft checked with `check_only` needs none.
    client_message_id: Option<ClientMessageId>,
}

/// A customer's message, or the reply of the agent holding the conversation.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PostQuery {
    /// Lint an agent's draft with quality inspection; nothing is stored or sent.
    #[serde(default)]
    check_only: bool,
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/messages",
    operation_id = "conversations_post_message",
    tag = "conversations",
    description = "The conversation's customer (while the bot holds it, `replies` carries the bot's answer), or the agent holding it (the reply goes out; quality-inspection `warnings` come back with it). A repeated `client_message_id` returns the original message and stores nothing. With `check_only=true` the holding agent lints a draft: 200 with the warnings, nothing stored or sent. 409 `conversation_ended` (closed) or `not_assigned` (the agent no longer holds it); 429 per conversation or per agent. Honours `Idempotency-Key` (409 `request_in_progress`, 422 `idempotency_key_reused`).",
    params(
        ("id" = String, Path, description = "The conversation id"),
        PostQuery,
        doc::IdempotencyKey,
    ),
    request_body = MessageIn,
    responses(
        (status = 201, description = "The stored message, the bot's replies and the conversation", body = crate::service::Posted),
        (status = 200, description = "`check_only=true`: what quality inspection says of the draft", body = doc::DraftCheck),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, description = "`conversation_ended`, `not_assigned` or `request_in_progress`", body = doc::ErrorResponse),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Messages after this `seq` (the previous page's `next_cursor`); 0 when absent.
    after_seq: Option<u64>,
    /// 1 to 500; 100 when absent.
    limit: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/v1/conversations/{id}/messages",
    operation_id = "conversations_list_messages",
    tag = "conversations",
    description = "The transcript, oldest first, a page at a time (`next_cursor` is the last `seq`, for `after_seq`). Whoever may read the conversation (see `GET /v1/conversations/{id}`).",
    params(
        ("id" = String, Path, description = "The conversation id"),
        PageQuery,
    ),
    responses(
        (status = 200, description = "A page of messages", body = doc::Page<crate::domain::Message>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/handoff",
    operation_id = "conversations_handoff",
    tag = "conversations",
    description = "The conversation's customer asks for a person; already queued or assigned answers as it is. 409 `conversation_ended`. Honours `Idempotency-Key` (409 `request_in_progress`, 422 `idempotency_key_reused`).",
    params(
        ("id" = String, Path, description = "The conversation id"),
        doc::IdempotencyKey,
    ),
    responses(
        (status = 200, description = "The conversation, queued or assigned", body = crate::events::ConversationView),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, description = "`conversation_ended` or `request_in_progress`", body = doc::ErrorResponse),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn handoff(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.conversation(&id).await?;
    state.require_customer(&principal, &id)?;
    Ok(HttpResponse::Ok().json(state.request_handoff(&id).await?))
}

#[utoipa::path(
    get,
    path = "/v1/conversations/{id}/context",
    operation_id = "conversations_context",
    tag = "conversations",
    description = "The handoff context: summary, customer with tags and earlier conversations, intents, entities, sentiment, bot attempts, handoff reasons, required skills, priority, notes and the transcript. The agent holding the conversation, supervisors, admins, and supervisor or integrator keys; never customers. 404 also when the conversation was never handed off.",
    params(
        ("id" = String, Path, description = "The conversation id"),
    ),
    responses(
        (status = 200, description = "The handoff context", body = crate::events::ContextView),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    get,
    path = "/v1/conversations/{id}/routing",
    operation_id = "conversations_routing",
    tag = "conversations",
    description = "Every routing decision and event for the conversation, with the candidates considered and the parts of their scores. Admins and supervisors (accounts or keys).",
    params(
        ("id" = String, Path, description = "The conversation id"),
    ),
    responses(
        (status = 200, description = "The routing records, oldest first", body = doc::Items<crate::domain::RoutingRecord>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn routing(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_overseer()?;
    state.conversation(&id).await?;
    Ok(HttpResponse::Ok().json(json!({"items": state.store.routing(&id).await?})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = Resolve)]
pub struct ResolveIn {
    outcome: Outcome,
    #[allow(dead_code)]
    note: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/resolve",
    operation_id = "conversations_resolve",
    tag = "conversations",
    description = "The agent holding the conversation, or a supervisor or admin, ends it as `resolved` or `follow_up`; a resolved one may invite the customer to rate it. 409 `not_assigned`. Honours `Idempotency-Key` (409 `request_in_progress`, 422 `idempotency_key_reused`).",
    params(
        ("id" = String, Path, description = "The conversation id"),
        doc::IdempotencyKey,
    ),
    request_body = ResolveIn,
    responses(
        (status = 200, description = "The ended conversation", body = crate::events::ConversationView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, description = "`not_assigned` or `request_in_progress`", body = doc::ErrorResponse),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
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

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = NewRating)]
pub struct RatingIn {
    rating: RatingValue,
    #[serde(default)]
    reasons: Vec<RatingReason>,
    /// At most 1000 characters.
    comment: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/rating",
    operation_id = "conversations_rating",
    tag = "conversations",
    description = "The conversation's customer rates it once, after an agent resolved it. 409 `not_resolved` or `already_rated`. Honours `Idempotency-Key` (409 `request_in_progress`, 422 `idempotency_key_reused`).",
    params(
        ("id" = String, Path, description = "The conversation id"),
        doc::IdempotencyKey,
    ),
    request_body = RatingIn,
    responses(
        (status = 201, description = "The conversation with its rating", body = crate::events::ConversationView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, description = "`not_resolved`, `already_rated` or `request_in_progress`", body = doc::ErrorResponse),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/close",
    operation_id = "conversations_close",
    tag = "conversations",
    description = "The conversation's customer leaves; an agent holding it is told and freed. Closing an ended conversation answers it as it is. Honours `Idempotency-Key` (409 `request_in_progress`, 422 `idempotency_key_reused`).",
    params(
        ("id" = String, Path, description = "The conversation id"),
        doc::IdempotencyKey,
    ),
    responses(
        (status = 200, description = "The closed conversation", body = crate::events::ConversationView),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, description = "`request_in_progress` (Idempotency-Key)", body = doc::ErrorResponse),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn close(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.conversation(&id).await?;
    state.require_customer(&principal, &id)?;
    Ok(HttpResponse::Ok().json(state.close(&id).await?))
}

/// Exactly one of `skill` and `agent_id`, and a note for the next agent.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = Transfer)]
#[serde(deny_unknown_fields)]
pub struct TransferIn {
    skill: Option<String>,
    agent_id: Option<String>,
    /// Not blank, at most 2000 characters.
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

#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/transfer",
    operation_id = "conversations_transfer",
    tag = "conversations",
    description = "The agent holding the conversation, or a supervisor or admin, sends it back to the queue for a skill or to one agent, with a note. 404 for an unknown `agent_id`; 409 `not_assigned`, `same_agent`, `agent_unavailable` or `no_agent_with_skill`. Honours `Idempotency-Key` (409 `request_in_progress`, 422 `idempotency_key_reused`).",
    params(
        ("id" = String, Path, description = "The conversation id"),
        doc::IdempotencyKey,
    ),
    request_body = TransferIn,
    responses(
        (status = 200, description = "The conversation after the transfer", body = crate::events::ConversationView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, description = "`not_assigned`, `same_agent`, `agent_unavailable`, `no_agent_with_skill` or `request_in_progress`", body = doc::ErrorResponse),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
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

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = Escalate)]
#[serde(deny_unknown_fields)]
pub struct EscalateIn {
    /// Not blank, at most 2000 characters.
    note: String,
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/escalate",
    operation_id = "conversations_escalate",
    tag = "conversations",
    description = "The agent holding the conversation, or a supervisor or admin, hands it to a supervisor with a note. 409 `not_assigned` or `no_supervisor`. Honours `Idempotency-Key` (409 `request_in_progress`, 422 `idempotency_key_reused`).",
    params(
        ("id" = String, Path, description = "The conversation id"),
        doc::IdempotencyKey,
    ),
    request_body = EscalateIn,
    responses(
        (status = 200, description = "The conversation after the escalation", body = crate::events::ConversationView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, description = "`not_assigned`, `no_supervisor` or `request_in_progress`", body = doc::ErrorResponse),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
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
