//! The `gridloop` binary's library: the one-process app and the CLI client.

pub mod app;
pub mod client;
pub mod simulate;
