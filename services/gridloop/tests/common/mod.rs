//! Helpers shared by the process-level tests that run their own nats-server.

pub mod cluster;
pub mod driver;
pub mod postgres;
pub mod up;

use std::net::TcpListener;
use std::path::PathBuf;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().unwrap().port()
}

/// The machine's nats-server binary (on PATH, or where Debian installs it).
#[allow(dead_code)]
pub fn nats_server_binary() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join("nats-server")).collect::<Vec<_>>())
        .unwrap_or_default();
    candidates.into_iter().chain([PathBuf::from("/usr/sbin/nats-server")]).find(|p| p.is_file())
}
