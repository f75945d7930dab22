use super::*;
use chrono::{Duration, TimeZone};

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
        role: Role::Agent,
        last_assigned_at: None,
    }
}

fn waiting(id: &str, sk: &[&str], at: i64) -> Waiting {
    Waiting::new(id, skills(sk), t(at))
}

fn decisions(snapshot: &Snapshot, now: i64) -> Vec<(String, String)> {
    assign(snapshot, t(now))
        .into_iter()
        .map(|a| (a.conversation_id, a.agent_id))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(c, a)| (c.to_string(), a.to_string()))
        .collect()
}

#[test]
fn only_agents_with_every_required_skill_are_chosen() {
    let snapshot = Snapshot {
        agents: vec![
            agent("zh-pre", &["zh", "presales"], 3, 0),
            agent("zh-after", &["zh", "aftersales"], 3, 2),
        ],
        queue: vec![waiting("c1", &["zh", "aftersales"], 0)],
    };
    assert_eq!(decisions(&snapshot, 10), pairs(&[("c1", "zh-after")]));
}

#[test]
fn least_loaded_agent_wins_then_longest_idle() {
    let mut busy = agent("busy", &["zh"], 4, 2);
    busy.last_assigned_at = Some(t(0));
    let mut recent = agent("recent", &["zh"], 4, 1);
    recent.last_assigned_at = Some(t(500));
    let mut idle = agent("idle", &["zh"], 4, 1);
    idle.last_assigned_at = Some(t(100));
    let snapshot = Snapshot {
        agents: vec![busy, recent, idle],
        queue: vec![waiting("c1", &["zh"], 0)],
    };
    let out = assign(&snapshot, t(1000));
    assert_eq!(out[0].agent_id, "idle");
    assert_eq!(out[0].rule, Rule::LongestIdle);
    assert_eq!(out[0].candidates[0].idle_secs, Some(900.0));
}

#[test]
fn load_ratio_not_absolute_load_decides() {
    let snapshot = Snapshot {
        agents: vec![agent("small", &["zh"], 2, 1), agent("big", &["zh"], 10, 3)],
        queue: vec![waiting("c1", &["zh"], 0)],
    };
    let out = assign(&snapshot, t(10));
    assert_eq!(out[0].agent_id, "big");
    assert_eq!(out[0].rule, Rule::LowestLoad);
}

#[test]
fn away_offline_draining_and_full_agents_get_nothing() {
    let mut away = agent("away", &["zh"], 3, 0);
    away.presence = Presence::Away;
    let mut off = agent("off", &["zh"], 3, 0);
    off.presence = Presence::Offline;
    let mut draining = agent("draining", &["zh"], 3, 1);
    draining.presence = Presence::Draining;
    let snapshot = Snapshot {
        agents: vec![away, off, draining, agent("full", &["zh"], 2, 2)],
        queue: vec![waiting("c1", &["zh"], 0)],
    };
    assert!(assign(&snapshot, t(10)).is_empty());
}

#[test]
fn the_score_serves_vip_angry_and_returned_before_those_who_merely_waited() {
    let plain = waiting("plain", &["zh"], 0);
    let mut vip = waiting("vip", &["zh"], 50);
    vip.value_tier = 1;
    let mut angry = waiting("angry", &["zh"], 100);
    angry.anger = 1.0;
    let mut returned = waiting("returned", &["zh"], 500);
    returned.returned = true;
    let queue = vec![plain, vip, angry, returned];
    let order: Vec<&str> = queue_order(&queue)
        .iter()
        .map(|w| w.conversation_id.as_str())
        .collect();
    // At t=600: plain 600 s; vip 550 + 60; angry 500 + 120; returned 100 + 600.
    assert_eq!(order, ["returned", "angry", "vip", "plain"]);
    let score = queue[2].score(t(600));
    assert_eq!(score.wait, 500.0);
    assert_eq!(score.sla_slack, -320.0);
    assert_eq!(score.anger, 120.0);
    assert_eq!(score.total, 620.0);
    assert_eq!(queue_position(&queue, "plain"), Some(4));
    assert_eq!(queue_position(&queue, "missing"), None);
}

