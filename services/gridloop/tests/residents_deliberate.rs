//! 云议事 end to end over gRPC, each resident with their own token: a grid with 50 registered
//! residents proposes and ranks topics by D21 and by 531, residents following the sitting speak
//! to it, a ballot of invited residents carries by simple majority, and 10 objections (one fifth)
//! put the published decision back to the council where 9 do not. The matter's record
//! (一事一档) shows every step, and the month's implementation report the matter while its
//! decision stands.

#[path = "common/auth.rs"]
mod auth;

use auth::{local_args, plain_channel, principal, start, token, with_token};
use gridloop_auth::AuthChannel;
use gridloop_domain::access::Role;
use gridloop_domain::jurisdiction::Jurisdiction;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::mediation_service_client::MediationServiceClient;
use tonic::transport::Channel;
use tonic::Code;

struct Grid {
    channel: Channel,
    app: gridloop::app::App,
    area: String,
}

impl Grid {
    fn client(&self, subject: &str, role: Role) -> MediationServiceClient<AuthChannel> {
        let who = principal(subject, role, Some(&self.area));
        MediationServiceClient::new(with_token(&self.channel, &token(&self.app, &who)))
    }

    fn resident(&self, n: u32) -> MediationServiceClient<AuthChannel> {
        self.client(&resident(n), Role::Resident)
    }
}

fn resident(n: u32) -> String {
    format!("居民{n:02}")
}

fn flags(shared_concern: bool, special_groups: bool, urgent: bool) -> Option<pb::TopicPriorities> {
    Some(pb::TopicPriorities { shared_concern, special_groups, urgent })
}

fn order(view: &pb::AgendaView) -> Vec<(u32, i64)> {
    view.order.iter().map(|r| (r.number, r.score)).collect()
}

