//! Who takes which waiting conversation, and why.
//!
//! The router does no I/O. Agents (skills, role, capacity, load, presence) and waiting
//! conversations (must-have and preferred skills, value, anger, SLA, wait) go in; assignments
//! come out, each with the conversation's priority score broken into its parts, the rule that
//! picked the winner and the candidates considered. [`assign`] decides on one snapshot (what
//! the gateway does after every event); [`Router`] keeps the same state indexed so that one
//! decision costs O(log n) in the number of agents and waiting conversations.
//!
//! # The priority score
//!
//! Every waiting conversation has one score, in seconds of waiting it is worth:
//!
//! ```text
//! score = wait + (REFERENCE_SLA − sla) + 60 · value_tier + 120 · anger + 600 · returned
//!       = (REFERENCE_SLA − slack) + 60 · value_tier + 120 · anger + 600 · returned
//! ```
//!
//! where `wait` is the time since the handoff, `sla` the conversation's first-response target
//! (180 s by default, as Chinese marketplaces measure it), `slack = sla − wait` the time left
//! before the target is missed (negative once missed), `value_tier` 0 (everyone), 1 (VIP) or
//! 2, `anger` the peak negativity of the sentiment trend in 0..=1, and `returned` 1 for a
//! conversation that lost its agent (timeout, disconnect, transfer), which goes back to the
//! front. The queue is served highest score first. Every term but `wait` is fixed when the
//! conversation is queued and `wait` grows at the same rate for all, so the order changes only
//! when conversations arrive or leave: the queue is a sorted index on
//! `rank = queued_at − (score − wait)`, never re-sorted as time passes.
//!
//! # The choice of agent
//!
//! An agent can take a conversation when online (not away, offline or draining), below
//! `max_concurrent`, holding every must-have skill (the language skill is always one) and every
//! preferred skill not yet relaxed, a supervisor when the conversation was escalated, the named
//! agent of a transfer, and not an agent who already missed or handed back this conversation.
//! Preferred skills relax step by step as the conversation waits (bullseye routing: e.g. the
//! VIP preference after 10 s, the product specialty after 20 s). Among the agents who can, a
//! returning customer's agent from the last 72 hours wins (stickiness); otherwise the lowest
//! load ratio, then the longest idle, then the smallest id.

mod index;

pub use index::Router;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The SLA every score is measured against, seconds (first human response after handoff).
pub const REFERENCE_SLA_SECS: u32 = 180;
/// Score seconds per value tier.
pub const VALUE_WEIGHT_SECS: f64 = 60.0;
/// Score seconds at full anger.
pub const ANGER_WEIGHT_SECS: f64 = 120.0;
/// Score seconds for a conversation returned to the queue after losing its agent.
pub const RETURNED_BOOST_SECS: f64 = 600.0;

/// Whether an agent takes new conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Away,
    Offline,
    /// Finishes the conversations held, takes no new ones.
    Draining,
}

/// What an agent may be given.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Agent,
    /// Takes escalations as well as ordinary conversations.
    Supervisor,
}

/// The routing settings a shop may change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// First human response target after a handoff.
    pub sla_secs: u32,
    /// First response target for VIP customers.
    pub vip_sla_secs: u32,
    /// When the VIP preference (skill `vip`) is dropped.
    pub vip_relax_secs: u32,
    /// When the product/intent specialty (e.g. `aftersales`) is dropped.
    pub specialty_relax_secs: u32,
    /// How long a customer goes back to the agent they last talked to.
    pub stickiness_hours: u32,
    /// How long a newly assigned agent has to answer before the conversation moves on.
    pub accept_timeout_secs: u32,
    /// How long an agent's socket may be gone before the agent counts as away.
    pub disconnect_grace_secs: u32,
    /// How long an agent who missed or handed back a conversation is not offered it again.
    pub exclusion_secs: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            sla_secs: REFERENCE_SLA_SECS,
            vip_sla_secs: 60,
            vip_relax_secs: 10,
            specialty_relax_secs: 20,
            stickiness_hours: 72,
            accept_timeout_secs: 60,
            disconnect_grace_secs: 30,
            exclusion_secs: 300,
        }
    }
}

