//! The black-box suite again, on a real Redis (127.0.0.1:6379, or `GATEWAY_TEST_REDIS_URL`).
//! Each test's keys carry their own prefix.

/// This binary runs the suite on Redis.
mod backend {
    pub const REDIS: bool = true;
}

#[path = "api/api_keys.rs"]
mod api_keys;
#[path = "api/customers.rs"]
mod customers;
#[path = "api/durability.rs"]
mod durability;
#[path = "api/errors.rs"]
mod errors;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/idempotency.rs"]
mod idempotency;
#[path = "api/journey.rs"]
mod journey;
#[path = "api/knowledge_base.rs"]
mod knowledge_base;
#[path = "api/ops.rs"]
mod ops;
#[path = "api/quality.rs"]
mod quality;
#[path = "api/rating.rs"]
mod rating;
#[path = "api/routing.rs"]
mod routing;
#[path = "api/routing_policy.rs"]
mod routing_policy;
#[path = "api/stats.rs"]
mod stats;
#[path = "api/webhooks.rs"]
mod webhooks;
#[path = "api/websocket.rs"]
mod websocket;
