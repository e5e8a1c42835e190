//! The closed loop end to end over real gRPC: discover → upload → dispatch → resolve → evaluate.

use chrono::Duration;
use gridloop_bus::ManualClock;
use gridloop_proto::v1 as pb;
use gridloop_tests::{actor, history_types, report_request, start_time, Gridloop};
use tonic::Code;
use tonic_types::StatusExt;

async fn accept(g: &mut Gridloop, case_id: &str) -> pb::CaseView {
    g.clients
        .dispatch
        .accept_case(pb::AcceptCaseRequest {
            case_id: case_id.into(),
            expected_version: 0,
            actor: actor("grid_worker"),
            assignee: "网格员张三".into(),
            ..Default::default()
        })
        .await
        .expect("accept")
        .into_inner()
        .case
        .unwrap()
}

async fn resolve(g: &mut Gridloop, case_id: &str) -> pb::CaseView {
    g.clients
        .dispatch
        .resolve_case(pb::ResolveCaseRequest {
            case_id: case_id.into(),
            expected_version: 0,
            actor: actor("grid_worker"),
            summary: "杂物已清理,通道畅通".into(),
            ..Default::default()
        })
        .await
        .expect("resolve")
        .into_inner()
        .case
        .unwrap()
}

async fn evaluate(g: &mut Gridloop, case_id: &str, satisfaction: pb::Satisfaction) {
    // The feedback round opens when evaluation sees the resolution: wait for it, then answer.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let answer = g
            .clients
            .hotline
            .evaluate_case(pb::EvaluateCaseRequest {
                case_id: case_id.into(),
                actor: actor("resident"),
                satisfaction: satisfaction as i32,
                comment: "ok".into(),
                ..Default::default()
            })
            .await;
        match answer {
            Ok(_) => return,
            Err(s) if s.code() == Code::FailedPrecondition && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            Err(s) => panic!("evaluate failed: {s}"),
        }
    }
}

