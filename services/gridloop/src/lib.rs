//! The `gridloop` binary's library: running the services (one process or one per service), the CLI client and the simulator.

pub mod analytics_cli;
pub mod app;
pub mod bench;
pub mod client;
pub mod data_lock;
pub mod nats_auth;
pub mod personal;
pub mod replay;
pub mod simulate;
pub mod telemetry;
pub mod token_cli;
