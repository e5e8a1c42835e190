//! TLS on the gRPC listener (certificates made with rcgen): a client trusting the CA talks over
//! TLS, a plaintext client does not; with mutual TLS a platform's client certificate stands for
//! its principal, a certificate from another CA fails the handshake; and plaintext is refused on
//! a non-loopback address unless explicitly allowed.

#[path = "common/auth.rs"]
mod auth;

use auth::{local_args, principal, start, token, with_token};
use gridloop_domain::access::Role;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_client::DispatchServiceClient;
use gridloop_proto::v1::evaluation_service_client::EvaluationServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::path::{Path, PathBuf};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::Code;

/// A CA and what it signed, as PEM files in a directory.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let pki = Pki { dir: tempfile::tempdir().unwrap() };
        let ca = pki.authority("ca", "gridloop test CA");
        pki.leaf(&ca, "server", &["localhost", "127.0.0.1"]);
        pki.leaf(&ca, "platform", &["platform.city.example"]);
        let rogue = pki.authority("rogue-ca", "someone else's CA");
        pki.leaf(&rogue, "rogue", &["platform.city.example"]);
        pki
    }

    fn authority(&self, name: &str, common_name: &str) -> Issuer<'static, KeyPair> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, common_name);
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(self.path(&format!("{name}.crt")), cert.pem()).unwrap();
        Issuer::new(params, key)
    }

    fn leaf(&self, issuer: &Issuer<'static, KeyPair>, name: &str, names: &[&str]) {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let cert = params.signed_by(&key, issuer).unwrap();
        std::fs::write(self.path(&format!("{name}.crt")), cert.pem()).unwrap();
        std::fs::write(self.path(&format!("{name}.key")), key.serialize_pem()).unwrap();
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.path(file)).unwrap()
    }

    /// A TLS channel to `addr` trusting the test CA, presenting `identity` (`platform`, `rogue`).
    async fn channel(
        &self,
        addr: std::net::SocketAddr,
        identity: Option<&str>,
    ) -> Result<Channel, tonic::transport::Error> {
        let mut tls =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(self.read("ca.crt"))).domain_name("localhost");
        if let Some(name) = identity {
            tls =
                tls.identity(Identity::from_pem(self.read(&format!("{name}.crt")), self.read(&format!("{name}.key"))));
        }
        Endpoint::from_shared(format!("https://{addr}")).unwrap().tls_config(tls)?.connect().await
    }
}

fn with_tls(dir: &Path, pki: &Pki, mutual: bool) -> gridloop::app::UpArgs {
    let mut args = local_args(dir);
    args.security.tls.tls_cert = Some(pki.path("server.crt"));
    args.security.tls.tls_key = Some(pki.path("server.key"));
    if mutual {
        let clients = pki.path("mtls-clients.toml");
        std::fs::write(
            &clients,
            "[[client]]\nname = \"platform.city.example\"\nsubject = \"city-platform\"\nrole = \"platform\"\narea = \"321012\"\n",
        )
        .unwrap();
        args.security.tls.tls_client_ca = Some(pki.path("ca.crt"));
        args.security.tls.mtls_clients = Some(clients);
    }
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trusting_the_ca_talks_tls_and_a_plaintext_client_cannot() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let app = start(with_tls(dir.path(), &pki, false)).await;
    let admin = token(&app, &principal("admin", Role::Admin, None));

    let channel = pki.channel(app.addr, None).await.expect("TLS handshake");
    let catalog = IntakeServiceClient::new(with_token(&channel, &admin)).get_catalog(pb::GetCatalogRequest {}).await;
    assert!(catalog.is_ok_and(|c| !c.into_inner().categories.is_empty()));

    let plaintext = Channel::from_shared(format!("http://{}", app.addr)).unwrap().connect().await;
    let refused = match plaintext {
        Err(_) => true,
        Ok(channel) => {
            IntakeServiceClient::new(with_token(&channel, &admin)).get_catalog(pb::GetCatalogRequest {}).await.is_err()
        }
    };
    assert!(refused, "a plaintext client is not served on the TLS port");
    app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_mutual_tls_a_platforms_certificate_stands_for_its_principal() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let app = start(with_tls(dir.path(), &pki, true)).await;

    // The platform's certificate, no token: acting as the mapped platform principal.
    let platform = pki.channel(app.addr, Some("platform")).await.expect("mutual TLS handshake");
    let listed = EvaluationServiceClient::new(platform.clone()).list_cases(pb::ListCasesRequest::default()).await;
    assert!(listed.is_ok(), "{listed:?}");
    let accept = pb::AcceptCaseRequest { case_id: "c".into(), ..Default::default() };
    let refused = DispatchServiceClient::new(platform).accept_case(accept).await.unwrap_err();
    assert_eq!((refused.code(), refused.message()), (Code::PermissionDenied, "role platform may not call AcceptCase"));

    // No certificate and no token: unauthenticated; a token still works without a certificate.
    let anonymous = pki.channel(app.addr, None).await.expect("client certificates are optional");
    let refused = IntakeServiceClient::new(anonymous.clone()).get_catalog(pb::GetCatalogRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let admin = token(&app, &principal("admin", Role::Admin, None));
    assert!(IntakeServiceClient::new(with_token(&anonymous, &admin))
        .get_catalog(pb::GetCatalogRequest {})
        .await
        .is_ok());

    // A certificate another CA signed fails the handshake.
    let rogue = match pki.channel(app.addr, Some("rogue")).await {
        Err(_) => true,
        Ok(channel) => IntakeServiceClient::new(channel).get_catalog(pb::GetCatalogRequest {}).await.is_err(),
    };
    assert!(rogue, "a certificate from another CA is refused");
    app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_is_refused_on_a_public_address_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = local_args(dir.path());
    args.listen = "0.0.0.0:0".parse().unwrap();
    let error =
        gridloop::app::App::start(&args, std::sync::Arc::new(gridloop_bus::SystemClock)).await.err().expect("refused");
    let error = format!("{error:#}");
    assert!(error.contains("refusing to serve plaintext gRPC on 0.0.0.0:0") && error.contains("--tls-cert"), "{error}");
    assert!(!dir.path().join("intake.db").exists(), "refused before any store was opened");

    args.security.tls.allow_plaintext = true;
    let app = start(args).await;
    app.shutdown().await.unwrap();
}
