//! One test per state-machine rule of docs/cluster.md (and the decisions D1-D9 of
//! docs/DECISIONS.md that concern the cluster), on an in-process network of real
//! `disque-core` nodes with a fake clock (`disque_sim::Net`).
//!
//! Tests marked `#[ignore = "core bug: ..."]` show a defect of the core; the
//! reason says what the spec expects.

mod acks;
mod common;
mod extensions;
mod federation;
mod leaving;
mod membership;
mod replication;
mod requeue;
mod rereplication;
mod restart;
