//! The `gridloop.v1` contract, generated from `proto/` at build time, with the conversions
//! between it and the domain and the error statuses the services answer with, the envelope
//! events travel in, and the check of a report as a client sends it. No storage: only the plain
//! event types of `gridloop-eventstore` (without its `store` feature); the bus and the services
//! build on this crate, not the other way round.

#[allow(clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("gridloop.v1");
}

/// The encoded `FileDescriptorSet` of every gridloop proto file (for server reflection and for
/// decoding event payloads by name).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/gridloop_descriptor.bin"));

/// Version of the event payload schema written by this build.
pub const SCHEMA_VERSION: u32 = 1;

pub mod convert;
pub mod envelope;
pub mod event_json;
pub mod report;
pub mod status;
