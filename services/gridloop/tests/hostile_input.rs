//! Hostile input on the wire, against `gridloop up` in process (gRPC and Open311 over HTTP): each
//! malformed request gets a clear status naming what is wrong, and nothing reaches any store.
//!
//! gRPC: an oversize message, a deeply nested one, invalid UTF-8 in a string field (a
//! hand-encoded message), NaN and infinite coordinates, timestamps at the far ends of the range,
//! a huge page size and page tokens never issued. HTTP: an oversize body, a form that is not
//! UTF-8, NaN and infinite coordinates, a page past any list.

use bytes::{Buf, BufMut};
use gridloop::app::{App, ServiceName, StoreLocation, UpArgs};
use gridloop_auth::{AuthChannel, BearerToken, Principal};
use gridloop_bus::SystemClock;
use gridloop_domain::access::Role;
use gridloop_domain::jurisdiction::Jurisdiction;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::evaluation_service_client::EvaluationServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use prost::encoding::{encode_key, encode_varint, WireType};
use prost::Message;
use std::path::Path;
use std::sync::Arc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Sends and receives raw bytes: a message no generated client would encode.
#[derive(Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

struct Server {
    app: App,
    dir: tempfile::TempDir,
    channel: AuthChannel,
    http: reqwest::Client,
    base: String,
    /// A platform's key, for Open311.
    api_key: String,
}

impl Server {
    async fn start() -> Server {
        gridloop_auth::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let args = UpArgs {
            http_listen: Some("127.0.0.1:0".parse().unwrap()),
            // Many requests from one address: the per-client limit would answer some with 429
            // before reading their bodies, which is not what this test is about.
            http_limits: gridloop_http::ClientLimitArgs { http_rate_limit: 0, ..Default::default() },
            ..UpArgs::embedded(dir.path(), "127.0.0.1:0".parse().unwrap())
        };
        let app = App::start(&args, Arc::new(SystemClock)).await.expect("gridloop starts");
        let key = app.signing_key().expect("a signing key");
        let admin = Principal::new("test-admin", Role::Admin, None, None).unwrap();
        let platform = Principal::new("fix-my-street", Role::Platform, None, None).unwrap();
        let token = key.issue(&admin, chrono::Duration::hours(1)).unwrap();
        let api_key = key.issue(&platform, chrono::Duration::hours(1)).unwrap();
        let endpoint = Channel::from_shared(format!("http://{}", app.addr)).unwrap();
        let channel = BearerToken::new(&token).unwrap().channel(endpoint.connect().await.expect("connect"));
        let base = format!("http://{}", app.http_addr.expect("HTTP is served"));
        Server { app, dir, channel, http: reqwest::Client::new(), base, api_key }
    }

    fn intake(&self) -> IntakeServiceClient<AuthChannel> {
        // A client that would send anything: the server's limit is what is tested.
        IntakeServiceClient::new(self.channel.clone()).max_encoding_message_size(usize::MAX)
    }

    /// Events in every service's store.
    async fn stored(&self) -> i64 {
        stored(self.dir.path()).await
    }

    /// `ReportCase` with a hand-encoded request.
    async fn report_raw(&self, bytes: Vec<u8>) -> Status {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready().await.expect("the channel is ready");
        let path = http::uri::PathAndQuery::from_static("/gridloop.v1.IntakeService/ReportCase");
        grpc.unary(tonic::Request::new(bytes), path, RawCodec).await.expect_err("a malformed request is refused")
    }

