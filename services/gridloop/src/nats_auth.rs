//! The NATS credentials and TLS flags of every process that connects to NATS (`up`, `serve`,
//! `migrate`, and the replay and KPI commands that read the stream).

use gridloop_bus::jetstream::NatsAuth;
use std::path::PathBuf;

/// How a process authenticates to NATS (one method) and whether it uses TLS. See
/// `deploy/nats/accounts.conf` for the users and what each may publish and subscribe.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NatsAuthArgs {
    /// NATS user (with --nats-password).
    #[arg(long, env = "GRIDLOOP_NATS_USER")]
    pub nats_user: Option<String>,
    #[arg(long, env = "GRIDLOOP_NATS_PASSWORD", hide_env_values = true)]
    pub nats_password: Option<String>,
    /// NATS authentication token.
    #[arg(long, env = "GRIDLOOP_NATS_TOKEN", hide_env_values = true)]
    pub nats_token: Option<String>,
    /// A file holding the user's nkey seed.
    #[arg(long, env = "GRIDLOOP_NATS_NKEY_SEED_FILE")]
    pub nats_nkey_seed_file: Option<PathBuf>,
    /// A NATS `.creds` file (user JWT and nkey seed, for operator-mode accounts).
    #[arg(long, env = "GRIDLOOP_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
    /// The CA of the NATS server's certificate (PEM); given, the connection must be TLS.
    #[arg(long, env = "GRIDLOOP_NATS_TLS_CA")]
    pub nats_tls_ca: Option<PathBuf>,
    /// A client certificate for NATS servers that verify clients (with --nats-tls-key).
    #[arg(long, env = "GRIDLOOP_NATS_TLS_CERT", requires = "nats_tls_key")]
    pub nats_tls_cert: Option<PathBuf>,
    #[arg(long, env = "GRIDLOOP_NATS_TLS_KEY", requires = "nats_tls_cert")]
    pub nats_tls_key: Option<PathBuf>,
    /// Refuse a NATS connection that is not TLS (system roots unless --nats-tls-ca).
    #[arg(long, env = "GRIDLOOP_NATS_REQUIRE_TLS")]
    pub nats_require_tls: bool,
}

impl NatsAuthArgs {
    pub fn auth(&self) -> NatsAuth {
        NatsAuth {
            user: self.nats_user.clone(),
            password: self.nats_password.clone(),
            token: self.nats_token.clone(),
            nkey_seed_file: self.nats_nkey_seed_file.clone(),
            creds_file: self.nats_creds.clone(),
            tls_ca: self.nats_tls_ca.clone(),
            tls_cert: self.nats_tls_cert.clone(),
            tls_key: self.nats_tls_key.clone(),
            require_tls: self.nats_require_tls,
        }
    }
}
