//! The router's invariants over random sequences of events: arrivals (with preferences,
//! escalations, transfers, exclusions, stickiness), presence changes, agents finishing or
//! losing conversations, and time passing. After every event the indexed router decides, and:
//! no conversation is held by two agents, no agent exceeds `max_concurrent`, no assignment
//! lacks a must-have skill or goes to an agent not online, and no agent who could take a
//! waiting conversation stays idle while it waits.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use router::{AgentState, Preference, Presence, Role, Router, Waiting};
use std::collections::{BTreeMap, BTreeSet};

const AGENTS: usize = 6;

#[derive(Debug, Clone)]
enum Event {
    Arrive {
        english: bool,
        specialty: Option<(u8, u32)>,
        vip: bool,
        escalated: bool,
        target: Option<usize>,
        excluded: Option<usize>,
        sticky: Option<usize>,
        anger: u8,
    },
    Presence(usize, u8),
    Finish(usize),
    /// The agent missed the accept timeout or dropped: one conversation goes back.
    Return(usize),
    Wait(u32),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => (
            any::<bool>(),
            proptest::option::of((0u8..3, 0u32..90)),
            any::<bool>(),
            prop::bool::weighted(0.1),
            proptest::option::weighted(0.1, 0..AGENTS),
            proptest::option::weighted(0.2, 0..AGENTS),
            proptest::option::weighted(0.2, 0..AGENTS),
            0u8..=10,
        )
            .prop_map(|(english, specialty, vip, escalated, target, excluded, sticky, anger)| {
                Event::Arrive { english, specialty, vip, escalated, target, excluded, sticky, anger }
            }),
        2 => (0..AGENTS, 0u8..4).prop_map(|(a, p)| Event::Presence(a, p)),
        3 => (0..AGENTS).prop_map(Event::Finish),
        1 => (0..AGENTS).prop_map(Event::Return),
        2 => (1u32..120).prop_map(Event::Wait),
    ]
}

fn agents() -> impl Strategy<Value = Vec<AgentState>> {
    prop::collection::vec(
        (
            any::<bool>(),
            any::<bool>(),
            prop::collection::btree_set(0u8..3, 0..3),
            any::<bool>(),
            0u32..4,
        ),
        AGENTS,
    )
    .prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (zh, en, specialties, supervisor, max))| {
                let mut skills: BTreeSet<String> =
                    specialties.iter().map(|s| format!("s{s}")).collect();
                if zh || !en {
                    skills.insert("zh".into());
                }
                if en {
                    skills.insert("en".into());
                }
                if i % 2 == 0 {
                    skills.insert("vip".into());
                }
                AgentState {
                    id: format!("a{i}"),
                    skills,
                    max_concurrent: max,
                    load: 0,
                    presence: Presence::Online,
                    role: if supervisor {
                        Role::Supervisor
                    } else {
                        Role::Agent
                    },
                    last_assigned_at: None,
                }
            })
            .collect()
    })
}

fn t0() -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000, 0)
        .single()
        .expect("valid timestamp")
}

struct World {
    router: Router,
    agents: Vec<AgentState>,
    waiting: BTreeMap<String, Waiting>,
    /// Conversation → the agent holding it and its queue entry.
    held: BTreeMap<String, (usize, Waiting)>,
    now: DateTime<Utc>,
    next_id: u32,
}

impl World {
    fn sync_agent(&mut self, i: usize) {
        self.router.upsert_agent(self.agents[i].clone());
    }

    fn held_by(&self, i: usize) -> Option<String> {
        self.held
            .iter()
            .find(|(_, (a, _))| *a == i)
            .map(|(c, _)| c.clone())
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Arrive {
                english,
                specialty,
                vip,
                escalated,
                target,
                excluded,
                sticky,
                anger,
            } => {
                self.next_id += 1;
                let id = format!("c{}", self.next_id);
                let language = if english { "en" } else { "zh" };
                let mut w = Waiting::new(id.clone(), [language.to_string()].into(), self.now);
                if let Some((s, after)) = specialty {
                    w.preferred.push(Preference {
                        skill: format!("s{s}"),
                        relax_after_secs: after,
                    });
                }
                if vip {
                    w.value_tier = 1;
                    w.sla_secs = 60;
                    w.preferred.push(Preference {
                        skill: "vip".into(),
                        relax_after_secs: 30,
                    });
                }
                w.supervisor_only = escalated;
                w.target_agent = target.map(|a| format!("a{a}"));
                w.excluded_agents = excluded.map(|a| format!("a{a}")).into_iter().collect();
                w.sticky_agent = sticky.map(|a| format!("a{a}"));
                w.anger = f32::from(anger) / 10.0;
                self.router.enqueue(w.clone(), self.now);
                self.waiting.insert(id, w);
            }
            Event::Presence(i, p) => {
                self.agents[i].presence = match p {
                    0 => Presence::Online,
                    1 => Presence::Away,
                    2 => Presence::Offline,
                    _ => Presence::Draining,
                };
                self.sync_agent(i);
            }
            Event::Finish(i) => {
                if let Some(id) = self.held_by(i) {
                    self.held.remove(&id);
                    self.agents[i].load -= 1;
                    self.sync_agent(i);
                }
            }
            Event::Return(i) => {
                if let Some(id) = self.held_by(i) {
                    let Some((_, mut w)) = self.held.remove(&id) else {
                        return;
                    };
                    self.agents[i].load -= 1;
                    self.sync_agent(i);
                    w.returned = true;
                    w.target_agent = None;
                    w.excluded_agents.push(format!("a{i}"));
                    self.router.enqueue(w.clone(), self.now);
                    self.waiting.insert(id, w);
                }
            }
            Event::Wait(secs) => self.now += Duration::seconds(i64::from(secs)),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn invariants_hold_after_every_event(
        agents in agents(),
        events in prop::collection::vec(event(), 1..80),
    ) {
        let mut world = World {
            router: Router::new(),
            agents: agents.clone(),
            waiting: BTreeMap::new(),
            held: BTreeMap::new(),
            now: t0(),
            next_id: 0,
        };
        for i in 0..AGENTS {
            world.sync_agent(i);
        }
        for event in events {
            world.apply(event);
            let now = world.now;
            for decision in world.router.route(now) {
                let i = world.agents.iter().position(|a| a.id == decision.agent_id)
                    .expect("a known agent");
                let w = world.waiting.get(&decision.conversation_id).expect("was waiting").clone();
                let agent = &world.agents[i];
                prop_assert!(!world.held.contains_key(&decision.conversation_id), "assigned twice");
                prop_assert_eq!(agent.presence, Presence::Online);
                prop_assert!(agent.load < agent.max_concurrent, "over capacity");
                prop_assert!(w.required_skills.is_subset(&agent.skills), "missing a must-have skill");
                prop_assert!(w.rejection(agent, now).is_none(), "{:?}", w.rejection(agent, now));
                world.held.insert(decision.conversation_id.clone(), (i, w));
                world.waiting.remove(&decision.conversation_id);
                world.agents[i].load += 1;
                world.agents[i].last_assigned_at = Some(now);
            }
            for agent in &world.agents {
                prop_assert_eq!(world.router.agent(&agent.id), Some(agent));
            }
            prop_assert_eq!(world.router.queue_len(), world.waiting.len());
            // Work-conserving: nobody waits beside an agent who could take them.
            for w in world.waiting.values() {
                for a in &world.agents {
                    prop_assert!(
                        w.rejection(a, now).is_some(),
                        "{} waits while {} could take it", w.conversation_id, a.id
                    );
                }
            }
        }
    }
}
