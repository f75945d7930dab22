//! Who takes which waiting conversation.
//!
//! `router` is a pure function of a [`Snapshot`]: the agents (skills, capacity, load, presence)
//! and the waiting queue at one instant go in, a list of [`Assignment`]s comes out, each with
//! the candidates that were considered and why the winner won. It does no I/O and holds no
//! state: the gateway takes the snapshot from its store, calls [`assign`], and applies the
//! result atomically. Because the function sees one consistent snapshot and updates its own
//! working copy of every agent's load as it goes, it never assigns one conversation twice and
//! never pushes an agent over `max_concurrent`.
//!
//! v0 policy: the queue is served by priority (higher first), then by time waited; a
//! conversation goes to an online agent having every required skill and free capacity, the
//! lowest load ratio first, then the one idle the longest.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// Whether an agent takes new conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Away,
    Offline,
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
    /// When the agent last received a conversation; `None` means never, the longest idle.
    pub last_assigned_at: Option<DateTime<Utc>>,
}

impl AgentState {
    fn load_ratio(&self) -> f64 {
        if self.max_concurrent == 0 {
            1.0
        } else {
            f64::from(self.load) / f64::from(self.max_concurrent)
        }
    }

    /// Why this agent cannot take a conversation needing `required`, or `None` if it can.
    fn rejection(&self, required: &BTreeSet<String>) -> Option<Rejection> {
        if self.presence != Presence::Online {
            return Some(Rejection::NotOnline);
        }
        let missing: Vec<String> = required.difference(&self.skills).cloned().collect();
        if !missing.is_empty() {
            return Some(Rejection::MissingSkills(missing));
        }
        if self.load >= self.max_concurrent {
            return Some(Rejection::AtCapacity);
        }
        None
    }
}

/// A conversation waiting for an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    pub conversation_id: String,
    /// Skills an agent must have, e.g. the customer's language and the intent's specialty.
    pub required_skills: BTreeSet<String>,
    /// Higher is served first; ties go to the longest waiting.
    pub priority: i64,
    pub enqueued_at: DateTime<Utc>,
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
    MissingSkills(Vec<String>),
    AtCapacity,
}

/// One agent considered for one conversation, with the parts of its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub agent_id: String,
    pub load: u32,
    pub max_concurrent: u32,
    pub load_ratio: f64,
    pub last_assigned_at: Option<DateTime<Utc>>,
    /// `None` when the agent could take the conversation.
    pub rejected: Option<Rejection>,
}

/// A decision: this conversation goes to this agent, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub conversation_id: String,
    pub agent_id: String,
    /// Every agent considered, the winner first among the eligible ones.
    pub candidates: Vec<Candidate>,
}

/// The queue in service order: priority first, then the longest waiting, then id so the order
/// is total and the same on every process.
pub fn queue_order(queue: &[Waiting]) -> Vec<&Waiting> {
    let mut ordered: Vec<&Waiting> = queue.iter().collect();
    ordered.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.enqueued_at.cmp(&b.enqueued_at))
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

/// Assigns as many waiting conversations as the agents can take, in queue order.
///
/// `now` stamps the winners' `last_assigned_at` in the working copy, so that two
/// conversations assigned in one call spread over equally loaded agents.
pub fn assign(snapshot: &Snapshot, now: DateTime<Utc>) -> Vec<Assignment> {
    let mut agents = snapshot.agents.clone();
    let mut out = Vec::new();
    for waiting in queue_order(&snapshot.queue) {
        let mut candidates: Vec<Candidate> = agents
            .iter()
            .map(|a| Candidate {
                agent_id: a.id.clone(),
                load: a.load,
                max_concurrent: a.max_concurrent,
                load_ratio: a.load_ratio(),
                last_assigned_at: a.last_assigned_at,
                rejected: a.rejection(&waiting.required_skills),
            })
            .collect();
        candidates.sort_by(compare_candidates);
        let Some(winner) = candidates.first().filter(|c| c.rejected.is_none()) else {
            continue;
        };
        let agent_id = winner.agent_id.clone();
        if let Some(agent) = agents.iter_mut().find(|a| a.id == agent_id) {
            agent.load += 1;
            agent.last_assigned_at = Some(now);
        }
        out.push(Assignment {
            conversation_id: waiting.conversation_id.clone(),
            agent_id,
            candidates,
        });
    }
    out
}

