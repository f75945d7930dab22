//! A discrete-event simulation of one shop's human support: the router's policy against plain
//! round robin, on the same customers, in one run.
//!
//! ```sh
//! cargo run --release -p router --example simulate [-- --seed N --hours H --flat \
//!     --vip-relax S --specialty-relax S]
//! ```
//!
//! - 50 chat agents, each handling 3–5 conversations at once; all speak `zh`, some also `en`;
//!   1–2 specialties each among presales, orders, logistics, aftersales and complaints; a few
//!   with `vip`; 3 supervisors (fewer seats, both languages, `vip`). Every agent takes breaks
//!   (away 5–15 min about every 90 min), finishing what they hold but taking nothing new.
//! - Customers arrive as a Poisson process at a rate that puts the offered load at 88 % of the
//!   online seats (at base handle times), and 1.4 times that during a 30-minute flash sale
//!   halfway through. 85 % speak `zh`; each has an intent (the specialty they want, preferred
//!   for 20 s); 10 % are VIP (tier 1, SLA 60 s, `vip` preferred for 10 s); about 15 % are angry
//!   (anger 0.6–1.0, mostly complaints and aftersales); 10 % return to a recent agent.
//! - Handle times are log-normal (median 4 min, σ 0.7: mean 5.1 min, p99 20 min), times 0.8
//!   when the agent has the customer's specialty and 1.2 when not (`--flat`: 1.0 always). That
//!   factor is an assumption, and it is what makes skill routing pay.
//! - Our policy drives [`router::Router`]: every arrival is queued, every change of an agent's
//!   load or presence is upserted, and `route` runs after every event and at every moment a
//!   preference relaxes. Round robin: one FIFO queue and one rotation per language team, the
//!   oldest head served first, the next agent in the rotation with a free seat; no skills but
//!   the language, no priority, no stickiness.
//! - Both policies see the same customers (arrival times, attributes and base handle times
//!   drawn once from the seed) and the same breaks; only the specialty factor depends on who
//!   serves. `--vip-relax` and `--specialty-relax` change when our policy drops the
//!   preferences (`router::Policy`'s defaults, 10 s and 20 s). Arrivals stop after `--hours`; the run goes on until every customer is served.
//!   A customer's wait ends when an agent is assigned (accepting is taken as instant).

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use router::{AgentState, Preference, Presence, Role, Router, Waiting};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};

const SPECIALTIES: [&str; 5] = [
    "presales",
    "orders",
    "logistics",
    "aftersales",
    "complaints",
];
/// Share of customers per intent, in the order of `SPECIALTIES`.
const INTENT_SHARE: [f64; 5] = [0.30, 0.25, 0.20, 0.15, 0.10];
/// Chance of an angry customer per intent (about 15 % overall).
const ANGRY_CHANCE: [f64; 5] = [0.03, 0.10, 0.15, 0.25, 0.50];
const AGENTS: usize = 50;
const SUPERVISORS: usize = 3;
/// Non-supervisors who also speak `en`, and who have `vip`.
const BILINGUAL: usize = 8;
const VIP_AGENTS: usize = 6;
const MEDIAN_HANDLE_SECS: f64 = 240.0;
const HANDLE_SIGMA: f64 = 0.7;
const SKILLED_FACTOR: f64 = 0.8;
const UNSKILLED_FACTOR: f64 = 1.2;
const OFFERED_LOAD: f64 = 0.88;
const BURST_FACTOR: f64 = 1.4;
const BURST_MINUTES: f64 = 30.0;
const ANSWER_GOAL_MS: i64 = 20_000;

