//! The router's state, indexed so that one decision costs O(log n).
//!
//! Agents who can take work now (online, below capacity) sit in *pools*, one per distinct
//! skill set and role, each a sorted set ordered by (load ratio, last assignment, id): the
//! best agent of a pool is its first. Waiting conversations sit in *classes*, one per distinct
//! set of skills needed now (plus escalation and transfer target), each a sorted set ordered by
//! rank (see the crate docs): the most urgent of a class is its first. A shop has a handful of
//! skill sets and classes however many agents and customers it has, so a decision looks at the
//! heads of a few sorted sets: O((classes × pools) + log n). Preferred skills relax at known
//! times, kept in a third sorted set; a conversation whose preference relaxes moves class.

use crate::{AgentState, Assignment, Candidate, Role, Rule, Waiting};
use chrono::{DateTime, Utc};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How many eligible runners-up an explanation lists after the winner.
const RUNNERS_UP: usize = 4;

/// A skill set as bits, one per skill the router has seen (no trailing zero words).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn set(&mut self, bit: usize) {
        let word = bit / 64;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (bit % 64);
    }

    fn is_subset(&self, of: &Bits) -> bool {
        self.0
            .iter()
            .enumerate()
            .all(|(i, w)| w & !of.0.get(i).copied().unwrap_or(0) == 0)
    }
}

/// A load ratio with a total order.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ratio(f64);

impl Eq for Ratio {}

