//! Command errors as gRPC statuses, at a service's gRPC layer: a refusal is the aggregate's to
//! map (it knows its fields and states), a stale version or a lost race is `ABORTED`, an
//! unavailable store `UNAVAILABLE`, an unreadable or inconsistent stream `DATA_LOSS`, a service
//! still catching up with the client's own write `UNAVAILABLE` with a retry hint.

use crate::authorize::{self, as_reporter, Denied, Named, ReporterIndex};
use crate::error::{CommandError, Infrastructure};
use crate::progress::WaitError;
use gridloop_domain::access::{CaseFacts, Principal, QueryScope, Rpc};
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_eventstore::StoreError;
use gridloop_proto::status::unavailable_retry;
use std::time::Duration;
use tonic::{Request, Status};

/// When a client refused because the service is still catching up with its write should retry.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The status a failed command answers with; `refused` maps the aggregate's refusals (with the
/// version the aggregate was at).
pub fn status<R: std::fmt::Display>(error: CommandError<R>, refused: impl FnOnce(R, u64) -> Status) -> Status {
    match error {
        CommandError::Refused { reason, version } => refused(reason, version),
        CommandError::Denied(denied) => Status::permission_denied(denied.to_string()),
        error @ (CommandError::WrongVersion { .. } | CommandError::Conflict { .. }) => {
            Status::aborted(error.to_string())
        }
        CommandError::Infrastructure(Infrastructure::Store(error)) => store_status(error),
        CommandError::Infrastructure(error) => {
            tracing::error!(%error, "a stream cannot be read back");
            Status::data_loss(error.to_string())
        }
    }
}

/// A refusal at a service's gRPC layer (a query, a report): counted, written to the audit log,
/// and answered PERMISSION_DENIED.
pub fn denied(denied: Denied) -> Status {
    denied.audit();
    Status::permission_denied(denied.to_string())
}

/// The principal the auth layer put on `request` (UNAUTHENTICATED without one).
pub fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    gridloop_auth::principal(request).cloned()
}

/// The part of the city the query `rpc` of `request` may read, given the area it asked for: no
/// area is the caller's own, one outside it is PERMISSION_DENIED.
pub fn confine<T>(request: &Request<T>, rpc: Rpc, requested: Option<&AreaCode>) -> Result<QueryScope, Status> {
    confine_reporter(request, rpc, requested, None)
}

/// Like [`confine`], a resident's own cases found under `index` (see [`as_reporter`]).
pub fn confine_reporter<T>(
    request: &Request<T>,
    rpc: Rpc,
    requested: Option<&AreaCode>,
    index: Option<&dyn ReporterIndex>,
) -> Result<QueryScope, Status> {
    let principal = as_reporter(gridloop_auth::principal(request)?, index);
    authorize::confine(&principal, rpc, requested).map_err(denied)
}

/// Like [`confine`], for a query of figures by area (never by reporter): the area to read, `None`
/// for the whole city.
pub fn confine_area<T>(
    request: &Request<T>,
    rpc: Rpc,
    requested: Option<&AreaCode>,
) -> Result<Option<AreaCode>, Status> {
    match confine(request, rpc, requested)? {
        QueryScope::Everywhere => Ok(None),
        QueryScope::Area(area) => Ok(Some(area)),
        QueryScope::ReportedBy(_) => Err(Status::permission_denied(format!("{rpc} reads areas, not one's own cases"))),
    }
}

/// Whether the caller of `request` may read, with `rpc`, what `facts` describe (`None`: it does
/// not exist, which the query answers itself).
pub fn may_read<T>(request: &Request<T>, rpc: Rpc, facts: Option<&CaseFacts>, named: Named<'_>) -> Result<(), Status> {
    may_read_reporter(request, rpc, facts, named, None)
}

/// Like [`may_read`], a resident recognised as the reporter under `index` (see [`as_reporter`]).
pub fn may_read_reporter<T>(
    request: &Request<T>,
    rpc: Rpc,
    facts: Option<&CaseFacts>,
    named: Named<'_>,
    index: Option<&dyn ReporterIndex>,
) -> Result<(), Status> {
    let principal = as_reporter(gridloop_auth::principal(request)?, index);
    authorize::check(&principal, rpc, facts, named).map_err(denied)
}

/// The status of a read or command whose wait for the client's own write ended without it:
/// UNAVAILABLE with a retry hint; a failure to read the store is `store`'s to map.
pub fn behind_status<E>(error: WaitError<E>, store: impl FnOnce(E) -> Status) -> Status {
    match error {
        WaitError::Behind(behind) => unavailable_retry(format!("{behind}; retry shortly"), RETRY_AFTER),
        WaitError::Store(error) => store(error),
    }
}

/// The status of a store failure.
pub fn store_status(error: StoreError) -> Status {
    match error {
        StoreError::Conflict { stream, expected, actual } => Status::aborted(format!(
            "version conflict on {stream}: expected {expected:?}, found version {actual}; reload and retry"
        )),
        StoreError::AlreadyProcessed { .. } | StoreError::TimerGone { .. } => Status::aborted(error.to_string()),
        error => match error.unavailable() {
            // Nothing of the command was written (its transaction rolled back): the client may
            // retry as is, and the log says what an operator has to fix.
            Some(why) => {
                tracing::warn!(%error, "storage unavailable ({why}): request refused, nothing written");
                Status::unavailable(format!("storage unavailable ({why}): {error}; retry later"))
            }
            None => {
                tracing::error!(%error, "storage failure");
                Status::internal(format!("storage failure: {error}"))
            }
        },
    }
}

/// The status of a failed read-model query.
pub fn query_status(error: sqlx::Error) -> Status {
    store_status(error.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridloop_domain::decider::Misfit;
    use gridloop_eventstore::ExpectedVersion;
    use tonic::Code;

    #[test]
    fn each_kind_of_failure_has_its_code() {
        let code = |e: CommandError<&str>| status(e, |reason, _| Status::failed_precondition(reason)).code();
        assert_eq!(code(CommandError::Refused { reason: "closed", version: 9 }), Code::FailedPrecondition);
        assert_eq!(code(CommandError::WrongVersion { expected: 3, actual: 4 }), Code::Aborted);
        let conflict = StoreError::Conflict { stream: "case-1".into(), expected: ExpectedVersion::Exact(3), actual: 4 };
        assert_eq!(code(conflict.into()), Code::Aborted);
        assert_eq!(code(StoreError::Database(sqlx::Error::PoolTimedOut).into()), Code::Unavailable);
        assert_eq!(code(Misfit { aggregate: "case", event: "CaseClosed", state: "new" }.into()), Code::DataLoss);
        assert_eq!(code(crate::authorize::Denied::new("not your area").into()), Code::PermissionDenied);
    }
}
