//! The object-level authorization check: whether the caller may run this command on this
//! aggregate as it stands (is the case held by the caller's unit, within its area, reported by
//! it?). It runs on the state the command is decided on, before `decide`, for every command of
//! every service, so the policy table applies once here instead of in each handler. Each
//! aggregate has its check ([`CasePolicy`], [`SessionPolicy`], and evaluation's check of a
//! feedback round, which needs its case projection); all of them end in [`check`].

use crate::aggregate::Aggregate;
use crate::context::{Caller, Origin};
use crate::error::Infrastructure;
use async_trait::async_trait;
use gridloop_auth::audit::{Audit, Subject};
use gridloop_domain::access::{self, confine_query, may_act_on_case, rpc_scope, CaseFacts, Principal, QueryScope, Rpc};
use gridloop_domain::agenda::Agenda;
use gridloop_domain::case::Case;
use gridloop_domain::ids::CaseId;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::mediation::Mediation;
use gridloop_domain::register::Register;

/// Why the caller may not run the command, and — when the policy table refused it — what the
/// audit log records of the refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("permission denied: {reason}")]
pub struct Denied {
    pub reason: String,
    refusal: Option<Box<Refusal>>,
}

/// Who was refused which RPC on which case or session, and by which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    principal: Principal,
    rpc: Rpc,
    denied: access::Denied,
    case_id: Option<String>,
    mediation_id: Option<String>,
}

impl Denied {
    pub fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), refusal: None }
    }

    /// Count the refusal and write it to the audit log: once, when the command is finally
    /// refused (not when a decision on a cached state is made again on the stored one).
    pub fn audit(&self) {
        if let Some(r) = &self.refusal {
            let about =
                Subject { rpc: r.rpc.method(), case_id: r.case_id.as_deref(), mediation_id: r.mediation_id.as_deref() };
            Audit.denied(&r.principal, &about, r.denied.reason(), &r.denied.to_string());
        }
    }
}

/// Why a command was not authorized: refused, or what the check needs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Unauthorized {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Infrastructure(#[from] Infrastructure),
}

/// The aggregate a command is about to be decided on.
pub struct Target<'a, A: Aggregate> {
    pub id: A::Id,
    pub state: &'a A,
    /// The stream's correlation, trace and routing (for a stream not yet written, the ones the
    /// command gives it).
    pub origin: Option<&'a Origin>,
}

#[async_trait]
pub trait Authorize<A: Aggregate>: Send + Sync {
    async fn authorize(&self, caller: &Caller, target: Target<'_, A>, command: &A::Command)
        -> Result<(), Unauthorized>;
}

/// How a resident is recognised as a case's reporter without their identity in the clear: a case
/// records the blind index of its reporter's identity (an HMAC under the installation's key), so
/// the resident's subject is compared under the same index.
pub trait ReporterIndex: Send + Sync {
    fn index(&self, identity: &str) -> String;
}

/// `principal` as cases know their reporters: a resident's subject replaced by its blind index;
/// any other role, or no index configured (no contact is sealed then), unchanged.
pub fn as_reporter(principal: &Principal, index: Option<&dyn ReporterIndex>) -> Principal {
    match index {
        Some(index) if principal.role == access::Role::Resident => {
            Principal { subject: index.index(&principal.subject), ..principal.clone() }
        }
        _ => principal.clone(),
    }
}

/// Only the service itself (its consumers and timers) may run commands: every authenticated
/// caller is refused. The check of a handler its service gave no policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceOnly;

#[async_trait]
impl<A: Aggregate> Authorize<A> for ServiceOnly {
    async fn authorize(&self, caller: &Caller, _: Target<'_, A>, _: &A::Command) -> Result<(), Unauthorized> {
        match &caller.principal {
            None => Ok(()),
            Some(_) => Err(Denied::new("this service takes no commands from callers").into()),
        }
    }
}

/// What a checked command acts on, as the audit log names it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Named<'a> {
    pub case_id: Option<&'a str>,
    pub mediation_id: Option<&'a str>,
}

/// The object check of `principal` calling `rpc` on what `facts` describe (`None`: nothing
/// exists yet, and the aggregate refuses the command itself — the role must still be allowed
/// the RPC). A refusal carries who, the RPC and the case for the audit log ([`Denied::audit`]).
pub fn check(principal: &Principal, rpc: Rpc, facts: Option<&CaseFacts>, named: Named<'_>) -> Result<(), Denied> {
    let decided = match facts {
        Some(facts) => may_act_on_case(principal, rpc, facts),
        None => rpc_scope(principal.role, rpc).map(|_| ()),
    };
    decided.map_err(|denied| Denied {
        reason: denied.to_string(),
        refusal: Some(Box::new(Refusal {
            principal: principal.clone(),
            rpc,
            denied,
            case_id: named.case_id.map(str::to_string),
            mediation_id: named.mediation_id.map(str::to_string),
        })),
    })
}

