//! Transport security for gRPC: the server's certificate (tonic over rustls), client certificates
//! verified against a CA and mapped to principals (mutual TLS for platforms), the client side for
//! the CLI, and the rule that plaintext is served only on loopback unless explicitly allowed.

use anyhow::Context;
use gridloop_domain::access::{Principal, Role};
use gridloop_domain::jurisdiction::AreaCode;
use rustls::pki_types::CertificateDer;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};
use x509_parser::extensions::GeneralName;

/// The server's TLS settings from PEM files: its certificate chain and key, and optionally the CA
/// that signs client certificates. Client certificates are optional, so token-bearing clients
/// without one still connect; a presented one must verify.
pub fn server_config(cert: &Path, key: &Path, client_ca: Option<&Path>) -> anyhow::Result<ServerTlsConfig> {
    crate::install_crypto_provider();
    let identity = Identity::from_pem(read(cert, "TLS certificate")?, read(key, "TLS key")?);
    let mut config = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = client_ca {
        config = config.client_ca_root(Certificate::from_pem(read(ca, "client CA")?)).client_auth_optional(true);
    }
    Ok(config)
}

/// The client's TLS settings: the CA that signed the server's certificate, else the system's roots.
pub fn client_config(ca_cert: Option<&Path>) -> anyhow::Result<ClientTlsConfig> {
    crate::install_crypto_provider();
    Ok(match ca_cert {
        Some(ca) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca, "CA certificate")?)),
        None => ClientTlsConfig::new().with_native_roots(),
    })
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

/// Plaintext gRPC carries tokens and residents' data in the clear: only on a loopback address,
/// unless the operator says otherwise (e.g. TLS terminated by a service mesh in front).
pub fn check_plaintext(listen: SocketAddr, tls: bool, allow_plaintext: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        tls || allow_plaintext || listen.ip().is_loopback(),
        "refusing to serve plaintext gRPC on {listen}, which is not a loopback address: give --tls-cert and \
         --tls-key, or --allow-plaintext when TLS is terminated in front of gridloop"
    );
    Ok(())
}

/// Client certificates that stand for principals (a city platform connecting with mutual TLS).
#[derive(Debug, Clone, Default)]
pub struct CertificatePrincipals {
    by_name: HashMap<String, Principal>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    client: Vec<ClientEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientEntry {
    /// A DNS name in the certificate's subjectAltName, or its subject's common name.
    name: String,
    subject: String,
    role: String,
    area: Option<String>,
    department: Option<String>,
}

impl CertificatePrincipals {
    /// The mapping file (TOML, `[[client]]` entries; see `deploy/k8s/overlays/prod/mtls-clients.example.toml`).
    pub fn from_toml(text: &str) -> anyhow::Result<CertificatePrincipals> {
        let file: MappingFile = toml::from_str(text)?;
        let mut by_name = HashMap::new();
        for entry in file.client {
            let role: Role = entry.role.parse()?;
            let area = entry.area.map(AreaCode::new).transpose().with_context(|| format!("client {}", entry.name))?;
            let principal = Principal::new(entry.subject, role, area, entry.department)
                .with_context(|| format!("client {}", entry.name))?;
            anyhow::ensure!(
                by_name.insert(entry.name.clone(), principal).is_none(),
                "client {} is listed twice",
                entry.name
            );
        }
        Ok(CertificatePrincipals { by_name })
    }

    /// The principal the verified client certificate chain names: the leaf's DNS names first,
    /// then its subject CN. `None` when it names none of the mapped clients.
    pub fn principal(&self, chain: &[CertificateDer<'_>]) -> Option<Principal> {
        let (_, leaf) = x509_parser::parse_x509_certificate(chain.first()?.as_ref()).ok()?;
        let mut names: Vec<String> = leaf
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| {
                san.value
                    .general_names
                    .iter()
                    .filter_map(|name| match name {
                        GeneralName::DNSName(dns) => Some(dns.to_string()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.extend(leaf.subject().iter_common_name().filter_map(|cn| cn.as_str().ok().map(str::to_string)));
        names.iter().find_map(|name| self.by_name.get(name).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_only_on_loopback_unless_allowed() {
        let public: SocketAddr = "0.0.0.0:50051".parse().unwrap();
        let error = check_plaintext(public, false, false).unwrap_err().to_string();
        assert!(error.contains("--tls-cert") && error.contains("--allow-plaintext"), "{error}");
        assert!(check_plaintext(public, true, false).is_ok());
        assert!(check_plaintext(public, false, true).is_ok());
        assert!(check_plaintext("127.0.0.1:0".parse().unwrap(), false, false).is_ok());
        assert!(check_plaintext("[::1]:0".parse().unwrap(), false, false).is_ok());
    }

    #[test]
    fn a_client_certificate_is_mapped_by_its_dns_name_or_common_name() {
        let mapping = CertificatePrincipals::from_toml(
            "[[client]]\nname = \"platform.city.example\"\nsubject = \"city-platform\"\nrole = \"platform\"\narea = \"321012\"\n",
        )
        .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let by_san =
            rcgen::CertificateParams::new(vec!["platform.city.example".into()]).unwrap().self_signed(&key).unwrap();
        let principal = mapping.principal(&[by_san.der().clone()]).expect("mapped");
        assert_eq!((principal.subject.as_str(), principal.role), ("city-platform", Role::Platform));

        let mut params = rcgen::CertificateParams::new(vec!["unknown.example".into()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, "platform.city.example");
        let by_cn = params.self_signed(&key).unwrap();
        assert!(mapping.principal(&[by_cn.der().clone()]).is_some(), "the subject CN names it");
        let stranger = rcgen::CertificateParams::new(vec!["other.example".into()]).unwrap().self_signed(&key).unwrap();
        assert!(mapping.principal(&[stranger.der().clone()]).is_none());

        let bad = "[[client]]\nname = \"x\"\nsubject = \"s\"\nrole = \"street-office\"\n";
        assert!(CertificatePrincipals::from_toml(bad).unwrap_err().to_string().contains("client x"));
    }
}
