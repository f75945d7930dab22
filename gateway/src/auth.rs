//! Who is calling: bearer tokens and the principals they stand for.
//!
//! Tokens are 32 random bytes, hex-encoded, handed out once; the store keeps only their
//! SHA-256. A WebSocket cannot set headers from a browser, so `?token=` is accepted too.

use crate::domain::{AgentRole, ApiKeyRole, TokenOwner};
use crate::error::ApiError;
use crate::state::{lock, AppState};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::pin::Pin;

/// A new random token.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Admin,
    Agent {
        agent_id: String,
        role: AgentRole,
    },
    Customer {
        conversation_id: String,
    },
    /// A supervisor-role API key: oversees like a supervisor, holds no seat.
    Supervisor {
        key_id: String,
    },
    /// An integrator-role API key: reads conversations and the knowledge base.
    Integrator {
        key_id: String,
    },
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::Admin)
    }

    /// Admins and supervisors oversee every conversation and agent.
    pub fn is_overseer(&self) -> bool {
        matches!(
            self,
            Principal::Admin
                | Principal::Supervisor { .. }
                | Principal::Agent {
                    role: AgentRole::Supervisor,
                    ..
                }
        )
    }

    pub fn agent_id(&self) -> Option<&str> {
        match self {
            Principal::Agent { agent_id, .. } => Some(agent_id),
            _ => None,
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("this needs the admin role"))
        }
    }

    /// Anyone but a customer: agents, overseers and integrators read the knowledge base.
    pub fn require_staff(&self) -> Result<(), ApiError> {
        match self {
            Principal::Customer { .. } => Err(ApiError::Forbidden(
                "this is for the service team and integrators",
            )),
            _ => Ok(()),
        }
    }

    pub fn require_overseer(&self) -> Result<(), ApiError> {
        if self.is_overseer() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this needs the admin or supervisor role",
            ))
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        return Some(token.trim().to_owned());
    }
    web::Query::<TokenQuery>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().token)
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Resolves a token to its principal. Tokens of deleted agents stop working.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let hash = hash_token(token);
    // Customer tokens are never revoked, so a remembered one needs no store read.
    if let Some(conversation_id) = lock(&state.customer_tokens).get(&hash) {
        return Ok(Principal::Customer {
            conversation_id: conversation_id.clone(),
        });
    }
    let owner = state
        .store
        .get_token(&hash)
        .await?
        .ok_or(ApiError::Unauthorized("invalid token"))?;
    Ok(match owner {
        TokenOwner::Admin => Principal::Admin,
        TokenOwner::Customer { conversation_id } => {
            lock(&state.customer_tokens).put(hash, conversation_id.clone());
            Principal::Customer { conversation_id }
        }
        TokenOwner::ApiKey { key_id } => {
            let key = state
                .store
                .get_api_key(&key_id)
                .await?
                .ok_or(ApiError::Unauthorized("invalid token"))?;
            state
                .check_key_rate(&key_id)
                .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
            match key.role {
                ApiKeyRole::Admin => Principal::Admin,
                ApiKeyRole::Supervisor => Principal::Supervisor { key_id },
                ApiKeyRole::Integrator => Principal::Integrator { key_id },
            }
        }
        TokenOwner::Agent { agent_id } => {
            let agent = state
                .store
                .get_agent(&agent_id)
                .await?
                .ok_or(ApiError::Unauthorized("invalid token"))?;
            Principal::Agent {
                agent_id,
                role: agent.role,
            }
        }
    })
}

impl FromRequest for Principal {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token.ok_or(ApiError::Unauthorized("missing bearer token"))?;
            let state = state
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("application state missing")))?;
            Ok(authenticate(&state, &token).await?)
        })
    }
}

/// Whether `signature` is the hex HMAC-SHA256 of `external_id` under the shop's `secret`,
/// compared in constant time.
pub fn verify_customer(secret: &str, external_id: &str, signature: &str) -> bool {
    use hmac::{Hmac, Mac};
    let Ok(expected) = hex::decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(external_id.as_bytes());
    mac.verify_slice(&expected).is_ok()
}

/// The signature a shop puts on a customer id (what [`verify_customer`] accepts).
pub fn sign_customer(secret: &str, external_id: &str) -> String {
    use hmac::{Hmac, Mac};
    match Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(external_id.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}