/// The whole loop on whichever backend `g` runs on.
async fn whole_loop(g: &mut Gridloop) {
    let category = g.a_category(pb::Level::Grid).await;
    let reported = g.report(&category.code, "loop-1").await;
    assert!(!reported.replayed);

    let dispatched = g.case_in(&reported.case_id, pb::CaseState::Dispatched).await;
    let view = dispatched.case.unwrap();
    assert_eq!(view.level(), pb::Level::Grid);
    assert_eq!(view.unit_code, reported.grid_code, "a grid-level case goes to its own grid");

    let accepted = accept(g, &reported.case_id).await;
    assert_eq!(accepted.state(), pb::CaseState::Accepted);
    assert_eq!(accepted.assignee, "网格员张三");
    let resolved = resolve(g, &reported.case_id).await;
    assert_eq!(resolved.state(), pb::CaseState::Resolved);

    evaluate(g, &reported.case_id, pb::Satisfaction::Satisfied).await;
    let closed = g.case_in(&reported.case_id, pb::CaseState::Closed).await;
    let view = closed.case.clone().unwrap();
    assert_eq!(view.settled_level(), pb::Level::Grid);
    assert_eq!(view.satisfaction(), pb::Satisfaction::Satisfied);
    assert_eq!(
        history_types(&closed),
        ["CaseOpened", "CaseDispatched", "CaseAccepted", "CaseResolved", "CaseEvaluated", "CaseClosed"]
    );
    let first = closed.history[0].envelope.as_ref().unwrap();
    assert_eq!(first.correlation_id, reported.case_id);
    assert_eq!(first.stream, format!("case-{}", reported.case_id));
    assert!(!first.causation_id.is_empty(), "dispatch records what caused the case to open");
    // One case is one trace: every event, whichever service wrote it, carries the same trace id.
    let trace_ids: Vec<&str> = closed
        .history
        .iter()
        .map(|h| h.envelope.as_ref().unwrap().traceparent.split('-').nth(1).unwrap_or(""))
        .collect();
    assert_eq!(trace_ids[0].len(), 32, "a W3C trace id: {:?}", first.traceparent);
    assert!(trace_ids.iter().all(|t| *t == trace_ids[0]), "{trace_ids:?}");

    // The evaluation projection catches up: the case is listed as closed and counted at grid level.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let distribution = g
            .clients
            .evaluation
            .get_level_distribution(pb::GetLevelDistributionRequest::default())
            .await
            .unwrap()
            .into_inner();
        if distribution.closed_total == 1 {
            let grid = &distribution.levels[0];
            assert_eq!(grid.level(), pb::Level::Grid);
            assert_eq!(grid.count, 1);
            assert!((grid.share - 1.0).abs() < 1e-9);
            assert!((grid.target - 0.4).abs() < 1e-9);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "projection never counted the closed case");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let listed = g
        .clients
        .evaluation
        .list_cases(pb::ListCasesRequest { state: pb::CaseState::Closed as i32, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.cases.len(), 1);
    assert_eq!(listed.cases[0].case_id, reported.case_id);
}

#[tokio::test]
async fn a_case_goes_around_the_whole_loop_to_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    whole_loop(&mut g).await;
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_same_loop_runs_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut g) = Gridloop::start_on_postgres(dir.path()).await else { return };
    whole_loop(&mut g).await;
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn missed_deadlines_escalate_grid_to_community_to_street_to_district() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let category = g.a_category(pb::Level::Grid).await;
    let reported = g.report(&category.code, "escalate-1").await;
    let (_, grid) = g.a_grid().await;

    let mut expected_unit = grid.clone();
    for level in [pb::Level::Community, pb::Level::Street, pb::Level::District] {
        let before = g.case_in(&reported.case_id, pb::CaseState::Dispatched).await.case.unwrap();
        let deadline = before.deadline.unwrap();
        let due = chrono::DateTime::from_timestamp(deadline.seconds, deadline.nanos as u32).unwrap();
        // Nobody accepts in time.
        g.clock.set(due + Duration::seconds(1));
        let after = g.case_when(&reported.case_id, |c| c.case.as_ref().unwrap().level() == level).await;
        let view = after.case.unwrap();
        expected_unit.truncate(match level {
            pb::Level::Community => 12,
            pb::Level::Street => 9,
            _ => 6,
        });
        assert_eq!(view.unit_code, expected_unit, "escalated to the {level:?} above the case's grid");
        assert_eq!(view.state(), pb::CaseState::Dispatched);
    }

    // At the district there is no higher level: the miss is recorded, the case stays there.
    let view = g.case(&reported.case_id).await.unwrap().case.unwrap();
    let deadline = view.deadline.unwrap();
    g.clock.set(chrono::DateTime::from_timestamp(deadline.seconds, 0).unwrap() + Duration::seconds(1));
    let done = g.case_when(&reported.case_id, |c| history_types(c).contains(&"CaseDeadlineMissed".to_string())).await;
    assert_eq!(done.case.as_ref().unwrap().level(), pb::Level::District);
    let escalations = history_types(&done).iter().filter(|t| *t == "CaseEscalated").count();
    assert_eq!(escalations, 3, "exactly one escalation per level");
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_unsatisfied_evaluation_reopens_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let category = g.a_category(pb::Level::Grid).await;
    let reported = g.report(&category.code, "reopen-1").await;
    g.case_in(&reported.case_id, pb::CaseState::Dispatched).await;
    accept(&mut g, &reported.case_id).await;
    resolve(&mut g, &reported.case_id).await;
    evaluate(&mut g, &reported.case_id, pb::Satisfaction::Unsatisfied).await;

    let reopened = g.case_when(&reported.case_id, |c| c.case.as_ref().unwrap().reopen_count == 1).await;
    let view = reopened.case.clone().unwrap();
    assert_eq!(view.state(), pb::CaseState::Accepted, "back with the unit that resolved it");
    assert_eq!(view.level(), pb::Level::Grid);
    assert!(history_types(&reopened).ends_with(&["CaseEvaluated".to_string(), "CaseReopened".to_string()]));

    // Second round: resolved again and accepted by the resident this time.
    resolve(&mut g, &reported.case_id).await;
    evaluate(&mut g, &reported.case_id, pb::Satisfaction::BasicallySatisfied).await;
    let closed = g.case_in(&reported.case_id, pb::CaseState::Closed).await.case.unwrap();
    assert_eq!(closed.satisfaction(), pb::Satisfaction::BasicallySatisfied);
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_case_resolved_above_the_grid_is_verified_on_site_before_the_reporter_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let catalog = g.clients.intake.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner();
    let category = catalog
        .categories
        .into_iter()
        .find(|c| c.start_level() > pb::Level::Grid && c.requires_verification)
        .expect("a category owned above the grid that requires verification");
    let reported = g.report(&category.code, "verify-1").await;
    let case_id = reported.case_id.clone();
    g.case_in(&case_id, pb::CaseState::Dispatched).await;
    accept(&mut g, &case_id).await;
    let resolved = resolve(&mut g, &case_id).await;
    assert_eq!(resolved.state(), pb::CaseState::AwaitingVerification);
    assert_eq!(resolved.level(), category.start_level());
    let verify_by = resolved.deadline.expect("the check has a deadline");

    // Evaluation has seen the resolution (its list shows the case waiting) and asks nobody yet.
    g.listed_when(&case_id, |c| c.state() == pb::CaseState::AwaitingVerification).await;
    let early = g
        .clients
        .hotline
        .evaluate_case(pb::EvaluateCaseRequest {
            case_id: case_id.clone(),
            actor: actor("resident"),
            satisfaction: pb::Satisfaction::Satisfied as i32,
            comment: String::new(),
            ..Default::default()
        })
        .await
        .expect_err("no feedback round before the verification");
    assert_eq!(early.code(), Code::FailedPrecondition, "{early}");

    // Nobody checks in time: the miss is recorded (督办) and the check watched again.
    let due = chrono::DateTime::from_timestamp(verify_by.seconds, verify_by.nanos as u32).unwrap();
    g.clock.set(due + Duration::seconds(1));
    let overdue = g.case_when(&case_id, |c| history_types(c).contains(&"CaseVerificationOverdue".to_string())).await;
    let view = overdue.case.unwrap();
    assert_eq!(view.state(), pb::CaseState::AwaitingVerification, "still waiting for the grid worker");
    assert!(view.deadline.unwrap().seconds > verify_by.seconds, "a new deadline");

    // A failure must say what was found; nothing is recorded without it.
    let refused = g.verify(&case_id, false, " ").await.expect_err("a failure without a note");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(refused.get_details_bad_request().unwrap().field_violations[0].field, "note");
    let unchanged = g.case(&case_id).await.unwrap();
    assert_eq!(unchanged.case.unwrap().state(), pb::CaseState::AwaitingVerification);

    // Failed: rework at the unit that resolved it, counted as a reopening.
    let failed = g.verify(&case_id, false, "路面仍有破损").await.expect("verify").case.unwrap();
    assert_eq!(
        (failed.state(), failed.level(), failed.reopen_count),
        (pb::CaseState::Accepted, category.start_level(), 1)
    );
    assert!(failed.deadline.is_some(), "the rework runs under a new deadline");

    // Reworked, verified, then the reporter is asked and the case closes where it was resolved.
    assert_eq!(resolve(&mut g, &case_id).await.state(), pb::CaseState::AwaitingVerification);
    let passed = g.verify(&case_id, true, "").await.expect("verify").case.unwrap();
    assert_eq!(passed.state(), pb::CaseState::Resolved);
    evaluate(&mut g, &case_id, pb::Satisfaction::Satisfied).await;
    let closed = g.case_in(&case_id, pb::CaseState::Closed).await;
    assert_eq!(closed.case.as_ref().unwrap().settled_level(), category.start_level());
    let types = history_types(&closed);
    let tail: Vec<&str> = types.iter().skip(3).map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "CaseResolved",
            "CaseVerificationOverdue",
            "CaseVerified",
            "CaseReopened",
            "CaseResolved",
            "CaseVerified",
            "CaseEvaluated",
            "CaseClosed"
        ]
    );
    let verified =
        closed.history.iter().find(|h| h.envelope.as_ref().unwrap().event_type == "gridloop.v1.CaseVerified").unwrap();
    assert!(verified.payload_json.contains("路面仍有破损"), "{}", verified.payload_json);

    // Only a case awaiting verification is verified.
    let late = g.verify(&case_id, true, "").await.expect_err("closed");
    assert_eq!(late.code(), Code::FailedPrecondition);
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn no_answer_by_the_feedback_deadline_closes_with_the_default_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let category = g.a_category(pb::Level::Grid).await;
    let reported = g.report(&category.code, "default-1").await;
    g.case_in(&reported.case_id, pb::CaseState::Dispatched).await;
    accept(&mut g, &reported.case_id).await;
    resolve(&mut g, &reported.case_id).await;
    // Let evaluation open the feedback round before time moves on.
    let feedback_open = |g: &mut Gridloop| {
        let mut client = g.clients.evaluation.clone();
        let case_id = reported.case_id.clone();
        async move {
            client
                .list_cases(pb::ListCasesRequest { state: pb::CaseState::Resolved as i32, ..Default::default() })
                .await
                .unwrap()
                .into_inner()
                .cases
                .iter()
                .any(|c| c.case_id == case_id)
        }
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !feedback_open(&mut g).await {
        assert!(tokio::time::Instant::now() < deadline, "evaluation never saw the resolution");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    g.advance(Duration::days(30));
    let closed = g.case_in(&reported.case_id, pb::CaseState::Closed).await;
    let evaluated = closed
        .history
        .iter()
        .find(|h| h.envelope.as_ref().unwrap().event_type == "gridloop.v1.CaseEvaluated")
        .expect("an evaluation event");
    assert!(evaluated.payload_json.contains("\"defaulted\":true"), "{}", evaluated.payload_json);
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_reports_are_refused_with_field_details_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let mut bad = report_request("no.such.category", "", pb::GeoPoint::wgs84(0.0, 0.0));
    bad.description = "  ".into();
    let status = g.clients.intake.report_case(bad).await.expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = status
        .get_details_bad_request()
        .expect("BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    for field in ["client_key", "category_code", "location", "description"] {
        assert!(fields.contains(&field.to_string()), "{field} not reported in {fields:?}");
    }

    // A latitude out of range names the sub-field.
    let category = g.a_category(pb::Level::Grid).await;
    let status = g
        .clients
        .intake
        .report_case(report_request(&category.code, "k", pb::GeoPoint::wgs84(123.0, 119.5)))
        .await
        .expect_err("refused");
    let violations = status.get_details_bad_request().unwrap().field_violations;
    assert_eq!(violations[0].field, "location.lat");

    let listed = g.clients.evaluation.list_cases(pb::ListCasesRequest::default()).await.unwrap().into_inner();
    assert!(listed.cases.is_empty(), "refused reports must not create cases");

    // Commands on unknown cases and forbidden transitions get precise codes.
    let unknown = g
        .clients
        .dispatch
        .accept_case(pb::AcceptCaseRequest {
            case_id: uuid::Uuid::now_v7().to_string(),
            assignee: "x".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown case");
    assert_eq!(unknown.code(), Code::NotFound);
    let reported = g.report(&category.code, "forbidden-1").await;
    g.case_in(&reported.case_id, pb::CaseState::Dispatched).await;
    let forbidden = g
        .clients
        .dispatch
        .resolve_case(pb::ResolveCaseRequest {
            case_id: reported.case_id.clone(),
            summary: "done".into(),
            ..Default::default()
        })
        .await
        .expect_err("must accept first");
    assert_eq!(forbidden.code(), Code::FailedPrecondition);
    let stale = g
        .clients
        .dispatch
        .accept_case(pb::AcceptCaseRequest {
            case_id: reported.case_id.clone(),
            expected_version: 1,
            assignee: "x".into(),
            ..Default::default()
        })
        .await
        .expect_err("stale version");
    assert_eq!(stale.code(), Code::Aborted);
    let not_uuid = g
        .clients
        .dispatch
        .get_case(pb::GetCaseRequest { case_id: "nope".into(), ..Default::default() })
        .await
        .expect_err("bad id");
    assert_eq!(not_uuid.code(), Code::InvalidArgument);
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_retried_report_with_the_same_client_key_creates_one_case() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let category = g.a_category(pb::Level::Grid).await;
    let first = g.report(&category.code, "retry-me").await;
    let second = g.report(&category.code, "retry-me").await;
    assert_eq!(first.case_id, second.case_id);
    assert!(!first.replayed);
    assert!(second.replayed, "the retry is answered from the first result");

    // Concurrent retries too (in another grid: the same matter nearby would be linked as a duplicate).
    let (location, _) = g.nth_grid(1).await;
    let attempts = (0..8).map(|_| {
        let mut client = g.clients.intake.clone();
        let request = report_request(&category.code, "burst-key", location);
        async move { client.report_case(request).await.unwrap().into_inner().case_id }
    });
    let ids = futures::future::join_all(attempts).await;
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "one case for one key: {ids:?}");

    // Reusing a key for a different report is a client bug, reported as such.
    let (location, _) = g.a_grid().await;
    let mut different = report_request(&category.code, "retry-me", location);
    different.description = "另一件事".into();
    let status = g.clients.intake.report_case(different).await.expect_err("key reuse");
    assert_eq!(status.code(), Code::AlreadyExists);

    // Evaluation's case list follows dispatch over the bus: wait until it shows both cases.
    g.listed_when(&first.case_id, |c| c.state() == pb::CaseState::Dispatched).await;
    g.listed_when(&ids[0], |c| c.state() == pb::CaseState::Dispatched).await;
    let listed = g.clients.evaluation.list_cases(pb::ListCasesRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.cases.len(), 2, "two client keys, two cases");
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restart_mid_loop_continues_where_it_was_and_timers_still_fire() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let category = g.a_category(pb::Level::Grid).await;
    let finishing = g.report(&category.code, "restart-1").await;
    let (elsewhere, _) = g.nth_grid(1).await; // not a duplicate of the first
    let waiting = g.report_at(&category.code, "restart-2", elsewhere).await;
    g.case_in(&finishing.case_id, pb::CaseState::Dispatched).await;
    g.case_in(&waiting.case_id, pb::CaseState::Dispatched).await;
    accept(&mut g, &finishing.case_id).await;

    let mut g = g.restart().await;
    let view = g.case(&finishing.case_id).await.unwrap().case.unwrap();
    assert_eq!(view.state(), pb::CaseState::Accepted, "state survives the restart");
    resolve(&mut g, &finishing.case_id).await;
    evaluate(&mut g, &finishing.case_id, pb::Satisfaction::Satisfied).await;
    g.case_in(&finishing.case_id, pb::CaseState::Closed).await;

    // The other case's accept deadline was armed before the restart and still fires, once.
    g.advance(Duration::days(2));
    let escalated = g.case_when(&waiting.case_id, |c| c.case.as_ref().unwrap().level() == pb::Level::Community).await;
    assert_eq!(history_types(&escalated).iter().filter(|t| *t == "CaseEscalated").count(), 1);
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_dispute_is_resolved_by_a_signed_mediation_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let catalog = g.clients.intake.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner();
    let dispute = catalog
        .categories
        .iter()
        .find(|c| c.class_code.starts_with("dispute") && c.start_level() == pb::Level::Grid)
        .expect("a dispute category at grid level");
    let reported = g.report(&dispute.code, "dispute-1").await;
    g.case_in(&reported.case_id, pb::CaseState::Dispatched).await;
    accept(&mut g, &reported.case_id).await;
    g.clients
        .dispatch
        .request_mediation(pb::RequestMediationRequest {
            case_id: reported.case_id.clone(),
            topic: "楼上噪音扰民".into(),
            actor: actor("grid_worker"),
            expected_version: 0,
            ..Default::default()
        })
        .await
        .expect("mediation requested");

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let session = loop {
        match g
            .clients
            .mediation
            .get_mediation(pb::GetMediationRequest { case_id: reported.case_id.clone(), ..Default::default() })
            .await
        {
            Ok(view) => break view.into_inner(),
            Err(s) if s.code() == Code::NotFound && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            Err(s) => panic!("no mediation session: {s}"),
        }
    };
    assert_eq!(session.state(), pb::MediationState::Open);

    let unsigned = g
        .clients
        .mediation
        .conclude_mediation(pb::ConcludeMediationRequest {
            mediation_id: session.mediation_id.clone(),
            outcome: pb::MediationOutcome::Agreed as i32,
            summary: "22点后不再装修".into(),
            ..Default::default()
        })
        .await
        .expect_err("an agreement needs signatures");
    assert_eq!(unsigned.code(), Code::InvalidArgument);
    g.clients
        .mediation
        .conclude_mediation(pb::ConcludeMediationRequest {
            mediation_id: session.mediation_id.clone(),
            outcome: pb::MediationOutcome::Agreed as i32,
            summary: "22点后不再装修".into(),
            signed_by: vec!["张先生".into(), "李女士".into()],
            actor: actor("convenor"),
        })
        .await
        .expect("agreement recorded");

    let resolved = g.case_in(&reported.case_id, pb::CaseState::Resolved).await;
    assert!(history_types(&resolved).ends_with(&[
        "CaseMediationRequested".to_string(),
        "CaseMediationConcluded".to_string(),
        "CaseResolved".to_string()
    ]));
    g.app.shutdown().await.unwrap();
}

/// A transport may deliver an event again after its effect was committed (an ack lost when NATS
/// restarts). Redelivered once the case has moved on, the event is recognised as handled — not
/// refused by the case and dead-lettered — and changes nothing.
#[tokio::test]
async fn feedback_redelivered_after_closure_is_recognised_not_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let category = g.a_category(pb::Level::Grid).await.code;
    let case_id = g.report(&category, "redelivered-1").await.case_id;
    let closed = g.close_case(&case_id).await;
    let url = format!("sqlite://{}", dir.path().join("evaluation.db").display());
    let evaluation = gridloop_eventstore::EventStore::connect(&url, Default::default()).await.unwrap();
    let feedback = evaluation.read_stream(&format!("feedback-{case_id}"), 1).await.unwrap();
    let received: Vec<_> = feedback.into_iter().filter(|e| e.event_type == "gridloop.v1.FeedbackReceived").collect();
    assert_eq!(received.len(), 1);

    g.app.bus.publish("evaluation", &received).await.expect("a redelivery is handled");

    assert!(g.app.bus.dead_letters().is_empty(), "{:?}", g.app.bus.dead_letters());
    let after = g.case(&case_id).await.unwrap();
    assert_eq!(after.history.len(), closed.history.len(), "nothing applied twice");
    assert_eq!(after.case.unwrap().state(), pb::CaseState::Closed);
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn health_answers_serving_and_reflection_lists_the_services() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(g.clients.channel.clone());
    for service in ["", "gridloop.v1.IntakeService", "gridloop.v1.DispatchService", "gridloop.v1.EvaluationService"] {
        let answer = health
            .check(tonic_health::pb::HealthCheckRequest { service: service.into() })
            .await
            .expect("health check")
            .into_inner();
        assert_eq!(answer.status(), tonic_health::pb::health_check_response::ServingStatus::Serving, "{service:?}");
    }

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    // Reflection is for authenticated callers by default.
    let mut anonymous = ServerReflectionClient::new(g.clients.channel.clone());
    let refused = anonymous.server_reflection_info(futures::stream::iter([request.clone()])).await;
    assert_eq!(refused.err().map(|s| s.code()), Some(Code::Unauthenticated));
    let mut reflection = ServerReflectionClient::new(g.channel_as(&gridloop_tests::admin()));
    let mut responses =
        reflection.server_reflection_info(futures::stream::iter([request])).await.expect("reflection").into_inner();
    let response = responses.message().await.unwrap().expect("a response");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for service in [
        "gridloop.v1.IntakeService",
        "gridloop.v1.DispatchService",
        "gridloop.v1.MediationService",
        "gridloop.v1.EvaluationService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.contains(&service.to_string()), "{service} missing from {names:?}");
    }

    // Older tools (grpcurl before 1.8, some IDE plugins) speak only v1alpha.
    use tonic_reflection::pb::v1alpha as alpha;
    let request = alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(alpha::server_reflection_request::MessageRequest::ListServices(String::new())),
    };
    let mut reflection =
        alpha::server_reflection_client::ServerReflectionClient::new(g.channel_as(&gridloop_tests::admin()));
    let mut responses =
        reflection.server_reflection_info(futures::stream::iter([request])).await.expect("v1alpha").into_inner();
    let response = responses.message().await.unwrap().expect("a v1alpha response");
    let Some(alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("unexpected v1alpha reflection answer")
    };
    assert!(list.service.iter().any(|s| s.name == "gridloop.v1.DispatchService"), "{:?}", list.service);
    g.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_shows_its_times_and_an_evaluation_checks_the_version_it_saw() {
    use gridloop_domain::case::RoutingPolicy;
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let category = g.a_category(pb::Level::Grid).await;
    let reported = g.report(&category.code, "times-1").await;
    let dispatched = g.case_in(&reported.case_id, pb::CaseState::Dispatched).await;
    let view = dispatched.case.clone().unwrap();
    let occurred_at = |entry: &pb::HistoryEntry| entry.envelope.as_ref().unwrap().occurred_at;
    assert_eq!(view.opened_at, occurred_at(&dispatched.history[0]), "opened with its first event");
    assert_eq!((view.resolved_at, view.feedback_due), (None, None), "not resolved yet");

    accept(&mut g, &reported.case_id).await;
    let resolved = resolve(&mut g, &reported.case_id).await;
    let shown = g
        .clients
        .dispatch
        .get_case(pb::GetCaseRequest { case_id: reported.case_id.clone(), min_version: resolved.version })
        .await
        .unwrap()
        .into_inner();
    let case = shown.case.unwrap();
    let resolution = occurred_at(shown.history.last().unwrap()).expect("the resolution's time");
    assert_eq!(case.resolved_at, Some(resolution));
    let resolved_at = chrono::DateTime::from_timestamp(resolution.seconds, resolution.nanos as u32).unwrap();
    let due = gridloop_domain::policy::CityPolicy::default_city().feedback_deadline(&category.code, resolved_at);
    let shown_due = case.feedback_due.expect("waiting for the reporter's evaluation");
    assert_eq!(chrono::DateTime::from_timestamp(shown_due.seconds, shown_due.nanos as u32), Some(due));

    // An evaluation of a version the case has moved on from is refused, and records nothing.
    let evaluation = |expected_version: u64| pb::EvaluateCaseRequest {
        case_id: reported.case_id.clone(),
        actor: actor("resident"),
        satisfaction: pb::Satisfaction::Satisfied as i32,
        min_version: resolved.version,
        expected_version,
        ..Default::default()
    };
    let stale = g.clients.hotline.evaluate_case(evaluation(resolved.version - 1)).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    assert_eq!(g.case_in(&reported.case_id, pb::CaseState::Resolved).await.history.len(), shown.history.len());
    g.clients.hotline.evaluate_case(evaluation(resolved.version)).await.expect("the version it saw");
    let closed = g.case_in(&reported.case_id, pb::CaseState::Closed).await.case.unwrap();
    assert_eq!((closed.resolved_at, closed.feedback_due), (Some(resolution), None), "closed: nothing due");
    g.app.shutdown().await.unwrap();
}
