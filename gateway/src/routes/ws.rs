//! WebSockets for customers and agents.
//!
//! A socket subscribes to its topic first, then replays from the store, then forwards live
//! events, skipping messages the replay already sent: so nothing falls between the replay
//! and the live stream, and nothing arrives twice.

use super::openapi as doc;
use crate::auth::Principal;
use crate::domain::{AuthorRole, ConversationState};
use crate::error::ApiError;
use crate::events::{ClientFrame, ErrorBody, Event, MAX_WS_FRAME_BYTES};
use crate::hub::{Delivery, Subscription, Topic};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::Session;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// How often the server pings an idle socket.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(20);
/// A socket silent for this long (no pong, no frame) is considered dead and closed.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// On a reconnect: replay the messages after this `seq` first.
    after_seq: Option<u64>,
}

/// An event's JSON text. Callers encode in a statement of its own before awaiting
/// [`send`], so that no `Event` is held across an await: a socket's task is sized by what it
/// holds at its awaits, and it lives as long as the socket.
fn encode(event: &Event) -> Option<String> {
    serde_json::to_string(event).ok()
}

/// Sends an encoded event; false when the socket is closed.
async fn send(session: &mut Session, json: Option<String>) -> bool {
    match json {
        Some(json) => session.text(json).await.is_ok(),
        None => true,
    }
}

fn error_event(conversation_id: Option<String>, error: &ApiError) -> Event {
    Event::Error {
        conversation_id,
        error: ErrorBody {
            code: error.code().to_owned(),
            message: error.to_string(),
        },
    }
}

/// Subscribes to `topic` (refused with 429 past the per-subject socket limit), then completes
/// the WebSocket handshake with the frame size limits.
fn open(
    req: &HttpRequest,
    body: web::Payload,
    state: &AppState,
    topic: Topic,
) -> Result<
    (
        HttpResponse,
        Subscription,
        Session,
        actix_ws::AggregatedMessageStream,
    ),
    actix_web::Error,
> {
    let limit = state.settings.limits.sockets_per_subject;
    let subscription = state
        .hub
        .subscribe(topic, limit)
        .ok_or(ApiError::RateLimited { retry_after: 5 })?;
    let (response, session, stream) = actix_ws::handle(req, body)?;
    let stream = stream
        .max_frame_size(MAX_WS_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_WS_FRAME_BYTES);
    Ok((response, subscription, session, stream))
}

/// Counts an open socket in `/metrics` for as long as it lives.
struct OpenSocket {
    state: web::Data<AppState>,
    side: &'static str,
}

impl OpenSocket {
    fn new(state: &web::Data<AppState>, side: &'static str) -> Self {
        state.metrics.websocket(side, 1);
        Self {
            state: state.clone(),
            side,
        }
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.state.metrics.websocket(self.side, -1);
    }
}

