//! The council procedure end to end over real gRPC: a dispute fails at the grid council, goes up
//! to the community council (三提), is agreed and signed there, survives a one-fifth objection
//! through reconsideration (复议), and is resolved in dispatch at community level once its notice
//! period is over.

use chrono::Duration;
use gridloop_bus::{Clock, ManualClock};
use gridloop_proto::v1 as pb;
use gridloop_tests::{actor, history_types, start_time, Gridloop};
use tonic::Code;
use tonic_types::StatusExt;

fn step(id: &str) -> pb::MediationStepRequest {
    pb::MediationStepRequest { mediation_id: id.into(), actor: actor("convenor") }
}

async fn request_mediation(g: &mut Gridloop, case_id: &str, topic: &str) {
    let accept = pb::AcceptCaseRequest {
        case_id: case_id.into(),
        expected_version: 0,
        actor: actor("grid_worker"),
        assignee: "网格员张三".into(),
        ..Default::default()
    };
    g.clients.dispatch.accept_case(accept).await.expect("accept");
    let request = pb::RequestMediationRequest {
        case_id: case_id.into(),
        topic: topic.into(),
        actor: actor("grid_worker"),
        expected_version: 0,
        ..Default::default()
    };
    g.clients.dispatch.request_mediation(request).await.expect("mediation requested");
}

