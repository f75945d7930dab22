//! Counters this process keeps, served as Prometheus text on `GET /metrics`.
//!
//! Counters are per process (a Prometheus server sums them over processes); gauges that
//! describe the shared state (queue length, agents online) are read from the store when
//! scraped.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct Metrics {
    /// Assignments by the rule that chose the agent.
    assignments: Mutex<BTreeMap<&'static str, u64>>,
    /// Assignments in which a preferred skill had been relaxed.
    pub relaxed_assignments: AtomicU64,
    pub accept_timeouts: AtomicU64,
    pub agents_lost: AtomicU64,
    pub transfers: AtomicU64,
    pub escalations: AtomicU64,
    pub handoffs: AtomicU64,
    /// Decisions that went stale because the state changed under them (another process).
    pub stale_decisions: AtomicU64,
    /// Total microseconds spent deciding, and decisions, for the mean decision time.
    pub decision_micros: AtomicU64,
    pub routing_passes: AtomicU64,
}

impl Metrics {
    pub fn count_assignment(&self, rule: router::Rule, relaxed: bool) {
        let name = match rule {
            router::Rule::Target => "target",
            router::Rule::Sticky => "sticky",
            router::Rule::OnlyCandidate => "only_candidate",
            router::Rule::LowestLoad => "lowest_load",
            router::Rule::LongestIdle => "longest_idle",
            router::Rule::Id => "id",
        };
        let mut map = self
            .assignments
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *map.entry(name).or_default() += 1;
        if relaxed {
            self.relaxed_assignments.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with the gauges read by the caller.
    pub fn render(&self, queue_length: usize, agents_online: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP gateway_routing_assignments_total Conversations assigned, by the rule that chose the agent.\n# TYPE gateway_routing_assignments_total counter"
        );
        let map = self
            .assignments
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        for (rule, n) in map {
            let _ = writeln!(
                out,
                "gateway_routing_assignments_total{{rule=\"{rule}\"}} {n}"
            );
        }
        let counters: [(&str, &str, &AtomicU64); 9] = [
            (
                "gateway_routing_relaxed_assignments_total",
                "Assignments made after a preferred skill was relaxed.",
                &self.relaxed_assignments,
            ),
            (
                "gateway_routing_accept_timeouts_total",
                "Assignments taken back because the agent did not answer in time.",
                &self.accept_timeouts,
            ),
            (
                "gateway_routing_agents_lost_total",
                "Agents set away after their connection stayed away past the grace period.",
                &self.agents_lost,
            ),
            (
                "gateway_routing_transfers_total",
                "Conversations transferred by an agent.",
                &self.transfers,
            ),
            (
                "gateway_routing_escalations_total",
                "Conversations escalated to a supervisor.",
                &self.escalations,
            ),
            (
                "gateway_handoffs_total",
                "Conversations handed from the bot to people.",
                &self.handoffs,
            ),
            (
                "gateway_routing_stale_decisions_total",
                "Decisions that went stale before their claim (state changed meanwhile).",
                &self.stale_decisions,
            ),
            (
                "gateway_routing_decision_microseconds_total",
                "Time spent in the router deciding, microseconds.",
                &self.decision_micros,
            ),
            (
                "gateway_routing_passes_total",
                "Routing passes run.",
                &self.routing_passes,
            ),
        ];
        for (name, help, value) in counters {
            let value = value.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP gateway_queue_waiting Conversations waiting for an agent.\n# TYPE gateway_queue_waiting gauge\ngateway_queue_waiting {queue_length}"
        );
        let _ = writeln!(
            out,
            "# HELP gateway_agents_online Agents taking new conversations.\n# TYPE gateway_agents_online gauge\ngateway_agents_online {agents_online}"
        );
        out
    }
}