async fn rank(grid: &Grid, n: u32, plus: &[u32], minus: u32, choices: &[u32]) {
    let request =
        pb::RankTopicsRequest { area_code: grid.area.clone(), plus: plus.to_vec(), minus, choices: choices.to_vec() };
    grid.resident(n).rank_topics(request).await.unwrap_or_else(|e| panic!("{} ranks: {e:?}", resident(n)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_registered_residents_rank_topics_vote_and_object_with_their_own_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(local_args(dir.path())).await;
    let channel = plain_channel(&app).await;
    let area = Jurisdiction::default_city().grids().next().unwrap().code.to_string();
    let grid = Grid { channel, app, area: area.clone() };
    let mut mediator = grid.client("调解员", Role::Mediator);

    // The register: 50 residents, one of them listed twice, counts 50.
    let mut residents: Vec<String> = (1..=50).map(resident).collect();
    residents.push(resident(7));
    let register = pb::RegisterResidentsRequest { area_code: area.clone(), residents, group: None };
    let register = mediator.register_residents(register).await.unwrap().into_inner();
    assert_eq!((register.residents_concerned, register.objections_needed, register.added), (50, 10, 50));
    building_registers(&mut mediator, &area).await;

    // Topics: four proposed, one duplicate merged; a resident of no register is refused.
    for (n, title, priorities) in [
        (1, "加装电梯", flags(true, false, false)),
        (2, "停车难", flags(false, false, false)),
        (3, "老年食堂", flags(false, true, false)),
        (4, "屋顶漏水", flags(false, false, true)),
        (5, "电梯加装", flags(false, false, false)),
    ] {
        let propose = pb::ProposeAgendaTopicRequest {
            area_code: area.clone(),
            title: title.into(),
            collected_from: "痛点箱".into(),
            priorities,
        };
        grid.resident(n).propose_agenda_topic(propose).await.unwrap();
    }
    let stranger = pb::ProposeAgendaTopicRequest { area_code: area.clone(), title: "x".into(), ..Default::default() };
    let refused = grid.client("外人", Role::Resident).propose_agenda_topic(stranger).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    let merge = pb::MergeAgendaTopicsRequest { area_code: area.clone(), duplicate: 5, into: 1 };
    mediator.merge_agenda_topics(merge).await.unwrap();

    // D21: two pluses each, and a minus only after them.
    let open = |method: pb::RankingMethod| pb::OpenRankingRequest {
        area_code: area.clone(),
        method: method as i32,
        plus_votes: 0,
    };
    mediator.open_ranking(open(pb::RankingMethod::D21)).await.unwrap();
    for n in 1..=6 {
        rank(&grid, n, &[1, 3], 2, &[]).await; // six: +1 +3 -2
    }
    for n in 7..=9 {
        rank(&grid, n, &[2, 4], 0, &[]).await; // three: +2 +4
    }
    rank(&grid, 10, &[4], 0, &[]).await;
    let twice = pb::RankTopicsRequest { area_code: area.clone(), plus: vec![2], ..Default::default() };
    assert_eq!(grid.resident(10).rank_topics(twice).await.unwrap_err().code(), Code::FailedPrecondition);
    let minus_first = pb::RankTopicsRequest { area_code: area.clone(), plus: vec![2], minus: 1, choices: vec![] };
    assert_eq!(grid.resident(11).rank_topics(minus_first).await.unwrap_err().code(), Code::InvalidArgument);
    let close = pb::GetAgendaRequest { area_code: area.clone() };
    let d21 = mediator.close_ranking(close.clone()).await.unwrap().into_inner();
    // 1 and 3: +6 each, one priority each, so the one proposed first leads; 4: +4; 2: +3 -6.
    assert_eq!(order(&d21), vec![(1, 6), (3, 6), (4, 4), (2, -3)]);
    assert!(d21.order[1].tied);
    assert!(d21.order[0].priorities.unwrap().shared_concern, "the priorities are shown beside the score");

    // 531: first 5, second 3, third 1.
    mediator.open_ranking(open(pb::RankingMethod::Points531)).await.unwrap();
    for n in 1..=4 {
        rank(&grid, n, &[], 0, &[4, 3, 1]).await; // 4: 20, 3: 12, 1: 4
    }
    for n in 5..=7 {
        rank(&grid, n, &[], 0, &[3, 2]).await; // 3: +15, 2: +9
    }
    let points = mediator.close_ranking(close).await.unwrap().into_inner();
    assert_eq!(order(&points), vec![(3, 27), (4, 20), (2, 9), (1, 4)]);

    // A session on the first topic; seven residents and a party invited. A topic the agenda
    // does not hold, or one merged away, is refused.
    let propose = |agenda_topic: u32| pb::ProposeTopicRequest {
        level: pb::SessionLevel::Grid as i32,
        area_code: area.clone(),
        topic: "老年食堂".into(),
        kind: pb::MatterKind::Decision as i32,
        convenor: "网格长".into(),
        collected_from: "议题征集".into(),
        agenda_topic,
        ..Default::default()
    };
    for missing in [99, 5] {
        let refused = mediator.propose_topic(propose(missing)).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "agenda topic {missing}: {refused:?}");
    }
    let session = mediator.propose_topic(propose(3)).await.unwrap().into_inner();
    assert_eq!(session.agenda_topic, 3);
    let id = session.mediation_id.clone();
    let step = || pb::MediationStepRequest { mediation_id: id.clone(), ..Default::default() };
    let mut invitees: Vec<(String, pb::ParticipantRole)> =
        (1..=7).map(|n| (resident(n), pb::ParticipantRole::ResidentRepresentative)).collect();
    invitees.push(("物业经理".into(), pb::ParticipantRole::Party));
    for (name, role) in &invitees {
        let invite = pb::InviteParticipantRequest {
            mediation_id: id.clone(),
            name: name.clone(),
            role: *role as i32,
            ..Default::default()
        };
        mediator.invite_participant(invite).await.unwrap();
    }
    mediator.notify_participants(step()).await.unwrap();
    let present = ["网格长", "居民01", "居民02", "居民03", "居民04", "物业经理"].map(String::from).to_vec();
    let sit = pb::OpenDeliberationRequest { mediation_id: id.clone(), present, ..Default::default() };
    mediator.open_deliberation(sit).await.unwrap();
    let say = pb::MakeStatementRequest {
        mediation_id: id.clone(),
        speaker: "居民01".into(),
        text: "老人吃饭难".into(),
        ..Default::default()
    };
    mediator.make_statement(say).await.unwrap();
    resident_statements(&grid, &id).await;

    // The secret ballot: four yes, one no, one abstains, from their own tokens.
    let ballot = pb::OpenBallotRequest { mediation_id: id.clone(), motion: "开办老年食堂".into(), secret: true };
    mediator.open_ballot(ballot).await.unwrap();
    let vote = |choice: pb::BallotChoice| pb::CastBallotRequest { mediation_id: id.clone(), choice: choice as i32 };
    for (n, choice) in [(1, pb::BallotChoice::Yes), (2, pb::BallotChoice::Yes), (3, pb::BallotChoice::Yes)] {
        grid.resident(n).cast_ballot(vote(choice)).await.unwrap();
    }
    grid.resident(4).cast_ballot(vote(pb::BallotChoice::No)).await.unwrap();
    grid.resident(5).cast_ballot(vote(pb::BallotChoice::Abstain)).await.unwrap();
    let open_view = grid.resident(6).cast_ballot(vote(pb::BallotChoice::Yes)).await.unwrap().into_inner();
    assert_eq!(open_view.ballot_voted.len(), 6);
    assert_eq!((open_view.ballot_yes, open_view.ballot_no), (0, 0), "a secret ballot shows no running tally");
    assert!(open_view.history.iter().all(|h| !h.detail.contains("Yes")), "nor who voted how");
    let again = grid.resident(1).cast_ballot(vote(pb::BallotChoice::No)).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    let uninvited = grid.resident(20).cast_ballot(vote(pb::BallotChoice::Yes)).await.unwrap_err();
    assert_eq!(uninvited.code(), Code::FailedPrecondition, "{uninvited:?}");
    let decided = mediator.close_ballot(step()).await.unwrap().into_inner();
    assert_eq!(decided.stage(), pb::MediationStage::Decided);
    let late = pb::SubmitResidentStatementRequest { mediation_id: id.clone(), text: "还有一句".into() };
    let late = grid.resident(30).submit_resident_statement(late).await.unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition, "the sitting is over: {late:?}");
    let closed = decided.history.last().unwrap();
    assert!(closed.detail.contains("carried (4 yes, 1 no, 1 abstain of 8 eligible"), "{}", closed.detail);

    // Published: one fifth is of the register, whatever number the request carries.
    let sign = pb::SignAgreementRequest {
        mediation_id: id.clone(),
        signed_by: vec!["物业经理".into()],
        residents_concerned: 3,
        ..Default::default()
    };
    let published = mediator.sign_agreement(sign).await.unwrap().into_inner();
    assert_eq!((published.residents_concerned, published.objections_needed), (50, 10));

    // Nine objections do not stop it; a second objection by the same resident is refused.
    for n in 11..=19 {
        let view = grid.resident(n).object_to_decision(step()).await.unwrap().into_inner();
        assert_eq!(view.stage(), pb::MediationStage::InNotice, "{} objections", n - 10);
    }
    let twice = grid.resident(11).object_to_decision(step()).await.unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition, "{twice:?}");
    let unregistered = grid.client("外人", Role::Resident).object_to_decision(step()).await.unwrap_err();
    assert_eq!(unregistered.code(), Code::FailedPrecondition, "{unregistered:?}");
    let mut neighbour = grid.resident(30);
    let live = neighbour.get_mediation(pb::GetMediationRequest { mediation_id: id.clone(), ..Default::default() });
    let live = live.await.unwrap().into_inner();
    assert_eq!((live.objectors.len(), live.objections_needed), (9, 10), "the count is live");
    objectors_as_each_reader_may_see_them(&grid, &id).await;
    let report = monthly_report(&grid).await;
    assert_eq!((report.decided, report.matters.len()), (1, 1), "{report:?}");
    let line = &report.matters[0];
    assert_eq!((line.mediation_id.as_str(), line.status.as_str()), (id.as_str(), "in_notice"));
    assert!(line.decided_this_month && line.decided_at.is_some());

    // The tenth puts the decision back to the council.
    let contested = grid.resident(20).object_to_decision(step()).await.unwrap().into_inner();
    assert_eq!(contested.stage(), pb::MediationStage::Contested);
    let reconsider = pb::RespondToObjectionRequest {
        mediation_id: id.clone(),
        response: pb::ObjectionResponse::Reconsider as i32,
        reason: "复议".into(),
        ..Default::default()
    };
    let again = mediator.respond_to_objection(reconsider).await.unwrap().into_inner();
    assert_eq!(again.stage(), pb::MediationStage::Notified);
    assert!(monthly_report(&grid).await.matters.is_empty(), "a reconsidered decision no longer stands");
    matter_record(&grid, &id).await;
    grid.app.shutdown().await.unwrap();
}