    async fn post_form(&self, body: Vec<u8>) -> (u16, String) {
        // A server may answer an oversize body before reading all of it and close the
        // connection; a client still writing then sees the connection cut instead of the
        // answer. Sent again, the answer wins the race: a few tries, then the error stands.
        let mut tries = 0;
        let response = loop {
            tries += 1;
            let sent = self
                .http
                .post(format!("{}/open311/v2/requests.json", self.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(response) => break response,
                Err(error) if tries < 3 && error.is_request() => eprintln!("POST cut ({error}); sending again"),
                Err(error) => panic!("POST: {error:?}"),
            }
        };
        (response.status().as_u16(), response.text().await.expect("a body"))
    }
}

async fn stored(dir: &Path) -> i64 {
    let location = StoreLocation::embedded(dir);
    let mut total = 0;
    for service in ServiceName::ALL {
        let store = location.open_existing(service).await.expect("the service's store");
        total += store.head_position().await.expect("the store's head");
    }
    total
}

/// A report that would be accepted: inside a grid, every field valid.
fn good_report(key: &str) -> pb::ReportCaseRequest {
    let (lat, lon) = Jurisdiction::default_city().grids().next().unwrap().interior_point();
    pb::ReportCaseRequest {
        client_key: key.into(),
        category_code: "env.garbage".into(),
        location: Some(pb::GeoPoint::wgs84(lat, lon)),
        description: "楼道堆放杂物".into(),
        reporter: Some(pb::Reporter { kind: pb::ReporterKind::Resident as i32, ..Default::default() }),
        channel: pb::Channel::ResidentApp as i32,
        ..Default::default()
    }
}

/// The fields an INVALID_ARGUMENT names in its `BadRequest`.
fn bad_fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let bad_request = status.get_details_bad_request().expect("a BadRequest detail");
    bad_request.field_violations.into_iter().map(|v| v.field).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_grpc_requests_get_clear_statuses_and_store_nothing() {
    let server = Server::start().await;
    let before = server.stored().await;

    // Over the server's 4 MiB message limit.
    let oversize = pb::ReportCaseRequest { description: "长".repeat(2_000_000), ..good_report("oversize") };
    let status = server.intake().report_case(oversize).await.expect_err("an oversize message is refused");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("larger than"), "{status:?}");

    // Under the message limit, over the description's.
    let long = pb::ReportCaseRequest { description: "长".repeat(4_001), ..good_report("long") };
    let status = server.intake().report_case(long).await.unwrap_err();
    assert_eq!(bad_fields(&status), ["description"]);

    // Invalid UTF-8 in a string field: the description again, as raw bytes after the good one
    // (the last occurrence of a field wins).
    let mut bytes = good_report("utf8").encode_to_vec();
    encode_key(4, WireType::LengthDelimited, &mut bytes);
    encode_varint(3, &mut bytes);
    bytes.extend_from_slice(&[b'a', 0xff, 0xfe]);
    let status = server.report_raw(bytes).await;
    // gRPC's status code for a message the library cannot parse is INTERNAL, with why.
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert!(status.message().contains("UTF-8"), "{status:?}");

    // 200 groups nested in an unknown field, past the decoder's recursion limit.
    let mut bytes = good_report("nested").encode_to_vec();
    for _ in 0..200 {
        encode_key(99, WireType::StartGroup, &mut bytes);
    }
    for _ in 0..200 {
        encode_key(99, WireType::EndGroup, &mut bytes);
    }
    let status = server.report_raw(bytes).await;
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert!(status.message().contains("recursion limit"), "{status:?}");

    // Coordinates that are not numbers on the globe.
    let point = |lat: f64, lon: f64| pb::ReportCaseRequest {
        location: Some(pb::GeoPoint::wgs84(lat, lon)),
        ..good_report("coordinates")
    };
    for (lat, lon, field) in [
        (f64::NAN, 119.5, "location.lat"),
        (f64::INFINITY, 119.5, "location.lat"),
        (32.4, f64::NEG_INFINITY, "location.lon"),
        (32.4, f64::NAN, "location.lon"),
        (f64::MAX, f64::MIN, "location.lat"),
    ] {
        let status = server.intake().report_case(point(lat, lon)).await.unwrap_err();
        assert_eq!(bad_fields(&status), [field], "({lat}, {lon})");
    }