/// An agent as the router sees it at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    pub id: String,
    /// Skills such as `aftersales` or the language skills `zh` and `en`.
    pub skills: BTreeSet<String>,
    /// How many conversations the agent handles at once.
    pub max_concurrent: u32,
    /// How many conversations the agent holds now.
    pub load: u32,
    pub presence: Presence,
    #[serde(default)]
    pub role: Role,
    /// When the agent last received a conversation; `None` means never, the longest idle.
    pub last_assigned_at: Option<DateTime<Utc>>,
}

impl AgentState {
    pub fn load_ratio(&self) -> f64 {
        if self.max_concurrent == 0 {
            1.0
        } else {
            f64::from(self.load) / f64::from(self.max_concurrent)
        }
    }

    /// Online with room: may be given something.
    pub fn available(&self) -> bool {
        self.presence == Presence::Online && self.load < self.max_concurrent
    }
}

/// A skill wanted but not required: dropped once the conversation has waited `relax_after_secs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preference {
    pub skill: String,
    pub relax_after_secs: u32,
}

/// A conversation waiting for an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    pub conversation_id: String,
    /// Skills an agent must have; never relaxed (the customer's language, a transfer's skill).
    pub required_skills: BTreeSet<String>,
    /// Skills wanted first, relaxed as the conversation waits.
    #[serde(default)]
    pub preferred: Vec<Preference>,
    /// 0 for everyone, 1 for VIP, 2 for the shop's top tier.
    #[serde(default)]
    pub value_tier: u8,
    /// Peak negativity of the conversation so far, 0..=1.
    #[serde(default)]
    pub anger: f32,
    /// First-response target in seconds after `enqueued_at`.
    #[serde(default = "default_sla")]
    pub sla_secs: u32,
    /// True after the conversation lost an agent: it goes back to the front.
    #[serde(default)]
    pub returned: bool,
    /// The agent this customer talked to recently, preferred when online with room.
    #[serde(default)]
    pub sticky_agent: Option<String>,
    /// A transfer to a named agent: only that agent may take it.
    #[serde(default)]
    pub target_agent: Option<String>,
    /// An escalation: only supervisors may take it.
    #[serde(default)]
    pub supervisor_only: bool,
    /// Agents who missed or handed back this conversation.
    #[serde(default)]
    pub excluded_agents: Vec<String>,
    /// Until when `excluded_agents` are passed over; `None` for always. After it, an agent
    /// who missed the conversation may get it again rather than leave the customer waiting.
    #[serde(default)]
    pub excluded_until: Option<DateTime<Utc>>,
    /// When the conversation was handed off; kept when it returns to the queue.
    pub enqueued_at: DateTime<Utc>,
}

fn default_sla() -> u32 {
    REFERENCE_SLA_SECS
}

/// A conversation's priority score at one instant, in its parts (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreParts {
    pub wait: f64,
    /// Time left before the first-response target; negative once missed.
    pub sla_slack: f64,
    pub value: f64,
    pub anger: f64,
    pub returned: f64,
    pub total: f64,
}

impl Waiting {
    /// A new queue entry with the defaults: no preferences, tier 0, calm, the reference SLA.
    pub fn new(
        conversation_id: impl Into<String>,
        required_skills: BTreeSet<String>,
        enqueued_at: DateTime<Utc>,
    ) -> Self {
        Self {
            conversation_id: conversation_id.into(),
            required_skills,
            preferred: Vec::new(),
            value_tier: 0,
            anger: 0.0,
            sla_secs: REFERENCE_SLA_SECS,
            returned: false,
            sticky_agent: None,
            target_agent: None,
            supervisor_only: false,
            excluded_agents: Vec::new(),
            excluded_until: None,
            enqueued_at,
        }
    }

