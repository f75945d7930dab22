//! Routing in the gateway: the router's decisions applied to the store, and everything that
//! moves a conversation between people — accept timeouts, lost agents, transfers and
//! escalations — plus the queue place and estimated wait every waiting customer is told.
//!
//! The router (`router` crate) decides on a snapshot; each decision is claimed atomically in
//! the store (a claim that finds the state changed is stale and the pass runs again), so two
//! processes never assign one conversation twice. Whatever takes a conversation back from an
//! agent is one atomic `requeue` step that checks the agent still holds it.

use crate::domain::{
    Agent, AgentRole, Conversation, ConversationState, HandoverNote, NewMessage, RoutingEvent,
    RoutingRecord,
};
use crate::error::ApiError;
use crate::events::{ConversationView, Event, QueueView};
use crate::hub::Topic;
use crate::service::system_author;
use crate::state::AppState;
use crate::store::{Claim, QueueEntry};
use chrono::{DateTime, Duration, Utc};
use models::Language;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// The handle time assumed before any conversation was resolved, seconds.
pub const DEFAULT_HANDLE_SECS: f64 = 300.0;
/// How many recent handle times the estimate averages.
const HANDLE_WINDOW: usize = 100;
/// The most routing passes one dispatch runs while decisions keep going stale (other
/// processes claiming at the same time).
const MAX_ROUTING_PASSES: usize = 16;
/// The longest transfer or escalation note, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

/// The agent a customer talked to last, for stickiness.
#[derive(Debug, Serialize, Deserialize)]
struct RecentAgent {
    agent_id: String,
    at: DateTime<Utc>,
}

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    Skill(String),
    Agent(String),
}

impl TransferTarget {
    fn label(&self) -> String {
        match self {
            TransferTarget::Skill(skill) => format!("skill:{skill}"),
            TransferTarget::Agent(id) => format!("agent:{id}"),
        }
    }
}

/// Why a conversation leaves its agent for the queue.
enum Handback {
    AcceptTimeout,
    AgentLost,
    Transfer(TransferTarget),
    Escalate,
}

impl AppState {
    /// The key a customer's recent agent is kept under: the verified customer, or else just
    /// this conversation (a reopened conversation goes back to its agent).
    fn customer_key(conversation: &Conversation) -> String {
        match (
            &conversation.customer.external_id,
            conversation.customer.verified,
        ) {
            (Some(external), true) => format!("recent_agent:ext:{external}"),
            _ => format!("recent_agent:conv:{}", conversation.id),
        }
    }

