//! `gridloop token …`: tokens minted with the installation's signing key (small deployments,
//! tests, the local CLI), and the key itself. A city's identity provider issues the tokens of a
//! production deployment instead (see `--jwks-url` / `--oidc-issuer` on the servers).

use anyhow::Context;
use clap::{Args, Subcommand};
use gridloop_auth::SigningKey;
use gridloop_domain::access::{Principal, Role};
use gridloop_domain::jurisdiction::AreaCode;
use std::path::{Path, PathBuf};

/// The subject of the admin token the local CLI mints itself.
pub const LOCAL_ADMIN: &str = "local-admin";
/// How long the local CLI's own admin token lives: one command's worth.
const LOCAL_ADMIN_TTL: chrono::Duration = chrono::Duration::minutes(10);

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a token for a principal with the signing key in --data-dir; prints the token.
    Issue(IssueArgs),
    /// Create the signing key in --data-dir if there is none (before `serve`, or for a
    /// Kubernetes Secret); prints the public keys as a JWKS for the servers' --jwks-file.
    Keygen {
        /// Where the key lives (`<data dir>/auth/signing-key.pem`).
        #[arg(long, env = "GRIDLOOP_DATA_DIR", default_value = "./gridloop-data")]
        data_dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// resident, grid-worker, community-office, street-office, district-office, department,
    /// mediator, hotline, platform, supervisor or admin.
    #[arg(long)]
    pub role: Role,
    /// The jurisdiction code the principal acts for (offices: their unit; city-wide roles may omit it).
    #[arg(long)]
    pub area: Option<AreaCode>,
    /// Who: a user name or id (a resident: the reporter id their reports carry).
    #[arg(long)]
    pub subject: String,
    /// The department's function code (department principals), e.g. urban-management.
    #[arg(long)]
    pub department: Option<String>,
    /// How long the token is valid: e.g. 30m, 8h, 7d (at most 366d).
    #[arg(long, default_value = "8h", value_parser = parse_ttl)]
    pub ttl: chrono::Duration,
    /// Where the signing key lives (`<data dir>/auth/signing-key.pem`).
    #[arg(long, env = "GRIDLOOP_DATA_DIR", default_value = "./gridloop-data")]
    pub data_dir: PathBuf,
}

pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    match args.command {
        TokenCommand::Issue(issue) => {
            let principal = Principal::new(issue.subject, issue.role, issue.area, issue.department)?;
            let key = existing_key(&issue.data_dir)?;
            println!("{}", key.issue(&principal, issue.ttl)?);
            let until = chrono::Utc::now() + issue.ttl;
            eprintln!("token for {principal}, valid until {}", until.format("%Y-%m-%d %H:%M UTC"));
            Ok(())
        }
        TokenCommand::Keygen { data_dir } => {
            let (key, created) = SigningKey::create_or_load(&data_dir)?;
            let verb = if created { "created" } else { "kept the existing" };
            eprintln!("{verb} signing key {} (kid {})", key.path().display(), key.kid());
            println!("{}", key.jwks_json());
            Ok(())
        }
    }
}

fn existing_key(data_dir: &Path) -> anyhow::Result<SigningKey> {
    SigningKey::load(data_dir)?.with_context(|| {
        format!(
            "no signing key in {} (`gridloop up` creates it on its first start, `gridloop token keygen` without \
             starting a server; or give --data-dir)",
            gridloop_auth::local::auth_dir(data_dir).display()
        )
    })
}

/// The token the CLI uses when none is given: a short token for `subject` in `role` (city-wide)
/// minted with the local installation's key, when this user can read it. `None` without a key in
/// `data_dir`.
pub fn local_token(data_dir: &Path, subject: &str, role: Role) -> anyhow::Result<Option<String>> {
    let Some(key) = SigningKey::load(data_dir)? else { return Ok(None) };
    let principal = Principal::new(subject, role, None, None)?;
    Ok(Some(key.issue(&principal, LOCAL_ADMIN_TTL)?))
}

/// `30s`, `15m`, `8h`, `7d`.
pub fn parse_ttl(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 30m, 8h or 7d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is s, m, h or d")),
    };
    chrono::Duration::try_seconds(number.saturating_mul(seconds)).ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_in_their_units() {
        assert_eq!(parse_ttl("8h"), Ok(chrono::Duration::hours(8)));
        assert_eq!(parse_ttl("30m"), Ok(chrono::Duration::minutes(30)));
        assert_eq!(parse_ttl("7d"), Ok(chrono::Duration::days(7)));
        assert_eq!(parse_ttl("45s"), Ok(chrono::Duration::seconds(45)));
        assert!(parse_ttl("8").unwrap_err().contains("unit"));
        assert!(parse_ttl("h").is_err());
        assert!(parse_ttl("1w").is_err());
    }

    #[test]
    fn the_local_cli_is_admin_only_where_the_key_is() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(local_token(dir.path(), LOCAL_ADMIN, Role::Admin).unwrap(), None);
        SigningKey::create_or_load(dir.path()).unwrap();
        assert!(local_token(dir.path(), LOCAL_ADMIN, Role::Admin).unwrap().is_some());
        let missing = existing_key(&dir.path().join("elsewhere")).unwrap_err().to_string();
        assert!(missing.contains("gridloop token keygen"), "{missing}");
    }
}