/// The part of the city `principal` may read with the query `rpc`, given the area it asked for
/// (see [`confine_query`]); a refusal carries what the audit log records.
pub fn confine(principal: &Principal, rpc: Rpc, requested: Option<&AreaCode>) -> Result<QueryScope, Denied> {
    confine_query(principal, rpc, requested).map_err(|denied| Denied {
        reason: denied.to_string(),
        refusal: Some(Box::new(Refusal {
            principal: principal.clone(),
            rpc,
            denied,
            case_id: None,
            mediation_id: None,
        })),
    })
}

/// A person's command that no RPC sends (one only the services give) is refused outright.
fn rpc_of(rpc: Option<Rpc>, command: &'static str) -> Result<Rpc, Denied> {
    rpc.ok_or_else(|| Denied::new(format!("{command} is given by the services only")))
}

/// The case's check: its facts come from its own state.
#[derive(Debug, Clone, Copy, Default)]
pub struct CasePolicy;

#[async_trait]
impl Authorize<Case> for CasePolicy {
    async fn authorize(
        &self,
        caller: &Caller,
        target: Target<'_, Case>,
        command: &<Case as gridloop_domain::decider::Decider>::Command,
    ) -> Result<(), Unauthorized> {
        let Some(principal) = &caller.principal else { return Ok(()) };
        let rpc = rpc_of(access::case_rpc(command), command.name())?;
        let case_id = target.id.to_string();
        let named = Named { case_id: Some(&case_id), mediation_id: None };
        Ok(check(principal, rpc, access::case_facts(target.state).as_ref(), named)?)
    }
}

/// A session's check: a session on a case lies in the case's grid (its stream's routing) and is
/// held by its council's unit; a collected topic's lies in the area it serves.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionPolicy;

#[async_trait]
impl Authorize<Mediation> for SessionPolicy {
    async fn authorize(
        &self,
        caller: &Caller,
        target: Target<'_, Mediation>,
        command: &<Mediation as gridloop_domain::decider::Decider>::Command,
    ) -> Result<(), Unauthorized> {
        let Some(principal) = &caller.principal else { return Ok(()) };
        let rpc = rpc_of(access::session_rpc(command), command.name())?;
        let (mediation_id, case_id) = (target.id.to_string(), session_case(target.state).map(|c| c.to_string()));
        let named = Named { case_id: case_id.as_deref(), mediation_id: Some(&mediation_id) };
        Ok(check(principal, rpc, session_object(target.state, target.origin).as_ref(), named)?)
    }
}

/// The check of an area's register: it lies in the area its stream is routed to.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegisterPolicy;

#[async_trait]
impl Authorize<Register> for RegisterPolicy {
    async fn authorize(
        &self,
        caller: &Caller,
        target: Target<'_, Register>,
        command: &<Register as gridloop_domain::decider::Decider>::Command,
    ) -> Result<(), Unauthorized> {
        in_its_area(caller, access::register_rpc(command), target.origin)
    }
}

/// The check of an area's agenda: it lies in the area its stream is routed to.
#[derive(Debug, Clone, Copy, Default)]
pub struct AgendaPolicy;

#[async_trait]
impl Authorize<Agenda> for AgendaPolicy {
    async fn authorize(
        &self,
        caller: &Caller,
        target: Target<'_, Agenda>,
        command: &<Agenda as gridloop_domain::decider::Decider>::Command,
    ) -> Result<(), Unauthorized> {
        in_its_area(caller, access::agenda_rpc(command), target.origin)
    }
}

/// The object check of an aggregate that is an area's own: the area is its stream's routing.
fn in_its_area(caller: &Caller, rpc: Rpc, origin: Option<&Origin>) -> Result<(), Unauthorized> {
    let Some(principal) = &caller.principal else { return Ok(()) };
    let area = origin.and_then(|o| AreaCode::new(o.routing_key.as_str()).ok());
    let facts = area.map(CaseFacts::at);
    Ok(check(principal, rpc, facts.as_ref(), Named::default())?)
}

fn session_case(session: &Mediation) -> Option<CaseId> {
    session.session().and_then(|s| s.origin.case_id())
}

/// The facts of a session (or of the topic a new one is proposed on: the area its command
/// routes it to); `None` for a session that does not exist.
pub fn session_object(session: &Mediation, origin: Option<&Origin>) -> Option<CaseFacts> {
    let area = AreaCode::new(origin?.routing_key.as_str()).ok()?;
    Some(match session.session() {
        Some(opened) => access::session_facts(opened, area),
        None => CaseFacts::at(area),
    })
}
