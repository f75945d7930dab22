//! The gateway: the actix-web server every customer, agent, admin and integrator talks to.
//!
//! It owns the HTTP and WebSocket surface of the v1 contract, authentication, the
//! conversation store and the live event hub. It is the only crate that knows actix or the
//! wire formats; the decisions are made in `bot` and `router`, the search in `kb`, and
//! nothing depends on this crate.
//!
//! Entry points: [`Settings`] (configuration), [`Application`] (build, bind, run), and the
//! modules `service` (the conversation lifecycle), `store` (state), `hub` (live sockets).

pub mod auth;
pub mod bus;
pub mod clock;
pub mod customers;
mod demo;
pub mod domain;
pub mod error;
pub mod events;
pub mod hub;
pub mod idempotency;
pub mod import;
pub mod knowledge;
pub mod metrics;
pub mod qa;
mod routes;
pub mod routing;
pub mod service;
pub mod settings;
mod startup;
pub mod state;
pub mod stats;
pub mod store;
pub mod webhooks;

pub use actix_web::dev::ServerHandle;
pub use clock::Clock;
pub use settings::{DemoSeed, Limits, Settings, Storage};
pub use startup::Application;
