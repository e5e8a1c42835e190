//! `gridloop register`: the register of residents concerned of an area (居民名册) — import the
//! list a community keeps, show it, remove a resident. Each resident is the subject of their
//! token and counts once; one fifth of the register is the objection threshold of its sessions.

use super::output::emit;
use super::rpc::Server;
use super::Global;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gridloop_proto::v1 as pb;
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[command(subcommand)]
    pub command: RegisterCommand,
    #[command(flatten)]
    pub global: Global,
}

#[derive(Debug, Subcommand)]
pub enum RegisterCommand {
    /// Import residents from a CSV file: the first column of each row is a resident's token
    /// subject (a header row named `resident` or `subject` is skipped); `-` reads standard input.
    Import {
        /// The jurisdiction code of the area (grid or community).
        #[arg(long)]
        area: String,
        file: PathBuf,
    },
    /// Show the register of an area: how many residents, and how many objections make one fifth.
    Show {
        #[arg(long)]
        area: String,
    },
    /// Remove a resident from the register.
    Remove {
        #[arg(long)]
        area: String,
        resident: String,
    },
}

/// The residents the CSV lists: the first column of each row, the header skipped.
pub fn residents_of_csv(text: &str) -> Result<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut residents = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("row {}", i + 1))?;
        let Some(first) = row.get(0).map(str::trim).filter(|s| !s.is_empty()) else { continue };
        if i == 0 && matches!(first, "resident" | "subject") {
            continue;
        }
        residents.push(first.to_string());
    }
    Ok(residents)
}

pub async fn run(RegisterArgs { command, global }: RegisterArgs) -> Result<()> {
    let server = Server::connect(&global.addresses()).await?;
    let mut client = server.mediation();
    let view = match command {
        RegisterCommand::Import { area, file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?
            };
            let request = pb::RegisterResidentsRequest { area_code: area, residents: residents_of_csv(&text)? };
            client.register_residents(request).await.map_err(server.fail("RegisterResidents"))?
        }
        RegisterCommand::Show { area } => {
            client.get_register(pb::GetRegisterRequest { area_code: area }).await.map_err(server.fail("GetRegister"))?
        }
        RegisterCommand::Remove { area, resident } => {
            let request = pb::RemoveResidentRequest { area_code: area, resident };
            client.remove_resident(request).await.map_err(server.fail("RemoveResident"))?
        }
    }
    .into_inner();
    emit(
        global.json,
        || {
            json!({
                "area_code": view.area_code,
                "residents_concerned": view.residents_concerned,
                "objections_needed": view.objections_needed,
                "added": view.added,
                "residents": view.residents,
            })
        },
        || {
            format!(
                "{}: {} residents concerned ({} added); {} objections make one fifth\n",
                view.area_code, view.residents_concerned, view.added, view.objections_needed
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::residents_of_csv;

    #[test]
    fn a_communitys_csv_gives_the_first_column_of_each_row_without_its_header() {
        let csv = "resident,name,building\n居民01,张三,1栋\n居民02,李四,2栋\n\n 居民03 ,王五\n";
        assert_eq!(residents_of_csv(csv).unwrap(), vec!["居民01", "居民02", "居民03"]);
        assert_eq!(residents_of_csv("r1\nr2").unwrap(), vec!["r1", "r2"], "no header");
    }
}