struct Config {
    seed: u64,
    hours: f64,
    flat: bool,
    /// When the `vip` and the specialty preferences relax (the policy's defaults).
    vip_relax_secs: u32,
    specialty_relax_secs: u32,
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config {
        seed: 20_240_611,
        hours: 8.0,
        flat: false,
        vip_relax_secs: router::Policy::default().vip_relax_secs,
        specialty_relax_secs: router::Policy::default().specialty_relax_secs,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seed" => {
                let v = args.next().ok_or("--seed needs a number")?;
                config.seed = v.parse().map_err(|e| format!("--seed {v}: {e}"))?;
            }
            "--hours" => {
                let v = args.next().ok_or("--hours needs a number")?;
                config.hours = v.parse().map_err(|e| format!("--hours {v}: {e}"))?;
                if !(config.hours > 0.0 && config.hours <= 24.0 * 7.0) {
                    return Err(format!("--hours {v}: between 0 and 168"));
                }
            }
            "--flat" => config.flat = true,
            "--vip-relax" | "--specialty-relax" => {
                let v = args.next().ok_or(format!("{arg} needs seconds"))?;
                let secs = v.parse().map_err(|e| format!("{arg} {v}: {e}"))?;
                if arg == "--vip-relax" {
                    config.vip_relax_secs = secs;
                } else {
                    config.specialty_relax_secs = secs;
                }
            }
            // `cargo bench`-style noise and a lone `--` are ignored.
            "--" | "--bench" => {}
            other => {
                return Err(format!(
                    "unknown argument {other}; use --seed N, --hours H, --flat, \
                     --vip-relax S, --specialty-relax S"
                ))
            }
        }
    }
    Ok(config)
}

// ---------------------------------------------------------------------------------------
// The world: agents, their breaks and the customers, drawn once from the seed.

struct AgentSpec {
    state: AgentState,
    english: bool,
    specialties: Vec<usize>,
    /// Away from `.0` to `.1`, milliseconds.
    breaks: Vec<(i64, i64)>,
}

struct Customer {
    id: usize,
    at: i64,
    english: bool,
    intent: usize,
    vip: bool,
    angry: bool,
    anger: f32,
    /// The agent this customer talked to recently.
    sticky: Option<usize>,
    base_handle_ms: f64,
    burst: bool,
}

struct World {
    agents: Vec<AgentSpec>,
    customers: Vec<Customer>,
    horizon_ms: i64,
    burst: (i64, i64),
    rate_per_sec: f64,
    online_seat_share: f64,
}

