//! The `gridloop.v1` contract, generated from `proto/` at build time, with the conversions
//! between it and the domain and the error statuses the services answer with. No storage: the
//! event store and the bus build on this crate, not the other way round.

#[allow(clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("gridloop.v1");
}

/// The encoded `FileDescriptorSet` of every gridloop proto file (for server reflection and for
/// decoding event payloads by name).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/gridloop_descriptor.bin"));

pub mod convert;
pub mod event_json;
pub mod status;
