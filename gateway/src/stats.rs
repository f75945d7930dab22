//! Service KPIs over a cohort of conversations: those created in `[from, to)`.
//!
//! Every figure is computed from what the store already keeps — the conversation record, its
//! handoff package (reasons), its routing records (assignments, transfers) and its transcript
//! (response times) — so nothing extra is written on the hot path, and a figure is always
//! reproducible from the records behind it. The definitions, each exact:
//!
//! - **bot containment**: never handed off, and the bot's last reply was an answer: the customer
//!   got what they asked and did not ask for a person. Kept apart from **left with the bot**:
//!   never handed off, and the bot's last reply was a clarification or a fallback (or it never
//!   replied) — the customer simply left. Containment + left + handoff rates sum to 1.
//! - **handoff rate by reason**: conversations handed off for a reason ÷ conversations; a
//!   handoff with two reasons counts under both.
//! - **response times** (human): the customer waits from the handoff, then from their first
//!   message after each agent reply; an agent message ends the wait. The first such wait is the
//!   **first response** (counted from the handoff, never from the bot's replies); the average
//!   response time is over every wait an agent ended. Percentiles are nearest-rank.
//! - **3-minute response rate**: first responses within 180 s ÷ handed-off conversations whose
//!   outcome is known: answered, or unanswered for 180 s or more (until they ended, or until
//!   now). A customer who left unanswered within 180 s is not counted either way.
//! - **resolution rate**: resolved ÷ handed off. **First-contact resolution**: resolved by the
//!   only agent it was ever assigned to, with no transfer, escalation, missed accept or lost
//!   agent ÷ handed off.
//! - **transfer rate**: handed-off conversations transferred or escalated at least once ÷
//!   handed off.
//! - **good rate**: satisfied ÷ (satisfied + neutral + disappointed). **Attitude-complaint
//!   rate**: neutral and disappointed ratings that give `attitude` ÷ (neutral + disappointed).
//!   A rating belongs to the agent holding the conversation when it ended.
//! - **repeated rate**: handed-off conversations where the customer repeated a question they
//!   had asked the bot ÷ handed off.
//!
//! A rate whose denominator is zero is `null`, never 0.

use crate::domain::{
    AuthorRole, Conversation, ConversationState, Message, RatingReason, RatingValue, RoutingEvent,
    RoutingRecord, StoredContext,
};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Seconds within which a first response counts as prompt.
pub const PROMPT_RESPONSE_SECS: i64 = 180;

/// One conversation of the cohort with the records its figures come from.
#[derive(Debug, Clone)]
pub struct Facts {
    pub conversation: Conversation,
    pub context: Option<StoredContext>,
    pub routing: Vec<RoutingRecord>,
    pub messages: Vec<Message>,
}

/// What one conversation contributes, derived once.
#[derive(Debug, Clone)]
struct Derived {
    created_at: DateTime<Utc>,
    handed_off: bool,
    contained: bool,
    reasons: Vec<String>,
    /// Agents it was assigned to, in order of first assignment.
    agents: Vec<String>,
    /// (agent, seconds) for every wait an agent ended, in order.
    responses: Vec<(String, f64)>,
    /// `Some(true)` answered within 180 s, `Some(false)` not, `None` not known yet.
    prompt: Option<bool>,
    resolved_by: Option<String>,
    first_contact: bool,
    transferred: bool,
    /// The agent of each transfer or escalation.
    transfers_by: Vec<String>,
    rating: Option<(RatingValue, bool)>,
    rated_agent: Option<String>,
    repeated: bool,
}