/// Eligible before rejected; then the lowest load ratio; then the longest idle; then id.
fn compare_candidates(a: &Candidate, b: &Candidate) -> Ordering {
    a.rejected
        .is_some()
        .cmp(&b.rejected.is_some())
        .then(a.load_ratio.total_cmp(&b.load_ratio))
        .then_with(|| match (a.last_assigned_at, b.last_assigned_at) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(&y),
        })
        .then_with(|| a.agent_id.cmp(&b.agent_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0)
            .single()
            .expect("valid timestamp")
    }

    fn skills(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn agent(id: &str, sk: &[&str], max: u32, load: u32) -> AgentState {
        AgentState {
            id: id.into(),
            skills: skills(sk),
            max_concurrent: max,
            load,
            presence: Presence::Online,
            last_assigned_at: None,
        }
    }

    fn waiting(id: &str, sk: &[&str], priority: i64, at: i64) -> Waiting {
        Waiting {
            conversation_id: id.into(),
            required_skills: skills(sk),
            priority,
            enqueued_at: t(at),
        }
    }

    fn check(snapshot: Snapshot, expected: &[(&str, &str)]) {
        let got: Vec<(String, String)> = assign(&snapshot, t(1000))
            .into_iter()
            .map(|a| (a.conversation_id, a.agent_id))
            .collect();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(c, a)| (c.to_string(), a.to_string()))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn only_agents_with_every_required_skill_are_chosen() {
        check(
            Snapshot {
                agents: vec![
                    agent("zh-pre", &["zh", "presales"], 3, 0),
                    agent("zh-after", &["zh", "aftersales"], 3, 2),
                ],
                queue: vec![waiting("c1", &["zh", "aftersales"], 0, 0)],
            },
            &[("c1", "zh-after")],
        );
    }

    #[test]
    fn least_loaded_agent_wins_then_longest_idle() {
        let mut busy = agent("busy", &["zh"], 4, 2);
        busy.last_assigned_at = Some(t(0));
        let mut recent = agent("recent", &["zh"], 4, 1);
        recent.last_assigned_at = Some(t(500));
        let mut idle = agent("idle", &["zh"], 4, 1);
        idle.last_assigned_at = Some(t(100));
        check(
            Snapshot {
                agents: vec![busy, recent, idle],
                queue: vec![waiting("c1", &["zh"], 0, 0)],
            },
            &[("c1", "idle")],
        );
    }

    #[test]
    fn load_ratio_not_absolute_load_decides() {
        check(
            Snapshot {
                agents: vec![agent("small", &["zh"], 2, 1), agent("big", &["zh"], 10, 3)],
                queue: vec![waiting("c1", &["zh"], 0, 0)],
            },
            &[("c1", "big")],
        );
    }

    #[test]
    fn offline_away_and_full_agents_get_nothing() {
        let mut away = agent("away", &["zh"], 3, 0);
        away.presence = Presence::Away;
        let mut off = agent("off", &["zh"], 3, 0);
        off.presence = Presence::Offline;
        check(
            Snapshot {
                agents: vec![away, off, agent("full", &["zh"], 2, 2)],
                queue: vec![waiting("c1", &["zh"], 0, 0)],
            },
            &[],
        );
    }

    #[test]
    fn higher_priority_then_longer_wait_is_served_first() {
        check(
            Snapshot {
                agents: vec![agent("a", &["zh"], 1, 0)],
                queue: vec![
                    waiting("late", &["zh"], 0, 50),
                    waiting("early", &["zh"], 0, 10),
                    waiting("vip", &["zh"], 5, 90),
                ],
            },
            &[("vip", "a")],
        );
        let q = vec![
            waiting("late", &["zh"], 0, 50),
            waiting("early", &["zh"], 0, 10),
        ];
        assert_eq!(queue_position(&q, "early"), Some(1));
        assert_eq!(queue_position(&q, "late"), Some(2));
        assert_eq!(queue_position(&q, "missing"), None);
    }

    #[test]
    fn one_call_spreads_work_over_equal_agents() {
        check(
            Snapshot {
                agents: vec![agent("a", &["zh"], 2, 0), agent("b", &["zh"], 2, 0)],
                queue: vec![
                    waiting("c1", &["zh"], 0, 1),
                    waiting("c2", &["zh"], 0, 2),
                    waiting("c3", &["zh"], 0, 3),
                ],
            },
            &[("c1", "a"), ("c2", "b"), ("c3", "a")],
        );
    }

    #[test]
    fn explanation_lists_every_agent_with_the_reason_it_lost() {
        let out = assign(
            &Snapshot {
                agents: vec![agent("en", &["en"], 3, 0), agent("zh", &["zh"], 3, 1)],
                queue: vec![waiting("c1", &["zh"], 0, 0)],
            },
            t(5) + Duration::seconds(1),
        );
        assert_eq!(out.len(), 1);
        let cands = &out[0].candidates;
        assert_eq!(cands[0].agent_id, "zh");
        assert_eq!(cands[0].rejected, None);
        assert_eq!(
            cands[1].rejected,
            Some(Rejection::MissingSkills(vec!["zh".into()]))
        );
    }

    proptest! {
        #[test]
        fn never_double_assigns_and_never_exceeds_capacity(
            agents in prop::collection::vec((0u32..4, 0u32..4, any::<bool>(), any::<bool>()), 0..6),
            queue in prop::collection::vec((any::<bool>(), -2i64..3, 0i64..100), 0..20),
        ) {
            let agents: Vec<AgentState> = agents.iter().enumerate().map(|(i, (max, load, en, online))| {
                let mut a = agent(&format!("a{i}"), if *en { &["en"] } else { &["zh"] }, *max, (*load).min(*max));
                if !online { a.presence = Presence::Away; }
                a
            }).collect();
            let queue: Vec<Waiting> = queue.iter().enumerate().map(|(i, (en, p, at))| {
                waiting(&format!("c{i}"), if *en { &["en"] } else { &["zh"] }, *p, *at)
            }).collect();
            let snapshot = Snapshot { agents: agents.clone(), queue: queue.clone() };
            let out = assign(&snapshot, t(1000));
            let mut seen = BTreeSet::new();
            let mut added: HashMap<String, u32> = HashMap::new();
            for a in &out {
                prop_assert!(seen.insert(a.conversation_id.clone()), "assigned twice");
                *added.entry(a.agent_id.clone()).or_default() += 1;
                let agent = agents.iter().find(|x| x.id == a.agent_id).expect("known agent");
                let conv = queue.iter().find(|w| w.conversation_id == a.conversation_id).expect("queued");
                prop_assert!(agent.presence == Presence::Online);
                prop_assert!(conv.required_skills.is_subset(&agent.skills));
            }
            for agent in &agents {
                prop_assert!(agent.load + added.get(&agent.id).copied().unwrap_or(0) <= agent.max_concurrent.max(agent.load));
            }
            // Work-conserving: a conversation is left waiting only when no eligible agent had room.
            for w in &queue {
                if !seen.contains(&w.conversation_id) {
                    let free = agents.iter().any(|a| a.presence == Presence::Online
                        && w.required_skills.is_subset(&a.skills)
                        && a.load + added.get(&a.id).copied().unwrap_or(0) < a.max_concurrent);
                    prop_assert!(!free, "left {} waiting beside a free agent", w.conversation_id);
                }
            }
        }
    }
}
