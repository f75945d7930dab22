use super::openapi as doc;
use crate::auth::Principal;
use crate::domain::{Agent, AgentPatch, AgentRole};
use crate::error::ApiError;
use crate::service::NewAgent;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;

/// The largest `max_concurrent` an agent may have.
const MAX_CONCURRENT_LIMIT: u32 = 50;

/// An agent as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Agent)]
pub struct AgentView {
    id: String,
    name: String,
    role: AgentRole,
    skills: BTreeSet<String>,
    max_concurrent: u32,
    #[schema(value_type = super::openapi::Presence)]
    status: router::Presence,
    /// How many conversations the agent holds.
    load: usize,
    /// The ids of the conversations the agent holds.
    conversations: Vec<String>,
    /// When the agent last got a conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_assigned_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Conversations the agent let pass the accept timeout.
    missed_accepts: u32,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Agent> for AgentView {
    fn from(a: Agent) -> Self {
        AgentView {
            load: a.active.len(),
            id: a.id,
            name: a.name,
            role: a.role,
            skills: a.skills,
            max_concurrent: a.max_concurrent,
            status: a.presence,
            conversations: a.active,
            last_assigned_at: a.last_assigned_at,
            missed_accepts: a.missed_accepts,
            created_at: a.created_at,
        }
    }
}

fn parse_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::Invalid(
            "name must have 1 to 64 characters".into(),
        ));
    }
    Ok(name.to_owned())
}

fn parse_skills(skills: Vec<String>) -> Result<BTreeSet<String>, ApiError> {
    let mut out = BTreeSet::new();
    for skill in skills {
        let skill = skill.trim().to_ascii_lowercase();
        let ok = !skill.is_empty()
            && skill.len() <= 32
            && skill
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(ApiError::Invalid(format!(
                "skill {skill:?} must be 1 to 32 of a-z, 0-9, _ or -"
            )));
        }
        out.insert(skill);
    }
    if out.len() > 32 {
        return Err(ApiError::Invalid("an agent has at most 32 skills".into()));
    }
    Ok(out)
}

fn parse_capacity(max: u32) -> Result<u32, ApiError> {
    if max == 0 || max > MAX_CONCURRENT_LIMIT {
        return Err(ApiError::Invalid(format!(
            "max_concurrent must be 1 to {MAX_CONCURRENT_LIMIT}"
        )));
    }
    Ok(max)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = CreateAgent)]
#[serde(deny_unknown_fields)]
pub struct CreateIn {
    /// 1 to 64 characters.
    name: String,
    /// Up to 32 of a-z, 0-9, `_`, `-` (e.g. `aftersales`, `en`, `vip`).
    #[serde(default)]
    skills: Vec<String>,
    /// 1 to 50; 5 when absent.
    max_concurrent: Option<u32>,
    /// `agent` when absent.
    role: Option<AgentRole>,
}

#[utoipa::path(
    post,
    path = "/v1/agents",
    operation_id = "agents_create",
    tag = "agents",
    description = "Admins create an agent account; its token is shown only here. Honours `Idempotency-Key` (409 `request_in_progress`, 422 `idempotency_key_reused`).",
    params(
        doc::IdempotencyKey,
    ),
    request_body = CreateIn,
    responses(
        (status = 201, description = "The agent and its token (shown once)", body = doc::AgentCreated),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 409, description = "`request_in_progress` (Idempotency-Key)", body = doc::ErrorResponse),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateIn>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let body = body.into_inner();
    let (agent, token) = state
        .create_agent(NewAgent {
            name: parse_name(&body.name)?,
            skills: parse_skills(body.skills)?,
            max_concurrent: parse_capacity(body.max_concurrent.unwrap_or(5))?,
            role: body.role.unwrap_or(AgentRole::Agent),
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({"agent": AgentView::from(agent), "token": token})))
}

