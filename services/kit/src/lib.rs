//! gridloop's service kit: the one command path every service uses.
//!
//! A service builds an [`Envelope`] — the aggregate, the command, who asks ([`Caller`]) and what
//! caused it — and hands it to its [`CommandHandler`], which loads the aggregate (optionally
//! through a cache of current states), asks the [`Authorize`] check, decides, folds the new
//! events, arms or disarms the aggregate's durable timer and commits with the expected version,
//! deciding again on fresh state when a concurrent writer got there first. The [`EventContext`]
//! of every event (actor, correlation, causation, trace, routing) is built here. Failures come
//! back as a [`CommandError`]: a refusal, a conflict or an infrastructure failure, turned into a
//! gRPC status only at the service's gRPC layer ([`grpc::status`]) and into a retry or a dead
//! letter for consumers and timers ([`gridloop_bus::HandlerError`]). Every commit announces the
//! version it reached ([`Progress`]), so a client's next read or command can wait for its own
//! write ([`CommandHandler::caught_up`]).
//!
//! A new aggregate needs a [`gridloop_domain::decider::Decider`] in the domain and an
//! [`Aggregate`] impl here (its codec and timer); a new command of an existing one needs only
//! its domain function and `decide` arm, and a gRPC method that sends it.

pub mod aggregate;
pub mod authorize;
pub mod cache;
pub mod context;
pub mod error;
pub mod grpc;
pub mod handler;
pub mod progress;
pub mod timer;

pub use aggregate::{Aggregate, TimerChange};
pub use authorize::{
    AgendaPolicy, Authorize, CasePolicy, Denied, RegisterPolicy, ReporterIndex, ServiceOnly, SessionPolicy, Target,
    Unauthorized,
};
pub use context::{Caller, EventContext, Origin, IMPORT_ROLE, SCHEMA_VERSION};
pub use error::{CommandError, Infrastructure};
pub use handler::{CommandHandler, Envelope, Executed, Loaded, Observer, ReadModel, CONFLICT_RETRIES};
pub use progress::{Behind, Progress, WaitError, CATCH_UP_WAIT};
