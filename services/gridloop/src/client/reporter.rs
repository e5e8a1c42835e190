//! `gridloop reporter erase --reporter ID`: erases a reporter's personal data (crypto-shredding).
//! Intake deletes the reporter's data key; every event keeps its ciphertext, which nothing can
//! read any more, so views show the contact as erased while the history still replays and the
//! figures stay as they were. Admin only.

use super::output::emit;
use super::rpc::Server;
use super::Global;
use anyhow::Result;
use clap::{Args, Subcommand};
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct ReporterArgs {
    #[command(subcommand)]
    pub command: ReporterCommand,
    #[command(flatten)]
    pub global: Global,
}

#[derive(Debug, Subcommand)]
pub enum ReporterCommand {
    /// Erase a reporter's contact data everywhere by deleting their data key (admin).
    Erase {
        /// The reporter as reported: their id (for a report without one, their phone; without
        /// either, their name).
        #[arg(long)]
        reporter: String,
    },
}

pub async fn run(args: ReporterArgs) -> Result<()> {
    let ReporterCommand::Erase { reporter } = args.command;
    let server = Server::connect(&args.global.addresses()).await?;
    let erased = server
        .intake()
        .erase_reporter(pb::EraseReporterRequest { reporter })
        .await
        .map_err(server.fail("EraseReporter"))?
        .into_inner();
    emit(args.global.json, || erased_json(&erased), || erased_text(&erased))
}

fn erased_json(erased: &pb::EraseReporterResponse) -> Value {
    json!({"erased_keys": erased.erased_keys, "blind_index": erased.blind_index})
}

fn erased_text(erased: &pb::EraseReporterResponse) -> String {
    match erased.erased_keys {
        0 => format!("no data key held for reporter {} (never reported, or already erased)\n", erased.blind_index),
        n => format!(
            "erased reporter {}: {n} data key deleted; their contact reads as erased everywhere\n",
            erased.blind_index
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::testing::parse;
    use crate::client::ClientCommand;

    #[test]
    fn erase_names_the_reporter() {
        let Ok(ClientCommand::Reporter(args)) = parse(&["reporter", "erase", "--reporter", "r-1", "--json"]) else {
            panic!("not reporter erase")
        };
        let ReporterCommand::Erase { reporter } = args.command;
        assert_eq!(reporter, "r-1");
        assert!(args.global.json);
        assert!(parse(&["reporter", "erase"]).is_err(), "--reporter is required");
    }

    #[test]
    fn the_answer_says_whether_anything_was_erased() {
        let none = pb::EraseReporterResponse { erased_keys: 0, blind_index: "ab".into() };
        assert!(erased_text(&none).contains("no data key"));
        let one = pb::EraseReporterResponse { erased_keys: 1, blind_index: "ab".into() };
        assert!(erased_text(&one).contains("erased reporter ab"));
        assert_eq!(erased_json(&one)["erased_keys"], 1);
    }
}
