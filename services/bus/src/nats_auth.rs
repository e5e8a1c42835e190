//! How a service proves itself to NATS, and whether the connection uses TLS: user and password,
//! a token, an nkey seed or a `.creds` file (JWT + nkey, the decentralised NATS accounts), with
//! the CA of the server's certificate and a client certificate for mutual TLS.

use crate::jetstream::JetStreamError;
use std::path::PathBuf;

/// The credentials and TLS settings of a NATS connection. Empty: anonymous, plaintext (a
/// server on loopback, or a development cluster).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NatsAuth {
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    /// A file holding an nkey seed (`SU…`).
    pub nkey_seed_file: Option<PathBuf>,
    /// A `.creds` file (user JWT and nkey seed).
    pub creds_file: Option<PathBuf>,
    /// The CA that signed the server's certificate; set, TLS is required.
    pub tls_ca: Option<PathBuf>,
    /// A client certificate and key (PEM) for servers that verify clients.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Refuse a connection that is not TLS.
    pub require_tls: bool,
}

// Secrets stay out of logs and error messages.
impl std::fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsAuth")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("nkey_seed_file", &self.nkey_seed_file)
            .field("creds_file", &self.creds_file)
            .field("tls_ca", &self.tls_ca)
            .field("tls_cert", &self.tls_cert)
            .field("require_tls", &self.require_tls)
            .finish()
    }
}

impl NatsAuth {
    /// `options` with these credentials and TLS settings.
    pub async fn apply(
        &self,
        mut options: async_nats::ConnectOptions,
    ) -> Result<async_nats::ConnectOptions, JetStreamError> {
        let invalid = |what: &str, reason: String| JetStreamError::Config(format!("{what}: {reason}"));
        let methods =
            [self.user.is_some(), self.token.is_some(), self.nkey_seed_file.is_some(), self.creds_file.is_some()];
        if methods.into_iter().filter(|&given| given).count() > 1 {
            return Err(invalid(
                "NATS credentials",
                "give one of user/password, token, nkey seed or creds file".into(),
            ));
        }
        match (&self.user, &self.password) {
            (Some(user), Some(password)) => options = options.user_and_password(user.clone(), password.clone()),
            (Some(_), None) | (None, Some(_)) => {
                return Err(invalid("NATS credentials", "a user needs a password and a password a user".into()))
            }
            (None, None) => {}
        }
        if let Some(token) = &self.token {
            options = options.token(token.clone());
        }
        if let Some(path) = &self.nkey_seed_file {
            let seed =
                std::fs::read_to_string(path).map_err(|e| invalid(&path.display().to_string(), e.to_string()))?;
            options = options.nkey(seed.trim().to_string());
        }
        if let Some(path) = &self.creds_file {
            options = options
                .credentials_file(path)
                .await
                .map_err(|e| invalid(&path.display().to_string(), e.to_string()))?;
        }
        if let Some(ca) = &self.tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => options = options.add_client_certificate(cert.clone(), key.clone()),
            (None, None) => {}
            _ => return Err(invalid("NATS client certificate", "give both the certificate and its key".into())),
        }
        if self.require_tls {
            options = options.require_tls(true);
        }
        Ok(options)
    }
}
