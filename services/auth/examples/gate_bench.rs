//! What the auth layer costs per call, in process: verifying a bearer token signed by the
//! installation's key (EdDSA) — a new one each call, and the same one again (remembered) — and
//! inspecting a request's fields against the bounds.
//!
//!     cargo run --release -p gridloop-auth --example gate_bench -- [CALLS]

use gridloop_auth::claims::ClaimMapping;
use gridloop_auth::inspect::{RequestInspector, RequestLimits};
use gridloop_auth::local::{LOCAL_AUDIENCE, LOCAL_ISSUER};
use gridloop_auth::verifier::{Issuer, Keys, Verifier};
use gridloop_auth::SigningKey;
use gridloop_domain::access::{Principal, Role};
use gridloop_proto::v1 as pb;
use prost::Message as _;
use std::sync::Arc;
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let calls: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let dir = tempfile::tempdir()?;
    let (key, _) = SigningKey::create_or_load(dir.path())?;
    let token = key.issue(&Principal::new("bench", Role::Admin, None, None)?, chrono::Duration::hours(1))?;
    let verifier = Verifier::new(
        vec![Issuer {
            issuer: LOCAL_ISSUER.into(),
            audience: LOCAL_AUDIENCE.into(),
            keys: Keys::Fixed(Arc::new(key.key_set()?)),
            claims: ClaimMapping::default(),
        }],
        60,
    );
    // Every call a token not seen before: the signature and claims checked each time.
    let fresh: Vec<String> = (0..calls)
        .map(|i| key.issue(&Principal::new(format!("bench-{i}"), Role::Admin, None, None)?, chrono::Duration::hours(1)))
        .collect::<anyhow::Result<_>>()?;
    let started = Instant::now();
    for token in &fresh {
        verifier.verify(token).await.expect("a valid token");
    }
    let verify = started.elapsed() / calls;
    // The same token on every call, as a client sends it: remembered once verified.
    let started = Instant::now();
    for _ in 0..calls {
        verifier.verify(&token).await.expect("a valid token");
    }
    let remembered = started.elapsed() / calls;

    let inspector =
        RequestInspector::new(RequestLimits { max_string_chars: 4000, max_list_items: 1000, max_page_size: 500 })?;
    let request = pb::ReportCaseRequest {
        client_key: "bench-1".into(),
        category_code: "env.debris".into(),
        location: Some(pb::GeoPoint::wgs84(32.4043, 119.5029)),
        description: "楼道堆放杂物,堵塞消防通道".repeat(4),
        reporter: Some(pb::Reporter {
            kind: 1,
            id: "resident-42".into(),
            name: "王女士".into(),
            phone: "13800138000".into(),
            sealed: None,
        }),
        channel: 2,
        ..Default::default()
    };
    let message = request.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&u32::try_from(message.len())?.to_be_bytes());
    body.extend_from_slice(&message);
    let started = Instant::now();
    for _ in 0..calls {
        inspector.inspect("/gridloop.v1.IntakeService/ReportCase", &body).expect("inspected");
    }
    let inspect = started.elapsed() / calls;
    println!(
        "{calls} calls: token verified anew {verify:.2?}, remembered {remembered:.2?}; request inspection ({} bytes) {inspect:.2?} per call",
        body.len()
    );
    Ok(())
}
