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
#[derive(Serialize)]
pub struct AgentView {
    id: String,
    name: String,
    role: AgentRole,
    skills: BTreeSet<String>,
    max_concurrent: u32,
    status: router::Presence,
    load: usize,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIn {
    name: String,
    #[serde(default)]
    skills: Vec<String>,
    max_concurrent: Option<u32>,
    role: Option<AgentRole>,
}

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

pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = resolve_id(&principal, &id)?;
    self_or_overseer(&principal, &id)?;
    Ok(HttpResponse::Ok().json(AgentView::from(state.agent(&id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateIn {
    name: Option<String>,
    skills: Option<Vec<String>>,
    max_concurrent: Option<u32>,
    role: Option<AgentRole>,
}

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

pub async fn delete(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    state.delete_agent(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub struct PresenceIn {
    status: router::Presence,
}

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
