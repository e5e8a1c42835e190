//! `gridloop`: run the services (`gridloop up`) and act on cases as a client.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The services allocate and free small buffers at a high rate (rows, events, protobuf and h2
/// frames) next to SQLite's 4 KiB pages; glibc's malloc spent a sixth of the simulator's CPU time
/// on it (`perf`), a quarter of that consolidating freed chunks. With mimalloc the 30-day
/// simulation takes 7% less CPU time, for about 50 MB more peak RSS (README, the simulator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "gridloop",
    version,
    about = "Event-sourced case routing for grid-based community governance (网格化治理)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run all four services in one process (SQLite + in-process bus by default).
    Up(gridloop::app::UpArgs),
    /// Run one service in its own process (distributed mode: Postgres + NATS JetStream).
    Serve(gridloop::app::ServeArgs),
    /// Create or upgrade the services' stores and read models, then exit.
    Migrate(gridloop::app::MigrateArgs),
    /// Drive a synthetic city through the real services on a virtual clock and print the 4321
    /// distribution, the on-time rate and the throughput.
    Simulate(gridloop::simulate::SimulateArgs),
    /// Write the event log (or the one-row-per-case table) as Parquet or NDJSON for analysts.
    Export(gridloop::analytics_cli::ExportArgs),
    /// Load another platform's case history (CSV + mapping file) into dispatch's store as events.
    Import(gridloop::analytics_cli::ImportArgs),
    /// Rebuild a projection from the event log (dispatch's store, or JetStream) into a fresh read
    /// model or in place, with a progress bar and the rate; `--verify` compares it with the live one.
    Replay(gridloop::replay::ReplayArgs),
    /// Mint tokens with the installation's signing key (`token issue`), or create the key (`token keygen`).
    Token(gridloop::token_cli::TokenArgs),
    /// Load a running deployment (open-loop arrivals or as fast as it goes) and report throughput,
    /// latency percentiles per RPC and report → dispatched, errors by code, and a latency plot.
    Bench(gridloop::bench::BenchArgs),
    #[command(flatten)]
    Client(gridloop::client::ClientCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Up(args) => gridloop::app::up(args).await,
            Command::Serve(args) => gridloop::app::serve(args).await,
            Command::Migrate(args) => gridloop::app::migrate(args).await,
            Command::Simulate(args) => gridloop::simulate::run(args).await,
            Command::Export(args) => gridloop::analytics_cli::export(args).await,
            Command::Import(args) => gridloop::analytics_cli::import(args).await,
            Command::Replay(args) => gridloop::replay::run(args).await,
            Command::Token(args) => gridloop::token_cli::run(args),
            Command::Bench(args) => gridloop::bench::run(args).await,
            Command::Client(command) => gridloop::client::run(command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
