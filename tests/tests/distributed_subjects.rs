//! JetStream transport, in one process: the same loop as `closed_loop`, with the services
//! exchanging events over the machine's NATS (a stream and subject prefix of the test's own).
//! A plain NATS client subscribed to one street's subtree sees exactly that street's events.
//!
//! The multi-process fault test is `services/gridloop/tests/distributed.rs`.

use futures::StreamExt;
use gridloop::app::UpArgs;
use gridloop_bus::ManualClock;
use gridloop_proto::v1 as pb;
use gridloop_tests::{start_time, Gridloop};
use prost::Message;
use std::collections::BTreeSet;
use std::time::Duration;

struct Seen {
    subject: String,
    msg_id: String,
    envelope: pb::EventEnvelope,
}

/// Everything `subscriber` delivers within `quiet` of the previous message.
async fn drain(subscriber: &mut async_nats::Subscriber, quiet: Duration) -> Vec<Seen> {
    let mut seen = Vec::new();
    while let Ok(Some(message)) = tokio::time::timeout(quiet, subscriber.next()).await {
        let msg_id = message
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Msg-Id"))
            .map(|v| v.as_str().to_string())
            .unwrap_or_default();
        let envelope = pb::EventEnvelope::decode(message.payload.as_ref()).expect("the body is an EventEnvelope");
        seen.push(Seen { subject: message.subject.to_string(), msg_id, envelope });
    }
    seen
}

/// One-process gridloop on `dir` over the machine's NATS, on a stream and subject prefix of
/// its own; no duplicate linking (reports in one grid stay separate cases).
fn over_jetstream(dir: &std::path::Path, nats_url: &str) -> UpArgs {
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let mut args = UpArgs::embedded(dir, "127.0.0.1:0".parse().unwrap());
    args.nats.url = Some(nats_url.to_string());
    args.nats.stream = format!("TEST_{unique}");
    args.nats.subject_prefix = format!("t{unique}");
    args.duplicate_radius_m = 0.0;
    args
}