#[test]
fn a_tighter_sla_counts_as_having_waited_longer() {
    let mut vip = waiting("tight", &["zh"], 100);
    vip.sla_secs = 60;
    let plain = waiting("plain", &["zh"], 0);
    // Slack at t=150: tight 60-50 = 10 s, plain 180-150 = 30 s: tight is nearer its deadline.
    assert!(vip.score(t(150)).total > plain.score(t(150)).total);
    assert!(vip.rank() < plain.rank());
    assert_eq!(vip.sla_deadline(), t(160));
}

#[test]
fn the_order_of_the_queue_does_not_change_as_time_passes() {
    let mut a = waiting("a", &["zh"], 0);
    a.anger = 0.5;
    let mut b = waiting("b", &["zh"], 30);
    b.value_tier = 2;
    for now in [40, 100, 1000, 100_000] {
        let (sa, sb) = (a.score(t(now)).total, b.score(t(now)).total);
        assert_eq!(sa > sb, a.rank() < b.rank(), "at {now}");
    }
}

#[test]
fn one_call_spreads_work_over_equal_agents() {
    let snapshot = Snapshot {
        agents: vec![agent("a", &["zh"], 2, 0), agent("b", &["zh"], 2, 0)],
        queue: vec![
            waiting("c1", &["zh"], 1),
            waiting("c2", &["zh"], 2),
            waiting("c3", &["zh"], 3),
        ],
    };
    assert_eq!(
        decisions(&snapshot, 10),
        pairs(&[("c1", "a"), ("c2", "b"), ("c3", "a")])
    );
}

#[test]
fn explanation_lists_every_agent_with_the_reason_it_lost() {
    let mut sup = agent("sup", &["zh"], 3, 3);
    sup.role = Role::Supervisor;
    let out = assign(
        &Snapshot {
            agents: vec![agent("en", &["en"], 3, 0), agent("zh", &["zh"], 3, 1), sup],
            queue: vec![waiting("c1", &["zh"], 0)],
        },
        t(5) + Duration::seconds(1),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].rule, Rule::OnlyCandidate);
    let cands = &out[0].candidates;
    assert_eq!(cands.len(), 3);
    assert_eq!(cands[0].agent_id, "zh");
    assert_eq!(cands[0].rejected, None);
    assert_eq!(
        cands[1].rejected,
        Some(Rejection::MissingSkills(vec!["zh".into()]))
    );
    assert_eq!(cands[2].rejected, Some(Rejection::AtCapacity));
}

#[test]
fn a_returning_customer_goes_back_to_their_agent_when_it_has_room() {
    let mut w = waiting("c1", &["zh"], 0);
    w.sticky_agent = Some("busier".into());
    let snapshot = Snapshot {
        agents: vec![agent("idle", &["zh"], 5, 0), agent("busier", &["zh"], 5, 3)],
        queue: vec![w.clone()],
    };
    let out = assign(&snapshot, t(10));
    assert_eq!(out[0].agent_id, "busier");
    assert_eq!(out[0].rule, Rule::Sticky);
    assert!(out[0].candidates[0].sticky);
    // Full: the customer is not kept waiting for them.
    let snapshot = Snapshot {
        agents: vec![agent("idle", &["zh"], 5, 0), agent("busier", &["zh"], 3, 3)],
        queue: vec![w],
    };
    assert_eq!(decisions(&snapshot, 10), pairs(&[("c1", "idle")]));
}

#[test]
fn preferred_skills_relax_step_by_step_but_language_never() {
    let mut w = waiting("c1", &["zh"], 0);
    w.preferred = vec![
        Preference {
            skill: "vip".into(),
            relax_after_secs: 30,
        },
        Preference {
            skill: "aftersales".into(),
            relax_after_secs: 60,
        },
    ];
    let snapshot = Snapshot {
        agents: vec![
            agent("after", &["zh", "aftersales"], 3, 0),
            agent("plain", &["zh"], 3, 0),
            agent("english", &["en", "aftersales", "vip"], 3, 0),
        ],
        queue: vec![w],
    };
    assert!(
        assign(&snapshot, t(10)).is_empty(),
        "nobody has zh+vip+aftersales"
    );
    let at_40 = assign(&snapshot, t(40));
    assert_eq!(at_40[0].agent_id, "after");
    assert_eq!(at_40[0].relaxed, vec!["vip".to_string()]);
    let mut without_specialist = snapshot.clone();
    without_specialist.agents.remove(0);
    assert!(assign(&without_specialist, t(40)).is_empty());
    assert_eq!(
        decisions(&without_specialist, 61),
        pairs(&[("c1", "plain")])
    );
    assert!(
        assign(&without_specialist, t(100_000))
            .iter()
            .all(|a| a.agent_id != "english"),
        "the language is never dropped"
    );
}