/// A building of the grid keeps a register of its own (one fifth of its 12 is 3), apart from the
/// grid's 50; a community has no buildings of its own, and a group needs a kind and a name.
async fn building_registers(mediator: &mut MediationServiceClient<AuthChannel>, grid: &str) {
    let building =
        |name: &str| Some(pb::RegisterGroup { kind: pb::RegisterGroupKind::Building as i32, name: name.into() });
    let twelve: Vec<String> = (1..=12).map(resident).collect();
    let request =
        pb::RegisterResidentsRequest { area_code: grid.into(), residents: twelve, group: building("3号楼") };
    let view = mediator.register_residents(request).await.unwrap().into_inner();
    assert_eq!((view.residents_concerned, view.objections_needed), (12, 3));
    assert_eq!(view.group.map(|g| g.name), Some("3号楼".to_string()));
    let read = |area: &str, group| pb::GetRegisterRequest { area_code: area.into(), group };
    let grid_register = mediator.get_register(read(grid, None)).await.unwrap().into_inner();
    assert_eq!(grid_register.residents_concerned, 50, "the grid's register is its own");
    let other = mediator.get_register(read(grid, building("5号楼"))).await.unwrap().into_inner();
    assert_eq!(other.residents_concerned, 0, "another building's register is empty");
    let community = &grid[..12];
    let refused = mediator.get_register(read(community, building("3号楼"))).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let unnamed = pb::RegisterGroup { kind: pb::RegisterGroupKind::Courtyard as i32, name: " ".into() };
    let refused = mediator.get_register(read(grid, Some(unnamed))).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
}

