//! `gridloop`: run the services (`gridloop up`) and act on cases as a client.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
    /// Drive a synthetic city through the real services on a virtual clock and print the 4321
    /// distribution, the on-time rate and the throughput.
    Simulate(gridloop::simulate::SimulateArgs),
    #[command(flatten)]
    Client(gridloop::client::ClientCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Up(args) => gridloop::app::up(args).await,
            Command::Simulate(args) => gridloop::simulate::run(args).await,
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
