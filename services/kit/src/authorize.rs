//! The object-level authorization check: whether the caller may run this command on this
//! aggregate as it stands (is the case within the caller's area?). It runs on the state the
//! command is decided on, before `decide`, for every command of every service, so a policy
//! plugs in once here instead of in each handler.

use crate::aggregate::Aggregate;
use crate::context::Caller;

/// Why the caller may not run the command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("permission denied: {0}")]
pub struct Denied(pub String);

pub trait Authorize<A: Aggregate>: Send + Sync {
    fn authorize(&self, caller: &Caller, id: A::Id, state: &A, command: &A::Command) -> Result<(), Denied>;
}

/// Every caller may run every command: the check until requests are authenticated.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl<A: Aggregate> Authorize<A> for AllowAll {
    fn authorize(&self, _: &Caller, _: A::Id, _: &A, _: &A::Command) -> Result<(), Denied> {
        Ok(())
    }
}