/// Residents following the sitting speak to it as themselves: a registered resident within
/// the length, shown in full to themselves and to the grid, masked to their neighbours.
async fn resident_statements(grid: &Grid, id: &str) {
    let say = |text: String| pb::SubmitResidentStatementRequest { mediation_id: id.to_string(), text };
    let own = grid.resident(30).submit_resident_statement(say("中午也要开门，电话13812345678".into())).await;
    let own = own.unwrap().into_inner();
    assert_eq!(own.resident_statements.len(), 1);
    assert_eq!(own.resident_statements[0].speaker, "居民30");
    assert!(own.resident_statements[0].text.ends_with("13812345678"), "their own words, as said");
    let read = pb::GetMediationRequest { mediation_id: id.to_string(), ..Default::default() };
    let neighbour = grid.resident(31).get_mediation(read.clone()).await.unwrap().into_inner();
    let said = &neighbour.resident_statements[0];
    assert_eq!((said.speaker.as_str(), said.text.as_str()), ("居***", "中午也要开门，电话138****5678"));
    let last = neighbour.history.last().unwrap();
    assert!(!last.detail.contains("居民30") && !last.actor_id.contains("居民30"), "{last:?}");
    let office = grid.client("网格员", Role::GridWorker).get_mediation(read).await.unwrap().into_inner();
    assert_eq!(office.resident_statements[0].speaker, "居民30", "the grid sees its residents");

    let stranger = grid.client("外人", Role::Resident).submit_resident_statement(say("我也说".into())).await;
    assert_eq!(stranger.unwrap_err().code(), Code::FailedPrecondition, "not on the register");
    let long = grid.resident(31).submit_resident_statement(say("话".repeat(301))).await;
    assert_eq!(long.unwrap_err().code(), Code::InvalidArgument, "over 300 characters");
}

