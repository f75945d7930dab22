//! Black-box tests of the running gateway: real HTTP and WebSocket on a random port, a fresh
//! data directory per test. One binary, so linking happens once.

mod helpers;

/// This binary runs the suite on the embedded store.
mod backend {
    pub const REDIS: bool = false;
}

mod api_keys;
mod authorization;
mod customers;
mod durability;
mod errors;
mod fuzz_corpora;
mod idempotency;
mod journey;
mod knowledge_base;
mod ops;
mod quality;
mod rating;
mod routing;
mod routing_policy;
mod stats;
mod webhooks;
mod websocket;
