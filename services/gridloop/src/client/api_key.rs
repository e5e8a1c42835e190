//! `gridloop api-key create|list|revoke`: integrators' long-lived API keys (a city platform, an
//! Open311 client's `api_key`), each standing for a principal as a token's claims would. The key
//! is printed once, at creation: the server keeps only its hash. Admin only.

use super::output::{emit, time_json, time_text};
use super::rpc::Server;
use super::Global;
use anyhow::Result;
use clap::{Args, Subcommand};
use gridloop_domain::access::Role;
use gridloop_domain::clock::Tz;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct ApiKeyArgs {
    #[command(subcommand)]
    pub command: ApiKeyCommand,
    #[command(flatten)]
    pub global: Global,
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key; prints it once (store it with the integrator: it cannot be shown again).
    Create {
        /// platform or hotline for a reporting system; any role a token may have.
        #[arg(long)]
        role: Role,
        /// The jurisdiction code it acts for (offices: their unit; city-wide roles may omit it).
        #[arg(long)]
        area: Option<AreaCode>,
        /// Who the key is for, e.g. fix-my-street: the principal's subject.
        #[arg(long)]
        name: String,
        /// The department's function code (department principals).
        #[arg(long)]
        department: Option<String>,
    },
    /// List the keys (never the keys themselves): who, role, area, created, last used.
    List {
        /// Include revoked keys.
        #[arg(long)]
        all: bool,
    },
    /// Revoke a key: refused by every server within --api-key-cache-secs (default 30 s).
    Revoke {
        /// The key's id (see `api-key list`).
        #[arg(long)]
        key_id: String,
    },
}

pub async fn run(args: ApiKeyArgs) -> Result<()> {
    let server = Server::connect(&args.global.addresses()).await?;
    let mut intake = server.intake();
    let json = args.global.json;
    let zone = args.global.time_zone;
    match args.command {
        ApiKeyCommand::Create { role, area, name, department } => {
            let request = pb::CreateApiKeyRequest {
                subject: name,
                role: role.as_str().to_string(),
                area: area.map(|a| a.as_str().to_string()).unwrap_or_default(),
                department: department.unwrap_or_default(),
            };
            let created = intake.create_api_key(request).await.map_err(server.fail("CreateApiKey"))?.into_inner();
            let key = created.key.unwrap_or_default();
            emit(
                json,
                || json!({"key": key_json(&key), "secret": created.secret}),
                || format!("{}\n{}\n", created.secret, key_line(&key, zone)),
            )
        }
        ApiKeyCommand::List { all } => {
            let listed = intake
                .list_api_keys(pb::ListApiKeysRequest { include_revoked: all })
                .await
                .map_err(server.fail("ListApiKeys"))?
                .into_inner();
            emit(
                json,
                || Value::Array(listed.keys.iter().map(key_json).collect()),
                || match listed.keys.as_slice() {
                    [] => "no API keys\n".to_string(),
                    keys => keys.iter().map(|k| key_line(k, zone) + "\n").collect(),
                },
            )
        }
        ApiKeyCommand::Revoke { key_id } => {
            let revoked = intake
                .revoke_api_key(pb::RevokeApiKeyRequest { key_id })
                .await
                .map_err(server.fail("RevokeApiKey"))?
                .into_inner();
            emit(json, || key_json(&revoked), || key_line(&revoked, zone) + "\n")
        }
    }
}

fn key_json(key: &pb::ApiKey) -> Value {
    json!({
        "key_id": key.key_id, "subject": key.subject, "role": key.role, "area": key.area,
        "department": key.department, "created_at": time_json(key.created_at.as_ref()),
        "last_used_at": time_json(key.last_used_at.as_ref()), "revoked_at": time_json(key.revoked_at.as_ref()),
    })
}

fn key_line(key: &pb::ApiKey, zone: Tz) -> String {
    let area = if key.area.is_empty() { "city-wide" } else { key.area.as_str() };
    let revoked = key
        .revoked_at
        .as_ref()
        .map_or_else(String::new, |_| format!(" REVOKED {}", time_text(key.revoked_at.as_ref(), zone)));
    format!(
        "{}  {} ({}, {area})  created {}  last used {}{revoked}",
        key.key_id,
        key.subject,
        key.role,
        time_text(key.created_at.as_ref(), zone),
        time_text(key.last_used_at.as_ref(), zone),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::testing::parse;
    use crate::client::ClientCommand;

    #[test]
    fn create_needs_a_known_role_and_a_name() {
        let Ok(ClientCommand::ApiKey(args)) =
            parse(&["api-key", "create", "--role", "platform", "--area", "321012", "--name", "fms"])
        else {
            panic!("not api-key create")
        };
        let ApiKeyCommand::Create { role, area, name, .. } = args.command else { panic!("not create") };
        assert_eq!((role, area.unwrap().as_str(), name.as_str()), (Role::Platform, "321012", "fms"));
        assert!(parse(&["api-key", "create", "--role", "chief", "--name", "x"]).is_err(), "unknown role");
        assert!(parse(&["api-key", "create", "--role", "platform"]).is_err(), "--name is required");
        assert!(parse(&["api-key", "revoke"]).is_err(), "--key-id is required");
    }

    #[test]
    fn a_listed_key_says_who_and_whether_it_was_revoked() {
        let zone = Tz::Asia__Shanghai;
        let mut key =
            pb::ApiKey { key_id: "ab12".into(), subject: "fms".into(), role: "platform".into(), ..Default::default() };
        assert!(
            key_line(&key, zone).contains("ab12  fms (platform, city-wide)")
                && !key_line(&key, zone).contains("REVOKED")
        );
        key.revoked_at = Some(prost_types::Timestamp { seconds: 0, nanos: 0 });
        assert!(key_line(&key, zone).contains("REVOKED 1970-01-01T08:00:00+08:00"), "{}", key_line(&key, zone));
        assert_eq!(key_json(&key)["last_used_at"], Value::Null);
    }
}