impl PartialOrd for Ratio {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ratio {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// An agent's place in its pool: the first is the best.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct AgentKey {
    ratio: Ratio,
    /// Milliseconds of the last assignment, `i64::MIN` for never (the longest idle).
    last: i64,
    id: String,
}

impl AgentKey {
    fn of(agent: &AgentState) -> Self {
        Self {
            ratio: Ratio(agent.load_ratio()),
            last: agent
                .last_assigned_at
                .map_or(i64::MIN, |t| t.timestamp_millis()),
            id: agent.id.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct PoolKey {
    skills: Bits,
    supervisor: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct ClassKey {
    skills: Bits,
    supervisor_only: bool,
    target: Option<String>,
}

impl ClassKey {
    fn accepts(&self, pool: &PoolKey) -> bool {
        (pool.supervisor || !self.supervisor_only) && self.skills.is_subset(&pool.skills)
    }
}

/// Agents and waiting conversations, indexed for fast decisions. See the module docs.
#[derive(Debug, Default)]
pub struct Router {
    explain_all: bool,
    skill_ids: HashMap<String, usize>,
    agents: HashMap<String, (AgentState, PoolKey)>,
    /// Available agents only, by skill set and role.
    pools: BTreeMap<PoolKey, BTreeSet<AgentKey>>,
    waiting: HashMap<String, (Waiting, ClassKey)>,
    /// Waiting conversations by class, transfers to a named agent excepted.
    classes: BTreeMap<ClassKey, BTreeSet<(i64, String)>>,
    /// Transfers to a named agent, by that agent: apart, so that many waiting transfers do
    /// not make every decision scan one class per target.
    targeted: HashMap<String, BTreeSet<(i64, String)>>,
    /// Named agents who are available and have a transfer waiting for them.
    ready_targets: BTreeSet<String>,
    /// When each waiting conversation's next preference relaxes.
    relax: BTreeSet<(DateTime<Utc>, String)>,
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    /// A router whose assignments list every agent, with the reason each one lost: what the
    /// gateway stores for admins. O(agents) per decision, so for shops, not for benchmarks.
    pub fn with_full_explanations() -> Self {
        Self {
            explain_all: true,
            ..Self::default()
        }
    }

    fn bits<'a>(&mut self, skills: impl IntoIterator<Item = &'a String>) -> Bits {
        let mut bits = Bits::default();
        for skill in skills {
            let next = self.skill_ids.len();
            let id = *self.skill_ids.entry(skill.clone()).or_insert(next);
            bits.set(id);
        }
        bits
    }

    /// Adds an agent or replaces what the router knows of it.
    pub fn upsert_agent(&mut self, agent: AgentState) {
        self.unpool(&agent.id);
        let key = PoolKey {
            skills: self.bits(&agent.skills),
            supervisor: agent.role == Role::Supervisor,
        };
        if agent.available() {
            self.pools
                .entry(key.clone())
                .or_default()
                .insert(AgentKey::of(&agent));
        }
        let id = agent.id.clone();
        self.agents.insert(id.clone(), (agent, key));
        self.refresh_target(&id);
    }

    pub fn remove_agent(&mut self, id: &str) -> Option<AgentState> {
        self.unpool(id);
        let removed = self.agents.remove(id).map(|(a, _)| a);
        self.refresh_target(id);
        removed
    }

    /// Keeps `ready_targets` true for one agent.
    fn refresh_target(&mut self, id: &str) {
        let ready = self.agents.get(id).is_some_and(|(a, _)| a.available())
            && self.targeted.get(id).is_some_and(|t| !t.is_empty());
        if ready {
            self.ready_targets.insert(id.to_owned());
        } else {
            self.ready_targets.remove(id);
        }
    }

    fn members_mut(&mut self, class: &ClassKey) -> &mut BTreeSet<(i64, String)> {
        match &class.target {
            Some(target) => self.targeted.entry(target.clone()).or_default(),
            None => self.classes.entry(class.clone()).or_default(),
        }
    }

    pub fn agent(&self, id: &str) -> Option<&AgentState> {
        self.agents.get(id).map(|(a, _)| a)
    }

    fn unpool(&mut self, id: &str) {
        let Some((old, key)) = self.agents.get(id) else {
            return;
        };
        if let Some(pool) = self.pools.get_mut(key) {
            pool.remove(&AgentKey::of(old));
            if pool.is_empty() {
                self.pools.remove(key);
            }
        }
    }

    /// Puts a conversation in the queue (replacing an earlier entry with the same id).
    pub fn enqueue(&mut self, waiting: Waiting, now: DateTime<Utc>) {
        self.remove(&waiting.conversation_id);
        let class = self.class_of(&waiting, now);
        let id = waiting.conversation_id.clone();
        self.members_mut(&class)
            .insert((waiting.rank(), id.clone()));
        if let Some(due) = next_relaxation(&waiting, now) {
            self.relax.insert((due, id.clone()));
        }
        if let Some(target) = &class.target {
            let target = target.clone();
            self.waiting.insert(id, (waiting, class));
            self.refresh_target(&target);
        } else {
            self.waiting.insert(id, (waiting, class));
        }
    }

    /// Takes a conversation off the queue.
    pub fn remove(&mut self, conversation_id: &str) -> Option<Waiting> {
        let (waiting, class) = self.waiting.remove(conversation_id)?;
        let member = (waiting.rank(), waiting.conversation_id.clone());
        match &class.target {
            Some(target) => {
                if let Some(members) = self.targeted.get_mut(target) {
                    members.remove(&member);
                    if members.is_empty() {
                        self.targeted.remove(target);
                    }
                }
                self.refresh_target(target);
            }
            None => {
                if let Some(members) = self.classes.get_mut(&class) {
                    members.remove(&member);
                    if members.is_empty() {
                        self.classes.remove(&class);
                    }
                }
            }
        }
        forget_relaxations(&mut self.relax, &waiting);
        Some(waiting)
    }

    pub fn queue_len(&self) -> usize {
        self.waiting.len()
    }

    fn class_of(&mut self, waiting: &Waiting, now: DateTime<Utc>) -> ClassKey {
        ClassKey {
            skills: self.bits(&waiting.effective_skills(now)),
            supervisor_only: waiting.supervisor_only,
            target: waiting.target_agent.clone(),
        }
    }

    /// Moves every conversation whose preference relaxed by `now` to its new class.
    fn relax_until(&mut self, now: DateTime<Utc>) {
        while let Some((due, id)) = self.relax.first().cloned() {
            if due > now {
                break;
            }
            self.relax.pop_first();
            if let Some((waiting, _)) = self.waiting.get(&id) {
                let waiting = waiting.clone();
                self.enqueue(waiting, now);
            }
        }
    }

    /// Every decision due at `now`: serves the queue highest score first for as long as some
    /// waiting conversation has an agent who can take it.
    pub fn route(&mut self, now: DateTime<Utc>) -> Vec<Assignment> {
        let mut out = Vec::new();
        while let Some(assignment) = self.route_one(now) {
            out.push(assignment);
        }
        out
    }

    /// The next decision at `now`, if any: the most urgent conversation that some agent can
    /// take goes to its best agent. The router's state is updated (the conversation leaves the
    /// queue, the agent's load grows).
    pub fn route_one(&mut self, now: DateTime<Utc>) -> Option<Assignment> {
        self.relax_until(now);
        let mut best: Option<(i64, String, ClassKey)> = None;
        for (class, members) in &self.classes {
            if !self.pools.keys().any(|pool| class.accepts(pool)) {
                continue;
            }
            self.best_member(members.iter(), Some(class), now, &mut best);
        }
        for target in &self.ready_targets {
            if let Some(members) = self.targeted.get(target) {
                self.best_member(members.iter(), None, now, &mut best);
            }
        }
        let (_, id, class) = best?;
        let waiting = self.remove(&id)?;
        Some(self.decide(waiting, &class, now))
    }

    /// The first of `members` (in rank order) some agent can take, if it beats `best`.
    /// `class` is the members' class, or `None` to use each member's own (transfers).
    fn best_member<'a>(
        &self,
        members: impl Iterator<Item = &'a (i64, String)>,
        class: Option<&ClassKey>,
        now: DateTime<Utc>,
        best: &mut Option<(i64, String, ClassKey)>,
    ) {
        for (rank, id) in members {
            if let Some((best_rank, best_id, _)) = &*best {
                if (rank, id) >= (best_rank, best_id) {
                    return;
                }
            }
            let Some((waiting, own_class)) = self.waiting.get(id) else {
                continue;
            };
            let class = class.unwrap_or(own_class);
            if !self.eligible(waiting, class, 1, now).is_empty() {
                *best = Some((*rank, id.clone(), class.clone()));
                return;
            }
        }
    }

    /// Up to `limit` agents who can take `waiting`, best first (stickiness aside).
    fn eligible(
        &self,
        waiting: &Waiting,
        class: &ClassKey,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Vec<&AgentKey> {
        let excluded = |id: &String| waiting.excludes(id, now);
        if let Some(target) = &class.target {
            return self
                .agents
                .get(target)
                .filter(|(agent, key)| {
                    agent.available() && class.accepts(key) && !excluded(&agent.id)
                })
                .and_then(|(agent, key)| self.pools.get(key)?.get(&AgentKey::of(agent)))
                .into_iter()
                .collect();
        }
        let mut found: Vec<&AgentKey> = Vec::new();
        for (pool_key, pool) in &self.pools {
            if !class.accepts(pool_key) {
                continue;
            }
            found.extend(pool.iter().filter(|k| !excluded(&k.id)).take(limit));
        }
        found.sort();
        found.truncate(limit);
        found
    }

    /// Picks the agent for `waiting` (which has one), explains, and updates the state.
    fn decide(&mut self, waiting: Waiting, class: &ClassKey, now: DateTime<Utc>) -> Assignment {
        let ranked: Vec<AgentKey> = self
            .eligible(&waiting, class, RUNNERS_UP + 1, now)
            .into_iter()
            .cloned()
            .collect();
        let sticky = waiting.sticky_agent.as_ref().filter(|id| {
            self.agents.get(*id).is_some_and(|(agent, key)| {
                agent.available() && class.accepts(key) && !waiting.excludes(&agent.id, now)
            })
        });
        let (winner, rule) = match (class.target.as_ref(), sticky, ranked.first()) {
            (Some(target), _, _) => (target.clone(), Rule::Target),
            (None, Some(sticky), _) => (sticky.clone(), Rule::Sticky),
            (None, None, Some(first)) => {
                let rule = match ranked.get(1) {
                    None => Rule::OnlyCandidate,
                    Some(second) if second.ratio != first.ratio => Rule::LowestLoad,
                    Some(second) if second.last != first.last => Rule::LongestIdle,
                    Some(_) => Rule::Id,
                };
                (first.id.clone(), rule)
            }
            // `route_one` only decides for a conversation some agent can take.
            (None, None, None) => (String::new(), Rule::OnlyCandidate),
        };

        let mut order: Vec<String> = vec![winner.clone()];
        order.extend(
            ranked
                .iter()
                .map(|k| k.id.clone())
                .filter(|id| *id != winner),
        );
        let mut candidates: Vec<Candidate> = order
            .iter()
            .filter_map(|id| self.agent(id))
            .map(|agent| candidate(agent, &waiting, now, None))
            .collect();
        if self.explain_all {
            let mut others: Vec<&AgentState> = self
                .agents
                .values()
                .map(|(a, _)| a)
                .filter(|a| !order.contains(&a.id))
                .collect();
            others.sort_by(|a, b| a.id.cmp(&b.id));
            for agent in others {
                let rejected = waiting.rejection(agent, now);
                candidates.push(candidate(agent, &waiting, now, rejected));
            }
        }

        if let Some((mut agent, _)) = self.agents.get(&winner).cloned() {
            agent.load += 1;
            agent.last_assigned_at = Some(now);
            self.upsert_agent(agent);
        }
        Assignment {
            conversation_id: waiting.conversation_id.clone(),
            agent_id: winner,
            rule,
            score: waiting.score(now),
            relaxed: waiting.relaxed_skills(now),
            candidates,
        }
    }
}

fn candidate(
    agent: &AgentState,
    waiting: &Waiting,
    now: DateTime<Utc>,
    rejected: Option<crate::Rejection>,
) -> Candidate {
    Candidate {
        agent_id: agent.id.clone(),
        load: agent.load,
        max_concurrent: agent.max_concurrent,
        load_ratio: agent.load_ratio(),
        idle_secs: agent
            .last_assigned_at
            .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0),
        sticky: waiting.sticky_agent.as_deref() == Some(agent.id.as_str()),
        rejected,
    }
}

/// The next time after `now` one of the conversation's preferences relaxes.
fn next_relaxation(waiting: &Waiting, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    waiting
        .preferred
        .iter()
        .map(|p| waiting.enqueued_at + chrono::Duration::seconds(i64::from(p.relax_after_secs)))
        .filter(|t| *t > now)
        .min()
}

/// Drops the relaxation entries of one conversation.
fn forget_relaxations(relax: &mut BTreeSet<(DateTime<Utc>, String)>, waiting: &Waiting) {
    for p in &waiting.preferred {
        let due = waiting.enqueued_at + chrono::Duration::seconds(i64::from(p.relax_after_secs));
        relax.remove(&(due, waiting.conversation_id.clone()));
    }
}