    // Timestamps at and past both ends of what a protobuf Timestamp may hold.
    let discovered = |seconds: i64, nanos: i32| pb::ReportCaseRequest {
        discovered_at: Some(prost_types::Timestamp { seconds, nanos }),
        ..good_report("timestamps")
    };
    for (seconds, nanos) in [
        (i64::MIN, 0),
        (i64::MAX, 0),
        (0, -1),
        (0, 1_000_000_000),
        (-62_135_596_801, 0), // a second before 0001-01-01, the first a Timestamp may hold
        (-62_135_596_801, 999_999_999),
        (253_402_300_800, 0), // a second after 9999-12-31T23:59:59, the last a Timestamp may hold
    ] {
        let status = server.intake().report_case(discovered(seconds, nanos)).await.unwrap_err();
        assert_eq!(bad_fields(&status), ["discovered_at"], "{seconds} s {nanos} ns");
    }

    // Page sizes and tokens a client makes up.
    let mut evaluation = EvaluationServiceClient::new(server.channel.clone());
    let huge = pb::ListCasesRequest { page_size: u32::MAX, ..Default::default() };
    let listed = evaluation.list_cases(huge).await.expect("a huge page size is capped").into_inner();
    assert!(listed.cases.is_empty() && listed.next_page_token.is_empty());
    let tokens = ["abc", "-1", "950", "1e3", " 5", "n.", "n.12.", "n.x.c1", "p.1.2", "p.9223372036854775808.1.c1"];
    for token in tokens {
        let list = pb::ListCasesRequest { page_token: token.into(), ..Default::default() };
        let status = evaluation.list_cases(list).await.expect_err("a token never issued is refused");
        assert_eq!(bad_fields(&status), ["page_token"], "{token:?}");
    }

    assert_eq!(server.stored().await, before, "no hostile request stored anything");
    // The server still takes a good report afterwards, and that one is stored.
    server.intake().report_case(good_report("good")).await.expect("a good report after all that");
    assert!(server.stored().await > before);
    server.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_open311_posts_are_400_with_a_reason_and_store_nothing() {
    let server = Server::start().await;
    let before = server.stored().await;
    let (lat, lon) = Jurisdiction::default_city().grids().next().unwrap().interior_point();
    let form = |lat: &str, lon: &str, description: &str| {
        serde_urlencoded::to_string([
            ("api_key", server.api_key.as_str()),
            ("service_code", "env.garbage"),
            ("lat", lat),
            ("long", lon),
            ("description", description),
        ])
        .unwrap()
        .into_bytes()
    };
    let (lat, lon) = (lat.to_string(), lon.to_string());

    let (status, body) = server.post_form(form(&lat, &lon, &"长".repeat(300_000))).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("\"code\":413") && body.contains("bytes"), "{body}");

    // Not UTF-8: percent-encoded and raw.
    let mut encoded = form(&lat, &lon, "x");
    encoded.extend_from_slice(b"%FF%FE");
    let mut raw = form(&lat, &lon, "x");
    raw.extend_from_slice(&[0xff, 0xfe]);
    for body in [encoded, raw] {
        let (status, body) = server.post_form(body).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("UTF-8"), "{body}");
    }

    for (lat, lon, field) in
        [("NaN", lon.as_str(), "lat"), (lat.as_str(), "inf", "long"), ("1e400", lon.as_str(), "lat")]
    {
        let (status, body) = server.post_form(form(lat, lon, "x")).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains(&format!("{field} must be a number")), "{body}");
    }

    let page = format!("{}/open311/v2/requests.json?page={}&page_size=200", server.base, usize::MAX);
    let response = server.http.get(page).send().await.expect("GET");
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.text().await.unwrap().contains("past any list"));

    assert_eq!(server.stored().await, before, "no hostile post stored anything");
    server.app.shutdown().await.unwrap();
}