fn derive(facts: &Facts, now: DateTime<Utc>) -> Derived {
    let c = &facts.conversation;
    let handed_off = c.handed_off_at.is_some();
    let last_bot = facts.messages.iter().rev().find_map(|m| {
        (m.author.role == AuthorRole::Bot)
            .then_some(m.bot.as_ref())
            .flatten()
    });
    let contained =
        !handed_off && last_bot.is_some_and(|meta| meta.decision == bot::DecisionKind::Answer);
    let reasons = facts
        .context
        .as_ref()
        .map(|ctx| {
            ctx.bot
                .handoff_reasons
                .iter()
                .filter_map(|r| serde_json::to_value(r).ok())
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut agents: Vec<String> = Vec::new();
    let mut disrupted = false;
    let mut transferred = false;
    let mut transfers_by = Vec::new();
    for record in &facts.routing {
        match record.event {
            RoutingEvent::Assigned => {
                if !agents.contains(&record.agent_id) {
                    agents.push(record.agent_id.clone());
                }
            }
            RoutingEvent::Transferred | RoutingEvent::Escalated => {
                transferred = true;
                disrupted = true;
                transfers_by.push(record.agent_id.clone());
            }
            RoutingEvent::AcceptTimeout | RoutingEvent::AgentLost => disrupted = true,
        }
    }
    let mut responses = Vec::new();
    if let Some(handed_off_at) = c.handed_off_at {
        let mut waiting_since = Some(handed_off_at);
        for message in facts
            .messages
            .iter()
            .filter(|m| m.created_at >= handed_off_at)
        {
            match message.author.role {
                AuthorRole::Customer => {
                    waiting_since.get_or_insert(message.created_at);
                }
                AuthorRole::Agent => {
                    if let Some(since) = waiting_since.take() {
                        let agent = message.author.id.clone().unwrap_or_default();
                        let seconds = (message.created_at - since).num_milliseconds() as f64 / 1e3;
                        responses.push((agent, seconds.max(0.0)));
                    }
                }
                AuthorRole::Bot | AuthorRole::System => {}
            }
        }
    }
    let prompt = c
        .handed_off_at
        .and_then(|handed_off_at| match responses.first() {
            Some((_, seconds)) => Some(*seconds <= PROMPT_RESPONSE_SECS as f64),
            None => {
                let until = c.ended_at.unwrap_or(now);
                (until - handed_off_at >= Duration::seconds(PROMPT_RESPONSE_SECS)).then_some(false)
            }
        });
    let holder = c.assignee.as_ref().map(|a| a.id.clone());
    let resolved = c.state == ConversationState::Resolved;
    let resolved_by = if resolved { holder.clone() } else { None };
    let first_contact = resolved && !disrupted && agents.len() == 1;
    let rating = c.rating.as_ref().map(|r| {
        (
            r.rating,
            r.rating != RatingValue::Satisfied && r.reasons.contains(&RatingReason::Attitude),
        )
    });
    Derived {
        created_at: c.created_at,
        handed_off,
        contained,
        reasons,
        agents,
        responses,
        prompt,
        resolved_by,
        first_contact,
        transferred,
        transfers_by,
        rating,
        rated_agent: holder,
        repeated: handed_off && c.repeats_after_handoff > 0,
    }
}

/// p50 and p90 of a set of durations, nearest-rank.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub count: usize,
}

impl Percentiles {
    fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            if values.is_empty() {
                return None;
            }
            let index = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
            values.get(index).copied()
        };
        Percentiles {
            p50: rank(0.5),
            p90: rank(0.9),
            count: values.len(),
        }
    }
}

/// Ratings by value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RatingCounts {
    pub satisfied: usize,
    pub neutral: usize,
    pub disappointed: usize,
    /// Neutral and disappointed ratings giving `attitude` as a reason.
    pub attitude_complaints: usize,
}

impl RatingCounts {
    fn add(&mut self, value: RatingValue, attitude: bool) {
        match value {
            RatingValue::Satisfied => self.satisfied += 1,
            RatingValue::Neutral => self.neutral += 1,
            RatingValue::Disappointed => self.disappointed += 1,
        }
        if attitude {
            self.attitude_complaints += 1;
        }
    }