fn pick(rng: &mut StdRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

fn exponential(rng: &mut StdRng, mean: f64) -> f64 {
    -(1.0 - rng.random::<f64>()).ln() * mean
}

fn normal(rng: &mut StdRng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn agent_id(i: usize) -> String {
    format!("a{i:02}")
}

fn build_world(config: &Config) -> World {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let horizon_ms = (config.hours * 3_600_000.0) as i64;

    let mut agents = Vec::with_capacity(AGENTS);
    for i in 0..AGENTS {
        let supervisor = i < SUPERVISORS;
        let english = supervisor || i < SUPERVISORS + BILINGUAL;
        // Half the bilingual agents and as many `zh`-only ones have `vip`.
        let first_vip = SUPERVISORS + BILINGUAL / 2;
        let vip = supervisor || (first_vip..first_vip + VIP_AGENTS).contains(&i);
        let mut specialties = if supervisor {
            vec![3, 4]
        } else {
            let first = pick(&mut rng, &INTENT_SHARE);
            let mut s = vec![first];
            if rng.random_bool(0.5) {
                let mut w = INTENT_SHARE;
                w[first] = 0.0;
                s.push(pick(&mut rng, &w));
            }
            s
        };
        specialties.sort_unstable();
        let mut skills: BTreeSet<String> = specialties
            .iter()
            .map(|s| SPECIALTIES[*s].to_string())
            .collect();
        skills.insert("zh".into());
        if english {
            skills.insert("en".into());
        }
        if vip {
            skills.insert("vip".into());
        }
        let max_concurrent = if supervisor {
            3
        } else {
            rng.random_range(3..=5)
        };
        let mut breaks = Vec::new();
        let mut t = exponential(&mut rng, 90.0 * 60_000.0);
        while (t as i64) < horizon_ms {
            let len = rng.random_range(5.0..15.0) * 60_000.0;
            breaks.push((t as i64, (t + len) as i64));
            t += len + exponential(&mut rng, 90.0 * 60_000.0);
        }
        agents.push(AgentSpec {
            state: AgentState {
                id: agent_id(i),
                skills,
                max_concurrent,
                load: 0,
                presence: Presence::Online,
                role: if supervisor {
                    Role::Supervisor
                } else {
                    Role::Agent
                },
                last_assigned_at: None,
            },
            english,
            specialties,
            breaks,
        });
    }

    // The arrival rate that offers OFFERED_LOAD of the seats online on average.
    let seat_ms: f64 = agents
        .iter()
        .map(|a| {
            let away: i64 = a.breaks.iter().map(|(s, e)| (*e).min(horizon_ms) - s).sum();
            f64::from(a.state.max_concurrent) * (horizon_ms - away) as f64
        })
        .sum();
    let all_seats: f64 = agents
        .iter()
        .map(|a| f64::from(a.state.max_concurrent))
        .sum();
    let online_seat_share = seat_ms / (all_seats * horizon_ms as f64);
    let mean_handle_secs = MEDIAN_HANDLE_SECS * (HANDLE_SIGMA * HANDLE_SIGMA / 2.0).exp();
    let rate_per_sec = OFFERED_LOAD * seat_ms / horizon_ms as f64 / mean_handle_secs;

    let burst_start = horizon_ms / 2;
    let burst = (burst_start, burst_start + (BURST_MINUTES * 60_000.0) as i64);
    let peak = rate_per_sec * BURST_FACTOR;
    let english_speakers: Vec<usize> = (0..AGENTS).filter(|i| agents[*i].english).collect();
    let mut customers = Vec::new();
    let mut t = 0.0;
    loop {
        // Thinning: candidates at the peak rate, kept at the rate of the moment.
        t += exponential(&mut rng, 1000.0 / peak);
        let at = t as i64;
        if at >= horizon_ms {
            break;
        }
        let in_burst = at >= burst.0 && at < burst.1;
        let keep = if in_burst { 1.0 } else { 1.0 / BURST_FACTOR };
        if rng.random::<f64>() >= keep {
            continue;
        }
        let english = rng.random_bool(0.15);
        let intent = pick(&mut rng, &INTENT_SHARE);
        let vip = rng.random_bool(0.10);
        let angry = rng.random_bool(ANGRY_CHANCE[intent]);
        let anger = if angry {
            rng.random_range(0.6..=1.0)
        } else {
            rng.random_range(0.0..0.3)
        };
        let sticky = if rng.random_bool(0.10) {
            Some(if english {
                english_speakers[rng.random_range(0..english_speakers.len())]
            } else {
                rng.random_range(0..AGENTS)
            })
        } else {
            None
        };
        let base_handle_ms = 1000.0 * MEDIAN_HANDLE_SECS * (HANDLE_SIGMA * normal(&mut rng)).exp();
        customers.push(Customer {
            id: customers.len(),
            at,
            english,
            intent,
            vip,
            angry,
            anger,
            sticky,
            base_handle_ms,
            burst: in_burst,
        });
    }
    World {
        agents,
        customers,
        horizon_ms,
        burst,
        rate_per_sec,
        online_seat_share,
    }
}

// ---------------------------------------------------------------------------------------
// The two policies.

trait Policy {
    fn arrive(&mut self, customer: &Customer, now: i64);
    fn agent_changed(&mut self, agent: usize, state: &AgentState);
    /// The next assignment at `now`, if any: (customer, agent).
    fn next(&mut self, now: i64, agents: &[AgentState]) -> Option<(usize, usize)>;
}

fn t0() -> DateTime<Utc> {
    Utc.timestamp_opt(1_718_064_000, 0)
        .single()
        .expect("a valid timestamp")
}

fn instant(ms: i64) -> DateTime<Utc> {
    t0() + Duration::milliseconds(ms)
}

struct OurPolicy {
    router: Router,
    agent_index: HashMap<String, usize>,
    vip_relax_secs: u32,
    specialty_relax_secs: u32,
}

impl OurPolicy {
    fn new(world: &World, config: &Config) -> Self {
        Self {
            router: Router::new(),
            vip_relax_secs: config.vip_relax_secs,
            specialty_relax_secs: config.specialty_relax_secs,
            agent_index: world
                .agents
                .iter()
                .enumerate()
                .map(|(i, a)| (a.state.id.clone(), i))
                .collect(),
        }
    }
}

impl Policy for OurPolicy {
    fn arrive(&mut self, c: &Customer, now: i64) {
        let language = if c.english { "en" } else { "zh" };
        let mut w = Waiting::new(
            c.id.to_string(),
            [language.to_string()].into(),
            instant(c.at),
        );
        w.preferred.push(Preference {
            skill: SPECIALTIES[c.intent].to_string(),
            relax_after_secs: self.specialty_relax_secs,
        });
        if c.vip {
            w.value_tier = 1;
            w.sla_secs = 60;
            w.preferred.push(Preference {
                skill: "vip".into(),
                relax_after_secs: self.vip_relax_secs,
            });
        }
        w.anger = c.anger;
        w.sticky_agent = c.sticky.map(agent_id);
        self.router.enqueue(w, instant(now));
    }

    fn agent_changed(&mut self, _agent: usize, state: &AgentState) {
        self.router.upsert_agent(state.clone());
    }

    fn next(&mut self, now: i64, _agents: &[AgentState]) -> Option<(usize, usize)> {
        let a = self.router.route_one(instant(now))?;
        let customer = a.conversation_id.parse().expect("a customer number");
        let agent = *self.agent_index.get(&a.agent_id).expect("a known agent");
        Some((customer, agent))
    }
}

struct RoundRobin {
    /// Per language (zh, en): the FIFO queue of (arrival, customer).
    queues: [VecDeque<(i64, usize)>; 2],
    teams: [Vec<usize>; 2],
    next: [usize; 2],
}

impl RoundRobin {
    fn new(world: &World) -> Self {
        Self {
            queues: [VecDeque::new(), VecDeque::new()],
            teams: [
                (0..AGENTS).collect(),
                (0..AGENTS).filter(|i| world.agents[*i].english).collect(),
            ],
            next: [0, 0],
        }
    }

    /// Position in the team of the next agent in rotation with a free seat.
    fn free_in_rotation(&self, lang: usize, agents: &[AgentState]) -> Option<usize> {
        let team = &self.teams[lang];
        (0..team.len())
            .map(|k| (self.next[lang] + k) % team.len())
            .find(|p| agents[team[*p]].available())
    }
}

impl Policy for RoundRobin {
    fn arrive(&mut self, c: &Customer, _now: i64) {
        self.queues[usize::from(c.english)].push_back((c.at, c.id));
    }

    fn agent_changed(&mut self, _agent: usize, _state: &AgentState) {}

    fn next(&mut self, _now: i64, agents: &[AgentState]) -> Option<(usize, usize)> {
        // The oldest head among the queues whose team has a free seat.
        let lang = (0..2)
            .filter(|l| self.free_in_rotation(*l, agents).is_some())
            .filter_map(|l| self.queues[l].front().map(|(at, id)| ((*at, *id), l)))
            .min()?
            .1;
        let pos = self.free_in_rotation(lang, agents)?;
        let (_, customer) = self.queues[lang].pop_front()?;
        self.next[lang] = (pos + 1) % self.teams[lang].len();
        Some((customer, self.teams[lang][pos]))
    }
}

// ---------------------------------------------------------------------------------------
// The event loop.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Arrive(usize),
    Finish(usize),
    BreakStart(usize),
    BreakEnd(usize),
    /// A preference relaxes: nothing changes but the router must look again.
    Relax,
}

#[derive(Default)]
struct Served {
    wait_ms: i64,
    agent: usize,
    handle_ms: f64,
    specialist: bool,
}

struct Outcome {
    served: Vec<Served>,
    handled_per_agent: Vec<u32>,
    /// Per agent: online seat-milliseconds within the horizon.
    seat_ms: Vec<f64>,
    /// Time-weighted standard deviation of the online agents' load ratios, summed over ms.
    imbalance_ms: f64,
    busy_seat_ms: f64,
    online_seat_ms: f64,
    last_finish_ms: i64,
}

fn run(world: &World, policy: &mut dyn Policy, config: &Config) -> Outcome {
    let mut agents: Vec<AgentState> = world.agents.iter().map(|a| a.state.clone()).collect();
    for (i, a) in agents.iter().enumerate() {
        policy.agent_changed(i, a);
    }
    let mut heap: BinaryHeap<Reverse<(i64, u64, Event)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<_>, t: i64, e: Event| {
        seq += 1;
        heap.push(Reverse((t, seq, e)));
    };
    for c in &world.customers {
        push(&mut heap, c.at, Event::Arrive(c.id));
    }
    for (i, a) in world.agents.iter().enumerate() {
        for (s, e) in &a.breaks {
            push(&mut heap, *s, Event::BreakStart(i));
            push(&mut heap, *e, Event::BreakEnd(i));
        }
    }

    let mut out = Outcome {
        served: (0..world.customers.len())
            .map(|_| Served::default())
            .collect(),
        handled_per_agent: vec![0; AGENTS],
        seat_ms: vec![0.0; AGENTS],
        imbalance_ms: 0.0,
        busy_seat_ms: 0.0,
        online_seat_ms: 0.0,
        last_finish_ms: 0,
    };
    let mut now = 0i64;
    while let Some(Reverse((t, _, event))) = heap.pop() {
        // The state held over [now, t), counted within the horizon.
        let dt = (t.min(world.horizon_ms) - now.min(world.horizon_ms)) as f64;
        if dt > 0.0 {
            let online: Vec<&AgentState> = agents
                .iter()
                .filter(|a| a.presence == Presence::Online)
                .collect();
            if !online.is_empty() {
                let ratios: Vec<f64> = online.iter().map(|a| a.load_ratio()).collect();
                let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
                let var =
                    ratios.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / ratios.len() as f64;
                out.imbalance_ms += var.sqrt() * dt;
            }
            for (i, a) in agents.iter().enumerate() {
                if a.presence == Presence::Online {
                    out.seat_ms[i] += f64::from(a.max_concurrent) * dt;
                    out.online_seat_ms += f64::from(a.max_concurrent) * dt;
                }
                out.busy_seat_ms += f64::from(a.load) * dt;
            }
        }
        now = t;
        match event {
            Event::Arrive(c) => {
                let customer = &world.customers[c];
                policy.arrive(customer, now);
                push(
                    &mut heap,
                    now + i64::from(config.specialty_relax_secs) * 1000,
                    Event::Relax,
                );
                if customer.vip {
                    push(
                        &mut heap,
                        now + i64::from(config.vip_relax_secs) * 1000,
                        Event::Relax,
                    );
                }
            }
            Event::Finish(a) => {
                agents[a].load -= 1;
                policy.agent_changed(a, &agents[a]);
                out.last_finish_ms = now;
            }
            Event::BreakStart(a) => {
                agents[a].presence = Presence::Away;
                policy.agent_changed(a, &agents[a]);
            }
            Event::BreakEnd(a) => {
                agents[a].presence = Presence::Online;
                policy.agent_changed(a, &agents[a]);
            }
            Event::Relax => {}
        }
        while let Some((c, a)) = policy.next(now, &agents) {
            let customer = &world.customers[c];
            let agent = &mut agents[a];
            assert!(agent.available(), "{} assigned while unavailable", agent.id);
            agent.load += 1;
            agent.last_assigned_at = Some(instant(now));
            policy.agent_changed(a, agent);
            let specialist = world.agents[a].specialties.contains(&customer.intent);
            let factor = match (config.flat, specialist) {
                (true, _) => 1.0,
                (false, true) => SKILLED_FACTOR,
                (false, false) => UNSKILLED_FACTOR,
            };
            let handle_ms = customer.base_handle_ms * factor;
            out.served[c] = Served {
                wait_ms: now - customer.at,
                agent: a,
                handle_ms,
                specialist,
            };
            out.handled_per_agent[a] += 1;
            push(&mut heap, now + handle_ms.round() as i64, Event::Finish(a));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The figures.

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

struct Waits {
    n: usize,
    within_goal: f64,
    mean: f64,
    p90: f64,
    p99: f64,
}

fn waits<'a>(served: impl Iterator<Item = &'a Served>) -> Waits {
    let mut w: Vec<i64> = served.map(|s| s.wait_ms).collect();
    w.sort_unstable();
    let n = w.len().max(1) as f64;
    Waits {
        n: w.len(),
        within_goal: w.iter().filter(|x| **x <= ANSWER_GOAL_MS).count() as f64 / n,
        mean: w.iter().sum::<i64>() as f64 / n / 1000.0,
        p90: percentile(&w, 0.90),
        p99: percentile(&w, 0.99),
    }
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

struct Row {
    label: String,
    ours: String,
    rr: String,
}

fn main() {
    let config = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let world = build_world(&config);
    let started = std::time::Instant::now();
    let ours = run(&world, &mut OurPolicy::new(&world, &config), &config);
    let rr = run(&world, &mut RoundRobin::new(&world), &config);
    let elapsed = started.elapsed();

    let customers = &world.customers;
    let n = customers.len();
    let seats: u32 = world.agents.iter().map(|a| a.state.max_concurrent).sum();
    let english_agents = world.agents.iter().filter(|a| a.english).count();
    let vip_agents = world
        .agents
        .iter()
        .filter(|a| a.state.skills.contains("vip"))
        .count();
    let mean_handle_secs = MEDIAN_HANDLE_SECS * (HANDLE_SIGMA * HANDLE_SIGMA / 2.0).exp();
    println!(
        "seed {}  hours {}  customers {}  agents {} ({} seats; {} speak en, {} vip, {} supervisors)",
        config.seed, config.hours, n, AGENTS, seats, english_agents, vip_agents, SUPERVISORS
    );
    println!(
        "arrivals: Poisson, {:.0}/h ({:.0}/h in the flash sale {}–{} min); agents online {:.0} % of the time (breaks)",
        world.rate_per_sec * 3600.0,
        world.rate_per_sec * BURST_FACTOR * 3600.0,
        world.burst.0 / 60_000,
        world.burst.1 / 60_000,
        100.0 * world.online_seat_share,
    );
    println!(
        "offered load at base handle times: {:.0} % of online seats ({:.0} % in the flash sale)",
        100.0 * OFFERED_LOAD,
        100.0 * OFFERED_LOAD * BURST_FACTOR
    );
    if config.flat {
        println!(
            "handle time: log-normal, median {MEDIAN_HANDLE_SECS:.0} s, mean {mean_handle_secs:.0} s; --flat: the same whoever serves"
        );
    } else {
        println!(
            "handle time: log-normal, median {MEDIAN_HANDLE_SECS:.0} s, mean {mean_handle_secs:.0} s; \
             ×{SKILLED_FACTOR} with the customer's specialty, ×{UNSKILLED_FACTOR} without (assumed)"
        );
    }
    println!(
        "our policy: `vip` preferred for {} s, the specialty for {} s; round robin: language only",
        config.vip_relax_secs, config.specialty_relax_secs
    );
    println!("simulated both policies in {:.2} s", elapsed.as_secs_f64());
    println!();

    let mut rows: Vec<Row> = Vec::new();
    let mut row = |label: &str, f: &dyn Fn(&Outcome) -> String| {
        rows.push(Row {
            label: label.to_string(),
            ours: f(&ours),
            rr: f(&rr),
        });
    };
    let pct = |x: f64| format!("{:.1} %", 100.0 * x);
    let secs = |x: f64| format!("{x:.1} s");
    let all = |o: &Outcome| waits(o.served.iter());
    let group = |o: &'_ Outcome, keep: &dyn Fn(&Customer) -> bool| -> Waits {
        waits(
            customers
                .iter()
                .filter(|c| keep(c))
                .map(|c| &o.served[c.id]),
        )
    };

    row("conversations", &|o| all(o).n.to_string());
    row("answered within 20 s", &|o| pct(all(o).within_goal));
    row("mean wait", &|o| secs(all(o).mean));
    row("p90 wait", &|o| secs(all(o).p90));
    row("p99 wait", &|o| secs(all(o).p99));
    row("max wait", &|o| {
        secs(o.served.iter().map(|s| s.wait_ms).max().unwrap_or(0) as f64 / 1000.0)
    });
    row("SLA met (180 s; VIP 60 s)", &|o| {
        let met = customers
            .iter()
            .filter(|c| o.served[c.id].wait_ms <= if c.vip { 60_000 } else { 180_000 })
            .count();
        pct(met as f64 / n as f64)
    });
    row("seat utilisation", &|o| {
        pct(o.busy_seat_ms / o.online_seat_ms)
    });
    row("load imbalance: sd of load ratio", &|o| {
        format!("{:.3}", o.imbalance_ms / world.horizon_ms as f64)
    });
    row("per agent: conversations min–max", &|o| {
        let min = o.handled_per_agent.iter().min().copied().unwrap_or(0);
        let max = o.handled_per_agent.iter().max().copied().unwrap_or(0);
        format!("{min}–{max}")
    });
    row("per agent: CV per online seat-hour", &|o| {
        let per: Vec<f64> = o
            .handled_per_agent
            .iter()
            .zip(&o.seat_ms)
            .map(|(h, s)| f64::from(*h) / (s / 3_600_000.0))
            .collect();
        let (mean, sd) = mean_sd(&per);
        format!("{:.3}", sd / mean)
    });
    row("served by a specialist", &|o| {
        pct(o.served.iter().filter(|s| s.specialist).count() as f64 / n as f64)
    });
    row("mean handle time", &|o| {
        secs(o.served.iter().map(|s| s.handle_ms).sum::<f64>() / n as f64 / 1000.0)
    });
    row("returning: back to their agent", &|o| {
        let returning: Vec<&Customer> = customers.iter().filter(|c| c.sticky.is_some()).collect();
        let back = returning
            .iter()
            .filter(|c| c.sticky == Some(o.served[c.id].agent))
            .count();
        pct(back as f64 / returning.len().max(1) as f64)
    });
    row("last conversation closed at", &|o| {
        format!("{:.0} min", o.last_finish_ms as f64 / 60_000.0)
    });

    let angry_share = customers.iter().filter(|c| c.angry).count() as f64 / n as f64;
    let vip_share = customers.iter().filter(|c| c.vip).count() as f64 / n as f64;
    for (name, keep, share) in [
        (
            "angry",
            (|c: &Customer| c.angry) as fn(&Customer) -> bool,
            angry_share,
        ),
        ("VIP", |c: &Customer| c.vip, vip_share),
    ] {
        row(&format!("{name}: customers"), &|o| {
            group(o, &keep).n.to_string()
        });
        row(&format!("{name}: answered within 20 s"), &|o| {
            pct(group(o, &keep).within_goal)
        });
        row(&format!("{name}: mean wait"), &|o| {
            secs(group(o, &keep).mean)
        });
        row(&format!("{name}: p90 wait"), &|o| secs(group(o, &keep).p90));
        row(
            &format!(
                "{name}: share of top 10 % waits ({:.1} % of all)",
                100.0 * share
            ),
            &|o| {
                // The longest 10 % of waits (ties by arrival, earliest first).
                let mut order: Vec<&Customer> = customers.iter().collect();
                order.sort_by_key(|c| (Reverse(o.served[c.id].wait_ms), c.id));
                let top = &order[..n.div_ceil(10)];
                pct(top.iter().filter(|c| keep(c)).count() as f64 / top.len().max(1) as f64)
            },
        );
    }
    for (name, burst) in [("normal", false), ("flash sale", true)] {
        let keep = move |c: &Customer| c.burst == burst;
        row(&format!("{name}: conversations"), &|o| {
            group(o, &keep).n.to_string()
        });
        row(&format!("{name}: answered within 20 s"), &|o| {
            pct(group(o, &keep).within_goal)
        });
        row(&format!("{name}: mean wait"), &|o| {
            secs(group(o, &keep).mean)
        });
        row(&format!("{name}: p90 wait"), &|o| secs(group(o, &keep).p90));
    }

    let width = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0);
    println!(
        "{:<width$}  {:>14}  {:>14}",
        "", "our policy", "round robin"
    );
    for r in &rows {
        let pad = width - r.label.chars().count();
        println!(
            "{}{}  {:>14}  {:>14}",
            r.label,
            " ".repeat(pad),
            r.ours,
            r.rr
        );
    }
    println!();
    println!(
        "wait: handoff to assignment. load imbalance: the time-weighted mean, over the horizon, of the\n\
         standard deviation of the online agents' load ratios (load / max_concurrent); CV: standard\n\
         deviation / mean of each agent's conversations per online seat-hour. \"Share of top 10 %\n\
         waits\": of the customers with the longest 10 % of waits, the share that were angry (VIP),\n\
         against their share of all customers."
    );
}
