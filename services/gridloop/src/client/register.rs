//! `gridloop register`: the register of residents concerned of an area (居民名册) — import the
//! list a community keeps, show it, remove a resident. Each resident is the subject of their
//! token and counts once; one fifth of the register is the objection threshold of its sessions.
//! `--building` or `--courtyard` names a group below a grid, whose register is its own.

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
        #[command(flatten)]
        group: GroupArgs,
        file: PathBuf,
    },
    /// Show the register of an area: how many residents, and how many objections make one fifth.
    Show {
        #[arg(long)]
        area: String,
        #[command(flatten)]
        group: GroupArgs,
    },
    /// Remove a resident from the register.
    Remove {
        #[arg(long)]
        area: String,
        #[command(flatten)]
        group: GroupArgs,
        resident: String,
    },
}

/// A building (楼栋) or courtyard (院落) of the grid `--area` names: the register of that group.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct GroupArgs {
    /// A building of the grid, e.g. 3号楼.
    #[arg(long)]
    building: Option<String>,
    /// A courtyard of the grid.
    #[arg(long)]
    courtyard: Option<String>,
}

impl GroupArgs {
    pub(crate) fn group(self) -> Option<pb::RegisterGroup> {
        let (kind, name) = match (self.building, self.courtyard) {
            (Some(name), _) => (pb::RegisterGroupKind::Building, name),
            (None, Some(name)) => (pb::RegisterGroupKind::Courtyard, name),
            (None, None) => return None,
        };
        Some(pb::RegisterGroup { kind: kind as i32, name })
    }
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
        RegisterCommand::Import { area, group, file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?
            };
            let residents = residents_of_csv(&text)?;
            let request = pb::RegisterResidentsRequest { area_code: area, residents, group: group.group() };
            client.register_residents(request).await.map_err(server.fail("RegisterResidents"))?
        }
        RegisterCommand::Show { area, group } => {
            let request = pb::GetRegisterRequest { area_code: area, group: group.group() };
            client.get_register(request).await.map_err(server.fail("GetRegister"))?
        }
        RegisterCommand::Remove { area, group, resident } => {
            let request = pb::RemoveResidentRequest { area_code: area, resident, group: group.group() };
            client.remove_resident(request).await.map_err(server.fail("RemoveResident"))?
        }
    }
    .into_inner();
    let group = view.group.as_ref().map(|g| g.name.clone()).unwrap_or_default();
    emit(
        global.json,
        || {
            json!({
                "area_code": view.area_code,
                "group": group,
                "residents_concerned": view.residents_concerned,
                "objections_needed": view.objections_needed,
                "added": view.added,
                "residents": view.residents,
            })
        },
        || {
            let area = if group.is_empty() { view.area_code.clone() } else { format!("{} {group}", view.area_code) };
            format!(
                "{area}: {} residents concerned ({} added); {} objections make one fifth\n",
                view.residents_concerned, view.added, view.objections_needed
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