#[test]
fn escalations_go_to_supervisors_and_transfers_to_the_named_agent() {
    let mut sup = agent("sup", &["zh"], 3, 2);
    sup.role = Role::Supervisor;
    let mut escalated = waiting("esc", &["zh"], 0);
    escalated.supervisor_only = true;
    let mut transferred = waiting("xfer", &["zh"], 1);
    transferred.target_agent = Some("named".into());
    let snapshot = Snapshot {
        agents: vec![
            agent("idle", &["zh"], 5, 0),
            sup,
            agent("named", &["zh"], 5, 4),
        ],
        queue: vec![escalated, transferred],
    };
    let out = assign(&snapshot, t(10));
    assert_eq!(
        out.iter()
            .map(|a| (a.conversation_id.as_str(), a.agent_id.as_str(), a.rule))
            .collect::<Vec<_>>(),
        vec![
            ("esc", "sup", Rule::OnlyCandidate),
            ("xfer", "named", Rule::Target)
        ]
    );
}

#[test]
fn an_agent_who_missed_a_conversation_does_not_get_it_back() {
    let mut w = waiting("c1", &["zh"], 0);
    w.excluded_agents = vec!["slow".into()];
    w.returned = true;
    let snapshot = Snapshot {
        agents: vec![agent("slow", &["zh"], 5, 0), agent("other", &["zh"], 5, 4)],
        queue: vec![w.clone()],
    };
    let out = assign(&snapshot, t(10));
    assert_eq!(out[0].agent_id, "other");
    assert!(out[0]
        .candidates
        .iter()
        .any(|c| c.agent_id == "slow" && c.rejected == Some(Rejection::HandedBack)));
    let alone = Snapshot {
        agents: vec![agent("slow", &["zh"], 5, 0)],
        queue: vec![w],
    };
    assert!(assign(&alone, t(10)).is_empty());
}

#[test]
fn a_blocked_head_does_not_block_the_rest_of_its_class() {
    let mut first = waiting("first", &["zh"], 0);
    first.excluded_agents = vec!["only".into()];
    let second = waiting("second", &["zh"], 5);
    let snapshot = Snapshot {
        agents: vec![agent("only", &["zh"], 5, 0)],
        queue: vec![first, second],
    };
    assert_eq!(decisions(&snapshot, 10), pairs(&[("second", "only")]));
}

#[test]
fn the_indexed_router_keeps_state_between_decisions() {
    let mut router = Router::new();
    router.upsert_agent(agent("a", &["zh"], 1, 0));
    router.enqueue(waiting("c1", &["zh"], 0), t(0));
    router.enqueue(waiting("c2", &["zh"], 1), t(1));
    let first = router.route(t(2));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].conversation_id, "c1");
    assert_eq!(router.agent("a").map(|a| a.load), Some(1));
    assert!(router.route(t(3)).is_empty(), "a is full");
    router.upsert_agent(agent("a", &["zh"], 1, 0));
    assert_eq!(router.route(t(4))[0].conversation_id, "c2");
    assert_eq!(router.queue_len(), 0);
    // Explanations without full detail list only eligible agents.
    assert!(first[0].candidates.iter().all(|c| c.rejected.is_none()));
}

#[test]
fn estimated_wait_follows_capacity_and_handle_time() {
    assert_eq!(estimated_wait(1, 10, 1, 300.0), 0);
    assert_eq!(estimated_wait(3, 10, 1, 300.0), 60);
    assert_eq!(estimated_wait(3, 20, 1, 300.0), 30);
    assert_eq!(estimated_wait(2, 0, 0, 300.0), 600);
}