    fn good_rate(&self) -> Option<f64> {
        rate(
            self.satisfied,
            self.satisfied + self.neutral + self.disappointed,
        )
    }

    fn attitude_complaint_rate(&self) -> Option<f64> {
        rate(self.attitude_complaints, self.neutral + self.disappointed)
    }
}

fn rate(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The figures of a set of conversations (the whole cohort or one day of it).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub conversations: usize,
    pub bot_contained: usize,
    pub bot_containment_rate: Option<f64>,
    pub left_with_bot: usize,
    pub left_with_bot_rate: Option<f64>,
    pub handed_off: usize,
    pub handoff_rate: Option<f64>,
    /// Handed-off conversations by reason.
    pub handoff_reasons: BTreeMap<String, usize>,
    pub handoff_rate_by_reason: BTreeMap<String, f64>,
    pub first_response_seconds: Percentiles,
    pub response_within_3min_rate: Option<f64>,
    pub average_response_seconds: Option<f64>,
    pub resolved: usize,
    pub resolution_rate: Option<f64>,
    pub first_contact_resolved: usize,
    pub first_contact_resolution_rate: Option<f64>,
    pub transferred: usize,
    pub transfer_rate: Option<f64>,
    pub ratings: RatingCounts,
    pub good_rate: Option<f64>,
    pub attitude_complaint_rate: Option<f64>,
    pub repeated: usize,
    pub repeated_rate: Option<f64>,
}

impl Summary {
    fn of(items: &[&Derived]) -> Self {
        let conversations = items.len();
        let handed: Vec<&&Derived> = items.iter().filter(|d| d.handed_off).collect();
        let handed_off = handed.len();
        let bot_contained = items.iter().filter(|d| d.contained).count();
        let left_with_bot = conversations - handed_off - bot_contained;
        let mut handoff_reasons = BTreeMap::new();
        for reason in handed.iter().flat_map(|d| d.reasons.iter()) {
            *handoff_reasons.entry(reason.clone()).or_insert(0) += 1;
        }
        let handoff_rate_by_reason = handoff_reasons
            .iter()
            .filter_map(|(reason, n)| rate(*n, conversations).map(|r| (reason.clone(), r)))
            .collect();
        let firsts: Vec<f64> = handed
            .iter()
            .filter_map(|d| d.responses.first().map(|(_, s)| *s))
            .collect();
        let all: Vec<f64> = handed
            .iter()
            .flat_map(|d| d.responses.iter().map(|(_, s)| *s))
            .collect();
        let known: Vec<bool> = handed.iter().filter_map(|d| d.prompt).collect();
        let resolved = handed.iter().filter(|d| d.resolved_by.is_some()).count();
        let first_contact_resolved = handed.iter().filter(|d| d.first_contact).count();
        let transferred = handed.iter().filter(|d| d.transferred).count();
        let mut ratings = RatingCounts::default();
        for (value, attitude) in items.iter().filter_map(|d| d.rating) {
            ratings.add(value, attitude);
        }
        let repeated = handed.iter().filter(|d| d.repeated).count();
        Summary {
            conversations,
            bot_contained,
            bot_containment_rate: rate(bot_contained, conversations),
            left_with_bot,
            left_with_bot_rate: rate(left_with_bot, conversations),
            handed_off,
            handoff_rate: rate(handed_off, conversations),
            handoff_reasons,
            handoff_rate_by_reason,
            first_response_seconds: Percentiles::of(firsts),
            response_within_3min_rate: rate(known.iter().filter(|p| **p).count(), known.len()),
            average_response_seconds: mean(&all),
            resolved,
            resolution_rate: rate(resolved, handed_off),
            first_contact_resolved,
            first_contact_resolution_rate: rate(first_contact_resolved, handed_off),
            transferred,
            transfer_rate: rate(transferred, handed_off),
            good_rate: ratings.good_rate(),
            attitude_complaint_rate: ratings.attitude_complaint_rate(),
            ratings,
            repeated,
            repeated_rate: rate(repeated, handed_off),
        }
    }
}