#[utoipa::path(
    get,
    path = "/v1/conversations/{id}/ws",
    operation_id = "ws_customer",
    tag = "conversations",
    description = "The conversation's customer opens a WebSocket (token in `Authorization` or `?token=`). Server → client events, each `{\"type\", \"conversation_id\", ...}`: `message`, `state`, `queue` (`position`, `eta_seconds`), `typing`, `rating_request`, `error`. Client → server: `{\"type\": \"message\", \"text\", \"client_message_id\"}`, `{\"type\": \"typing\"}`. 429 past the per-subject socket limit; 400 when the request is not a WebSocket handshake.",
    params(
        ("id" = String, Path, description = "The conversation id"),
        CustomerQuery,
        ("token" = Option<String>, Query, description = "The bearer token, for browsers that cannot set `Authorization` on a WebSocket"),
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn customer(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    query: web::Query<CustomerQuery>,
) -> Result<HttpResponse, actix_web::Error> {
    let conversation = state.conversation(&id).await?;
    state.require_customer(&principal, &conversation.id)?;
    let (response, subscription, session, stream) = open(
        &req,
        body,
        &state,
        Topic::Conversation(conversation.id.clone()),
    )?;
    let after_seq = query.after_seq;
    // The task keeps the id only: it lives as long as the socket.
    let conversation_id = conversation.id;
    actix_web::rt::spawn(async move {
        let _open = OpenSocket::new(&state, "customer");
        if let Err(error) = customer_session(
            &state,
            subscription,
            session,
            stream,
            conversation_id.clone(),
            after_seq,
        )
        .await
        {
            tracing::debug!(%conversation_id, %error, "customer socket ended");
        }
    });
    Ok(response)
}

async fn customer_session(
    state: &AppState,
    mut subscription: Subscription,
    mut session: Session,
    mut stream: actix_ws::AggregatedMessageStream,
    conversation_id: String,
    after_seq: Option<u64>,
) -> Result<(), anyhow::Error> {
    // Where the conversation stands now, then what was missed. The store calls are boxed and
    // the view lives in a block, so the task does not keep them for the socket's life (see
    // `pump`).
    let (state_json, queue_json) = {
        let conversation = Box::pin(state.conversation(&conversation_id)).await?;
        let view = Box::pin(state.view(conversation)).await?;
        let state_json = encode(&Event::State {
            conversation_id: conversation_id.clone(),
            state: view.conversation.state,
            assignee: view.conversation.assignee.clone(),
        });
        let queue_json = match (view.conversation.state, view.queue) {
            (ConversationState::Queued, Some(q)) => Some(encode(&Event::Queue {
                conversation_id: conversation_id.clone(),
                position: q.position,
                eta_seconds: q.eta_seconds,
            })),
            _ => None,
        };
        (state_json, queue_json)
    };
    let mut sent = HashMap::new();
    if !send(&mut session, state_json).await {
        return Ok(());
    }
    if let Some(json) = queue_json {
        send(&mut session, json).await;
    }
    if let Some(after) = after_seq {
        let Some(last) =
            Box::pin(catch_up(state, &mut session, &conversation_id, after, None)).await?
        else {
            return Ok(());
        };
        sent.insert(conversation_id.clone(), last);
    }
    pump(
        state,
        &mut subscription,
        &mut session,
        &mut stream,
        sent,
        |frame| {
            let conversation_id = conversation_id.clone();
            async move {
                match frame {
                    ClientFrame::Message {
                        text,
                        client_message_id,
                        ..
                    } => state
                        .customer_message(&conversation_id, text, client_message_id)
                        .await
                        .map(|_| ())
                        .map_err(|e| (Some(conversation_id), e)),
                    ClientFrame::Typing { .. } => {
                        if let Ok(conversation) = state.conversation(&conversation_id).await {
                            state.typing(&conversation, AuthorRole::Customer);
                        }
                        Ok(())
                    }
                }
            }
        },
    )
    .await
}

#[utoipa::path(
    get,
    path = "/v1/agents/me/ws",
    operation_id = "ws_agent",
    tag = "agents",
    description = "The calling agent's WebSocket (agent tokens only; in `Authorization` or `?token=`). Server → client events: `assigned` (with the conversation and its full handoff context; replayed on connect for every held conversation), `message`, `state`, `typing`, `unassigned`, `queue_stats`, `error`. Client → server: `{\"type\": \"message\", \"conversation_id\", \"text\", \"client_message_id\"}`, `{\"type\": \"typing\", \"conversation_id\"}`. An agent whose sockets stay away past a grace period is set `away` and its conversations return to the queue. 429 past the per-subject socket limit; 400 when the request is not a WebSocket handshake.",
    params(
        ("token" = Option<String>, Query, description = "The bearer token, for browsers that cannot set `Authorization` on a WebSocket"),
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn agent(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, actix_web::Error> {
    let agent_id = principal
        .agent_id()
        .ok_or(ApiError::Forbidden("this socket is for agents"))?
        .to_owned();
    let agent = state.agent(&agent_id).await?;
    let (response, subscription, session, stream) =
        open(&req, body, &state, Topic::Agent(agent.id.clone()))?;
    actix_web::rt::spawn(async move {
        let open = OpenSocket::new(&state, "agent");
        if let Err(error) = Box::pin(agent_session(
            &state,
            subscription,
            session,
            stream,
            agent_id.clone(),
        ))
        .await
        {
            tracing::debug!(%agent_id, %error, "agent socket ended");
        }
        drop(open);
        // The subscription is gone with the session: if no other socket of the agent's
        // comes back within the grace period, the agent counts as away.
        Box::pin(state.agent_disconnected(&agent_id)).await;
    });
    Ok(response)
}

async fn agent_session(
    state: &AppState,
    mut subscription: Subscription,
    mut session: Session,
    mut stream: actix_ws::AggregatedMessageStream,
    agent_id: String,
) -> Result<(), anyhow::Error> {
    // Every conversation the agent holds, with its full context, as if newly assigned.
    let events = {
        let agent = Box::pin(state.agent(&agent_id)).await?;
        Box::pin(state.assigned_events(&agent)).await?
    };
    let mut sent = HashMap::new();
    let mut replay = Vec::with_capacity(events.len());
    for event in events {
        if let Event::Assigned {
            conversation_id,
            context,
            ..
        } = &event
        {
            let last = context.transcript.last().map_or(0, |m| m.seq);
            sent.insert(conversation_id.clone(), last);
        }
        replay.push(encode(&event));
    }
    for json in replay {
        if !send(&mut session, json).await {
            return Ok(());
        }
    }
    pump(
        state,
        &mut subscription,
        &mut session,
        &mut stream,
        sent,
        |frame| {
            let agent_id = agent_id.clone();
            async move {
                match frame {
                    ClientFrame::Message {
                        conversation_id: Some(conversation_id),
                        text,
                        client_message_id,
                    } => state
                        .agent_message(&agent_id, &conversation_id, text, client_message_id)
                        .await
                        .map(|_| ())
                        .map_err(|e| (Some(conversation_id), e)),
                    ClientFrame::Typing {
                        conversation_id: Some(conversation_id),
                    } => match state.conversation(&conversation_id).await {
                        Ok(c) if c.assignee.as_ref().is_some_and(|a| a.id == agent_id) => {
                            state.typing(&c, AuthorRole::Agent);
                            Ok(())
                        }
                        Ok(_) => Err((
                            Some(conversation_id),
                            ApiError::Forbidden("this conversation is not assigned to you"),
                        )),
                        Err(e) => Err((Some(conversation_id), e)),
                    },
                    _ => Err((
                        None,
                        ApiError::Invalid("agent frames must name a conversation_id".into()),
                    )),
                }
            }
        },
    )
    .await
}

/// Sends the messages of a conversation after `after` (and before `before`, when given)
/// from the store. Returns the last `seq` sent (`after` when there was none), or `None` when
/// the socket closed.
async fn catch_up(
    state: &AppState,
    session: &mut Session,
    conversation_id: &str,
    after: u64,
    before: Option<u64>,
) -> Result<Option<u64>, ApiError> {
    let mut cursor = after;
    loop {
        let wanted = before.map_or(usize::MAX, |b| {
            usize::try_from(b.saturating_sub(cursor + 1)).unwrap_or(usize::MAX)
        });
        if wanted == 0 {
            return Ok(Some(cursor));
        }
        let page = state
            .store
            .messages(
                conversation_id,
                cursor,
                wanted.min(crate::service::MAX_PAGE),
            )
            .await?;
        let Some(last) = page.last().map(|m| m.seq) else {
            return Ok(Some(cursor));
        };
        for message in page {
            let json = encode(&Event::Message {
                conversation_id: conversation_id.to_owned(),
                message,
            });
            if !send(session, json).await {
                return Ok(None);
            }
        }
        cursor = last;
    }
}

/// After events may have been missed: sends, per conversation in `sent`, what the store
/// holds after it. An agent's socket catches up only on the conversations still theirs.
/// Returns false when the socket closed.
async fn resync(
    state: &AppState,
    topic: &Topic,
    session: &mut Session,
    sent: &mut HashMap<String, u64>,
) -> Result<bool, ApiError> {
    if let Topic::Agent(agent_id) = topic {
        let mut held = HashMap::new();
        for (conversation_id, seq) in sent.drain() {
            let conversation = state.conversation(&conversation_id).await?;
            if conversation.assignee.is_some_and(|a| &a.id == agent_id) {
                held.insert(conversation_id, seq);
            }
        }
        *sent = held;
    }
    for (conversation_id, seq) in sent.iter_mut() {
        match catch_up(state, session, conversation_id, *seq, None).await? {
            Some(last) => *seq = last,
            None => return Ok(false),
        }
    }
    Ok(true)
}

/// Forwards live events and handles client frames until either side closes.
///
/// `sent` holds, per conversation, the highest `seq` delivered so far (by a replay, then
/// live). A message whose `seq` is not the next one means some were missed (pub/sub dropped
/// them, or another process's message overtook them): they are read from the store and
/// sent first, so a socket sees every message once and in order. When the store cannot be
/// read, the socket closes and the client replays on reconnect.
///
/// Memory: the socket's task is allocated at the size of the largest state of its future and
/// lives as long as the socket, idle or not. So every call that reads the store or runs the
/// bot is boxed (allocated while it runs, freed after), and no event is held across an await
/// (see [`encode`]): an idle customer socket's task is about 2 KB instead of 9.
async fn pump<F, Fut>(
    state: &AppState,
    subscription: &mut Subscription,
    session: &mut Session,
    stream: &mut actix_ws::AggregatedMessageStream,
    mut sent: HashMap<String, u64>,
    on_frame: F,
) -> Result<(), anyhow::Error>
where
    F: Fn(ClientFrame) -> Fut,
    Fut: std::future::Future<Output = Result<(), (Option<String>, ApiError)>>,
{
    let topic = subscription.topic().clone();
    // Conversations whose `assigned` this socket has sent (by the replay at connect, then
    // live), so that a repeat is skipped and a first one never is.
    let mut announced: HashSet<String> = sent.keys().cloned().collect();
    let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
    let mut last_heard = Instant::now();
    // Why the server ends the socket, when it is the one ending it over a bad frame.
    let mut close_reason: Option<actix_ws::CloseReason> = None;
    loop {
        tokio::select! {
            delivery = subscription.events.recv() => {
                // `None`: the hub dropped this socket as too slow; the client replays on reconnect.
                let outgoing = match delivery {
                    Some(Delivery::Event(outgoing)) => outgoing,
                    Some(Delivery::Resync) => {
                        match Box::pin(resync(state, &topic, session, &mut sent)).await {
                            Ok(true) => continue,
                            Ok(false) => break,
                            Err(error) => {
                                tracing::debug!(%error, "a socket could not resync; closing it");
                                break;
                            }
                        }
                    }
                    None => break,
                };
                if let Some((conversation_id, seq)) = &outgoing.message_key {
                    let done = sent.get(conversation_id.as_ref()).copied();
                    if outgoing.carries_message() {
                        if done.is_some_and(|done| *seq <= done) {
                            continue;
                        }
                        if let Some(done) = done.filter(|done| *seq > done + 1) {
                            match Box::pin(catch_up(state, session, conversation_id, done, Some(*seq))).await {
                                Ok(Some(_)) => {}
                                Ok(None) => break,
                                Err(error) => {
                                    tracing::debug!(%error, "a socket could not fill a gap; closing it");
                                    break;
                                }
                            }
                        }
                    } else {
                        // An agent's `assigned`: skipped only when the replay at connect
                        // already announced it; a message of the conversation that overtook
                        // it (from another process) must not make it skipped.
                        if announced.contains(conversation_id.as_ref())
                            && done.is_some_and(|done| *seq <= done)
                        {
                            continue;
                        }
                        announced.insert(conversation_id.to_string());
                    }
                    sent.insert(conversation_id.to_string(), done.map_or(*seq, |d| d.max(*seq)));
                }
                if Box::pin(session.text(outgoing.json.to_string())).await.is_err() {
                    break;
                }
            }
            frame = stream.recv() => {
                let frame = match frame {
                    Some(Ok(frame)) => frame,
                    Some(Err(error)) => {
                        // A frame over the size limit closes with 1009 (message too big), any
                        // other broken frame with 1002 (protocol error).
                        let code = match error {
                            actix_ws::ProtocolError::Overflow => actix_ws::CloseCode::Size,
                            _ => actix_ws::CloseCode::Protocol,
                        };
                        close_reason = Some(actix_ws::CloseReason {
                            code,
                            description: Some(error.to_string()),
                        });
                        break;
                    }
                    None => break,
                };
                last_heard = Instant::now();
                match frame {
                    actix_ws::AggregatedMessage::Text(text) => {
                        let result = match ClientFrame::parse(&text) {
                            Ok(frame) => Box::pin(on_frame(frame)).await,
                            Err(e) => Err((None, ApiError::Invalid(format!("unreadable frame: {e}")))),
                        };
                        let json = result
                            .err()
                            .map(|(conversation_id, error)| encode(&error_event(conversation_id, &error)));
                        if let Some(json) = json {
                            if !Box::pin(send(session, json)).await {
                                break;
                            }
                        }
                    }
                    actix_ws::AggregatedMessage::Ping(bytes) => {
                        if Box::pin(session.pong(&bytes)).await.is_err() {
                            break;
                        }
                    }
                    actix_ws::AggregatedMessage::Pong(_) => {}
                    actix_ws::AggregatedMessage::Binary(_) => {
                        let json = encode(&error_event(
                            None,
                            &ApiError::Invalid("binary frames are not supported".into()),
                        ));
                        if !Box::pin(send(session, json)).await {
                            break;
                        }
                    }
                    actix_ws::AggregatedMessage::Close(_) => break,
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > CLIENT_TIMEOUT || Box::pin(session.ping(b"")).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = Box::pin(session.clone().close(close_reason)).await;
    Ok(())
}