/// Objectors are residents of the register: a neighbour and the mediator (who may not see the
/// area's residents) read them masked, in the view and in its history; the objector reads their
/// own name, and the grid worker every name.
async fn objectors_as_each_reader_may_see_them(grid: &Grid, id: &str) {
    let read = || pb::GetMediationRequest { mediation_id: id.to_string(), ..Default::default() };
    let neighbour = grid.resident(30).get_mediation(read()).await.unwrap().into_inner();
    let mediator = grid.client("调解员", Role::Mediator).get_mediation(read()).await.unwrap().into_inner();
    for view in [&neighbour, &mediator] {
        assert!(view.objectors.iter().all(|name| name == "居***"), "{:?}", view.objectors);
        let objections = view.history.iter().filter(|h| h.detail.starts_with("objection by"));
        assert!(objections.clone().count() == 9 && objections.clone().all(|h| h.detail == "objection by 居***"));
        assert!(objections.clone().all(|h| h.actor_id == "居***"), "the resident who objected, masked");
    }
    let own = grid.resident(11).get_mediation(read()).await.unwrap().into_inner();
    assert_eq!(own.objectors.iter().filter(|name| *name == "居民11").count(), 1, "their own name in full");
    let office = grid.client("网格员", Role::GridWorker).get_mediation(read()).await.unwrap().into_inner();
    assert!(office.objectors.contains(&resident(19)), "the grid sees its residents");
}

/// This month's implementation report of the grid (the month in Beijing time).
async fn monthly_report(grid: &Grid) -> pb::ImplementationReport {
    let month = (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y-%m").to_string();
    let request = pb::GetImplementationReportRequest { area_code: grid.area.clone(), month };
    let mut mediator = grid.client("调解员", Role::Mediator);
    mediator.get_implementation_report(request).await.unwrap().into_inner()
}

/// 一事一档: every step of the matter, from the agenda's proposal and rankings to the council's
/// reconsideration; a secret ballot's votes stay secret in it.
async fn matter_record(grid: &Grid, id: &str) {
    let request = pb::GetMatterRecordRequest { mediation_id: id.to_string() };
    let record = grid.client("调解员", Role::Mediator).get_matter_record(request.clone()).await.unwrap().into_inner();
    assert_eq!((record.topic.as_str(), record.agenda_topic, record.status.as_str()), ("老年食堂", 3, "deliberating"));
    let count = |section: &str| record.entries.iter().filter(|e| e.section == section).count();
    assert_eq!(count("proposal"), 2, "proposed on the agenda, then as a session");
    assert_eq!(count("ranking"), 4, "two rankings opened and closed");
    assert_eq!((count("resident_statement"), count("statement")), (1, 1));
    assert_eq!((count("ballot"), count("decision")), (7, 1), "opened, six votes; then closed");
    assert_eq!((count("publication"), count("objection"), count("council_response")), (1, 10, 1));
    let ranked = record.entries.iter().filter(|e| e.detail.starts_with("ranked ")).map(|e| e.detail.as_str());
    let ranked: Vec<&str> = ranked.collect();
    assert!(
        ranked[0].starts_with("ranked 2 of 4 with score 6") && ranked[1].starts_with("ranked 1 of 4 with score 27")
    );
    assert!(record.entries.iter().all(|e| !e.detail.contains("voted Yes")), "the ballot was secret");
    let first = record.entries.first().unwrap();
    assert!(first.detail.contains("proposed by") && first.section == "proposal", "{first:?}");

    let neighbour = grid.resident(31).get_matter_record(request).await.unwrap().into_inner();
    let said = neighbour.entries.iter().find(|e| e.section == "resident_statement").unwrap();
    assert!(said.detail.contains("居***") && !said.detail.contains("13812345678"), "{said:?}");
}
