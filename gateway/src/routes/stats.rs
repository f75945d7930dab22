//! `GET /v1/stats`: service KPIs over a period.

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// RFC 3339; seven days before `to` when absent.
    from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive; now when absent.
    to: Option<DateTime<Utc>>,
    agent_id: Option<String>,
    /// The shop's time zone for the daily series, minutes east of UTC (480 for China).
    tz_offset_minutes: Option<i32>,
}

/// `GET /v1/stats?from=&to=&agent_id=&tz_offset_minutes=` — admins, supervisors and
/// integrators see every agent; an agent sees their own figures only.
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