    /// The part of the score fixed at queueing time, seconds.
    fn bonus_secs(&self) -> f64 {
        f64::from(REFERENCE_SLA_SECS) - f64::from(self.sla_secs)
            + VALUE_WEIGHT_SECS * f64::from(self.value_tier)
            + ANGER_WEIGHT_SECS * f64::from(self.anger.clamp(0.0, 1.0))
            + if self.returned {
                RETURNED_BOOST_SECS
            } else {
                0.0
            }
    }

    /// The queue's sort key in milliseconds: lower is served first. Independent of the time
    /// of asking, so the queue never needs re-sorting.
    pub fn rank(&self) -> i64 {
        self.enqueued_at.timestamp_millis() - (self.bonus_secs() * 1000.0).round() as i64
    }

    /// The score at `now`, in its parts.
    pub fn score(&self, now: DateTime<Utc>) -> ScoreParts {
        let wait = ((now - self.enqueued_at).num_milliseconds().max(0)) as f64 / 1000.0;
        let value = VALUE_WEIGHT_SECS * f64::from(self.value_tier);
        let anger = ANGER_WEIGHT_SECS * f64::from(self.anger.clamp(0.0, 1.0));
        let returned = if self.returned {
            RETURNED_BOOST_SECS
        } else {
            0.0
        };
        let sla_slack = f64::from(self.sla_secs) - wait;
        ScoreParts {
            wait,
            sla_slack,
            value,
            anger,
            returned,
            total: f64::from(REFERENCE_SLA_SECS) - sla_slack + value + anger + returned,
        }
    }

    /// The SLA deadline: when the first human response is due.
    pub fn sla_deadline(&self) -> DateTime<Utc> {
        self.enqueued_at + chrono::Duration::seconds(i64::from(self.sla_secs))
    }

    /// The skills an agent needs at `now`: the must-haves and the preferences not yet relaxed.
    pub fn effective_skills(&self, now: DateTime<Utc>) -> BTreeSet<String> {
        let mut skills = self.required_skills.clone();
        for p in &self.preferred {
            if now < self.relax_at(p) {
                skills.insert(p.skill.clone());
            }
        }
        skills
    }

    /// The preferred skills already dropped at `now`.
    pub fn relaxed_skills(&self, now: DateTime<Utc>) -> Vec<String> {
        self.preferred
            .iter()
            .filter(|p| now >= self.relax_at(p) && !self.required_skills.contains(&p.skill))
            .map(|p| p.skill.clone())
            .collect()
    }

    /// Whether `agent_id` is passed over at `now` for having missed or handed back this.
    pub fn excludes(&self, agent_id: &str, now: DateTime<Utc>) -> bool {
        self.excluded_agents.iter().any(|a| a == agent_id)
            && self.excluded_until.is_none_or(|until| now < until)
    }

    fn relax_at(&self, p: &Preference) -> DateTime<Utc> {
        self.enqueued_at + chrono::Duration::seconds(i64::from(p.relax_after_secs))
    }

    /// Why `agent` cannot take this conversation at `now`, or `None` if it can.
    pub fn rejection(&self, agent: &AgentState, now: DateTime<Utc>) -> Option<Rejection> {
        match agent.presence {
            Presence::Online => {}
            Presence::Draining => return Some(Rejection::Draining),
            Presence::Away | Presence::Offline => return Some(Rejection::NotOnline),
        }
        if let Some(target) = &self.target_agent {
            if *target != agent.id {
                return Some(Rejection::NotTarget);
            }
        }
        if self.supervisor_only && agent.role != Role::Supervisor {
            return Some(Rejection::NotSupervisor);
        }
        if self.excludes(&agent.id, now) {
            return Some(Rejection::HandedBack);
        }
        let missing: Vec<String> = self
            .required_skills
            .difference(&agent.skills)
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Some(Rejection::MissingSkills(missing));
        }
        let missing: Vec<String> = self
            .effective_skills(now)
            .difference(&agent.skills)
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Some(Rejection::MissingPreferred(missing));
        }
        if agent.load >= agent.max_concurrent {
            return Some(Rejection::AtCapacity);
        }
        None
    }
}

