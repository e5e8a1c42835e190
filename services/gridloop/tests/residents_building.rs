//! A building's matter over gRPC, each resident with their own token: a grid of 50 registered
//! residents whose 3号楼 keeps a register of 20. A session the convenor opens on the building's
//! register publishes to those 20 — 3 objections leave the decision in notice, 4 (one fifth) put
//! it back to the council — and only the building's residents object or vote as residents; the
//! grid's other residents neither object, vote, nor find the session in their list of the area's
//! sessions, and a resident of another grid finds none of them.

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
    fn client_in(&self, area: &str, subject: &str, role: Role) -> MediationServiceClient<AuthChannel> {
        let who = principal(subject, role, Some(area));
        MediationServiceClient::new(with_token(&self.channel, &token(&self.app, &who)))
    }

    fn client(&self, subject: &str, role: Role) -> MediationServiceClient<AuthChannel> {
        self.client_in(&self.area, subject, role)
    }

    fn resident(&self, n: u32) -> MediationServiceClient<AuthChannel> {
        self.client(&resident(n), Role::Resident)
    }

    /// The ids of the sessions `client` finds in its area's list.
    async fn listed(&self, client: &mut MediationServiceClient<AuthChannel>) -> Vec<String> {
        let list = client.list_area_sessions(pb::ListAreaSessionsRequest::default()).await.unwrap().into_inner();
        list.sessions.into_iter().map(|s| s.mediation_id).collect()
    }
}

fn resident(n: u32) -> String {
    format!("居民{n:02}")
}

fn building() -> Option<pb::RegisterGroup> {
    Some(pb::RegisterGroup { kind: pb::RegisterGroupKind::Building as i32, name: "3号楼".into() })
}

fn propose(area: &str, topic: &str, register_group: Option<pb::RegisterGroup>) -> pb::ProposeTopicRequest {
    pb::ProposeTopicRequest {
        level: pb::SessionLevel::Building as i32,
        area_code: area.into(),
        topic: topic.into(),
        kind: pb::MatterKind::Decision as i32,
        convenor: "楼栋长".into(),
        collected_from: "楼栋议事".into(),
        register_group,
        ..Default::default()
    }
}