/// Wait for the case's latest session to be one at `level` (dispatch's request flows over the bus).
async fn session_at(g: &mut Gridloop, case_id: &str, level: pb::SessionLevel) -> pb::MediationView {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let request = pb::GetMediationRequest { case_id: case_id.into(), ..Default::default() };
        match g.clients.mediation.get_mediation(request).await {
            Ok(view) if view.get_ref().session_level() == level => return view.into_inner(),
            Ok(_) => {}
            Err(s) if s.code() == Code::NotFound => {}
            Err(s) => panic!("get_mediation failed: {s}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "no {level:?} session for case {case_id}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Wait until the session satisfies `ready` (timers fire asynchronously).
async fn mediation_when(g: &mut Gridloop, id: &str, ready: impl Fn(&pb::MediationView) -> bool) -> pb::MediationView {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let request = pb::GetMediationRequest { mediation_id: id.into(), ..Default::default() };
        let view = g.clients.mediation.get_mediation(request).await.expect("get_mediation").into_inner();
        if ready(&view) {
            return view;
        }
        assert!(tokio::time::Instant::now() < deadline, "session {id} never got there: {view:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn invite(g: &mut Gridloop, id: &str, name: &str, role: pb::ParticipantRole) {
    let request = pb::InviteParticipantRequest {
        mediation_id: id.into(),
        actor: actor("convenor"),
        name: name.into(),
        role: role as i32,
    };
    g.clients.mediation.invite_participant(request).await.expect("invite");
}

async fn sit(g: &mut Gridloop, id: &str, present: &[&str]) -> pb::MediationView {
    let request = pb::OpenDeliberationRequest {
        mediation_id: id.into(),
        actor: actor("convenor"),
        present: present.iter().map(|s| s.to_string()).collect(),
    };
    g.clients.mediation.open_deliberation(request).await.expect("the session sits").into_inner()
}

async fn say(g: &mut Gridloop, id: &str, speaker: &str, text: &str) {
    let request = pb::MakeStatementRequest {
        mediation_id: id.into(),
        actor: actor("convenor"),
        speaker: speaker.into(),
        text: text.into(),
    };
    g.clients.mediation.make_statement(request).await.expect("statement");
}

async fn vote(g: &mut Gridloop, id: &str, yes: &[&str], no: &[&str]) -> pb::MediationView {
    let request = pb::PutMotionRequest {
        mediation_id: id.into(),
        actor: actor("convenor"),
        motion: "每晚22点后停止装修,物业加装隔音板".into(),
        yes: yes.iter().map(|s| s.to_string()).collect(),
        no: no.iter().map(|s| s.to_string()).collect(),
        abstain: vec![],
    };
    g.clients.mediation.put_motion(request).await.expect("vote").into_inner()
}

async fn sign(g: &mut Gridloop, id: &str) -> pb::MediationView {
    let request = pb::SignAgreementRequest {
        mediation_id: id.into(),
        actor: actor("convenor"),
        signed_by: vec!["张先生".into(), "李女士".into()],
        residents_concerned: 10,
    };
    g.clients.mediation.sign_agreement(request).await.expect("signed").into_inner()
}

async fn object(g: &mut Gridloop, id: &str, resident: &str) -> pb::MediationView {
    let request = pb::RaiseObjectionRequest {
        mediation_id: id.into(),
        actor: actor("resident"),
        residents: vec![resident.into()],
    };
    g.clients.mediation.raise_objection(request).await.expect("objection").into_inner()
}

/// The step is refused by the procedure: FAILED_PRECONDITION with a reason naming the rule.
/// The sessions of `case_id` waiting on a notice period or a follow-up, of those listed everywhere.
async fn waiting_sessions(g: &mut Gridloop, case_id: &str) -> Vec<pb::WaitingMediation> {
    let request = pb::ListWaitingMediationsRequest::default();
    let answer = g.clients.mediation.list_waiting_mediations(request).await.expect("waiting sessions").into_inner();
    assert_eq!(answer.total, answer.sessions.len() as u64, "fewer than a page");
    answer.sessions.into_iter().filter(|session| session.case_id == case_id).collect()
}

fn assert_refused(result: Result<tonic::Response<pb::MediationView>, tonic::Status>, reason: &str) {
    let status = result.expect_err("the step must be refused");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status}");
    assert!(status.message().contains(reason), "{:?} does not say {reason:?}", status.message());
    assert!(status.get_details_precondition_failure().is_some(), "a PreconditionFailure detail");
}

#[tokio::test]
async fn a_dispute_fails_at_the_grid_council_and_is_agreed_at_the_community_council_through_reconsideration() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    council_procedure(&mut g).await;
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_council_procedure_runs_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut g) = Gridloop::start_on_postgres(dir.path()).await else { return };
    council_procedure(&mut g).await;
    g.app.shutdown().await.unwrap();
}

async fn council_procedure(g: &mut Gridloop) {
    let catalog = g.clients.intake.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner();
    let dispute = catalog
        .categories
        .into_iter()
        .find(|c| c.class_code.starts_with("dispute") && c.start_level() == pb::Level::Grid)
        .expect("a dispute category at grid level");
    let reported = g.report(&dispute.code, "council-1").await;
    let case_id = reported.case_id.clone();
    g.case_in(&case_id, pb::CaseState::Dispatched).await;

    // ---- the grid council (网格议事会): no agreement, referred up (三提) ----
    request_mediation(g, &case_id, "楼上装修噪音扰民").await;
    let grid = session_at(g, &case_id, pb::SessionLevel::Grid).await;
    let (gid, chair) = (grid.mediation_id.clone(), grid.convenor.clone());
    assert_eq!(grid.stage(), pb::MediationStage::Proposed);
    assert_refused(g.clients.mediation.notify_participants(step(&gid)).await, "parties");
    invite(g, &gid, "张先生", pb::ParticipantRole::Party).await;
    invite(g, &gid, "李女士", pb::ParticipantRole::Party).await;
    invite(g, &gid, "王网格员", pb::ParticipantRole::GridWorker).await;
    g.clients.mediation.notify_participants(step(&gid)).await.expect("notified");
    sit(g, &gid, &[&chair, "张先生", "李女士"]).await;
    say(g, &gid, "张先生", "装修到深夜,无法休息").await;
    say(g, &gid, "李女士", "工期紧,不能停工").await;
    let failed_vote = vote(g, &gid, &["张先生"], &["李女士"]).await;
    assert_eq!(failed_vote.stage(), pb::MediationStage::Deliberating, "1 yes of 3 present is no majority");
    let no_agreement = pb::RecordNoAgreementRequest {
        mediation_id: gid.clone(),
        actor: actor("convenor"),
        referral: pb::MediationReferral::EscalateOneLevel as i32,
        summary: "双方未达成一致,提请社区协商议事会".into(),
    };
    let grid = g.clients.mediation.record_no_agreement(no_agreement).await.expect("no agreement").into_inner();
    assert_eq!((grid.state(), grid.referral()), (pb::MediationState::Failed, pb::MediationReferral::EscalateOneLevel));

    // ---- dispatch escalates the case to the community ----
    let escalated = g
        .case_when(&case_id, |c| {
            c.case.as_ref().is_some_and(|v| v.state() == pb::CaseState::Dispatched && v.level() == pb::Level::Community)
        })
        .await;
    assert!(history_types(&escalated).ends_with(&["CaseMediationConcluded".to_string(), "CaseEscalated".to_string()]));

    // ---- the community council (社区协商议事会) ----
    request_mediation(g, &case_id, "楼上装修噪音扰民(社区协商)").await;
    let community = session_at(g, &case_id, pb::SessionLevel::Community).await;
    let (cid, chair) = (community.mediation_id.clone(), community.convenor.clone());
    assert_ne!(cid, gid);
    for (name, role) in [
        ("张先生", pb::ParticipantRole::Party),
        ("李女士", pb::ParticipantRole::Party),
        ("赵律师", pb::ParticipantRole::LegalWorker),
        ("物业刘经理", pb::ParticipantRole::PropertyCompany),
        ("业委会陈主任", pb::ParticipantRole::OwnersCommittee),
    ] {
        invite(g, &cid, name, role).await;
    }
    g.clients.mediation.notify_participants(step(&cid)).await.expect("notified");
    let present = [chair.as_str(), "张先生", "李女士", "赵律师", "物业刘经理"];
    sit(g, &cid, &present).await;
    assert_refused(g.clients.mediation.execute_agreement(step(&cid)).await, "signed and published");
    say(g, &cid, "赵律师", "依据《噪声污染防治法》,夜间施工须停止").await;
    say(g, &cid, "物业刘经理", "物业可加装隔音板").await;
    let carried = vote(g, &cid, &[chair.as_str(), "张先生", "李女士"], &[]).await;
    assert_eq!(carried.stage(), pb::MediationStage::Decided);
    let published = sign(g, &cid).await;
    assert_eq!(published.stage(), pb::MediationStage::InNotice);

    // ---- public notice: one fifth of the 10 residents concerned object ----
    assert_eq!(object(g, &cid, "居民甲").await.stage(), pb::MediationStage::InNotice);
    assert_refused(g.clients.mediation.execute_agreement(step(&cid)).await, "notice period");
    let contested = object(g, &cid, "居民乙").await;
    assert_eq!(contested.stage(), pb::MediationStage::Contested, "2 of 10 is exactly one fifth");
    g.advance(Duration::days(8));
    assert_refused(g.clients.mediation.execute_agreement(step(&cid)).await, "reconsider");
    let reconsider = pb::RespondToObjectionRequest {
        mediation_id: cid.clone(),
        actor: actor("convenor"),
        response: pb::ObjectionResponse::Reconsider as i32,
        reason: "五分之一居民联名异议,召开议事复议会".into(),
    };
    let reconsidering = g.clients.mediation.respond_to_objection(reconsider).await.expect("复议").into_inner();
    assert_eq!((reconsidering.stage(), reconsidering.reconsiderations), (pb::MediationStage::Notified, 1));
    // Reconsidering is answered only by a new sitting, vote and notice: no informal agreement.
    let shortcut = pb::ConcludeMediationRequest {
        mediation_id: cid.clone(),
        outcome: pb::MediationOutcome::Agreed as i32,
        summary: "按原协议执行".into(),
        signed_by: vec!["张先生".into(), "李女士".into()],
        actor: actor("convenor"),
    };
    assert_refused(g.clients.mediation.conclude_mediation(shortcut).await, "sit, vote and publish again");

    // ---- the reconsideration sits, votes and publishes again; nobody objects this time ----
    sit(g, &cid, &present).await;
    say(g, &cid, "李女士", "同意周末也不施工").await;
    vote(g, &cid, &[chair.as_str(), "张先生", "李女士", "赵律师"], &[]).await;
    let signed = sign(g, &cid).await;
    // The command centre's list: the agreement waits out its notice period.
    let waiting = waiting_sessions(g, &case_id).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(
        (waiting[0].mediation_id.as_str(), waiting[0].waiting_on()),
        (cid.as_str(), pb::WaitingOn::NoticePeriod)
    );
    assert_eq!(waiting[0].until, signed.notice_until);
    assert_eq!(waiting[0].case_id, case_id);
    g.advance(Duration::days(6));
    assert_refused(g.clients.mediation.execute_agreement(step(&cid)).await, "notice period");
    g.advance(Duration::days(1));
    let executed = g.clients.mediation.execute_agreement(step(&cid)).await.expect("executed").into_inner();
    assert_eq!(executed.state(), pb::MediationState::Agreed);
    assert_eq!(executed.signed_by, vec!["张先生".to_string(), "李女士".to_string()]);
    let history: Vec<&str> = executed.history.iter().map(|h| h.event_type.as_str()).collect();
    assert_eq!(history.iter().filter(|t| **t == "MediationAgreementSigned").count(), 2);
    assert!(history.contains(&"MediationReconsidered"));
    assert_eq!(history[history.len() - 2..], ["MediationConcluded", "MediationFollowUpScheduled"]);

    // ---- 商定即办: resolved in dispatch at community level, the reporter asked from then ----
    let resolved = g.case_in(&case_id, pb::CaseState::Resolved).await;
    let view = resolved.case.as_ref().unwrap();
    assert_eq!(view.level(), pb::Level::Community);
    let feedback_due = view.feedback_due.expect("the reporter's evaluation is due");
    let types = history_types(&resolved);
    assert_eq!(types.iter().filter(|t| *t == "CaseMediationRequested").count(), 2);
    assert!(types.ends_with(&["CaseMediationConcluded".to_string(), "CaseResolved".to_string()]));

    // ---- 监督: followed up every half month until settled, reminded by the durable timer ----
    let first_due = executed.follow_up_due.expect("a follow-up is due");
    let waiting = waiting_sessions(g, &case_id).await;
    assert_eq!(
        waiting.iter().map(|w| (w.waiting_on(), w.until)).collect::<Vec<_>>(),
        [(pb::WaitingOn::FollowUp, Some(first_due))]
    );
    g.advance(Duration::days(15));
    let reminded =
        mediation_when(g, &cid, |m| m.history.last().is_some_and(|h| h.event_type == "MediationFollowUpOverdue")).await;
    assert!(reminded.follow_up_due.expect("the next follow-up").seconds > first_due.seconds);
    let settle = pb::RecordFollowUpRequest {
        mediation_id: cid.clone(),
        actor: actor("grid_worker"),
        note: "回访:夜间已无施工噪音".into(),
        settled: true,
    };
    let settled = g.clients.mediation.record_follow_up(settle).await.expect("followed up").into_inner();
    assert_eq!((settled.follow_up_due, settled.follow_ups), (None, 1));
    assert!(waiting_sessions(g, &case_id).await.is_empty(), "settled: waiting on nothing");

    // ---- the half month passed the feedback deadline unanswered: the default evaluation closed it,
    // counted from the resolution, however late the evaluation service saw it ----
    assert!(g.clock.now().timestamp() > feedback_due.seconds, "the half month is past the feedback deadline");
    let closed = g.case_in(&case_id, pb::CaseState::Closed).await;
    let types = history_types(&closed);
    assert!(types.ends_with(&["CaseEvaluated".to_string(), "CaseClosed".to_string()]), "{types:?}");
    let evaluated =
        closed.history.iter().rev().find(|h| h.envelope.as_ref().unwrap().event_type.ends_with("Evaluated"));
    assert!(evaluated.expect("the evaluation").payload_json.contains(r#""defaulted":true"#), "{closed:#?}");

    // ---- the figures: two sessions held, both mediated, one succeeded, one escalated ----
    let figures = g
        .clients
        .mediation
        .get_mediation_figures(pb::GetMediationFiguresRequest::default())
        .await
        .expect("figures")
        .into_inner();
    assert_eq!(
        (figures.sessions_held, figures.mediated, figures.succeeded, figures.escalated, figures.referred_to_litigation),
        (2, 2, 1, 1, 0)
    );
    assert!(figures.median_days_to_agreement >= 14.0, "{figures:?}");
}

#[tokio::test]
async fn a_collected_topic_is_consulted_without_a_case_and_bad_fields_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let (_, grid_code) = g.a_grid().await;

    let bad = pb::ProposeTopicRequest { topic: "电动车充电桩".into(), ..Default::default() };
    let status = g.clients.mediation.propose_topic(bad).await.expect_err("level, kind and area are required");
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = status
        .get_details_bad_request()
        .expect("field violations")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["level", "kind", "area_code"]);

    let propose = pb::ProposeTopicRequest {
        actor: actor("convenor"),
        level: pb::SessionLevel::Building as i32,
        area_code: grid_code,
        topic: "楼院加装电动车充电桩".into(),
        kind: pb::MatterKind::Consultation as i32,
        professional: pb::ParticipantRole::PropertyCompany as i32,
        convenor: "楼长周阿姨".into(),
        collected_from: "痛点箱".into(),
        agenda_topic: 0,
        register_group: None,
    };
    let session = g.clients.mediation.propose_topic(propose).await.expect("proposed").into_inner();
    let id = session.mediation_id.clone();
    assert_eq!((session.case_id.as_str(), session.collected_from.as_str()), ("", "痛点箱"));
    invite(&mut g, &id, "居民代表孙先生", pb::ParticipantRole::ResidentRepresentative).await;
    assert_refused(g.clients.mediation.notify_participants(step(&id)).await, "PropertyCompany invited");
    invite(&mut g, &id, "物业刘经理", pb::ParticipantRole::PropertyCompany).await;
    g.clients.mediation.notify_participants(step(&id)).await.expect("notified");
    sit(&mut g, &id, &["楼长周阿姨", "居民代表孙先生", "物业刘经理"]).await;
    say(&mut g, &id, "物业刘经理", "可在车棚安装").await;
    let motion = pb::PutMotionRequest {
        mediation_id: id.clone(),
        motion: "安装".into(),
        yes: vec!["楼长周阿姨".into()],
        ..Default::default()
    };
    assert_refused(g.clients.mediation.put_motion(motion).await, "not voted");
    let record = pb::RecordConsultationRequest {
        mediation_id: id.clone(),
        actor: actor("convenor"),
        summary: "居民赞成在车棚安装,物业报价后再议".into(),
    };
    let consulted = g.clients.mediation.record_consultation(record).await.expect("recorded").into_inner();
    assert_eq!(consulted.state(), pb::MediationState::Consulted);
    let missing = g.clients.mediation.execute_agreement(step(&uuid::Uuid::now_v7().to_string())).await;
    assert_eq!(missing.expect_err("no such session").code(), Code::NotFound);
    g.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_read_waits_for_the_version_a_write_returned() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let catalog = g.clients.intake.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner();
    let dispute = catalog
        .categories
        .into_iter()
        .find(|c| c.class_code.starts_with("dispute") && c.start_level() == pb::Level::Grid)
        .expect("a dispute category at grid level");
    let reported = g.report(&dispute.code, "read-your-session").await;
    g.case_in(&reported.case_id, pb::CaseState::Dispatched).await;
    request_mediation(&mut g, &reported.case_id, "楼道堆物").await;
    let id = session_at(&mut g, &reported.case_id, pb::SessionLevel::Grid).await.mediation_id;
    let request = pb::InviteParticipantRequest {
        mediation_id: id.clone(),
        actor: actor("convenor"),
        name: "张先生".into(),
        role: pb::ParticipantRole::Party as i32,
    };
    let invited = g.clients.mediation.invite_participant(request).await.expect("invite").into_inner();
    let read =
        |min_version: u64| pb::GetMediationRequest { mediation_id: id.clone(), min_version, ..Default::default() };

    let seen = g.clients.mediation.get_mediation(read(invited.version)).await.expect("caught up").into_inner();
    assert_eq!(seen.version, invited.version);
    assert!(seen.participants.iter().any(|p| p.name == "张先生"), "{:?}", seen.participants);
    // A version no write has reached yet: refused after the bounded wait, with when to retry.
    let ahead = g.clients.mediation.get_mediation(read(invited.version + 1)).await.unwrap_err();
    assert_eq!(ahead.code(), Code::Unavailable, "{ahead:?}");
    assert!(ahead.get_details_retry_info().is_some(), "{ahead:?}");
    g.app.shutdown().await.unwrap();
}