/// One agent's figures over the conversations they were assigned.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgentSummary {
    pub agent_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Conversations assigned to the agent at least once.
    pub conversations: usize,
    /// First responses the agent gave.
    pub first_response_seconds: Percentiles,
    pub response_within_3min_rate: Option<f64>,
    /// Over every wait the agent ended.
    pub average_response_seconds: Option<f64>,
    /// Conversations the agent resolved (held it when it was resolved).
    pub resolved: usize,
    pub resolution_rate: Option<f64>,
    /// Transfers and escalations the agent made.
    pub transfers: usize,
    /// Ratings of conversations the agent held when they ended.
    pub ratings: RatingCounts,
    pub good_rate: Option<f64>,
    pub attitude_complaint_rate: Option<f64>,
}

fn agent_summary(agent_id: &str, name: Option<String>, items: &[&Derived]) -> AgentSummary {
    let held: Vec<&&Derived> = items
        .iter()
        .filter(|d| d.agents.iter().any(|a| a == agent_id))
        .collect();
    let firsts: Vec<f64> = items
        .iter()
        .filter_map(|d| d.responses.first())
        .filter(|(a, _)| a == agent_id)
        .map(|(_, s)| *s)
        .collect();
    let prompt = firsts
        .iter()
        .filter(|s| **s <= PROMPT_RESPONSE_SECS as f64)
        .count();
    let all: Vec<f64> = items
        .iter()
        .flat_map(|d| d.responses.iter())
        .filter(|(a, _)| a == agent_id)
        .map(|(_, s)| *s)
        .collect();
    let resolved = items
        .iter()
        .filter(|d| d.resolved_by.as_deref() == Some(agent_id))
        .count();
    let transfers = items
        .iter()
        .flat_map(|d| d.transfers_by.iter())
        .filter(|a| *a == agent_id)
        .count();
    let mut ratings = RatingCounts::default();
    for d in items {
        if let (Some((value, attitude)), Some(holder)) = (d.rating, &d.rated_agent) {
            if holder == agent_id {
                ratings.add(value, attitude);
            }
        }
    }
    AgentSummary {
        agent_id: agent_id.to_owned(),
        name,
        conversations: held.len(),
        response_within_3min_rate: rate(prompt, firsts.len()),
        first_response_seconds: Percentiles::of(firsts),
        average_response_seconds: mean(&all),
        resolved,
        resolution_rate: rate(resolved, held.len()),
        transfers,
        good_rate: ratings.good_rate(),
        attitude_complaint_rate: ratings.attitude_complaint_rate(),
        ratings,
    }
}

/// One local day of the cohort.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Day {
    pub date: NaiveDate,
    #[serde(flatten)]
    pub summary: Summary,
}

/// The most conversations one KPI request reads; a longer period is asked in parts.
pub const MAX_COHORT: usize = 20_000;

/// `GET /v1/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    pub tz_offset_minutes: i32,
    #[serde(flatten)]
    pub summary: Summary,
    pub per_agent: Vec<AgentSummary>,
    /// By local day of creation (`tz_offset_minutes`), every day of the period.
    pub series: Vec<Day>,
}

/// What the KPIs are asked for.
#[derive(Debug, Clone)]
pub struct Query {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Only conversations this agent was assigned; `per_agent` holds only them.
    pub agent_id: Option<String>,
    pub offset: FixedOffset,
}