    async fn recent_agent(
        &self,
        conversation: &Conversation,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, ApiError> {
        let Some(raw) = self
            .store
            .get_meta(&Self::customer_key(conversation))
            .await?
        else {
            return Ok(None);
        };
        let Ok(recent) = serde_json::from_str::<RecentAgent>(&raw) else {
            return Ok(None);
        };
        let window = Duration::hours(i64::from(self.settings.routing.stickiness_hours));
        Ok((now - recent.at <= window).then_some(recent.agent_id))
    }

    async fn remember_agent(
        &self,
        conversation: &Conversation,
        agent_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let recent = RecentAgent {
            agent_id: agent_id.to_owned(),
            at: now,
        };
        let json = serde_json::to_string(&recent).map_err(|e| ApiError::Internal(e.into()))?;
        self.store
            .put_meta(&Self::customer_key(conversation), &json)
            .await?;
        Ok(())
    }

    /// The queue entry of a conversation handed off at `handed_off_at`: the language is a
    /// must-have, the intent's specialty and the VIP preference relax as it waits; value,
    /// anger and SLA from the handoff package; the customer's recent agent for stickiness.
    pub(crate) async fn queue_entry(
        &self,
        conversation: &Conversation,
        context: &bot::HandoffContext,
        handed_off_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<QueueEntry, ApiError> {
        let policy = &self.settings.routing;
        let language = context.language.skill().to_owned();
        let mut entry = QueueEntry::new(
            conversation.id.clone(),
            BTreeSet::from([language.clone()]),
            handed_off_at,
        );
        for skill in &context.required_skills {
            if *skill == language {
                continue;
            }
            let relax_after_secs = if skill == "vip" {
                policy.vip_relax_secs
            } else {
                policy.specialty_relax_secs
            };
            entry.preferred.push(router::Preference {
                skill: skill.clone(),
                relax_after_secs,
            });
        }
        entry.value_tier = u8::from(context.vip);
        entry.anger = context
            .sentiment_trend
            .iter()
            .copied()
            .fold(0.0f32, f32::max);
        entry.sla_secs = if context.vip {
            policy.vip_sla_secs
        } else {
            policy.sla_secs
        };
        entry.sticky_agent = self.recent_agent(conversation, now).await?;
        Ok(entry)
    }

    /// Routes until no decision goes stale: snapshot, decide, claim each decision atomically.
    pub async fn dispatch(&self) -> Result<(), ApiError> {
        let _routing = self.routing_lock.lock().await;
        // A decision goes stale when another process claimed or changed its conversation or
        // agent after the snapshot; the pass then runs again on a fresh one, or a free seat
        // could stay empty next to a waiting customer until some later event.
        for _ in 0..MAX_ROUTING_PASSES {
            if !self.routing_pass().await? {
                return Ok(());
            }
        }
        tracing::warn!(
            passes = MAX_ROUTING_PASSES,
            "routing decisions kept going stale; the next event routes again"
        );
        Ok(())
    }

    /// One snapshot, its decisions and their claims; true when a decision went stale.
    async fn routing_pass(&self) -> Result<bool, ApiError> {
        let queue = self.store.queue().await?;
        if queue.is_empty() {
            return Ok(false);
        }
        let agents = self.store.list_agents().await?;
        let snapshot = router::Snapshot {
            agents: agents.iter().map(Agent::router_state).collect(),
            queue,
        };
        let now = self.now();
        let started = std::time::Instant::now();
        let decisions = router::assign(&snapshot, now);
        self.metrics
            .decision_seconds
            .observe(started.elapsed().as_secs_f64());
        self.metrics.routing_passes.inc();
        let mut stale = false;
        for decision in decisions {
            match self
                .store
                .claim(&decision.conversation_id, &decision.agent_id, now)
                .await?
            {
                Claim::Claimed {
                    conversation,
                    agent,
                } => {
                    self.metrics
                        .count_assignment(decision.rule, !decision.relaxed.is_empty());
                    self.store
                        .push_routing(
                            &conversation.id,
                            &RoutingRecord {
                                at: now,
                                event: RoutingEvent::Assigned,
                                agent_id: agent.id.clone(),
                                rule: Some(decision.rule),
                                score: Some(decision.score),
                                relaxed: decision.relaxed,
                                candidates: decision.candidates,
                                target: None,
                                note: None,
                            },
                        )
                        .await?;
                    self.remember_agent(&conversation, &agent.id, now).await?;
                    self.on_assigned(*conversation, &agent).await?;
                }
                Claim::Stale => {
                    tracing::debug!(conversation_id = %decision.conversation_id, "routing decision went stale");
                    self.metrics.stale_decisions.inc();
                    stale = true;
                }
            }
        }
        Ok(stale)
    }

    async fn on_assigned(&self, conversation: Conversation, agent: &Agent) -> Result<(), ApiError> {
        tracing::info!(conversation_id = %conversation.id, agent_id = %agent.id, "assigned");
        self.forget_announcement(&conversation.id);
        let greeting = match conversation.customer.locale.language() {
            Language::Zh => format!(
                "客服「{}」已接入，正在查看您之前的对话，请稍候。",
                agent.name
            ),
            Language::En => format!(
                "{} has joined and is reading your conversation so far.",
                agent.name
            ),
        };
        // The customer hears of the agent before the agent's first reply can arrive.
        self.announce_state(&conversation);
        self.emit(
            "conversation.assigned",
            serde_json::json!({
                "conversation_id": conversation.id,
                "agent": {"id": agent.id, "name": agent.name},
                "conversation": conversation,
            }),
        )
        .await;
        let without_agent = Conversation {
            assignee: None,
            ..conversation.clone()
        };
        let (notice, _) = self
            .append(
                &without_agent,
                NewMessage {
                    created_at: self.now(),
                    author: system_author(),
                    text: greeting,
                    client_message_id: None,
                    bot: None,
                },
            )
            .await?;
        let context = self.context(&conversation).await?;
        let event = Event::Assigned {
            conversation_id: conversation.id.clone(),
            conversation: ConversationView {
                conversation: conversation.clone(),
                queue: None,
            },
            context: Box::new(context),
        };
        self.hub.publish_keyed(
            &Topic::Agent(agent.id.clone()),
            &event,
            Some((&conversation.id, notice.seq)),
        );
        Ok(())
    }

    /// The estimated wait at 1-based `position`, from the online seats, the free ones and the
    /// recent handle times.
    fn estimate(&self, position: usize, agents: &[Agent]) -> u64 {
        let (mut seats, mut free) = (0u32, 0u32);
        for agent in agents
            .iter()
            .filter(|a| a.presence == router::Presence::Online)
        {
            let load = u32::try_from(agent.active.len()).unwrap_or(u32::MAX);
            seats = seats.saturating_add(agent.max_concurrent);
            free = free.saturating_add(agent.max_concurrent.saturating_sub(load));
        }
        router::estimated_wait(position, seats, free, self.mean_handle_secs())
    }

    fn mean_handle_secs(&self) -> f64 {
        let times = self
            .handle_times
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if times.is_empty() {
            DEFAULT_HANDLE_SECS
        } else {
            times.iter().sum::<f64>() / times.len() as f64
        }
    }

    /// Remembers how long an agent held a conversation that just ended.
    pub(crate) fn record_handle_time(&self, conversation: &Conversation, now: DateTime<Utc>) {
        let Some(assigned_at) = conversation.assigned_at else {
            return;
        };
        let secs = (now - assigned_at).num_milliseconds().max(0) as f64 / 1000.0;
        let mut times = self
            .handle_times
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        times.push_back(secs);
        while times.len() > HANDLE_WINDOW {
            times.pop_front();
        }
    }

    /// The queue place and estimated wait of a queued conversation.
    pub(crate) async fn queue_view(
        &self,
        conversation_id: &str,
    ) -> Result<Option<QueueView>, ApiError> {
        let queue = self.store.queue().await?;
        let Some(position) = router::queue_position(&queue, conversation_id) else {
            return Ok(None);
        };
        let agents = self.store.list_agents().await?;
        Ok(Some(QueueView {
            position,
            eta_seconds: self.estimate(position, &agents),
        }))
    }

    fn forget_announcement(&self, conversation_id: &str) {
        self.announced
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(conversation_id);
    }

    /// Tells every queued customer whose place or estimated wait changed.
    pub async fn announce_queue(&self) -> Result<(), ApiError> {
        let queue = self.store.queue().await?;
        let agents = if queue.is_empty() {
            Vec::new()
        } else {
            self.store.list_agents().await?
        };
        let mut changed = Vec::new();
        {
            let mut announced = self
                .announced
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut now_queued: HashMap<String, (usize, u64)> = HashMap::new();
            for (i, waiting) in router::queue_order(&queue).into_iter().enumerate() {
                let place = (i + 1, self.estimate(i + 1, &agents));
                if announced.get(&waiting.conversation_id) != Some(&place) {
                    changed.push((waiting.conversation_id.clone(), place));
                }
                now_queued.insert(waiting.conversation_id.clone(), place);
            }
            *announced = now_queued;
        }
        for (conversation_id, (position, eta_seconds)) in changed {
            self.hub.publish(
                &Topic::Conversation(conversation_id.clone()),
                &Event::Queue {
                    conversation_id,
                    position,
                    eta_seconds,
                },
            );
        }
        Ok(())
    }

    /// Time-driven routing, run by every process every tick: agents who let the accept
    /// timeout pass lose their new conversations, relaxed preferences are routed again, and
    /// the queue's places and estimates are refreshed.
    pub async fn tick(&self) -> Result<(), ApiError> {
        let now = self.now();
        let timeout = Duration::seconds(i64::from(self.settings.routing.accept_timeout_secs));
        for agent in self.store.list_agents().await? {
            for conversation_id in &agent.active {
                let Some(conversation) = self.store.get_conversation(conversation_id).await? else {
                    continue;
                };
                let overdue = conversation.state == ConversationState::Assigned
                    && conversation.accepted_at.is_none()
                    && conversation
                        .assigned_at
                        .is_some_and(|at| now - at >= timeout);
                if overdue {
                    self.hand_back(&conversation, &agent, Handback::AcceptTimeout, None)
                        .await?;
                }
            }
        }
        self.dispatch().await?;
        self.announce_queue().await
    }

    /// One of an agent's sockets closed: after the grace period, with none open again, the
    /// agent is lost. Only sockets on this process count (see the README's Redis notes).
    pub async fn agent_disconnected(&self, agent_id: &str) {
        let grace =
            std::time::Duration::from_secs(u64::from(self.settings.routing.disconnect_grace_secs));
        tokio::time::sleep(grace).await;
        if self.hub.listeners(&Topic::Agent(agent_id.to_owned())) > 0 {
            return;
        }
        if let Err(error) = self.agent_lost(agent_id).await {
            tracing::warn!(agent_id, %error, "could not take back a lost agent's conversations");
        }
    }

    /// An agent whose sockets stayed away past the grace period: away, and every conversation
    /// it holds back to the front of the queue.
    pub async fn agent_lost(&self, agent_id: &str) -> Result<(), ApiError> {
        let Some(agent) = self.store.get_agent(agent_id).await? else {
            return Ok(());
        };
        if !matches!(
            agent.presence,
            router::Presence::Online | router::Presence::Draining
        ) {
            return Ok(());
        }
        tracing::warn!(
            agent_id,
            "agent connection lost past the grace period; set away"
        );
        self.metrics.agents_lost.inc();
        let agent = self
            .store
            .patch_agent(
                agent_id,
                crate::domain::AgentPatch {
                    presence: Some(router::Presence::Away),
                    ..Default::default()
                },
            )
            .await?
            .unwrap_or(agent);
        for conversation_id in agent.active.clone() {
            if let Some(conversation) = self.store.get_conversation(&conversation_id).await? {
                self.hand_back(&conversation, &agent, Handback::AgentLost, None)
                    .await?;
            }
        }
        self.dispatch().await?;
        self.announce_queue().await
    }

    /// The holding agent (or a supervisor) transfers a conversation to a skill or an agent.
    pub async fn transfer(
        &self,
        principal: &crate::auth::Principal,
        conversation_id: &str,
        target: TransferTarget,
        note: String,
    ) -> Result<ConversationView, ApiError> {
        let (conversation, holder) = self.held_for_handback(principal, conversation_id).await?;
        match &target {
            TransferTarget::Agent(id) => {
                let to = self
                    .store
                    .get_agent(id)
                    .await?
                    .ok_or(ApiError::NotFound("agent"))?;
                if to.id == holder.id {
                    return Err(ApiError::conflict(
                        "same_agent",
                        "the conversation is already with this agent",
                    ));
                }
                let room = to.presence == router::Presence::Online
                    && to.active.len() < to.max_concurrent as usize;
                if !room {
                    return Err(ApiError::conflict(
                        "agent_unavailable",
                        format!("{} is not online with a free seat", to.name),
                    ));
                }
            }
            TransferTarget::Skill(skill) => {
                let agents = self.store.list_agents().await?;
                if !agents
                    .iter()
                    .any(|a| a.id != holder.id && a.skills.contains(skill))
                {
                    return Err(ApiError::conflict(
                        "no_agent_with_skill",
                        format!("no other agent has the skill {skill:?}"),
                    ));
                }
            }
        }
        self.metrics.transfers.inc();
        self.hand_back(
            &conversation,
            &holder,
            Handback::Transfer(target),
            Some(note),
        )
        .await?;
        self.dispatch().await?;
        self.announce_queue().await?;
        self.view(self.conversation(conversation_id).await?).await
    }

    /// The holding agent escalates a conversation to a supervisor.
    pub async fn escalate(
        &self,
        principal: &crate::auth::Principal,
        conversation_id: &str,
        note: String,
    ) -> Result<ConversationView, ApiError> {
        let (conversation, holder) = self.held_for_handback(principal, conversation_id).await?;
        let agents = self.store.list_agents().await?;
        if !agents
            .iter()
            .any(|a| a.id != holder.id && a.role == AgentRole::Supervisor)
        {
            return Err(ApiError::conflict(
                "no_supervisor",
                "there is no supervisor to escalate to",
            ));
        }
        self.metrics.escalations.inc();
        self.hand_back(&conversation, &holder, Handback::Escalate, Some(note))
            .await?;
        self.dispatch().await?;
        self.announce_queue().await?;
        self.view(self.conversation(conversation_id).await?).await
    }

    /// The assigned conversation and its agent, when `principal` may hand it on.
    async fn held_for_handback(
        &self,
        principal: &crate::auth::Principal,
        conversation_id: &str,
    ) -> Result<(Conversation, Agent), ApiError> {
        let conversation = self.conversation(conversation_id).await?;
        let holder_id = conversation.assignee.as_ref().map(|a| a.id.clone());
        if !(principal.is_overseer()
            || (principal.agent_id().is_some() && principal.agent_id() == holder_id.as_deref()))
        {
            return Err(ApiError::Forbidden(
                "only the assigned agent or a supervisor may hand this conversation on",
            ));
        }
        let (ConversationState::Assigned, Some(holder_id)) = (conversation.state, holder_id) else {
            return Err(ApiError::conflict(
                "not_assigned",
                "only an assigned conversation can be transferred or escalated",
            ));
        };
        let holder = self
            .store
            .get_agent(&holder_id)
            .await?
            .ok_or(ApiError::NotFound("agent"))?;
        Ok((conversation, holder))
    }

    /// Takes a conversation back from `agent` into the queue, at the front, with the reason
    /// recorded, the agent told and the customer told.
    async fn hand_back(
        &self,
        conversation: &Conversation,
        agent: &Agent,
        why: Handback,
        note: Option<String>,
    ) -> Result<(), ApiError> {
        let now = self.now();
        let Some(mut stored) = self.store.get_context(&conversation.id).await? else {
            return Ok(());
        };
        let handed_off_at = conversation.handed_off_at.unwrap_or(now);
        let mut entry = self
            .queue_entry(conversation, &stored.bot, handed_off_at, now)
            .await?;
        entry.returned = true;
        let earlier = self.store.routing(&conversation.id).await?;
        let mut excluded: Vec<String> = earlier
            .iter()
            .filter(|r| r.event != RoutingEvent::Assigned)
            .map(|r| r.agent_id.clone())
            .collect();
        excluded.push(agent.id.clone());
        excluded.sort();
        excluded.dedup();
        entry.excluded_agents = excluded;
        entry.excluded_until =
            Some(now + Duration::seconds(i64::from(self.settings.routing.exclusion_secs)));
        let (event, target, kind) = match &why {
            Handback::AcceptTimeout => (RoutingEvent::AcceptTimeout, None, None),
            Handback::AgentLost => (RoutingEvent::AgentLost, None, None),
            Handback::Transfer(target) => {
                match target {
                    TransferTarget::Skill(skill) => {
                        entry.required_skills.insert(skill.clone());
                    }
                    TransferTarget::Agent(id) => entry.target_agent = Some(id.clone()),
                }
                (
                    RoutingEvent::Transferred,
                    Some(target.label()),
                    Some("transfer"),
                )
            }
            Handback::Escalate => {
                entry.supervisor_only = true;
                (
                    RoutingEvent::Escalated,
                    Some("supervisor".to_owned()),
                    Some("escalate"),
                )
            }
        };
        let missed = event == RoutingEvent::AcceptTimeout;
        let Some((requeued, _)) = self.store.requeue(&entry, &agent.id, missed, now).await? else {
            // The agent no longer holds it (resolved, closed or taken back meanwhile).
            return Ok(());
        };
        if missed {
            self.metrics.accept_timeouts.inc();
        }
        if let (Some(kind), Some(note)) = (kind, note.as_ref()) {
            stored.notes.push(HandoverNote {
                at: now,
                from_agent_id: agent.id.clone(),
                from_agent_name: agent.name.clone(),
                kind: kind.to_owned(),
                target: target.clone().unwrap_or_default(),
                note: note.clone(),
            });
            self.store.put_context(&conversation.id, &stored).await?;
        }
        self.store
            .push_routing(
                &conversation.id,
                &RoutingRecord {
                    at: now,
                    event,
                    agent_id: agent.id.clone(),
                    rule: None,
                    score: None,
                    relaxed: Vec::new(),
                    candidates: Vec::new(),
                    target,
                    note,
                },
            )
            .await?;
        tracing::info!(conversation_id = %conversation.id, agent_id = %agent.id, ?event, "conversation back in the queue");
        self.hub.publish(
            &Topic::Agent(agent.id.clone()),
            &Event::Unassigned {
                conversation_id: conversation.id.clone(),
                reason: event.as_str(),
            },
        );
        let text = match conversation.customer.locale.language() {
            Language::Zh => "正在为您转接其他客服，请稍候，您无需重复问题。",
            Language::En => {
                "We are connecting you with another colleague; you won't need to repeat yourself."
            }
        };
        self.append(
            &requeued,
            NewMessage {
                created_at: self.now(),
                author: system_author(),
                text: text.to_owned(),
                client_message_id: None,
                bot: None,
            },
        )
        .await?;
        self.announce_state(&requeued);
        Ok(())
    }
}