/// The grid's 50 and its 3号楼's first 20.
async fn registers(mediator: &mut MediationServiceClient<AuthChannel>, area: &str) {
    for (group, count) in [(None, 50), (building(), 20)] {
        let request = pb::RegisterResidentsRequest {
            area_code: area.into(),
            residents: (1..=count).map(resident).collect(),
            group,
        };
        let view = mediator.register_residents(request).await.unwrap().into_inner();
        assert_eq!(view.residents_concerned, count);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_building_session_counts_one_fifth_of_the_buildings_register_and_only_its_residents_take_part() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(local_args(dir.path())).await;
    let channel = plain_channel(&app).await;
    let city = Jurisdiction::default_city();
    let mut grids = city.grids();
    let area = grids.next().unwrap().code.to_string();
    let other_grid = grids.next().unwrap().code.to_string();
    let grid = Grid { channel, app, area: area.clone() };
    let mut mediator = grid.client("调解员", Role::Mediator);
    registers(&mut mediator, &area).await;

    // A building lies in a grid: named on a community, the session is refused.
    let refused = mediator.propose_topic(propose(&area[..12], "加装电梯", building())).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let grid_wide = mediator.propose_topic(propose(&area, "停车难", None)).await.unwrap().into_inner();
    let session = mediator.propose_topic(propose(&area, "3号楼加装电梯", building())).await.unwrap().into_inner();
    assert_eq!(session.register_group.as_ref().map(|g| g.name.as_str()), Some("3号楼"));
    assert!(session.history[0].detail.contains("the register of building 3号楼"), "{:?}", session.history[0]);
    let id = session.mediation_id.clone();
    let step = || pb::MediationStepRequest { mediation_id: id.clone(), ..Default::default() };

    // Who finds which session among their area's: the building's residents both, the grid's
    // other residents only the grid's, a resident of another grid none, the grid worker both.
    let both = vec![id.clone(), grid_wide.mediation_id.clone()];
    assert_eq!(grid.listed(&mut grid.resident(5)).await, both, "newest first");
    assert_eq!(grid.listed(&mut grid.resident(30)).await, vec![grid_wide.mediation_id.clone()]);
    assert_eq!(grid.listed(&mut grid.client("外人", Role::Resident)).await, Vec::<String>::new());
    let mut elsewhere = grid.client_in(&other_grid, "邻居", Role::Resident);
    assert!(grid.listed(&mut elsewhere).await.is_empty(), "another grid's resident sees none of this grid's");
    let asked = pb::ListAreaSessionsRequest { area_code: area.clone(), ..Default::default() };
    let denied = elsewhere.list_area_sessions(asked).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert_eq!(grid.listed(&mut grid.client("网格员", Role::GridWorker)).await, both);

    // The sitting: four of the building and 居民30 of the grid invited as residents' representatives.
    for (name, role) in [1, 2, 3, 4, 30]
        .map(|n| (resident(n), pb::ParticipantRole::ResidentRepresentative))
        .into_iter()
        .chain([("物业经理".to_string(), pb::ParticipantRole::Party)])
    {
        let invite =
            pb::InviteParticipantRequest { mediation_id: id.clone(), name, role: role as i32, ..Default::default() };
        mediator.invite_participant(invite).await.unwrap();
    }
    mediator.notify_participants(step()).await.unwrap();
    let present = ["楼栋长", "居民01", "居民02", "居民03", "物业经理"].map(String::from).to_vec();
    mediator
        .open_deliberation(pb::OpenDeliberationRequest { mediation_id: id.clone(), present, ..Default::default() })
        .await
        .unwrap();
    let say = pb::MakeStatementRequest {
        mediation_id: id.clone(),
        speaker: "居民01".into(),
        text: "老人上楼难".into(),
        ..Default::default()
    };
    mediator.make_statement(say).await.unwrap();
    let outsider_says = pb::SubmitResidentStatementRequest { mediation_id: id.clone(), text: "我也说".into() };
    let refused = grid.resident(30).submit_resident_statement(outsider_says).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "not of the building: {refused:?}");

    // The ballot: the building's four and the party; 居民30, invited but not of the building, may not vote.
    let open = pb::OpenBallotRequest { mediation_id: id.clone(), motion: "加装电梯".into(), secret: false };
    let opened = mediator.open_ballot(open).await.unwrap().into_inner();
    assert_eq!(opened.ballot_eligible, ["居民01", "居民02", "居民03", "居民04", "物业经理"].map(String::from));
    let vote = || pb::CastBallotRequest { mediation_id: id.clone(), choice: pb::BallotChoice::Yes as i32 };
    let refused = grid.resident(30).cast_ballot(vote()).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("not registered among the residents concerned"), "{}", refused.message());
    for n in 1..=3 {
        grid.resident(n).cast_ballot(vote()).await.unwrap();
    }
    let decided = mediator.close_ballot(step()).await.unwrap().into_inner();
    assert_eq!(decided.stage(), pb::MediationStage::Decided);

    // Published to the building's 20, whatever number the request carries: one fifth is 4.
    let sign = pb::SignAgreementRequest {
        mediation_id: id.clone(),
        signed_by: vec!["物业经理".into()],
        residents_concerned: 50,
        ..Default::default()
    };
    let published = mediator.sign_agreement(sign).await.unwrap().into_inner();
    assert_eq!((published.residents_concerned, published.objections_needed), (20, 4));
    let refused = grid.resident(30).object_to_decision(step()).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "a resident of the grid, not of the building: {refused:?}");
    for n in 6..=8 {
        let view = grid.resident(n).object_to_decision(step()).await.unwrap().into_inner();
        assert_eq!(view.stage(), pb::MediationStage::InNotice, "{} objections", n - 5);
    }
    // Residents registered in the building after publication change nothing of its threshold.
    let later = pb::RegisterResidentsRequest {
        area_code: area.clone(),
        residents: (21..=25).map(resident).collect(),
        group: building(),
    };
    mediator.register_residents(later).await.unwrap();
    let listed = grid.resident(9).list_area_sessions(pb::ListAreaSessionsRequest::default()).await.unwrap();
    let line = listed.into_inner().sessions.into_iter().find(|s| s.mediation_id == id).expect("listed");
    assert_eq!((line.stage(), line.objections, line.objections_needed), (pb::MediationStage::InNotice, 3, 4));
    let contested = grid.resident(9).object_to_decision(step()).await.unwrap().into_inner();
    assert_eq!(contested.stage(), pb::MediationStage::Contested, "4 of the building's 20");
    grid.app.shutdown().await.unwrap();
}
