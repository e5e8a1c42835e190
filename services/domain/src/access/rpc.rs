//! Every RPC of the `gridloop.v1` API, by service, as the policy table names them.

use std::fmt;

/// The four services of `gridloop.v1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Intake,
    Dispatch,
    Mediation,
    Evaluation,
}

impl Service {
    /// The fully qualified gRPC service name.
    pub fn grpc_name(self) -> &'static str {
        match self {
            Service::Intake => "gridloop.v1.IntakeService",
            Service::Dispatch => "gridloop.v1.DispatchService",
            Service::Mediation => "gridloop.v1.MediationService",
            Service::Evaluation => "gridloop.v1.EvaluationService",
        }
    }
}

macro_rules! rpcs {
    ($($service:ident { $($(#[$doc:meta])* $rpc:ident: $kind:ident,)* })*) => {
        /// One RPC of the API. `Query` RPCs read; `Command` RPCs change something.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rpc { $($($(#[$doc])* $rpc,)*)* }

        impl Rpc {
            pub const ALL: &'static [Rpc] = &[$($(Rpc::$rpc,)*)*];

            pub fn service(self) -> Service {
                match self { $($(Rpc::$rpc => Service::$service,)*)* }
            }

            /// The method name, as in the `.proto` file.
            pub fn method(self) -> &'static str {
                match self { $($(Rpc::$rpc => stringify!($rpc),)*)* }
            }

            /// Whether the RPC only reads.
            pub fn is_query(self) -> bool {
                match self { $($(Rpc::$rpc => RpcKind::$kind == RpcKind::Query,)*)* }
            }
        }
    };
}

#[derive(PartialEq, Eq)]
enum RpcKind {
    Query,
    Command,
}

rpcs! {
    Intake {
        ReportCase: Command,
        GetCatalog: Query,
        GetJurisdiction: Query,
        /// Crypto-shredding: deletes a reporter's data key.
        EraseReporter: Command,
        /// Integrators' API keys: created (the key shown once), listed, revoked.
        CreateApiKey: Command,
        ListApiKeys: Query,
        RevokeApiKey: Command,
    }
    Dispatch {
        AcceptCase: Command,
        EscalateCase: Command,
        TransferCase: Command,
        RequestMediation: Command,
        ResolveCase: Command,
        VerifyCase: Command,
        RejectCase: Command,
        SummonDepartments: Command,
        ReportIn: Command,
        AddCaseNote: Command,
        GetCase: Query,
    }
    Mediation {
        GetMediation: Query,
        ConcludeMediation: Command,
        ProposeTopic: Command,
        InviteParticipant: Command,
        NotifyParticipants: Command,
        OpenDeliberation: Command,
        MakeStatement: Command,
        PutMotion: Command,
        SignAgreement: Command,
        RaiseObjection: Command,
        RespondToObjection: Command,
        ExecuteAgreement: Command,
        RecordNoAgreement: Command,
        RecordConsultation: Command,
        RecordFollowUp: Command,
        GetMediationFigures: Query,
        OpenBallot: Command,
        CastBallot: Command,
        CloseBallot: Command,
        ObjectToDecision: Command,
        RegisterResidents: Command,
        RemoveResident: Command,
        GetRegister: Query,
        ProposeAgendaTopic: Command,
        MergeAgendaTopics: Command,
        OpenRanking: Command,
        RankTopics: Command,
        CloseRanking: Command,
        GetAgenda: Query,
        SubmitResidentStatement: Command,
        GetMatterRecord: Query,
        GetImplementationReport: Query,
        /// The open sessions waiting on a notice period or a follow-up.
        ListWaitingMediations: Query,
        /// The sessions of an area: a resident's, those whose register holds them.
        ListAreaSessions: Query,
    }
    Evaluation {
        EvaluateCase: Command,
        ListCases: Query,
        GetLevelDistribution: Query,
        ListDriftAlerts: Query,
        GetKpis: Query,
        CountCases: Query,
        /// A stream telling a live view when the figures' projection moved.
        WatchFigures: Query,
    }
}

impl Rpc {
    /// The HTTP/2 path a gRPC call of this RPC is sent to: `/gridloop.v1.DispatchService/AcceptCase`.
    pub fn path(self) -> String {
        format!("/{}/{}", self.service().grpc_name(), self.method())
    }

    /// The RPC a gRPC path names, or `None` for a path outside the API (health, reflection, unknown).
    pub fn from_path(path: &str) -> Option<Rpc> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        Rpc::ALL.iter().copied().find(|rpc| rpc.method() == method && rpc.service().grpc_name() == service)
    }
}

impl fmt::Display for Rpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.method())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_found_by_its_path() {
        for &rpc in Rpc::ALL {
            assert_eq!(Rpc::from_path(&rpc.path()), Some(rpc));
        }
        assert_eq!(Rpc::path(Rpc::AcceptCase), "/gridloop.v1.DispatchService/AcceptCase");
        assert_eq!(Rpc::from_path("/grpc.health.v1.Health/Check"), None);
        assert_eq!(Rpc::from_path("/gridloop.v1.IntakeService/AcceptCase"), None, "method of another service");
        assert_eq!(Rpc::from_path("gridloop.v1.DispatchService/AcceptCase"), None);
    }
}
