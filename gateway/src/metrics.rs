//! What this process counts, served as Prometheus text on `GET /metrics` (the `prometheus`
//! crate's registry and text encoder).
//!
//! Counters and the latency histogram are per process (a Prometheus server sums them over
//! processes); the gauges that describe the shared state (queue length, agents online) are
//! read from the store when scraped; open WebSockets are this process's own.

use crate::store::WriterStats;
use prometheus::{
    Counter, Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};
use std::sync::Mutex;

pub struct Metrics {
    registry: Registry,
    /// Assignments by the rule that chose the agent.
    assignments: IntCounterVec,
    /// Assignments in which a preferred skill had been relaxed.
    pub relaxed_assignments: IntCounter,
    pub accept_timeouts: IntCounter,
    pub agents_lost: IntCounter,
    pub transfers: IntCounter,
    pub escalations: IntCounter,
    /// Handoffs, one per reason a handoff gave (a handoff may give several).
    handoff_reasons: IntCounterVec,
    pub handoffs: IntCounter,
    /// Decisions that went stale because the state changed under them (another process).
    pub stale_decisions: IntCounter,
    /// How long the router takes to decide one routing pass, seconds.
    pub decision_seconds: Histogram,
    pub routing_passes: IntCounter,
    /// Bot turns by decision (answer, clarify, handoff).
    bot_turns: IntCounterVec,
    /// Open WebSockets by side (customer, agent).
    websockets: IntGaugeVec,
    queue_waiting: IntGauge,
    agents_online: IntGauge,
    /// Webhook delivery attempts by outcome (delivered, retrying, failed).
    webhook_attempts: IntCounterVec,
    /// The embedded store's writer: transactions, writes in them, seconds busy. Brought up to
    /// the store's own counts when scraped; `writer_seen` is what they were last brought to.
    store_transactions: IntCounter,
    store_writes: IntCounter,
    store_busy_seconds: Counter,
    writer_seen: Mutex<WriterStats>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Registers a metric; the names are fixed and distinct, so registration cannot fail.
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> M {
    if let Err(error) = registry.register(Box::new(metric.clone())) {
        tracing::error!(%error, "a metric could not be registered");
    }
    metric
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let metric = IntCounter::new(name, help).expect("metric names are fixed and valid");
    registered(registry, metric)
}

fn counter_vec(registry: &Registry, name: &str, help: &str, label: &str) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), &[label])
        .expect("metric names and labels are fixed and valid");
    registered(registry, metric)
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let r = &registry;
        let decision_seconds = registered(
            r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "gateway_routing_decision_seconds",
                    "Time the router takes to decide one routing pass.",
                )
                .buckets(vec![
                    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01,
                    0.025, 0.1,
                ]),
            )
            .expect("fixed histogram options are valid"),
        );
        let websockets = registered(
            r,
            IntGaugeVec::new(
                Opts::new(
                    "gateway_websockets_open",
                    "WebSockets open on this process.",
                ),
                &["side"],
            )
            .expect("fixed gauge options are valid"),
        );
        let gauge = |name: &str, help: &str| {
            registered(
                r,
                IntGauge::new(name, help).expect("fixed gauge options are valid"),
            )
        };
        Self {
            assignments: counter_vec(
                r,
                "gateway_routing_assignments_total",
                "Conversations assigned, by the rule that chose the agent.",
                "rule",
            ),
            relaxed_assignments: counter(
                r,
                "gateway_routing_relaxed_assignments_total",
                "Assignments made after a preferred skill was relaxed.",
            ),
            accept_timeouts: counter(
                r,
                "gateway_routing_accept_timeouts_total",
                "Assignments taken back because the agent did not answer in time.",
            ),
            agents_lost: counter(
                r,
                "gateway_routing_agents_lost_total",
                "Agents set away after their connection stayed away past the grace period.",
            ),
            transfers: counter(
                r,
                "gateway_routing_transfers_total",
                "Conversations transferred by an agent.",
            ),
            escalations: counter(
                r,
                "gateway_routing_escalations_total",
                "Conversations escalated to a supervisor.",
            ),
            handoff_reasons: counter_vec(
                r,
                "gateway_handoff_reasons_total",
                "Reasons given for handoffs from the bot to people (a handoff may give several).",
                "reason",
            ),
            handoffs: counter(
                r,
                "gateway_handoffs_total",
                "Conversations handed from the bot to people.",
            ),
            stale_decisions: counter(
                r,
                "gateway_routing_stale_decisions_total",
                "Decisions that went stale before their claim (state changed meanwhile).",
            ),
            decision_seconds,
            routing_passes: counter(r, "gateway_routing_passes_total", "Routing passes run."),
            bot_turns: counter_vec(
                r,
                "gateway_bot_turns_total",
                "Customer messages the bot answered, by its decision.",
                "decision",
            ),
            websockets,
            queue_waiting: gauge(
                "gateway_queue_waiting",
                "Conversations waiting for an agent.",
            ),
            agents_online: gauge("gateway_agents_online", "Agents taking new conversations."),
            webhook_attempts: counter_vec(
                r,
                "gateway_webhook_attempts_total",
                "Webhook delivery attempts by outcome: delivered, retrying (failed, another attempt scheduled) or failed (no attempts left).",
                "outcome",
            ),
            store_transactions: counter(
                r,
                "gateway_store_transactions_total",
                "Write transactions of the embedded store's writer (a group commit each: one fsync for every write waiting); 0 on Redis.",
            ),
            store_writes: counter(
                r,
                "gateway_store_writes_total",
                "Writes run in those transactions; divided by the transactions, the mean batch size. 0 on Redis.",
            ),
            store_busy_seconds: registered(
                r,
                Counter::new(
                    "gateway_store_writer_busy_seconds_total",
                    "Time the embedded store's writer spent running batches up to their durable commit; its rate is the writer's busy fraction. 0 on Redis.",
                )
                .expect("fixed counter options are valid"),
            ),
            writer_seen: Mutex::new(WriterStats::default()),
            registry,
        }
    }

    /// Brings the store-writer counters up to `now`, the store's own counts.
    fn catch_up_writer(&self, now: WriterStats) {
        let mut seen = crate::state::lock(&self.writer_seen);
        self.store_transactions
            .inc_by(now.transactions.saturating_sub(seen.transactions));
        self.store_writes
            .inc_by(now.writes.saturating_sub(seen.writes));
        let busy = now.busy_seconds - seen.busy_seconds;
        if busy > 0.0 {
            self.store_busy_seconds.inc_by(busy);
        }
        *seen = now;
    }

    pub fn count_assignment(&self, rule: router::Rule, relaxed: bool) {
        let name = match rule {
            router::Rule::Target => "target",
            router::Rule::Sticky => "sticky",
            router::Rule::OnlyCandidate => "only_candidate",
            router::Rule::LowestLoad => "lowest_load",
            router::Rule::LongestIdle => "longest_idle",
            router::Rule::Id => "id",
        };
        self.assignments.with_label_values(&[name]).inc();
        if relaxed {
            self.relaxed_assignments.inc();
        }
    }

    /// One webhook delivery attempt and how it went.
    pub fn count_webhook(&self, outcome: &str) {
        self.webhook_attempts.with_label_values(&[outcome]).inc();
    }

    /// One handoff and the reasons it gave (their snake_case names).
    pub fn count_handoff(&self, reasons: &[bot::HandoffReason]) {
        self.handoffs.inc();
        for reason in reasons {
            let name = serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "other".to_owned());
            self.handoff_reasons.with_label_values(&[&name]).inc();
        }
    }

    /// One bot turn and its decision.
    pub fn count_bot_turn(&self, decision: bot::DecisionKind) {
        let name = match decision {
            bot::DecisionKind::Answer => "answer",
            bot::DecisionKind::Clarify => "clarify",
            bot::DecisionKind::Handoff => "handoff",
        };
        self.bot_turns.with_label_values(&[name]).inc();
    }

    /// A WebSocket opened (`+1`) or closed (`-1`) on this process; `side` is `customer` or
    /// `agent`.
    pub fn websocket(&self, side: &str, delta: i64) {
        self.websockets.with_label_values(&[side]).add(delta);
    }

    /// The Prometheus text exposition, with the shared gauges and the store writer's counts
    /// (`None`: the store has no writer of its own) read by the caller.
    pub fn render(
        &self,
        queue_length: usize,
        agents_online: usize,
        writer: Option<WriterStats>,
    ) -> String {
        if let Some(now) = writer {
            self.catch_up_writer(now);
        }
        self.queue_waiting
            .set(i64::try_from(queue_length).unwrap_or(i64::MAX));
        self.agents_online
            .set(i64::try_from(agents_online).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(%error, "metrics could not be encoded");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_rendered_in_the_text_format() {
        let m = Metrics::new();
        m.count_assignment(router::Rule::LowestLoad, true);
        m.count_handoff(&[bot::HandoffReason::ExplicitRequest]);
        m.count_bot_turn(bot::DecisionKind::Answer);
        m.count_bot_turn(bot::DecisionKind::Answer);
        m.websocket("customer", 1);
        m.decision_seconds.observe(0.000_03);
        m.accept_timeouts.inc();
        m.render(
            0,
            0,
            Some(WriterStats {
                transactions: 2,
                writes: 5,
                busy_seconds: 0.25,
            }),
        );
        let text = m.render(
            4,
            2,
            Some(WriterStats {
                transactions: 3,
                writes: 9,
                busy_seconds: 0.5,
            }),
        );
        for line in [
            "gateway_routing_assignments_total{rule=\"lowest_load\"} 1",
            "gateway_routing_relaxed_assignments_total 1",
            "gateway_handoffs_total 1",
            "gateway_handoff_reasons_total{reason=\"explicit_request\"} 1",
            "gateway_bot_turns_total{decision=\"answer\"} 2",
            "gateway_websockets_open{side=\"customer\"} 1",
            "gateway_routing_decision_seconds_bucket{le=\"0.00005\"} 1",
            "gateway_routing_decision_seconds_count 1",
            "gateway_routing_accept_timeouts_total 1",
            "gateway_queue_waiting 4",
            "gateway_agents_online 2",
            // The store's own counts, not their sum over scrapes.
            "gateway_store_transactions_total 3",
            "gateway_store_writes_total 9",
            "gateway_store_writer_busy_seconds_total 0.5",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