/// The KPIs of `cohort` (conversations created in the query's period), as of `now`.
/// `names` gives agents' display names.
pub fn compute(
    query: &Query,
    cohort: &[Facts],
    now: DateTime<Utc>,
    names: &BTreeMap<String, String>,
) -> Stats {
    let derived: Vec<Derived> = cohort.iter().map(|f| derive(f, now)).collect();
    let items: Vec<&Derived> = derived
        .iter()
        .filter(|d| match &query.agent_id {
            Some(agent) => d.agents.iter().any(|a| a == agent),
            None => true,
        })
        .collect();
    let agents: BTreeSet<&str> = match &query.agent_id {
        Some(agent) => BTreeSet::from([agent.as_str()]),
        None => items
            .iter()
            .flat_map(|d| d.agents.iter().map(String::as_str))
            .collect(),
    };
    let per_agent = agents
        .into_iter()
        .map(|agent| agent_summary(agent, names.get(agent).cloned(), &items))
        .collect();
    let local = |at: DateTime<Utc>| at.with_timezone(&query.offset).date_naive();
    let mut series = Vec::new();
    let last_day = local(query.to - Duration::milliseconds(1));
    let mut day = local(query.from);
    while day <= last_day && series.len() <= 400 {
        let of_day: Vec<&Derived> = items
            .iter()
            .copied()
            .filter(|d| local(d.created_at) == day)
            .collect();
        series.push(Day {
            date: day,
            summary: Summary::of(&of_day),
        });
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    Stats {
        from: query.from,
        to: query.to,
        agent_id: query.agent_id.clone(),
        tz_offset_minutes: query.offset.local_minus_utc() / 60,
        summary: Summary::of(&items),
        per_agent,
        series,
    }
}

impl crate::state::AppState {
    /// The KPIs of the conversations created in the query's period (see the module docs).
    pub async fn stats(&self, query: Query) -> Result<Stats, crate::error::ApiError> {
        use futures_util::{StreamExt, TryStreamExt};
        let cohort = self
            .store
            .conversations_created(query.from, query.to, MAX_COHORT + 1)
            .await?;
        if cohort.len() > MAX_COHORT {
            return Err(crate::error::ApiError::unprocessable(
                "range_too_large",
                format!(
                    "more than {MAX_COHORT} conversations started in this period; ask for a shorter one"
                ),
            ));
        }
        let store = &self.store;
        let facts: Vec<Facts> = futures_util::stream::iter(cohort)
            .map(|conversation| async move {
                let messages = store.messages(&conversation.id, 0, usize::MAX).await?;
                let (context, routing) = if conversation.handed_off_at.is_some() {
                    (
                        store.get_context(&conversation.id).await?,
                        store.routing(&conversation.id).await?,
                    )
                } else {
                    (None, Vec::new())
                };
                Ok::<_, crate::store::StoreError>(Facts {
                    conversation,
                    context,
                    routing,
                    messages,
                })
            })
            .buffered(16)
            .try_collect()
            .await?;
        let names = self
            .store
            .list_agents()
            .await?
            .into_iter()
            .map(|agent| (agent.id, agent.name))
            .collect();
        Ok(compute(&query, &facts, self.now(), &names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let p = Percentiles::of(vec![30.0, 10.0, 20.0, 40.0]);
        assert_eq!((p.p50, p.p90, p.count), (Some(20.0), Some(40.0), 4));
        let one = Percentiles::of(vec![7.0]);
        assert_eq!((one.p50, one.p90), (Some(7.0), Some(7.0)));
        let none = Percentiles::of(Vec::new());
        assert_eq!((none.p50, none.p90, none.count), (None, None, 0));
        let ten = Percentiles::of((1..=10).map(f64::from).collect());
        assert_eq!((ten.p50, ten.p90), (Some(5.0), Some(9.0)));
    }

    #[test]
    fn a_rate_over_nothing_is_null_not_zero() {
        assert_eq!(rate(0, 0), None);
        assert_eq!(rate(0, 4), Some(0.0));
        let empty = Summary::of(&[]);
        assert_eq!(empty.conversations, 0);
        assert_eq!(empty.good_rate, None);
        assert_eq!(empty.bot_containment_rate, None);
    }
}
