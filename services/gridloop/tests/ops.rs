//! What Kubernetes relies on: the grpc.health.v1 statuses its probes check (liveness answers
//! SERVING as soon as gRPC is served; readiness, the overall "" status, stays NOT_SERVING until
//! the bus is connected) and `--max-connection-age-secs` closing HTTP/2 connections with a GOAWAY
//! so clients reconnect and spread over the replicas.
#![cfg(unix)]

mod common;

use common::{free_port, nats_server_binary};
use gridloop::app::{App, NatsArgs, ServiceName, UpArgs, LIVENESS_SERVICE};
use gridloop_bus::SystemClock;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// A nats-server with JetStream on `port`, killed when dropped (its store directory with it).
struct Nats {
    child: Child,
    _store: tempfile::TempDir,
}

impl Nats {
    fn start(binary: &Path, port: u16) -> Nats {
        let store = tempfile::tempdir().unwrap();
        let child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        Nats { child, _store: store }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status `service` reports on `addr`, or None while nothing answers there.
async fn health(addr: SocketAddr, service: &str) -> Option<ServingStatus> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.ok()?;
    let answer = HealthClient::new(channel).check(HealthCheckRequest { service: service.into() }).await.ok()?;
    Some(answer.into_inner().status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_for_the_bus_while_liveness_answers() {
    let Some(nats_binary) = nats_server_binary() else {
        assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "nats-server is not installed and CI=true");
        eprintln!("skipping: nats-server is not installed");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let (grpc, nats_port) = (free_addr(), free_addr().port());
    assert_ne!(grpc.port(), nats_port);
    let unique = format!("OPS{}", std::process::id());
    let args = UpArgs {
        nats: NatsArgs {
            url: Some(format!("nats://127.0.0.1:{nats_port}")),
            stream: unique.clone(),
            subject_prefix: unique.to_lowercase(),
            ..NatsArgs::default()
        },
        ..UpArgs::embedded(data.path(), grpc)
    };
    // NATS is not there yet: intake opens its store, serves gRPC, and keeps connecting.
    let app = App::start_services(&[ServiceName::Intake], &args, None, Arc::new(SystemClock)).await.unwrap();
    for _ in 0..4 {
        assert_eq!(health(grpc, LIVENESS_SERVICE).await, Some(ServingStatus::Serving));
        assert_eq!(health(grpc, "").await, Some(ServingStatus::NotServing), "ready before the bus is connected");
        assert_eq!(health(grpc, "gridloop.v1.IntakeService").await, None, "the service is reported before it is ready");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let _nats = Nats::start(&nats_binary, nats_port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while health(grpc, "").await != Some(ServingStatus::Serving) {
        assert!(Instant::now() < deadline, "intake never became ready after NATS came up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(health(grpc, "gridloop.v1.IntakeService").await, Some(ServingStatus::Serving));
    assert_eq!(health(grpc, LIVENESS_SERVICE).await, Some(ServingStatus::Serving));
    app.shutdown().await.unwrap();
}

/// Speak just enough HTTP/2 to hold an idle connection open (preface, SETTINGS, and acks of the
/// server's SETTINGS and PINGs, as a client must for a graceful GOAWAY to finish); returns (GOAWAY received, the server closed the connection) by `within`.
fn hold_connection(addr: SocketAddr, within: Duration) -> (bool, bool) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0").unwrap();
    let deadline = Instant::now() + within;
    let (mut buffer, mut goaway) = (Vec::new(), false);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (goaway, false);
        }
        tcp.set_read_timeout(Some(left)).unwrap();
        let mut chunk = [0u8; 4096];
        match tcp.read(&mut chunk) {
            Ok(0) => return (goaway, true),
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return (goaway, false)
            }
            Err(_) => return (goaway, true),
        }
        // Whole frames: 3 bytes length, type, flags, 4 bytes stream id, payload.
        while buffer.len() >= 9 {
            let length = u32::from_be_bytes([0, buffer[0], buffer[1], buffer[2]]) as usize;
            if buffer.len() < 9 + length {
                break;
            }
            let (kind, flags) = (buffer[3], buffer[4]);
            if kind == 0x4 && flags & 0x1 == 0 {
                tcp.write_all(b"\0\0\0\x04\x01\0\0\0\0").unwrap(); // SETTINGS ack
            }
            if kind == 0x6 && flags & 0x1 == 0 {
                let mut ack = vec![0, 0, 8, 0x6, 0x1, 0, 0, 0, 0]; // PING ack, same payload
                ack.extend_from_slice(&buffer[9..17]);
                tcp.write_all(&ack).unwrap();
            }
            goaway |= kind == 0x7;
            buffer.drain(..9 + length);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_closed_after_the_max_connection_age() {
    let data = tempfile::tempdir().unwrap();
    let aged = UpArgs { max_connection_age_secs: 1, ..UpArgs::embedded(data.path().join("aged"), free_addr()) };
    let app = App::start(&aged, Arc::new(SystemClock)).await.unwrap();
    let addr = app.addr;
    let started = Instant::now();
    let (goaway, closed) =
        tokio::task::spawn_blocking(move || hold_connection(addr, Duration::from_secs(15))).await.unwrap();
    assert!(
        goaway && closed,
        "an idle connection older than 1 s gets GOAWAY and is closed (goaway {goaway}, closed {closed})"
    );
    assert!(started.elapsed() >= Duration::from_millis(900), "closed before its age: {:?}", started.elapsed());
    app.shutdown().await.unwrap();

    let unaged = UpArgs { max_connection_age_secs: 0, ..UpArgs::embedded(data.path().join("unaged"), free_addr()) };
    let app = App::start(&unaged, Arc::new(SystemClock)).await.unwrap();
    let addr = app.addr;
    let (goaway, closed) =
        tokio::task::spawn_blocking(move || hold_connection(addr, Duration::from_secs(3))).await.unwrap();
    assert!(!goaway && !closed, "0 keeps connections open (goaway {goaway}, closed {closed})");
    app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_listener_answers_probes_in_plaintext_and_serves_nothing_else() {
    let data = tempfile::tempdir().unwrap();
    let probes = free_addr();
    let args = UpArgs { health_listen: Some(probes), ..UpArgs::embedded(data.path(), free_addr()) };
    let app = App::start(&args, Arc::new(SystemClock)).await.unwrap();
    assert_eq!(health(probes, "").await, Some(ServingStatus::Serving));
    assert_eq!(health(probes, LIVENESS_SERVICE).await, Some(ServingStatus::Serving));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{probes}")).unwrap().connect().await.unwrap();
    let mut intake = gridloop_proto::v1::intake_service_client::IntakeServiceClient::new(channel);
    let refused = intake.get_catalog(gridloop_proto::v1::GetCatalogRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unimplemented, "the API is not on the health listener: {refused:?}");
    app.shutdown().await.unwrap();
    assert_eq!(health(probes, "").await, None, "stopped with the server");
}