/// The test's events and dead-letter streams, gone from the shared server.
async fn delete_streams(nats: async_nats::Client, stream: &str) {
    let jetstream = async_nats::jetstream::new(nats);
    for name in [stream.to_string(), format!("{stream}_DLQ")] {
        jetstream.delete_stream(&name).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_a_street_subscribes_to_exactly_its_subtree() {
    let Some(nats_url) = gridloop_eventstore::testing::nats_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let args = over_jetstream(dir.path(), &nats_url);
    let prefix = args.nats.subject_prefix.clone();

    let nats = async_nats::connect(&nats_url).await.unwrap();
    let mut everything = nats.subscribe(format!("{prefix}.evt.>")).await.unwrap();
    let street = "321012001";
    let mut street_only = nats.subscribe(format!("{prefix}.evt.321012.001.>")).await.unwrap();
    nats.flush().await.unwrap();

    let mut g = Gridloop::start_with(args, ManualClock::new(start_time())).await;
    let category = g.a_category(pb::Level::Grid).await.code;
    // The first grid lies in street 001; the last one in another street.
    let (inside, inside_grid) = g.nth_grid(0).await;
    let (outside, outside_grid) = g.nth_grid(199).await;
    assert!(inside_grid.starts_with(street) && !outside_grid.starts_with(street));
    let mut case_ids = Vec::new();
    for (index, location) in [inside, outside].into_iter().enumerate() {
        let case_id = g.report_at(&category, &format!("subtree-{index}"), location).await.case_id;
        let closed = g.close_case(&case_id).await;
        assert_eq!(closed.case.unwrap().settled_level(), pb::Level::Grid);
        case_ids.push(case_id);
    }
    assert!(g.app.bus.dead_letters().is_empty(), "{:?}", g.app.bus.dead_letters());

    let all = drain(&mut everything, Duration::from_secs(2)).await;
    let in_street = drain(&mut street_only, Duration::from_millis(200)).await;
    let ids = |seen: &[Seen]| seen.iter().map(|s| s.envelope.event_id.clone()).collect::<BTreeSet<_>>();
    let expected: Vec<&Seen> = all.iter().filter(|s| s.envelope.routing_key.starts_with(street)).collect();
    assert!(!in_street.is_empty());
    assert_eq!(
        ids(&in_street),
        expected.iter().map(|s| s.envelope.event_id.clone()).collect::<BTreeSet<_>>(),
        "the street's subscription sees exactly the street's events"
    );
    assert!(in_street.iter().all(|s| s.envelope.correlation_id == case_ids[0]));
    assert!(all.iter().any(|s| s.envelope.correlation_id == case_ids[1]), "the other street's case was published too");
    // From every producer, under the documented subject, deduplicated by event id.
    let sources: BTreeSet<&str> = in_street.iter().map(|s| s.envelope.source.as_str()).collect();
    assert_eq!(sources, BTreeSet::from(["dispatch", "evaluation", "intake"]));
    for seen in &in_street {
        let short_type = seen.envelope.event_type.rsplit('.').next().unwrap();
        assert_eq!(
            seen.subject,
            format!(
                "{prefix}.evt.321012.001.{}.{}.{}.{short_type}",
                &inside_grid[9..12],
                &inside_grid[12..15],
                seen.envelope.source
            )
        );
        assert_eq!(seen.msg_id, seen.envelope.event_id);
    }

    g.app.shutdown().await.unwrap();
    delete_streams(nats, &g.args.nats.stream).await;
}

/// `gridloop replay` from JetStream (distributed mode): an ordered consumer over dispatch's
/// subjects rebuilds the case projection equal to the live one; started mid-stream, the cases
/// opened before the start are skipped and counted, not folded wrongly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_replay_from_jetstream_equals_the_live_projection() {
    use gridloop::app::ServiceName;
    use gridloop::replay::{rebuild, History, HistoryArgs};
    use gridloop_evaluation::replay::{self, Rebuild};

    let Some(nats_url) = gridloop_eventstore::testing::nats_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let args = over_jetstream(dir.path(), &nats_url);
    let mut g = Gridloop::start_with(args.clone(), ManualClock::new(start_time())).await;
    let category = g.a_category(pb::Level::Grid).await.code;
    let mut case_ids = Vec::new();
    for n in 0..3 {
        let case_id = g.report(&category, &format!("replay-{n}")).await.case_id;
        g.close_case(&case_id).await;
        case_ids.push(case_id);
    }
    let open = g.report(&category, "replay-open").await.case_id;
    g.case_in(&open, pb::CaseState::Dispatched).await;
    for case_id in &case_ids {
        g.listed_when(case_id, |c| c.state() == pb::CaseState::Closed).await;
    }
    g.listed_when(&open, |c| c.state() == pb::CaseState::Dispatched).await;
    let live_store = args.store.open(ServiceName::Evaluation, None).await.unwrap();
    let live = replay::dump(live_store.pool()).await.unwrap();

    let history = HistoryArgs {
        jetstream: true,
        nats_url: nats_url.clone(),
        stream: args.nats.stream.clone(),
        subject_prefix: args.nats.subject_prefix.clone(),
        ..HistoryArgs::embedded(dir.path())
    };
    let replay = |name: &str| {
        let url = format!("sqlite://{}", dir.path().join(name).join("evaluation.db").display());
        async move {
            gridloop_eventstore::EventStore::connect(&url, gridloop_eventstore::StoreOptions::default()).await.unwrap()
        }
    };
    let target = replay("from-start").await;
    let mut source = History::open(&history, gridloop_domain::clock::DEFAULT_ZONE).await.unwrap();
    let dispatch_events = source.total();
    let mut rebuilt = Rebuild::new(target.clone(), false, gridloop_domain::clock::DEFAULT_ZONE).await.unwrap();
    let summary = rebuild(&mut source, &mut rebuilt, &indicatif::ProgressBar::hidden()).await.unwrap();
    assert_eq!(summary.stats.events, dispatch_events);
    assert_eq!(summary.stats.skipped, 0);
    assert_eq!(replay::dump(target.pool()).await.unwrap(), live, "replayed from JetStream = live");

    // From the middle of the stream: the first case's earliest events are not replayed.
    let mid = HistoryArgs { start_sequence: Some(4), ..history };
    let target = replay("from-middle").await;
    let mut source = History::open(&mid, gridloop_domain::clock::DEFAULT_ZONE).await.unwrap();
    let mut rebuilt = Rebuild::new(target.clone(), false, gridloop_domain::clock::DEFAULT_ZONE).await.unwrap();
    let summary = rebuild(&mut source, &mut rebuilt, &indicatif::ProgressBar::hidden()).await.unwrap();
    assert!(summary.stats.skipped > 0, "{:?}", summary.stats);
    assert_ne!(replay::dump(target.pool()).await.unwrap(), live);

    g.app.shutdown().await.unwrap();
    delete_streams(async_nats::connect(&nats_url).await.unwrap(), &args.nats.stream).await;
}