#[utoipa::path(
    get,
    path = "/v1/agents",
    operation_id = "agents_list",
    tag = "agents",
    description = "Every agent, oldest first. Admins and supervisors (accounts or keys).",
    responses(
        (status = 200, description = "The agents (one page)", body = doc::Page<AgentView>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    principal.require_overseer()?;
    let mut agents = state.store.list_agents().await?;
    agents.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    let items: Vec<AgentView> = agents.into_iter().map(AgentView::from).collect();
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": null})))
}

/// `me` names the calling agent.
fn resolve_id(principal: &Principal, id: &str) -> Result<String, ApiError> {
    if id == "me" {
        return principal
            .agent_id()
            .map(str::to_owned)
            .ok_or(ApiError::Forbidden("only an agent has a `me`"));
    }
    Ok(id.to_owned())
}

/// An agent reads and changes itself; overseers read and change anyone.
fn self_or_overseer(principal: &Principal, id: &str) -> Result<(), ApiError> {
    if principal.is_overseer() || principal.agent_id() == Some(id) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("not your agent account"))
    }
}

#[utoipa::path(
    get,
    path = "/v1/agents/{id}",
    operation_id = "agents_get",
    tag = "agents",
    description = "An agent reads itself (`me` or its id); admins and supervisors read anyone.",
    params(
        ("id" = String, Path, description = "The agent id, or `me` for the calling agent"),
    ),
    responses(
        (status = 200, description = "The agent", body = AgentView),
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
    let id = resolve_id(&principal, &id)?;
    self_or_overseer(&principal, &id)?;
    Ok(HttpResponse::Ok().json(AgentView::from(state.agent(&id).await?)))
}

/// The fields to change; absent ones stay as they are.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = UpdateAgent)]
#[serde(deny_unknown_fields)]
pub struct UpdateIn {
    name: Option<String>,
    skills: Option<Vec<String>>,
    max_concurrent: Option<u32>,
    role: Option<AgentRole>,
}

#[utoipa::path(
    patch,
    path = "/v1/agents/{id}",
    operation_id = "agents_update",
    tag = "agents",
    description = "Admins change an agent's name, skills, capacity or role.",
    params(
        ("id" = String, Path, description = "The agent id"),
    ),
    request_body = UpdateIn,
    responses(
        (status = 200, description = "The changed agent", body = AgentView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: web::Json<UpdateIn>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let body = body.into_inner();
    let patch = AgentPatch {
        name: body.name.as_deref().map(parse_name).transpose()?,
        skills: body.skills.map(parse_skills).transpose()?,
        max_concurrent: body.max_concurrent.map(parse_capacity).transpose()?,
        role: body.role,
        presence: None,
    };
    let agent = state.update_agent(&id, patch).await?;
    Ok(HttpResponse::Ok().json(AgentView::from(agent)))
}

#[utoipa::path(
    delete,
    path = "/v1/agents/{id}",
    operation_id = "agents_delete",
    tag = "agents",
    description = "Admins delete an agent holding no conversation; its token stops working. 409 `agent_busy`.",
    params(
        ("id" = String, Path, description = "The agent id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, description = "`agent_busy`: the agent holds conversations", body = doc::ErrorResponse),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    state.delete_agent(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = SetPresence)]
pub struct PresenceIn {
    #[schema(value_type = super::openapi::Presence)]
    status: router::Presence,
}

#[utoipa::path(
    put,
    path = "/v1/agents/{id}/presence",
    operation_id = "agents_presence",
    tag = "agents",
    description = "An agent sets its own presence (`me` or its id); admins and supervisors set anyone's. An agent coming online may be given waiting conversations.",
    params(
        ("id" = String, Path, description = "The agent id, or `me` for the calling agent"),
    ),
    request_body = PresenceIn,
    responses(
        (status = 200, description = "The agent", body = AgentView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn presence(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: web::Json<PresenceIn>,
) -> Result<HttpResponse, ApiError> {
    let id = resolve_id(&principal, &id)?;
    self_or_overseer(&principal, &id)?;
    Ok(HttpResponse::Ok().json(AgentView::from(state.set_presence(&id, body.status).await?)))
}

#[utoipa::path(
    get,
    path = "/v1/agents/{id}/conversations",
    operation_id = "agents_conversations",
    tag = "agents",
    description = "The conversations an agent holds now. The agent itself (`me` or its id); admins and supervisors for anyone.",
    params(
        ("id" = String, Path, description = "The agent id, or `me` for the calling agent"),
    ),
    responses(
        (status = 200, description = "The held conversations", body = doc::Page<crate::events::ConversationView>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn conversations(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = resolve_id(&principal, &id)?;
    self_or_overseer(&principal, &id)?;
    let agent = state.agent(&id).await?;
    Ok(HttpResponse::Ok()
        .json(json!({"items": state.agent_conversations(&agent).await?, "next_cursor": null})))
}