/// The state the router decides on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub agents: Vec<AgentState>,
    pub queue: Vec<Waiting>,
}

/// Why an agent was passed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", content = "skills", rename_all = "snake_case")]
pub enum Rejection {
    NotOnline,
    Draining,
    NotTarget,
    NotSupervisor,
    /// Missed this conversation's accept timeout, or transferred it away.
    HandedBack,
    MissingSkills(Vec<String>),
    /// Lacks a preferred skill not yet relaxed.
    MissingPreferred(Vec<String>),
    AtCapacity,
}

/// Which rule decided between the eligible agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The named agent of a transfer.
    Target,
    /// The agent this customer talked to recently.
    Sticky,
    /// The only agent who could.
    OnlyCandidate,
    /// The lowest load ratio.
    LowestLoad,
    /// Equal load ratios: the longest since their last assignment.
    LongestIdle,
    /// Equal in everything: the smallest id.
    Id,
}

/// One agent considered for one conversation, with the parts of its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub agent_id: String,
    pub load: u32,
    pub max_concurrent: u32,
    pub load_ratio: f64,
    /// Seconds since the last assignment; `None` if never assigned.
    pub idle_secs: Option<f64>,
    /// The customer's recent agent.
    #[serde(default)]
    pub sticky: bool,
    /// `None` when the agent could take the conversation.
    pub rejected: Option<Rejection>,
}

/// A decision: this conversation goes to this agent, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub conversation_id: String,
    pub agent_id: String,
    pub rule: Rule,
    /// The conversation's priority score when it was served.
    pub score: ScoreParts,
    /// Preferred skills dropped by waiting (bullseye relaxation).
    pub relaxed: Vec<String>,
    /// The agents considered: the winner first, then the runners-up in order, then (when the
    /// decision was explained in full) every other agent with the reason it lost.
    pub candidates: Vec<Candidate>,
}

/// The queue in service order: highest score first (lowest rank), then id so the order is
/// total and the same on every process.
pub fn queue_order(queue: &[Waiting]) -> Vec<&Waiting> {
    let mut ordered: Vec<&Waiting> = queue.iter().collect();
    ordered.sort_by(|a, b| {
        a.rank()
            .cmp(&b.rank())
            .then_with(|| a.conversation_id.cmp(&b.conversation_id))
    });
    ordered
}

/// The 1-based place of a conversation in the queue, if it is queued.
pub fn queue_position(queue: &[Waiting], conversation_id: &str) -> Option<usize> {
    queue_order(queue)
        .iter()
        .position(|w| w.conversation_id == conversation_id)
        .map(|i| i + 1)
}

/// Assigns as many waiting conversations as the agents can take, highest score first, each
/// explained in full (every agent, with the reason each one lost).
///
/// `now` stamps the winners' `last_assigned_at` in the working copy, so that conversations
/// assigned in one call spread over equally loaded agents.
pub fn assign(snapshot: &Snapshot, now: DateTime<Utc>) -> Vec<Assignment> {
    let mut router = Router::with_full_explanations();
    for agent in &snapshot.agents {
        router.upsert_agent(agent.clone());
    }
    for waiting in &snapshot.queue {
        router.enqueue(waiting.clone(), now);
    }
    router.route(now)
}

/// The estimated wait, seconds, of the customer at 1-based `position` in the queue: the
/// seats of the online agents free up at `seats / mean_handle` per second, so the customer's
/// turn comes after `position` of them; `free_seats` already open now shorten the wait.
pub fn estimated_wait(position: usize, seats: u32, free_seats: u32, mean_handle_secs: f64) -> u64 {
    if seats == 0 {
        // Nobody online: say the time of one handle per place, the best guess there is.
        return (position as f64 * mean_handle_secs).round() as u64;
    }
    let ahead = position.saturating_sub(free_seats as usize);
    if ahead == 0 {
        return 0;
    }
    (ahead as f64 * mean_handle_secs / f64::from(seats)).round() as u64
}

#[cfg(test)]
mod tests;
