//! `GET /v1/stats`: service KPIs over a period.

use super::openapi as doc;
use crate::auth::Principal;
use crate::domain::AgentRole;
use crate::error::ApiError;
use crate::state::AppState;
use crate::stats::Query;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::Deserialize;

/// The longest period one request covers.
const MAX_DAYS: i64 = 366;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// RFC 3339; seven days before `to` when absent.
    from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive; now when absent.
    to: Option<DateTime<Utc>>,
    /// Only this agent's figures (an agent-role caller sees only their own).
    agent_id: Option<String>,
    /// The shop's time zone for the daily series, minutes east of UTC (480 for China).
    tz_offset_minutes: Option<i32>,
}

/// `GET /v1/stats?from=&to=&agent_id=&tz_offset_minutes=` — admins, supervisors and
/// integrators see every agent; an agent sees their own figures only.
#[utoipa::path(
    get,
    path = "/v1/stats",
    operation_id = "stats_get",
    tag = "stats",
    description = "KPIs over a period (at most 366 days): conversations, bot containment and handoff rates, first and average response times, resolution and transfer rates, good rate, attitude-complaint rate, per agent and per day. Admins, supervisors and API keys see every agent; an agent-role account sees only its own figures; never customers. 422 `invalid_range`, `range_too_large` or `invalid_field`.",
    params(
        StatsQuery,
    ),
    responses(
        (status = 200, description = "The KPIs", body = crate::stats::Stats),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let StatsQuery {
        from,
        to,
        agent_id,
        tz_offset_minutes,
    } = query.into_inner();
    let agent_id = match &principal {
        Principal::Customer { .. } => {
            return Err(ApiError::Forbidden("KPIs are for the service team"))
        }
        Principal::Agent {
            agent_id: me,
            role: AgentRole::Agent,
        } => match agent_id {
            Some(asked) if &asked != me => {
                return Err(ApiError::Forbidden(
                    "an agent sees their own figures; supervisors see everyone's",
                ))
            }
            _ => Some(me.clone()),
        },
        _ => agent_id,
    };
    let to = to.unwrap_or_else(|| state.now());
    let from = from.unwrap_or(to - Duration::days(7));
    if from >= to {
        return Err(ApiError::unprocessable(
            "invalid_range",
            "from must be before to",
        ));
    }
    if to - from > Duration::days(MAX_DAYS) {
        return Err(ApiError::unprocessable(
            "range_too_large",
            format!("a period covers at most {MAX_DAYS} days"),
        ));
    }
    let minutes = tz_offset_minutes.unwrap_or(0);
    let offset = (-720..=840)
        .contains(&minutes)
        .then(|| FixedOffset::east_opt(minutes * 60))
        .flatten()
        .ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_field",
                "tz_offset_minutes must be between -720 and 840",
            )
        })?;
    let stats = state
        .stats(Query {
            from,
            to,
            agent_id,
            offset,
        })
        .await?;
    Ok(HttpResponse::Ok().json(stats))
}
